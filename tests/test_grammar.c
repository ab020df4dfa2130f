/*
 * test_grammar.c - structured output: GBNF errors carry line and column;
 * the matcher's accept/reject equals a reference recognizer (PCRE2 with
 * recursive patterns, written independently of the grammars) on random
 * strings walked through the grammar and on mutations of them; token masks
 * equal per-token checks over a real vocabulary; schema errors name the
 * keyword's JSON pointer; limits hold against hostile inputs; a sampler
 * with a grammar returns only allowed tokens, and ends only where the
 * grammar may.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adamas.h"
#include "grammar/grammar.h"
#include "testutil.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *read_text(const char *rel) {
    size_t n;
    char path[256];
    snprintf(path, sizeof(path), "tests/grammars/%s", rel);
    uint8_t *b = tu_read_file(path, &n);
    if (!b) fail_msg("cannot read %s", path);
    char *s = malloc(n + 1);
    memcpy(s, b, n);
    s[n] = 0;
    free(b);
    return s;
}

static gr_program *compile(const char *text) {
    gr_program *p;
    adm_error err;
    if (gr_parse_gbnf(text, strlen(text), &p, &err) != ADM_OK) fail_msg("%s", err.msg);
    return p;
}

static void expect_error(const char *text, const char *want) {
    gr_program *p;
    adm_error err;
    adm_status st = gr_parse_gbnf(text, strlen(text), &p, &err);
    if (st == ADM_OK) {
        gr_program_free(p);
        fail_msg("accepted: %s", text);
    }
    if (!strstr(err.msg, want)) fail_msg("'%s': message '%s' lacks '%s'", text, err.msg, want);
}

static void test_gbnf_errors(void **state) {
    (void)state;
    expect_error("root ::= \"a\" foo\n", "line 1, column 14: undefined rule 'foo'");
    expect_error("root ::= \"a\n", "line 1, column 10: unterminated string literal");
    expect_error("a ::= \"x\"\n", "no rule named 'root'");
    expect_error("root ::= [a-", "unterminated character class");
    expect_error("root ::= [z-a]\n", "reversed");
    expect_error("root ::= \"a\"\nroot ::= \"b\"\n", "line 2, column 1: rule 'root' is defined twice");
    expect_error("root ::= (\"a\"\n", "line 1, column 10: '(' without a matching ')'");
    expect_error("root ::= \"a\" )\n", "')' without a matching '('");
    expect_error("root ::= * \"a\"\n", "'*' must follow something");
    expect_error("root ::= \"a\"{3,2}\n", "maximum is below the minimum");
    expect_error("root ::= \"a\"{1,1000000}\n", "repetition count over");
    expect_error("root ::= \"\\q\"\n", "unknown escape '\\q'");
    expect_error("root ::= \"\\x4\"\n", "needs 2 hexadecimal digits");
    expect_error("root\n", "expected '::='");
    expect_error("root ::= \"a\"\n\nexpr ::= expr \"+\" \"1\" | \"1\"\n", "line 3, column 1: rule 'expr' is left-recursive");
    expect_error("root ::= x\nx ::= y \"a\"\ny ::= \"\" | x\n", "left-recursive");
    expect_error("root ::= \"a\" root\n", "matches no text");
    expect_error("root ::= []\n", "empty character class");
    expect_error("root ::= \"\xff\"\n", "invalid UTF-8");
    /* nesting beyond the limit is refused, not a stack overflow */
    char deep[2048];
    size_t n = (size_t)snprintf(deep, sizeof(deep), "root ::= ");
    for (int i = 0; i < 300; i++) deep[n++] = '(';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    for (int i = 0; i < 300; i++) deep[n++] = ')';
    deep[n] = 0;
    expect_error(deep, "nested over");
    /* llama.cpp forms that must parse: comments, CRLF, continuation after
     * '|', multi-line groups, every repetition form, escapes */
    gr_program_free(compile("# header\r\nroot ::= a |\r\n  b # c\r\na ::= \"x\"{2} [\\x41-\\u0042]{1,} \"y\"{,2}\r\n"
                            "b ::= (\n  \"(\" \n  | [^\\]\\n] \n)+ . \"\\U0001F600\"?\r\n"));
}

