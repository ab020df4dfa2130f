#!/usr/bin/env bash
# Structured output end to end: `adamas run` at temperature 1 with each test
# grammar and JSON schema of tests/grammars/, on stories260K and on
# random-weight models with the Qwen2 and Llama 3 vocabularies; every
# output that ends (end of generation before -n) must parse and validate
# (tests/e2e/grammar_check.py: python3-jsonschema, and references written
# apart from the grammars), and most must end. Then the errors users see.
. "$(dirname "$0")/_lib.sh"
G=tests/grammars
V=$SHARED/testdata/tokenizer
small="--n-layer 1 --n-embd 64 --n-head 2 --n-head-kv 1 --head-dim 32 --n-ff 128 --type q8_0"
expect_exit 0 "$ADAMAS" gen-model -o "$TMP/qwen2.gguf" --arch qwen2 --vocab "$V/ggml-vocab-qwen2.gguf" $small
expect_exit 0 "$ADAMAS" gen-model -o "$TMP/llama3.gguf" --arch llama --vocab "$V/ggml-vocab-llama-bpe.gguf" $small
N=600
total=0; ended=0
# seeds per model and case (fewer under the sanitizers, which run ~5x slower)
ns=3 nb=2
[ "${BUILD:-build}" = build-asan ] && ns=2 nb=1
for model in "$SHARED/models/stories260K.gguf:$ns" "$TMP/qwen2.gguf:$nb" "$TMP/llama3.gguf:$nb"; do
    m=${model%:*}; seeds=${model##*:}
    for case in person.schema.json bounds.schema.json anyof.schema.json json-bounded.gbnf arithmetic.gbnf csv.gbnf list.gbnf; do
        opt=--grammar-file
        case $case in *.schema.json) opt=--json-schema-file ;; esac
        outs=()
        for seed in $(seq 1 "$seeds"); do
            o="$TMP/out.$(basename "$m").$case.$seed"
            "$ADAMAS" run -m "$m" -p "Output:" -n $N --temp 1 --seed "$seed" $opt "$G/$case" >"$o" 2>"$TMP/err" ||
                { cat "$TMP/err"; fail "$case on $m: run failed"; }
            total=$((total + 1))
            if grep -q "generated $N tokens" "$TMP/err"; then
                echo "note: $case on $(basename "$m") seed $seed hit -n $N"
            else
                ended=$((ended + 1)); outs+=("$o")
            fi
        done
        [ ${#outs[@]} -eq 0 ] || python3 tests/e2e/grammar_check.py "$G/$case" "${outs[@]}" ||
            fail "$case on $(basename "$m"): outputs do not validate"
    done
done
echo "$ended of $total outputs ended and validated"
[ $((ended * 10)) -ge $((total * 9)) ] || fail "only $ended of $total outputs ended within $N tokens"

# The general JSON grammar (unbounded): whatever ends parses.
"$ADAMAS" run -m "$SHARED/models/stories260K.gguf" -p "{" -n 200 --temp 1 --seed 1 --grammar-file $G/json.gbnf \
    >"$TMP/j" 2>"$TMP/err" || fail "json.gbnf run failed"
grep -q "generated 200 tokens" "$TMP/err" || python3 -c 'import json,sys; json.loads(open(sys.argv[1]).read())' "$TMP/j" ||
    fail "json.gbnf output does not parse"
# chat: each reply follows the grammar afresh
printf 'one\ntwo\n' | "$ADAMAS" chat -m "$TMP/qwen2.gguf" -n 100 --temp 1 --seed 2 --grammar 'root ::= "yes" | "no"' \
    >"$TMP/out" 2>"$TMP/err" || { cat "$TMP/err"; fail "chat with a grammar failed"; }
[ "$(grep -c -E '^(yes|no)$' "$TMP/out")" -eq 2 ] || { cat "$TMP/out"; fail "chat replies do not follow the grammar"; }

# Errors name the place.
expect_exit 1 "$ADAMAS" run -m "$TMP/qwen2.gguf" -p x -n 1 --grammar 'root ::= "a" ( "b"'
expect_err "line 1, column 14: '(' without a matching ')'"
printf 'root ::= item+\nitem ::= "x" undefined-rule\n' >"$TMP/bad.gbnf"
expect_exit 1 "$ADAMAS" run -m "$TMP/qwen2.gguf" -p x -n 1 --grammar-file "$TMP/bad.gbnf"
expect_err "bad.gbnf: grammar: line 2, column 14: undefined rule 'undefined-rule'"
expect_exit 1 "$ADAMAS" run -m "$TMP/qwen2.gguf" -p x -n 1 --json-schema '{"properties":{"n":{"type":"number","multipleOf":2}}}'
expect_err "JSON schema at /properties/n/multipleOf: keyword 'multipleOf' is not supported"
expect_exit 2 "$ADAMAS" run -m "$TMP/qwen2.gguf" -p x --grammar 'root ::= "a"' --json-schema '{}'
expect_err "only one of --grammar"
expect_exit 0 "$ADAMAS" run --help
expect_out "--json-schema-file F"
exit 0
