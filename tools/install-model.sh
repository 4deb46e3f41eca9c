#!/usr/bin/env bash
# Copies a trainer's latest export (EMA weights + model card) into models/, checking the hash first.
# usage: tools/install-model.sh [model-name] [state-folder]
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${1:-pixel-faces-32}
STATE=${2:-artifacts/train/$NAME}
card="$STATE/$NAME.json"; weights="$STATE/$NAME.safetensors"
[ -f "$card" ] && [ -f "$weights" ] || { echo "no export of $NAME in $STATE" >&2; exit 1; }
mkdir -p models
# Copy both while the trainer may be writing a newer pair: retry until the copied weights match the copied card.
for try in 1 2 3 4 5; do
  cp "$card" "models/$NAME.json"; cp "$weights" "models/$NAME.safetensors"
  want=$(grep -o '"weightsSha256": *"[0-9a-f]*"' "models/$NAME.json" | grep -o '[0-9a-f]\{64\}')
  have=$(sha256sum "models/$NAME.safetensors" | cut -d' ' -f1)
  if [ "$want" = "$have" ]; then
    echo "models/$NAME: step $(grep -o '"trainingSteps": *[0-9]*' "models/$NAME.json" | grep -o '[0-9]*$'), sha256 $have"
    exit 0
  fi
  sleep 2
done
echo "the export in $STATE kept changing; try again" >&2; exit 1
