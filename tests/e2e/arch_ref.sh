#!/usr/bin/env bash
# gemma2, gemma3, phi3, qwen3moe and llama with experts (Mixtral) against llama.cpp: tiny random-weight models written by
# `adamas gen-model` (fixed seed; never committed) in F32, F16, Q8_0 and Q4_K_M,
# evaluated by `adamas logits` over the prompt of the reference files in
# tests/arch_ref/ (llama.cpp's logits, made by tests/arch_ref/make_refs.sh). They
# cover every mechanism: a sliding window (24) much shorter than the prompt (80)
# with global layers on linear RoPE scaling, attention and final logit
# soft-capping (gemma2, the attention cap low enough to matter), fused QKV and gate/up tensors,
# partial rotary dimensions and both LongRoPE factor sets, 8 experts with top-3,
# a llama file with 4 experts of feed_forward_length, top-2.
# Rule (as for ../shared/peer): F32 rms <= 1e-3, other types <= a quarter of
# llama.cpp's own quantization rms; F32 greedy continuations identical for 64 tokens.
. "$(dirname "$0")/_lib.sh"
REF=$(cd "$(dirname "$0")/../arch_ref" && pwd)
V=$SHARED/models/stories260K.gguf
tokens() { python3 -c "import struct,sys;d=open(sys.argv[1],'rb').read();n=struct.unpack_from('<i',d)[0];print(' '.join(map(str,struct.unpack_from('<%di'%n,d,8))))" "$1"; }
check() { # NAME GGUF CTX [MASTER]
    local name=$1 gguf=$2 ctx=$3 master=${4:-}
    local extra=()
    [ -f "$REF/$name.greedy" ] && extra=(--greedy 64)
    expect_exit 0 "$ADAMAS" logits -m "$gguf" --tokens "$(tokens "$REF/$name.logits")" -c "$ctx" -o "$TMP/$name.ours" "${extra[@]}"
    local cmp=("$TMP/$name.ours" "$REF/$name.logits")
    [ -n "$master" ] && cmp+=("$REF/$master.logits")
    [ -f "$REF/$name.greedy" ] && { cp "$TMP/out" "$TMP/$name.out"; cmp+=(--greedy "$TMP/$name.out" "$REF/$name.greedy"); }
    python3 "$REF/compare.py" "${cmp[@]}" || fail "$name disagrees with llama.cpp"
}
for arch in gemma2 gemma3 phi3 qwen3moe llama-moe; do
    for t in f32 f16 q8_0 q4_k_m; do
        expect_exit 0 "$ADAMAS" gen-model --preset "tiny-$arch" --type "$t" --vocab "$V" --seed 17 -o "$TMP/$arch-$t.gguf"
        if [ "$t" = f32 ]; then check "$arch-$t" "$TMP/$arch-$t.gguf" 2048
        else check "$arch-$t" "$TMP/$arch-$t.gguf" 2048 "$arch-f32"; fi
    done
done
# phi3 within its LongRoPE original context (1024): the short factors
check phi3-f32-short "$TMP/phi3-f32.gguf" 512

# gen-model is deterministic: the same seed writes the same bytes.
expect_exit 0 "$ADAMAS" gen-model --preset tiny-qwen3moe --type q4_k_m --vocab "$V" --seed 17 -o "$TMP/again.gguf"
cmp -s "$TMP/again.gguf" "$TMP/qwen3moe-q4_k_m.gguf" || fail "gen-model is not deterministic"

# adamas info shows the new hyperparameters.
expect_exit 0 "$ADAMAS" info --no-tensors "$TMP/gemma3-f32.gguf"
expect_out "sliding window  *24 (3 of 4 layers), local rope base 10000"
expect_exit 0 "$ADAMAS" info --no-tensors "$TMP/gemma2-f32.gguf"
expect_out "sliding window  *24 (2 of 4 layers)"
expect_out "soft-capping  *attention 2, logits 30"
expect_exit 0 "$ADAMAS" info --no-tensors "$TMP/qwen3moe-f32.gguf"
expect_out "experts  *8, 3 per token, feed-forward 256"
expect_exit 0 "$ADAMAS" info --no-tensors "$TMP/phi3-f32.gguf"
expect_out "longrope  *original context 1024"
# An architecture adamas does not run is refused by name, with the supported list.
python3 -c "import sys;d=bytearray(open(sys.argv[1],'rb').read());k=b'general.architecture';i=d.index(k)+len(k)+12;d[i:i+6]=b'falcon';open(sys.argv[2],'wb').write(d)" "$TMP/gemma3-f32.gguf" "$TMP/falcon.gguf"
expect_exit 1 "$ADAMAS" logits -m "$TMP/falcon.gguf" --tokens "1 2" --top 1
expect_err "architecture 'falcon' is not supported (supported: llama.*gemma2, gemma3.*phi3"
echo ok
