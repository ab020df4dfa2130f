/*
 * test_tokenizer.c - the tokenizers against llama.cpp's test vectors (every
 * vocab GGUF in $SHARED/testdata/tokenizer that has .inp/.out beside it,
 * every line exact), decoding back to the input where the tokenizer is
 * lossless, random round trips, the streaming detokenizer on characters
 * split across tokens, special-token parsing and BOS/EOS, refusal of unknown
 * tokenizer models and pre-tokenizers (GGUFs written here), stories260K's
 * prompt against llama.cpp's 85 ids, and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adamas.h"
#include "base.h"
#include "testutil.h"
#include "tokenizer/vocab.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static const char k_sep[] = "\n__ggml_vocab_test__\n";

static adm_vocab *load_vocab(const char *name) {
    char rel[256];
    snprintf(rel, sizeof(rel), "testdata/tokenizer/ggml-vocab-%s.gguf", name);
    adm_error err;
    adm_vocab *v = NULL;
    if (adm_vocab_load(tu_shared(rel), &v, &err) != ADM_OK) fail_msg("%s", err.msg);
    return v;
}

/* Tokenizes into a malloc'd array (caller frees); *n = count. */
static int32_t *tokenize(const adm_vocab *v, const char *text, size_t len, unsigned flags, int64_t *n) {
    int64_t need = adm_tokenize(v, text, (int64_t)len, NULL, 0, flags);
    assert_true(need >= 0);
    int32_t *ids = malloc((size_t)(need + 1) * sizeof(int32_t));
    assert_non_null(ids);
    assert_int_equal(adm_tokenize(v, text, (int64_t)len, ids, need, flags), need);
    *n = need;
    return ids;
}

/* Decodes into a malloc'd NUL-terminated string; *len = bytes. */
static char *detokenize(const adm_vocab *v, const int32_t *ids, int64_t n, unsigned flags, size_t *len) {
    int64_t need = adm_detokenize(v, ids, n, NULL, 0, flags);
    char *s = malloc((size_t)need + 1);
    assert_non_null(s);
    assert_int_equal(adm_detokenize(v, ids, n, s, need + 1, flags), need);
    assert_int_equal(s[need], 0);
    *len = (size_t)need;
    return s;
}

static bool valid_utf8(const char *p, size_t n) {
    const uint8_t *s = (const uint8_t *)p;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) return false;
        i += (size_t)k;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* llama.cpp's vectors                                                      */
/* ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Runs one vocabulary's vectors; returns the number of failed lines. */
static int run_vectors(const char *dir, const char *name, bool lossless, int *n_cases) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    adm_error err;
    adm_vocab *v;
    if (adm_vocab_load(path, &v, &err) != ADM_OK) fail_msg("%s", err.msg);
    size_t n_inp, n_out;
    snprintf(path, sizeof(path), "%s/%s.inp", dir, name);
    char *inp = (char *)tu_read_file(path, &n_inp);
    snprintf(path, sizeof(path), "%s/%s.out", dir, name);
    char *out = (char *)tu_read_file(path, &n_out);
    assert_non_null(inp);
    assert_non_null(out);
    out = realloc(out, n_out + 1);
    out[n_out] = 0;

    int failed = 0, k = 0, decode_failed = 0;
    char *line = out;
    for (size_t pos = 0; pos < n_inp; k++) {
        char *next = memmem(inp + pos, n_inp - pos, k_sep, sizeof(k_sep) - 1);
        size_t len = next ? (size_t)(next - (inp + pos)) : n_inp - pos;
        const char *text = inp + pos;
        pos += len + (next ? sizeof(k_sep) - 1 : 0);

        char *eol = strchr(line, '\n');
        assert_non_null(eol);
        *eol = 0;
        int64_t n;
        int32_t *ids = tokenize(v, text, len, 0, &n);
        char got[16384];
        size_t g = 0;
        got[0] = 0;
        for (int64_t i = 0; i < n && g < sizeof(got) - 16; i++)
            g += (size_t)snprintf(got + g, sizeof(got) - g, " %d", ids[i]);
        if (strcmp(got, line) != 0) {
            print_message("%s line %d (\"%.*s\"):\n  expected:%s\n  got:     %s\n", name, k + 1, (int)ADM_MIN(len, 40),
                          text, line, got);
            failed++;
        }
        if (lossless) {
            size_t dl;
            char *back = detokenize(v, ids, n, ADM_DETOK_STRIP_SPACE, &dl);
            if (dl != len || memcmp(back, text, len) != 0) {
                print_message("%s line %d: decodes to \"%s\"\n", name, k + 1, back);
                decode_failed++;
            }
            free(back);
        }
        free(ids);
        line = eol + 1;
    }
    print_message("  %-36s %d/%d%s\n", name, k - failed, k,
                  lossless ? (decode_failed ? ", DECODE FAILED" : ", decodes back exactly") : " (decoding is lossy)");
    *n_cases = k;
    free(inp);
    free(out);
    adm_vocab_free(v);
    return failed + decode_failed;
}

