/*
 * attention.h - the attention step of one layer for a batch of tokens whose
 * keys and values are already in the KV cache. dense.c is exact attention
 * over every earlier token (causal); adamas.c selects a subset of keys first.
 * Both compute, for query head h of token t (KV head g = h / group):
 *   out[t][h] = sum_j softmax_j(scale * q[t][h] . k[g][j]) * v[g][j]
 * over j in 0 .. pos[t] (dense) or the selected set (sparse).
 */
#ifndef ADM_ATTENTION_H
#define ADM_ATTENTION_H

#include "../kv_cache.h"
#include "../threadpool.h"

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
} adm_attn_args;

/* Scratch per thread for contexts of up to n_ctx tokens. */
size_t adm_attn_scratch_size(const adm_kv_cache *kv, int n_head, int n_ctx);

void adm_attn_dense(adm_pool *pool, const adm_attn_args *a);

#endif
