#!/usr/bin/env bash
# setup.sh's package step, with apt-get, dpkg-query and sudo replaced by
# stand-ins that log their calls: on a fresh image (no package lists) and
# with week-old lists it runs apt-get update before installing; with fresh
# lists it does not; with every package present it runs apt-get not at all.
. "$(dirname "$0")/_lib.sh"
mkdir -p "$TMP/bin" "$TMP/lists"
cat >"$TMP/bin/apt-get" <<'SH'
#!/bin/sh
echo "apt-get $*" >>"$FAKE_LOG"
SH
cat >"$TMP/bin/sudo" <<'SH'
#!/bin/sh
exec "$@"
SH
# Every package missing, unless FAKE_INSTALLED is set.
cat >"$TMP/bin/dpkg-query" <<'SH'
#!/bin/sh
if [ -n "${FAKE_INSTALLED:-}" ]; then echo "install ok installed"; else echo "unknown ok not-installed"; fi
SH
chmod +x "$TMP/bin/"*
export FAKE_LOG=$TMP/log ADAMAS_APT_LISTS=$TMP/lists
setup() { : >"$FAKE_LOG"; PATH="$TMP/bin:$PATH" ./setup.sh --deps-only extra-pkg >"$TMP/out" 2>"$TMP/err" ||
          { cat "$TMP/err"; fail "setup.sh --deps-only failed"; }; }

setup   # a fresh image: no lists at all
grep -q "^apt-get update" "$FAKE_LOG" || { cat "$FAKE_LOG"; fail "no apt-get update with empty lists"; }
[ "$(head -n 1 "$FAKE_LOG")" = "apt-get update" ] || fail "apt-get update does not come first"
grep -q "^apt-get install .*libedit-dev.* extra-pkg" "$FAKE_LOG" || { cat "$FAKE_LOG"; fail "packages not installed"; }

touch -d '30 days ago' "$TMP/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
setup   # stale lists
grep -q "^apt-get update" "$FAKE_LOG" || fail "no apt-get update with stale lists"

touch "$TMP/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"
setup   # fresh lists
grep -q "^apt-get update" "$FAKE_LOG" && fail "apt-get update with fresh lists"
grep -q "^apt-get install" "$FAKE_LOG" || fail "no apt-get install with fresh lists"

FAKE_INSTALLED=1 setup   # nothing to install
[ -s "$FAKE_LOG" ] && { cat "$FAKE_LOG"; fail "apt-get called with every package installed"; }
echo ok
