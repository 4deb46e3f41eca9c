#!/usr/bin/env bash
# Fetches the two training sets from npm and writes them as 32×32 PNGs:
#   data/pixel-faces/{train,heldout}/  DiceBear "pixel-art" avatars (design CC0 1.0, code MIT)
#   data/emoji/{train,heldout}/        Noto emoji from emoji-datasource-google (images Apache-2.0)
# Each set keeps its package's licence file beside the images. data/ is git-ignored.
# usage: tools/fetch-data.sh [faces-count]   (default 12000 faces)
set -euo pipefail
cd "$(dirname "$0")/.."
FACES=${1:-12000}
SIZE=32
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "npm: fetching @dicebear/core, @dicebear/pixel-art and emoji-datasource-google into $work"
(cd "$work" && npm install --silent --no-audit --no-fund --no-save \
    @dicebear/core@9.4.3 @dicebear/pixel-art@9.4.3 emoji-datasource-google@16.0.0 >/dev/null)

node tools/data/dicebear-faces.mjs "$work/node_modules" "$work/faces-svg" "$FACES"

dotnet build DiffusionLab.Cli -c Release -v quiet -nologo >/dev/null
cli=(dotnet DiffusionLab.Cli/bin/Release/net10.0/DiffusionLab.Cli.dll)

rm -rf data/pixel-faces data/emoji
"${cli[@]}" prepare-data --source "$work/faces-svg" --out data/pixel-faces --size $SIZE --heldout 512 --seed 1
cp "$work/node_modules/@dicebear/pixel-art/LICENSE" data/pixel-faces/LICENSE
cat > data/pixel-faces/SOURCE.txt <<TXT
DiceBear "Pixel Art" avatars from npm @dicebear/core@9.4.3 and @dicebear/pixel-art@9.4.3,
$FACES distinct seeds (diffusionlab-face-N), rasterised on white at ${SIZE}×${SIZE}.
Design: CC0 1.0 (DiceBear, https://www.dicebear.com). Code: MIT. See LICENSE.
TXT

"${cli[@]}" prepare-data --source "$work/node_modules/emoji-datasource-google/img/google/64" --out data/emoji --size $SIZE --heldout 256 --seed 1
cp "$work/node_modules/emoji-datasource-google/LICENSE" data/emoji/LICENSE-emoji-datasource
# Each image's category (Smileys & Emotion, Food & Drink, …), for priors that learn them as classes.
node tools/data/emoji-classes.mjs "$work/node_modules/emoji-datasource-google/emoji.json" data/emoji
cp "$work/node_modules/emoji-datasource-google/README.md" data/emoji/README-emoji-datasource.md
cat > data/emoji/SOURCE.txt <<TXT
Noto emoji images from npm emoji-datasource-google@16.0.0 (img/google/64), composited on
white and downsampled to ${SIZE}×${SIZE}. The images are Apache License 2.0 (Google Noto emoji,
per the package README); the package code is MIT (LICENSE-emoji-datasource).
TXT

echo "train/heldout counts:"
for set in pixel-faces emoji; do
  echo "  $set: $(ls data/$set/train | wc -l) / $(ls data/$set/heldout | wc -l)"
done

# The lab's "pick an image" gallery: a dozen held-out images of each set, committed with their credits.
for pair in pixel-faces:pixel-faces-32 emoji:emoji-32; do
  set=${pair%%:*}; model=${pair##*:}
  gallery=wwwroot-assets/gallery/$model
  mkdir -p "$gallery"
  # twelve spread evenly over the sorted held-out names (the first dozen emoji would all be flags)
  total=$(ls data/$set/heldout | wc -l)
  ls data/$set/heldout | sort | awk -v step=$((total / 12)) 'NR % step == 1 && n < 12 { print; n++ }' |
    while read -r f; do cp "data/$set/heldout/$f" "$gallery/$f"; done
done
# Emoji files are named by code point; the picker shows the names emoji-datasource gives them.
node tools/data/emoji-labels.mjs "$work/node_modules/emoji-datasource-google/emoji.json" wwwroot-assets/gallery/emoji-32
cp data/pixel-faces/LICENSE wwwroot-assets/gallery/pixel-faces-32/LICENSE
cp data/emoji/LICENSE-emoji-datasource wwwroot-assets/gallery/emoji-32/LICENSE-emoji-datasource
