#!/usr/bin/env bash
# `adamas serve` snapshots on disk (docs/snapshot.md, "The server"):
# POST /slots/{id}?action=save|restore|erase under --slot-save-path, and the
# --cache-dir prompt cache that survives a restart. A restored prefix is
# reported as cached_tokens and continues exactly as a cold run (greedy);
# names that could leave the directory, damaged and foreign snapshots are
# refused with the server still serving; a busy slot is 409; without
# --slot-save-path save and restore are 501.
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_serve_lib.sh"
cd "$(dirname "$0")/../.."
command -v python3 >/dev/null || { echo "skip: python3 is not installed"; exit 0; }
command -v curl >/dev/null || { echo "skip: curl is not installed"; exit 0; }
S=$SHARED/models/stories260K.gguf
P=$SHARED/peer/peer-llama-f32.gguf

# jf FILE EXPR: EXPR (python, the JSON as d) of a JSON file.
jf() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# complete URL PROMPT N OUT: a greedy completion; the answer in OUT.
complete() {
    python3 -c 'import json,sys; print(json.dumps({"prompt": sys.argv[1], "max_tokens": int(sys.argv[2]),
        "temperature": 0}))' "$2" "$3" > "$TMP/body"
    curl -sf "$1/v1/completions" -H 'Content-Type: application/json' --data-binary @"$TMP/body" > "$4" ||
        fail "completion at $1 failed: $(cat "$4")"
}
# slot URL ID ACTION BODY OUT: prints the HTTP status; the answer in OUT.
slot() { curl -s -o "$5" -w '%{http_code}' -X POST "$1/slots/$2?action=$3" --data-binary "$4"; }
metric() { curl -sf "$1/metrics" | sed -n "s/^adamas_$2{[^}]*} //p"; }

expect_exit 0 "$ADAMAS" serve --help
expect_out "slot-save-path"
expect_out "cache-dir"
expect_out "cache-max-mib"

DOC="Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.\
 One day, she saw a big red ball under a tree. She ran to the ball and picked it up. It was shiny and new.\
 Lily asked her mom if she could keep the ball. Her mom said yes, and Lily was very happy all day long."
Q=" Then she went home and"

# ---- slot save / erase / restore ----
start_server A -m "$S" -np 2 -c 512 -t 1 --slot-save-path "$TMP/slots"
[ -d "$TMP/slots" ] || fail "--slot-save-path was not created"
complete "$A_URL" "$DOC" 24 "$TMP/cold.json"
cold=$(jf "$TMP/cold.json" 'd["choices"][0]["text"]')
n_prompt=$(jf "$TMP/cold.json" 'd["usage"]["prompt_tokens"]')
[ "$(jf "$TMP/cold.json" 'd["usage"]["prompt_tokens_details"]["cached_tokens"]')" = 0 ] || fail "cold run had a cache"
# The slot that served it holds the prompt and the answer; the other one nothing.
busy=$(curl -sf "$A_URL/slots" | python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin) if s["n_past"] > 0][0])')
other=$((1 - busy))
st=$(slot "$A_URL" "$busy" save '{"filename":"doc-1.snap"}' "$TMP/r")
[ "$st" = 200 ] || fail "save: $st $(cat "$TMP/r")"
n_saved=$(jf "$TMP/r" 'd["n_saved"]')
[ "$n_saved" -ge "$n_prompt" ] || fail "saved $n_saved tokens, fewer than the $n_prompt of the prompt"
[ "$(jf "$TMP/r" 'd["id_slot"], d["filename"], d["n_written"] > 4096, "save_ms" in d["timings"]')" = \
  "($busy, 'doc-1.snap', True, True)" ] || fail "save answer: $(cat "$TMP/r")"
