#!/usr/bin/env bash
# Imports what train-both.sh exported (FROM) into models/: checks the weights against the
# architecture and PyTorch's ε probe, measures the held-out loss here, writes the model cards.
# usage: tools/gpu-train/import.sh FROM
set -euo pipefail
cd "$(dirname "$0")/../.."
FROM=${1:?usage: tools/gpu-train/import.sh FROM}
for pair in pixel-faces-32:data/pixel-faces emoji-32:data/emoji; do
  name=${pair%%:*}; data=${pair##*:}
  [ -f "$FROM/$name.safetensors" ] || { echo "$FROM has no $name.safetensors; skipped"; continue; }
  dotnet run --project DiffusionLab.Cli -c Release -- import --from "$FROM" --name "$name" --data "$data" --out models
done
