/*
 * forward.c - one transformer pass over a batch of tokens (a prompt chunk
 * or a single decode token), shared by every architecture:
 *
 *   x = embed(tokens)
 *   per layer:  h = rmsnorm(x);  q,k,v = h W{q,k,v} (+ bias);  [q,k = rmsnorm per head]
 *               q,k = rope(q,k);  cache k,v;  x += attention(q) Wo
 *               h = rmsnorm(x);  x += (silu(h Wgate) * (h Wup)) Wdown
 *   logits = rmsnorm(x) Wout
 *
 * Matrix products are multithreaded over output rows (matmul.c); the cheap
 * per-token steps run over token ranges in the same pool for prompt chunks
 * and on the calling thread for single-token decode steps.
 */
#include "context.h"

#include <math.h>

typedef struct tok_op {
    adm_ctx *ctx;
    int n_tok;
    int layer;
    void (*fn)(struct tok_op *op, int t);
    const float *weight;
    float *src, *dst;
    int width;
} tok_op;

static void tok_op_range(void *arg, int ith, int nth) {
    tok_op *op = arg;
    int64_t lo, hi;
    adm_split_range(op->n_tok, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) op->fn(op, (int)t);
}

/* Per-token ops are cheap: thread them only when there are several tokens. */
static void run_tokens(tok_op *op) {
    if (op->n_tok > 1) adm_pool_run(op->ctx->pool, tok_op_range, op);
    else tok_op_range(op, 0, 1);
}

/* y = x / rms(x) * w, with the mean of squares accumulated in double as
 * ggml does, so results match llama.cpp to float precision. */
static void rmsnorm(float *y, const float *x, const float *w, int n, float eps) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (int i = 0; i < n; i++) y[i] = x[i] * scale * w[i];
}

static void op_rmsnorm(tok_op *op, int t) {
    const adm_hparams *hp = &op->ctx->model->hp;
    rmsnorm(op->dst + (size_t)t * op->width, op->src + (size_t)t * op->width, op->weight, op->width, hp->rms_eps);
}

static void op_add(tok_op *op, int t) {
    float *d = op->dst + (size_t)t * op->width;
    const float *s = op->src + (size_t)t * op->width;
    for (int i = 0; i < op->width; i++) d[i] += s[i];
}

static void op_swiglu(tok_op *op, int t) {
    float *g = op->ctx->gate + (size_t)t * op->width;
    const float *u = op->ctx->up + (size_t)t * op->width;
    op->ctx->k->swiglu(op->width, g, u, g);
}

/* The cos/sin table for one position, computed the way ggml does (theta
 * multiplied step by step in float) so rotations match llama.cpp's. */
static void rope_cache(float *cache, int pos, const adm_hparams *hp) {
    const float theta_scale = powf(hp->rope_base, -2.0f / (float)hp->n_rot);
    float theta = (float)pos;
    for (int i = 0; i < hp->n_rot; i += 2) {
        const float ff = hp->rope_factors ? hp->rope_factors[i / 2] : 1.0f;
        const float th = hp->rope_freq_scale * (theta / ff);
        cache[i] = cosf(th);
        cache[i + 1] = sinf(th);
        theta *= theta_scale;
    }
}

static void rope_head(float *x, const float *cache, int n_rot, adm_rope_type type) {
    const int half = n_rot / 2;
    for (int i = 0; i < n_rot; i += 2) {
        const float c = cache[i], s = cache[i + 1];
        const int a = type == ADM_ROPE_NORM ? i : i / 2, b = type == ADM_ROPE_NORM ? i + 1 : i / 2 + half;
        const float x0 = x[a], x1 = x[b];
        /* The products fused as the C++ compiler fuses llama.cpp's
         * x0*c - x1*s and x0*s + x1*c (the first product into the FMA). */
        x[a] = fmaf(x0, c, -(x1 * s));
        x[b] = fmaf(x0, s, x1 * c);
    }
}

/* Biases, per-head Q/K norms (qwen3) and RoPE for token t's q and k. */
static void op_qk(tok_op *op, int t) {
    adm_ctx *ctx = op->ctx;
    const adm_model *m = ctx->model;
    const adm_hparams *hp = &m->hp;
    const adm_layer *l = &m->layers[op->layer];
    const int hd = hp->head_dim, nq = hp->n_head * hd, nk = hp->n_head_kv * hd, nv = hp->n_head_kv * hp->head_dim_v;
    float *q = ctx->q + (size_t)t * nq, *k = ctx->kcur + (size_t)t * nk, *v = ctx->vcur + (size_t)t * nv;
    if (l->bq) for (int i = 0; i < nq; i++) q[i] += l->bq[i];
    if (l->bk) for (int i = 0; i < nk; i++) k[i] += l->bk[i];
    if (l->bv) for (int i = 0; i < nv; i++) v[i] += l->bv[i];
    if (l->q_norm) for (int h = 0; h < hp->n_head; h++) rmsnorm(q + h * hd, q + h * hd, l->q_norm, hd, hp->rms_eps);
    if (l->k_norm) for (int h = 0; h < hp->n_head_kv; h++) rmsnorm(k + h * hd, k + h * hd, l->k_norm, hd, hp->rms_eps);
    const float *cache = ctx->rope + (size_t)t * hp->n_rot;
    for (int h = 0; h < hp->n_head; h++) rope_head(q + h * hd, cache, hp->n_rot, m->arch->rope_type);
    for (int h = 0; h < hp->n_head_kv; h++) rope_head(k + h * hd, cache, hp->n_rot, m->arch->rope_type);
}

