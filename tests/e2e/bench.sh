#!/usr/bin/env bash
# `adamas bench` end to end on a real model: the rows llama-bench users
# expect (pp/tg per depth and method), CSV/JSON field names shared with
# llama-bench (avg_ts, stddev_ts last in CSV), the bandwidth columns, and the
# refusals. Speed itself is judged by benchmarks, never here.
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf

expect_exit 0 "$ADAMAS" bench -m "$S" -p 32 -n 16 -d 0,200 -r 2 --attention dense,adamas --budget 64
[ "$(grep -c '^| llama' "$TMP/out")" -eq 8 ] || { cat "$TMP/out" >&2; fail "expected 8 table rows"; }
expect_out "| dense | tg16 @ d200 |"
expect_out "| adamas | pp32 @ d200 |"
# tg rows carry weights GB/s with the share of the measured read bandwidth.
grep '| tg16 |' "$TMP/out" | grep -Eq '\| [0-9.]+ \([0-9]+%\) \|' || { cat "$TMP/out" >&2; fail "no bandwidth share"; }
expect_err "peak resident memory"

expect_exit 0 "$ADAMAS" bench -m "$S" -p 16 -n 8 -r 2 -o csv --no-bw
head -1 "$TMP/out" | grep -q '^model_filename,.*,n_prompt,n_gen,n_depth,.*,avg_ts,stddev_ts$' ||
    fail "CSV header: $(head -1 "$TMP/out")"
[ "$(wc -l <"$TMP/out")" -eq 3 ] || fail "CSV rows: $(cat "$TMP/out")"
awk -F, 'NR > 1 && !($(NF-1) > 0) { exit 1 }' "$TMP/out" || fail "CSV avg_ts not positive: $(cat "$TMP/out")"

expect_exit 0 "$ADAMAS" bench -m "$S" -p 16 -n 8 -r 3 -d 0,100 -o json --no-bw
python3 - "$TMP/out" <<'PY' || fail "JSON output: $(cat "$TMP/out")"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 4, rows
for r in rows:
    assert r["n_threads"] >= 1 and r["avg_ts"] > 0 and len(r["samples_ts"]) == 3, r
    assert r["n_depth"] in (0, 100) and (r["n_prompt"] == 16) != (r["n_gen"] == 8), r
PY

# Several models in one run, as llama-bench takes them.
expect_exit 0 "$ADAMAS" bench -m "$S,$S" -p 8 -n 4 -r 1 --no-bw
[ "$(grep -c '^| llama' "$TMP/out")" -eq 4 ] || { cat "$TMP/out" >&2; fail "two models: expected 4 rows"; }

expect_exit 2 "$ADAMAS" bench -m "$S" -o xml
expect_err "unknown output format 'xml'"
expect_exit 2 "$ADAMAS" bench -m "$S" --attention dense,sparse
expect_err "unknown attention method 'sparse'"
expect_exit 2 "$ADAMAS" bench
expect_err "no model given"
expect_exit 1 "$ADAMAS" bench -m /nonexistent.gguf
expect_err "/nonexistent.gguf: cannot open"
exit 0
