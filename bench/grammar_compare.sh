#!/usr/bin/env bash
# Grammar overhead per generated token, adamas next to llama.cpp, on the
# random Qwen2.5-0.5B-shaped Q8_0 model with the 151,936-row Qwen2
# vocabulary, for the JSON grammar and a schema with enums, at depth 0.
#
#   LLAMA_CPP_BIN=/work/llama.cpp/build/bin bench/grammar_compare.sh [MODEL.gguf] [-t THREADS]
#
# adamas: build/bench/bench_grammar times, per token, the decode step, the
# sampler alone and the sampler with the grammar on the same logits.
# llama.cpp: llama-completion's (older builds: llama-cli's) own sampling and eval timings (llama_perf), without
# and with --grammar-file / --json-schema; overhead = the difference in
# sampling time per token. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
M=${1:-/tmp/adamas-bench-qwen2.5-0.5b-q8_0.gguf}
T=${T:-2}
SHARED=${SHARED:-../shared}
if [ ! -f "$M" ]; then
    build/adamas gen-model -o "$M" --preset qwen2.5-0.5b --type q8_0 \
        --vocab "$SHARED/testdata/tokenizer/ggml-vocab-qwen2.gguf" >&2
fi
make -s -j2 build/bench/bench_grammar
N=${N:-200}
JSON=tests/grammars/json.gbnf
ENUM=bench/enum.schema.json
echo "== adamas ($(git rev-parse --short HEAD))"
build/bench/bench_grammar "$M" --grammar-file $JSON -n "$N" -t "$T"
build/bench/bench_grammar "$M" --json-schema-file $ENUM -n "$N" -t "$T"
# Since late 2025 llama-cli is chat-only; plain completion moved to llama-completion.
CLI=
if [ -n "${LLAMA_CPP_BIN:-}" ]; then
    for c in llama-completion llama-cli; do
        if [ -x "$LLAMA_CPP_BIN/$c" ]; then CLI=$LLAMA_CPP_BIN/$c; break; fi
    done
fi
if [ -n "$CLI" ]; then
    echo "== llama.cpp ($CLI)"
    perf() { # prints "sampling_ms_per_token eval_ms_per_token"
        "$CLI" -m "$M" -p "x" -n "$N" --temp 1 --seed 1 -t "$T" -no-cnv "$@" \
            </dev/null 2>&1 >/dev/null | awk '
            # older builds: "sampling time = T ms / N runs (X ms per token"; newer ones print
            # the total ("sampling time = T ms") and the count on "samplers time = t ms / N tokens"
            /sampling time/ { for (i = 1; i <= NF; i++) { if ($i == "per") s = $(i - 2); if ($i == "=") st = $(i + 1) } }
            /samplers time/ { for (i = 1; i <= NF; i++) if ($i == "/") nt = $(i + 1) }
            /[^t] eval time/ { for (i = 1; i <= NF; i++) if ($i == "per") e = $(i - 2) }
            END { if (s == "" && nt > 0) s = st / nt; print s, e }'
    }
    read -r s0 e0 < <(perf)
    read -r s1 e1 < <(perf --grammar-file $JSON)
    read -r s2 e2 < <(perf --json-schema "$(cat $ENUM)")
    awk -v s0="$s0" -v e0="$e0" -v s1="$s1" -v e1="$e1" -v s2="$s2" -v e2="$e2" 'BEGIN {
        printf "no grammar: sampling %.3f ms/token, decode %.2f ms/token\n", s0, e0
        printf "json.gbnf:  sampling %.3f ms/token: overhead %.3f ms = %.1f%% of a decode step\n", s1, s1 - s0, 100 * (s1 - s0) / e0
        printf "enum schema: sampling %.3f ms/token: overhead %.3f ms = %.1f%% of a decode step\n", s2, s2 - s0, 100 * (s2 - s0) / e0 }'
fi
