/*
 * internal.h - private to src/tokenizer/: the loaded vocabulary (struct
 * adm_vocab), the scratch memory one tokenization works in, and the entry
 * points the files of this folder call in one another (vocab.c builds the
 * vocabulary, pretok.c splits text for BPE, spm.c/bpe.c/wpm.c turn text into
 * ids, tokenize.c cuts out special tokens and dispatches, detok.c renders ids
 * back to bytes). Like sqliteInt.h, one header serves the whole folder.
 */
#ifndef ADM_TOKENIZER_INTERNAL_H
#define ADM_TOKENIZER_INTERNAL_H

#include "vocab.h"

#include <stdatomic.h>

typedef enum tok_type {
    TOK_SPM = 1, /* tokenizer.ggml.model = llama: SentencePiece-style score merges */
    TOK_BPE,     /* gpt2: byte-level BPE with a regex pre-tokenizer */
    TOK_WPM,     /* bert: WordPiece, greedy longest match */
} tok_type;

/* Token attributes: bits, combined the way llama.cpp combines them (a
 * user-defined token that looks like an end-of-turn marker becomes
 * USER|CONTROL, and the CONTROL bit decides how it is treated). */
enum {
    ATTR_NORMAL = 1 << 0,
    ATTR_UNKNOWN = 1 << 1,
    ATTR_CONTROL = 1 << 2,
    ATTR_USER = 1 << 3,
    ATTR_UNUSED = 1 << 4,
    ATTR_BYTE = 1 << 5,
    ATTR_LSTRIP = 1 << 6, /* a matched special token eats the whitespace on its left */
    ATTR_RSTRIP = 1 << 7, /* ... or on its right */
};
#define ATTR_SPECIAL (ATTR_CONTROL | ATTR_USER | ATTR_UNKNOWN)

/* An open-addressing hash table of uint64 slots: the high 32 bits hold the
 * top of the key's hash (a cheap first filter), the low 32 bits an index + 1
 * (0 = empty). Keys live elsewhere; the caller compares them. */
typedef struct tok_table {
    uint64_t *slot;
    uint64_t mask;
} tok_table;

typedef struct tok_pretok tok_pretok; /* pretok.c: compiled split regexes */

typedef struct tok_trie_node {
    uint32_t child, sibling; /* node indices, 0 = none */
    int32_t spec;            /* id of the special token ending here, or -1 */
    uint16_t len_idx;        /* its length's index in spec_len */
    uint8_t byte;
} tok_trie_node;

struct adm_vocab {
    tok_type type;
    int32_t n_tokens;

    /* Token texts exactly as stored, each NUL-terminated: text i is
     * tok_data[tok_off[i] .. tok_off[i+1]-1), the last byte being the NUL. */
    char *tok_data;
    uint32_t *tok_off;    /* n_tokens + 1 */
    float *scores;        /* n_tokens; SPM merge priorities (0 when absent) */
    uint8_t *attr;        /* n_tokens, ATTR_* */
    uint8_t *eog;         /* n_tokens, 1 for end-of-generation tokens */
    tok_table index;      /* text -> id (the last id wins for duplicate texts, as in llama.cpp) */
    int max_token_len;

    /* BPE merges, rank = position in tokenizer.ggml.merges. Merge r joins
     * merge_data[merge_off[r] .. merge_off[r] + merge_split[r]) with the rest
     * up to merge_off[r+1]; the table is keyed by the joined bytes. */
    uint32_t n_merges;
    char *merge_data;
    uint32_t *merge_off;   /* n_merges + 1 */
    uint32_t *merge_split; /* n_merges */
    tok_table merges;

    /* Special ids (-1 = none). */
    int32_t bos, eos, eot, eom, unk, sep, pad, mask;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    bool spm_word_split; /* SPM: no token has U+2581 right after another character */
    bool lowercase, strip_accents; /* WPM normalizer */

    int32_t byte_token[256]; /* SPM byte fallback: the <0xXX> token of each byte, or -1 */

