/*
 * fuzz_tokenizer.c - libFuzzer target: arbitrary text through every kind of
 * vocabulary adamas tokenizes (SentencePiece with byte fallback, byte-level
 * BPE with each family of pre-tokenizer, WordPiece), then back to text.
 *
 * Input: byte 0 picks the vocabulary (k_vocabs, loaded once each from
 * $SHARED/testdata/tokenizer; SHARED defaults to ../shared, the layout of
 * a checkout, so run from the repository root), byte 1 picks flags and the
 * mode, the rest is the text (or, in id mode, token ids for the decoders).
 *
 * Checked, aborting on a violation so that libFuzzer reports the input:
 *  - adm_tokenize: the count equals what a full buffer receives, a short
 *    buffer receives a prefix and nothing past its end (exact-size heap
 *    buffers, so ASan sees any overflow), every id is in range, and
 *    ADM_TOKENIZE_ADD_SPECIAL only wraps the plain result in BOS/EOS;
 *  - decode(encode(x)) == x where the vocabulary is lossless: byte-level
 *    BPE for any bytes (with NFC applied first for the Qwen2 pre-tokenizer,
 *    then only for valid UTF-8), SentencePiece with byte fallback for any
 *    bytes (U+2581 decodes as a space) unless a special token was cut out
 *    (a dummy-prefix space follows it); also with ADM_TOKENIZE_PARSE_SPECIAL
 *    + ADM_DETOK_SPECIAL; never when a matched special token stripped the
 *    whitespace beside it (LSTRIP/RSTRIP, Phi-3); WordPiece normalizes and
 *    is not checked for this;
 *  - adm_detokenize: the same length contract as adm_tokenize, NUL
 *    termination when there is room, and the concatenation of
 *    adm_token_to_bytes (before the leading-space rule);
 *  - the streaming detokenizer: every chunk is valid UTF-8 of the length it
 *    reports, and all chunks together are exactly the whole detokenized text
 *    with each maximal ill-formed subsequence replaced by U+FFFD (computed
 *    here independently); reset starts over identically.
 */
#include "adamas.h"
#include "tokenizer/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* How decoding relates to the text that was encoded. */
typedef enum lossless {
    LOSSY = 0,  /* WordPiece: lower-cased, accents stripped, [UNK] */
    EXACT,      /* byte-level BPE: every byte string comes back */
    EXACT_NFC,  /* byte-level BPE after NFC: valid UTF-8 comes back in NFC */
    EXACT_SPM,  /* SentencePiece, byte fallback: every byte string comes back, U+2581 as a space */
} lossless;

/* The order is part of the corpus format (byte 0): append only. */
static const struct {
    const char *path; /* under $SHARED */
    lossless kind;
} k_vocabs[] = {
    {"testdata/tokenizer/ggml-vocab-llama-spm.gguf", EXACT_SPM},
    {"testdata/tokenizer/ggml-vocab-llama-bpe.gguf", EXACT},
    {"testdata/tokenizer/ggml-vocab-qwen2.gguf", EXACT_NFC},
    {"testdata/tokenizer/ggml-vocab-gpt-2.gguf", EXACT},
    {"testdata/tokenizer/ggml-vocab-bert-bge.gguf", LOSSY},
    {"testdata/tokenizer/ggml-vocab-phi-3.gguf", EXACT_SPM},
    {"testdata/tokenizer/ggml-vocab-baichuan.gguf", EXACT_SPM},
    {"testdata/tokenizer/ggml-vocab-deepseek-llm.gguf", EXACT},
    {"testdata/tokenizer/ggml-vocab-deepseek-coder.gguf", EXACT},
    {"testdata/tokenizer/ggml-vocab-falcon.gguf", EXACT},
    {"testdata/tokenizer/ggml-vocab-mpt.gguf", EXACT},
    {"testdata/tokenizer/ggml-vocab-starcoder.gguf", EXACT},
    {"testdata/tokenizer/ggml-vocab-refact.gguf", EXACT},
    {"testdata/tokenizer/ggml-vocab-gpt-neox.gguf", EXACT},
    {"models/stories260K.gguf", EXACT_SPM},
};
#define N_VOCABS (sizeof(k_vocabs) / sizeof(k_vocabs[0]))

