#!/usr/bin/env bash
# Installs adamas's build dependencies (Debian/Ubuntu), builds it, and
# generates text from a GGUF model.
#
#   ./setup.sh                                  # ../shared/models/stories260K.gguf
#   ./setup.sh path/to/model.gguf               # any llama/qwen2/qwen3 GGUF
#   ./setup.sh path/to/model.gguf -p "Hello" -n 64 --temp 0.7
#   ./setup.sh --deps-only [PACKAGE...]         # only the packages (and these extra ones; CI uses it)
set -euo pipefail
cd "$(dirname "$0")"
PACKAGES=(build-essential pkg-config libpcre2-dev libutf8proc-dev libjansson-dev libmicrohttpd-dev libcmocka-dev
          libedit-dev)
# Where apt keeps its package lists (overridable for the tests).
APT_LISTS=${ADAMAS_APT_LISTS:-/var/lib/apt/lists}

deps_only=0
if [ "${1:-}" = --deps-only ]; then
    deps_only=1
    shift
    PACKAGES+=("$@")
    set --
fi

missing=()
if command -v dpkg-query >/dev/null; then
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
fi
if [ ${#missing[@]} -gt 0 ] && command -v apt-get >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh Debian image ships without package lists (apt-get install then
    # knows no package at all), and lists a week old may name versions the
    # mirror has dropped: refresh them first in both cases.
    if [ -z "$(find "$APT_LISTS" -maxdepth 1 -name '*Packages*' -mtime -7 -print -quit 2>/dev/null)" ]; then
        echo "setup.sh: the apt package lists are missing or stale; running apt-get update" >&2
        $SUDO apt-get update >&2
    fi
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi
[ "$deps_only" -eq 1 ] && exit 0
make -j"$(nproc)" >&2
MODEL=${1:-../shared/models/stories260K.gguf}
[ $# -gt 0 ] && shift
if [ $# -eq 0 ]; then set -- -p "Once upon a time" -n 128; fi
exec build/adamas run -m "$MODEL" "$@"
