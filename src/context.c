/*
 * context.c - creating a context (KV cache, scratch, threads) and the
 * evaluation entry point, which validates tokens and splits long inputs
 * into n_batch-token chunks.
 */
#include "context.h"

#include <math.h>
#include <stdio.h>

adm_ctx_params adm_ctx_default_params(void) {
    adm_ctx_params p;
    memset(&p, 0, sizeof(p));
    p.n_batch = 512;
    p.type_k = ADM_TYPE_F16;
    p.type_v = ADM_TYPE_F16;
    p.attention = ADM_ATTN_DENSE;
    p.budget = 128;
    p.dense_layers = 2;
    p.sink = -1;   /* 4 */
    p.window = -1; /* budget / 4 */
    p.thresholds = ADM_THRESHOLDS_CALIBRATED;
    return p;
}

static float *alloc_f(adm_ctx *ctx, size_t n, bool *ok) {
    float *p = adm_alloc(n * sizeof(float));
    if (!p) *ok = false;
    ctx->scratch_bytes += n * sizeof(float);
    return p;
}

adm_status adm_ctx_create(const adm_model *model, const adm_ctx_params *params, adm_ctx **out, adm_error *err) {
    *out = NULL;
    adm_ctx_params p = params ? *params : adm_ctx_default_params();
    const adm_hparams *hp = &model->hp;
    if (p.n_ctx == 0) p.n_ctx = hp->n_ctx_train;
    if (p.n_ctx < 1 || p.n_ctx > (1 << 24))
        return adm_fail(err, ADM_ERR_INVALID_ARG, "context size %d is out of range (1 to %d)", p.n_ctx, 1 << 24);
    if (p.n_batch < 1) p.n_batch = 512;
    if (p.n_batch > p.n_ctx) p.n_batch = p.n_ctx;
    if (p.threads_from) p.n_threads = adm_pool_size(p.threads_from->pool);
    if (p.n_threads <= 0) p.n_threads = adm_default_threads();
    if (p.budget < 1) return adm_fail(err, ADM_ERR_INVALID_ARG, "attention budget must be at least 1");
    /* Defaults chosen by measurement (docs/adamas.md): 4 attention-sink
     * tokens and a recent window of a quarter of the budget. */
    if (p.sink < 0) p.sink = ADM_MIN(4, p.budget / 4);
    if (p.window < 0) p.window = p.attention == ADM_ATTN_ADAMAS ? p.budget / 4 : 0;
    if (p.dense_layers < 0) return adm_fail(err, ADM_ERR_INVALID_ARG, "dense layers must not be negative");

    adm_ctx *ctx = adm_calloc(1, sizeof(*ctx));
    if (!ctx) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    ctx->model = model;
    ctx->params = p;
    ctx->attention = p.attention;
    ctx->k = adm_kernels_get();
    adm_status st = ADM_OK;
    if (p.threads_from) {
        ctx->pool = p.threads_from->pool;
    } else {
        st = adm_pool_create(p.n_threads, &ctx->pool, err);
        if (st != ADM_OK) goto fail;
        ctx->pool_owned = true;
    }
    st = adm_kv_cache_create(hp->n_layer, hp->n_head_kv, hp->head_dim, hp->head_dim_v, p.n_ctx, p.type_k, p.type_v,
                             &ctx->kv, err);
    if (st != ADM_OK) goto fail;

    if (p.attention != ADM_ATTN_DENSE) {
        adm_adamas_params ap = {p.attention,     p.thresholds,  p.budget,      p.dense_layers,
                                p.sink,          p.window,      p.collect_stats, p.group_select};
        st = adm_adamas_create(&ap, ctx->kv, hp->n_head, p.n_threads, &ctx->adamas, err);
        if (st != ADM_OK) goto fail;
    }

    const size_t nb = (size_t)p.n_batch;
    const size_t nq = (size_t)hp->n_head * hp->head_dim, nk = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t nv = (size_t)hp->n_head_kv * hp->head_dim_v, no = (size_t)hp->n_head * hp->head_dim_v;
    const size_t wide = ADM_MAX(ADM_MAX((size_t)hp->n_embd, (size_t)hp->n_ff), ADM_MAX(nq, no));
    bool ok = true;
    ctx->x = alloc_f(ctx, nb * hp->n_embd, &ok);
    ctx->xn = alloc_f(ctx, nb * hp->n_embd, &ok);
    ctx->q = alloc_f(ctx, nb * nq, &ok);
    ctx->kcur = alloc_f(ctx, nb * nk, &ok);
    ctx->vcur = alloc_f(ctx, nb * nv, &ok);
    ctx->attn = alloc_f(ctx, nb * no, &ok);
    ctx->gate = alloc_f(ctx, nb * hp->n_ff, &ok);
    ctx->up = alloc_f(ctx, nb * hp->n_ff, &ok);
    ctx->rope = alloc_f(ctx, nb * hp->n_rot, &ok);
    ctx->pos = adm_alloc(nb * sizeof(int32_t));
    size_t mm = adm_matmul_scratch_size((int64_t)wide, p.n_batch);
    ctx->mm_scratch = adm_alloc(mm);
    ctx->attn_scratch_per_thread = adm_attn_scratch_size(ctx->kv, hp->n_head, p.n_ctx);
    ctx->attn_scratch = adm_alloc(ctx->attn_scratch_per_thread * (size_t)p.n_threads);
    ctx->scratch_bytes += nb * sizeof(int32_t) + mm + ctx->attn_scratch_per_thread * (size_t)p.n_threads;
    if (!ok || !ctx->pos || !ctx->mm_scratch || !ctx->attn_scratch) {
        st = adm_fail(err, ADM_ERR_NOMEM, "cannot allocate %.1f MiB of scratch memory for the context",
                      (double)ctx->scratch_bytes / (1024.0 * 1024.0));
        goto fail;
    }
    *out = ctx;
    return ADM_OK;
fail:
    adm_ctx_free(ctx);
    return st;
}

