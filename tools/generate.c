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

int gen_opts_parse(gen_params *gp, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    long n;
    if (!strcmp(a, "--lookup") && *i + 1 < argc) {
        if (!args_int(cmd, a, argv[++*i], 0, GEN_MAX_LOOKUP, &n)) return -1;
        gp->lookup = (int)n;
        return 1;
    }
    if (!strcmp(a, "--lookup-ngram") && *i + 1 < argc) {
        if (!args_int(cmd, a, argv[++*i], 1, 16, &n)) return -1;
        gp->lookup_ngram = (int)n;
        return 1;
    }
    return 0;
}

void gen_opts_usage(FILE *f) {
    fprintf(f, "  --lookup N              speculative decoding by prompt lookup: guess up to N (<= %d) next tokens\n"
               "                          from an earlier occurrence of the last n-gram and verify them in one\n"
               "                          batch (default 0: off; pays off on repetitive text: code, edits, quotes)\n"
               "  --lookup-ngram N        longest n-gram looked up, then shorter ones down to 1 (default 3)\n",
            GEN_MAX_LOOKUP);
}

/* The draft of --lookup: the tokens that followed an earlier occurrence of
 * the last n tokens of seq[0..len), for n from `ngram` down to 1; at most
 * max of them. The latest occurrence followed by max tokens wins, or else
 * the one followed by the most (in a loop the latest occurrence is the
 * previous turn of it, followed by a single token). A linear scan from the
 * end: ~len compares per step, microseconds next to a decode step. */
static int lookup_draft(const int32_t *seq, int len, int ngram, int max, int32_t *draft) {
    for (int n = ngram < len - 1 ? ngram : len - 1; n >= 1; n--) {
        const int32_t *key = seq + len - n;
        int best = -1;
        for (int p = len - n - 1; p >= 0; p--) {
            if (seq[p] != key[0] || memcmp(seq + p, key, (size_t)n * sizeof(int32_t)) != 0) continue;
            best = p;
            if (len - (p + n) >= max) break;
        }
        if (best >= 0) {
            const int from = best + n, k = max < len - from ? max : len - from;
            memcpy(draft, seq + from, (size_t)k * sizeof(int32_t));
            return k;
        }
    }
    return 0;
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
    /* --lookup: the batch's logits (row 0: the sampled token, row i: draft
     * i-1) and the draft tokens still in the cache, unconfirmed. */
    float *spec = NULL;
    int32_t draft[GEN_MAX_LOOKUP];
    int spec_n = 0, spec_i = 0;
    if (gp->lookup > 0 && !(spec = malloc((size_t)(gp->lookup + 1) * (size_t)n_vocab * sizeof(float)))) {
        args_error(cmd, "out of memory");
        adm_detok_free(dt);
        return false;
    }
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
        if (adm_ctx_n_past(ctx) - (spec_n - spec_i) >= adm_ctx_n_ctx(ctx)) {
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
        if (spec_i < spec_n && tok == draft[spec_i]) {
            /* A confirmed guess: the batch that put it in the cache also
             * computed its logits. */
            spec_i++;
            res->n_accepted++;
            memcpy(logits, spec + (size_t)spec_i * (size_t)n_vocab, (size_t)n_vocab * sizeof(float));
            (*history)[(*n_history)++] = tok;
            continue;
        }
        if (spec_i < spec_n) adm_ctx_truncate(ctx, adm_ctx_n_past(ctx) - (spec_n - spec_i));
        spec_n = spec_i = 0;
        (*history)[*n_history] = tok; /* the sequence the draft is looked up in */
        const int room = adm_ctx_n_ctx(ctx) - adm_ctx_n_past(ctx) - 1;
        const int k = gp->lookup > 0 && room > 0
                          ? lookup_draft(*history, *n_history + 1, gp->lookup_ngram > 0 ? gp->lookup_ngram : 3,
                                         gp->lookup < room ? gp->lookup : room, draft)
                          : 0;
        adm_status st;
        if (k > 0) {
            int32_t batch[1 + GEN_MAX_LOOKUP];
            batch[0] = tok;
            memcpy(batch + 1, draft, (size_t)k * sizeof(int32_t));
            st = adm_ctx_eval(ctx, batch, 1 + k, spec, true, &err);
            if (st == ADM_OK) {
                memcpy(logits, spec, (size_t)n_vocab * sizeof(float));
                spec_n = k;
                res->n_drafted += k;
            }
        } else {
            st = adm_ctx_eval(ctx, &tok, 1, logits, false, &err);
        }
        if (st != ADM_OK) {
            args_error(cmd, "%s", err.msg);
            res->end = GEN_ERROR;
            ok = false;
            break;
        }
        (*history)[(*n_history)++] = tok;
    }
    /* Guesses never confirmed leave the cache: it holds what history says. */
    if (spec_i < spec_n) adm_ctx_truncate(ctx, adm_ctx_n_past(ctx) - (spec_n - spec_i));
    free(spec);
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