[ -f "$TMP/slots/doc-1.snap" ] || fail "no file doc-1.snap"
st=$(slot "$A_URL" "$other" save '{"filename":"empty.snap"}' "$TMP/r")
[ "$st" = 400 ] && grep -q "empty" "$TMP/r" || fail "saving an empty slot: $st $(cat "$TMP/r")"
st=$(slot "$A_URL" "$busy" erase '' "$TMP/r")
[ "$st" = 200 ] && [ "$(jf "$TMP/r" 'd["n_erased"]')" = "$n_saved" ] || fail "erase: $st $(cat "$TMP/r")"
[ "$(curl -sf "$A_URL/slots" | python3 -c 'import json,sys; print(sum(s["n_past"] for s in json.load(sys.stdin)))')" = 0 ] ||
    fail "the slots are not empty after erase"
# Restored into the other slot: the next request starts from it and says so.
st=$(slot "$A_URL" "$other" restore '{"filename":"doc-1.snap"}' "$TMP/r")
[ "$st" = 200 ] || fail "restore: $st $(cat "$TMP/r")"
[ "$(jf "$TMP/r" 'd["id_slot"], d["n_restored"], d["n_read"] > 4096, "restore_ms" in d["timings"]')" = \
  "($other, $n_saved, True, True)" ] || fail "restore answer: $(cat "$TMP/r")"
complete "$A_URL" "$DOC" 24 "$TMP/warm.json"
[ "$(jf "$TMP/warm.json" 'd["usage"]["prompt_tokens_details"]["cached_tokens"]')" = $((n_prompt - 1)) ] ||
    fail "after restore: $(cat "$TMP/warm.json")"
[ "$(jf "$TMP/warm.json" 'd["choices"][0]["text"]')" = "$cold" ] || fail "the restored slot answered otherwise"
[ "$(metric "$A_URL" slot_restores_total)" = 1 ] || fail "slot_restores_total"

# Names that are not plain names are refused, and nothing is written outside.
mkdir -p "$TMP/slots/sub"
for name in '../evil.snap' '..' '.hidden' 'sub/x.snap' '/tmp/evil.snap' 'a\\b' 'a b' 'x..y' '' \
            "$(printf 'a%.0s' $(seq 129))" 'caf\u00e9' 'nul\u0000.snap'; do
    st=$(slot "$A_URL" 0 save "{\"filename\":\"$name\"}" "$TMP/r")
    [ "$st" = 400 ] && grep -q "filename\|JSON" "$TMP/r" || fail "save as '$name': $st $(cat "$TMP/r")"
    st=$(slot "$A_URL" 0 restore "{\"filename\":\"$name\"}" "$TMP/r")
    [ "$st" = 400 ] || fail "restore from '$name': $st $(cat "$TMP/r")"
done
for body in '{"filename":7}' '{}' 'not json' '{"filename":["a"]}'; do
    st=$(slot "$A_URL" 0 save "$body" "$TMP/r")
    [ "$st" = 400 ] || fail "save with body '$body': $st"
done
[ -e "$TMP/evil.snap" ] || [ -e /tmp/evil.snap ] && fail "a snapshot was written outside the directory"
[ -z "$(ls "$TMP/slots/sub")" ] || fail "a snapshot was written in a subdirectory"
for id in -1 2 99 abc 1x ''; do
    st=$(slot "$A_URL" "$id" erase '' "$TMP/r")
    [ "$st" = 400 ] || [ "$st" = 404 ] || fail "slot id '$id': $st $(cat "$TMP/r")"
done
st=$(slot "$A_URL" 0 explode '' "$TMP/r")
[ "$st" = 400 ] || fail "unknown action: $st"
st=$(slot "$A_URL" 0 restore '{"filename":"missing.snap"}' "$TMP/r")
[ "$st" = 404 ] || fail "restore of a missing file: $st $(cat "$TMP/r")"

