#!/usr/bin/env bash
# Time to first token for a long document plus a question: cold (the whole
# prompt evaluated) versus from the snapshot an earlier prompt about the
# same document left in --prompt-cache (restore + the new question), in one
# run, plus the snapshot's size per token against the KV cache's
# (docs/snapshot.md, docs/benchmarks.md).
#
#   bench/prompt_cache.sh [MODEL] [DOC_TOKENS] [THREADS]
# defaults: /tmp/q05.gguf (a random Qwen2.5-0.5B-shaped Q8_0 model, generated
# when missing), 16384, 2. Prints a markdown table.
#
# "from the snapshot" is measured twice: with the snapshot in the page cache
# (just written) and with its pages evicted first (posix_fadvise DONTNEED on
# that file only, so it is read from disk; the model stays cached), and once
# more restoring the dense snapshot into an Adamas sequence (which builds the
# code index at restore).
set -euo pipefail
cd "$(dirname "$0")/.."
A=${ADAMAS:-build/adamas}
M=${1:-/tmp/q05.gguf}
N=${2:-16384}
T=${3:-2}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
[ -f "$M" ] || "$A" gen-model -o "$M" --preset qwen2.5-0.5b --type q8_0 \
    --vocab ../shared/testdata/tokenizer/ggml-vocab-qwen2.gguf >/dev/null

# A document of exactly N tokens: the longest prefix of repeated license
# text that tokenizes to N (binary search on its length in bytes).
for _ in $(seq 1 $((N / 4000 + 2))); do cat /usr/share/common-licenses/GPL-3; done >"$W/big.txt"
count() { "$A" tokenize -m "$M" -f "$1" 2>/dev/null | wc -w; }
lo=1 hi=$(stat -c %s "$W/big.txt")
while [ "$lo" -lt "$hi" ]; do
    mid=$(((lo + hi + 1) / 2))
    head -c "$mid" "$W/big.txt" >"$W/doc.txt"
    if [ "$(count "$W/doc.txt")" -le "$N" ]; then lo=$mid; else hi=$((mid - 1)); fi
done
head -c "$lo" "$W/big.txt" >"$W/doc.txt"
n_doc=$(count "$W/doc.txt")
# Two questions that differ from their first token on; the second, the one
# asked from the snapshot, is 32 tokens (Qwen2 vocabulary).
q1="

Question: in two sentences, what does this license require from someone who conveys a modified version of the program?"
q2="
Tell me briefly which rights about patents the contributors of the covered work grant to the users, and why it matters to people who ship modified copies of it."
printf '%s%s' "$(cat "$W/doc.txt")" "$q1" >"$W/p1.txt"
printf '%s%s' "$(cat "$W/doc.txt")" "$q2" >"$W/p2.txt"

# Seconds to the first token: the prompt phase of `run` (restore included).
ttft() { sed -n 's/.*| prompt \([0-9]*\) tokens, \([0-9.]*\) tokens\/s.*/\1 \2/p' "$W/err" | awk '{ printf "%.3f", $1 / $2 }'; }
run() { "$A" run -m "$M" -n 1 --temp 0 -t "$T" -c $((N + 256)) "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }; }
restored() { sed -n 's/.*prompt cache .*: \([0-9]*\) of \([0-9]*\) prompt tokens restored in \([0-9.]*\) s.*/\1 \2 \3/p' "$W/err" |
             awk '{ printf "%d (%d evaluated; restore %.2f s)", $1, $2 - $1, $3 }'; }

run -f "$W/p1.txt" --prompt-cache "$W/doc.snap"
cold=$(ttft)
saved=$(sed -n 's/.*prompt cache .*: \([0-9]*\) tokens saved (\([0-9.]*\) MiB) in \([0-9.]*\) s.*/\1 tokens, \2 MiB, written in \3 s/p' "$W/err")
size=$(stat -c %s "$W/doc.snap")
n_snap=$(sed -n 's/.*prompt cache .*: \([0-9]*\) tokens saved.*/\1/p' "$W/err")
run -f "$W/p2.txt" --prompt-cache "$W/doc.snap" --prompt-cache-ro
warm=$(ttft) warm_r=$(restored)
python3 -c "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)" "$W/doc.snap"
run -f "$W/p2.txt" --prompt-cache "$W/doc.snap" --prompt-cache-ro
disk=$(ttft) disk_r=$(restored)
run -f "$W/p2.txt" --prompt-cache "$W/doc.snap" --prompt-cache-ro --attention adamas
adamas=$(ttft) adamas_r=$(restored)
# The f16 KV cache per token: layers x KV heads x head size x 2 bytes x (K, V).
"$A" info "$M" >"$W/info" 2>/dev/null
hp() { sed -n "s/^  $1 *\([0-9]*\)$/\1/p" "$W/info"; }
kv=$(($(hp n_layer) * $(hp n_head_kv) * $(hp head_dim) * 2 * 2))

echo "model \`$(basename "$M")\`, document $n_doc tokens, $T threads, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
echo
echo "| prompt | tokens restored | time to first token (s) | speed-up |"
echo "|---|---|---:|---:|"
echo "| cold: document + question 1 evaluated | 0 ($n_snap evaluated) | $cold | 1 |"
sp() { awk -v a="$cold" -v b="$1" 'BEGIN { printf "%.0fx", a / b }'; }
echo "| question 2, snapshot in the page cache | $warm_r | $warm | $(sp "$warm") |"
echo "| question 2, snapshot read from disk | $disk_r | $disk | $(sp "$disk") |"
echo "| question 2, dense snapshot into --attention adamas (index built at restore) | $adamas_r | $adamas | $(sp "$adamas") |"
echo
echo "snapshot: $saved; $(awk -v s="$size" -v n="$n_snap" 'BEGIN { printf "%.0f", s / n }') bytes per token; the f16 KV cache: $kv bytes per token"
