#!/usr/bin/env bash
# Trains both bundled priors at once on one GPU (two processes share it; each alone leaves it
# mostly idle, waiting on kernel launches), for SECONDS of wall clock, exporting into OUT.
# usage: tools/gpu-train/train-both.sh OUT [SECONDS]
# Then, on any machine with the data: tools/gpu-train/import.sh OUT
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:?usage: train-both.sh OUT [SECONDS]}
SECONDS_BUDGET=${2:-400}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# The lab's default prior: Small32 (1.1 M parameters), sized for a 250-step DPS run on 2 CPU cores.
"$PYTHON" tools/gpu-train/train_unet.py --data data/pixel-faces --name pixel-faces-32 --out "$OUT" \
  --config '{"imageSize":32,"channels":3,"baseChannels":32,"channelMultipliers":[1,2,2],"resBlocksPerLevel":1,"attentionResolutions":[8],"dropout":0.0}' \
  --seconds "$SECONDS_BUDGET" --batch "${BATCH:-256}" --lr 4e-4 --warmup 500 --ema 0.9995 --seed 1 > "$OUT/pixel-faces-32.log" 2>&1 &
faces=$!
# Emoji are far more varied than the faces and there are only ~3 500 of them: wider, with dropout,
# and P2 loss weighting (capacity for shapes rather than the last detail; docs/models.md, "Loss weighting"),
# class-conditional on their ten categories (docs/models.md, "Classes and guidance"; the same network stays
# the unconditional prior the lab uses).
"$PYTHON" tools/gpu-train/train_unet.py --data data/emoji --name emoji-32 --out "$OUT" \
  --config '{"imageSize":32,"channels":3,"baseChannels":48,"channelMultipliers":[1,2,2],"resBlocksPerLevel":1,"attentionResolutions":[8],"dropout":0.1}' \
  --seconds "$SECONDS_BUDGET" --batch "${BATCH:-256}" --lr 4e-4 --warmup 500 --ema 0.9995 --seed 2 --loss-weighting p2 --classes > "$OUT/emoji-32.log" 2>&1 &
emoji=$!
wait $faces; faces_rc=$?
wait $emoji; emoji_rc=$?
for name in pixel-faces-32 emoji-32; do echo "== $name"; grep -v "^$name step" "$OUT/$name.log" | tail -n 8; grep "^$name step" "$OUT/$name.log" | tail -n 3; done
exit $(( faces_rc || emoji_rc ))