static void test_vectors(void **state) {
    (void)state;
    const char *dir = tu_shared("testdata/tokenizer");
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *names[64];
    int n_names = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n_names < 64) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 5, ".gguf") != 0) continue;
        char p[1024];
        snprintf(p, sizeof(p), "%s/%s.out", dir, e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f) continue; /* no vectors for this vocabulary */
        fclose(f);
        names[n_names++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n_names, sizeof(char *), cmp_str);
    int failed = 0, seen = 0;
    for (int i = 0; i < n_names; i++) {
        /* BERT lower-cases, strips accents, drops control characters and
         * separates punctuation: its ids cannot give the text back. */
        bool lossless = strstr(names[i], "bert") == NULL;
        int n_cases;
        failed += run_vectors(dir, names[i], lossless, &n_cases);
        assert_int_equal(n_cases, 46);
        if (strstr(names[i], "llama-spm") || strstr(names[i], "llama-bpe") || strstr(names[i], "qwen2") ||
            strstr(names[i], "gpt-2"))
            seen++;
        free(names[i]);
    }
    assert_int_equal(seen, 4); /* the vocabularies the other tests rely on were there */
    assert_int_equal(failed, 0);
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                              */
/* ------------------------------------------------------------------------ */

/* Random text from code points of many scripts and sizes. */
static size_t random_text(uint64_t *rng, char *out, size_t max_chars) {
    static const uint32_t k_pick[] = {' ', ' ', '\n', '\t', '\r', '\'', '.', ',', '!', '3', 0xA0, 0xE9, 0xFC, 0x3A9,
                                      0x416, 0x5D0, 0x627, 0x915, 0x94D, 0xE01, 0x1780, 0x17B6, 0x200D, 0x2028,
                                      0x3000, 0x4E16, 0x6211, 0xAC00, 0xFE0F, 0xFF5E, 0x1F999, 0x1F600, 0x1F680,
                                      0x1F32B, 0x10400, 0x20000};
    size_t n = 0, chars = tu_rand(rng) % max_chars;
    for (size_t i = 0; i < chars; i++) {
        uint64_t r = tu_rand(rng) % 10;
        uint32_t cp;
        if (r < 4) cp = 0x20 + (uint32_t)(tu_rand(rng) % 95);
        else if (r < 7) cp = k_pick[tu_rand(rng) % (sizeof(k_pick) / sizeof(k_pick[0]))];
        else if (r < 9) cp = 0x80 + (uint32_t)(tu_rand(rng) % 0xFF00);
        else cp = 0x10000 + (uint32_t)(tu_rand(rng) % 0x20000);
        if ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0x2581) cp = 'x'; /* U+2581 is SentencePiece's space */
        n += (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)out + n);
    }
    out[n] = 0;
    return n;
}

