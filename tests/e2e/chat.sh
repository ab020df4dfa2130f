#!/usr/bin/env bash
# `adamas chat`, scripted through stdin: for each template family, the text
# evaluated each turn (--verbose-prompt) must be exactly the template's
# rendering, and the second turn must add only what is new (the cache is
# reused). Also Ctrl-C through a pseudo-terminal: it stops the answer, not
# the program.
. "$(dirname "$0")/_lib.sh"
V=$SHARED/testdata/tokenizer
small="--n-layer 1 --n-embd 64 --n-head 2 --n-head-kv 1 --head-dim 32 --n-ff 128 --type q8_0"

# family, vocabulary, --chat-template override (or "-"), expected turn 1, expected turn 2
check() {
    local fam=$1 vocab=$2 tmpl=$3 want1=$4 want2=$5
    expect_exit 0 "$ADAMAS" gen-model -o "$TMP/$fam.gguf" --vocab "$V/$vocab" $small
    local opt=()
    [ "$tmpl" = - ] || opt=(--chat-template "$tmpl")
    printf 'Hi\nBye\n' | "$ADAMAS" chat -m "$TMP/$fam.gguf" --system "Be terse." -n 4 --temp 0 --verbose-prompt \
        "${opt[@]}" >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; fail "$fam: chat failed"; }
    grep -q "adamas chat: $fam format" "$TMP/err" || { cat "$TMP/err"; fail "$fam: format not detected"; }
    awk '/^--- prompt ---$/{p=1; n++; next} /^--- end ---$/{p=0; next} p{print > ("'"$TMP"'/turn" n)}' "$TMP/err"
    printf '%b\n' "$want1" >"$TMP/want1"
    printf '%b\n' "$want2" >"$TMP/want2"
    # The second turn starts with the end of the first answer (the model's
    # reply is in the cache already), then the new user turn.
    cmp -s "$TMP/turn1" "$TMP/want1" || { diff "$TMP/turn1" "$TMP/want1"; fail "$fam: turn 1"; }
    cmp -s "$TMP/turn2" "$TMP/want2" || { diff "$TMP/turn2" "$TMP/want2"; fail "$fam: turn 2"; }
}

check chatml ggml-vocab-qwen2.gguf - \
    "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n" \
    "<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n"
check llama3 ggml-vocab-llama-bpe.gguf - \
    "<|start_header_id|>system<|end_header_id|>\n\nBe terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n" \
    "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
check phi3 ggml-vocab-phi-3.gguf - \
    "<|system|>\nBe terse.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\n" \
    "<|end|>\n<|user|>\nBye<|end|>\n<|assistant|>\n"
check gemma ggml-vocab-llama-spm.gguf gemma \
    "<start_of_turn>user\nBe terse.\n\nHi<end_of_turn>\n<start_of_turn>model\n" \
    "<end_of_turn>\n<start_of_turn>user\nBye<end_of_turn>\n<start_of_turn>model\n"
check mistral ggml-vocab-llama-spm.gguf mistral "[INST] Be terse.\n\nHi [/INST]" "</s>[INST] Bye [/INST]"

# The special markers are single tokens in their vocabularies.
expect_exit 0 "$ADAMAS" tokenize -m "$V/ggml-vocab-qwen2.gguf" -p "<|im_start|>user" --special --no-bos
[ "$(cat "$TMP/out")" = "151644 872" ] || fail "<|im_start|> is not one token: $(cat "$TMP/out")"

# An unrecognized template falls back to ChatML with a warning.
expect_exit 0 "$ADAMAS" gen-model -o "$TMP/none.gguf" --vocab "$SHARED/models/stories260K.gguf" $small
printf 'Hi\n' | "$ADAMAS" chat -m "$TMP/none.gguf" -n 2 >"$TMP/out" 2>"$TMP/err" || fail "chat without template"
grep -q "warning: the model has no chat template; using ChatML" "$TMP/err" || fail "no fallback warning"

# Ctrl-C in a terminal stops the answer and the chat goes on.
if command -v python3 >/dev/null; then
    python3 - "$ADAMAS" "$TMP/chatml.gguf" <<'PY' || fail "Ctrl-C through a pty"
import os, pty, sys, time, signal, select
adamas, model = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    os.execv(adamas, [adamas, "chat", "-m", model, "-n", "-1", "--ignore-eos", "-c", "100000", "--temp", "1"])
pending = [b""]  # output read but not yet matched: one read may hold several prompts
def read_until(token, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if token in pending[0]:
            pending[0] = pending[0].split(token, 1)[1]
            return
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                # EIO: no slave side open right now; fail only if the child is gone.
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    raise SystemExit("adamas chat exited with status %d; output %r" % (status, pending[0][-300:]))
                time.sleep(0.1)
                continue
            pending[0] += chunk
    raise SystemExit("timeout waiting for %r; got %r" % (token, pending[0][-300:]))
read_until(b"> ")
os.write(fd, b"Hello\n")
time.sleep(1.5)
os.write(fd, b"\x03")            # Ctrl-C: stops the answer
read_until(b"(stopped)")
read_until(b"> ")
os.write(fd, b"/exit\n")
_, status = os.waitpid(pid, 0)
sys.exit(0 if os.WEXITSTATUS(status) == 0 else 1)
PY
fi

# Prompt-lookup speculation (--lookup) changes nothing in what is said, and
# guesses left unconfirmed at the end of an answer leave the cache (the
# second answer would differ otherwise).
expect_exit 0 "$ADAMAS" gen-model -o "$TMP/lk.gguf" --vocab "$V/ggml-vocab-qwen2.gguf" $small
printf 'Hi\nBye\n' | "$ADAMAS" chat -m "$TMP/lk.gguf" -n 24 --temp 0 --ignore-eos >"$TMP/lk0" 2>"$TMP/err" ||
    { cat "$TMP/err"; fail "chat failed"; }
printf 'Hi\nBye\n' | "$ADAMAS" chat -m "$TMP/lk.gguf" -n 24 --temp 0 --ignore-eos --lookup 5 >"$TMP/lk1" 2>"$TMP/err" ||
    { cat "$TMP/err"; fail "chat --lookup failed"; }
cmp -s "$TMP/lk0" "$TMP/lk1" || { diff "$TMP/lk0" "$TMP/lk1"; fail "chat --lookup changed the answers"; }
printf 'Hi\nBye\n' | "$ADAMAS" chat -m "$TMP/lk.gguf" -n 24 --temp 0 --ignore-eos -md "$TMP/lk.gguf" --draft-p-min 0 \
    >"$TMP/lk2" 2>"$TMP/err" || { cat "$TMP/err"; fail "chat --draft-model failed"; }
cmp -s "$TMP/lk0" "$TMP/lk2" || { diff "$TMP/lk0" "$TMP/lk2"; fail "chat --draft-model changed the answers"; }
echo ok
