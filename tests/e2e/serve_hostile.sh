#!/usr/bin/env bash
# `adamas serve` against hostile input (tests/server/hostile.py): truncated,
# oversized, deeply nested, ill-typed and invalid-UTF-8 bodies, huge
# max_tokens, oversized headers, slowloris connections, 200 connections at
# once. The server must answer each with an error, keep serving, and still
# exit cleanly on SIGTERM (under `make SAN=1 test`: with no sanitizer report).
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_serve_lib.sh"
cd "$(dirname "$0")/../.."
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 0; }
start_server H -m "$SHARED/models/stories260K.gguf" -np 2 -c 256 -t 1 --timeout 2 --max-body 65536 --max-queue 4
python3 tests/server/hostile.py 127.0.0.1 "${H_URL##*:}" || fail "hostile.py"
kill -TERM "$H_PID"
wait "$H_PID" || { cat "$TMP/H.log"; fail "the server exited with status $? after SIGTERM"; }
grep -q "ERROR: \|runtime error" "$TMP/H.log" && { cat "$TMP/H.log"; fail "sanitizer report"; }
echo ok