static void check_round_trip(const adm_vocab *v, const char *name, const char *text, size_t len, bool nfc) {
    int64_t n;
    int32_t *ids = tokenize(v, text, len, 0, &n);
    size_t dl;
    char *back = detokenize(v, ids, n, ADM_DETOK_STRIP_SPACE, &dl);
    char *want = (char *)text;
    size_t wl = len;
    if (nfc) { /* qwen2 normalizes to NFC first, as its tokenizer.json says */
        want = (char *)utf8proc_NFC((const utf8proc_uint8_t *)text);
        assert_non_null(want);
        wl = strlen(want);
    }
    if (dl != wl || memcmp(back, want, wl) != 0) fail_msg("%s: \"%s\" decodes to \"%s\"", name, want, back);
    if (nfc) free(want);
    free(back);
    free(ids);
}

static void test_round_trip(void **state) {
    (void)state;
    const char *names[] = {"llama-spm", "llama-bpe", "qwen2", "gpt-2"};
    for (size_t k = 0; k < 4; k++) {
        adm_vocab *v = load_vocab(names[k]);
        uint64_t rng = 1234 + k;
        char text[4096];
        for (int i = 0; i < 300; i++) {
            size_t len = random_text(&rng, text, 400);
            check_round_trip(v, names[k], text, len, k == 2);
        }
        if (k != 2) { /* byte fallback / byte-level BPE keep even bytes that are not UTF-8 */
            for (int i = 0; i < 100; i++) {
                size_t len = tu_rand(&rng) % 64;
                for (size_t j = 0; j < len; j++) text[j] = (char)tu_rand(&rng);
                text[len] = 0;
                if (memmem(text, len, "\xe2\x96\x81", 3)) continue;
                check_round_trip(v, names[k], text, len, false);
            }
        }
        adm_vocab_free(v);
    }
}

/* ------------------------------------------------------------------------ */
/* Streaming detokenizer                                                    */
/* ------------------------------------------------------------------------ */

/* Streams ids through a detokenizer; every chunk must be valid UTF-8. */
static char *stream(const adm_vocab *v, const int32_t *ids, int64_t n, unsigned flags, size_t *len) {
    adm_error err;
    adm_detok *d;
    assert_int_equal(adm_detok_create(v, flags, &d, &err), ADM_OK);
    char *all = calloc(1, 65536);
    size_t total = 0, k;
    for (int64_t i = 0; i <= n; i++) {
        const char *p = i < n ? adm_detok_push(d, ids[i], &k) : adm_detok_flush(d, &k);
        assert_non_null(p);
        assert_int_equal(strlen(p), k);
        if (!valid_utf8(p, k)) fail_msg("chunk %d is not valid UTF-8", (int)i);
        memcpy(all + total, p, k);
        total += k;
    }
    adm_detok_free(d);
    *len = total;
    return all;
}

static void test_streaming(void **state) {
    (void)state;
    /* Llama 2 has no emoji tokens: each emoji is four <0xXX> byte tokens. */
    adm_vocab *v = load_vocab("llama-spm");
    const char *text = "Hi \xf0\x9f\xa6\x99 and \xf0\x9f\x98\x81\xf0\x9f\x9a\x80, caf\xc3\xa9 \xe6\x88\x91";
    int64_t n;
    int32_t *ids = tokenize(v, text, strlen(text), 0, &n);
    size_t len;
    char *out = stream(v, ids, n, ADM_DETOK_STRIP_SPACE, &len);
    assert_string_equal(out, text);
    free(out);

    /* Cut after the first byte token of the llama emoji: nothing of it may
     * come out, and flushing turns the held bytes into one U+FFFD. */
    int64_t cut = 0;
    char piece[8];
    for (int64_t i = 0; i < n; i++)
        if (adm_token_to_bytes(v, ids[i], piece, 8, false) == 1 && (uint8_t)piece[0] == 0xF0) {
            cut = i + 1;
            break;
        }
    assert_true(cut > 0);
    out = stream(v, ids, cut, ADM_DETOK_STRIP_SPACE, &len);
    assert_string_equal(out, "Hi \xef\xbf\xbd");
    free(out);

    /* An ill-formed byte among them becomes U+FFFD; the next character survives. */
    int32_t bad[4];
    bad[0] = adm_vocab_find(v, "<0xF0>", 6);
    bad[1] = adm_vocab_find(v, "<0x41>", 6);
    bad[2] = adm_vocab_find(v, "<0xC3>", 6);
    bad[3] = adm_vocab_find(v, "<0xA9>", 6);
    out = stream(v, bad, 4, 0, &len);
    assert_string_equal(out, "\xef\xbf\xbd" "A\xc3\xa9");
    free(out);
    free(ids);
    adm_vocab_free(v);

    /* GPT-2 byte-level BPE splits emoji across tokens as well. */
    v = load_vocab("gpt-2");
    text = "\xf0\x9f\x98\x81\xf0\x9f\xa6\x99!";
    ids = tokenize(v, text, strlen(text), 0, &n);
    assert_true(n > 2);
    out = stream(v, ids, n, 0, &len);
    assert_string_equal(out, text);
    free(out);
    free(ids);
    adm_vocab_free(v);
}

