/*
 * moe.c - see moe.h.
 */
#include "moe.h"

#include "quant.h"

#include <math.h>

struct adm_moe_scratch {
    float *probs;     /* (n_batch, n_expert) router logits, then probabilities */
    int32_t *sel;     /* (n_batch, n_used) chosen experts */
    float *w;         /* (n_batch, n_used) their weights */
    int32_t *rows;    /* (n_batch * n_used) (token, slot) pairs grouped by expert */
    int32_t *start;   /* (n_expert + 1) each expert's first entry in rows */
    int32_t *fill;    /* (n_expert) next free entry of each expert while grouping */
    float *xe;        /* (n_batch, n_embd) one expert's gathered inputs */
    float *gate, *up; /* (n_batch, n_ff_exp) */
    float *de;        /* (n_batch, n_embd) one expert's outputs */
    float *slots;     /* (n_batch, n_used, n_embd) every (token, slot) output */
    int n_batch;
    adm_weight *views;     /* (3, n_expert) the experts' gate, up and down matrices */
    adm_matmul_job *jobs;  /* (2 * n_expert) one pass's products */
};

adm_status adm_moe_scratch_create(const adm_model *model, int n_batch, adm_moe_scratch **out, uint64_t *bytes,
                                  adm_error *err) {
    *out = NULL;
    const adm_hparams *hp = &model->hp;
    if (hp->n_expert == 0) return ADM_OK;
    adm_moe_scratch *s = adm_calloc(1, sizeof(*s));
    if (!s) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    const size_t nb = (size_t)n_batch, ne = (size_t)hp->n_expert, nu = (size_t)hp->n_expert_used;
    const size_t ed = (size_t)hp->n_embd, nf = (size_t)hp->n_ff_exp;
    const size_t floats = nb * ne + nb * nu + 2 * nb * ed + 2 * nb * nf + nb * nu * ed;
    const size_t ints = nb * nu * 2 + 2 * ne + 1;
    s->probs = adm_alloc(floats * sizeof(float));
    s->sel = adm_alloc(ints * sizeof(int32_t));
    s->views = adm_alloc(3 * ne * sizeof(adm_weight));
    s->jobs = adm_alloc(2 * ne * sizeof(adm_matmul_job));
    if (!s->probs || !s->sel || !s->views || !s->jobs) {
        adm_moe_scratch_free(s);
        return adm_fail(err, ADM_ERR_NOMEM, "cannot allocate %.1f MiB of expert scratch memory",
                        (double)(floats * sizeof(float)) / (1024.0 * 1024.0));
    }
    s->w = s->probs + nb * ne;
    s->xe = s->w + nb * nu;
    s->de = s->xe + nb * ed;
    s->gate = s->de + nb * ed;
    s->up = s->gate + nb * nf;
    s->slots = s->up + nb * nf;
    s->rows = s->sel + nb * nu;
    s->start = s->rows + nb * nu;
    s->fill = s->start + ne + 1;
    s->n_batch = n_batch;
    *bytes += floats * sizeof(float) + ints * sizeof(int32_t) + 3 * ne * sizeof(adm_weight) +
              2 * ne * sizeof(adm_matmul_job);
    *out = s;
    return ADM_OK;
}

void adm_moe_scratch_free(adm_moe_scratch *s) {
    if (!s) return;
    adm_free(s->probs);
    adm_free(s->sel);
    adm_free(s->views);
    adm_free(s->jobs);
    adm_free(s);
}

void adm_ffn_activate(const adm_kernels *k, const adm_model *model, int n, const float *g, const float *u, float *out) {
    if (model->hp.ffn_act == ADM_ACT_SILU) {
        k->swiglu(n, g, u, out);
        return;
    }
    /* ggml's GELU: 0 below -10, the identity above 10, the table between,
     * indexed by the f16 bits of x (converted 256 at a time by the kernel). */
    const float *table = model->gelu_table;
    adm_f16 h[256];
    for (int i0 = 0; i0 < n; i0 += 256) {
        const int m = ADM_MIN(256, n - i0);
        k->from_float[ADM_TYPE_F16](g + i0, h, m);
        for (int i = 0; i < m; i++) {
            const float x = g[i0 + i];
            const float a = x <= -10.0f ? 0.0f : x >= 10.0f ? x : table[h[i]];
            out[i0 + i] = a * u[i0 + i];
        }
    }
}

/* Softmax over the router's logits (max subtracted, sum in double, as
 * ggml's soft_max), then the n_used largest, then their weights. */
