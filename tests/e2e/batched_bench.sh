#!/usr/bin/env bash
# `adamas batched-bench` end to end: llama-batched-bench's columns and JSON
# field names, one row per (PP, TG, B), N_KV = B (PP + TG), and refusals.
# Speed itself is judged by benchmarks, never here.
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf

expect_exit 0 "$ADAMAS" batched-bench -m "$S" -npp 16 -ntg 4 -npl 1,3 -t 2
expect_out "|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |"
grep -Eq '^\|    16 \|      4 \|    1 \|     20 \|' "$TMP/out" || { cat "$TMP/out" >&2; fail "B=1 row"; }
grep -Eq '^\|    16 \|      4 \|    3 \|     60 \|' "$TMP/out" || { cat "$TMP/out" >&2; fail "B=3 row"; }

expect_exit 0 "$ADAMAS" batched-bench -m "$S" -npp 8,12 -ntg 2 -npl 2 -o json --attention adamas --budget 8
python3 - "$TMP/out" <<'PY' || fail "JSON output: $(cat "$TMP/out")"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert len(rows) == 2, rows
for r in rows:
    assert r["pl"] == 2 and r["tg"] == 2 and r["n_kv"] == 2 * (r["pp"] + 2), r
    assert r["speed_pp"] > 0 and r["speed_tg"] > 0 and r["t"] > 0 and r["attention"] == "adamas", r
PY

expect_exit 2 "$ADAMAS" batched-bench -m "$S" -npl 0
expect_exit 2 "$ADAMAS" batched-bench -npp 8
expect_err "no model"
expect_exit 2 "$ADAMAS" batched-bench -m "$S" -o xml
expect_exit 1 "$ADAMAS" batched-bench -m /nonexistent.gguf
echo ok
