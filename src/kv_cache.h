/*
 * kv_cache.h - the keys and values of one sequence, for every layer.
 *
 * Rows are stored per (layer, KV head) contiguously by position:
 *   k[layer][head][pos][head_dim]   (type_k: f32, f16 or q8_0)
 *   v[layer][head][pos][head_dim_v] (type_v)
 * so attention streams one head's keys linearly and sparse attention can
 * gather single token rows. Positions are 0 .. n-1 with no holes; keys are
 * stored after RoPE, exactly what attention (and Adamas coding) consumes.
 */
#ifndef ADM_KV_CACHE_H
#define ADM_KV_CACHE_H

#include "kernels/kernels.h"

typedef struct adm_kv_cache {
    int n_layer, n_head_kv, head_dim_k, head_dim_v, n_ctx;
    adm_type type_k, type_v;
    size_t k_row, v_row;    /* bytes per (pos, head) row */
    uint8_t *k, *v;         /* one allocation each (pages are touched as the cache fills) */
    int n;                  /* tokens stored */
} adm_kv_cache;

adm_status adm_kv_cache_create(int n_layer, int n_head_kv, int head_dim_k, int head_dim_v, int n_ctx, adm_type type_k,
                               adm_type type_v, adm_kv_cache **out, adm_error *err);
void adm_kv_cache_free(adm_kv_cache *kv);

static inline uint8_t *adm_kv_k(const adm_kv_cache *kv, int layer, int head, int pos) {
    return kv->k + (((size_t)layer * (size_t)kv->n_head_kv + (size_t)head) * (size_t)kv->n_ctx + (size_t)pos) * kv->k_row;
}
static inline uint8_t *adm_kv_v(const adm_kv_cache *kv, int layer, int head, int pos) {
    return kv->v + (((size_t)layer * (size_t)kv->n_head_kv + (size_t)head) * (size_t)kv->n_ctx + (size_t)pos) * kv->v_row;
}

/* Stores n_tok tokens' keys and values (rows of n_head_kv * head_dim floats)
 * of one layer at positions pos0 .. pos0 + n_tok - 1. */
void adm_kv_store(adm_kv_cache *kv, const adm_kernels *k, int layer, int pos0, int n_tok, const float *keys,
                  const float *values);

uint64_t adm_kv_cache_bytes(const adm_kv_cache *kv);

/* Forgets every row and returns the touched pages to the system. */
void adm_kv_cache_discard(adm_kv_cache *kv);

/* Copies the rows of positions 0 .. n-1 of every (layer, head) from src
 * (same shape and types; dst->n_ctx >= n). */
void adm_kv_cache_copy_prefix(adm_kv_cache *dst, const adm_kv_cache *src, int n);

#endif
