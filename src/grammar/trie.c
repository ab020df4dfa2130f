/*
 * trie.c - the vocabulary as a byte trie, laid out in preorder so that the
 * matcher walks it as one forward scan of an array (skipping a subtree is a
 * jump to its end index). Built once per vocabulary: sort the tokens' byte
 * strings, then emit nodes for each string's part past the longest common
 * prefix with the previous one. Qwen2's 151,646 tokens take ~0.1 s.
 */
#include "grammar/grammar.h"
#include "tokenizer/internal.h"

#include <stdlib.h>

#define MAX_TOKEN_BYTES 1024 /* longer tokens are never allowed under a grammar */

typedef struct tok_ref {
    const uint8_t *p;
    uint32_t len;
    int32_t id;
} tok_ref;

static int tok_ref_cmp(const void *a, const void *b) {
    const tok_ref *x = a, *y = b;
    const uint32_t n = x->len < y->len ? x->len : y->len;
    const int c = n ? memcmp(x->p, y->p, n) : 0;
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

void gr_trie_free(gr_trie *t) {
    if (!t) return;
    adm_free(t->nodes);
    adm_free(t->kind);
    adm_free(t->tok_off);
    adm_free(t->bytes);
    adm_free(t->dup);
    adm_free(t->eog);
    adm_free(t);
}

adm_status gr_trie_build(const adm_vocab *v, gr_trie **out, adm_error *err) {
    *out = NULL;
    const int32_t n = adm_vocab_n_tokens(v);
    gr_trie *t = adm_calloc(1, sizeof(*t));
    tok_ref *refs = NULL;
    uint32_t *open = NULL;
    char buf[MAX_TOKEN_BYTES];
    if (!t) goto nomem;
    t->n_tokens = n;
    t->kind = adm_alloc((size_t)n + 1);
    t->tok_off = adm_alloc(((size_t)n + 1) * sizeof(uint32_t));
    refs = adm_alloc(((size_t)n + 1) * sizeof(tok_ref));
    if (!t->kind || !t->tok_off || !refs) goto nomem;
    /* Pass 1: sizes. */
    uint64_t total = 0;
    uint32_t n_eog = 0;
    for (int32_t i = 0; i < n; i++) {
        int len = adm_token_to_bytes(v, i, buf, (int)sizeof(buf), false);
        if (adm_vocab_is_eog(v, i)) {
            t->kind[i] = GR_TOK_EOG;
            n_eog++;
            len = 0;
        } else if (adm_vocab_is_control(v, i) || len <= 0 || len > MAX_TOKEN_BYTES) {
            t->kind[i] = GR_TOK_NEVER;
            len = 0;
        } else {
            t->kind[i] = GR_TOK_TEXT;
        }
        t->tok_off[i] = (uint32_t)total;
        total += (uint64_t)len;
        if (total > UINT32_MAX) goto nomem;
    }
    t->tok_off[n] = (uint32_t)total;
    t->bytes = adm_alloc((size_t)total + 1);
    t->eog = adm_alloc(((size_t)n_eog + 1) * sizeof(int32_t));
    if (!t->bytes || !t->eog) goto nomem;
    uint32_t n_refs = 0;
    for (int32_t i = 0; i < n; i++) {
        if (t->kind[i] == GR_TOK_EOG) t->eog[t->n_eog++] = i;
        if (t->kind[i] != GR_TOK_TEXT) continue;
        const uint32_t len = t->tok_off[i + 1] - t->tok_off[i];
        adm_token_to_bytes(v, i, (char *)t->bytes + t->tok_off[i], (int)len, false);
        refs[n_refs++] = (tok_ref){t->bytes + t->tok_off[i], len, i};
    }
    if (n_refs > 1) qsort(refs, n_refs, sizeof(tok_ref), tok_ref_cmp);
    /* Pass 2: nodes. At most total nodes (one per byte). */
    uint32_t cap = 0, n_dup = 0, cap_dup = 0;
    for (uint32_t k = 0; k < n_refs; k++) {
        const uint32_t lcp_max = k ? (refs[k - 1].len < refs[k].len ? refs[k - 1].len : refs[k].len) : 0;
        uint32_t l = 0;
        while (l < lcp_max && refs[k - 1].p[l] == refs[k].p[l]) l++;
        cap += refs[k].len - l;
        if (l == refs[k].len) cap_dup++;
    }
    t->nodes = adm_alloc(((size_t)cap + 1) * sizeof(gr_tnode));
    t->dup = adm_alloc(((size_t)cap_dup + 1) * sizeof(*t->dup));
    open = adm_alloc(((size_t)MAX_TOKEN_BYTES + 2) * sizeof(uint32_t));
    if (!t->nodes || !t->dup || !open) goto nomem;
    uint32_t nn = 0, depth = 0;
    int max_depth = 0;
    for (uint32_t k = 0; k < n_refs; k++) {
        const tok_ref *r = &refs[k];
        uint32_t l = 0;
        if (k) {
            const uint32_t lcp_max = refs[k - 1].len < r->len ? refs[k - 1].len : r->len;
            while (l < lcp_max && refs[k - 1].p[l] == r->p[l]) l++;
        }
        for (; depth > l; depth--) t->nodes[open[depth]].end = (int32_t)nn;
        for (uint32_t d = l + 1; d <= r->len; d++) {
            t->nodes[nn] = (gr_tnode){0, -1, (uint16_t)d, r->p[d - 1], 0};
            open[d] = nn++;
        }
        depth = r->len;
        if ((int)depth > max_depth) max_depth = (int)depth;
        gr_tnode *nd = &t->nodes[open[depth]];
        if (nd->tok >= 0) {
            t->dup[n_dup][0] = r->id;
            t->dup[n_dup][1] = nd->tok;
            n_dup++;
        } else {
            nd->tok = r->id;
        }
    }
    for (; depth > 0; depth--) t->nodes[open[depth]].end = (int32_t)nn;
    t->n_nodes = nn;
    t->n_dup = n_dup;
    t->max_depth = max_depth;
    adm_free(refs);
    adm_free(open);
    *out = t;
    return ADM_OK;
nomem:
    adm_free(refs);
    adm_free(open);
    gr_trie_free(t);
    return adm_fail(err, ADM_ERR_NOMEM, "out of memory building the vocabulary's grammar trie");
}

const gr_trie *gr_vocab_trie(const adm_vocab *cv, adm_error *err) {
    /* The trie is a cache: building it does not change what the vocabulary
     * means, so it hangs off the (otherwise immutable) vocabulary. Two
     * threads racing build two; the loser frees its own. */
    adm_vocab *v = (adm_vocab *)cv;
    gr_trie *t = atomic_load(&v->gtrie);
    if (t) return t;
    if (gr_trie_build(cv, &t, err) != ADM_OK) return NULL;
    gr_trie *expected = NULL;
    if (!atomic_compare_exchange_strong(&v->gtrie, &expected, t)) {
        gr_trie_free(t);
        return expected;
    }
    return t;
}
