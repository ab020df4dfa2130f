#!/usr/bin/env bash
# `adamas tokenize` end to end: ids as llama.cpp gives them, -f bytes kept
# exactly (\r\n), --pieces, special tokens, and the refusals.
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf
V=$SHARED/testdata/tokenizer

expect_exit 0 "$ADAMAS" tokenize -m "$S" -p "Once upon a time"
[ "$(cat "$TMP/out")" = "1 403 407 261 378" ] || fail "stories260K ids: $(cat "$TMP/out")"
expect_exit 0 "$ADAMAS" tokenize -m "$S" -p "Once upon a time" --no-bos
[ "$(cat "$TMP/out")" = "403 407 261 378" ] || fail "--no-bos ids: $(cat "$TMP/out")"

# -f: the file's bytes exactly; llama.cpp's ids for "Hello\r\nworld\n".
printf 'Hello\r\nworld\n' >"$TMP/crlf.txt"
expect_exit 0 "$ADAMAS" tokenize -m "$V/ggml-vocab-llama-bpe.gguf" -f "$TMP/crlf.txt"
[ "$(cat "$TMP/out")" = "128000 9906 319 14957 198" ] || fail "llama-bpe CRLF ids: $(cat "$TMP/out")"
expect_exit 0 "$ADAMAS" tokenize -m "$S" -f "$TMP/crlf.txt" --pieces
[ "$(cat "$TMP/out")" = "$(printf '1\t<s>\n346\t He\n306\tll\n414\to\n16\t\\r\n13\t\\n\n424\tw\n304\tor\n341\tld\n13\t\\n')" ] ||
    fail "stories260K CRLF pieces: $(cat "$TMP/out")"

# Special tokens only with --special; a vocab-only file without BOS.
expect_exit 0 "$ADAMAS" tokenize -m "$V/ggml-vocab-qwen2.gguf" --special --pieces -p "<|im_start|>hi"
[ "$(cat "$TMP/out")" = "$(printf '151644\t<|im_start|>\n6023\thi')" ] || fail "qwen2 --special: $(cat "$TMP/out")"
expect_exit 0 "$ADAMAS" tokenize -m "$V/ggml-vocab-qwen2.gguf" -p "<|im_start|>hi"
expect_out "^27 91 318 4906 91 29 6023$"

# Refusals: clear message, exit 1 for runtime failures, 2 for usage.
expect_exit 1 "$ADAMAS" tokenize -m /nonexistent.gguf -p "hi"
expect_err "/nonexistent.gguf: cannot open"
expect_exit 1 "$ADAMAS" tokenize -m "$S" -f "$TMP/no-such-file.txt"
expect_err "cannot open"
head -c 3000 "$S" >"$TMP/trunc.gguf"
expect_exit 1 "$ADAMAS" tokenize -m "$TMP/trunc.gguf" -p "hi"
expect_err "trunc.gguf"
expect_exit 2 "$ADAMAS" tokenize -m "$S"
expect_err "exactly one of -p TEXT and -f FILE"
expect_exit 2 "$ADAMAS" tokenize -m "$S" -p a -f "$TMP/crlf.txt"
expect_exit 2 "$ADAMAS" tokenize -p "hi"
expect_err "no model given (-m FILE.gguf)"
expect_exit 2 "$ADAMAS" tokenize -m "$S" -p hi --bogus
expect_err "unknown option"
expect_exit 0 "$ADAMAS" tokenize --help
expect_out "usage: adamas tokenize"
exit 0