/* Runs products sharing one input, grouping weights by activation type
 * (a file may mix e.g. Q4_K and Q6_K, whose dot types match, or Q8_0 and
 * Q4_K, whose don't). */
static void matmul_shared(adm_ctx *ctx, adm_matmul_job *jobs, int n_jobs, const float *x, int n_tok) {
    bool done[4] = {false, false, false, false};
    for (int i = 0; i < n_jobs; i++) {
        if (done[i]) continue;
        adm_matmul_job group[4];
        int n = 0;
        adm_type dt = adm_type_get_traits(jobs[i].w->type)->dot_type;
        for (int j = i; j < n_jobs; j++)
            if (!done[j] && adm_type_get_traits(jobs[j].w->type)->dot_type == dt) {
                group[n++] = jobs[j];
                done[j] = true;
            }
        adm_matmul_multi(ctx->pool, ctx->k, group, n, x, n_tok, ctx->mm_scratch);
    }
}

static void layer_forward(adm_ctx *ctx, int il, int n_tok) {
    const adm_model *m = ctx->model;
    const adm_hparams *hp = &m->hp;
    const adm_layer *l = &m->layers[il];
    const int n_embd = hp->n_embd;
    const int nq = hp->n_head * hp->head_dim, nk = hp->n_head_kv * hp->head_dim;
    const int nv = hp->n_head_kv * hp->head_dim_v;

    tok_op op = {ctx, n_tok, il, op_rmsnorm, l->attn_norm, ctx->x, ctx->xn, n_embd};
    run_tokens(&op);
    adm_matmul_job qkv[3] = {{&l->wq, ctx->q, (size_t)nq}, {&l->wk, ctx->kcur, (size_t)nk}, {&l->wv, ctx->vcur, (size_t)nv}};
    matmul_shared(ctx, qkv, 3, ctx->xn, n_tok);
    op.fn = op_qk;
    run_tokens(&op);
    adm_kv_store(ctx->kv, ctx->k, il, ctx->n_past, n_tok, ctx->kcur, ctx->vcur);
    if (ctx->adamas) adm_adamas_append(ctx->adamas, ctx->pool, ctx->k, ctx->kv, il, ctx->n_past, n_tok, ctx->q);

    adm_attn_args a = {ctx->k, ctx->kv, il, n_tok, hp->n_head, ctx->q, ctx->pos,
                       1.0f / sqrtf((float)hp->head_dim), ctx->attn, ctx->attn_scratch, ctx->attn_scratch_per_thread};
    const double t0 = adm_time_s();
    if (ctx->adamas && ctx->attention != ADM_ATTN_DENSE && adm_adamas_applies(ctx->adamas, il, n_tok, ctx->pos[0] + 1))
        adm_adamas_attend(ctx->adamas, ctx->pool, &a);
    else adm_attn_dense(ctx->pool, &a);
    ctx->perf.attn_seconds += adm_time_s() - t0;

    adm_matmul(ctx->pool, ctx->k, &l->wo, ctx->attn, n_tok, ctx->xn, (size_t)n_embd, ctx->mm_scratch);
    op = (tok_op){ctx, n_tok, il, op_add, NULL, ctx->xn, ctx->x, n_embd};
    run_tokens(&op);

    op = (tok_op){ctx, n_tok, il, op_rmsnorm, l->ffn_norm, ctx->x, ctx->xn, n_embd};
    run_tokens(&op);
    adm_matmul_job ffn[2] = {{&l->w_gate, ctx->gate, (size_t)hp->n_ff}, {&l->w_up, ctx->up, (size_t)hp->n_ff}};
    matmul_shared(ctx, ffn, 2, ctx->xn, n_tok);
    op = (tok_op){ctx, n_tok, il, op_swiglu, NULL, NULL, NULL, hp->n_ff};
    run_tokens(&op);
    adm_matmul(ctx->pool, ctx->k, &l->w_down, ctx->gate, n_tok, ctx->xn, (size_t)n_embd, ctx->mm_scratch);
    op = (tok_op){ctx, n_tok, il, op_add, NULL, ctx->xn, ctx->x, n_embd};
    run_tokens(&op);
}

void adm_forward(adm_ctx *ctx, const int32_t *tokens, int n_tok, float *logits, bool logits_all) {
    const adm_model *m = ctx->model;
    const adm_hparams *hp = &m->hp;
    const int n_embd = hp->n_embd;
    for (int t = 0; t < n_tok; t++) {
        ctx->pos[t] = ctx->n_past + t;
        ctx->k->to_float[m->tok_embd.type](m->tok_embd.data + (size_t)tokens[t] * m->tok_embd.row_size,
                                           ctx->x + (size_t)t * n_embd, n_embd);
        rope_cache(ctx->rope + (size_t)t * hp->n_rot, ctx->pos[t], hp);
    }
    for (int il = 0; il < hp->n_layer; il++) layer_forward(ctx, il, n_tok);
    ctx->n_past += n_tok;
    ctx->perf.n_tokens += (uint64_t)n_tok;
    ctx->kv->n = ctx->n_past;
    if (ctx->adamas) adm_adamas_after_batch(ctx->adamas, ctx->pool, ctx->k, ctx->kv, ctx->n_past);
    if (!logits) return;
    /* Only the rows whose logits are wanted go through the output layer. */
    const int first = logits_all ? 0 : n_tok - 1, n_out = n_tok - first;
    tok_op op = {ctx, n_out, 0, op_rmsnorm, m->output_norm, ctx->x + (size_t)first * n_embd, ctx->xn, n_embd};
    run_tokens(&op);
    adm_matmul(ctx->pool, ctx->k, &m->output, ctx->xn, n_out, logits, (size_t)hp->n_vocab, ctx->mm_scratch);
}
