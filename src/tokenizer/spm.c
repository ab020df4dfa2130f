/*
 * spm.c - SentencePiece-style tokenization (tokenizer.ggml.model = llama:
 * Llama 2, Mistral, TinyLlama, Phi-3, stories260K). The text's spaces become
 * U+2581 (with one more in front when the vocabulary adds a dummy prefix),
 * the text is split into UTF-8 characters, and neighbouring symbols merge
 * while their concatenation is a token, highest score first (leftmost on
 * ties). A symbol that is no token falls back to its bytes' <0xXX> tokens.
 * Called by tokenize.c for each stretch of text between special tokens.
 */
#include "internal.h"

typedef struct spm_ctx {
    const adm_vocab *v;
    tok_scratch *s;
} spm_ctx;

/* The heap pops the smallest key, so the key's top half is the score
 * mapped to an unsigned integer that sorts descending. */
static uint32_t score_key(float f) {
    if (f == 0.0f) f = 0.0f; /* -0 and +0 tie, as a float comparison says */
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* ascending as unsigned */
    return ~u;
}

static bool spm_add_pair(void *ctx, int32_t l, int32_t r) {
    spm_ctx *c = ctx;
    const tok_sym *left = &c->s->sym[l], *right = &c->s->sym[r];
    uint32_t size = left->n + right->n;
    int32_t id = adm_tok_lookup(c->v, c->s->buf + left->off, size);
    if (id < 0) return true;
    tok_pair p = {((uint64_t)score_key(c->v->scores[id]) << 32) | (uint32_t)l, r, size};
    return adm_tok_heap_push(c->s, p);
}

/* Tokenizes s->buf[a..b). */
static bool spm_chunk(const adm_vocab *v, tok_scratch *s, size_t a, size_t b) {
    int32_t n_sym = 0;
    for (size_t off = a; off < b; n_sym++) off += ADM_MIN(tok_utf8_len((uint8_t)s->buf[off]), b - off);
    if (!adm_tok_reserve((void **)&s->sym, &s->cap_sym, (size_t)n_sym, sizeof(tok_sym))) return false;
    size_t off = a;
    for (int32_t i = 0; i < n_sym; i++) {
        uint32_t cl = (uint32_t)ADM_MIN(tok_utf8_len((uint8_t)s->buf[off]), b - off);
        s->sym[i] = (tok_sym){(uint32_t)off, cl, i - 1, i + 1 < n_sym ? i + 1 : -1};
        off += cl;
    }
    spm_ctx c = {v, s};
    if (!adm_tok_merge_symbols(s, n_sym, spm_add_pair, &c)) return false;
    for (int32_t i = n_sym ? 0 : -1; i >= 0; i = s->sym[i].next) {
        const char *t = s->buf + s->sym[i].off;
        int32_t id = adm_tok_lookup(v, t, s->sym[i].n);
        if (id >= 0) {
            if (!adm_tok_push(s, id)) return false;
            continue;
        }
        for (uint32_t j = 0; j < s->sym[i].n; j++) { /* byte fallback */
            int32_t bt = v->byte_token[(uint8_t)t[j]];
            if (bt < 0) bt = v->unk;
            if (bt >= 0 && !adm_tok_push(s, bt)) return false;
        }
    }
    return true;
}

bool adm_spm_tokenize(const adm_vocab *v, tok_scratch *s, const char *text, size_t len, bool add_prefix) {
    if (!adm_tok_reserve((void **)&s->buf, &s->cap_buf, 3 * len + 3, 1)) return false;
    size_t n = 0;
    if (add_prefix) memcpy(s->buf, "\xe2\x96\x81", 3), n = 3;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s->buf + n, "\xe2\x96\x81", 3);
            n += 3;
        } else {
            s->buf[n++] = text[i];
        }
    }
    if (!v->spm_word_split) return spm_chunk(v, s, 0, n);
    /* No token of this vocabulary continues past a character into a U+2581,
     * so no merge crosses the start of a word: each word merges on its own,
     * with the same result and a heap the size of a word instead of the text. */
    size_t a = 0;
    for (size_t i = 3; i + 3 <= n; i++) {
        if (memcmp(s->buf + i, "\xe2\x96\x81", 3) != 0) continue;
        if (memcmp(s->buf + i - 3, "\xe2\x96\x81", 3) != 0) {
            if (!spm_chunk(v, s, a, i)) return false;
            a = i;
        }
        i += 2;
    }
    return spm_chunk(v, s, a, n);
}