/* ------------------------------------------------------------------------ */
/* Matcher vs a PCRE2 reference                                            */
/* ------------------------------------------------------------------------ */

/* arithmetic.gbnf written out level by level */
#define AR_NUM "[0-9]{1,4}"
#define AR_T2 AR_NUM "(?:[*/]" AR_NUM ")?"
#define AR_E2 AR_T2 "(?:[+-]" AR_T2 "){0,2}"
#define AR_F1 "(?:" AR_NUM "|\\(" AR_E2 "\\))"
#define AR_T1 AR_F1 "(?:[*/]" AR_F1 ")?"
#define AR_E1 AR_T1 "(?:[+-]" AR_T1 "){0,2}"
#define AR_F0 "(?:" AR_NUM "|\\(" AR_E1 "\\))"
#define AR_T0 AR_F0 "(?:[*/]" AR_F0 ")?"
#define AR_E0 AR_T0 "(?:[+-]" AR_T0 "){0,2}"

typedef struct ref_case {
    const char *gbnf_file;  /* under tests/grammars/, or inline when it has "::=" */
    const char *pattern;    /* PCRE2, UTF mode, anchored at both ends by the test */
    const char *alphabet[40];
} ref_case;

static const ref_case k_cases[] = {
    {"arithmetic.gbnf", AR_E0,
     {"0", "1", "7", "9", "+", "-", "*", "/", "(", ")", " ", NULL}},
    {"csv.gbnf",
     "(?:[^,\"\\n\\r]{0,10}|\"(?:[^\"]|\"\"){0,10}\")(?:,(?:[^,\"\\n\\r]{0,10}|\"(?:[^\"]|\"\"){0,10}\")){1,5}\\n",
     {"a", "b", ",", "\"", "\n", "\r", " ", "\xc3\xa9", "\xe2\x82\xac", "x", NULL}},
    {"list.gbnf", "(?:- [A-Za-z][a-z ]{0,15}\\n){1,4}", {"- ", "-", " ", "A", "b", "z", "\n", "1", NULL}},
    {"json.gbnf",
     "(?(DEFINE)(?<ws>[ \\t\\n\\r]*)"
     "(?<str>\"(?:[^\"\\\\\\x00-\\x1f]|\\\\(?:[\"\\\\/bfnrt]|u[0-9a-fA-F]{4}))*\")"
     "(?<num>-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"
     "(?<val>(?:(?&obj)|(?&arr)|(?&str)|(?&num)|true|false|null)(?&ws))"
     "(?<obj>\\{(?&ws)(?:(?&str)(?&ws):(?&ws)(?&val)(?:,(?&ws)(?&str)(?&ws):(?&ws)(?&val))*)?\\})"
     "(?<arr>\\[(?&ws)(?:(?&val)(?:,(?&ws)(?&val))*)?\\]))"
     "(?&ws)(?&val)",
     {"{", "}", "[", "]", "\"", ":", ",", " ", "\n", "0", "1", "-", ".", "e", "true", "false", "null", "\\", "n",
      "u", "a", "\xc3\xa9", "\x01", NULL}},
    {"root ::= [\\u03B1-\\u03C9]{2,4} \"-\" [^a-z]? \"x\"{0,2} ( \"\\U0001F600\" | . )?\n",
     "[\\x{3B1}-\\x{3C9}]{2,4}-[^a-z]?x{0,2}(?:\\x{1F600}|.)?",
     {"\xce\xb1", "\xce\xbb", "\xcf\x89", "-", "x", "a", "Z", "\xf0\x9f\x98\x80", "\xe2\x82\xac", "\n", "\xce", NULL}},
};

typedef struct ref {
    pcre2_code *re;
    pcre2_match_data *md;
} ref;

static ref ref_compile(const char *pattern) {
    char full[65536];
    snprintf(full, sizeof(full), "^(?:%s)$", pattern);
    int ec;
    PCRE2_SIZE eo;
    ref r;
    /* DOLLAR_ENDONLY: '$' must not match before a final newline */
    r.re = pcre2_compile((PCRE2_SPTR)full, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_DOTALL, &ec,
                         &eo, NULL);
    if (!r.re) fail_msg("pattern error %d at %zu", ec, (size_t)eo);
    r.md = pcre2_match_data_create_from_pattern(r.re, NULL);
    return r;
}

