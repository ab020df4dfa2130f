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

void gen_params_init(gen_params *gp) {
    memset(gp, 0, sizeof(*gp));
    gp->n_predict = -1;
    gp->draft_max = 8;
    gp->draft_p_min = 0.8f;
}

int gen_opts_parse(gen_params *gp, const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i], *v;
    double d;
    long n;
    if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, -1, 1 << 30, &n)) return -1;
        gp->n_predict = (int)n;
    } else if (!strcmp(a, "--stop")) {
        if (!(v = args_value(cmd, argc, argv, i))) return -1;
        if (gp->n_stops == GEN_MAX_STOPS || !v[0]) {
            args_error(cmd, "at most %d non-empty --stop strings", GEN_MAX_STOPS);
            return -1;
        }
        gp->stops[gp->n_stops++] = v;
    } else if (!strcmp(a, "--ignore-eos")) {
        gp->ignore_eos = true;
    } else if (!strcmp(a, "--lookup")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 0, GEN_MAX_LOOKUP, &n)) return -1;
        gp->lookup = (int)n;
    } else if (!strcmp(a, "--lookup-ngram")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 1, 16, &n)) return -1;
        gp->lookup_ngram = (int)n;
    } else if (!strcmp(a, "--draft-model") || !strcmp(a, "-md")) {
        if (!(gp->draft_model = args_value(cmd, argc, argv, i))) return -1;
    } else if (!strcmp(a, "--draft")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_int(cmd, a, v, 1, GEN_MAX_LOOKUP, &n)) return -1;
        gp->draft_max = (int)n;
    } else if (!strcmp(a, "--draft-p-min")) {
        if (!(v = args_value(cmd, argc, argv, i)) || !args_float(cmd, a, v, 0, 1, &d)) return -1;
        gp->draft_p_min = (float)d;
    } else {
        return 0;
    }
    return 1;
}

void gen_opts_usage(FILE *f) {
    fprintf(f, "  -n, --n-predict N       tokens to generate (per answer in chat; default -1: until the end of\n"
               "                          the text or turn, or a full context)\n"
               "  --stop TEXT             stop before TEXT (may be repeated, up to %d)\n"
               "  --ignore-eos            do not stop at end-of-generation (end-of-turn) tokens\n",
            GEN_MAX_STOPS);
    fprintf(f, "  --lookup N              speculative decoding by prompt lookup: guess up to N (<= %d) next tokens\n"
               "                          from an earlier occurrence of the last n-gram and verify them in one\n"
               "                          batch (default 0: off; pays off on repetitive text: code, edits, quotes)\n"
               "  --lookup-ngram N        longest n-gram looked up, then shorter ones down to 1 (default 3)\n"
               "  -md, --draft-model FILE speculative decoding with a smaller model of the same vocabulary\n"
               "  --draft N               its drafts: at most N tokens (default 8, <= %d) ...\n"
               "  --draft-p-min P         ... each its top choice with probability >= P (default 0.8)\n",
            GEN_MAX_LOOKUP, GEN_MAX_LOOKUP);
}

struct gen_drafter {
    adm_model *m;
    adm_ctx *ctx;
    int32_t *hist;      /* what its KV cache holds */
    int n_hist, cap;
    float *logits;      /* its logits after hist's last token */
    int n_vocab, n_vocab_target;
};

void gen_drafter_free(gen_drafter *d) {
    if (!d) return;
    adm_ctx_free(d->ctx);
    adm_model_free(d->m);
    free(d->hist);
    free(d->logits);
    free(d);
}

