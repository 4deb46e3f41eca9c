#!/usr/bin/env bash
# Trains (or resumes) the default prior, pixel-faces-32, on the CPU in the background.
# The training state (weights, EMA, Adam moments, sample grids) lives outside git in $STATE;
# every checkpoint also exports $STATE/pixel-faces-32.safetensors + .json (EMA weights and
# model card), which is what gets copied into models/. Kill with SIGTERM: it checkpoints and stops.
# Run it again to resume. usage: tools/train-pixel-faces.sh [total-steps]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-100000}
STATE=${STATE:-artifacts/train/pixel-faces-32}
BIN=${BIN:-artifacts/train/bin}
[ -d data/pixel-faces/train ] || tools/fetch-data.sh
# A private copy of the build, so rebuilding the work tree does not swap DLLs under a running trainer.
dotnet publish DiffusionLab.Cli -c Release -o "$BIN" -v quiet -nologo >/dev/null
mkdir -p "$STATE"
# A fresh machine has no training state, only the bundled model: carry on from its weights and step.
INIT=""
[ -f models/pixel-faces-32.json ] && INIT="--init-from models/pixel-faces-32.json"
nohup dotnet "$BIN/DiffusionLab.Cli.dll" train --data data/pixel-faces --out "$STATE" --model-name pixel-faces-32 \
  --config small32 --steps "$STEPS" --batch 32 --lr 3e-4 --threads 1 \
  --sample-every 500 --checkpoint-every 150 --checkpoint-minutes 5 --log-every 10 --resume $INIT \
  >> "$STATE/train.log" 2>&1 < /dev/null &
echo $! > "$STATE/train.pid"
echo "training pixel-faces-32 in the background (pid $(cat "$STATE/train.pid")); log: $STATE/train.log"