static bool ref_match(ref *r, const char *s, size_t n) {
    /* invalid UTF-8 is no match (the grammar matches only whole characters) */
    return pcre2_match(r->re, (PCRE2_SPTR)s, n, 0, 0, r->md, NULL) >= 0;
}

static bool gr_match(gr_matcher *m, const char *s, size_t n) {
    gr_matcher_reset(m);
    return gr_matcher_accept_bytes(m, (const uint8_t *)s, n) && gr_matcher_can_end(m);
}

static void test_matches_reference(void **state) {
    (void)state;
    uint64_t rng = 42;
    for (size_t c = 0; c < sizeof(k_cases) / sizeof(k_cases[0]); c++) {
        const ref_case *rc = &k_cases[c];
        char *text = strstr(rc->gbnf_file, "::=") ? strdup(rc->gbnf_file) : read_text(rc->gbnf_file);
        gr_program *p = compile(text);
        gr_matcher *m;
        adm_error err;
        if (gr_matcher_create(p, NULL, &m, &err) != ADM_OK) fail_msg("%s", err.msg);
        ref r = ref_compile(rc->pattern);
        int n_alpha = 0;
        while (rc->alphabet[n_alpha]) n_alpha++;
        int n_valid = 0, n_checked = 0;
        for (int walk = 0; walk < 300; walk++) {
            /* a random walk through the grammar */
            char s[512];
            size_t len = 0;
            gr_matcher_reset(m);
            for (int step = 0; step < 120; step++) {
                if (gr_matcher_can_end(m) && tu_rand(&rng) % 8 == 0) break;
                bool moved = false;
                for (int tries = 0; tries < 12 && !moved; tries++) {
                    const char *a = rc->alphabet[tu_rand(&rng) % (uint64_t)n_alpha];
                    if (len + strlen(a) < sizeof(s) && gr_matcher_accept_bytes(m, (const uint8_t *)a, strlen(a))) {
                        memcpy(s + len, a, strlen(a));
                        len += strlen(a);
                        moved = true;
                    }
                }
                if (!moved) break;
            }
            /* the walk itself, then mutations of it */
            for (int mut = 0; mut < 6; mut++) {
                char t[600];
                size_t tl = len;
                memcpy(t, s, len);
                if (mut > 0 && tl > 0) {
                    const size_t at = tu_rand(&rng) % tl;
                    const char *a = rc->alphabet[tu_rand(&rng) % (uint64_t)n_alpha];
                    const size_t al = strlen(a);
                    switch (tu_rand(&rng) % 3) {
                    case 0: /* delete a byte */
                        memmove(t + at, t + at + 1, tl - at - 1);
                        tl--;
                        break;
                    case 1: /* insert a piece */
                        memmove(t + at + al, t + at, tl - at);
                        memcpy(t + at, a, al);
                        tl += al;
                        break;
                    default: /* swap two adjacent bytes */
                        if (at + 1 < tl) {
                            const char x = t[at];
                            t[at] = t[at + 1];
                            t[at + 1] = x;
                        }
                    }
                }
                const bool want = ref_match(&r, t, tl), got = gr_match(m, t, tl);
                if (want != got)
                    fail_msg("%s: '%.*s' (%zu bytes): grammar %s, reference %s", rc->gbnf_file, (int)tl, t, tl,
                             got ? "accepts" : "rejects", want ? "accepts" : "rejects");
                n_valid += want;
                n_checked++;
            }
        }
        /* both outcomes were exercised */
        if (n_valid < n_checked / 20 || n_valid > n_checked - n_checked / 20)
            fail_msg("%s: %d of %d strings valid", rc->gbnf_file, n_valid, n_checked);
        pcre2_match_data_free(r.md);
        pcre2_code_free(r.re);
        gr_matcher_free(m);
        gr_program_free(p);
        free(text);
    }
}

/* ------------------------------------------------------------------------ */
/* Token masks over a real vocabulary                                       */
/* ------------------------------------------------------------------------ */