gen_drafter *gen_drafter_create(const char *cmd, const model_opts *o, const char *path, const adm_model *target,
                                adm_ctx *target_ctx) {
    gen_drafter *d = calloc(1, sizeof(*d));
    if (!d) {
        args_error(cmd, "out of memory");
        return NULL;
    }
    model_opts mo = *o;
    mo.model = path;
    if (!(d->m = model_opts_load(&mo, cmd))) goto fail;
    /* Same tokens, same ids: token pieces must agree on the ids both have
     * (vocabularies of one family may differ in trailing padding ids). */
    const adm_vocab *vt = adm_model_vocab(target), *vd = adm_model_vocab(d->m);
    d->n_vocab = adm_model_n_vocab(d->m);
    d->n_vocab_target = adm_model_n_vocab(target);
    if (!vt || !vd) {
        args_error(cmd, "%s: a draft model needs a vocabulary", path);
        goto fail;
    }
    const int nt = adm_vocab_n_tokens(vt), nd = adm_vocab_n_tokens(vd), common = nt < nd ? nt : nd;
    if (abs(nt - nd) > 128) {
        args_error(cmd, "%s: the draft model's vocabulary has %d tokens, the model's %d: not the same tokenizer", path,
                   nd, nt);
        goto fail;
    }
    for (int i = 0; i < common; i++) {
        size_t la, lb;
        const char *a = adm_vocab_piece(vt, i, &la), *b = adm_vocab_piece(vd, i, &lb);
        if (la != lb || (la && memcmp(a, b, la) != 0)) {
            args_error(cmd, "%s: the draft model's token %d differs from the model's: not the same tokenizer", path, i);
            goto fail;
        }
    }
    adm_ctx_params cp = o->cp;
    cp.n_ctx = adm_ctx_n_ctx(target_ctx);
    cp.threads_from = target_ctx;
    cp.attention = ADM_ATTN_DENSE; /* short drafts; a small model's attention is cheap */
    cp.collect_stats = false;
    cp.sparse_eval = false;
    cp.progress = NULL;
    cp.progress_user = NULL;
    adm_error err;
    if (adm_ctx_create(d->m, &cp, &d->ctx, &err) != ADM_OK) {
        args_error(cmd, "%s: %s", path, err.msg);
        goto fail;
    }
    d->cap = cp.n_ctx;
    d->hist = malloc((size_t)d->cap * sizeof(int32_t));
    d->logits = malloc((size_t)d->n_vocab * sizeof(float));
    if (!d->hist || !d->logits) {
        args_error(cmd, "out of memory");
        goto fail;
    }
    return d;
fail:
    gen_drafter_free(d);
    return NULL;
}

/* The draft model's greedy continuation of seq[0..len): at most max tokens,
 * each its top choice with probability >= p_min (the first one always).
 * Its cache keeps the longest common prefix with seq and evaluates the
 * rest; the last draft token is not evaluated (the next call starts from
 * what the target took). Returns the count, or -1 (err set) on failure. */
static int drafter_draft(gen_drafter *d, const int32_t *seq, int len, int max, float p_min, int32_t *out,
                         adm_error *err) {
    int c = 0;
    while (c < d->n_hist && c < len && d->hist[c] == seq[c]) c++;
    if (c == len) c--; /* the last token's logits are needed again */
    if (c < d->n_hist) {
        adm_ctx_truncate(d->ctx, c);
        d->n_hist = c;
    }
    if (len > d->cap) return 0;
    if (adm_ctx_eval(d->ctx, seq + c, len - c, d->logits, false, err) != ADM_OK) return -1;
    memcpy(d->hist + c, seq + c, (size_t)(len - c) * sizeof(int32_t));
    d->n_hist = len;
    int k = 0;
    while (k < max) {
        int best = 0;
        for (int i = 1; i < d->n_vocab; i++)
            if (d->logits[i] > d->logits[best]) best = i;
        if (best >= d->n_vocab_target) break;
        if (k > 0 && p_min > 0.0f) {
            /* The top choice's probability, 1 / sum(exp(l - l_top)): floats
             * suffice for a cut-off, and a large vocabulary makes this loop
             * a visible part of a small draft model's step. */
            float z = 0.0f;
            for (int i = 0; i < d->n_vocab; i++) z += expf(d->logits[i] - d->logits[best]);
            if (z * p_min > 1.0f) break;
        }
        out[k++] = best;
        if (k == max || d->n_hist >= d->cap) break;
        if (adm_ctx_eval(d->ctx, &out[k - 1], 1, d->logits, false, err) != ADM_OK) return -1;
        d->hist[d->n_hist++] = out[k - 1];
    }
    return k;
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
    /* Speculation (--lookup or a draft model): the verifying batch's logits
     * (row 0: the sampled token, row i: guess i-1) and the guesses still in
     * the cache, unconfirmed. */
    float *spec = NULL;
    int32_t draft[GEN_MAX_LOOKUP];
    int spec_n = 0, spec_i = 0;
    const int spec_max = gp->drafter ? (gp->draft_max > 0 ? gp->draft_max : 8) : gp->lookup;
    if (spec_max > 0 && !(spec = malloc((size_t)(spec_max + 1) * (size_t)n_vocab * sizeof(float)))) {
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
        int k = 0;
        if (gp->drafter && room > 0) {
            k = drafter_draft(gp->drafter, *history, *n_history + 1, spec_max < room ? spec_max : room, gp->draft_p_min,
                              draft, &err);
            if (k < 0) {
                args_error(cmd, "draft model: %s", err.msg);
                res->end = GEN_ERROR;
                ok = false;
                break;
            }
        } else if (gp->lookup > 0 && room > 0) {
            k = lookup_draft(*history, *n_history + 1, gp->lookup_ngram > 0 ? gp->lookup_ngram : 3,
                             gp->lookup < room ? gp->lookup : room, draft);
        }
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