static void route_token(const adm_hparams *hp, float *p, int32_t *sel, float *w) {
    const int ne = hp->n_expert, nu = hp->n_expert_used;
    float mx = -INFINITY;
    for (int e = 0; e < ne; e++) mx = p[e] > mx ? p[e] : mx;
    double sum = 0.0;
    for (int e = 0; e < ne; e++) {
        p[e] = expf(p[e] - mx);
        sum += (double)p[e];
    }
    const float inv = (float)(1.0 / sum);
    for (int e = 0; e < ne; e++) p[e] *= inv;
    /* Top n_used by insertion: n_used is small (8 of 128 in Qwen3-30B-A3B);
     * ties keep the lower expert index first. */
    int n = 0;
    for (int e = 0; e < ne; e++) {
        if (n == nu && !(p[e] > p[sel[nu - 1]])) continue;
        int j = n < nu ? n++ : nu - 1;
        while (j > 0 && p[e] > p[sel[j - 1]]) {
            sel[j] = sel[j - 1];
            j--;
        }
        sel[j] = e;
    }
    double wsum = 0.0;
    for (int j = 0; j < nu; j++) {
        w[j] = p[sel[j]];
        wsum += (double)w[j];
    }
    if (hp->expert_norm) {
        const float d = ADM_MAX((float)wsum, 6.103515625e-5f); /* ggml clamps the sum to the smallest f16 normal */
        for (int j = 0; j < nu; j++) w[j] /= d;
    }
    if (hp->expert_scale != 1.0f)
        for (int j = 0; j < nu; j++) w[j] *= hp->expert_scale;
}

static adm_weight expert_view(const adm_experts *x, int e) {
    adm_weight w = x->w;
    w.data += (size_t)e * x->stride;
    return w;
}

/* A long batch (prompt processing): expert by expert, each expert's rows
 * gathered into one matrix. */
static void experts_one_by_one(adm_pool *pool, const adm_kernels *k, const adm_model *model, const adm_layer *l,
                               adm_moe_scratch *s, const float *x, void *mm_scratch) {
    const adm_hparams *hp = &model->hp;
    const int ne = hp->n_expert, nu = hp->n_expert_used, ed = hp->n_embd, nf = hp->n_ff_exp;
    for (int e = 0; e < ne; e++) {
        const int r0 = s->start[e], cnt = s->start[e + 1] - r0;
        if (cnt == 0) continue; /* a decode step reads only the chosen experts */
        for (int r = 0; r < cnt; r++)
            memcpy(s->xe + (size_t)r * ed, x + (size_t)(s->rows[r0 + r] / nu) * ed, (size_t)ed * sizeof(float));
        const adm_weight wg = expert_view(&l->gate_exps, e), wu = expert_view(&l->up_exps, e);
        const adm_weight wd = expert_view(&l->down_exps, e);
        if (adm_type_get_traits(wg.type)->dot_type == adm_type_get_traits(wu.type)->dot_type) {
            adm_matmul_job jobs[2] = {{&wg, s->gate, (size_t)nf, 0, 0}, {&wu, s->up, (size_t)nf, 0, 0}};
            adm_matmul_multi(pool, k, jobs, 2, s->xe, cnt, mm_scratch);
        } else {
            adm_matmul(pool, k, &wg, s->xe, cnt, s->gate, (size_t)nf, mm_scratch);
            adm_matmul(pool, k, &wu, s->xe, cnt, s->up, (size_t)nf, mm_scratch);
        }
        for (int r = 0; r < cnt; r++)
            adm_ffn_activate(k, model, nf, s->gate + (size_t)r * nf, s->up + (size_t)r * nf, s->gate + (size_t)r * nf);
        adm_matmul(pool, k, &wd, s->gate, cnt, s->de, (size_t)ed, mm_scratch);
        for (int r = 0; r < cnt; r++)
            memcpy(s->slots + (size_t)s->rows[r0 + r] * ed, s->de + (size_t)r * ed, (size_t)ed * sizeof(float));
    }
}

/* A batch whose (token, expert) pairs fit the scratch (a decode step, a
 * few sequences): every chosen expert in the same two parallel passes
 * (gate and up, then down), each expert's job on its own rows. Expert by
 * expert, a decode step would run 16 passes of small matrices (Qwen3-
 * 30B-A3B: 768 x 2048), each with its barrier and its thread start-up,
 * and read the weights below the memory's rate. The values are the same
 * either way (matmul.h). */
