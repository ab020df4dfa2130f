/*
 * kv_cache.c - see kv_cache.h.
 */
#include "kv_cache.h"

#include <stdlib.h>

static bool type_ok(adm_type t, int head_dim) {
    if (t == ADM_TYPE_F32 || t == ADM_TYPE_F16) return true;
    return t == ADM_TYPE_Q8_0 && head_dim % QK8_0 == 0;
}

adm_status adm_kv_cache_create(int n_layer, int n_head_kv, int head_dim_k, int head_dim_v, int n_ctx,
                               const bool *windowed, int ring, adm_type type_k, adm_type type_v, adm_kv_cache **out,
                               adm_error *err) {
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
    kv->cap = adm_calloc((size_t)n_layer, sizeof(int));
    kv->off = adm_calloc((size_t)n_layer, sizeof(uint64_t));
    kv->windowed = adm_calloc((size_t)n_layer, sizeof(bool));
    if (!kv->cap || !kv->off || !kv->windowed) {
        adm_kv_cache_free(kv);
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    }
    uint64_t rows = 0;
    for (int l = 0; l < n_layer; l++) {
        kv->windowed[l] = windowed && windowed[l];
        kv->cap[l] = kv->windowed[l] && ring > 0 && ring < n_ctx ? ring : n_ctx;
        if (kv->cap[l] < n_ctx) kv->ring = ring;
        kv->off[l] = rows;
        rows += (uint64_t)n_head_kv * (uint64_t)kv->cap[l];
    }
    kv->n_rows = rows;
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
    if (kv->k) adm_unmap(kv->k, (size_t)(kv->n_rows * kv->k_row));
    if (kv->v) adm_unmap(kv->v, (size_t)(kv->n_rows * kv->v_row));
    adm_free(kv->cap);
    adm_free(kv->off);
    adm_free(kv->windowed);
    adm_free(kv);
}

uint64_t adm_kv_cache_bytes(const adm_kv_cache *kv) { return kv->n_rows * (kv->k_row + kv->v_row); }

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

void adm_kv_set_n(adm_kv_cache *kv, int n) {
    /* Writing up to position n - 1 overwrote the slots of n - ring and older. */
    if (kv->ring && n - kv->ring > kv->ring_lo) kv->ring_lo = n - kv->ring;
    kv->n = n;
}

bool adm_kv_can_keep(const adm_kv_cache *kv, int n_keep, int n_swa) {
    if (n_keep <= 0 || kv->ring_lo == 0) return true;
    return n_keep - n_swa + 1 >= kv->ring_lo;
}

void adm_kv_cache_discard(adm_kv_cache *kv) {
    adm_map_discard(kv->k, (size_t)(kv->n_rows * kv->k_row));
    adm_map_discard(kv->v, (size_t)(kv->n_rows * kv->v_row));
    kv->n = 0;
    kv->ring_lo = 0;
}

void adm_kv_rows(const adm_kv_cache *kv, bool is_v, int layer, int head, int lo, int n, uint8_t *buf, bool to_cache) {
    const size_t row = is_v ? kv->v_row : kv->k_row;
    /* Consecutive positions are consecutive slots up to the ring's end. */
    for (int p = lo; p < n;) {
        const int slot = adm_kv_slot(kv, layer, p), m = ADM_MIN(n - p, kv->cap[layer] - slot);
        uint8_t *c = is_v ? adm_kv_v(kv, layer, head, p) : adm_kv_k(kv, layer, head, p);
        uint8_t *b = buf + (size_t)(p - lo) * row;
        if (to_cache) memcpy(c, b, (size_t)m * row);
        else memcpy(b, c, (size_t)m * row);
        p += m;
    }
}

void adm_kv_cache_copy_prefix(adm_kv_cache *dst, const adm_kv_cache *src, int n) {
    int lo = 0;
    for (int l = 0; l < src->n_layer; l++) {
        int ll = 0;
        if (src->windowed[l]) {
            ll = ADM_MAX(src->ring_lo, n - dst->cap[l]);
            ll = ADM_MAX(ll, 0);
            lo = ADM_MAX(lo, ll);
        }
        for (int h = 0; h < src->n_head_kv; h++) {
            if (ll >= n) continue;
            for (int is_v = 0; is_v < 2; is_v++) {
                /* Both sides are runs of at most two pieces: copy piece by piece. */
                const size_t row = is_v ? src->v_row : src->k_row;
                for (int p = ll; p < n;) {
                    const int ss = adm_kv_slot(src, l, p), ds = adm_kv_slot(dst, l, p);
                    const int m = ADM_MIN(n - p, ADM_MIN(src->cap[l] - ss, dst->cap[l] - ds));
                    const uint8_t *a = is_v ? adm_kv_v(src, l, h, p) : adm_kv_k(src, l, h, p);
                    uint8_t *b = is_v ? adm_kv_v(dst, l, h, p) : adm_kv_k(dst, l, h, p);
                    memcpy(b, a, (size_t)m * row);
                    p += m;
                }
            }
        }
    }
    dst->n = n;
    dst->ring_lo = lo;
}
