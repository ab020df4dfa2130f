/*
 * forward.c - one transformer pass over a batch of tokens (a prompt chunk
 * or a single decode token), shared by every architecture:
 *
 *   x = embed(tokens) [* sqrt(n_embd), gemma]
 *   per layer:  h = rmsnorm(x);  q,k,v = h W{q,k,v} (+ bias);  [q,k = rmsnorm per head]
 *               q,k = rope(q,k);  cache k,v;  a = attention(q) Wo  [a = rmsnorm(a), gemma]
 *               x += a;  h = rmsnorm(x)
 *               f = (act(h Wgate) * (h Wup)) Wdown, or the experts' sum (moe.c)
 *               [f = rmsnorm(f), gemma];  x += f
 *   logits = rmsnorm(x) Wout  [soft-capped if the file says so]
 *
 * Per-layer choices are fields of adm_layer / adm_hparams: sliding-window
 * layers attend to the last n_swa positions with their own RoPE (rope[1]).
 *
 * A batch's rows may belong to several sequences (segments of consecutive
 * rows): the matrix products and per-token steps run over all rows at once
 * (every weight read once per batch), the cache writes and attention per
 * segment, each in its own sequence's KV cache with its own method.
 * Matrix products are multithreaded over output rows (matmul.c); the cheap
 * per-token steps run over token ranges in the same pool for batches and on
 * the calling thread for single rows.
 */
#include "engine.h"

#include "moe.h"

#include <math.h>

typedef struct tok_op {
    adm_engine *e;
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
    if (op->n_tok > 1) adm_pool_run(op->e->pool, tok_op_range, op);
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
    const adm_hparams *hp = &op->e->model->hp;
    rmsnorm(op->dst + (size_t)t * op->width, op->src + (size_t)t * op->width, op->weight, op->width, hp->rms_eps);
}

static void op_add(tok_op *op, int t) {
    float *d = op->dst + (size_t)t * op->width;
    const float *s = op->src + (size_t)t * op->width;
    for (int i = 0; i < op->width; i++) d[i] += s[i];
}

static void op_rmsnorm_inplace(tok_op *op, int t) {
    float *x = op->dst + (size_t)t * op->width;
    rmsnorm(x, x, op->weight, op->width, op->e->model->hp.rms_eps);
}

static void op_ffn_act(tok_op *op, int t) {
    float *g = op->e->gate + (size_t)t * op->width;
    const float *u = op->e->up + (size_t)t * op->width;
    adm_ffn_activate(op->e->k, op->e->model, op->width, g, u, g);
}

/* The cos/sin table for one position, computed the way ggml does (theta
 * multiplied step by step in float) so rotations match llama.cpp's.
 * LongRoPE's factor set follows the sequence's context size, as llama.cpp's does. */
static void rope_cache(float *cache, int pos, const adm_rope *r, int n_rot, int n_ctx) {
    const float theta_scale = powf(r->base, -2.0f / (float)n_rot);
    const float *factors = r->longrope && n_ctx > r->n_ctx_orig ? r->factors_long : r->factors;
    float theta = (float)pos;
    for (int i = 0; i < n_rot; i += 2) {
        const float ff = factors ? factors[i / 2] : 1.0f;
        const float th = r->freq_scale * (theta / ff);
        cache[i] = cosf(th) * r->attn_factor;
        cache[i + 1] = sinf(th) * r->attn_factor;
        theta *= theta_scale;
    }
}

/* Row t's cos/sin for a layer: sliding-window layers have their own. */
static const float *rope_row(const adm_engine *e, const adm_layer *l, int t) {
    return e->rope + ((l->swa ? (size_t)e->n_batch : 0) + (size_t)t) * (size_t)e->model->hp.n_rot;
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
    adm_engine *e = op->e;
    const adm_model *m = e->model;
    const adm_hparams *hp = &m->hp;
    const adm_layer *l = adm_engine_layer(e, op->layer);
    const int hd = hp->head_dim, nq = hp->n_head * hd, nk = hp->n_head_kv * hd, nv = hp->n_head_kv * hp->head_dim_v;
    float *q = e->q + (size_t)t * nq, *k = e->kcur + (size_t)t * nk, *v = e->vcur + (size_t)t * nv;
    if (l->bq) for (int i = 0; i < nq; i++) q[i] += l->bq[i];
    if (l->bk) for (int i = 0; i < nk; i++) k[i] += l->bk[i];
    if (l->bv) for (int i = 0; i < nv; i++) v[i] += l->bv[i];
    if (l->q_norm) for (int h = 0; h < hp->n_head; h++) rmsnorm(q + h * hd, q + h * hd, l->q_norm, hd, hp->rms_eps);
    if (l->k_norm) for (int h = 0; h < hp->n_head_kv; h++) rmsnorm(k + h * hd, k + h * hd, l->k_norm, hd, hp->rms_eps);
    const float *cache = rope_row(e, l, t);
    for (int h = 0; h < hp->n_head; h++) rope_head(q + h * hd, cache, hp->n_rot, m->arch->rope_type);
    for (int h = 0; h < hp->n_head_kv; h++) rope_head(k + h * hd, cache, hp->n_rot, m->arch->rope_type);
}

