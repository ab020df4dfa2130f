/*
 * tokenize.c - adm_tokenize: cuts the special tokens a text spells out from
 * the plain text around them (as llama.cpp's tokenizer_st_partition does),
 * hands each stretch of plain text to the vocabulary's tokenizer (spm.c,
 * bpe.c, wpm.c) and adds BOS/EOS. Also owns the per-call scratch memory and
 * the symbol-merge loop that SPM and BPE share.
 */
#include "internal.h"

#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Scratch memory                                                           */
/* ------------------------------------------------------------------------ */

bool adm_tok_reserve(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 4) return false;
        n *= 2;
    }
    uint64_t bytes;
    if (!adm_size_mul(n, elem, &bytes) || bytes > SIZE_MAX) return false;
    void *q = adm_alloc((size_t)bytes);
    if (!q) return false;
    if (*p) {
        memcpy(q, *p, *cap * elem);
        adm_free(*p);
    }
    *p = q;
    *cap = n;
    return true;
}

bool adm_tok_push(tok_scratch *s, int32_t id) {
    if (!adm_tok_reserve((void **)&s->ids, &s->cap_ids, s->n_ids + 1, sizeof(int32_t))) return false;
    s->ids[s->n_ids++] = id;
    return true;
}

static void scratch_free(tok_scratch *s) {
    adm_free(s->ids);
    adm_free(s->buf);
    adm_free(s->norm);
    adm_free(s->sym);
    adm_free(s->heap);
    adm_free(s->seg);
    adm_free(s->seg2);
    adm_pretok_scratch_free(s);
}

/* ------------------------------------------------------------------------ */
/* Merging symbols (SPM and BPE)                                            */
/* ------------------------------------------------------------------------ */

bool adm_tok_heap_push(tok_scratch *s, tok_pair p) {
    if (!adm_tok_reserve((void **)&s->heap, &s->cap_heap, s->n_heap + 1, sizeof(tok_pair))) return false;
    size_t i = s->n_heap++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (s->heap[up].key <= p.key) break;
        s->heap[i] = s->heap[up];
        i = up;
    }
    s->heap[i] = p;
    return true;
}

tok_pair adm_tok_heap_pop(tok_scratch *s) {
    tok_pair top = s->heap[0], last = s->heap[--s->n_heap];
    size_t i = 0, n = s->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && s->heap[c + 1].key < s->heap[c].key) c++;
        if (last.key <= s->heap[c].key) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n) s->heap[i] = last;
    return top;
}