/* stories260K: llama.cpp's prompt and ids, and generation text starting
 * without the SentencePiece dummy-prefix space. */
static void test_stories260k(void **state) {
    (void)state;
    size_t n_readme;
    char *readme = (char *)tu_read_file(tu_shared("peer/README.md"), &n_readme);
    assert_non_null(readme);
    readme = realloc(readme, n_readme + 1);
    readme[n_readme] = 0;
    char *prompt = strstr(readme, "\n    Once upon");
    assert_non_null(prompt);
    prompt += 5;
    *strchr(prompt, '\n') = 0;

    tu_logits ref;
    assert_true(tu_logits_load(tu_shared("peer/stories260K.logits"), &ref));
    assert_int_equal(ref.n, 85);

    adm_error err;
    adm_vocab *v;
    assert_int_equal(adm_vocab_load(tu_shared("models/stories260K.gguf"), &v, &err), ADM_OK);
    assert_int_equal(adm_vocab_n_tokens(v), ref.n_vocab);
    int64_t n;
    int32_t *ids = tokenize(v, prompt, strlen(prompt), ADM_TOKENIZE_ADD_SPECIAL, &n);
    assert_int_equal(n, ref.n);
    assert_memory_equal(ids, ref.tokens, (size_t)n * sizeof(int32_t));
    assert_int_equal(ids[0], adm_vocab_bos(v));

    size_t len;
    char *out = stream(v, ids, n, ADM_DETOK_STRIP_SPACE, &len);
    assert_string_equal(out, prompt); /* "Once upon a time, ..." with no leading space */
    free(out);
    out = stream(v, ids, n, 0, &len);
    assert_int_equal(out[0], ' ');
    assert_string_equal(out + 1, prompt);
    free(out);
    out = detokenize(v, ids, n, ADM_DETOK_SPECIAL | ADM_DETOK_STRIP_SPACE, &len);
    assert_true(strncmp(out, "<s> Once upon", 13) == 0); /* the first piece with text is <s> */
    free(out);

    /* reset starts a new text: the first word loses its space again */
    adm_detok *d;
    assert_int_equal(adm_detok_create(v, ADM_DETOK_STRIP_SPACE, &d, &err), ADM_OK);
    assert_string_equal(adm_detok_push(d, ids[1], &len), "Once");
    assert_string_equal(adm_detok_push(d, ids[2], &len), " upon");
    adm_detok_reset(d);
    assert_string_equal(adm_detok_push(d, ids[2], &len), "upon");
    adm_detok_free(d);

    free(ids);
    adm_vocab_free(v);
    tu_logits_free(&ref);
    free(readme);
}

/* ------------------------------------------------------------------------ */
/* Special tokens                                                           */
/* ------------------------------------------------------------------------ */

