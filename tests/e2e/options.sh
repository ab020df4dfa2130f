#!/usr/bin/env bash
# The command line as llama.cpp users type it, and its errors: exit status
# 2 and one line for every usage error, --opt=value, -f -, -e, the GPU
# options of tutorials accepted with a note, --seed -1, the context capped
# and checked, the end of `run`'s output (newline; timings on Ctrl-C).
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf
VOCAB=$SHARED/testdata/tokenizer/ggml-vocab-qwen2.gguf
T=/usr/share/common-licenses/GPL-3

# Usage errors: exit 2, one line naming the problem, no usage screen.
one_line() { [ "$(wc -l <"$TMP/err")" -eq 1 ] || { cat "$TMP/err" >&2; fail "'$1': not one line of error"; }; }
for c in run chat logits perplexity bench tokenize info; do
    expect_exit 2 "$ADAMAS" $c
    expect_err "no model given"
done
expect_exit 2 "$ADAMAS" run -p hello
one_line "run without -m"
while read -r cmd opt; do
    m=(-m "$S")
    [ "$cmd" = gen-model ] && m=()
    expect_exit 2 "$ADAMAS" $cmd "${m[@]}" $opt
    expect_err "adamas $cmd: option $opt needs a value"
    one_line "$cmd $opt"
done <<'LIST'
run -p
run -f
run -n
run --temp
run --seed
run -c
run --stop
run -ngl
chat --system
chat --chat-template
logits -o
logits --tokens
logits --top
perplexity -f
perplexity --chunks
bench -p
bench -d
bench --attention
tokenize -p
tokenize -f
info -m
gen-model -o
gen-model --n-layer
LIST
expect_exit 2 "$ADAMAS" run -m "$S" --no-such-option
expect_err "unknown option '--no-such-option'"
one_line "an unknown option"
expect_exit 2 "$ADAMAS" logits -m "$S" stray -o "$TMP/x"
expect_err "unexpected argument 'stray'"

# --help lists each option once.
for c in run chat bench info logits perplexity tokenize gen-model; do
    expect_exit 0 "$ADAMAS" $c --help
    dups=$(awk '/^ +-/ { sub(/^ +/, ""); sub(/  .*/, ""); n = split($0, w, /[ ,\/]+/);
                         for (i = 1; i <= n; i++) if (w[i] ~ /^-/) print w[i] }' "$TMP/out" | sort | uniq -d)
    [ -z "$dups" ] || fail "$c --help lists more than once: $dups"
done

# --opt=value, as getopt_long and llama.cpp accept it; a value that looks
# like one is left alone.
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 16 --temp 0
cp "$TMP/out" "$TMP/ref"
expect_exit 0 "$ADAMAS" run --model="$S" --prompt="Once upon a time" --n-predict=16 --temp=0
cmp -s "$TMP/out" "$TMP/ref" || fail "--opt=value gives another text"
expect_exit 0 "$ADAMAS" run -m "$S" -p "--temp=5" -n 4 --temp 0
expect_exit 2 "$ADAMAS" run -m "$S" --temp=hot
expect_err "invalid value for --temp: 'hot'"

# -f - reads standard input.
printf 'Once upon a time' | "$ADAMAS" run -m "$S" -f - -n 16 --temp 0 >"$TMP/out" 2>"$TMP/err" || fail "-f -"
cmp -s "$TMP/out" "$TMP/ref" || fail "-f - gives another text"

# The output of run is a text file: it ends with a newline.
[ "$(tail -c 1 "$TMP/ref" | od -An -c | tr -d ' ')" = '\n' ] || fail "run's output does not end with a newline"

# -e: escapes in -p.
printf 'a\n\tb"\\c' >"$TMP/esc"
expect_exit 0 "$ADAMAS" tokenize -m "$S" -f "$TMP/esc"
cp "$TMP/out" "$TMP/esc.ids"
expect_exit 0 "$ADAMAS" tokenize -m "$S" -e -p 'a\n\tb\"\\c'
cmp -s "$TMP/out" "$TMP/esc.ids" || fail "-e: $(cat "$TMP/out") vs $(cat "$TMP/esc.ids")"
expect_exit 0 "$ADAMAS" tokenize -m "$S" -p 'a\n'
cmp -s "$TMP/out" "$TMP/esc.ids" && fail "escapes processed without -e"

