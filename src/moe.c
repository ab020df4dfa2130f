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
    if (!s->probs || !s->sel) {
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
    *bytes += floats * sizeof(float) + ints * sizeof(int32_t);
    *out = s;
    return ADM_OK;
}

void adm_moe_scratch_free(adm_moe_scratch *s) {
    if (!s) return;
    adm_free(s->probs);
    adm_free(s->sel);
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

void adm_moe_forward(adm_pool *pool, const adm_kernels *k, const adm_model *model, const adm_layer *l,
                     adm_moe_scratch *s, const float *x, int n_tok, float *out, void *mm_scratch) {
    const adm_hparams *hp = &model->hp;
    const int ne = hp->n_expert, nu = hp->n_expert_used, ed = hp->n_embd, nf = hp->n_ff_exp;
    adm_matmul(pool, k, &l->router, x, n_tok, s->probs, (size_t)ne, mm_scratch);
    for (int t = 0; t < n_tok; t++)
        route_token(hp, s->probs + (size_t)t * ne, s->sel + (size_t)t * nu, s->w + (size_t)t * nu);

    /* Group the (token, slot) pairs by expert, in token order within one. */
    for (int e = 0; e <= ne; e++) s->start[e] = 0;
    for (int i = 0; i < n_tok * nu; i++) s->start[s->sel[i] + 1]++;
    for (int e = 0; e < ne; e++) s->start[e + 1] += s->start[e];
    for (int e = 0; e < ne; e++) s->fill[e] = s->start[e];
    for (int i = 0; i < n_tok * nu; i++) s->rows[s->fill[s->sel[i]]++] = i;

    for (int e = 0; e < ne; e++) {
        const int r0 = s->start[e], cnt = s->start[e + 1] - r0;
        if (cnt == 0) continue; /* a decode step reads only the chosen experts */
        for (int r = 0; r < cnt; r++)
            memcpy(s->xe + (size_t)r * ed, x + (size_t)(s->rows[r0 + r] / nu) * ed, (size_t)ed * sizeof(float));
        const adm_weight wg = expert_view(&l->gate_exps, e), wu = expert_view(&l->up_exps, e);
        const adm_weight wd = expert_view(&l->down_exps, e);
        if (adm_type_get_traits(wg.type)->dot_type == adm_type_get_traits(wu.type)->dot_type) {
            adm_matmul_job jobs[2] = {{&wg, s->gate, (size_t)nf}, {&wu, s->up, (size_t)nf}};
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
    for (int t = 0; t < n_tok; t++) {
        float *o = out + (size_t)t * ed;
        const float *w = s->w + (size_t)t * nu;
        const float *sl = s->slots + (size_t)t * nu * ed;
        for (int i = 0; i < ed; i++) o[i] = sl[i] * w[0];
        for (int j = 1; j < nu; j++)
            for (int i = 0; i < ed; i++) o[i] += sl[(size_t)j * ed + i] * w[j];
    }
}
