/*
 * kv_cache.h - the keys and values of one sequence, for every layer.
 *
 * Rows are stored per (layer, KV head) contiguously by slot:
 *   k[layer][head][slot][head_dim]   (type_k: f32, f16 or q8_0)
 *   v[layer][head][slot][head_dim_v] (type_v)
 * so attention streams one head's keys linearly and sparse attention can
 * gather single token rows. Keys are stored after RoPE, exactly what
 * attention (and Adamas coding) consumes.
 *
 * A layer holds cap[layer] slots. Full layers have n_ctx (slot = position);
 * sliding-window layers may have a ring of fewer (slot = position % cap):
 * they only ever read the last n_swa positions, so the ring needs the
 * window plus the rows one batch appends before attending plus the rows a
 * rollback may take back (adm_kv_ring_rows). Positions ring_lo .. n-1 are
 * present in every layer; the full layers hold 0 .. n-1 as well.
 */
#ifndef ADM_KV_CACHE_H
#define ADM_KV_CACHE_H

#include "kernels/kernels.h"

typedef struct adm_kv_cache {
    int n_layer, n_head_kv, head_dim_k, head_dim_v, n_ctx;
    adm_type type_k, type_v;
    size_t k_row, v_row;    /* bytes per (pos, head) row */
    uint8_t *k, *v;         /* one allocation each (pages are touched as the cache fills) */
    uint64_t n_rows;        /* rows per allocation: sum over layers of n_head_kv * cap */
    int *cap;               /* (n_layer) slots per (layer, head) */
    bool *windowed;         /* (n_layer) sliding-window layers (ring or not) */
    uint64_t *off;          /* (n_layer) first row of each layer */
    int ring;               /* the ring layers' cap, 0 if every layer holds n_ctx */
    int ring_lo;            /* first position the sliding-window layers still hold */
    int n;                  /* tokens stored */
} adm_kv_cache;

/* windowed: the sliding-window layers (NULL: none); they get rings of
 * `ring` slots when 0 < ring < n_ctx, else n_ctx slots like the others. */
adm_status adm_kv_cache_create(int n_layer, int n_head_kv, int head_dim_k, int head_dim_v, int n_ctx,
                               const bool *windowed, int ring, adm_type type_k, adm_type type_v, adm_kv_cache **out,
                               adm_error *err);
void adm_kv_cache_free(adm_kv_cache *kv);

/* Slots a sliding-window layer's ring needs: the window, the rows of one
 * batch (stored before they attend), and ADM_KV_ROLLBACK rows that a
 * rollback of speculative guesses may take back. */
#define ADM_KV_ROLLBACK ADM_MAX_DRAFT
static inline int adm_kv_ring_rows(int n_swa, int n_batch) { return n_swa + n_batch + ADM_KV_ROLLBACK; }

static inline int adm_kv_slot(const adm_kv_cache *kv, int layer, int pos) {
    const int cap = kv->cap[layer];
    return pos < cap ? pos : pos % cap;
}
static inline bool adm_kv_is_ring(const adm_kv_cache *kv, int layer) { return kv->cap[layer] < kv->n_ctx; }
static inline uint8_t *adm_kv_k(const adm_kv_cache *kv, int layer, int head, int pos) {
    return kv->k + (kv->off[layer] + (uint64_t)head * (uint64_t)kv->cap[layer] + (uint64_t)adm_kv_slot(kv, layer, pos)) *
                       kv->k_row;
}
static inline uint8_t *adm_kv_v(const adm_kv_cache *kv, int layer, int head, int pos) {
    return kv->v + (kv->off[layer] + (uint64_t)head * (uint64_t)kv->cap[layer] + (uint64_t)adm_kv_slot(kv, layer, pos)) *
                       kv->v_row;
}

/* Stores n_tok tokens' keys and values (rows of n_head_kv * head_dim floats)
 * of one layer at positions pos0 .. pos0 + n_tok - 1. */
void adm_kv_store(adm_kv_cache *kv, const adm_kernels *k, int layer, int pos0, int n_tok, const float *keys,
                  const float *values);

/* Records that positions 0 .. n-1 are stored (after a batch): the rings
 * lose the rows the batch overwrote. */
void adm_kv_set_n(adm_kv_cache *kv, int n);

/* Whether the cache can continue from n_keep <= n tokens: the ring layers
 * still hold the n_swa positions before it. */
bool adm_kv_can_keep(const adm_kv_cache *kv, int n_keep, int n_swa);

/* Bytes allocated (rows of every layer at their cap). */
uint64_t adm_kv_cache_bytes(const adm_kv_cache *kv);

/* Forgets every row and returns the touched pages to the system. */
void adm_kv_cache_discard(adm_kv_cache *kv);

/* Copies the rows of positions lo .. n-1 of one (layer, head) between the
 * cache and a dense buffer of n - lo rows (to_cache: into the cache). */
void adm_kv_rows(const adm_kv_cache *kv, bool is_v, int layer, int head, int lo, int n, uint8_t *buf, bool to_cache);

/* Makes dst hold positions 0 .. n-1 of src (same shape and types; dst->n_ctx
 * >= n; src holds them: adm_kv_can_keep). Ring layers copy the rows they
 * will still read. */
void adm_kv_cache_copy_prefix(adm_kv_cache *dst, const adm_kv_cache *src, int n);

#endif
