#!/usr/bin/env bash
# Installs adamas's build dependencies (Debian/Ubuntu), builds it, and
# generates text from a GGUF model.
#
#   ./setup.sh                                  # ../shared/models/stories260K.gguf
#   ./setup.sh path/to/model.gguf               # any llama/qwen2/qwen3 GGUF
#   ./setup.sh path/to/model.gguf -p "Hello" -n 64 --temp 0.7
set -euo pipefail
cd "$(dirname "$0")"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if command -v apt-get >/dev/null; then
    $SUDO apt-get install -y --no-install-recommends build-essential pkg-config \
        libpcre2-dev libutf8proc-dev libjansson-dev libmicrohttpd-dev libcmocka-dev >&2
fi
make -j"$(nproc)" >&2
MODEL=${1:-../shared/models/stories260K.gguf}
[ $# -gt 0 ] && shift
if [ $# -eq 0 ]; then set -- -p "Once upon a time" -n 128; fi
exec build/adamas run -m "$MODEL" "$@"
