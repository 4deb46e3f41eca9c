#!/usr/bin/env bash
# Installs a trainer's latest export (EMA weights + model card) into models/, but only a pair whose
# weights have the SHA-256 the card records (weightsSha256): the pair is copied aside and checked first,
# and models/ is changed only once the check has passed. On a mismatch models/ is left as it was.
# usage: tools/install-model.sh [model-name] [state-folder]
#   MODELS=DIR installs into DIR instead of models/ (relative to the repository root).
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=${1:-pixel-faces-32}
STATE=${2:-artifacts/train/$NAME}
MODELS=${MODELS:-models}
card="$STATE/$NAME.json"
[ -f "$card" ] || { echo "no export of $NAME in $STATE (no $card)" >&2; exit 1; }

field() { grep -o "\"$1\": *\"[^\"]*\"" "$2" | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/' || true; }
# The files of both, as they are now: a trainer replacing its export changes these.
stamp() { stat -c '%i %s %Y' "$card" "$weights" 2>/dev/null || echo gone; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for try in 1 2 3 4 5; do
  file=$(field weightsFile "$card")
  file=${file:-$NAME.safetensors}
  case "$file" in */*|.*) echo "$card names '$file' as its weights file; expected a plain file name. Nothing installed." >&2; exit 1 ;; esac
  weights="$STATE/$file"
  [ -f "$weights" ] || { echo "$card names $file, which is not in $STATE. Nothing installed." >&2; exit 1; }
  before=$(stamp)
  cp "$card" "$stage/card.json"; cp "$weights" "$stage/weights"
  after=$(stamp)
  want=$(field weightsSha256 "$stage/card.json")
  [ -n "$want" ] || { echo "$card records no weightsSha256 to check the weights against. Nothing installed." >&2; exit 1; }
  have=$(sha256sum "$stage/weights" | cut -d' ' -f1)
  if [ "$want" = "$have" ]; then
    mkdir -p "$MODELS"
    # Each file goes in under a temporary name and is renamed over the old one, so no reader sees half a file.
    cp "$stage/weights" "$MODELS/.$file.installing"; mv -f "$MODELS/.$file.installing" "$MODELS/$file"
    cp "$stage/card.json" "$MODELS/.$NAME.json.installing"; mv -f "$MODELS/.$NAME.json.installing" "$MODELS/$NAME.json"
    echo "$MODELS/$NAME: step $(grep -o '"trainingSteps": *[0-9]*' "$MODELS/$NAME.json" | grep -o '[0-9]*$'), sha256 $have"
    exit 0
  fi
  if [ "$before" = "$after" ]; then
    # Nothing changed while copying, so the export itself is inconsistent: waiting will not help.
    echo "$weights does not match its card: its sha256 is $have, $card expects $want." >&2
    echo "$MODELS/ was left as it was. Export again (a checkpoint of the trainer writes both) or fix the card." >&2
    exit 1
  fi
  sleep 2  # the trainer was writing a newer pair while we copied: try again
done
echo "the export in $STATE kept changing while it was copied (last sha256 $have, card expects $want); $MODELS/ was left as it was. Try again." >&2
exit 1