static void test_special(void **state) {
    (void)state;
    adm_vocab *v = load_vocab("qwen2");
    const char *chat = "<|im_start|>user\nHi<|im_end|>";
    int64_t n;
    int32_t *ids = tokenize(v, chat, strlen(chat), ADM_TOKENIZE_PARSE_SPECIAL, &n);
    assert_int_equal(ids[0], 151644);
    assert_int_equal(ids[n - 1], 151645);
    free(ids);
    ids = tokenize(v, chat, strlen(chat), 0, &n); /* as plain text */
    assert_true(n > 6);
    for (int64_t i = 0; i < n; i++) assert_true(ids[i] < 151643);
    size_t len;
    char *back = detokenize(v, ids, n, 0, &len);
    assert_string_equal(back, chat);
    free(back);
    free(ids);
    /* user-defined tokens (<think>) are always cut out, like llama.cpp does */
    ids = tokenize(v, "a<think>b", 9, 0, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 151667);
    free(ids);
    assert_int_equal(adm_vocab_eos(v), 151645);
    assert_int_equal(adm_vocab_eot(v), 151645);
    assert_true(adm_vocab_is_eog(v, 151645) && adm_vocab_is_eog(v, 151643));
    assert_false(adm_vocab_is_eog(v, 151644));
    assert_true(adm_vocab_is_control(v, 151644));
    assert_false(adm_vocab_add_bos(v));
    assert_int_equal(adm_vocab_bos(v), -1);
    /* control tokens render only with `special` */
    char buf[32];
    assert_int_equal(adm_token_to_bytes(v, 151644, buf, sizeof(buf), false), 0);
    assert_int_equal(adm_token_to_bytes(v, 151644, buf, sizeof(buf), true), 12);
    assert_memory_equal(buf, "<|im_start|>", 12);
    assert_int_equal(adm_token_to_bytes(v, -1, buf, sizeof(buf), true), -1);
    assert_int_equal(adm_token_to_bytes(v, adm_vocab_n_tokens(v), buf, sizeof(buf), true), -1);
    size_t plen;
    assert_string_equal(adm_vocab_piece(v, 151644, &plen), "<|im_start|>");
    assert_int_equal(adm_vocab_find(v, "<|im_end|>", 10), 151645);
    assert_int_equal(adm_vocab_find(v, "no such token here", 18), -1);
    adm_vocab_free(v);

    /* BOS/EOS as each vocabulary says */
    v = load_vocab("llama-bpe");
    ids = tokenize(v, "Hello", 5, ADM_TOKENIZE_ADD_SPECIAL, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 128000);
    free(ids);
    assert_true(adm_vocab_is_eog(v, adm_vocab_find(v, "<|eot_id|>", 10)));
    assert_int_equal(adm_vocab_eot(v), adm_vocab_find(v, "<|eot_id|>", 10));
    /* a too-small buffer gets a prefix and the size it needs */
    int32_t two[2] = {-7, -7};
    assert_int_equal(adm_tokenize(v, "Hello world, again", -1, two, 1, 0), 4);
    assert_int_equal(two[1], -7);
    assert_int_equal(adm_tokenize(v, "", 0, NULL, 0, ADM_TOKENIZE_ADD_SPECIAL), 1);
    /* decoding into a buffer that is too small: a prefix, the size needed, a NUL only if it fits */
    int32_t hello = 9906;
    char five[6] = "xxxxx";
    assert_int_equal(adm_detokenize(v, &hello, 1, five, 3, 0), 5);
    assert_memory_equal(five, "Helxx", 5);
    assert_int_equal(adm_detokenize(v, &hello, 1, five, 5, 0), 5);
    assert_memory_equal(five, "Hello", 5);
    assert_int_equal(adm_detokenize(v, &hello, 1, five, 6, 0), 5);
    assert_string_equal(five, "Hello");
    adm_vocab_free(v);

    v = load_vocab("llama-spm");
    ids = tokenize(v, "Hello world", 11, ADM_TOKENIZE_ADD_SPECIAL, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 15043);
    assert_int_equal(ids[2], 3186);
    free(ids);
    /* after a special token the dummy prefix applies again */
    ids = tokenize(v, "</s>Hello", 9, ADM_TOKENIZE_PARSE_SPECIAL, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 2);
    assert_int_equal(ids[1], 15043);
    free(ids);
    assert_true(adm_vocab_is_eog(v, 2));
    adm_vocab_free(v);

    v = load_vocab("bert-bge"); /* [CLS] ... [SEP] */
    ids = tokenize(v, "Hello", 5, ADM_TOKENIZE_ADD_SPECIAL, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 101);
    assert_int_equal(ids[2], 102);
    free(ids);
    int32_t none[4] = {-7};
    assert_int_equal(adm_tokenize(v, " \t\n ", -1, none, 4, 0), 0); /* whitespace only: no words */
    assert_int_equal(none[0], -7);
    adm_vocab_free(v);
}