/* Runs products sharing one input, grouping weights by activation type
 * (a file may mix e.g. Q4_K and Q6_K, whose dot types match, or Q8_0 and
 * Q4_K, whose don't). */
static void matmul_shared(adm_engine *e, adm_matmul_job *jobs, int n_jobs, const float *x, int n_tok) {
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
        adm_matmul_multi(e->pool, e->k, group, n, x, n_tok, e->mm_scratch);
    }
}

/* Whether a segment of n rows attends sparsely in layer il (never with
 * soft-capped scores, gemma2: the sparse kernels do not cap). */
static bool sparse(const adm_seq *s, const adm_layer *l, int il, int n, int n_kv) {
    return s->adamas && s->attention != ADM_ATTN_DENSE && !l->swa && s->e->model->hp.attn_softcap == 0.0f &&
           adm_adamas_applies(s->adamas, il, n, n_kv);
}

/* Stores the segments' keys and values (and codes), then runs attention:
 * the sparse segments together (three parallel passes for all of them,
 * adamas.h), the dense ones together (one pass). */
static void attention(adm_engine *e, int il, const adm_seg *segs, int n_segs) {
    const adm_hparams *hp = &e->model->hp;
    const adm_layer *l = adm_engine_layer(e, il);
    const int nq = hp->n_head * hp->head_dim, nk = hp->n_head_kv * hp->head_dim;
    const int nv = hp->n_head_kv * hp->head_dim_v, no = hp->n_head * hp->head_dim_v;
    int n_dense = 0, dense_rows = 0, n_sparse = 0;
    adm_attn_args *sparse_args = e->attn_args + n_segs; /* filled downwards: sparse_args[-1 - i] */
    for (int i = 0; i < n_segs; i++) {
        adm_seq *s = segs[i].seq;
        const int r0 = segs[i].row0, n = segs[i].n;
        adm_kv_store(s->kv, e->k, il, s->n_past, n, e->kcur + (size_t)r0 * nk, e->vcur + (size_t)r0 * nv);
        if (s->adamas) adm_adamas_append(s->adamas, e->pool, e->k, s->kv, il, s->n_past, n, e->q + (size_t)r0 * nq);
        /* Sliding-window layers are coded too (the index is per layer) but
         * always attend densely: their window is already short. */
        adm_attn_args a = {e->k, s->kv, il, n, hp->n_head, e->q + (size_t)r0 * nq, e->pos + r0, hp->attn_scale,
                           e->attn + (size_t)r0 * no, e->attn_scratch, e->attn_scratch_per_thread,
                           l->swa ? hp->n_swa : 0, hp->attn_softcap};
        if (sparse(s, l, il, n, e->pos[r0] + 1)) {
            n_sparse++;
            sparse_args[-n_sparse] = a;
            e->sparse[n_segs - n_sparse] = s->adamas;
        } else {
            e->attn_args[n_dense++] = a;
            dense_rows += n;
        }
    }
    if (n_sparse > 0) {
        const double t0 = adm_time_s();
        adm_adamas_attend_multi(e->sparse + n_segs - n_sparse, e->pool, sparse_args - n_sparse, n_sparse);
        const double dt = (adm_time_s() - t0) / n_sparse; /* one decode row each */
        for (int i = 0; i < n_segs; i++)
            if (sparse(segs[i].seq, l, il, segs[i].n, e->pos[segs[i].row0] + 1)) segs[i].seq->perf.attn_seconds += dt;
    }
    if (n_dense == 0) return;
    const double t0 = adm_time_s();
    adm_attn_dense_multi(e->pool, e->attn_args, n_dense);
    const double dt = adm_time_s() - t0;
    /* One pass served every dense segment: its time is shared by rows. */
    for (int i = 0; i < n_segs; i++) {
        adm_seq *s = segs[i].seq;
        if (!sparse(s, l, il, segs[i].n, e->pos[segs[i].row0] + 1))
            s->perf.attn_seconds += dt * segs[i].n / dense_rows;
    }
}

