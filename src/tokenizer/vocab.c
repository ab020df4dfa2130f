/*
 * vocab.c - builds an adm_vocab from a GGUF file's tokenizer.ggml.* keys:
 * token texts, scores and types, BPE merges, special ids and the flags that
 * steer tokenization (add_bos, add_space_prefix, ...), end-of-generation
 * detection, the special-token tables tokenize.c scans with, and the piece
 * (rendered bytes) of every token that detok.c hands out. It follows
 * llama.cpp's llama_vocab::load rule for rule, so that a file tokenizes the
 * same way in both; everything is copied, nothing points into the GGUF.
 */
#include "vocab.h"

#include "internal.h"
#include "grammar/grammar.h"

#include <ctype.h>
#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* Hash tables                                                              */
/* ------------------------------------------------------------------------ */

static bool table_init(tok_table *t, uint64_t n_keys) {
    uint64_t size = 16;
    while (size < n_keys * 2) size <<= 1;
    t->slot = adm_calloc((size_t)size, sizeof(uint64_t));
    t->mask = size - 1;
    return t->slot != NULL;
}

static inline uint64_t slot_make(uint64_t h, uint32_t idx) { return (h & 0xFFFFFFFF00000000ull) | (idx + 1u); }

static inline bool text_eq(const adm_vocab *v, int32_t id, const char *s, size_t n) {
    size_t len;
    const char *t = tok_text(v, id, &len);
    return len == n && memcmp(t, s, n) == 0;
}

/* Later duplicates replace earlier ones, as llama.cpp's token_to_id map does. */
static void index_put(adm_vocab *v, int32_t id) {
    size_t n;
    const char *s = tok_text(v, id, &n);
    uint64_t h = tok_hash(s, n);
    for (uint64_t i = h & v->index.mask;; i = (i + 1) & v->index.mask) {
        uint64_t e = v->index.slot[i];
        if (!e || ((e ^ h) >> 32 == 0 && text_eq(v, (int32_t)(uint32_t)e - 1, s, n))) {
            v->index.slot[i] = slot_make(h, (uint32_t)id);
            return;
        }
    }
}

int32_t adm_tok_lookup(const adm_vocab *v, const char *s, size_t n) {
    uint64_t h = tok_hash(s, n);
    for (uint64_t i = h & v->index.mask;; i = (i + 1) & v->index.mask) {
        uint64_t e = v->index.slot[i];
        if (!e) return -1;
        if ((e ^ h) >> 32 == 0) {
            int32_t id = (int32_t)(uint32_t)e - 1;
            if (text_eq(v, id, s, n)) return id;
        }
    }
}

static inline bool merge_eq(const adm_vocab *v, uint32_t r, const char *s, size_t na, size_t nb) {
    return v->merge_off[r + 1] - v->merge_off[r] == na + nb && v->merge_split[r] == na &&
           memcmp(v->merge_data + v->merge_off[r], s, na + nb) == 0;
}

int32_t adm_tok_merge_rank(const adm_vocab *v, const char *a, size_t na, size_t nb) {
    uint64_t h = tok_hash(a, na + nb);
    for (uint64_t i = h & v->merges.mask;; i = (i + 1) & v->merges.mask) {
        uint64_t e = v->merges.slot[i];
        if (!e) return -1;
        if ((e ^ h) >> 32 == 0 && merge_eq(v, (uint32_t)e - 1, a, na, nb)) return (int32_t)((uint32_t)e - 1);
    }
}

/* The first of equal merges keeps its rank (llama.cpp uses emplace). */
static void merge_put(adm_vocab *v, uint32_t r) {
    const char *s = v->merge_data + v->merge_off[r];
    size_t na = v->merge_split[r], nb = v->merge_off[r + 1] - v->merge_off[r] - na;
    uint64_t h = tok_hash(s, na + nb);
    for (uint64_t i = h & v->merges.mask;; i = (i + 1) & v->merges.mask) {
        uint64_t e = v->merges.slot[i];
        if (!e) {
            v->merges.slot[i] = slot_make(h, r);
            return;
        }
        if ((e ^ h) >> 32 == 0 && merge_eq(v, (uint32_t)e - 1, s, na, nb)) return;
    }
}

