#!/usr/bin/env bash
# Thread counts end to end: the default never exceeds the CPUs the process
# may run on (here: an affinity mask of one CPU set by taskset), more threads
# than that are allowed but warned about, and they still produce the same
# text. Speed is judged by bench/oversubscribe.sh, never here.
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf
command -v taskset >/dev/null || fail "taskset (util-linux) is needed"
# The first CPU this process may use.
cpu=$(taskset -cp $$ | sed 's/.*: //; s/[-,].*//')

expect_exit 0 taskset -c "$cpu" "$ADAMAS" run --help
expect_out "default: usable physical cores = 1)"

P=(-m "$S" -p "Once upon a time" -n 24 --temp 0)
expect_exit 0 "$ADAMAS" run "${P[@]}" -t 1
cp "$TMP/out" "$TMP/want1"
grep -q "warning" "$TMP/err" && fail "a warning at -t 1: $(cat "$TMP/err")"
expect_exit 0 "$ADAMAS" run "${P[@]}" -t 3
cp "$TMP/out" "$TMP/want3"

# Three threads on one CPU: a warning naming the usable count; the text of
# -t 3 (results depend on the thread count only, not on who runs what).
expect_exit 0 taskset -c "$cpu" "$ADAMAS" run "${P[@]}" -t 3
expect_err "warning: -t 3 is more threads than the 1 CPU this process may use"
cmp -s "$TMP/out" "$TMP/want3" || fail "-t 3 on one CPU changed the text: $(cat "$TMP/out")"

# The default on one CPU is one thread: no warning, the text of -t 1.
expect_exit 0 taskset -c "$cpu" "$ADAMAS" run "${P[@]}"
grep -q "warning" "$TMP/err" && fail "a warning at the default thread count: $(cat "$TMP/err")"
cmp -s "$TMP/out" "$TMP/want1" || fail "the default on one CPU changed the text: $(cat "$TMP/out")"
exit 0