enum {
    MODE_ADD_SPECIAL = 1,   /* ADM_TOKENIZE_ADD_SPECIAL in the second tokenization */
    MODE_PARSE_SPECIAL = 2, /* ADM_TOKENIZE_PARSE_SPECIAL in the second tokenization */
    MODE_DETOK_SPECIAL = 4, /* ADM_DETOK_SPECIAL for the decoders */
    MODE_STRIP_SPACE = 8,   /* ADM_DETOK_STRIP_SPACE for the decoders */
    MODE_IDS = 16,          /* the rest is token ids (3 bytes each), not text */
};

#define CHECK(cond)                                                                                 \
    do {                                                                                            \
        if (!(cond)) {                                                                              \
            fprintf(stderr, "fuzz_tokenizer: %s: check failed at line %d: %s\n", g_name, __LINE__, \
                    #cond);                                                                         \
            abort();                                                                                \
        }                                                                                           \
    } while (0)

static const char *g_name = ""; /* the vocabulary being checked, for CHECK's message */

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

/* GPT-2's byte alphabet: printable Latin-1 bytes stand for themselves, the
 * others (controls, space, DEL, NBSP, soft hyphen) for U+0100 onward in order. */
static uint32_t byte_char(uint8_t b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) return b;
    uint32_t k = 0;
    for (uint32_t c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE)) k++;
    return 256 + k;
}

typedef struct loaded_vocab {
    adm_vocab *v;
    /* Byte-level BPE: byte b has a token of its own that decodes to b. Not
     * all do: Falcon, MPT, StarCoder, ... have no token for the 13 bytes
     * that never occur in UTF-8 (C0, C1, F5..FF), which are then dropped,
     * and DeepSeek LLM has them only as added tokens that decode as text
     * (byte FF becomes U+00FF). Text with such bytes is not checked. */
    bool byte_kept[256];
} loaded_vocab;

static const loaded_vocab *vocab(size_t i) {
    static loaded_vocab loaded[N_VOCABS];
    loaded_vocab *lv = &loaded[i];
    if (lv->v) return lv;
    const char *base = getenv("SHARED");
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", base && *base ? base : "../shared", k_vocabs[i].path);
    adm_error err;
    if (adm_vocab_load(path, &lv->v, &err) != ADM_OK) {
        /* A missing vocabulary must not pass as "no finding". */
        fprintf(stderr, "fuzz_tokenizer: %s (run from the repository root, or set SHARED)\n", err.msg);
        abort();
    }
    for (int b = 0; b < 256; b++) {
        char text[8], got[8];
        int32_t id;
        if (k_vocabs[i].kind == EXACT_SPM) { /* the table's claim: every byte has a <0xXX> token */
            snprintf(text, sizeof(text), "<0x%02X>", b);
            id = adm_vocab_find(lv->v, text, 6);
            if (id < 0) {
                fprintf(stderr, "fuzz_tokenizer: %s has no byte token %s\n", path, text);
                abort();
            }
        } else {
            uint32_t c = byte_char((uint8_t)b);
            size_t n = c < 0x80 ? 1 : 2; /* all below U+0800 */
            if (n == 1) text[0] = (char)c;
            else text[0] = (char)(0xC0 | (c >> 6)), text[1] = (char)(0x80 | (c & 0x3F));
            id = adm_vocab_find(lv->v, text, n);
        }
        lv->byte_kept[b] = id >= 0 && adm_token_to_bytes(lv->v, id, got, 8, false) == 1 && (uint8_t)got[0] == b;
    }
    return lv;
}

/* ------------------------------------------------------------------------ */
/* Oracles written independently of src/tokenizer                           */
/* ------------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 character at s[0..n) (Unicode table 3-7),
 * or 0 if ill-formed; *bad is then the length of the maximal ill-formed
 * subpart (at least 1), which one U+FFFD replaces. */
