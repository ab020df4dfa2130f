#!/usr/bin/env bash
# The chat page of `adamas serve` in headless Chromium (tests/server/page.mjs).
# Skips, saying why, without chromium, node or playwright-core. The
# screenshot is kept in $ADAMAS_ARTIFACTS (default: $TMPDIR/adamas-artifacts).
. "$(dirname "$0")/_lib.sh"
. "$(dirname "$0")/_serve_lib.sh"
cd "$(dirname "$0")/../.."
command -v node >/dev/null || { echo "skip: node is not installed"; exit 0; }
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
[ -n "$CHROMIUM" ] || { echo "skip: chromium is not installed (apt-get install chromium)"; exit 0; }
[ -d tests/server/node_modules/playwright-core ] ||
    { echo "skip: playwright-core is not installed (run 'npm ci' in tests/server)"; exit 0; }
ART=${ADAMAS_ARTIFACTS:-${TMPDIR:-/tmp}/adamas-artifacts}
mkdir -p "$ART"
# -c 16384: the page's long answer must still be running when Stop is pressed (thousands
# of tokens a second on this model).
start_server P -m "$SHARED/models/stories260K.gguf" -np 2 -c 16384 -t 1
URL=$P_URL CHROMIUM=$CHROMIUM SCREENSHOT="$ART/serve_page.png" node tests/server/page.mjs || fail "page.mjs"
echo ok
