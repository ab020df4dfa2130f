/*
 * attention.h - the attention step of one layer for a batch of tokens whose
 * keys and values are already in the KV cache. dense.c is exact attention
 * over every earlier token (causal); adamas.c selects a subset of keys first.
 * Both compute, for query head h of token t (KV head g = h / group):
 *   out[t][h] = sum_j softmax_j(scale * q[t][h] . k[g][j]) * v[g][j]
 * over j in 0 .. pos[t] (dense; a sliding-window layer only the last
 * `window` of them) or the selected set (sparse).
 */
#ifndef ADM_ATTENTION_H
#define ADM_ATTENTION_H

#include "../kv_cache.h"
#include "../threadpool.h"

#include <math.h>

typedef struct adm_attn_args {
    const adm_kernels *k;
    const adm_kv_cache *kv;
    int layer;
    int n_tok;
    int n_head;            /* query heads; n_head / kv->n_head_kv share one KV head */
    const float *q;        /* (n_tok, n_head, head_dim_k), after RoPE */
    const int32_t *pos;    /* (n_tok) position of each token; it attends to 0 .. pos[t] */
    float scale;
    float *out;            /* (n_tok, n_head, head_dim_v) */
    uint8_t *scratch;      /* adm_attn_scratch_size bytes per thread */
    size_t scratch_per_thread;
    int window;            /* > 0: token t attends only to pos[t] - window + 1 .. pos[t] (sliding window) */
    float softcap;         /* > 0: scores are softcap * tanh(score / softcap) (gemma2), dense only */
} adm_attn_args;

/* The first position token t attends to. */
static inline int adm_attn_first(const adm_attn_args *a, int t) {
    return a->window > 0 && a->pos[t] + 1 > a->window ? a->pos[t] + 1 - a->window : 0;
}

/* The query of one head in the form the key cache's product needs: q8_0
 * keys are scored against the query quantized to q8_0 (written to qconv,
 * adm_row_size(q8_0, hk) bytes); f16 and f32 keys against the f32 query. */
static inline void adm_attn_prepare_query(const adm_kernels *k, adm_type tk, int hk, const float *q, uint8_t *qconv) {
    if (tk == ADM_TYPE_Q8_0) k->from_float[ADM_TYPE_Q8_0](q, qconv, hk);
}

/* Unscaled score of one key row; dense and sparse attention share it so
 * that they agree bit for bit on the same keys. */
static inline float adm_attn_score(const adm_kernels *k, adm_type tk, int hk, const uint8_t *krow, const float *q,
                                   const uint8_t *qconv) {
    float s;
    if (tk == ADM_TYPE_F16) return k->dot_f16_f32(hk, (const adm_f16 *)krow, q);
    if (tk == ADM_TYPE_F32) return k->dot_f32(hk, (const float *)krow, q);
    k->vec_dot[ADM_TYPE_Q8_0](hk, &s, krow, qconv);
    return s;
}

/* Adds p * v_row to out, converting the value row from the cache type
 * (vtmp holds head_dim_v floats for types that need a conversion). */
static inline void adm_attn_accumulate(const adm_kernels *k, adm_type tv, int hv, float p, const uint8_t *vrow,
                                       float *vtmp, float *out) {
    if (tv == ADM_TYPE_F16) {
        k->axpy_f16(hv, p, (const adm_f16 *)vrow, out);
    } else if (tv == ADM_TYPE_F32) {
        k->axpy_f32(hv, p, (const float *)vrow, out);
    } else {
        k->to_float[tv](vrow, vtmp, hv);
        k->axpy_f32(hv, p, vtmp, out);
    }
}

/* Scratch per thread for contexts of up to n_ctx tokens. */
size_t adm_attn_scratch_size(const adm_kv_cache *kv, int n_head, int n_ctx);

void adm_attn_dense(adm_pool *pool, const adm_attn_args *a);
/* Dense attention of several segments (sequences of one batch) in one
 * parallel pass; each segment's kv, positions, queries and outputs are its own. */
void adm_attn_dense_multi(adm_pool *pool, const adm_attn_args *segs, int n_segs);

#endif