static void experts_together(adm_pool *pool, const adm_kernels *k, const adm_model *model, const adm_layer *l,
                             adm_moe_scratch *s, const float *x, int n_tok, void *mm_scratch) {
    const adm_hparams *hp = &model->hp;
    const int ne = hp->n_expert, nu = hp->n_expert_used, ed = hp->n_embd, nf = hp->n_ff_exp;
    const int n_pairs = n_tok * nu;
    /* One token: every expert reads its one row in place. */
    const float *xin = x;
    if (n_tok > 1) {
        for (int i = 0; i < n_pairs; i++)
            memcpy(s->xe + (size_t)i * ed, x + (size_t)(s->rows[i] / nu) * ed, (size_t)ed * sizeof(float));
        xin = s->xe;
    }
    adm_weight *vg = s->views, *vu = s->views + ne, *vd = s->views + 2 * ne;
    int n_act = 0;
    for (int e = 0; e < ne; e++) {
        const int r0 = s->start[e], cnt = s->start[e + 1] - r0;
        if (cnt == 0) continue;
        vg[e] = expert_view(&l->gate_exps, e);
        vu[e] = expert_view(&l->up_exps, e);
        vd[e] = expert_view(&l->down_exps, e);
        const int x0 = n_tok > 1 ? r0 : 0;
        s->jobs[n_act] = (adm_matmul_job){&vg[e], s->gate + (size_t)r0 * nf, (size_t)nf, x0, cnt};
        s->jobs[ne + n_act] = (adm_matmul_job){&vu[e], s->up + (size_t)r0 * nf, (size_t)nf, x0, cnt};
        n_act++;
    }
    const int n_in_rows = n_tok > 1 ? n_pairs : 1;
    if (adm_type_get_traits(l->gate_exps.w.type)->dot_type == adm_type_get_traits(l->up_exps.w.type)->dot_type) {
        memmove(s->jobs + n_act, s->jobs + ne, (size_t)n_act * sizeof(adm_matmul_job));
        adm_matmul_multi(pool, k, s->jobs, 2 * n_act, xin, n_in_rows, mm_scratch);
    } else {
        adm_matmul_multi(pool, k, s->jobs, n_act, xin, n_in_rows, mm_scratch);
        adm_matmul_multi(pool, k, s->jobs + ne, n_act, xin, n_in_rows, mm_scratch);
    }
    for (int i = 0; i < n_pairs; i++)
        adm_ffn_activate(k, model, nf, s->gate + (size_t)i * nf, s->up + (size_t)i * nf, s->gate + (size_t)i * nf);
    n_act = 0;
    for (int e = 0; e < ne; e++) {
        const int r0 = s->start[e], cnt = s->start[e + 1] - r0;
        if (cnt) s->jobs[n_act++] = (adm_matmul_job){&vd[e], s->de + (size_t)r0 * ed, (size_t)ed, r0, cnt};
    }
    adm_matmul_multi(pool, k, s->jobs, n_act, s->gate, n_pairs, mm_scratch);
    for (int i = 0; i < n_pairs; i++)
        memcpy(s->slots + (size_t)s->rows[i] * ed, s->de + (size_t)i * ed, (size_t)ed * sizeof(float));
}

void adm_moe_forward(adm_pool *pool, const adm_kernels *k, const adm_model *model, const adm_layer *l,
                     adm_moe_scratch *s, const float *x, int n_tok, float *out, void *mm_scratch) {
    const adm_hparams *hp = &model->hp;
    const int ne = hp->n_expert, nu = hp->n_expert_used, ed = hp->n_embd;
    adm_matmul(pool, k, &l->router, x, n_tok, s->probs, (size_t)ne, mm_scratch);
    for (int t = 0; t < n_tok; t++)
        route_token(hp, s->probs + (size_t)t * ne, s->sel + (size_t)t * nu, s->w + (size_t)t * nu);

    /* Group the (token, slot) pairs by expert, in token order within one. */
    for (int e = 0; e <= ne; e++) s->start[e] = 0;
    for (int i = 0; i < n_tok * nu; i++) s->start[s->sel[i] + 1]++;
    for (int e = 0; e < ne; e++) s->start[e + 1] += s->start[e];
    for (int e = 0; e < ne; e++) s->fill[e] = s->start[e];
    for (int i = 0; i < n_tok * nu; i++) s->rows[s->fill[s->sel[i]]++] = i;

    if (n_tok * nu <= s->n_batch) experts_together(pool, k, model, l, s, x, n_tok, mm_scratch);
    else experts_one_by_one(pool, k, model, l, s, x, mm_scratch);
    for (int t = 0; t < n_tok; t++) {
        float *o = out + (size_t)t * ed;
        const float *w = s->w + (size_t)t * nu;
        const float *sl = s->slots + (size_t)t * nu * ed;
        for (int i = 0; i < ed; i++) o[i] = sl[i] * w[0];
        for (int j = 1; j < nu; j++)
            for (int i = 0; i < ed; i++) o[i] += sl[(size_t)j * ed + i] * w[j];
    }
}