/* ------------------------------------------------------------------------ */
/* Unsupported vocabularies (GGUFs written here)                            */
/* ------------------------------------------------------------------------ */

typedef struct gw {
    uint8_t *p;
    size_t n, cap;
    uint64_t n_kv;
} gw;

static void gw_put(gw *w, const void *d, size_t n) {
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 256;
        w->p = realloc(w->p, w->cap);
        assert_non_null(w->p);
    }
    memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void gw_str(gw *w, const char *s) {
    uint64_t n = strlen(s);
    gw_put(w, &n, 8);
    gw_put(w, s, n);
}

static void gw_kv_str(gw *w, const char *key, const char *val) {
    uint32_t t = 8;
    gw_str(w, key);
    gw_put(w, &t, 4);
    gw_str(w, val);
    w->n_kv++;
}

static void gw_kv_strs(gw *w, const char *key, const char *const *vals, uint64_t n) {
    uint32_t t = 9, et = 8;
    gw_str(w, key);
    gw_put(w, &t, 4);
    gw_put(w, &et, 4);
    gw_put(w, &n, 8);
    for (uint64_t i = 0; i < n; i++) gw_str(w, vals[i]);
    w->n_kv++;
}

static const char *gw_save(gw *w, const char *name) {
    gw f = {0};
    uint32_t version = 3;
    uint64_t n_tensors = 0;
    gw_put(&f, "GGUF", 4);
    gw_put(&f, &version, 4);
    gw_put(&f, &n_tensors, 8);
    gw_put(&f, &w->n_kv, 8);
    gw_put(&f, w->p, w->n);
    const char *path = tu_tmp(name);
    assert_true(tu_write_file(path, f.p, f.n));
    free(f.p);
    free(w->p);
    memset(w, 0, sizeof(*w));
    return path;
}

static const char *const k_toks[] = {"a", "b", "c", "ab", "abc", "\xc4\xa0", "<|endoftext|>"};
static const char *const k_merges[] = {"a b", "ab c"};

static adm_status load_written(const char *path, adm_error *err) {
    adm_vocab *v = (adm_vocab *)(uintptr_t)1;
    adm_status st = adm_vocab_load(path, &v, err);
    if (st == ADM_OK) {
        assert_non_null(v);
        int32_t ids[4];
        assert_int_equal(adm_tokenize(v, "abc", 3, ids, 4, 0), 1);
        assert_int_equal(ids[0], 4);
        adm_vocab_free(v);
    } else {
        assert_null(v);
    }
    return st;
}