static void test_masks(void **state) {
    (void)state;
    adm_vocab *v;
    adm_error err;
    if (adm_vocab_load(tu_shared("testdata/tokenizer/ggml-vocab-llama-bpe.gguf"), &v, &err) != ADM_OK)
        fail_msg("%s", err.msg);
    const int n = adm_vocab_n_tokens(v);
    const char *files[] = {"json.gbnf", "csv.gbnf", "arithmetic.gbnf"};
    uint64_t rng = 7;
    for (int f = 0; f < 3; f++) {
        char *text = read_text(files[f]);
        adm_grammar *g;
        if (adm_grammar_create_gbnf(v, text, -1, &g, &err) != ADM_OK) fail_msg("%s", err.msg);
        adm_grammar_state *s;
        if (adm_grammar_state_create(g, &s, &err) != ADM_OK) fail_msg("%s", err.msg);
        char out[4096];
        size_t len = 0;
        for (int step = 0; step < 12; step++) {
            const uint64_t *mask = adm_grammar_state_mask(s);
            assert_non_null(mask);
            uint64_t *copy = malloc(((size_t)n + 63) / 64 * 8);
            memcpy(copy, mask, ((size_t)n + 63) / 64 * 8);
            int n_allowed = 0, n_text = 0, pick = -1;
            for (int t = 0; t < n; t++) {
                const bool bit = (copy[t >> 6] >> (t & 63)) & 1;
                if (bit != adm_grammar_state_allows(s, t)) fail_msg("%s step %d: token %d mask %d", files[f], step, t, bit);
                if (bit) {
                    n_allowed++;
                    if (!adm_vocab_is_eog(v, t)) {
                        n_text++;
                        if (tu_rand(&rng) % (uint64_t)n_text == 0) pick = t; /* reservoir: uniform */
                    }
                }
                if (bit && adm_vocab_is_eog(v, t)) assert_true(adm_grammar_state_can_end(s));
            }
            free(copy);
            if (pick < 0) break;
            assert_true(adm_grammar_state_accept(s, pick));
            const int k = adm_token_to_bytes(v, pick, out + len, (int)(sizeof(out) - len), false);
            len += (size_t)k;
        }
        /* the text the tokens spell is accepted byte by byte */
        adm_grammar_state_reset(s);
        assert_true(adm_grammar_state_accept_text(s, out, len));
        adm_grammar_state_free(s);
        adm_grammar_free(g);
        free(text);
    }
    adm_vocab_free(v);
}

/* ------------------------------------------------------------------------ */
/* Schemas                                                                  */
/* ------------------------------------------------------------------------ */

static void expect_schema_error(const char *schema, adm_status code, const char *want) {
    adm_error err;
    const int64_t n = adm_json_schema_to_gbnf(schema, -1, NULL, 0, &err);
    if (n >= 0) fail_msg("accepted: %s", schema);
    if (err.code != code || !strstr(err.msg, want)) fail_msg("'%s': got %s '%s', want '%s'", schema, adm_status_str(err.code), err.msg, want);
}

