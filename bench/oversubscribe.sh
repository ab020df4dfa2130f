#!/usr/bin/env bash
# Decode speed when threads outnumber free cores, side by side with
# llama.cpp's llama-bench in the same run: -t cores, cores+1, 2 x cores, and
# -t cores while another process keeps one core busy (a shell busy loop
# pinned to the first usable CPU). Prints a markdown table (docs/benchmarks.md).
#
#   bench/oversubscribe.sh [MODEL]
# MODEL defaults to a random Qwen2.5-0.5B-shaped Q8_0 file made with
# `adamas gen-model` (in $TMPDIR, reused). Environment: ADAMAS (build/adamas),
# LLAMA_BENCH (/work/llama.cpp/build/bin/llama-bench; unset or missing: adamas
# only), N (tokens per tg test, 32), R (repetitions, 3).
#
# Run it on a quiet machine: every other busy process is one more "busy core".
set -euo pipefail
cd "$(dirname "$0")/.."
ADAMAS=${ADAMAS:-build/adamas}
LLAMA_BENCH=${LLAMA_BENCH:-/work/llama.cpp/build/bin/llama-bench}
N=${N:-32}
R=${R:-3}
MODEL=${1:-${TMPDIR:-/tmp}/adamas-q05-q8_0.gguf}
if [ ! -e "$MODEL" ]; then
    "$ADAMAS" gen-model -o "$MODEL" --preset qwen2.5-0.5b --type q8_0 \
        --vocab ../shared/testdata/tokenizer/ggml-vocab-qwen2.gguf >/dev/null
fi
[ -x "$LLAMA_BENCH" ] || LLAMA_BENCH=
cores=$(nproc)
first_cpu=$(taskset -cp $$ | sed 's/.*: //; s/[-,].*//')
busy_pid=
stop_busy() { [ -z "$busy_pid" ] || { kill "$busy_pid" 2>/dev/null; wait "$busy_pid" 2>/dev/null || true; busy_pid=; }; }
trap stop_busy EXIT

# tg tokens/s (mean over R) of each engine at T threads.
# The avg_ts column of a CSV (header in the first line; llama-bench quotes values).
avg_ts() { awk -F, '{ gsub(/"/, "") } NR == 1 { for (i = 1; i <= NF; i++) if ($i == "avg_ts") c = i }
                    NR == 2 && c { printf "%.2f\n", $c }'; }
# tg tokens/s (mean over R) of each engine at T threads.
adamas_ts() { "$ADAMAS" bench -m "$MODEL" -p 0 -n "$N" -r "$R" -t "$1" --no-bw -o csv 2>/dev/null | avg_ts; }
llama_ts() {
    if [ -z "$LLAMA_BENCH" ]; then echo "-"; return; fi
    "$LLAMA_BENCH" -m "$MODEL" -p 0 -n "$N" -r "$R" -t "$1" -o csv 2>/dev/null | avg_ts
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b == 0) print "-"; else printf "%.2f", a / b }'; }

echo "model \`$(basename "$MODEL")\`, tg$N, $R repetitions, $cores usable CPUs;" \
     "adamas $(git rev-parse --short HEAD 2>/dev/null || echo '?')${LLAMA_BENCH:+, llama.cpp $(cat "$(dirname "$LLAMA_BENCH")/../../COMMIT.txt" 2>/dev/null | cut -c1-7)}"
echo
echo "| case | -t | adamas t/s | llama.cpp t/s | adamas / llama.cpp | adamas vs -t $cores | llama.cpp vs -t $cores |"
echo "|---|---:|---:|---:|---:|---:|---:|"
base_a= base_l=
row() {
    local name=$1 t=$2 a l
    a=$(adamas_ts "$t")
    l=$(llama_ts "$t")
    [ -n "$base_a" ] || { base_a=$a; base_l=$l; }
    echo "| $name | $t | $a | $l | $(ratio "$a" "$l") | $(ratio "$a" "$base_a") | $(ratio "$l" "$base_l") |"
}
row "cores" "$cores"
row "cores + 1" $((cores + 1))
row "2 x cores" $((2 * cores))
taskset -c "$first_cpu" bash -c 'while :; do :; done' &
busy_pid=$!
row "cores, one core busy" "$cores"
stop_busy
