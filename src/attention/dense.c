/*
 * dense.c - exact causal attention over the KV cache: the reference every
 * sparse method is measured against.
 *
 * Work items are (token, KV head) pairs. An item scores all query heads of
 * the GQA group against each key row while that row is in L1, so every key
 * and value row is read once per group instead of once per query head.
 * Scores use the f32 query against f16/f32 keys (as llama.cpp's batched
 * flash attention does; rounding the query to f16 as its one-row path does
 * perturbs the logits enough to flip the 8-bit rounding of later
 * activations). A q8_0 key cache is scored against the query quantized to
 * q8_0, the only product that type has.
 *
 * Multi-token batches (prompts) over f16/f32 caches follow llama.cpp's
 * tiled flash attention instead (kernels.h, attn_tile: 64-key tiles with
 * a running max and sum), so that prompt logits match llama.cpp's bit for
 * bit where the weights allow; single-token steps keep the one-pass
 * softmax, the fastest order for one query.
 */
#include "attention.h"

#include <math.h>

/* Floats of the tiled path's scratch: a transposed key tile, a value
 * tile, one converted key row, and per (token of the block, query head)
 * the running max, sum and output accumulator. */
static size_t tiled_floats(const adm_kv_cache *kv, int group) {
    const size_t T = ADM_ATTN_TILE, hk = (size_t)kv->head_dim_k, hv = (size_t)kv->head_dim_v;
    return T * hk + T * hv + hk + T * (size_t)group * (hv + 2);
}

static bool use_tiled(const adm_attn_args *a) {
    const adm_kv_cache *kv = a->kv;
    return a->n_tok > 1 && (kv->type_k == ADM_TYPE_F16 || kv->type_k == ADM_TYPE_F32) &&
           (kv->type_v == ADM_TYPE_F16 || kv->type_v == ADM_TYPE_F32);
}

/* Gemma 2's attention logit soft-capping, as llama.cpp's flash attention
 * applies it: the product was scaled by scale / cap, then cap * tanh. */
static void softcap_scores(float *s, int n, float cap) {
    for (int j = 0; j < n; j++) s[j] = cap * tanhf(s[j]);
}

size_t adm_attn_scratch_size(const adm_kv_cache *kv, int n_head, int n_ctx) {
    const int group = n_head / kv->n_head_kv;
    size_t s = (size_t)group * (size_t)n_ctx * sizeof(float);            /* scores */
    s += (size_t)kv->ring * sizeof(int32_t);                             /* slots of a wrapped window */
    s += (size_t)group * ((adm_row_size(kv->type_k, kv->head_dim_k) + 63) / 64 * 64); /* converted queries */
    s += (size_t)kv->head_dim_v * sizeof(float) + 64;                     /* a dequantized value row */
    const size_t tiled = tiled_floats(kv, group) * sizeof(float);
    return ((s > tiled ? s : tiled) + 63) / 64 * 64;
}

/* Items are (KV head, block of up to ADM_ATTN_TILE consecutive tokens):
 * each key tile is converted to f32 once per item and serves every token
 * of the block and every query head of the group. Each (token, head) row
 * has its own running state, so results do not depend on the split. */
