/*
 * wpm.c - WordPiece tokenization (tokenizer.ggml.model = bert, e.g.
 * bge-small). BERT's normalizer runs first, as llama.cpp implements it:
 * accents stripped (each code point replaced by the first code point of its
 * NFD form, marks dropped), lower-cased, control characters dropped, and
 * punctuation, ASCII symbols and CJK ideographs split off as words of their
 * own. Each word, prefixed with U+2581 (how llama.cpp's converter marks
 * word-initial pieces), is then covered greedily by the longest matching
 * tokens; a word that cannot be covered becomes [UNK]. Lossy by design.
 * Character classes and case come from utf8proc.
 */
#include "internal.h"

#include <utf8proc.h>

static bool is_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The CJK ranges of BERT's _is_chinese_char (with the same 0x2B920 start
 * HF's Rust code has). */
static bool is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static uint32_t nfd_first(uint32_t c) {
    utf8proc_int32_t buf[32];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 32, UTF8PROC_DECOMPOSE, &last);
    return n > 0 && n <= 32 ? (uint32_t)buf[0] : c;
}

/* Appends word [a, b) of s->buf, covered by tokens, to the output. */
static bool cover_word(const adm_vocab *v, tok_scratch *s, size_t a, size_t b) {
    const char *w = s->buf + a; /* starts with U+2581 */
    size_t n = b - a, start = s->n_ids;
    for (size_t i = 0; i < n;) {
        size_t j = ADM_MIN(n, i + (size_t)v->max_token_len + 1);
        int32_t id = -1;
        for (; j > i; j--)
            if ((id = adm_tok_lookup(v, w + i, j - i)) >= 0) break;
        if (id < 0) { /* no token starts here: the whole word is unknown */
            s->n_ids = start;
            break;
        }
        if (!adm_tok_push(s, id)) return false;
        i = j;
    }
    if (s->n_ids == start && v->unk >= 0) return adm_tok_push(s, v->unk);
    return true;
}

/* Normalized words are written to s->buf, each as U+2581 + text, and
 * recorded as [start, end) pairs in s->seg. */
typedef struct words {
    tok_scratch *s;
    size_t n;  /* bytes used in s->buf */
    bool open; /* a word is being written */
} words;

static bool end_word(words *w) {
    if (!w->open) return true;
    tok_scratch *s = w->s;
    if (!adm_tok_reserve((void **)&s->seg, &s->cap_seg, 2 * (s->n_seg + 1), sizeof(uint32_t))) return false;
    s->seg[2 * s->n_seg + 1] = (uint32_t)w->n;
    s->n_seg++;
    w->open = false;
    return true;
}

static bool add_char(words *w, uint32_t c) {
    tok_scratch *s = w->s;
    if (!adm_tok_reserve((void **)&s->buf, &s->cap_buf, w->n + 8, 1)) return false;
    if (!w->open) {
        if (!adm_tok_reserve((void **)&s->seg, &s->cap_seg, 2 * (s->n_seg + 1), sizeof(uint32_t))) return false;
        s->seg[2 * s->n_seg] = (uint32_t)w->n;
        memcpy(s->buf + w->n, "\xe2\x96\x81", 3);
        w->n += 3;
        w->open = true;
    }
    w->n += (size_t)tok_utf8_encode(c, s->buf + w->n);
    return true;
}

bool adm_wpm_tokenize(const adm_vocab *v, tok_scratch *s, const char *text, size_t len) {
    words w = {s, 0, false};
    s->n_seg = 0;
    for (size_t i = 0; i < len;) {
        int cl = adm_utf8_check((const uint8_t *)text + i, len - i);
        uint32_t c = 0xFFFD; /* ill-formed input, dropped below like llama.cpp drops it */
        if (cl > 0) {
            c = tok_utf8_decode((const uint8_t *)text + i, cl);
            i += (size_t)cl;
        } else {
            i += cl < 0 ? (size_t)-cl : len - i;
        }
        if (v->strip_accents) c = nfd_first(c);
        if (is_whitespace(c)) {
            if (!end_word(&w)) return false;
            continue;
        }
        utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
        bool control = cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CO ||
                       cat == UTF8PROC_CATEGORY_CS;
        bool mark = cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME;
        bool punct = cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
        bool symbol = cat >= UTF8PROC_CATEGORY_SM && cat <= UTF8PROC_CATEGORY_SO;
        if (c == 0 || c == 0xFFFD || control || (v->strip_accents && mark)) continue;
        uint32_t out = v->lowercase ? (uint32_t)utf8proc_tolower((utf8proc_int32_t)c) : c;
        if (punct || (c < 0x7F && symbol) || is_chinese(c)) { /* a word of its own */
            if (!end_word(&w) || !add_char(&w, out) || !end_word(&w)) return false;
        } else if (!add_char(&w, out)) {
            return false;
        }
    }
    if (!end_word(&w)) return false;
    for (size_t k = 0; k < s->n_seg; k++)
        if (!cover_word(v, s, s->seg[2 * k], s->seg[2 * k + 1])) return false;
    return true;
}
