#!/usr/bin/env bash
# Runs libFuzzer targets built by `make fuzz`, each on a temporary copy of
# its corpus fuzz/corpus/NAME (so nothing is written into the repository),
# from the repository root (where the targets find ../shared). A finding is
# saved as build-fuzz/findings/NAME-crash-<sha1> (or leak-, timeout-, oom-)
# and makes the script fail; reproduce it with build-fuzz/fuzz_NAME FILE,
# and once fixed, add the file to fuzz/corpus/NAME so `make test` replays it.
#
#   fuzz/run.sh [-t SECONDS] [-r RUNS] [NAME...]
#     -t SECONDS  stop each target after this long (default 30; 0: no limit)
#     -r RUNS     stop each target after this many inputs (default: no limit)
#     NAME        targets to run (default: every build-fuzz/fuzz_*)
# A target that needs other libFuzzer options (say -max_len or
# -rss_limit_mb) lists them in fuzz/NAME.options, on one line.
set -u
cd "$(dirname "$0")/.."
seconds=30 runs=-1
while getopts "t:r:h" opt; do
    case $opt in
        t) seconds=$OPTARG ;;
        r) runs=$OPTARG ;;
        *) sed -n '2,/^set/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for b in build-fuzz/fuzz_*; do [ -x "$b" ] && names+=("${b#build-fuzz/fuzz_}"); done
fi
[ ${#names[@]} -gt 0 ] || { echo "fuzz/run.sh: no targets in build-fuzz/ (run make fuzz)" >&2; exit 2; }

mkdir -p build-fuzz/findings
failed=()
for n in "${names[@]}"; do
    bin=build-fuzz/fuzz_$n
    [ -x "$bin" ] || { echo "fuzz/run.sh: $bin not built (run make fuzz)" >&2; exit 2; }
    work=$(mktemp -d)
    [ -d fuzz/corpus/"$n" ] && cp fuzz/corpus/"$n"/* "$work"/ 2>/dev/null
    echo "== fuzz_$n: $(ls "$work" | wc -l) seed inputs, -max_total_time=$seconds -runs=$runs $(cat fuzz/"$n".options 2>/dev/null)"
    log=build-fuzz/findings/$n.log
    opts=()
    [ -f fuzz/"$n".options ] && read -r -a opts < fuzz/"$n".options
    "$bin" -timeout=25 "${opts[@]}" -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 \
        -artifact_prefix=build-fuzz/findings/"$n"- "$work" >"$log" 2>&1
    rc=$?
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::peak_rss_mb' "$log"
    if [ $rc -ne 0 ]; then
        failed+=("$n")
        tail -n 60 "$log" | sed 's/^/    | /'
        ls build-fuzz/findings/"$n"-* 2>/dev/null | sed 's/^/    finding: /'
    fi
    rm -rf "$work"
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz/run.sh: findings in: ${failed[*]}" >&2; exit 1; }
echo "fuzz/run.sh: no findings"
