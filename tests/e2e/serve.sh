#!/usr/bin/env bash
# `adamas serve` driven by the official openai client (tests/server/e2e.mjs,
# the client pinned in tests/server/package-lock.json; `npm ci` there
# installs it). Skips, saying why, when node or the client is missing.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_serve_lib.sh"
cd "$(dirname "$0")/../.."
MODEL=$SHARED/models/stories260K.gguf
if ! command -v node >/dev/null; then echo "skip: node is not installed"; exit 0; fi
if [ ! -d tests/server/node_modules/openai ]; then
    echo "skip: the openai client is not installed (run 'npm ci' in tests/server)"; exit 0
fi
start_server A -m "$MODEL" -np 4 -c 256 -t 1
start_server B -m "$MODEL" -np 1 -c 2048 -t 1 --max-queue 0 --api-key sekrit -b 256
# The server's batch defaults to 1024 rows (run's is 512); -b chooses it.
# A tick leaves a row per slot beside its prompt chunks.
props=$(curl -sf "$A_URL/props")
echo "$props" | grep -q '"n_batch":1024,"tick_tokens":992' || fail "/props of -np 4 without -b: $props"
props=$(curl -sf -H "Authorization: Bearer sekrit" "$B_URL/props")
echo "$props" | grep -q '"n_batch":256,"tick_tokens":224' || fail "/props with -b 256: $props"
URL_A=$A_URL URL_B=$B_URL KEY=sekrit ADAMAS=$ADAMAS MODEL=$MODEL node tests/server/e2e.mjs || fail "e2e.mjs"

# SIGTERM during a stream: the stream ends with an error event (no [DONE])
# and the server exits 0 promptly.
node --input-type=module -e '
const r = await fetch(process.argv[1] + "/v1/completions", { method: "POST", headers: { "X-Api-Key": "sekrit" },
  body: JSON.stringify({ prompt: "Once", max_tokens: 3000, ignore_eos: true, stream: true }) });
const rd = r.body.getReader(); const dec = new TextDecoder(); let s = "";
for (;;) { const { value, done } = await rd.read(); if (done) break; s += dec.decode(value);
  if (s.includes("\"text\"") && !globalThis.sent) { globalThis.sent = 1; process.kill(Number(process.argv[2]), "SIGTERM"); } }
if (!s.includes("data: {\"error\"") || s.includes("[DONE]")) { console.log(s.slice(-300)); process.exit(1); }
' "$B_URL" "$B_PID" || fail "a stream cut by SIGTERM does not end with an error event"
for _ in $(seq 100); do kill -0 "$B_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$B_PID" 2>/dev/null && fail "the server did not exit within 10 s of SIGTERM"
wait "$B_PID" || fail "the server exited with status $? after SIGTERM"
kill -TERM "$A_PID"
wait "$A_PID" || { tail -30 "$TMP/A.log"; fail "server A exited with status $? after SIGTERM"; }
grep -q "ERROR: \|runtime error" "$TMP/A.log" "$TMP/B.log" && { cat "$TMP/A.log" "$TMP/B.log"; fail "sanitizer report"; }
echo ok