static void test_schema_errors(void **state) {
    (void)state;
    expect_schema_error("{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":3}}}",
                        ADM_ERR_UNSUPPORTED, "at /properties/a/minimum: keyword 'minimum' is not supported");
    expect_schema_error("{\"type\":\"string\",\"pattern\":\"^a$\"}", ADM_ERR_UNSUPPORTED, "/pattern: keyword 'pattern'");
    expect_schema_error("{\"items\":[{\"type\":\"string\"}]}", ADM_ERR_UNSUPPORTED, "at /items: 'items' as an array");
    expect_schema_error("{\"$ref\":\"http://example.com/s.json\"}", ADM_ERR_UNSUPPORTED, "only local references");
    expect_schema_error("{\"$ref\":\"#/$defs/nope\"}", ADM_ERR_FORMAT, "points to nothing");
    expect_schema_error("{\"type\":\"string\",\"format\":\"email\"}", ADM_ERR_UNSUPPORTED, "format 'email'");
    expect_schema_error("{\"type\":\"strnig\"}", ADM_ERR_FORMAT, "unknown type 'strnig'");
    expect_schema_error("{\"type\":\"array\",\"maxItems\":1000000}", ADM_ERR_UNSUPPORTED, "'maxItems' over");
    expect_schema_error("{\"type\":\"array\",\"minItems\":3,\"maxItems\":2}", ADM_ERR_FORMAT, "minItems is above");
    expect_schema_error("{\"properties\":{\"a/b\":{\"not\":{}}}}", ADM_ERR_UNSUPPORTED, "/properties/a~1b/not");
    expect_schema_error("{\"type\": \"object\",\n \"properties\": }", ADM_ERR_FORMAT, "line 2, column");
    expect_schema_error("{\"anyOf\":[{\"type\":\"string\"}],\"maxLength\":3}", ADM_ERR_UNSUPPORTED, "/maxLength");
    expect_schema_error("false", ADM_ERR_FORMAT, "matches nothing");
    char deep[4096];
    size_t n = 0;
    for (int i = 0; i < 100; i++) n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"items\":");
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{}");
    for (int i = 0; i < 100; i++) deep[n++] = '}';
    deep[n] = 0;
    expect_schema_error(deep, ADM_ERR_UNSUPPORTED, "nested over");
    /* a cycle of bare $refs matches nothing: refused */
    adm_vocab *v;
    adm_error err;
    if (adm_vocab_load(tu_shared("models/stories260K.gguf"), &v, &err) != ADM_OK) fail_msg("%s", err.msg);
    adm_grammar *g;
    assert_int_not_equal(adm_grammar_create_json_schema(v, "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":"
                                                        "\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}", -1, &g, &err), ADM_OK);
    if (!strstr(err.msg, "matches no text")) fail_msg("%s", err.msg);
    /* what converts also compiles; json_object is any object */
    const char *good[] = {"{}", "true", "{\"type\":\"json_object\"}", "{\"type\":[\"string\",\"null\"],\"maxLength\":3}",
                          "{\"additionalProperties\":{\"type\":\"integer\"}}", "{\"enum\":[1,\"two\",[3],{\"4\":null}]}",
                          "{\"title\":\"list\",\"properties\":{\"next\":{\"$ref\":\"#\"}}}"};
    for (size_t k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        if (adm_grammar_create_json_schema(v, good[k], -1, &g, &err) != ADM_OK) fail_msg("%s: %s", good[k], err.msg);
        adm_grammar_free(g);
    }
    adm_vocab_free(v);
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                   */
/* ------------------------------------------------------------------------ */

static void test_limits(void **state) {
    (void)state;
    adm_error err;
    gr_matcher *m;
    /* unbounded nesting: the stack stops at GR_MAX_DEPTH, no crash */
    gr_program *p = compile("root ::= \"(\" root \")\" | \"x\"\n");
    assert_int_equal(gr_matcher_create(p, NULL, &m, &err), ADM_OK);
    int taken = 0;
    for (int i = 0; i < 5000; i++) taken += gr_matcher_accept_bytes(m, (const uint8_t *)"(", 1);
    assert_true(taken >= 1000 && taken <= GR_MAX_DEPTH + 2);
    gr_matcher_free(m);
    gr_program_free(p);
    /* exponentially ambiguous: the set of stacks is capped */
    p = compile("root ::= a*\na ::= \"x\" b | \"x\" b \"y\"\nb ::= \"\" | \"x\" b | \"x\" b \"y\"\n");
    assert_int_equal(gr_matcher_create(p, NULL, &m, &err), ADM_OK);
    for (int i = 0; i < 3000; i++) gr_matcher_accept_bytes(m, (const uint8_t *)"x", 1);
    gr_matcher_free(m);
    gr_program_free(p);
    /* a repetition as large as allowed stays within the element budget */
    p = compile("root ::= ( [a-z] \"-\" ){0,100000}\n");
    assert_int_equal(gr_matcher_create(p, NULL, &m, &err), ADM_OK);
    for (int i = 0; i < 20000; i++) assert_true(gr_matcher_accept_bytes(m, (const uint8_t *)"q-", 2));
    assert_true(gr_matcher_can_end(m));
    gr_matcher_free(m);
    gr_program_free(p);
    /* nested repetitions of what may be empty: millions of frames per step
     * without GR_MAX_CLOSURE (minutes per token); bounded, and what is
     * taken still matches */
    p = compile("root ::= ((\"a\"{0,1000}){0,1000}){0,1000}\n");
    const clock_t t0 = clock();
    assert_int_equal(gr_matcher_create(p, NULL, &m, &err), ADM_OK);
    for (int i = 0; i < 200; i++) assert_true(gr_matcher_accept_bytes(m, (const uint8_t *)"a", 1));
    assert_false(gr_matcher_accept_bytes(m, (const uint8_t *)"b", 1));
    const double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    if (secs > 5.0) fail_msg("200 bytes took %.1f s", secs);
    gr_matcher_free(m);
    gr_program_free(p);
}

