/*
 * generate.c - see generate.h.
 */
#include "generate.h"

#include "args.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static bool sb_add(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return false;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return true;
}

/* Length of the longest suffix of text[0..len) that is a proper prefix of a stop string. */
static size_t stop_prefix_tail(const char *text, size_t len, const gen_params *gp) {
    size_t best = 0;
    for (int s = 0; s < gp->n_stops; s++) {
        size_t sl = strlen(gp->stops[s]);
        for (size_t k = sl - 1; k > best && k > 0; k--)
            if (k <= len && memcmp(text + len - k, gp->stops[s], k) == 0) {
                best = k;
                break;
            }
    }
    return best;
}

/* Earliest occurrence of any stop string at or after `from`, or -1. */
static long find_stop(const char *text, size_t from, const gen_params *gp) {
    long best = -1;
    for (int s = 0; s < gp->n_stops; s++) {
        const char *p = strstr(text + from, gp->stops[s]);
        if (p && (best < 0 || p - text < best)) best = p - text;
    }
    return best;
}

bool generate(const char *cmd, adm_ctx *ctx, const adm_vocab *vocab, adm_sampler *smp, float *logits,
              const gen_params *gp, FILE *out, int32_t **history, int *n_history, int *cap, gen_result *res) {
    memset(res, 0, sizeof(*res));
    adm_detok *dt;
    adm_error err;
    if (adm_detok_create(vocab, (gp->special ? ADM_DETOK_SPECIAL : 0) | (gp->strip_space ? ADM_DETOK_STRIP_SPACE : 0),
                         &dt, &err) != ADM_OK) {
        args_error(cmd, "%s", err.msg);
        return false;
    }
    sbuf text = {0};
    size_t emitted = 0;
    bool ok = true;
    const double t0 = args_now();
    const int n_vocab = adm_vocab_n_tokens(vocab);
    res->end = GEN_LIMIT;
    for (;;) {
        if (gp->interrupt && *gp->interrupt) {
            res->end = GEN_INTERRUPT;
            break;
        }
        if (gp->n_predict >= 0 && res->n_gen >= gp->n_predict) break;
        if (gp->ignore_eos)
            for (int i = 0; i < n_vocab; i++)
                if (adm_vocab_is_eog(vocab, i)) logits[i] = -INFINITY;
        const int32_t tok = adm_sampler_sample(smp, logits);
        res->n_gen++;
        if (adm_vocab_is_eog(vocab, tok)) {
            res->end = GEN_EOG;
            break;
        }
        adm_sampler_accept(smp, tok);
        size_t n;
        const char *piece = adm_detok_push(dt, tok, &n);
        if (!sb_add(&text, piece, n)) {
            args_error(cmd, "out of memory");
            ok = false;
            break;
        }
        long stop = gp->n_stops ? find_stop(text.p, emitted > 64 ? emitted - 64 : 0, gp) : -1;
        size_t ready = stop >= 0 ? (size_t)stop : text.len - stop_prefix_tail(text.p, text.len, gp);
        if (ready > emitted) {
            fwrite(text.p + emitted, 1, ready - emitted, out);
            fflush(out);
            emitted = ready;
        }
        if (stop >= 0) {
            text.len = (size_t)stop;
            text.p[text.len] = 0;
            res->end = GEN_STOP;
            break;
        }
        if (adm_ctx_n_past(ctx) >= adm_ctx_n_ctx(ctx)) {
            res->end = GEN_CTX_FULL;
            break;
        }
        if (*n_history == *cap) {
            int ncap = *cap ? *cap * 2 : 1024;
            int32_t *nh = realloc(*history, (size_t)ncap * sizeof(int32_t));
            if (!nh) {
                args_error(cmd, "out of memory");
                ok = false;
                break;
            }
            *history = nh;
            *cap = ncap;
        }
        if (adm_ctx_eval(ctx, &tok, 1, logits, false, &err) != ADM_OK) {
            args_error(cmd, "%s", err.msg);
            res->end = GEN_ERROR;
            ok = false;
            break;
        }
        (*history)[(*n_history)++] = tok;
    }
    if (res->end != GEN_STOP && ok) {
        size_t n;
        const char *rest = adm_detok_flush(dt, &n);
        if (sb_add(&text, rest, n) && text.len > emitted) {
            fwrite(text.p + emitted, 1, text.len - emitted, out);
            fflush(out);
        }
    }
    res->seconds = args_now() - t0;
    res->text = text.p ? text.p : calloc(1, 1);
    res->len = text.len;
    adm_detok_free(dt);
    return ok;
}