/* ------------------------------------------------------------------------ */
/* Reading the keys                                                         */
/* ------------------------------------------------------------------------ */

static adm_status read_tokens(adm_vocab *v, const adm_gguf *g, const adm_gguf_value *arr, adm_error *err) {
    if (arr->arr.n == 0 || arr->arr.n > INT32_MAX - 1)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries", g->path,
                        (unsigned long long)arr->arr.n);
    v->n_tokens = (int32_t)arr->arr.n;
    uint64_t total = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) total += arr->arr.strs[i].len + 1;
    if (total > INT32_MAX)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: tokenizer.ggml.tokens holds too much text", g->path);
    v->tok_data = adm_alloc((size_t)total);
    v->tok_off = adm_calloc((size_t)v->n_tokens + 1, sizeof(uint32_t));
    if (!v->tok_data || !v->tok_off) return adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", g->path);
    uint32_t off = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        adm_str s = arr->arr.strs[i];
        v->tok_off[i] = off;
        memcpy(v->tok_data + off, s.ptr, (size_t)s.len);
        v->tok_data[off + s.len] = 0;
        off += (uint32_t)s.len + 1;
        if (s.len > (uint64_t)v->max_token_len) v->max_token_len = (int)s.len; /* < 2^31: total checked */
    }
    v->tok_off[v->n_tokens] = off;
    return ADM_OK;
}

static adm_status read_merges(adm_vocab *v, const adm_gguf *g, const adm_gguf_value *arr, adm_error *err) {
    if (arr->arr.n > UINT32_MAX - 1)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: tokenizer.ggml.merges has too many entries", g->path);
    v->n_merges = (uint32_t)arr->arr.n;
    uint64_t total = 0;
    for (uint32_t r = 0; r < v->n_merges; r++) total += arr->arr.strs[r].len;
    if (total > UINT32_MAX - 1)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: tokenizer.ggml.merges holds too much text", g->path);
    v->merge_data = adm_alloc((size_t)total);
    v->merge_off = adm_calloc((size_t)v->n_merges + 1, sizeof(uint32_t));
    v->merge_split = adm_calloc((size_t)v->n_merges + 1, sizeof(uint32_t));
    if (!v->merge_data || !v->merge_off || !v->merge_split || !table_init(&v->merges, v->n_merges))
        return adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", g->path);
    uint32_t off = 0;
    for (uint32_t r = 0; r < v->n_merges; r++) {
        adm_str s = arr->arr.strs[r];
        v->merge_off[r] = off;
        /* "left right": the separator is the first space after the first
         * byte, so a left part may itself start with a space. An entry
         * without one can never apply; it keeps its rank but joins nothing. */
        const char *sp = s.len > 1 ? memchr(s.ptr + 1, ' ', (size_t)s.len - 1) : NULL;
        if (!sp) continue;
        size_t na = (size_t)(sp - s.ptr), nb = (size_t)s.len - na - 1;
        memcpy(v->merge_data + off, s.ptr, na);
        memcpy(v->merge_data + off + na, sp + 1, nb);
        v->merge_split[r] = (uint32_t)na;
        off += (uint32_t)(na + nb);
    }
    v->merge_off[v->n_merges] = off;
    for (uint32_t r = 0; r < v->n_merges; r++)
        if (v->merge_off[r + 1] > v->merge_off[r]) merge_put(v, r);
    return ADM_OK;
}

/* A special id key: llama.cpp ignores (with a warning) ids outside the
 * vocabulary and keeps the default, as stories260K's separator of 2^32-1. */