# Damaged, truncated, foreign: refused with the snapshot module's message
# (the file named, not the server's directory), the server still serving.
head -c 3000 /dev/urandom > "$TMP/slots/garbage.snap"
head -c 5000 "$TMP/slots/doc-1.snap" > "$TMP/slots/short.snap"
expect_exit 0 "$ADAMAS" prefill -m "$P" -p "$DOC" -o "$TMP/slots/foreign.snap" -t 1
for f in garbage:"not an adamas snapshot" short:truncated foreign:"another model"; do
    st=$(slot "$A_URL" 0 restore "{\"filename\":\"${f%%:*}.snap\"}" "$TMP/r")
    [ "$st" = 400 ] && grep -q "${f#*:}" "$TMP/r" || fail "restore of ${f%%:*}.snap: $st $(cat "$TMP/r")"
    grep -q "$TMP" "$TMP/r" && fail "the error names the server's directory: $(cat "$TMP/r")"
    curl -sf "$A_URL/health" >/dev/null || fail "the server is down after restoring ${f%%:*}.snap"
done
complete "$A_URL" "$DOC" 24 "$TMP/after.json"
[ "$(jf "$TMP/after.json" 'd["choices"][0]["text"]')" = "$cold" ] || fail "answers changed after the refusals"

# ---- no --slot-save-path: save/restore are 501, erase works; a busy slot is 409 ----
start_server B -m "$S" -np 1 -c 16384 -t 1
st=$(slot "$B_URL" 0 save '{"filename":"x.snap"}' "$TMP/r")
[ "$st" = 501 ] && grep -q "slot-save-path" "$TMP/r" || fail "save without --slot-save-path: $st $(cat "$TMP/r")"
st=$(slot "$B_URL" 0 restore '{"filename":"x.snap"}' "$TMP/r")
[ "$st" = 501 ] || fail "restore without --slot-save-path: $st"
curl -sN "$B_URL/v1/completions" -d '{"prompt":"Once","max_tokens":16000,"ignore_eos":true,"stream":true}' \
    > "$TMP/stream" 2>/dev/null &
cpid=$!
for _ in $(seq 400); do grep -q '"text"' "$TMP/stream" 2>/dev/null && break; sleep 0.05; done
st=$(slot "$B_URL" 0 erase '' "$TMP/r")
kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
[ "$st" = 409 ] && grep -q "processing" "$TMP/r" || fail "erase of a busy slot: $st $(cat "$TMP/r")"
for _ in $(seq 50); do
    st=$(slot "$B_URL" 0 erase '' "$TMP/r")
    [ "$st" = 200 ] && break
    sleep 0.1
done
[ "$st" = 200 ] || fail "erase of the idle slot: $st $(cat "$TMP/r")"

# ---- the --cache-dir prompt cache ----
mkdir -p "$TMP/cache"
head -c 9000 /dev/urandom > "$TMP/cache/junk.snap"
head -c 5000 "$TMP/slots/doc-1.snap" > "$TMP/cache/prefix-0000000000000000.snap"
echo "notes" > "$TMP/cache/README"
copts=(-m "$S" -np 1 -c 512 -t 1 --cache-dir "$TMP/cache" --cache-min-tokens 32)
start_server C "${copts[@]}"
grep -q "skipping junk.snap" "$TMP/C.log" || { cat "$TMP/C.log"; fail "junk.snap not reported"; }
grep -q "0 snapshots" "$TMP/C.log" || { cat "$TMP/C.log"; fail "damaged files were indexed"; }
curl -sf "$C_URL/props" | grep -q '"disk_cache":{"max_mib":4096,"min_tokens":32}' || fail "/props lacks disk_cache"
complete "$C_URL" "$DOC" 4 "$TMP/r"
for _ in $(seq 50); do [ "$(metric "$C_URL" disk_cache_saves_total)" = 1 ] && break; sleep 0.1; done
[ "$(metric "$C_URL" disk_cache_saves_total)" = 1 ] || fail "the long prompt was not saved"
[ "$(metric "$C_URL" disk_cache_files)" = 1 ] || fail "disk_cache_files"
# A short prompt is not saved.
complete "$C_URL" "Once upon a time" 4 "$TMP/r"
[ "$(metric "$C_URL" disk_cache_saves_total)" = 1 ] || fail "a short prompt was saved"
kill -TERM "$C_PID"
wait "$C_PID" || { cat "$TMP/C.log"; fail "server C exited with status $?"; }

