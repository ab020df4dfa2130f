/*
 * detok.c - token ids back to text: the bytes each token stands for (the
 * pieces vocab.c renders at load), whole sequences, and the streaming
 * detokenizer, which hands out only complete UTF-8 characters, holds back
 * the first bytes of a character whose other bytes are in later tokens, and
 * replaces ill-formed bytes with U+FFFD, so a terminal or a JSON stream
 * never sees broken UTF-8.
 */
#include "internal.h"

int adm_utf8_check(const uint8_t *s, size_t n) {
    uint8_t c = s[0], lo = 0x80, hi = 0xBF;
    int need;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0; /* no overlong forms */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return -1;
    }
    for (int k = 1; k < need; k++) {
        if ((size_t)k >= n) return 0;
        if (s[k] < lo || s[k] > hi) return -k;
        lo = 0x80, hi = 0xBF;
    }
    return need;
}

/* The bytes token id renders to: its piece, or nothing for control and
 * unknown tokens unless `special`. */
static const char *render(const adm_vocab *v, int32_t id, bool special, size_t *n) {
    const char *p = tok_piece(v, id, n);
    if (!special && (v->attr[id] & (ATTR_CONTROL | ATTR_UNKNOWN))) *n = 0;
    return p;
}

int adm_token_to_bytes(const adm_vocab *v, int32_t id, char *buf, int size, bool special) {
    if (!v || id < 0 || id >= v->n_tokens) return -1;
    size_t n;
    const char *p = render(v, id, special, &n);
    if (buf && size > 0) memcpy(buf, p, ADM_MIN(n, (size_t)size));
    return (int)n;
}

/* The SentencePiece dummy prefix is a space the tokenizer added; only
 * vocabularies that add one have it to drop. */
static bool strips_space(const adm_vocab *v, unsigned flags) {
    return (flags & ADM_DETOK_STRIP_SPACE) && v->add_space_prefix;
}

int64_t adm_detokenize(const adm_vocab *v, const int32_t *ids, int64_t n, char *out, int64_t size, unsigned flags) {
    if (!v || (!ids && n > 0)) return 0;
    bool strip = strips_space(v, flags), special = (flags & ADM_DETOK_SPECIAL) != 0;
    int64_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= v->n_tokens) continue;
        size_t len;
        const char *p = render(v, ids[i], special, &len);
        if (!len) continue;
        if (strip) { /* only the first piece that has text */
            if (p[0] == ' ') p++, len--;
            strip = false;
        }
        if (out && total < size) memcpy(out + total, p, (size_t)ADM_MIN((int64_t)len, size - total));
        total += (int64_t)len;
    }
    if (out && total < size) out[total] = 0; /* when there is room */
    return total;
}

/* ------------------------------------------------------------------------ */
/* Streaming                                                                */
/* ------------------------------------------------------------------------ */

struct adm_detok {
    const adm_vocab *v;
    unsigned flags;
    bool at_start;   /* no text handed out since create/reset */
    uint8_t held[4]; /* the incomplete character carried over */
    size_t n_held;
    char *in;  /* held bytes + the new piece */
    char *out; /* at most 3 output bytes per input byte (U+FFFD), plus a NUL */
};

adm_status adm_detok_create(const adm_vocab *v, unsigned flags, adm_detok **out, adm_error *err) {
    if (!out) return adm_fail(err, ADM_ERR_INVALID_ARG, "adm_detok_create: out is NULL");
    *out = NULL;
    if (!v) return adm_fail(err, ADM_ERR_INVALID_ARG, "adm_detok_create: vocab is NULL");
    adm_detok *d = adm_calloc(1, sizeof(*d));
    size_t max_in = (size_t)v->max_piece_len + sizeof(d->held);
    if (!d || !(d->in = adm_alloc(max_in)) || !(d->out = adm_alloc(3 * max_in + 1))) {
        adm_detok_free(d);
        return adm_fail(err, ADM_ERR_NOMEM, "adm_detok_create: out of memory");
    }
    d->v = v;
    d->flags = flags;
    d->at_start = true;
    d->out[0] = 0;
    *out = d;
    return ADM_OK;
}

void adm_detok_free(adm_detok *d) {
    if (!d) return;
    adm_free(d->in);
    adm_free(d->out);
    adm_free(d);
}

static const char k_replacement[] = "\xef\xbf\xbd";

const char *adm_detok_push(adm_detok *d, int32_t id, size_t *len) {
    size_t dummy, o = 0;
    if (!len) len = &dummy;
    *len = 0;
    if (!d) return "";
    d->out[0] = 0;
    if (id < 0 || id >= d->v->n_tokens) return d->out;
    size_t n;
    const char *p = render(d->v, id, (d->flags & ADM_DETOK_SPECIAL) != 0, &n);
    if (!n) return d->out;
    if (d->at_start) {
        if (strips_space(d->v, d->flags) && p[0] == ' ') p++, n--;
        d->at_start = false;
    }
    memcpy(d->in, d->held, d->n_held);
    memcpy(d->in + d->n_held, p, n);
    size_t m = d->n_held + n;
    d->n_held = 0;
    for (size_t i = 0; i < m;) {
        int r = adm_utf8_check((const uint8_t *)d->in + i, m - i);
        if (r > 0) {
            memcpy(d->out + o, d->in + i, (size_t)r);
            o += (size_t)r, i += (size_t)r;
        } else if (r == 0) { /* the rest of this character comes with a later token */
            d->n_held = m - i;
            memcpy(d->held, d->in + i, d->n_held);
            break;
        } else {
            memcpy(d->out + o, k_replacement, 3);
            o += 3, i += (size_t)-r;
        }
    }
    d->out[o] = 0;
    *len = o;
    return d->out;
}

const char *adm_detok_flush(adm_detok *d, size_t *len) {
    size_t dummy;
    if (!len) len = &dummy;
    *len = 0;
    if (!d) return "";
    d->out[0] = 0;
    if (d->n_held) { /* a character that never completed */
        memcpy(d->out, k_replacement, 4);
        *len = 3;
        d->n_held = 0;
    }
    return d->out;
}

void adm_detok_reset(adm_detok *d) {
    if (!d) return;
    d->n_held = 0;
    d->at_start = true;
}
