#!/usr/bin/env bash
# Trains (or resumes) one of the bundled priors on the CPU in the background, one thread each
# by default (THREADS=2 for one trainer alone),
# so the two can train side by side on a 2-core machine:
#   pixel-faces-32  the lab's default, on data/pixel-faces
#   emoji-32        on data/emoji
# The training state (weights, EMA, Adam moments, sample grids) lives outside git in $STATE;
# every checkpoint also exports $STATE/<model>.safetensors + .json (EMA weights and model card),
# which tools/install-model.sh copies into models/. Kill with SIGTERM: it checkpoints and stops.
# Run it again to resume. On a machine without the state it continues from the bundled model in
# models/ (weights and step; Adam restarts under the warm-up).
# It checkpoints (with the held-out loss) every 5 minutes and draws a preview grid every 2 000 steps:
# each costs seconds of a trainer that makes 1-2 steps a second, so more often slows it measurably.
# usage: tools/train-prior.sh pixel-faces-32|emoji-32 [total-steps]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:?usage: tools/train-prior.sh pixel-faces-32|emoji-32 [total-steps]}
STEPS=${2:-100000}
case "$MODEL" in
  pixel-faces-32) DATA=data/pixel-faces ;;
  emoji-32) DATA=data/emoji ;;
  *) echo "unknown model '$MODEL' (pixel-faces-32 or emoji-32)" >&2; exit 2 ;;
esac
STATE=${STATE:-artifacts/train/$MODEL}
LR=${LR:-3e-4}  # lower it (1e-4) for the last stretch of a long run: the loss settles lower
THREADS=${THREADS:-1}  # 2 when nothing else runs: ~1.9x the steps/s of one thread on this machine
# RES_BLOCKS=2 starts from the bundled model deepened to 2 residual blocks per level (new blocks start as identities;
#   give it its own STATE folder, e.g. STATE=artifacts/train/emoji-32-deep); unset keeps the architecture
# CLASSES=1 makes the network class-conditional (the categories in $DATA/classes.tsv, for classifier-free guidance;
#   the class embedding starts at zero), like RES_BLOCKS only when starting a new STATE folder
# INIT_FROM=CARD.json starts a new STATE folder from that export instead of models/<model>.json (e.g. another run's)
# WEIGHTING=p2 switches the loss to perception-prioritised weighting (docs/models.md, "Loss weighting"); unset keeps the run's own (or the bundled card's)
BIN=${BIN:-artifacts/train/bin}
[ -d "$DATA/train" ] || tools/fetch-data.sh
# A private copy of the build, so rebuilding the work tree does not swap DLLs under a running trainer.
if [ ! -f "$BIN/DiffusionLab.Cli.dll" ] || [ -n "${REBUILD:-}" ]; then
  dotnet publish DiffusionLab.Cli -c Release -o "$BIN" -v quiet -nologo >/dev/null
fi
mkdir -p "$STATE"
INIT=""
[ -f "models/$MODEL.json" ] && INIT="--init-from models/$MODEL.json"
[ -n "${INIT_FROM:-}" ] && INIT="--init-from $INIT_FROM"
nohup dotnet "$BIN/DiffusionLab.Cli.dll" train --data "$DATA" --out "$STATE" --model-name "$MODEL" \
  --config small32 --steps "$STEPS" --batch 32 --lr "$LR" --threads "$THREADS" \
  --sample-every 2000 --checkpoint-every 1000 --checkpoint-minutes 5 --log-every 10 --resume $INIT \
  ${WEIGHTING:+--loss-weighting "$WEIGHTING"} ${RES_BLOCKS:+--res-blocks "$RES_BLOCKS"} ${CLASSES:+--classes} \
  >> "$STATE/train.log" 2>&1 < /dev/null &
echo $! > "$STATE/train.pid"
echo "training $MODEL in the background (pid $(cat "$STATE/train.pid")); log: $STATE/train.log"
