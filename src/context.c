/*
 * context.c - see context.h.
 */
#include "context.h"

#include <math.h>

adm_ctx_params adm_ctx_default_params(void) {
    /* A context is an engine with one sequence: the sequence's defaults. */
    const adm_seq_params sp = adm_seq_default_params();
    adm_ctx_params p;
    memset(&p, 0, sizeof(p));
    p.n_batch = adm_engine_default_params().n_batch;
    p.llama_order = true; /* one sequence: run, chat and perplexity reproduce llama.cpp */
    p.type_k = sp.type_k;
    p.type_v = sp.type_v;
    p.attention = sp.attention;
    p.budget = sp.budget;
    p.dense_layers = sp.dense_layers;
    p.sink = sp.sink;
    p.window = sp.window;
    p.thresholds = sp.thresholds;
    return p;
}

adm_status adm_ctx_create(const adm_model *model, const adm_ctx_params *params, adm_ctx **out, adm_error *err) {
    *out = NULL;
    adm_ctx_params p = params ? *params : adm_ctx_default_params();
    if (p.n_ctx == 0) p.n_ctx = model->hp.n_ctx_train;
    if (p.n_ctx < 1 || p.n_ctx > (1 << 24))
        return adm_fail(err, ADM_ERR_INVALID_ARG, "context size %d is out of range (1 to %d)", p.n_ctx, 1 << 24);
    if (p.n_batch < 1) p.n_batch = 512;
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    adm_ctx *ctx = adm_calloc(1, sizeof(*ctx));
    if (!ctx) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    adm_engine_params ep = adm_engine_default_params();
    ep.n_batch = p.n_batch;
    ep.n_threads = p.n_threads;
    ep.threads_from = p.threads_from ? p.threads_from->e : NULL;
    ep.llama_order = p.llama_order;
    adm_seq_params sp = {p.n_ctx,  p.type_k, p.type_v,     p.attention,  p.budget,        p.dense_layers,
                         p.sink,   p.window, p.thresholds, p.group_select, p.collect_stats, p.swa_full};
    adm_status st = adm_engine_create(model, &ep, &ctx->e, err);
    if (st == ADM_OK) st = adm_seq_create(ctx->e, &sp, &ctx->s, err);
    if (st != ADM_OK) {
        adm_ctx_free(ctx);
        return st;
    }
    p.n_threads = ctx->e->n_threads;
    ctx->params = p;
    *out = ctx;
    return ADM_OK;
}

void adm_ctx_free(adm_ctx *ctx) {
    if (!ctx) return;
    adm_seq_free(ctx->s);
    adm_engine_free(ctx->e);
    adm_free(ctx);
}

adm_engine *adm_ctx_engine(adm_ctx *ctx) { return ctx->e; }
adm_seq *adm_ctx_seq(adm_ctx *ctx) { return ctx->s; }

adm_status adm_ctx_eval(adm_ctx *ctx, const int32_t *tokens, int n_tokens, float *logits, bool logits_all,
                        adm_error *err) {
    adm_engine *e = ctx->e;
    adm_seq *s = ctx->s;
    const adm_hparams *hp = &e->model->hp;
    if (n_tokens < 0 || (n_tokens > 0 && !tokens)) return adm_fail(err, ADM_ERR_INVALID_ARG, "invalid token array");
    if (n_tokens == 0) return ADM_OK;
    if (n_tokens > s->p.n_ctx - s->n_past)
        return adm_fail(err, ADM_ERR_CONTEXT_FULL, "%d tokens do not fit in the context: %d of %d positions are used",
                        n_tokens, s->n_past, s->p.n_ctx);
    for (int i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return adm_fail(err, ADM_ERR_INVALID_ARG, "token id %d at index %d is outside the vocabulary (0 to %d)",
                            tokens[i], i, hp->n_vocab - 1);
    const int n_batch = e->n_batch;
    adm_batch_row *rows = adm_alloc((size_t)ADM_MIN(n_batch, n_tokens) * sizeof(adm_batch_row));
    if (!rows) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    adm_status st = ADM_OK;
    for (int done = 0; done < n_tokens;) {
        int n = ADM_MIN(n_batch, n_tokens - done);
        /* Sparse evaluation: positions past the budget go one at a time so
         * that each of them attends sparsely, as in a real decode. */
        if (s->adamas && s->attention != ADM_ATTN_DENSE && ctx->params.sparse_eval) {
            const int dense_room = s->p.budget - s->n_past;
            n = dense_room > 0 ? ADM_MIN(n, dense_room) : 1;
        }
        const bool last = done + n == n_tokens;
        float *out = NULL;
        if (logits && logits_all) out = logits + (size_t)done * hp->n_vocab;
        else if (logits && last) out = logits;
        for (int i = 0; i < n; i++)
            rows[i] = (adm_batch_row){s, tokens[done + i], out && (logits_all || i == n - 1)};
        st = adm_engine_decode(e, rows, n, out, err);
        if (st != ADM_OK) break;
        done += n;
        if (ctx->params.progress && n_tokens > n_batch &&
            !ctx->params.progress((uint64_t)done, (uint64_t)n_tokens, ctx->params.progress_user) && done < n_tokens) {
            st = adm_fail(err, ADM_ERR_CANCELLED, "evaluation was cancelled after %d of %d tokens", done, n_tokens);
            break;
        }
    }
    adm_free(rows);
    return st;
}

int adm_ctx_n_past(const adm_ctx *ctx) { return ctx->s->n_past; }
int adm_ctx_n_ctx(const adm_ctx *ctx) { return ctx->s->p.n_ctx; }
void adm_ctx_truncate(adm_ctx *ctx, int n_keep) { adm_seq_truncate(ctx->s, n_keep); }

adm_ctx_memory adm_ctx_get_memory(const adm_ctx *ctx) {
    adm_ctx_memory m = adm_seq_get_memory(ctx->s);
    m.scratch_bytes = ctx->e->scratch_bytes;
    return m;
}

double adm_ctx_adamas_mass(const adm_ctx *ctx, int layer, int64_t *n_steps) {
    return adm_seq_adamas_mass(ctx->s, layer, n_steps);
}

adm_status adm_ctx_set_attention(adm_ctx *ctx, adm_attention attention, adm_error *err) {
    return adm_seq_set_attention(ctx->s, attention, err);
}

adm_ctx_perf adm_ctx_get_perf(const adm_ctx *ctx) { return ctx->s->perf; }

void adm_ctx_reset_perf(adm_ctx *ctx) { memset(&ctx->s->perf, 0, sizeof(ctx->s->perf)); }
