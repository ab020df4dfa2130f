/*
 * kv_cache.c - see kv_cache.h.
 */
#include "kv_cache.h"

#include <stdlib.h>

static bool type_ok(adm_type t, int head_dim) {
    if (t == ADM_TYPE_F32 || t == ADM_TYPE_F16) return true;
    return t == ADM_TYPE_Q8_0 && head_dim % QK8_0 == 0;
}

adm_status adm_kv_cache_create(int n_layer, int n_head_kv, int head_dim_k, int head_dim_v, int n_ctx, adm_type type_k,
                               adm_type type_v, adm_kv_cache **out, adm_error *err) {
    *out = NULL;
    if (!type_ok(type_k, head_dim_k) || !type_ok(type_v, head_dim_v))
        return adm_fail(err, ADM_ERR_INVALID_ARG, "KV cache types %s/%s are not supported with head size %d (f32, f16, "
                        "and q8_0 when the head size is a multiple of 32)", adm_type_name(type_k) ? adm_type_name(type_k) : "?",
                        adm_type_name(type_v) ? adm_type_name(type_v) : "?", head_dim_k);
    adm_kv_cache *kv = adm_calloc(1, sizeof(*kv));
    if (!kv) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    kv->n_layer = n_layer;
    kv->n_head_kv = n_head_kv;
    kv->head_dim_k = head_dim_k;
    kv->head_dim_v = head_dim_v;
    kv->n_ctx = n_ctx;
    kv->type_k = type_k;
    kv->type_v = type_v;
    kv->k_row = adm_row_size(type_k, head_dim_k);
    kv->v_row = adm_row_size(type_v, head_dim_v);
    uint64_t rows = (uint64_t)n_layer * (uint64_t)n_head_kv * (uint64_t)n_ctx;
    /* mmap'd (adm_map_zeroed) so untouched context costs no memory. */
    uint64_t total = rows * (kv->k_row + kv->v_row);
    kv->k = total > SIZE_MAX ? NULL : adm_map_zeroed((size_t)(rows * kv->k_row));
    kv->v = total > SIZE_MAX ? NULL : adm_map_zeroed((size_t)(rows * kv->v_row));
    if (!kv->k || !kv->v) {
        adm_kv_cache_free(kv);
        return adm_fail(err, ADM_ERR_NOMEM, "cannot allocate a KV cache of %.1f MiB for %d tokens; use a smaller "
                        "context", (double)total / (1024.0 * 1024.0), n_ctx);
    }
    *out = kv;
    return ADM_OK;
}

void adm_kv_cache_free(adm_kv_cache *kv) {
    if (!kv) return;
    uint64_t rows = (uint64_t)kv->n_layer * (uint64_t)kv->n_head_kv * (uint64_t)kv->n_ctx;
    adm_unmap(kv->k, (size_t)(rows * kv->k_row));
    adm_unmap(kv->v, (size_t)(rows * kv->v_row));
    adm_free(kv);
}

uint64_t adm_kv_cache_bytes(const adm_kv_cache *kv) {
    return (uint64_t)kv->n_layer * (uint64_t)kv->n_head_kv * (uint64_t)kv->n_ctx * (kv->k_row + kv->v_row);
}

void adm_kv_store(adm_kv_cache *kv, const adm_kernels *k, int layer, int pos0, int n_tok, const float *keys,
                  const float *values) {
    const int hk = kv->head_dim_k, hv = kv->head_dim_v, nh = kv->n_head_kv;
    for (int t = 0; t < n_tok; t++) {
        for (int h = 0; h < nh; h++) {
            k->from_float[kv->type_k](keys + ((size_t)t * nh + h) * hk, adm_kv_k(kv, layer, h, pos0 + t), hk);
            k->from_float[kv->type_v](values + ((size_t)t * nh + h) * hv, adm_kv_v(kv, layer, h, pos0 + t), hv);
        }
    }
}

void adm_kv_cache_discard(adm_kv_cache *kv) {
    uint64_t rows = (uint64_t)kv->n_layer * (uint64_t)kv->n_head_kv * (uint64_t)kv->n_ctx;
    adm_map_discard(kv->k, (size_t)(rows * kv->k_row));
    adm_map_discard(kv->v, (size_t)(rows * kv->v_row));
    kv->n = 0;
}

void adm_kv_cache_copy_prefix(adm_kv_cache *dst, const adm_kv_cache *src, int n) {
    for (int l = 0; l < src->n_layer; l++)
        for (int h = 0; h < src->n_head_kv; h++) {
            memcpy(adm_kv_k(dst, l, h, 0), adm_kv_k(src, l, h, 0), (size_t)n * src->k_row);
            memcpy(adm_kv_v(dst, l, h, 0), adm_kv_v(src, l, h, 0), (size_t)n * src->v_row);
        }
    dst->n = n;
}
