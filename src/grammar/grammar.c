/*
 * grammar.c - the public grammar objects: a compiled program bound to a
 * vocabulary's trie, and per-sequence states over it.
 */
#include "grammar/grammar.h"

#include <stdlib.h>

struct adm_grammar {
    gr_program *prog;
    const gr_trie *trie; /* owned by the vocabulary */
    const adm_vocab *vocab;
};

struct adm_grammar_state {
    const adm_grammar *g;
    gr_matcher *m;
};

static size_t text_len(const char *s, int64_t len) { return len < 0 ? strlen(s) : (size_t)len; }

adm_status adm_grammar_create_gbnf(const adm_vocab *vocab, const char *gbnf, int64_t len, adm_grammar **out,
                                   adm_error *err) {
    *out = NULL;
    if (!vocab || !gbnf) return adm_fail(err, ADM_ERR_INVALID_ARG, "grammar: no vocabulary or no text");
    adm_grammar *g = adm_calloc(1, sizeof(*g));
    if (!g) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    g->vocab = vocab;
    adm_status st = gr_parse_gbnf(gbnf, text_len(gbnf, len), &g->prog, err);
    if (st == ADM_OK && !(g->trie = gr_vocab_trie(vocab, err))) st = err ? err->code : ADM_ERR_NOMEM;
    if (st != ADM_OK) {
        adm_grammar_free(g);
        return st;
    }
    *out = g;
    return ADM_OK;
}

adm_status adm_grammar_create_json_schema(const adm_vocab *vocab, const char *schema, int64_t len, adm_grammar **out,
                                          adm_error *err) {
    *out = NULL;
    if (!vocab || !schema) return adm_fail(err, ADM_ERR_INVALID_ARG, "grammar: no vocabulary or no schema");
    char *gbnf;
    size_t n;
    adm_status st = gr_schema_to_gbnf(schema, text_len(schema, len), &gbnf, &n, err);
    if (st != ADM_OK) return st;
    st = adm_grammar_create_gbnf(vocab, gbnf, (int64_t)n, out, err);
    if (st != ADM_OK) adm_error_prefix(err, "JSON schema converted to a grammar the grammar compiler refused");
    free(gbnf);
    return st;
}

void adm_grammar_free(adm_grammar *g) {
    if (!g) return;
    gr_program_free(g->prog);
    adm_free(g);
}

int64_t adm_json_schema_to_gbnf(const char *schema, int64_t len, char *out, int64_t size, adm_error *err) {
    if (!schema) {
        adm_fail(err, ADM_ERR_INVALID_ARG, "no schema");
        return -1;
    }
    char *gbnf;
    size_t n;
    if (gr_schema_to_gbnf(schema, text_len(schema, len), &gbnf, &n, err) != ADM_OK) return -1;
    if (out && size > 0) {
        const size_t k = (uint64_t)size > n ? n : (size_t)size;
        memcpy(out, gbnf, k);
        if ((uint64_t)size > n) out[n] = 0;
    }
    free(gbnf);
    return (int64_t)n;
}

adm_status adm_grammar_state_create(const adm_grammar *g, adm_grammar_state **out, adm_error *err) {
    *out = NULL;
    adm_grammar_state *s = adm_calloc(1, sizeof(*s));
    if (!s) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    s->g = g;
    adm_status st = gr_matcher_create(g->prog, g->trie, &s->m, err);
    if (st != ADM_OK) {
        adm_free(s);
        return st;
    }
    *out = s;
    return ADM_OK;
}

void adm_grammar_state_free(adm_grammar_state *s) {
    if (!s) return;
    gr_matcher_free(s->m);
    adm_free(s);
}

void adm_grammar_state_reset(adm_grammar_state *s) { gr_matcher_reset(s->m); }
bool adm_grammar_state_allows(adm_grammar_state *s, int32_t token) { return gr_matcher_allows(s->m, token); }
bool adm_grammar_state_accept(adm_grammar_state *s, int32_t token) { return gr_matcher_accept(s->m, token); }
bool adm_grammar_state_accept_text(adm_grammar_state *s, const char *text, size_t len) {
    return gr_matcher_accept_bytes(s->m, (const uint8_t *)text, len);
}
bool adm_grammar_state_can_end(const adm_grammar_state *s) { return gr_matcher_can_end(s->m); }
const uint64_t *adm_grammar_state_mask(adm_grammar_state *s) { return gr_matcher_mask(s->m); }

/* For the sampler: a fallback end token when nothing is allowed (only
 * after a matcher limit cut every stack). */
int32_t gr_grammar_fallback_end(const adm_grammar *g) {
    if (g->trie->n_eog) return g->trie->eog[0];
    return adm_vocab_eos(g->vocab);
}

int32_t gr_grammar_n_tokens(const adm_grammar *g) { return g->trie->n_tokens; }