static void test_unsupported(void **state) {
    (void)state;
    adm_error err;
    gw w = {0};
    gw_kv_str(&w, "tokenizer.ggml.model", "t5");
    gw_kv_strs(&w, "tokenizer.ggml.tokens", k_toks, 7);
    assert_int_equal(load_written(gw_save(&w, "t5.gguf"), &err), ADM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "'t5'"));
    assert_non_null(strstr(err.msg, "t5.gguf"));

    gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(&w, "tokenizer.ggml.pre", "made-up-pre");
    gw_kv_strs(&w, "tokenizer.ggml.tokens", k_toks, 7);
    gw_kv_strs(&w, "tokenizer.ggml.merges", k_merges, 2);
    assert_int_equal(load_written(gw_save(&w, "pre.gguf"), &err), ADM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "'made-up-pre'"));

    /* a known pre-tokenizer, and an absent one (llama.cpp's default), load */
    gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(&w, "tokenizer.ggml.pre", "gpt-2");
    gw_kv_strs(&w, "tokenizer.ggml.tokens", k_toks, 7);
    gw_kv_strs(&w, "tokenizer.ggml.merges", k_merges, 2);
    assert_int_equal(load_written(gw_save(&w, "gpt2.gguf"), &err), ADM_OK);
    gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_kv_strs(&w, "tokenizer.ggml.tokens", k_toks, 7);
    gw_kv_strs(&w, "tokenizer.ggml.merges", k_merges, 2);
    assert_int_equal(load_written(gw_save(&w, "nopre.gguf"), &err), ADM_OK);

    /* BPE needs merges; a vocabulary needs its model named */
    gw_kv_str(&w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(&w, "tokenizer.ggml.pre", "gpt-2");
    gw_kv_strs(&w, "tokenizer.ggml.tokens", k_toks, 7);
    assert_int_equal(load_written(gw_save(&w, "nomerges.gguf"), &err), ADM_ERR_FORMAT);
    gw_kv_strs(&w, "tokenizer.ggml.tokens", k_toks, 7);
    assert_int_equal(load_written(gw_save(&w, "nomodel.gguf"), &err), ADM_ERR_FORMAT);

    /* no vocabulary: the model loader gets NULL, adm_vocab_load an error */
    gw_kv_str(&w, "general.name", "empty");
    const char *path = gw_save(&w, "novocab.gguf");
    assert_int_equal(load_written(path, &err), ADM_ERR_FORMAT);
    adm_gguf *g;
    assert_int_equal(adm_gguf_open(path, &g, &err), ADM_OK);
    adm_vocab *v = (adm_vocab *)(uintptr_t)1;
    assert_int_equal(adm_vocab_from_gguf(g, &v, &err), ADM_OK);
    assert_null(v);
    adm_gguf_free(g);
    assert_int_equal(adm_vocab_load(tu_tmp("does-not-exist.gguf"), &v, &err), ADM_ERR_IO);
}

/* ------------------------------------------------------------------------ */
/* Allocation failures                                                      */
/* ------------------------------------------------------------------------ */

static void test_alloc_failures(void **state) {
    (void)state;
    const char *text = "Hello, y'all! How are you \xf0\x9f\x98\x81 ?\xe6\x88\x91 caf\xc3\xa9 <think> 3333 e\xcc\x81";
    const char *names[] = {"qwen2", "llama-spm", "bert-bge"};
    for (int k = 0; k < 3; k++) {
        adm_vocab *v = load_vocab(names[k]);
        int64_t want = adm_tokenize(v, text, -1, NULL, 0, ADM_TOKENIZE_ADD_SPECIAL);
        assert_true(want > 0);
        for (long fail = 1;; fail++) {
            adm_alloc_fail_after(fail);
            int64_t got = adm_tokenize(v, text, -1, NULL, 0, ADM_TOKENIZE_ADD_SPECIAL);
            adm_alloc_fail_after(0);
            assert_true(got == -1 || got == want);
            if (got == want) break;
            assert_true(fail < 1000);
        }
        adm_vocab_free(v);
    }
    /* loading: every failure unwinds (the sanitizer build checks for leaks) */
    for (long fail = 1;; fail++) {
        adm_error err;
        adm_vocab *v;
        adm_alloc_fail_after(fail);
        adm_status st = adm_vocab_load(tu_shared("models/stories260K.gguf"), &v, &err);
        adm_alloc_fail_after(0);
        if (st == ADM_OK) {
            adm_vocab_free(v);
            break;
        }
        assert_int_equal(st, ADM_ERR_NOMEM);
        assert_null(v);
        assert_true(fail < 1000);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),     cmocka_unit_test(test_round_trip),  cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_stories260k), cmocka_unit_test(test_special),     cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
