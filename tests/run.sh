#!/usr/bin/env bash
# Runs the test suite: every unit test binary given as an argument, then
# every end-to-end script in tests/e2e/ (which drive build/adamas).
# BUILD names the build directory (build, build-asan, build-scalar).
set -u
cd "$(dirname "$0")/.."
export BUILD="${BUILD:-build}"
export ADAMAS="$PWD/$BUILD/adamas"
export SHARED="${SHARED:-$(cd .. && pwd)/shared}"
pass=0; fail=0; failed=()
run() {
    local name=$1; shift
    local log; log=$(mktemp)
    local t0=$SECONDS
    if "$@" >"$log" 2>&1; then
        pass=$((pass + 1)); printf 'PASS  %-40s %3ds\n' "$name" $((SECONDS - t0))
    else
        fail=$((fail + 1)); failed+=("$name"); printf 'FAIL  %-40s %3ds\n' "$name" $((SECONDS - t0))
        tail -n 40 "$log" | sed 's/^/    | /'
    fi
    rm -f "$log"
}
for t in "$@"; do
    case $(basename "$t") in
        replay_*) n=$(basename "$t"); n=${n#replay_}
                  run "fuzz/$n corpus" "$t" fuzz/corpus/"$n"/* ;;
        *) run "$(basename "$t")" "$t" ;;
    esac
done
for s in tests/e2e/[!_]*.sh; do [ -e "$s" ] && run "e2e/$(basename "$s")" bash "$s"; done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] || { printf 'failed: %s\n' "${failed[*]}"; exit 1; }