# llama.cpp options that mean nothing here: a note each, and the run goes on.
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 16 --temp 0 -ngl 99 --no-mmap --mlock -fa on \
    --flash-attn --no-warmup --n-gpu-layers=33
cmp -s "$TMP/out" "$TMP/ref" || fail "ignored options changed the text"
expect_err "note: -ngl ignored"
expect_err "note: --mlock ignored"
grep -q "usage:" "$TMP/err" && fail "a usage screen for an ignored option"
[ "$(grep -c "note:" "$TMP/err")" -eq 7 ] || { cat "$TMP/err"; fail "not one note per ignored option"; }

# --seed -1 is random, as in llama.cpp; the seed is printed, and repeats the text.
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 48 --temp 1 --seed -1
cp "$TMP/out" "$TMP/r1"
seed=$(sed -n 's/^adamas run: seed \([0-9]*\)$/\1/p' "$TMP/err")
[ -n "$seed" ] || { cat "$TMP/err"; fail "--seed -1 does not print the seed"; }
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 48 --temp 1 --seed -1
cmp -s "$TMP/out" "$TMP/r1" && fail "--seed -1 gave the same text twice"
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" -n 48 --temp 1 --seed "$seed"
cmp -s "$TMP/out" "$TMP/r1" || fail "the printed seed does not repeat the text"
expect_exit 2 "$ADAMAS" run -m "$S" --seed -2

# Files that are not models.
expect_exit 1 "$ADAMAS" run -m "$VOCAB" -p hi
expect_err "holds no weights"
expect_exit 1 "$ADAMAS" run -m "$TMP" -p hi
expect_err "is a directory"
expect_exit 1 "$ADAMAS" run -m "$S" -f "$TMP"
expect_err "is a directory"

# The context: -c above the training length warns; logits without -c is
# capped at the model's (not the prompt's) length, says so with the
# numbers, and keeps the end with --truncate.
expect_exit 0 "$ADAMAS" run -m "$S" -p "Once" -c 4096 -n 2
expect_err "warning: -c 4096 is above the model's training length (2048 tokens)"
expect_exit 1 "$ADAMAS" logits -m "$S" -f "$T" -o "$TMP/l.bin"
expect_err "the prompt has [0-9]* tokens but the context holds at most 2048"
expect_exit 0 "$ADAMAS" logits -m "$S" -f "$T" -o "$TMP/l.bin" --truncate
expect_err "truncated from [0-9]* to 2048 tokens"
[ "$(stat -c %s "$TMP/l.bin")" -eq $((8 + 2048 * 4 + 2048 * 512 * 4)) ] || fail "logits --truncate file size"
grep -q "prompt: " "$TMP/err" && fail "progress drawn into a pipe"
expect_exit 1 "$ADAMAS" logits -m "$S" -f "$T" -o "$TMP/l.bin" -c 100
expect_err "the context holds at most 100 (-c)"
expect_exit 0 "$ADAMAS" perplexity -m "$S" -f "$T" -c 4096 --chunks 1
expect_err "warning: -c 4096 is above"

# Ctrl-C during generation: the text so far, a newline, the timings, 130.
"$ADAMAS" run -m "$S" -p "Once upon a time" -n -1 --ignore-eos -c 1000000 >"$TMP/out" 2>"$TMP/err" &
pid=$!
for _ in $(seq 600); do [ -s "$TMP/out" ] && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 130 ] || { cat "$TMP/err"; fail "run after Ctrl-C exited $rc, expected 130"; }
expect_err "generated [0-9]* tokens, .* (interrupted)"
[ "$(tail -c 1 "$TMP/out" | od -An -c | tr -d ' ')" = '\n' ] || fail "no newline after an interrupted run"
echo ok
