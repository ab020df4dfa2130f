/*
 * bpe.c - byte-level BPE tokenization (tokenizer.ggml.model = gpt2: GPT-2,
 * Llama 3, Qwen2, DeepSeek, Falcon, StarCoder, MPT, ...). The pre-tokenizer
 * (pretok.c) cuts the text into words; each word's bytes are written in
 * GPT-2's printable byte alphabet and merged pairwise, lowest merge rank
 * first (leftmost on ties), as tokenizer.ggml.merges ranks them. Called by
 * tokenize.c for each stretch of text between special tokens.
 */
#include "internal.h"

typedef struct bpe_ctx {
    const adm_vocab *v;
    tok_scratch *s;
} bpe_ctx;

static bool bpe_add_pair(void *ctx, int32_t l, int32_t r) {
    bpe_ctx *c = ctx;
    const tok_sym *left = &c->s->sym[l], *right = &c->s->sym[r];
    int32_t rank = adm_tok_merge_rank(c->v, c->s->buf + left->off, left->n, right->n);
    if (rank < 0) return true;
    tok_pair p = {((uint64_t)(uint32_t)rank << 32) | (uint32_t)l, r, left->n + right->n};
    return adm_tok_heap_push(c->s, p);
}

/* Emits the token of one merged symbol. A symbol that is not a token (only
 * in inconsistent vocabularies) falls back to the tokens of its characters;
 * llama.cpp looks up each UTF-8 byte there instead, which loses them. */
static bool emit_symbol(const adm_vocab *v, tok_scratch *s, const char *t, size_t n) {
    int32_t id = adm_tok_lookup(v, t, n);
    if (id >= 0) return adm_tok_push(s, id);
    for (size_t i = 0; i < n;) {
        size_t cl = ADM_MIN(tok_utf8_len((uint8_t)t[i]), n - i);
        id = adm_tok_lookup(v, t + i, cl);
        if (id >= 0 && !adm_tok_push(s, id)) return false;
        i += cl;
    }
    return true;
}

static bool bpe_word(const adm_vocab *v, tok_scratch *s, const uint8_t *w, size_t n) {
    if (!adm_tok_reserve((void **)&s->buf, &s->cap_buf, 2 * n, 1) ||
        !adm_tok_reserve((void **)&s->sym, &s->cap_sym, n, sizeof(tok_sym)))
        return false;
    uint32_t off = 0;
    for (size_t i = 0; i < n; i++) { /* one symbol per byte, in the byte alphabet */
        int cl = tok_utf8_encode(tok_byte_to_cp(w[i]), s->buf + off);
        s->sym[i] = (tok_sym){off, (uint32_t)cl, (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1};
        off += (uint32_t)cl;
    }
    if (v->ignore_merges) { /* Llama 3 takes a word that is a token as it is */
        int32_t id = adm_tok_lookup(v, s->buf, off);
        if (id >= 0) return adm_tok_push(s, id);
    }
    bpe_ctx c = {v, s};
    if (!adm_tok_merge_symbols(s, (int32_t)n, bpe_add_pair, &c)) return false;
    for (int32_t i = 0; i >= 0; i = s->sym[i].next)
        if (!emit_symbol(v, s, s->buf + s->sym[i].off, s->sym[i].n)) return false;
    return true;
}

bool adm_bpe_tokenize(const adm_vocab *v, tok_scratch *s, const char *text, size_t len) {
    const char *words;
    if (!adm_pretok_split(v->pretok, s, text, len, &words)) return false;
    for (size_t w = 0; w < s->n_seg; w++) {
        uint32_t a = s->seg[2 * w], b = s->seg[2 * w + 1];
        if (b > a && !bpe_word(v, s, (const uint8_t *)words + a, b - a)) return false;
    }
    return true;
}
