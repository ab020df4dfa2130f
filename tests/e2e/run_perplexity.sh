#!/usr/bin/env bash
# `adamas run` and `adamas perplexity` on stories260K against the reference
# outputs in ../shared (the greedy story; llama.cpp's perplexity).
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf

cat >"$TMP/story" <<'STORY'
Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.
Lily's mom said, "Lily, let's go to the park." Lily was sad and didn't know what to do. She said, "I want to play with your ball, but I can't find it."
Lily was sad and didn't know what to do. She said, "I'm sorry, Lily. I didn't know what to do."
Lily didn't want to help her mom, so she said, "I'm sorry, mom. I didn't know what to do." Her mom said, "Don't worry, Lily. We can help you.
STORY
printf '%s\n' "$(cat "$TMP/story")" >"$TMP/story.exact"   # run ends its output with a newline
expect_exit 0 "$ADAMAS" run -m "$S" -p "" -n 256 --temp 0
cmp -s "$TMP/out" "$TMP/story.exact" || { diff "$TMP/out" "$TMP/story.exact" | head; fail "greedy story differs"; }
expect_err "generated 256 tokens"
# The same story with prompt-lookup speculation: guesses are verified in
# batches, and the story repeats itself enough for some to be taken.
expect_exit 0 "$ADAMAS" run -m "$S" -p "" -n 256 --temp 0 --lookup 8
cmp -s "$TMP/out" "$TMP/story.exact" || { diff "$TMP/out" "$TMP/story.exact" | head; fail "greedy story with --lookup differs"; }
accepted=$(sed -n 's/^adamas run: lookup drafted [0-9]* tokens, \([0-9]*\) accepted.*/\1/p' "$TMP/err")
[ -n "$accepted" ] && [ "$accepted" -gt 0 ] || { cat "$TMP/err"; fail "--lookup accepted no guess"; }
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 200 --seed 7 --lookup 6
cp "$TMP/out" "$TMP/l7"
expect_exit 2 "$ADAMAS" run -m "$S" --lookup 99
# A draft model (here the model itself, so most drafts are taken): the same
# story; a model of another vocabulary is refused.
expect_exit 0 "$ADAMAS" run -m "$S" -p "" -n 256 --temp 0 --draft-model "$S" --draft 6
cmp -s "$TMP/out" "$TMP/story.exact" || { diff "$TMP/out" "$TMP/story.exact" | head; fail "greedy story with --draft-model differs"; }
expect_err "draft model drafted"
expect_exit 1 "$ADAMAS" run -m "$S" -n 4 --draft-model "$SHARED/models/llama-2-tiny-random.gguf"
expect_err "not the same tokenizer"
expect_exit 2 "$ADAMAS" run -m "$S" --draft-p-min 2

# Top-k 1 is greedy; the same seed gives the same text; another seed another.
expect_exit 0 "$ADAMAS" run -m "$S" -p "" -n 256 --top-k 1 --temp 1.5 --seed 3
cmp -s "$TMP/out" "$TMP/story.exact" || fail "top-k 1 is not greedy"
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 64 --seed 7
cp "$TMP/out" "$TMP/s7"
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 64 --seed 7
cmp -s "$TMP/out" "$TMP/s7" || fail "seeded sampling is not reproducible"
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 64 --seed 8
cmp -s "$TMP/out" "$TMP/s7" && fail "different seeds gave the same text"
# Sampling sees the same calls with --lookup: the same seed, the same text.
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 200 --seed 7
cmp -s "$TMP/out" "$TMP/l7" || fail "seeded sampling with --lookup differs"
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 200 --seed 7 --draft-model "$S"
cmp -s "$TMP/out" "$TMP/l7" || fail "seeded sampling with --draft-model differs"
# Stop strings end the text before them.
expect_exit 0 "$ADAMAS" run -m "$S" -p "" -n 256 --temp 0 --stop "red ball"
printf 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, \n' >"$TMP/stop.want"
cmp -s "$TMP/out" "$TMP/stop.want" || fail "stop string: '$(cat "$TMP/out")'"

# A prompt longer than the context is refused, or truncated on request.
expect_exit 1 "$ADAMAS" run -m "$S" -f /usr/share/common-licenses/GPL-3 -c 64 -n 4
expect_err "the context holds 64"
expect_exit 0 "$ADAMAS" run -m "$S" -f /usr/share/common-licenses/GPL-3 -c 64 -n 4 --truncate
expect_err "truncated"
expect_exit 2 "$ADAMAS" run -m "$S" --temp hot

# llama.cpp prints PPL = 104.2092 for this command (../shared/peer/README.md); within 0.1%.
expect_exit 0 "$ADAMAS" perplexity -m "$S" -f /usr/share/common-licenses/GPL-3 -c 512 --save-logits "$TMP/base"
ppl=$(sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- [0-9.]*$/\1/p' "$TMP/out")
[ -n "$ppl" ] || fail "no PPL line"
awk -v p="$ppl" 'BEGIN { d = (p - 104.2092) / 104.2092; exit !(d < 0.001 && d > -0.001) }' || fail "PPL $ppl is not within 0.1% of 104.2092"

# The KL report against itself is zero; sparse attention is measured against it.
expect_exit 0 "$ADAMAS" perplexity -m "$S" -f /usr/share/common-licenses/GPL-3 -c 512 --chunks 4 --kl-base "$TMP/base"
expect_out "^mean KL = 0.0000"
expect_out "^top-1 agreement = 1.0000"
expect_exit 0 "$ADAMAS" perplexity -m "$S" -f /usr/share/common-licenses/GPL-3 -c 512 --chunks 4 --kl-base "$TMP/base" \
    --attention adamas --budget 64 --adamas-stats
expect_out "^mean KL = "
expect_err "layer   4: captured softmax mass 0\.[0-9]*"
expect_err "code index"
expect_exit 1 "$ADAMAS" perplexity -m "$S" -f /usr/share/common-licenses/GPL-3 -c 256 --kl-base "$TMP/base"
expect_err "was made with -c 512"
echo ok
