#!/usr/bin/env bash
# `adamas chat` beyond one exchange: a context that fills up (the oldest
# turns go, the system prompt stays), the slash commands (/help, /save,
# /load, unknown ones), """ blocks, and line editing with history on a
# terminal. Piped input stays plain lines.
. "$(dirname "$0")/_lib.sh"
V=$SHARED/testdata/tokenizer
small="--n-layer 1 --n-embd 64 --n-head 2 --n-head-kv 1 --head-dim 32 --n-ff 128 --type q8_0"
expect_exit 0 "$ADAMAS" gen-model -o "$TMP/m.gguf" --vocab "$V/ggml-vocab-qwen2.gguf" $small
M=$TMP/m.gguf
chat() { "$ADAMAS" chat -m "$M" --system "Be terse." -n 8 --temp 0 --ignore-eos "$@" >"$TMP/out" 2>"$TMP/err" ||
         { cat "$TMP/err"; fail "chat $* failed"; }; }

# A context that fills: turns are dropped, oldest first, never the system prompt.
for i in $(seq 12); do echo "This is message number $i of the test."; done >"$TMP/in"
echo "/save $TMP/full.json" >>"$TMP/in"
chat -c 160 <"$TMP/in"
expect_err "the context is full: dropped the 2 oldest messages; the system prompt stays"
grep -q "does not fit" "$TMP/err" && fail "a message was refused"
python3 - "$TMP/full.json" <<'PY' || fail "the conversation after dropping turns"
import json, sys
m = json.load(open(sys.argv[1]))["messages"]
assert m[0] == {"role": "system", "content": "Be terse."}, m[0]
assert m[1]["role"] == "user" and m[1]["content"] != "This is message number 1 of the test.", m[1]
assert m[-2]["content"] == "This is message number 12 of the test.", m[-2]
assert m[-1]["role"] == "assistant"
assert [x["role"] for x in m[1:]] == ["user", "assistant"] * ((len(m) - 1) // 2)
PY

# Commands: /help, unknown ones (reported, not sent), //TEXT sends /TEXT.
printf '/help\n/nonsense here\n//etc is a folder\n' | chat --verbose-prompt
expect_err "/save FILE"
expect_err "unknown command /nonsense"
grep -q "nonsense" <(sed -n '/^--- prompt ---$/,/^--- end ---$/p' "$TMP/err") && fail "an unknown command reached the model"
expect_err "<|im_start|>user
/etc is a folder<|im_end|>"
[ "$(grep -c '^--- prompt ---$' "$TMP/err")" -eq 1 ] || fail "not exactly one turn"

# A """ block is one message of several lines; a /command inside is text.
printf '"""First line,\n/second line\nthird."""\nNext\n' | chat --verbose-prompt
awk '/^--- prompt ---$/{p=1; n++; next} /^--- end ---$/{p=0; next} p && n == 1' "$TMP/err" >"$TMP/turn1"
printf '<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nFirst line,\n/second line\nthird.<|im_end|>\n<|im_start|>assistant\n\n' >"$TMP/want1"
cmp -s "$TMP/turn1" "$TMP/want1" || { diff "$TMP/turn1" "$TMP/want1"; fail '""" block'; }

# /save, then /load in a new session: the conversation goes on from it.
printf 'Hi\n/save %s\n' "$TMP/s.json" | chat
expect_err "saved 3 messages to $TMP/s.json"
printf '/load %s\nBye\n/load %s\n' "$TMP/s.json" "$TMP/nope.json" | "$ADAMAS" chat -m "$M" -n 8 --temp 0 --ignore-eos \
    --verbose-prompt >"$TMP/out" 2>"$TMP/err" || fail "chat with /load"
expect_err "loaded 3 messages"
expect_err "<|im_start|>system
Be terse.<|im_end|>
<|im_start|>user
Hi<|im_end|>
<|im_start|>assistant
"
expect_err "<|im_start|>user
Bye<|im_end|>"
expect_err "/load: cannot read '$TMP/nope.json'"

# On a terminal: line editing and history (the up arrow brings back the
# previous line), kept in ~/.adamas_history.
if command -v python3 >/dev/null; then
    HOME=$TMP python3 - "$ADAMAS" "$M" <<'PY' || fail "line editing through a pty"
import os, pty, sys, time, select
adamas, model = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(adamas, [adamas, "chat", "-m", model, "-n", "4", "--temp", "0", "--verbose-prompt"])
buf = [b""]
def read_until(pred, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if pred(buf[0]):
            return
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                buf[0] += os.read(fd, 4096)
            except OSError:
                break
    raise SystemExit("timeout; got %r" % buf[0][-400:])
read_until(lambda b: b.count(b"> ") >= 1)
os.write(fd, b"Hello there\r")
read_until(lambda b: b"--- end ---" in b and b.rstrip().endswith(b">"))
os.write(fd, b"\x1b[A\r")  # up arrow, enter: the same message again
read_until(lambda b: b.count(b"Hello there<|im_end|>") >= 2 and b.rstrip().endswith(b">"))
os.write(fd, b"/exit\r")
_, status = os.waitpid(pid, 0)
sys.exit(0 if os.WEXITSTATUS(status) == 0 else 1)
PY
    grep -q "Hello" "$TMP/.adamas_history" || fail "no history file"
fi
echo ok