static void tiled_item(const adm_attn_args *a, int item, int ith) {
    const adm_kv_cache *kv = a->kv;
    const adm_kernels *k = a->k;
    const int n_kv_head = kv->n_head_kv, group = a->n_head / n_kv_head;
    const int hk = kv->head_dim_k, hv = kv->head_dim_v, T = ADM_ATTN_TILE;
    float *kt = (float *)(a->scratch + (size_t)ith * a->scratch_per_thread);
    float *vt = kt + (size_t)T * hk, *krow = vt + (size_t)T * hv, *M = krow + hk, *S = M + (size_t)T * group;
    float *acc = S + (size_t)T * group;
    {
        const int t0 = item / n_kv_head * T, g = item % n_kv_head, nt = ADM_MIN(T, a->n_tok - t0);
        int maxpos = 0, minfirst = INT32_MAX;
        for (int t = t0; t < t0 + nt; t++) {
            maxpos = ADM_MAX(maxpos, a->pos[t]);
            minfirst = ADM_MIN(minfirst, adm_attn_first(a, t));
        }
        for (int r = 0; r < nt * group; r++) M[r] = -INFINITY, S[r] = 0.0f;
        memset(acc, 0, (size_t)nt * group * hv * sizeof(float));
        memset(kt, 0, (size_t)T * hk * sizeof(float)); /* slots past a short tile are read, then masked */
        /* Tiles stay aligned to multiples of ADM_ATTN_TILE, as llama.cpp's;
         * a sliding window that starts inside a tile empties its first slots. */
        for (int c = minfirst / T * T; c <= maxpos; c += T) {
            const int mt = ADM_MIN(T, maxpos + 1 - c);
            for (int j = 0; j < mt; j++) {
                k->to_float[kv->type_k](adm_kv_k(kv, a->layer, g, c + j), krow, hk);
                for (int d = 0; d < hk; d++) kt[d * T + j] = krow[d];
                k->to_float[kv->type_v](adm_kv_v(kv, a->layer, g, c + j), vt + (size_t)j * hv, hv);
            }
            for (int t = t0; t < t0 + nt; t++) {
                const int n = a->pos[t] + 1, m0 = ADM_MAX(0, adm_attn_first(a, t) - c), m = ADM_MIN(T, n - c);
                if (m0 >= m) continue;
                const int r = (t - t0) * group; /* the group's query heads are consecutive rows */
                k->attn_tile(kt, vt, m0, m, hk, hv, a->q + ((size_t)t * a->n_head + (size_t)g * group) * hk, group,
                             a->softcap > 0.0f ? a->scale / a->softcap : a->scale, a->softcap, &M[r], &S[r],
                             acc + (size_t)r * hv);
            }
        }
        for (int t = t0; t < t0 + nt; t++)
            for (int i = 0; i < group; i++) {
                const int r = (t - t0) * group + i;
                const float inv = S[r] == 0.0f ? 0.0f : 1.0f / S[r];
                float *out = a->out + ((size_t)t * a->n_head + (size_t)g * group + i) * hv;
                for (int x = 0; x < hv; x++) out[x] = acc[(size_t)r * hv + x] * inv;
            }
    }
}