# Cold reference for the document plus a question (server A, slots erased).
slot "$A_URL" 0 erase '' "$TMP/r" >/dev/null
slot "$A_URL" 1 erase '' "$TMP/r" >/dev/null
complete "$A_URL" "$DOC$Q" 24 "$TMP/cold2.json"
cold2=$(jf "$TMP/cold2.json" 'd["choices"][0]["text"]')

# After a restart, the document comes from disk.
start_server C2 "${copts[@]}"
grep -q "1 snapshots" "$TMP/C2.log" || { cat "$TMP/C2.log"; fail "the saved prompt was not indexed at start"; }
complete "$C2_URL" "$DOC$Q" 24 "$TMP/disk.json"
cached=$(jf "$TMP/disk.json" 'd["usage"]["prompt_tokens_details"]["cached_tokens"]')
[ "$cached" -ge $((n_prompt - 1)) ] && [ "$cached" -lt "$(jf "$TMP/disk.json" 'd["usage"]["prompt_tokens"]')" ] ||
    fail "from disk: cached_tokens $cached, the document has $n_prompt: $(cat "$TMP/disk.json")"
[ "$(jf "$TMP/disk.json" 'd["choices"][0]["text"]')" = "$cold2" ] || fail "the answer from disk differs from the cold one"
[ "$(metric "$C2_URL" disk_cache_hits_total)" = 1 ] || fail "disk_cache_hits_total"
[ "$(metric "$C2_URL" disk_cache_restored_tokens_total)" = "$cached" ] || fail "disk_cache_restored_tokens_total"
# The question adds fewer than --cache-min-tokens: no second copy of the document.
sleep 0.3
[ "$(metric "$C2_URL" disk_cache_saves_total)" = 0 ] || fail "the document was saved again"
kill -TERM "$C2_PID"
wait "$C2_PID" || { cat "$TMP/C2.log"; fail "server C2 exited with status $?"; }

# Bounded size: the least recently used files go.
start_server E -m "$S" -np 1 -c 512 -t 1 --cache-dir "$TMP/lru" --cache-min-tokens 32 --cache-max-mib 1
for i in $(seq 1 14); do
    complete "$E_URL" "Story $i: $DOC $DOC" 1 "$TMP/r"
    for _ in $(seq 50); do [ "$(metric "$E_URL" disk_cache_saves_total)" = "$i" ] && break; sleep 0.05; done
    [ "$i" = 1 ] && first=$(ls "$TMP/lru")
done
[ "$(metric "$E_URL" disk_cache_saves_total)" = 14 ] || fail "saves: $(metric "$E_URL" disk_cache_saves_total)"
[ "$(metric "$E_URL" disk_cache_evictions_total)" -gt 0 ] || fail "nothing was evicted"
total=$(du -cb "$TMP"/lru/*.snap | tail -1 | cut -f1)
[ "$total" -le 1048576 ] || fail "the cache holds $total bytes, over 1 MiB"
[ "$(metric "$E_URL" disk_cache_bytes)" = "$total" ] || fail "disk_cache_bytes differs from the files"
[ -e "$TMP/lru/$first" ] && fail "the least recently used file is still there"

kill -TERM "$A_PID" "$B_PID" "$E_PID"
for p in "$A_PID" "$B_PID" "$E_PID"; do wait "$p" || fail "a server exited with status $?"; done
grep -q "ERROR: \|runtime error" "$TMP"/*.log && { cat "$TMP"/*.log; fail "sanitizer report"; }
echo ok
