#!/usr/bin/env bash
# Prompt cache and prefill (docs/snapshot.md): a snapshot made by `prefill`
# restores the document and only the question is evaluated; a cached run
# of an unchanged prompt prints exactly what the uncached run prints (dense
# and adamas); a damaged or foreign cache falls back to full evaluation,
# and a file that is not a snapshot is never overwritten.
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf
P=$SHARED/peer/peer-llama-f32.gguf
DOC="Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
Q=" One day, she saw a big, red ball."

expect_exit 0 "$ADAMAS" prefill --help
expect_out "prompt-cache"
expect_exit 2 "$ADAMAS" prefill -m "$S" -p "$DOC"
expect_err "give -o"
expect_exit 0 "$ADAMAS" prefill -m "$S" -p "$DOC" -o "$TMP/doc.snap" -t 1
expect_err "KiB per token"

# Document + question: only the question is evaluated.
expect_exit 0 "$ADAMAS" run -m "$S" -p "$DOC$Q" -n 16 --temp 0 -t 1 -c 256
cp "$TMP/out" "$TMP/cold"
expect_exit 0 "$ADAMAS" run -m "$S" -p "$DOC$Q" -n 16 --temp 0 -t 1 -c 256 --prompt-cache "$TMP/doc.snap" --prompt-cache-ro
n_doc=$(sed -n 's/.*prompt cache .*: \([0-9]*\) of \([0-9]*\) prompt tokens restored.*/\1/p' "$TMP/err")
n_all=$(sed -n 's/.*prompt cache .*: \([0-9]*\) of \([0-9]*\) prompt tokens restored.*/\2/p' "$TMP/err")
[ -n "$n_doc" ] && [ "$n_doc" -gt 20 ] && [ "$n_doc" -lt "$n_all" ] || fail "restored '$n_doc' of '$n_all' tokens"
cmp -s "$TMP/out" "$TMP/cold" || fail "the cached run printed other text"

# An unchanged prompt, dense and adamas (saved the first time, restored with logits the second).
for att in dense adamas; do
    opts=(-m "$S" -p "$DOC$Q" -n 24 --temp 0 -t 1 -c 256 --attention $att --budget 16 --dense-layers 1)
    expect_exit 0 "$ADAMAS" run "${opts[@]}"
    cp "$TMP/out" "$TMP/cold"
    rm -f "$TMP/c.snap"
    expect_exit 0 "$ADAMAS" run "${opts[@]}" --prompt-cache "$TMP/c.snap"
    expect_err "does not exist yet"
    expect_err "saved"
    cmp -s "$TMP/out" "$TMP/cold" || fail "$att: the saving run printed other text"
    expect_exit 0 "$ADAMAS" run "${opts[@]}" --prompt-cache "$TMP/c.snap"
    expect_err "$n_all of $n_all prompt tokens restored"
    grep -q "saved" "$TMP/err" && fail "$att: an unchanged prompt was saved again"
    cmp -s "$TMP/out" "$TMP/cold" || fail "$att: the restored run printed other text"
done

# Another model: refused with both named, the prompt evaluated, the cache replaced.
expect_exit 0 "$ADAMAS" run -m "$P" -p "$DOC" -n 4 -t 1 -c 256 --prompt-cache "$TMP/doc.snap" --prompt-cache-ro
expect_err "another model"
expect_err "(5 layers, 64 embd"
# A damaged cache: refused, evaluated in full.
cp "$TMP/doc.snap" "$TMP/bad.snap"
printf '\x01' | dd of="$TMP/bad.snap" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_exit 0 "$ADAMAS" run -m "$S" -p "$DOC" -n 4 -t 1 -c 256 --prompt-cache "$TMP/bad.snap" --prompt-cache-ro
expect_err "damaged"
head -c 5000 "$TMP/doc.snap" > "$TMP/short.snap"
expect_exit 0 "$ADAMAS" run -m "$S" -p "$DOC" -n 4 -t 1 -c 256 --prompt-cache "$TMP/short.snap" --prompt-cache-ro
expect_err "truncated"
# Not a snapshot: never overwritten.
echo "my notes" > "$TMP/notes.txt"
expect_exit 0 "$ADAMAS" run -m "$S" -p "$DOC" -n 4 -t 1 -c 256 --prompt-cache "$TMP/notes.txt"
expect_err "not an adamas snapshot"
[ "$(cat "$TMP/notes.txt")" = "my notes" ] || fail "a file that is not a snapshot was overwritten"

# chat: the first turn goes through the cache.
printf 'Hello\n' > "$TMP/in"
expect_exit 0 "$ADAMAS" chat -m "$S" --system "$DOC" -n 8 --temp 0 -t 1 -c 256 --prompt-cache "$TMP/chat.snap" < "$TMP/in"
cp "$TMP/out" "$TMP/chat_cold"
expect_err "saved"
expect_exit 0 "$ADAMAS" chat -m "$S" --system "$DOC" -n 8 --temp 0 -t 1 -c 256 --prompt-cache "$TMP/chat.snap" < "$TMP/in"
expect_err "prompt tokens restored"
cmp -s "$TMP/out" "$TMP/chat_cold" || fail "chat: the restored turn printed other text"
echo ok