static void layer_forward(adm_engine *e, int il, const adm_seg *segs, int n_segs, int n_tok) {
    const adm_model *m = e->model;
    const adm_hparams *hp = &m->hp;
    const adm_layer *l = adm_engine_layer(e, il);
    const int n_embd = hp->n_embd;
    const int nq = hp->n_head * hp->head_dim, nk = hp->n_head_kv * hp->head_dim;
    const int nv = hp->n_head_kv * hp->head_dim_v;

    tok_op op = {e, n_tok, il, op_rmsnorm, l->attn_norm, e->x, e->xn, n_embd};
    run_tokens(&op);
    adm_matmul_job qkv[3] = {{&l->wq, e->q, (size_t)nq, 0, 0},
                             {&l->wk, e->kcur, (size_t)nk, 0, 0},
                             {&l->wv, e->vcur, (size_t)nv, 0, 0}};
    matmul_shared(e, qkv, 3, e->xn, n_tok);
    op.fn = op_qk;
    run_tokens(&op);
    attention(e, il, segs, n_segs);

    adm_matmul(e->pool, e->k, &l->wo, e->attn, n_tok, e->xn, (size_t)n_embd, e->mm_scratch);
    if (l->attn_post_norm) {
        op = (tok_op){e, n_tok, il, op_rmsnorm_inplace, l->attn_post_norm, NULL, e->xn, n_embd};
        run_tokens(&op);
    }
    op = (tok_op){e, n_tok, il, op_add, NULL, e->xn, e->x, n_embd};
    run_tokens(&op);

    op = (tok_op){e, n_tok, il, op_rmsnorm, l->ffn_norm, e->x, e->xn, n_embd};
    run_tokens(&op);
    if (l->router.data) {
        /* the experts' sum goes to attn (free now, and at least n_embd wide per row) */
        adm_moe_forward(e->pool, e->k, m, l, e->moe, e->xn, n_tok, e->attn, e->mm_scratch);
        memcpy(e->xn, e->attn, (size_t)n_tok * (size_t)n_embd * sizeof(float));
    } else {
        adm_matmul_job ffn[2] = {{&l->w_gate, e->gate, (size_t)hp->n_ff, 0, 0},
                                 {&l->w_up, e->up, (size_t)hp->n_ff, 0, 0}};
        matmul_shared(e, ffn, 2, e->xn, n_tok);
        op = (tok_op){e, n_tok, il, op_ffn_act, NULL, NULL, NULL, hp->n_ff};
        run_tokens(&op);
        adm_matmul(e->pool, e->k, &l->w_down, e->gate, n_tok, e->xn, (size_t)n_embd, e->mm_scratch);
    }
    if (l->ffn_post_norm) {
        op = (tok_op){e, n_tok, il, op_rmsnorm_inplace, l->ffn_post_norm, NULL, e->xn, n_embd};
        run_tokens(&op);
    }
    op = (tok_op){e, n_tok, il, op_add, NULL, e->xn, e->x, n_embd};
    run_tokens(&op);
}

/* Gathers the rows whose logits are wanted (normed) into xn. */
static void op_out_norm(tok_op *op, int t) {
    adm_engine *e = op->e;
    const int w = op->width;
    rmsnorm(e->xn + (size_t)t * w, e->x + (size_t)e->out_rows[t] * w, op->weight, w, e->model->hp.rms_eps);
}

void adm_forward(adm_engine *e, const adm_seg *segs, int n_segs, int n_rows, int n_out, float *logits) {
    const adm_model *m = e->model;
    const adm_hparams *hp = &m->hp;
    const int n_embd = hp->n_embd;
    for (int i = 0; i < n_segs; i++)
        for (int t = segs[i].row0; t < segs[i].row0 + segs[i].n; t++) {
            e->pos[t] = segs[i].seq->n_past + (t - segs[i].row0);
            float *x = e->x + (size_t)t * n_embd;
            e->k->to_float[m->tok_embd.type](m->tok_embd.data + (size_t)e->tokens[t] * m->tok_embd.row_size, x, n_embd);
            if (hp->embd_scale != 1.0f)
                for (int j = 0; j < n_embd; j++) x[j] *= hp->embd_scale;
            const int n_ctx = segs[i].seq->kv->n_ctx;
            rope_cache(e->rope + (size_t)t * hp->n_rot, e->pos[t], &hp->rope[0], hp->n_rot, n_ctx);
            if (hp->n_swa > 0)
                rope_cache(e->rope + ((size_t)e->n_batch + (size_t)t) * hp->n_rot, e->pos[t], &hp->rope[1], hp->n_rot,
                           n_ctx);
        }
    for (int il = 0; il < hp->n_layer; il++) layer_forward(e, il, segs, n_segs, n_rows);
    for (int i = 0; i < n_segs; i++) {
        adm_seq *s = segs[i].seq;
        memcpy(s->tokens + s->n_past, e->tokens + segs[i].row0, (size_t)segs[i].n * sizeof(int32_t));
        s->n_past += segs[i].n;
        s->perf.n_tokens += (uint64_t)segs[i].n;
        adm_kv_set_n(s->kv, s->n_past);
        if (s->adamas) adm_adamas_after_batch(s->adamas, e->pool, e->k, s->kv, s->n_past);
    }
    if (!logits || n_out == 0) return;
    /* Only the rows whose logits are wanted go through the output layer. */
    tok_op op = {e, n_out, 0, op_out_norm, m->output_norm, NULL, NULL, n_embd};
    run_tokens(&op);
    adm_matmul(e->pool, e->k, adm_engine_output(e), e->xn, n_out, logits, (size_t)hp->n_vocab, e->mm_scratch);
    if (hp->final_softcap > 0.0f) {
        const float c = hp->final_softcap;
        for (size_t i = 0; i < (size_t)n_out * (size_t)hp->n_vocab; i++) logits[i] = tanhf(logits[i] * (1.0f / c)) * c;
    }
}