void adm_ctx_free(adm_ctx *ctx) {
    if (!ctx) return;
    if (ctx->pool_owned) adm_pool_free(ctx->pool);
    adm_kv_cache_free(ctx->kv);
    adm_adamas_free(ctx->adamas);
    adm_free(ctx->x);
    adm_free(ctx->xn);
    adm_free(ctx->q);
    adm_free(ctx->kcur);
    adm_free(ctx->vcur);
    adm_free(ctx->attn);
    adm_free(ctx->gate);
    adm_free(ctx->up);
    adm_free(ctx->rope);
    adm_free(ctx->pos);
    adm_free(ctx->mm_scratch);
    adm_free(ctx->attn_scratch);
    adm_free(ctx);
}

adm_status adm_ctx_eval(adm_ctx *ctx, const int32_t *tokens, int n_tokens, float *logits, bool logits_all,
                        adm_error *err) {
    const adm_hparams *hp = &ctx->model->hp;
    if (n_tokens < 0 || (n_tokens > 0 && !tokens)) return adm_fail(err, ADM_ERR_INVALID_ARG, "invalid token array");
    if (n_tokens == 0) return ADM_OK;
    if (n_tokens > ctx->params.n_ctx - ctx->n_past)
        return adm_fail(err, ADM_ERR_CONTEXT_FULL, "%d tokens do not fit in the context: %d of %d positions are used",
                        n_tokens, ctx->n_past, ctx->params.n_ctx);
    for (int i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return adm_fail(err, ADM_ERR_INVALID_ARG, "token id %d at index %d is outside the vocabulary (0 to %d)",
                            tokens[i], i, hp->n_vocab - 1);
    const int n_batch = ctx->params.n_batch;
    for (int done = 0; done < n_tokens;) {
        int n = ADM_MIN(n_batch, n_tokens - done);
        /* Sparse evaluation: positions past the budget go one at a time so
         * that each of them attends sparsely, as in a real decode. */
        if (ctx->adamas && ctx->attention != ADM_ATTN_DENSE && ctx->params.sparse_eval) {
            const int dense_room = ctx->params.budget - ctx->n_past;
            n = dense_room > 0 ? ADM_MIN(n, dense_room) : 1;
        }
        const bool last = done + n == n_tokens;
        float *out = NULL;
        if (logits && logits_all) out = logits + (size_t)done * hp->n_vocab;
        else if (logits && last) out = logits;
        adm_forward(ctx, tokens + done, n, out, logits_all);
        done += n;
        if (ctx->params.progress && n_tokens > n_batch &&
            !ctx->params.progress((uint64_t)done, (uint64_t)n_tokens, ctx->params.progress_user) && done < n_tokens)
            return adm_fail(err, ADM_ERR_INVALID_ARG, "evaluation was cancelled after %d of %d tokens", done, n_tokens);
    }
    return ADM_OK;
}

int adm_ctx_n_past(const adm_ctx *ctx) { return ctx->n_past; }
int adm_ctx_n_ctx(const adm_ctx *ctx) { return ctx->params.n_ctx; }

void adm_ctx_truncate(adm_ctx *ctx, int n_keep) {
    if (n_keep < 0) n_keep = 0;
    if (n_keep < ctx->n_past) ctx->n_past = n_keep;
    ctx->kv->n = ctx->n_past;
    if (ctx->adamas) adm_adamas_truncate(ctx->adamas, ctx->n_past);
}

adm_ctx_memory adm_ctx_get_memory(const adm_ctx *ctx) {
    adm_ctx_memory m = {adm_kv_cache_bytes(ctx->kv), ctx->adamas ? adm_adamas_code_bytes(ctx->adamas) : 0,
                        ctx->scratch_bytes};
    return m;
}

double adm_ctx_adamas_mass(const adm_ctx *ctx, int layer, int64_t *n_steps) {
    *n_steps = 0;
    if (!ctx->adamas || layer < 0 || layer >= ctx->model->hp.n_layer) return (double)NAN;
    return adm_adamas_mass(ctx->adamas, layer, n_steps);
}

adm_status adm_ctx_set_attention(adm_ctx *ctx, adm_attention attention, adm_error *err) {
    if (attention != ADM_ATTN_DENSE && attention != ctx->params.attention)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "this context was created for %s attention; create it with the "
                        "sparse method to use it", ctx->params.attention == ADM_ATTN_DENSE ? "dense" : "another");
    ctx->attention = attention;
    return ADM_OK;
}

adm_ctx_perf adm_ctx_get_perf(const adm_ctx *ctx) { return ctx->perf; }

void adm_ctx_reset_perf(adm_ctx *ctx) { memset(&ctx->perf, 0, sizeof(ctx->perf)); }
