#!/usr/bin/env bash
# Fidelity of sparse attention against dense on a real trained model:
# perplexity, mean KL divergence to dense and top-1 agreement for several
# budgets and settings, as a markdown table (docs/adamas.md).
#
#   bench/adamas_fidelity.sh [MODEL] [TEXT] [CTX]
# defaults: ../shared/models/stories260K.gguf, /usr/share/common-licenses/GPL-3, 512
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-../shared/models/stories260K.gguf}
TEXT=${2:-/usr/share/common-licenses/GPL-3}
CTX=${3:-512}
ADAMAS=${ADAMAS:-build/adamas}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
run() { "$ADAMAS" perplexity -m "$MODEL" -f "$TEXT" -c "$CTX" -t "${THREADS:-2}" "$@" 2>/dev/null; }
run --save-logits "$TMP/dense" >"$TMP/out"
dense=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p' "$TMP/out")
echo "model \`$(basename "$MODEL")\`, text \`$TEXT\`, -c $CTX; dense PPL $dense"
echo
echo "| budget | setting | PPL | mean KL | top-1 agreement | max abs dp |"
echo "|---:|---|---:|---:|---:|---:|"
for b in ${BUDGETS:-32 64 128 256}; do
    while IFS='|' read -r name opts; do
        run --kl-base "$TMP/dense" --budget "$b" $opts >"$TMP/out"
        ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p' "$TMP/out")
        kl=$(sed -n 's/^mean KL = //p' "$TMP/out")
        top=$(sed -n 's/^top-1 agreement = //p' "$TMP/out")
        dp=$(sed -n 's/^max |dp| = //p' "$TMP/out")
        echo "| $b | $name | $ppl | $kl | $top | $dp |"
    done <<'SETTINGS'
paper: adamas, no sink/window, fixed thresholds|--attention adamas --sink 0 --window 0 --adamas-thresholds paper
adamas, no sink/window, calibrated|--attention adamas --sink 0 --window 0 --adamas-thresholds calibrated
adamas, sink 4 + window B/4, paper thresholds|--attention adamas --adamas-thresholds paper
**defaults**: adamas, sink 4 + window B/4, calibrated|--attention adamas
defaults with one selection per KV head (--adamas-select group)|--attention adamas --adamas-select group
window (StreamingLLM): sink 4 + most recent|--attention window
SETTINGS
done
