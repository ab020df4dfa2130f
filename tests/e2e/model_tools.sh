#!/usr/bin/env bash
# `adamas info`, `adamas logits` and `adamas gen-model` end to end.
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf

expect_exit 0 "$ADAMAS" info "$S"
expect_out "llama.block_count  *= 5"
expect_out "blk.0.attn_k.weight  *f32  *\[64, 32\]"
expect_out "n_head_kv  *4"
expect_exit 0 "$ADAMAS" info --no-tensors "$SHARED/peer/peer-qwen3-q4_k_m.gguf"
expect_out "arch  *qwen3"

# Refusals: clear message, exit code 1, never a crash.
expect_exit 1 "$ADAMAS" info "$SHARED/models/tinyllamas-stories-260k-f32.gguf"
expect_err "version 1"
expect_exit 1 "$ADAMAS" info "$SHARED/models/tinyllamas-stories-260k-q8_0.gguf"
expect_err "blk.0.ffn_down.weight"
expect_exit 1 "$ADAMAS" logits -m "$SHARED/models/tinyllamas-stories-260k-q8_0.gguf" --tokens "1" -o "$TMP/x"
expect_err "not a multiple of the q8_0 block size"
expect_exit 1 "$ADAMAS" info /nonexistent.gguf
expect_err "cannot open"
head -c 5000 "$S" >"$TMP/trunc.gguf"
expect_exit 1 "$ADAMAS" logits -m "$TMP/trunc.gguf" --tokens "1" -o "$TMP/x"
expect_err "truncated"
expect_exit 2 "$ADAMAS" logits -m "$S"
expect_exit 2 "$ADAMAS" nosuchcommand
expect_exit 1 "$ADAMAS" logits -m "$S" --tokens "1 99999" -o "$TMP/x"
expect_err "outside the vocabulary"

# Logits: the layout of llama.cpp reference files; stories260K's first step.
expect_exit 0 "$ADAMAS" logits -m "$S" --tokens "1" --top 5 -o "$TMP/l.bin"
expect_out "^0: 403=17.02[34]. 385=15.40[67]."
[ "$(stat -c %s "$TMP/l.bin")" -eq $((8 + 4 + 512 * 4)) ] || fail "logits file size"

# gen-model writes files that load and run, in every weight type.
for t in f32 f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q2_k q3_k q4_k q5_k q6_k q4_k_m; do
    expect_exit 0 "$ADAMAS" gen-model -o "$TMP/g.gguf" --preset tiny --type "$t" --arch qwen3 --n-vocab 300
    expect_exit 0 "$ADAMAS" logits -m "$TMP/g.gguf" --tokens "1 2 3" --top 1
    expect_out "^2: "
done
expect_exit 0 "$ADAMAS" gen-model -o "$TMP/v.gguf" --preset tiny --arch qwen2 --vocab "$S"
expect_exit 0 "$ADAMAS" info "$TMP/v.gguf"
expect_out "tokenizer.ggml.model  *= \"llama\""
expect_out "n_vocab  *512"
expect_exit 2 "$ADAMAS" gen-model -o "$TMP/x.gguf" --type q9_9
echo ok
