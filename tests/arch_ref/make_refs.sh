#!/usr/bin/env bash
# make_refs.sh - regenerates the llama.cpp reference files of tests/e2e/arch_ref.sh:
# for each tiny random-weight model of the architectures gemma2, gemma3, phi3, qwen3moe and llama-moe
# (written by `adamas gen-model --preset tiny-ARCH --seed 17`, deterministic) in
# F32, F16, Q8_0 and Q4_K_M, llama.cpp's logits over an 80-token prompt
# (ARCH-TYPE.logits) and, for F32, its greedy continuation of 64 tokens
# (ARCH-f32.greedy). phi3 is run twice: with a context past its LongRoPE original
# length (long factors) and within it (phi3-f32-short: short factors).
#
# llama.cpp comes from npm's node-llama-cpp (prebuilt CPU binaries; version pinned
# in package.json): ref_logits.mjs. Needs node >= 20 and npm; run from anywhere:
#   make && tests/arch_ref/make_refs.sh
set -euo pipefail
cd "$(dirname "$0")"
ADAMAS=${ADAMAS:-../../build/adamas}
VOCAB=${VOCAB:-../../../shared/models/stories260K.gguf}
[ -d node_modules/node-llama-cpp ] || npm install --no-audit --no-fund --ignore-scripts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for arch in gemma2 gemma3 phi3 qwen3moe llama-moe; do
    for type in f32 f16 q8_0 q4_k_m; do
        "$ADAMAS" gen-model --preset "tiny-$arch" --type "$type" --vocab "$VOCAB" --seed 17 -o "$tmp/$arch-$type.gguf" 2>/dev/null
        greedy=()
        [ "$type" = f32 ] && greedy=("$arch-$type.greedy")
        node ref_logits.mjs "$tmp/$arch-$type.gguf" 2048 80 64 "$arch-$type.logits" "${greedy[@]}"
        echo "$arch-$type"
    done
done
node ref_logits.mjs "$tmp/phi3-f32.gguf" 512 80 64 phi3-f32-short.logits phi3-f32-short.greedy
echo phi3-f32-short
