#!/usr/bin/env bash
# Decoding past the budget with each sparse method, as a user would run it
# (the window baseline once offset a NULL distance table there: UBSan under
# clang stopped it).
. "$(dirname "$0")/_lib.sh"
S=$SHARED/models/stories260K.gguf
for m in adamas window; do
    expect_exit 0 "$ADAMAS" run -m "$S" -p "Once upon a time" --attention "$m" --budget 16 -c 256 -n 200 --temp 0
    expect_err "generated 200 tokens"
done
echo ok