static void dense_item(const adm_attn_args *a, int64_t item, int ith) {
    const adm_kv_cache *kv = a->kv;
    const adm_kernels *k = a->k;
    const int n_kv_head = kv->n_head_kv, group = a->n_head / n_kv_head;
    const int hk = kv->head_dim_k, hv = kv->head_dim_v;
    const size_t q_row = (adm_row_size(kv->type_k, hk) + 63) / 64 * 64;
    uint8_t *scratch = a->scratch + (size_t)ith * a->scratch_per_thread;
    const int n_ctx = kv->n_ctx;
    float *scores = (float *)scratch;
    uint8_t *qconv = scratch + (size_t)group * (size_t)n_ctx * sizeof(float);
    float *vrow = (float *)(qconv + (size_t)group * q_row);
    int32_t *slots = (int32_t *)((uint8_t *)vrow + (((size_t)hv * sizeof(float) + 63) / 64 * 64));

    {
        const int t = (int)(item / n_kv_head), g = (int)(item % n_kv_head);
        const int first = adm_attn_first(a, t), n = a->pos[t] + 1 - first; /* keys first .. pos[t] */
        const float *qh = a->q + ((size_t)t * a->n_head + (size_t)g * group) * hk;
        float *out = a->out + ((size_t)t * a->n_head + (size_t)g * group) * hv;
        const float scale = a->softcap > 0.0f ? a->scale / a->softcap : a->scale;
        memset(out, 0, (size_t)group * hv * sizeof(float));
        if (kv->type_k == ADM_TYPE_F16 && kv->type_v == ADM_TYPE_F16) {
            /* The fast path: one kernel call scores every key row against the
             * group. A window that wraps around its ring is gathered by slot
             * (the kernels' arithmetic does not depend on where rows lie). */
            const int s0 = adm_kv_slot(kv, a->layer, first);
            const int32_t *idx = NULL;
            int p0 = first;
            if (s0 + n > kv->cap[a->layer]) {
                for (int j = 0; j < n; j++) slots[j] = adm_kv_slot(kv, a->layer, first + j);
                idx = slots;
                p0 = first - s0; /* a position of slot 0 */
            }
            k->attn_qk_f16((const adm_f16 *)adm_kv_k(kv, a->layer, g, p0), (size_t)hk, idx, n, hk, qh, group, scale,
                           scores, n_ctx);
            if (a->softcap > 0.0f)
                for (int i = 0; i < group; i++) softcap_scores(scores + (size_t)i * n_ctx, n, a->softcap);
            for (int i = 0; i < group; i++) k->softmax(scores + (size_t)i * n_ctx, n);
            k->attn_pv_f16((const adm_f16 *)adm_kv_v(kv, a->layer, g, p0), (size_t)hv, idx, n, hv, scores, group,
                           n_ctx, out);
            return;
        }
        for (int i = 0; i < group; i++) adm_attn_prepare_query(k, kv->type_k, hk, qh + (size_t)i * hk, qconv + (size_t)i * q_row);
        for (int j = 0; j < n; j++) {
            const uint8_t *krow = adm_kv_k(kv, a->layer, g, first + j);
            for (int i = 0; i < group; i++)
                scores[(size_t)i * n_ctx + j] =
                    adm_attn_score(k, kv->type_k, hk, krow, qh + (size_t)i * hk, qconv + (size_t)i * q_row) * scale;
        }
        if (a->softcap > 0.0f)
            for (int i = 0; i < group; i++) softcap_scores(scores + (size_t)i * n_ctx, n, a->softcap);
        for (int i = 0; i < group; i++) k->softmax(scores + (size_t)i * n_ctx, n);
        for (int j = 0; j < n; j++) {
            const uint8_t *vr = adm_kv_v(kv, a->layer, g, first + j);
            for (int i = 0; i < group; i++)
                adm_attn_accumulate(k, kv->type_v, hv, scores[(size_t)i * n_ctx + j], vr, vrow, out + (size_t)i * hv);
        }
    }
}

static int64_t seg_items(const adm_attn_args *a) {
    const int64_t nkv = a->kv->n_head_kv;
    return use_tiled(a) ? (a->n_tok + ADM_ATTN_TILE - 1) / ADM_ATTN_TILE * nkv : (int64_t)a->n_tok * nkv;
}

typedef struct multi {
    const adm_attn_args *segs;
    int n_segs;
    int64_t n_items;
} multi;

/* The items of every segment form one index space, dealt round-robin: a
 * causal batch's later tokens attend to more keys, so contiguous ranges
 * would load one thread far more, and single-token segments of many
 * sequences still spread over every thread. Each item's result does not
 * depend on which thread runs it. */
static void multi_items(void *arg, int ith, int nth) {
    const multi *m = arg;
    int s = 0;
    int64_t base = 0, n = seg_items(&m->segs[0]);
    for (int64_t item = ith; item < m->n_items; item += nth) {
        while (item >= base + n) {
            base += n;
            n = seg_items(&m->segs[++s]);
        }
        const adm_attn_args *a = &m->segs[s];
        if (use_tiled(a)) tiled_item(a, (int)(item - base), ith);
        else dense_item(a, item - base, ith);
    }
}

void adm_attn_dense_multi(adm_pool *pool, const adm_attn_args *segs, int n_segs) {
    multi m = {segs, n_segs, 0};
    for (int i = 0; i < n_segs; i++) m.n_items += seg_items(&segs[i]);
    if (m.n_items > 0) adm_pool_run(pool, multi_items, &m);
}

void adm_attn_dense(adm_pool *pool, const adm_attn_args *a) { adm_attn_dense_multi(pool, a, 1); }