bool adm_tok_merge_symbols(tok_scratch *s, int32_t n_sym, tok_add_pair_fn add_pair, void *ctx) {
    s->n_heap = 0;
    for (int32_t i = 1; i < n_sym; i++)
        if (!add_pair(ctx, i - 1, i)) return false;
    while (s->n_heap) {
        tok_pair p = adm_tok_heap_pop(s);
        int32_t l = (int32_t)(uint32_t)p.key, r = p.right;
        tok_sym *left = &s->sym[l], *right = &s->sym[r];
        /* A pair goes stale when either side merged with something else
         * since: then one side is empty or their sizes no longer add up. */
        if (!left->n || !right->n || left->n + right->n != p.size) continue;
        left->n += right->n;
        right->n = 0;
        left->next = right->next;
        if (right->next >= 0) s->sym[right->next].prev = l;
        if (left->prev >= 0 && !add_pair(ctx, left->prev, l)) return false;
        if (left->next >= 0 && !add_pair(ctx, l, left->next)) return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Special tokens in text                                                   */
/* ------------------------------------------------------------------------ */

static inline bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static bool tokenize_text(const adm_vocab *v, tok_scratch *s, const char *text, size_t n, bool *prev_special) {
    bool ok;
    switch (v->type) {
    case TOK_SPM: ok = adm_spm_tokenize(v, s, text, n, v->add_space_prefix && *prev_special); break;
    case TOK_BPE: ok = adm_bpe_tokenize(v, s, text, n); break;
    default: ok = adm_wpm_tokenize(v, s, text, n); break;
    }
    *prev_special = false;
    return ok;
}

/* Without parse_special only user-defined tokens are cut out of text. */
static inline bool active(const adm_vocab *v, int32_t id, bool parse_special) {
    return id >= 0 && (parse_special || !(v->attr[id] & (ATTR_CONTROL | ATTR_UNKNOWN)));
}

/* The trie node after following text[pos+1 .. pos+depth] from `node`. */
static inline uint32_t trie_next(const adm_vocab *v, uint32_t node, uint8_t c) {
    for (node = v->trie[node].child; node && v->trie[node].byte != c; node = v->trie[node].sibling) {}
    return node;
}

/* The active special token of exactly len bytes at text[pos], or -1. */
static int32_t special_at(const adm_vocab *v, const char *text, size_t pos, size_t len, bool parse_special) {
    uint32_t node = v->trie_root[(uint8_t)text[pos]];
    for (size_t d = 1; node && d < len; d++) node = trie_next(v, node, (uint8_t)text[pos + d]);
    return node && active(v, v->trie[node].spec, parse_special) ? v->trie[node].spec : -1;
}

/* llama.cpp lets special tokens claim text longest token first: a token
 * claims its occurrences left to right wherever no longer token has claimed
 * text, then the next token does. Here all tokens of one length claim in one
 * left-to-right pass (llama.cpp leaves the order among equal lengths open;
 * it matters only if two such tokens overlap in the text). A first scan
 * along the trie notes where some special token starts and which lengths
 * occur, so text without special tokens costs one cheap pass. Bytes a token
 * strips (LSTRIP/RSTRIP whitespace) are claimed as deleted. */
enum { FREE = 0, TOKEN = 1, DELETED = 2 };

static bool partition(const adm_vocab *v, tok_scratch *s, const char *text, size_t n, bool parse_special) {
    uint8_t *occurs = adm_calloc((size_t)v->n_spec_len + 1, 1), *claim = NULL;
    uint32_t *hits = NULL; /* offsets where some special token starts */
    uint64_t *acc = NULL;  /* accepted occurrences: (offset << 32) | id */
    size_t n_hits = 0, cap_hits = 0, n_acc = 0, cap_acc = 0;
    bool ok = false, prev_special = true;
    if (!occurs) return false;

    for (size_t pos = 0; pos < n; pos++) {
        bool hit = false;
        uint32_t node = v->trie_root[(uint8_t)text[pos]];
        for (size_t d = 1; node; d++) {
            const tok_trie_node *t = &v->trie[node];
            if (active(v, t->spec, parse_special)) occurs[t->len_idx] = 1, hit = true;
            node = pos + d < n ? trie_next(v, node, (uint8_t)text[pos + d]) : 0;
        }
        if (!hit) continue;
        if (!adm_tok_reserve((void **)&hits, &cap_hits, n_hits + 1, sizeof(uint32_t))) goto done;
        hits[n_hits++] = (uint32_t)pos;
    }
    if (!n_hits) {
        ok = tokenize_text(v, s, text, n, &prev_special);
        goto done;
    }
    if (!(claim = adm_calloc(n, 1))) goto done;
    for (uint32_t li = 0; li < v->n_spec_len; li++) {
        if (!occurs[li]) continue;
        size_t len = v->spec_len[li];
        for (size_t h = 0; h < n_hits; h++) {
            size_t pos = hits[h], j;
            if (claim[pos] != FREE || pos + len > n) continue;
            int32_t id = special_at(v, text, pos, len, parse_special);
            if (id < 0) continue;
            for (j = pos; j < pos + len && claim[j] == FREE; j++) {}
            if (j < pos + len) continue;
            if (!adm_tok_reserve((void **)&acc, &cap_acc, n_acc + 1, sizeof(uint64_t))) goto done;
            acc[n_acc++] = ((uint64_t)pos << 32) | (uint32_t)id;
            memset(claim + pos, TOKEN, len);
            if (v->attr[id] & ATTR_LSTRIP)
                for (j = pos; j > 0 && claim[j - 1] == FREE && is_space(text[j - 1]); j--) claim[j - 1] = DELETED;
            if (v->attr[id] & ATTR_RSTRIP)
                for (j = pos + len; j < n && claim[j] == FREE && is_space(text[j]); j++) claim[j] = DELETED;
        }
    }
    if (n_acc > 1) qsort(acc, n_acc, sizeof(uint64_t), cmp_u64);
    for (size_t p = 0, a = 0; p < n;) {
        if (claim[p] == FREE) {
            size_t q = p;
            while (q < n && claim[q] == FREE) q++;
            if (!tokenize_text(v, s, text + p, q - p, &prev_special)) goto done;
            p = q;
        } else if (claim[p] == TOKEN) {
            int32_t id = (int32_t)(uint32_t)acc[a++];
            if (!adm_tok_push(s, id)) goto done;
            prev_special = true;
            p += v->tok_off[id + 1] - v->tok_off[id] - 1;
        } else {
            p++;
        }
    }
    ok = true;
done:
    adm_free(occurs);
    adm_free(claim);
    adm_free(hits);
    adm_free(acc);
    return ok;
}

int64_t adm_tokenize(const adm_vocab *v, const char *text, int64_t len, int32_t *out, int64_t max, unsigned flags) {
    if (!v || (!text && len > 0)) return -1;
    size_t n = len < 0 ? (text ? strlen(text) : 0) : (size_t)len;
    if (n > UINT32_MAX / 4) return -1; /* 1 GiB per call: offsets into the expanded text are 32-bit */
    tok_scratch s;
    memset(&s, 0, sizeof(s));
    bool add = (flags & ADM_TOKENIZE_ADD_SPECIAL) != 0, ok = true;
    if (add && v->add_bos && v->bos >= 0) ok = adm_tok_push(&s, v->bos);
    if (ok && n) ok = partition(v, &s, text, n, (flags & ADM_TOKENIZE_PARSE_SPECIAL) != 0);
    if (ok && add) {
        if (v->type == TOK_WPM) { /* BERT: [CLS] text [SEP] */
            if (v->sep >= 0) ok = adm_tok_push(&s, v->sep);
        } else if (v->add_eos && v->eos >= 0) {
            ok = adm_tok_push(&s, v->eos);
        }
    }
    int64_t result = ok ? (int64_t)s.n_ids : -1;
    if (ok && out && max > 0 && s.n_ids)
        memcpy(out, s.ids, (size_t)ADM_MIN((int64_t)s.n_ids, max) * sizeof(int32_t));
    scratch_free(&s);
    return result;
}