static size_t utf8_char(const uint8_t *s, size_t n, size_t *bad) {
    static const struct {
        uint8_t lo0, hi0, lo1, hi1;
        size_t len;
    } k_rows[] = {
        {0x00, 0x7F, 0, 0, 1},       {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
        {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3},
        {0xF0, 0xF0, 0x90, 0xBF, 4}, {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
    };
    *bad = 1;
    for (size_t r = 0; r < sizeof(k_rows) / sizeof(k_rows[0]); r++) {
        if (s[0] < k_rows[r].lo0 || s[0] > k_rows[r].hi0) continue;
        size_t len = k_rows[r].len, k = 1;
        for (; k < len && k < n; k++) {
            uint8_t lo = k == 1 ? k_rows[r].lo1 : 0x80, hi = k == 1 ? k_rows[r].hi1 : 0xBF;
            if (s[k] < lo || s[k] > hi) break;
        }
        if (k == len) return len;
        *bad = k;
        return 0;
    }
    return 0;
}

static bool valid_utf8(const char *p, size_t n) {
    for (size_t i = 0, bad; i < n;) {
        size_t k = utf8_char((const uint8_t *)p + i, n - i, &bad);
        if (!k) return false;
        i += k;
    }
    return true;
}

/* p[0..n) with each maximal ill-formed subpart replaced by U+FFFD; malloc'd. */
static char *sanitize(const char *p, size_t n, size_t *out_len) {
    char *o = xmalloc(3 * n + 1);
    size_t m = 0;
    for (size_t i = 0, bad; i < n;) {
        size_t k = utf8_char((const uint8_t *)p + i, n - i, &bad);
        if (k) {
            memcpy(o + m, p + i, k);
            m += k, i += k;
        } else {
            memcpy(o + m, "\xef\xbf\xbd", 3);
            m += 3, i += bad;
        }
    }
    *out_len = m;
    return o;
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                   */
/* ------------------------------------------------------------------------ */

/* Tokenizes with every buffer size that matters; returns malloc'd ids. */
static int32_t *tokenize(const adm_vocab *v, const char *text, size_t len, unsigned flags, int64_t *n) {
    const int64_t need = adm_tokenize(v, text, (int64_t)len, NULL, 0, flags);
    CHECK(need >= 0);
    int32_t *ids = xmalloc((size_t)need * sizeof(int32_t));
    CHECK(adm_tokenize(v, text, (int64_t)len, ids, need, flags) == need);
    const int n_tok = adm_vocab_n_tokens(v);
    for (int64_t i = 0; i < need; i++) CHECK(ids[i] >= 0 && ids[i] < n_tok);
    if (need > 1) { /* a short buffer gets a prefix, and nothing past its end */
        const int64_t half = need / 2;
        int32_t *part = xmalloc((size_t)half * sizeof(int32_t));
        CHECK(adm_tokenize(v, text, (int64_t)len, part, half, flags) == need);
        CHECK(memcmp(part, ids, (size_t)half * sizeof(int32_t)) == 0);
        free(part);
    }
    *n = need;
    return ids;
}

/* Detokenizes, checking the length contract; returns malloc'd text. */
static char *detokenize(const adm_vocab *v, const int32_t *ids, int64_t n, unsigned flags, size_t *len) {
    const int64_t need = adm_detokenize(v, ids, n, NULL, 0, flags);
    CHECK(need >= 0);
    char *out = xmalloc((size_t)need + 1);
    CHECK(adm_detokenize(v, ids, n, out, need + 1, flags) == need);
    CHECK(out[need] == 0);
    if (need > 0) { /* exactly need bytes: no room for the NUL, none written */
        char *exact = xmalloc((size_t)need);
        CHECK(adm_detokenize(v, ids, n, exact, need, flags) == need);
        CHECK(memcmp(exact, out, (size_t)need) == 0);
        free(exact);
        char *half = xmalloc((size_t)need / 2 + 1);
        CHECK(adm_detokenize(v, ids, n, half, need / 2 + 1, flags) == need);
        CHECK(memcmp(half, out, (size_t)need / 2 + 1) == 0);
        free(half);
    }
    /* Without the leading-space rule the text is the tokens' bytes, one after another. */
    if (!(flags & ADM_DETOK_STRIP_SPACE)) {
        size_t at = 0;
        for (int64_t i = 0; i < n; i++) {
            const int k = adm_token_to_bytes(v, ids[i], NULL, 0, flags & ADM_DETOK_SPECIAL);
            if (ids[i] < 0 || ids[i] >= adm_vocab_n_tokens(v)) {
                CHECK(k == -1);
                continue;
            }
            CHECK(k >= 0 && at + (size_t)k <= (size_t)need);
            char *piece = xmalloc((size_t)k);
            CHECK(adm_token_to_bytes(v, ids[i], piece, k, flags & ADM_DETOK_SPECIAL) == k);
            CHECK(memcmp(piece, out + at, (size_t)k) == 0);
            free(piece);
            at += (size_t)k;
        }
        CHECK(at == (size_t)need);
    }
    *len = (size_t)need;
    return out;
}

/* Streams ids through adm_detok twice (the second time after a reset) and
 * compares with the sanitized whole text. */
static void check_stream(const adm_vocab *v, const int32_t *ids, int64_t n, unsigned flags, const char *whole,
                         size_t whole_len) {
    size_t want_len;
    char *want = sanitize(whole, whole_len, &want_len);
    adm_detok *d;
    adm_error err;
    CHECK(adm_detok_create(v, flags, &d, &err) == ADM_OK);
    char *got = xmalloc(want_len + 1);
    for (int round = 0; round < 2; round++) {
        size_t total = 0;
        for (int64_t i = 0; i <= n; i++) {
            size_t k;
            const char *p = i < n ? adm_detok_push(d, ids[i], &k) : adm_detok_flush(d, &k);
            CHECK(p != NULL && p[k] == 0);
            CHECK(valid_utf8(p, k));
            CHECK(total + k <= want_len);
            memcpy(got + total, p, k);
            total += k;
        }
        CHECK(total == want_len && memcmp(got, want, want_len) == 0);
        adm_detok_reset(d);
    }
    adm_detok_free(d);
    free(got);
    free(want);
}

static void check_decoders(const adm_vocab *v, const int32_t *ids, int64_t n, unsigned dflags) {
    size_t len;
    char *text = detokenize(v, ids, n, dflags, &len);
    check_stream(v, ids, n, dflags, text, len);
    free(text);
}

/* Whether some id is a special token that ate whitespace next to it. */
static bool strips(const adm_vocab *v, const int32_t *ids, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (v->attr[ids[i]] & (ATTR_LSTRIP | ATTR_RSTRIP)) return true;
    return false;
}

/* Whether some id is a special token cut out of the text (after which
 * SentencePiece adds another dummy-prefix space). */
static bool has_special(const adm_vocab *v, const int32_t *ids, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (v->attr[ids[i]] & ATTR_SPECIAL) return true;
    return false;
}

/* What decoding the tokens of text must give, or NULL when that is not
 * determined (lossy vocabulary, or text the checks cannot predict). */
static char *expected_text(const loaded_vocab *lv, lossless kind, const char *text, size_t len, size_t *out_len) {
    char *want = NULL;
    if (kind == EXACT || kind == EXACT_NFC)
        for (size_t i = 0; i < len; i++)
            if (!lv->byte_kept[(uint8_t)text[i]]) return NULL;
    switch (kind) {
    case LOSSY: return NULL;
    case EXACT:
        want = xmalloc(len);
        memcpy(want, text, len);
        *out_len = len;
        return want;
    case EXACT_NFC: {
        if (!valid_utf8(text, len)) return NULL;
        utf8proc_uint8_t *nfc = NULL;
        utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &nfc,
                                          UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        CHECK(m >= 0);
        *out_len = (size_t)m;
        return (char *)nfc;
    }
    case EXACT_SPM: {
        const bool has_mark = memmem(text, len, "\xe2\x96\x81", 3) != NULL;
        if (has_mark && !valid_utf8(text, len)) return NULL; /* which bytes form U+2581 is then unclear */
        want = xmalloc(len);
        size_t m = 0;
        for (size_t i = 0; i < len;) {
            if (i + 3 <= len && !memcmp(text + i, "\xe2\x96\x81", 3)) {
                want[m++] = ' ';
                i += 3;
            } else {
                want[m++] = text[i++];
            }
        }
        *out_len = m;
        return want;
    }
    }
    return NULL;
}

static void check_round_trip(const loaded_vocab *lv, lossless kind, const char *text, size_t len, const int32_t *ids,
                             int64_t n, bool parse_special) {
    const adm_vocab *v = lv->v;
    if (kind == LOSSY) return;
    if (strips(v, ids, n)) return;
    if (kind == EXACT_SPM && has_special(v, ids, n)) return;
    size_t want_len;
    char *want = expected_text(lv, kind, text, len, &want_len);
    if (!want) return;
    size_t got_len;
    char *got = detokenize(v, ids, n, ADM_DETOK_STRIP_SPACE | (parse_special ? ADM_DETOK_SPECIAL : 0), &got_len);
    if (got_len != want_len || memcmp(got, want, want_len) != 0) {
        fprintf(stderr, "round trip (%s): want %zu bytes \"%.*s\"\n                 got %zu bytes \"%.*s\"\n",
                parse_special ? "parse_special" : "plain", want_len, (int)want_len, want, got_len, (int)got_len, got);
        CHECK(!"decode(encode(text)) == text");
    }
    free(got);
    free(want);
}

static void fuzz_text(const loaded_vocab *lv, lossless kind, const char *text, size_t len, unsigned mode) {
    const adm_vocab *v = lv->v;
    const unsigned dflags =
        ((mode & MODE_DETOK_SPECIAL) ? ADM_DETOK_SPECIAL : 0) | ((mode & MODE_STRIP_SPACE) ? ADM_DETOK_STRIP_SPACE : 0);
    int64_t n;
    int32_t *ids = tokenize(v, text, len, 0, &n);
    check_round_trip(lv, kind, text, len, ids, n, false);
    check_decoders(v, ids, n, dflags);

    const unsigned flags = ((mode & MODE_ADD_SPECIAL) ? ADM_TOKENIZE_ADD_SPECIAL : 0) |
                           ((mode & MODE_PARSE_SPECIAL) ? ADM_TOKENIZE_PARSE_SPECIAL : 0);
    if (flags) {
        int64_t n2;
        int32_t *ids2 = tokenize(v, text, len, flags, &n2);
        if (flags == ADM_TOKENIZE_PARSE_SPECIAL) check_round_trip(lv, kind, text, len, ids2, n2, true);
        if (flags & ADM_TOKENIZE_ADD_SPECIAL) { /* the same ids, wrapped in BOS/EOS */
            int64_t n3 = n;
            int32_t *ids3 = ids;
            if (flags & ADM_TOKENIZE_PARSE_SPECIAL) ids3 = tokenize(v, text, len, ADM_TOKENIZE_PARSE_SPECIAL, &n3);
            const int64_t pre = adm_vocab_add_bos(v) ? 1 : 0;
            CHECK(n2 >= n3 + pre && n2 <= n3 + pre + 1);
            if (pre) CHECK(ids2[0] == adm_vocab_bos(v));
            CHECK(memcmp(ids2 + pre, ids3, (size_t)n3 * sizeof(int32_t)) == 0);
            if (ids3 != ids) free(ids3);
        }
        check_decoders(v, ids2, n2, dflags);
        free(ids2);
    }
    free(ids);
}

/* Arbitrary id sequences, some out of range, through the decoders. */
static void fuzz_ids(const adm_vocab *v, const uint8_t *p, size_t len, unsigned mode) {
    const unsigned dflags =
        ((mode & MODE_DETOK_SPECIAL) ? ADM_DETOK_SPECIAL : 0) | ((mode & MODE_STRIP_SPACE) ? ADM_DETOK_STRIP_SPACE : 0);
    const int64_t n = (int64_t)(len / 3);
    const uint32_t range = (uint32_t)adm_vocab_n_tokens(v) + 16;
    int32_t *ids = xmalloc((size_t)n * sizeof(int32_t));
    for (int64_t i = 0; i < n; i++) {
        uint32_t x = p[3 * i] | (uint32_t)p[3 * i + 1] << 8 | (uint32_t)p[3 * i + 2] << 16;
        ids[i] = (int32_t)(x % range) - 8;
    }
    check_decoders(v, ids, n, dflags);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const size_t which = data[0] % N_VOCABS;
    const unsigned mode = data[1];
    const loaded_vocab *lv = vocab(which);
    g_name = k_vocabs[which].path;
    if (mode & MODE_IDS) fuzz_ids(lv->v, data + 2, size - 2, mode);
    else fuzz_text(lv, k_vocabs[which].kind, (const char *)data + 2, size - 2, mode);
    return 0;
}
