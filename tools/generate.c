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
};

void gen_drafter_free(gen_drafter *d) {
    if (!d) return;
    adm_ctx_free(d->ctx);
    adm_model_free(d->m);
    free(d);
}

gen_drafter *gen_drafter_create(const char *cmd, const model_opts *o, const char *path, const adm_model *target,
                                adm_ctx *target_ctx) {
    (void)target;
    gen_drafter *d = calloc(1, sizeof(*d));
    if (!d) {
        args_error(cmd, "out of memory");
        return NULL;
    }
    model_opts mo = *o;
    mo.model = path;
    if (!(d->m = model_opts_load(&mo, cmd))) goto fail;
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
    /* The vocabulary check happens when the slot is made (adm_slot_create). */
    adm_slot *probe;
    if (adm_slot_create(adm_ctx_seq(target_ctx), adm_ctx_seq(d->ctx), &probe, &err) != ADM_OK) {
        args_error(cmd, "%s: %s", path, err.msg);
        goto fail;
    }
    adm_slot_free(probe);
    return d;
fail:
    gen_drafter_free(d);
    return NULL;
}

static bool write_text(FILE *out, sbuf *all, const char *t, size_t n) {
    if (!n) return true;
    fwrite(t, 1, n, out);
    fflush(out);
    return sb_add(all, t, n);
}

bool generate(const char *cmd, adm_ctx *ctx, const adm_vocab *vocab, adm_sampler *smp, float *logits,
              const gen_params *gp, FILE *out, int32_t **history, int *n_history, int *cap, gen_result *res) {
    (void)vocab;
    memset(res, 0, sizeof(*res));
    adm_error err;
    adm_slot *slot = NULL;
    adm_sched *sc = NULL;
    sbuf text = {0};
    bool ok = false;
    const double t0 = args_now();
    adm_seq *seq = adm_ctx_seq(ctx);
    if (adm_slot_create(seq, gp->drafter ? adm_ctx_seq(gp->drafter->ctx) : NULL, &slot, &err) != ADM_OK ||
        adm_sched_create(adm_ctx_engine(ctx), NULL, &sc, &err) != ADM_OK || adm_sched_add(sc, slot, &err) != ADM_OK) {
        args_error(cmd, "%s", err.msg);
        goto done;
    }
    adm_gen_params p = adm_gen_default_params();
    p.sampler = smp;
    p.n_predict = gp->n_predict;
    for (int i = 0; i < gp->n_stops; i++) p.stops[i] = gp->stops[i];
    p.n_stops = gp->n_stops;
    p.ignore_eos = gp->ignore_eos;
    p.special = gp->special;
    p.strip_space = gp->strip_space;
    p.lookup = gp->lookup;
    if (gp->lookup_ngram > 0) p.lookup_ngram = gp->lookup_ngram;
    if (gp->drafter) {
        p.draft_max = gp->draft_max > 0 ? gp->draft_max : 8;
        p.draft_p_min = gp->draft_p_min;
    }
    if (adm_slot_resume(slot, logits, &p, &err) != ADM_OK) {
        args_error(cmd, "%s", err.msg);
        goto done;
    }
    size_t n;
    const char *t = adm_slot_take_text(slot, &n);
    if (!write_text(out, &text, t, n)) goto oom;
    while (adm_sched_busy(sc)) {
        if (gp->interrupt && *gp->interrupt) adm_slot_cancel(slot);
        if (adm_sched_step(sc, &err) != ADM_OK) break; /* the slot carries the error */
        t = adm_slot_take_text(slot, &n);
        if (!write_text(out, &text, t, n)) goto oom;
    }
    adm_slot_info info = adm_slot_get_info(slot);
    res->n_gen = info.n_gen;
    res->n_drafted = info.n_drafted;
    res->n_accepted = info.n_accepted;
    switch (info.finish) {
    case ADM_FINISH_EOG: res->end = GEN_EOG; break;
    case ADM_FINISH_STOP: res->end = GEN_STOP; break;
    case ADM_FINISH_CTX_FULL: res->end = GEN_CTX_FULL; break;
    case ADM_FINISH_CANCELLED: res->end = GEN_INTERRUPT; break;
    case ADM_FINISH_ERROR: res->end = GEN_ERROR; break;
    default: res->end = GEN_LIMIT; break;
    }
    if (info.finish == ADM_FINISH_ERROR) {
        args_error(cmd, "%s", info.error.msg);
        goto done;
    }
    /* The token that reached the limit is evaluated too, so the cache holds
     * the whole answer (chat's next turn starts after it). */
    const int nt = adm_slot_n_tokens(slot);
    if (info.finish == ADM_FINISH_LENGTH && nt > 0 && adm_ctx_n_past(ctx) < adm_ctx_n_ctx(ctx)) {
        const int32_t last = adm_slot_token(slot, nt - 1)->id;
        if (adm_ctx_eval(ctx, &last, 1, NULL, false, &err) != ADM_OK) {
            args_error(cmd, "%s", err.msg);
            goto done;
        }
    }
    /* history mirrors the cache. */
    const int np = adm_ctx_n_past(ctx);
    if (np > *cap) {
        int32_t *nh = realloc(*history, (size_t)np * sizeof(int32_t));
        if (!nh) goto oom;
        *history = nh;
        *cap = np;
    }
    memcpy(*history, adm_seq_tokens(seq), (size_t)np * sizeof(int32_t));
    *n_history = np;
    ok = true;
    goto done;
oom:
    args_error(cmd, "out of memory");
done:
    res->seconds = args_now() - t0;
    res->text = text.p ? text.p : calloc(1, 1);
    res->len = text.len;
    adm_sched_free(sc);
    adm_slot_free(slot);
    return ok;
}