static adm_status read_id(const adm_gguf *g, const char *key, int32_t n_tokens, int32_t *id, adm_error *err) {
    if (*id >= n_tokens) *id = -1;
    const adm_gguf_kv *kv = adm_gguf_find(g, key);
    if (!kv) return ADM_OK;
    if (!adm_gguf_type_is_int(kv->val.type))
        return adm_fail(err, ADM_ERR_FORMAT, "%s: key '%s' is a %s, expected an integer", g->path, key,
                        adm_gguf_type_name(kv->val.type));
    bool is_unsigned = kv->val.type == ADM_GGUF_UINT8 || kv->val.type == ADM_GGUF_UINT16 ||
                       kv->val.type == ADM_GGUF_UINT32 || kv->val.type == ADM_GGUF_UINT64;
    int64_t x = is_unsigned ? (kv->val.u > (uint64_t)INT32_MAX ? -1 : (int64_t)kv->val.u) : kv->val.i;
    if (x < 0 || x >= n_tokens) {
        adm_log(ADM_LOG_INFO, "%s: ignoring %s = %lld (outside the %d-token vocabulary)", g->path, key, (long long)x,
                (int)n_tokens);
        return ADM_OK;
    }
    *id = (int32_t)x;
    return ADM_OK;
}

static adm_status read_bool(const adm_gguf *g, const char *key, bool *val, adm_error *err) {
    bool found, b;
    adm_status st = adm_gguf_get_bool(g, key, &b, &found, err);
    if (st == ADM_OK && found) *val = b;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Special tokens                                                           */
/* ------------------------------------------------------------------------ */

static int32_t lookup_cstr(const adm_vocab *v, const char *s) { return adm_tok_lookup(v, s, strlen(s)); }

/* Converted models often omit the eot/fim ids; llama.cpp finds them by text
 * (the first name present wins here; llama.cpp's pick among several present
 * depends on hash order) and makes them control tokens. */
static void detect_by_text(adm_vocab *v, int32_t *id, const char *const *names) {
    if (*id >= 0) return;
    for (; *names; names++) {
        int32_t t = lookup_cstr(v, *names);
        if (t >= 0) {
            *id = t;
            v->attr[t] |= ATTR_CONTROL;
            return;
        }
    }
}

static const char *const k_eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                          "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                          "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                          "<end_of_utterance>", NULL};
static const char *const k_eom_names[] = {"<|eom_id|>", NULL};
static const char *const k_fim_pre_names[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                              "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
                                              "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
static const char *const k_fim_suf_names[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                              "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>",
                                              "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
static const char *const k_fim_mid_names[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                              "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
                                              "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL};
static const char *const k_fim_pad_names[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
static const char *const k_fim_rep_names[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
                                              "<reponame>", NULL};
static const char *const k_fim_sep_names[] = {"<|file_sep|>", NULL};

/* Tokens that end a generation wherever they appear in a vocabulary. */
static const char *const k_eog_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "[e~[", NULL};

static void mark_eog(adm_vocab *v, int32_t id) {
    if (id >= 0) v->eog[id] = 1;
}

/* Whether the token spelled name ends generations; its id goes to *id. */
static bool eog_has(const adm_vocab *v, const char *name, int32_t *id) {
    int32_t t = lookup_cstr(v, name);
    if (id) *id = t;
    return t >= 0 && v->eog[t];
}

static void detect_special(adm_vocab *v) {
    detect_by_text(v, &v->eot, k_eot_names);
    detect_by_text(v, &v->eom, k_eom_names);
    detect_by_text(v, &v->fim_pre, k_fim_pre_names);
    detect_by_text(v, &v->fim_suf, k_fim_suf_names);
    detect_by_text(v, &v->fim_mid, k_fim_mid_names);
    detect_by_text(v, &v->fim_pad, k_fim_pad_names);
    detect_by_text(v, &v->fim_rep, k_fim_rep_names);
    detect_by_text(v, &v->fim_sep, k_fim_sep_names);

    mark_eog(v, v->fim_pad);
    mark_eog(v, v->fim_rep);
    mark_eog(v, v->fim_sep);
    for (const char *const *n = k_eog_names; *n; n++) {
        int32_t id = lookup_cstr(v, *n);
        if (id >= 0) {
            v->eog[id] = 1;
            v->attr[id] |= ATTR_CONTROL;
        }
    }
    /* gpt-oss renders these channel markers as text. */
    static const char *const k_user[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};
    for (const char *const *n = k_user; *n; n++) {
        int32_t id = lookup_cstr(v, *n);
        if (id >= 0) v->attr[id] = ATTR_USER;
    }
    mark_eog(v, v->eos);
    mark_eog(v, v->eot);
    mark_eog(v, v->eom);

    /* o200k_harmony / solar-open: <|end|> ends a message, not the generation. */
    int32_t end, s;
    bool has_return = eog_has(v, "<|return|>", NULL), has_flush = eog_has(v, "<|flush|>", NULL);
    bool has_call = eog_has(v, "<|call|>", NULL) || eog_has(v, "<|calls|>", NULL);
    if (eog_has(v, "<|end|>", &end) && has_call && (has_return || has_flush)) {
        v->eog[end] = 0;
        v->attr[end] = ATTR_USER;
    }
    /* gemma4 / paddleocr: </s> is ordinary text there. */
    if (eog_has(v, "<|tool_response>", NULL) && eog_has(v, "</s>", &s)) {
        v->eog[s] = 0;
        v->attr[s] = ATTR_NORMAL;
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The tables tokenize.c uses to find special tokens in text. */
/* The trie tokenize.c finds special tokens in text with. */
static bool build_specials(adm_vocab *v) {
    uint64_t n = 0, bytes = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        uint32_t len = v->tok_off[i + 1] - v->tok_off[i] - 1;
        if ((v->attr[i] & ATTR_SPECIAL) && len > 0) n++, bytes += len;
    }
    uint64_t *keys = adm_calloc((size_t)n + 1, sizeof(uint64_t));
    v->spec_len = adm_calloc((size_t)n + 1, sizeof(uint32_t));
    v->trie = adm_calloc((size_t)bytes + 1, sizeof(tok_trie_node));
    if (!keys || !v->spec_len || !v->trie) {
        adm_free(keys);
        return false;
    }
    /* Longest first, then by id: with duplicate texts the first one stays. */
    n = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        uint32_t len = v->tok_off[i + 1] - v->tok_off[i] - 1;
        if ((v->attr[i] & ATTR_SPECIAL) && len > 0) keys[n++] = ((uint64_t)~len << 32) | (uint32_t)i;
    }
    qsort(keys, (size_t)n, sizeof(uint64_t), cmp_u64);
    v->n_trie = 1;
    for (uint64_t k = 0; k < n; k++) {
        int32_t id = (int32_t)(uint32_t)keys[k];
        size_t len;
        const uint8_t *s = (const uint8_t *)tok_text(v, id, &len);
        if (!v->n_spec_len || v->spec_len[v->n_spec_len - 1] != len) {
            if (v->n_spec_len == UINT16_MAX) break; /* 65535 distinct lengths: no real vocabulary */
            v->spec_len[v->n_spec_len++] = (uint32_t)len;
        }
        uint32_t *link = &v->trie_root[s[0]], node = 0;
        for (size_t d = 0; d < len; d++) {
            while (*link && v->trie[*link].byte != s[d]) link = &v->trie[*link].sibling;
            if (!*link) {
                node = v->n_trie++;
                v->trie[node] = (tok_trie_node){0, 0, -1, 0, s[d]};
                *link = node;
            }
            node = *link;
            link = &v->trie[node].child;
        }
        if (v->trie[node].spec < 0) {
            v->trie[node].spec = id;
            v->trie[node].len_idx = (uint16_t)(v->n_spec_len - 1);
        }
    }
    adm_free(keys);
    return true;
}

/* llama.cpp's per-model whitespace stripping around special tokens. */
static void apply_strip_rules(adm_vocab *v, const adm_gguf *g) {
    const adm_gguf_kv *kv = adm_gguf_find(g, "general.name");
    adm_str name = kv && kv->val.type == ADM_GGUF_STRING ? kv->val.s : (adm_str){"", 0};
    char lower[256];
    size_t n = ADM_MIN((size_t)name.len, sizeof(lower) - 1);
    for (size_t i = 0; i < n; i++) lower[i] = (char)tolower((unsigned char)name.ptr[i]);
    lower[n] = 0;
    if (strstr(lower, "phi-3") || strstr(lower, "phi3")) {
        for (int32_t i = 0; i < v->n_tokens; i++)
            if (v->attr[i] & ATTR_SPECIAL) v->attr[i] |= ATTR_RSTRIP;
        int32_t id = lookup_cstr(v, "</s>");
        if (id >= 0) v->attr[id] |= ATTR_RSTRIP;
        static const char *const k_keep[] = {"<unk>", "<s>", "<|endoftext|>", NULL};
        for (const char *const *k = k_keep; *k; k++)
            if ((id = lookup_cstr(v, *k)) >= 0) v->attr[id] &= (uint8_t)~ATTR_RSTRIP;
    }
}

/* ------------------------------------------------------------------------ */
/* Pieces                                                                   */
/* ------------------------------------------------------------------------ */

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte of a "<0xXX>" token, or -1. */
static int byte_token_value(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int hi = hex_digit(s[3]), lo = hex_digit(s[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Renders token id into dst (which has room for its text length + 1);
 * returns the length. Control, unknown and user-defined tokens render as
 * their text; others as the bytes they encode. */
static size_t render_piece(const adm_vocab *v, int32_t id, char *dst) {
    size_t n;
    const char *s = tok_text(v, id, &n);
    uint8_t a = v->attr[id];
    if (a & ATTR_SPECIAL) {
        memcpy(dst, s, n);
        return n;
    }
    if (a & ATTR_NORMAL) {
        size_t o = 0;
        if (v->type != TOK_BPE) { /* SentencePiece / WordPiece: U+2581 stands for a space */
            for (size_t i = 0; i < n;) {
                if (i + 3 <= n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
                    dst[o++] = ' ';
                    i += 3;
                } else {
                    dst[o++] = s[i++];
                }
            }
            return o;
        }
        for (size_t i = 0; i < n;) { /* byte-level BPE: each character is one byte */
            int len = adm_utf8_check((const uint8_t *)s + i, n - i);
            if (len <= 0) {
                dst[o++] = s[i++]; /* not UTF-8: keep the byte */
                continue;
            }
            int b = tok_cp_to_byte(tok_utf8_decode((const uint8_t *)s + i, len));
            if (b >= 0) {
                dst[o++] = (char)b;
            } else { /* outside the byte alphabet: keep the character itself */
                memcpy(dst + o, s + i, (size_t)len);
                o += (size_t)len;
            }
            i += (size_t)len;
        }
        return o;
    }
    if (a & ATTR_BYTE) {
        int b = byte_token_value(s, n);
        if (b >= 0) {
            dst[0] = (char)b;
            return 1;
        }
        memcpy(dst, s, n);
        return n;
    }
    return 0; /* unused or undefined tokens render as nothing */
}

static bool build_pieces(adm_vocab *v) {
    /* No piece is longer than its text (or 1 byte for a short byte token). */
    size_t cap = (size_t)v->tok_off[v->n_tokens] + (size_t)v->n_tokens;
    v->piece_data = adm_alloc(cap);
    v->piece_off = adm_calloc((size_t)v->n_tokens + 1, sizeof(uint32_t));
    if (!v->piece_data || !v->piece_off) return false;
    uint32_t off = 0;
    for (int32_t i = 0; i < v->n_tokens; i++) {
        v->piece_off[i] = off;
        size_t n = render_piece(v, i, v->piece_data + off);
        v->piece_data[off + n] = 0;
        off += (uint32_t)n + 1;
        if (n > v->max_piece_len) v->max_piece_len = (uint32_t)n;
    }
    v->piece_off[v->n_tokens] = off;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */
/* ------------------------------------------------------------------------ */

static uint8_t attr_of_type(int64_t t) {
    switch (t) {
    case 1: return ATTR_NORMAL;
    case 2: return ATTR_UNKNOWN;
    case 3: return ATTR_CONTROL;
    case 4: return ATTR_USER;
    case 5: return ATTR_UNUSED;
    case 6: return ATTR_BYTE;
    default: return 0;
    }
}

static adm_status read_arrays(adm_vocab *v, const adm_gguf *g, const adm_gguf_value *tokens, adm_error *err) {
    adm_status st = read_tokens(v, g, tokens, err);
    if (st != ADM_OK) return st;
    size_t n = (size_t)v->n_tokens;
    v->scores = adm_calloc(n, sizeof(float));
    v->attr = adm_calloc(n, 1);
    v->eog = adm_calloc(n, 1);
    if (!v->scores || !v->attr || !v->eog || !table_init(&v->index, n))
        return adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", g->path);

    const adm_gguf_value *arr;
    bool found;
    st = adm_gguf_get_arr(g, "tokenizer.ggml.scores", ADM_GGUF_FLOAT64, &arr, &found, err);
    if (st != ADM_OK) return st;
    if (found) {
        if (arr->arr.n < n)
            return adm_fail(err, ADM_ERR_FORMAT, "%s: tokenizer.ggml.scores has %llu entries for %zu tokens",
                            g->path, (unsigned long long)arr->arr.n, n);
        for (size_t i = 0; i < n; i++) v->scores[i] = (float)adm_gguf_arr_float(arr, i);
    }
    st = adm_gguf_get_arr(g, "tokenizer.ggml.token_type", ADM_GGUF_INT64, &arr, &found, err);
    if (st != ADM_OK) return st;
    if (found && arr->arr.n < n)
        return adm_fail(err, ADM_ERR_FORMAT, "%s: tokenizer.ggml.token_type has %llu entries for %zu tokens", g->path,
                        (unsigned long long)arr->arr.n, n);
    for (size_t i = 0; i < n; i++) v->attr[i] = found ? attr_of_type(adm_gguf_arr_int(arr, i)) : ATTR_NORMAL;
    for (int32_t i = 0; i < v->n_tokens; i++)
        if (v->tok_off[i + 1] - v->tok_off[i] > 1) index_put(v, i);
    return ADM_OK;
}

static adm_status read_ids_and_flags(adm_vocab *v, const adm_gguf *g, adm_error *err) {
    struct {
        const char *key;
        int32_t *id;
    } ids[] = {
        {"tokenizer.ggml.bos_token_id", &v->bos},          {"tokenizer.ggml.eos_token_id", &v->eos},
        {"tokenizer.ggml.eot_token_id", &v->eot},          {"tokenizer.ggml.eom_token_id", &v->eom},
        {"tokenizer.ggml.unknown_token_id", &v->unk},      {"tokenizer.ggml.seperator_token_id", &v->sep},
        {"tokenizer.ggml.padding_token_id", &v->pad},      {"tokenizer.ggml.mask_token_id", &v->mask},
        {"tokenizer.ggml.fim_pre_token_id", &v->fim_pre},  {"tokenizer.ggml.fim_suf_token_id", &v->fim_suf},
        {"tokenizer.ggml.fim_mid_token_id", &v->fim_mid},  {"tokenizer.ggml.fim_pad_token_id", &v->fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &v->fim_rep},  {"tokenizer.ggml.fim_sep_token_id", &v->fim_sep},
        {"tokenizer.ggml.prefix_token_id", &v->fim_pre},   {"tokenizer.ggml.suffix_token_id", &v->fim_suf},
        {"tokenizer.ggml.middle_token_id", &v->fim_mid},
    };
    adm_status st;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        if ((st = read_id(g, ids[i].key, v->n_tokens, ids[i].id, err)) != ADM_OK) return st;
    if ((st = read_bool(g, "tokenizer.ggml.add_bos_token", &v->add_bos, err)) != ADM_OK ||
        (st = read_bool(g, "tokenizer.ggml.add_eos_token", &v->add_eos, err)) != ADM_OK ||
        (st = read_bool(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix, err)) != ADM_OK ||
        (st = read_bool(g, "tokenizer.ggml.normalizer.lowercase", &v->lowercase, err)) != ADM_OK)
        return st;
    v->strip_accents = v->lowercase;
    return read_bool(g, "tokenizer.ggml.normalizer.strip_accents", &v->strip_accents, err);
}

/* True if no token has U+2581 right after a character other than U+2581
 * (SentencePiece models trained with split_by_whitespace): then a merge
 * never joins the end of one word to the next word's U+2581. */
static bool no_inner_space(const adm_vocab *v) {
    for (int32_t id = 0; id < v->n_tokens; id++) {
        size_t n;
        const char *s = tok_text(v, id, &n);
        for (size_t k = 1; k + 3 <= n; k++)
            if (memcmp(s + k, "\xe2\x96\x81", 3) == 0 && (k < 3 || memcmp(s + k - 3, "\xe2\x96\x81", 3) != 0))
                return false;
    }
    return true;
}

/* The per-type defaults llama.cpp starts from before reading the keys. */
static adm_status set_type(adm_vocab *v, const adm_gguf *g, adm_str model, adm_str pre, bool has_pre, bool *no_vocab,
                           adm_error *err) {
    v->bos = v->eos = v->eot = v->eom = v->unk = v->sep = v->pad = v->mask = -1;
    v->fim_pre = v->fim_suf = v->fim_mid = v->fim_pad = v->fim_rep = v->fim_sep = -1;
    v->lowercase = true;
    *no_vocab = false;
    if (adm_str_eq(model, "llama")) {
        v->type = TOK_SPM;
        v->bos = 1, v->eos = 2, v->unk = 0;
        v->add_space_prefix = true;
        v->add_bos = true;
    } else if (adm_str_eq(model, "bert")) {
        v->type = TOK_WPM;
        v->bos = 101, v->unk = 100, v->sep = 102, v->pad = 0, v->mask = 103;
        v->add_bos = true;
    } else if (adm_str_eq(model, "gpt2")) {
        v->type = TOK_BPE;
        tok_pretok_info info;
        adm_status st = adm_pretok_create(has_pre ? pre.ptr : NULL, (size_t)pre.len, g->path, &v->pretok, &info, err);
        if (st != ADM_OK) return st;
        v->ignore_merges = info.ignore_merges;
        v->add_bos = info.add_bos;
    } else if (adm_str_eq(model, "none") || adm_str_eq(model, "no_vocab")) {
        *no_vocab = true;
    } else {
        return adm_fail(err, ADM_ERR_UNSUPPORTED,
                        "%s: tokenizer.ggml.model '%.*s' is not supported (adamas knows 'llama' (SentencePiece), "
                        "'gpt2' (byte-level BPE) and 'bert' (WordPiece))",
                        g->path, (int)ADM_MIN(model.len, 64), model.ptr);
    }
    return ADM_OK;
}

adm_status adm_vocab_from_gguf(const adm_gguf *g, adm_vocab **out, adm_error *err) {
    *out = NULL;
    const adm_gguf_value *tokens;
    adm_str model = {"", 0}, pre = {"", 0};
    bool found, has_pre, no_vocab;
    adm_status st = adm_gguf_get_arr(g, "tokenizer.ggml.tokens", ADM_GGUF_STRING, &tokens, &found, err);
    if (st != ADM_OK || !found) return st;
    if ((st = adm_gguf_get_str(g, "tokenizer.ggml.model", &model, &found, err)) != ADM_OK) return st;
    if (!found) return adm_fail(err, ADM_ERR_FORMAT, "%s: tokenizer.ggml.tokens without tokenizer.ggml.model", g->path);
    if ((st = adm_gguf_get_str(g, "tokenizer.ggml.pre", &pre, &has_pre, err)) != ADM_OK) return st;

    adm_vocab *v = adm_calloc(1, sizeof(*v));
    if (!v) return adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", g->path);
    if ((st = set_type(v, g, model, pre, has_pre, &no_vocab, err)) != ADM_OK || no_vocab) goto fail;
    if ((st = read_arrays(v, g, tokens, err)) != ADM_OK) goto fail;
    if (v->type == TOK_BPE) {
        const adm_gguf_value *merges;
        if ((st = adm_gguf_get_arr(g, "tokenizer.ggml.merges", ADM_GGUF_STRING, &merges, &found, err)) != ADM_OK)
            goto fail;
        if (!found) {
            st = adm_fail(err, ADM_ERR_FORMAT, "%s: a gpt2 (BPE) vocabulary without tokenizer.ggml.merges", g->path);
            goto fail;
        }
        if ((st = read_merges(v, g, merges, err)) != ADM_OK) goto fail;
    }
    if ((st = read_ids_and_flags(v, g, err)) != ADM_OK) goto fail;
    detect_special(v);
    for (int b = 0; b < 256; b++) {
        char hex[7];
        static const char k_hex[] = "0123456789ABCDEF";
        memcpy(hex, "<0x", 3);
        hex[3] = k_hex[b >> 4], hex[4] = k_hex[b & 15], hex[5] = '>', hex[6] = 0;
        int32_t id = adm_tok_lookup(v, hex, 6);
        char c = (char)b;
        v->byte_token[b] = id >= 0 ? id : adm_tok_lookup(v, &c, 1);
    }
    if (v->type == TOK_SPM) v->spm_word_split = no_inner_space(v);
    if (!build_specials(v) || !build_pieces(v)) {
        st = adm_fail(err, ADM_ERR_NOMEM, "%s: out of memory", g->path);
        goto fail;
    }
    apply_strip_rules(v, g);
    *out = v;
    return ADM_OK;
fail:
    adm_vocab_free(v);
    return st;
}

adm_status adm_vocab_load(const char *path, adm_vocab **out, adm_error *err) {
    adm_gguf *g = NULL;
    if (!out) return adm_fail(err, ADM_ERR_INVALID_ARG, "adm_vocab_load: out is NULL");
    *out = NULL;
    if (!path) return adm_fail(err, ADM_ERR_INVALID_ARG, "adm_vocab_load: path is NULL");
    adm_status st = adm_gguf_open(path, &g, err);
    if (st != ADM_OK) return st;
    st = adm_vocab_from_gguf(g, out, err);
    if (st == ADM_OK && !*out)
        st = adm_fail(err, ADM_ERR_FORMAT, "%s: the file has no vocabulary (no tokenizer.ggml.tokens)", path);
    adm_gguf_free(g);
    return st;
}

void adm_vocab_free(adm_vocab *v) {
    if (!v) return;
    adm_pretok_free(v->pretok);
    adm_free(v->tok_data);
    adm_free(v->tok_off);
    adm_free(v->scores);
    adm_free(v->attr);
    adm_free(v->eog);
    adm_free(v->index.slot);
    adm_free(v->merge_data);
    adm_free(v->merge_off);
    adm_free(v->merge_split);
    adm_free(v->merges.slot);
    adm_free(v->trie);
    adm_free(v->spec_len);
    adm_free(v->piece_data);
    adm_free(v->piece_off);
    gr_trie_free(atomic_load(&v->gtrie));
    adm_free(v);
}

/* ------------------------------------------------------------------------ */
/* Queries                                                                  */
/* ------------------------------------------------------------------------ */

static inline bool valid_id(const adm_vocab *v, int32_t id) { return v && id >= 0 && id < v->n_tokens; }

int adm_vocab_n_tokens(const adm_vocab *v) { return v ? v->n_tokens : 0; }
int32_t adm_vocab_bos(const adm_vocab *v) { return v ? v->bos : -1; }
int32_t adm_vocab_eos(const adm_vocab *v) { return v ? v->eos : -1; }
int32_t adm_vocab_eot(const adm_vocab *v) { return v ? v->eot : -1; }
bool adm_vocab_is_eog(const adm_vocab *v, int32_t id) { return valid_id(v, id) && v->eog[id]; }
bool adm_vocab_is_control(const adm_vocab *v, int32_t id) { return valid_id(v, id) && (v->attr[id] & ATTR_CONTROL); }
bool adm_vocab_add_bos(const adm_vocab *v) { return v && v->add_bos && v->bos >= 0; }
bool adm_vocab_add_eos(const adm_vocab *v) { return v && v->add_eos && v->eos >= 0; }

const char *adm_vocab_piece(const adm_vocab *v, int32_t id, size_t *len) {
    if (!valid_id(v, id)) return NULL;
    size_t n;
    const char *s = tok_text(v, id, &n);
    if (len) *len = n;
    return s;
}

int32_t adm_vocab_find(const adm_vocab *v, const char *piece, size_t len) {
    if (!v || !piece) return -1;
    return adm_tok_lookup(v, piece, len);
}