    /* Tokens recognized in raw text (CONTROL, USER or UNKNOWN), in a byte
     * trie: trie_root[b] is the node of first byte b (0 = none); a node's
     * children are a sibling list; node.spec is the token ending there
     * (-1 if none). spec_len[0 .. n_spec_len) are the distinct lengths of
     * these tokens, longest first; node.len_idx indexes it. */
    tok_trie_node *trie; /* trie[0] unused */
    uint32_t n_trie;
    uint32_t trie_root[256];
    uint32_t n_spec_len;
    uint32_t *spec_len;

    /* What each token renders to (ADM_DETOK_SPECIAL semantics), laid out like tok_data. */
    char *piece_data;
    uint32_t *piece_off;
    uint32_t max_piece_len;

    tok_pretok *pretok; /* BPE only */

    /* Structured output's byte trie of the vocabulary (grammar/trie.c),
     * built on first use by any thread and freed with the vocabulary. */
    _Atomic(struct gr_trie *) gtrie;
};

/* ---- hashing and lookups (vocab.c) ---- */

static inline uint64_t tok_hash(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)n * 0xFF51AFD7ED558CCDull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)s[i] << (8 * i);
    h = (h ^ v) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 32);
}

static inline const char *tok_text(const adm_vocab *v, int32_t id, size_t *len) {
    *len = v->tok_off[id + 1] - v->tok_off[id] - 1;
    return v->tok_data + v->tok_off[id];
}

static inline const char *tok_piece(const adm_vocab *v, int32_t id, size_t *len) {
    *len = v->piece_off[id + 1] - v->piece_off[id] - 1;
    return v->piece_data + v->piece_off[id];
}

/* The id of the token whose text is exactly s[0..n), or -1. */
int32_t adm_tok_lookup(const adm_vocab *v, const char *s, size_t n);
/* The rank of the merge joining a[0..na) and a[na..na+nb), or -1. */
int32_t adm_tok_merge_rank(const adm_vocab *v, const char *a, size_t na, size_t nb);

/* ---- per-call scratch (tokenize.c) ---- */

/* A symbol of a word being merged: bytes [off, off+n) of the word, linked to
 * its neighbours; n == 0 once merged into its left neighbour. */
typedef struct tok_sym {
    uint32_t off, n;
    int32_t prev, next;
} tok_sym;

/* A candidate merge of symbols left and left's neighbour `right`. Lower
 * key pops first: (priority << 32) | left, so ties go to the leftmost pair. */
typedef struct tok_pair {
    uint64_t key;
    int32_t right;
    uint32_t size; /* bytes of both symbols when the pair was made; stale otherwise */
} tok_pair;

typedef struct tok_scratch {
    int32_t *ids; /* the output */
    size_t n_ids, cap_ids;
    char *buf; /* text being prepared (SPM escaping, BPE byte encoding, WPM words) */
    size_t cap_buf;
    char *norm; /* NFC-normalized text (qwen2) */
    size_t cap_norm;
    tok_sym *sym;
    size_t cap_sym;
    tok_pair *heap;
    size_t n_heap, cap_heap;
    uint32_t *seg, *seg2; /* pre-tokenizer word boundaries, pairs [start, end) */
    size_t n_seg, cap_seg, n_seg2, cap_seg2;
    void *match_data; /* pcre2_match_data, created on first use */
} tok_scratch;

/* Grows *p (elements of `elem` bytes, *cap of them) to hold at least need. */
bool adm_tok_reserve(void **p, size_t *cap, size_t need, size_t elem);
bool adm_tok_push(tok_scratch *s, int32_t id);

/* Min-heap of candidate merges. */
bool adm_tok_heap_push(tok_scratch *s, tok_pair p);
tok_pair adm_tok_heap_pop(tok_scratch *s);

/* Merges the symbols s->sym[0..n_sym) of `word` while the heap (seeded by
 * the caller through add_pair) has valid pairs. add_pair(ctx, left, right)
 * is called for every new neighbourhood and pushes a pair if one applies. */