/* ------------------------------------------------------------------------ */
/* Sampler                                                                  */
/* ------------------------------------------------------------------------ */

static void test_sampler(void **state) {
    (void)state;
    adm_vocab *v;
    adm_error err;
    if (adm_vocab_load(tu_shared("models/stories260K.gguf"), &v, &err) != ADM_OK) fail_msg("%s", err.msg);
    const int n = adm_vocab_n_tokens(v);
    char *text = read_text("arithmetic.gbnf");
    adm_grammar *g;
    if (adm_grammar_create_gbnf(v, text, -1, &g, &err) != ADM_OK) fail_msg("%s", err.msg);
    adm_sampler_params sp = adm_sampler_default_params();
    sp.temp = 1.0f;
    sp.seed = 5;
    sp.top_k = 5;
    sp.top_p = 1.0f;
    sp.min_p = 0.0f;
    adm_sampler *s;
    assert_int_equal(adm_sampler_create(&sp, n + 3, &s, &err), ADM_OK); /* padded like an embedding matrix */
    assert_int_equal(adm_sampler_set_grammar(s, g, &err), ADM_OK);
    adm_grammar_state *check;
    assert_int_equal(adm_grammar_state_create(g, &check, &err), ADM_OK);
    float *logits = malloc(sizeof(float) * (size_t)(n + 3));
    uint64_t rng = 11;
    int ends = 0;
    for (int round = 0; round < 40; round++) {
        adm_sampler_reset(s, false, 0);
        adm_grammar_state_reset(check);
        for (int step = 0; step < 200; step++) {
            for (int i = 0; i < n + 3; i++) logits[i] = 3.0f * tu_randf(&rng);
            /* a model that likes ending: EOG often on top */
            if (step > 3) logits[adm_vocab_eos(v)] = 4.0f;
            /* the k best tokens the grammar allows (ties: lower id) */
            const uint64_t *mask = adm_grammar_state_mask(check);
            int best[5], nb = 0;
            for (int i = 0; i < n; i++) {
                if (!((mask[i >> 6] >> (i & 63)) & 1)) continue;
                int at = nb < 5 ? nb++ : 5;
                while (at > 0 && logits[i] > logits[best[at - 1]]) {
                    if (at < 5) best[at] = best[at - 1];
                    at--;
                }
                if (at < 5) best[at] = i;
            }
            const int32_t t = adm_sampler_sample(s, logits);
            assert_true(t >= 0 && t < n);
            bool in_top = false;
            for (int i = 0; i < nb; i++) in_top |= best[i] == t;
            if (!in_top) fail_msg("round %d step %d: token %d is not among the 5 best allowed", round, step, t);
            if (adm_vocab_is_eog(v, t)) {
                assert_true(adm_grammar_state_can_end(check));
                ends++;
                break;
            }
            if (!adm_grammar_state_accept(check, t)) fail_msg("round %d step %d: token %d not allowed", round, step, t);
        }
    }
    assert_true(ends > 20);
    /* removing the grammar lifts the constraint */
    assert_int_equal(adm_sampler_set_grammar(s, NULL, &err), ADM_OK);
    free(logits);
    adm_grammar_state_free(check);
    adm_sampler_free(s);
    adm_grammar_free(g);
    free(text);
    adm_vocab_free(v);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gbnf_errors), cmocka_unit_test(test_matches_reference), cmocka_unit_test(test_masks),
        cmocka_unit_test(test_schema_errors), cmocka_unit_test(test_limits),     cmocka_unit_test(test_sampler),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
