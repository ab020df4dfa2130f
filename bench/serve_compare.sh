#!/usr/bin/env bash
# Serving benchmark: adamas serve and llama.cpp's llama-server on the same
# GGUF file in the same run, N = 1, 4, 8 concurrent streaming requests of
# 512-token prompts and 128-token answers (bench/serve_load.mjs).
#
#   bench/serve_compare.sh [MODEL.gguf]
#
# Default model: a random-weight Qwen2.5-0.5B-shaped Q8_0 file, generated
# into /tmp/q05.gguf when missing. llama-server is taken from
# $LLAMA_CPP_BIN (default /work/llama.cpp/build/bin) and skipped when absent.
# Both servers get 8 slots of 1024 tokens (llama-server: -c 8192 -np 8,
# since it divides -c among slots) and the same thread count; ADAMAS_ARGS
# adds options to adamas serve (e.g. --tick-tokens 256), LOAD_ARGS to the load
# generator (e.g. "--n 8 --rounds 1").
set -euo pipefail
cd "$(dirname "$0")/.."
ADAMAS=${ADAMAS:-build/adamas}
LLAMA=${LLAMA_CPP_BIN:-/work/llama.cpp/build/bin}/llama-server
MODEL=${1:-/tmp/q05.gguf}
THREADS=${THREADS:-$(nproc)}
if [ ! -f "$MODEL" ]; then
    "$ADAMAS" gen-model -o "$MODEL" --preset qwen2.5-0.5b --type q8_0 \
        --vocab ../shared/testdata/tokenizer/ggml-vocab-qwen2.gguf
fi
LOG=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$LOG"' EXIT
wait_up() { for _ in $(seq 600); do curl -sf "$1/health" >/dev/null 2>&1 && return 0; sleep 0.2; done; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "model $MODEL, $THREADS threads, commit $(git rev-parse --short HEAD), $(date -u +%F)"
# Both servers stay up and the load generator alternates its rounds
# between them (bench/serve_load.mjs --targets): a slow phase of a shared
# machine then falls on both alike. An idle server sleeps.
port=$(free_port)
"$ADAMAS" serve -m "$MODEL" --port "$port" -np 8 -c 1024 -t "$THREADS" ${ADAMAS_ARGS:-} 2>"$LOG/adamas.log" &
pids+=($!)
wait_up "http://127.0.0.1:$port" || { cat "$LOG/adamas.log"; exit 1; }
targets="adamas=http://127.0.0.1:$port"
if [ -x "$LLAMA" ]; then
    port=$(free_port)
    "$LLAMA" -m "$MODEL" --port "$port" -np 8 -c 8192 -t "$THREADS" --cont-batching 2>"$LOG/llama.log" &
    pids+=($!)
    wait_up "http://127.0.0.1:$port" || { tail -20 "$LOG/llama.log"; exit 1; }
    targets="$targets,llama-server=http://127.0.0.1:$port"
else
    echo "($LLAMA not found: adamas only)"
fi
node bench/serve_load.mjs --targets "$targets" ${LOAD_ARGS:-}
