#!/usr/bin/env bash
# Adamas on the one real trained model we have: at budget 128 the defaults
# must reach mean KL <= 0.01 and top-1 agreement >= 0.93 against dense, and
# beat the recent-window baseline of the same budget (docs/adamas.md).
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf
T=/usr/share/common-licenses/GPL-3
expect_exit 0 "$ADAMAS" perplexity -m "$S" -f "$T" -c 512 --save-logits "$TMP/dense"
expect_exit 0 "$ADAMAS" perplexity -m "$S" -f "$T" -c 512 --kl-base "$TMP/dense" --attention adamas --budget 128
kl=$(sed -n 's/^mean KL = //p' "$TMP/out"); top=$(sed -n 's/^top-1 agreement = //p' "$TMP/out")
expect_exit 0 "$ADAMAS" perplexity -m "$S" -f "$T" -c 512 --kl-base "$TMP/dense" --attention window --budget 128
wkl=$(sed -n 's/^mean KL = //p' "$TMP/out")
echo "adamas: KL $kl, top-1 $top; window: KL $wkl"
awk -v k="$kl" -v t="$top" -v w="$wkl" 'BEGIN { exit !(k <= 0.01 && t >= 0.93 && k < w) }' ||
    fail "budget 128: KL $kl (<= 0.01), top-1 $top (>= 0.93), window KL $wkl (> adamas)"
echo ok