typedef bool (*tok_add_pair_fn)(void *ctx, int32_t left, int32_t right);
bool adm_tok_merge_symbols(tok_scratch *s, int32_t n_sym, tok_add_pair_fn add_pair, void *ctx);

/* ---- the tokenizers (spm.c, bpe.c, wpm.c): append ids for raw text ---- */

bool adm_spm_tokenize(const adm_vocab *v, tok_scratch *s, const char *text, size_t len, bool add_prefix);
bool adm_bpe_tokenize(const adm_vocab *v, tok_scratch *s, const char *text, size_t len);
bool adm_wpm_tokenize(const adm_vocab *v, tok_scratch *s, const char *text, size_t len);

/* ---- the BPE pre-tokenizer (pretok.c) ---- */

typedef struct tok_pretok_info {
    bool ignore_merges; /* a word that is a token is taken whole (llama3) */
    bool add_bos;       /* default of tokenizer.ggml.add_bos_token */
} tok_pretok_info;

/* Compiles the pre-tokenizer named by tokenizer.ggml.pre (name NULL: absent,
 * llama.cpp's "default"). ADM_ERR_UNSUPPORTED for a name adamas does not
 * know; `path` is for messages. */
adm_status adm_pretok_create(const char *name, size_t name_len, const char *path, tok_pretok **out,
                             tok_pretok_info *info, adm_error *err);
void adm_pretok_free(tok_pretok *p);
/* Normalizes (if the pre-tokenizer does: NFC for qwen2) and splits
 * text[0..len) into words. On success *words points at the text the word
 * offsets refer to (text itself or s->norm), and the words are the pairs
 * s->seg[0 .. 2 * s->n_seg). */
bool adm_pretok_split(const tok_pretok *p, tok_scratch *s, const char *text, size_t len, const char **words);

/* Frees the match data adm_pretok_split keeps in tok_scratch. */
void adm_pretok_scratch_free(tok_scratch *s);

/* The names adm_pretok_create accepts, for messages and docs ("gpt-2, ..."). */
const char *adm_pretok_names(void);

/* ---- UTF-8 ---- */

/* Length of the UTF-8 sequence a lead byte announces (1 for stray bytes),
 * as llama.cpp splits text into characters: no validation. */
static inline size_t tok_utf8_len(uint8_t c) {
    static const uint8_t k_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return k_len[c >> 4];
}

/* Validates the character at s[0..n): returns its length (> 0) if it is
 * well-formed, 0 if s is a proper prefix of a well-formed character (more
 * bytes may complete it), or -k if its first k bytes are an ill-formed
 * sequence (Unicode's "maximal subpart": replace them with one U+FFFD). */
int adm_utf8_check(const uint8_t *s, size_t n);

/* Decodes the well-formed character at s (length from adm_utf8_check). */
static inline uint32_t tok_utf8_decode(const uint8_t *s, int len) {
    switch (len) {
    case 1: return s[0];
    case 2: return ((uint32_t)(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    case 3: return ((uint32_t)(s[0] & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    default:
        return ((uint32_t)(s[0] & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
               (s[3] & 0x3F);
    }
}

static inline int tok_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* GPT-2's byte-level alphabet: byte b is written as code point
 * tok_byte_to_cp(b), chosen so that every byte is a printable character. */
static inline uint32_t tok_byte_to_cp(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    /* the others are numbered from 256 in byte order: 0x00-0x20, 0x7F-0xA0, 0xAD */
    if (b <= 0x20) return 256u + b;
    if (b <= 0xA0) return 256u + 33 + (b - 0x7Fu);
    return 256u + 33 + 34; /* 0xAD */
}

/* The byte a GPT-2 alphabet code point stands for, or -1. */
static inline int tok_cp_to_byte(uint32_t cp) {
    if (cp < 256) return tok_byte_to_cp((uint8_t)cp) == cp ? (int)cp : -1;
    if (cp < 256 + 33) return (int)(cp - 256);
    if (cp < 256 + 33 + 34) return (int)(cp - 256 - 33 + 0x7F);
    if (cp == 256 + 33 + 34) return 0xAD;
    return -1;
}

#endif
