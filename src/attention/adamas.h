/*
 * adamas.h - Adamas sparse attention (arXiv 2510.18413) on the CPU.
 *
 * When keys enter the KV cache they are Hadamard-transformed and reduced to
 * 2-bit codes (code_dim/4 bytes per token per KV head). At a decode step
 * the query gets the same treatment, the exact L1 distance between codes
 * ranks every cached token, and exact attention runs over the `budget`
 * closest ones (plus optional sink and recent-window tokens, and always the
 * current token). The code index lives here, beside the KV cache:
 *
 *   codes[sparse layer][kv head][block of 32 tokens][code_dim/2][16 bytes]
 *
 * (the fast-scan layout of kernels.h: byte r of nibble position j holds
 * token r in its low nibble and token r+16 in its high nibble).
 *
 * Thresholds: "paper" uses the reference code's fixed -10/0/+10 for keys
 * and queries. "calibrated" centres each key channel on its running mean
 * (free: softmax ignores a constant added to every key) and puts the outer
 * thresholds at +-0.98 standard deviations (the 4-level Lloyd-Max points of
 * a Gaussian); queries use +-0.98 of their own per-channel RMS around 0.
 * Statistics come from the tokens seen so far; thresholds are refreshed,
 * and every stored code recomputed, when the context reaches 64, 128, ...
 * 8192 tokens, then frozen.
 */
#ifndef ADM_ADAMAS_H
#define ADM_ADAMAS_H

#include "attention.h"

typedef struct adm_adamas adm_adamas;

typedef struct adm_adamas_params {
    adm_attention mode;      /* ADM_ATTN_ADAMAS or ADM_ATTN_WINDOW */
    adm_thresholds thresholds;
    int budget, dense_layers, sink, window;
    bool collect_stats;
    bool group_select;       /* one selection per KV head (summed distances of its query heads) */
} adm_adamas_params;

adm_status adm_adamas_create(const adm_adamas_params *p, const adm_kv_cache *kv, int n_head, int n_threads,
                             adm_adamas **out, adm_error *err);
void adm_adamas_free(adm_adamas *a);

/* Bytes of the code index (allocated lazily as the context fills). */
uint64_t adm_adamas_code_bytes(const adm_adamas *a);

/* True if layer il attends sparsely for a step over n_kv cached tokens. */
bool adm_adamas_applies(const adm_adamas *a, int layer, int n_tok, int n_kv);

/* Called after the keys of positions pos0 .. pos0+n_tok-1 of `layer` were
 * stored in the cache: codes them. q (n_tok, n_head, head_dim) feeds the
 * query statistics of calibrated thresholds. */
void adm_adamas_append(adm_adamas *a, adm_pool *pool, const adm_kernels *k, const adm_kv_cache *kv, int layer,
                       int pos0, int n_tok, const float *q);

/* Called once the whole batch is in the cache (n_past tokens): refreshes
 * calibrated thresholds when a calibration point was crossed. */
void adm_adamas_after_batch(adm_adamas *a, adm_pool *pool, const adm_kernels *k, const adm_kv_cache *kv, int n_past);

/* Bytes of codes one position takes (over every sparse layer and KV head). */
uint64_t adm_adamas_token_bytes(const adm_adamas *a);

/* Back to the state of a new index: no codes (pages returned), no statistics. */
void adm_adamas_reset(adm_adamas *a);

/* Makes dst hold src's codes of positions 0 .. n-1 and src's calibration
 * (thresholds, statistics). The two must index the same model with the
 * same mode, thresholds kind and dense layers (else ADM_ERR_INVALID_ARG). */
adm_status adm_adamas_copy_prefix(adm_adamas *dst, const adm_adamas *src, int n, adm_error *err);

/* Forgets codes at positions >= n_keep (the KV cache was truncated). */
void adm_adamas_truncate(adm_adamas *a, int n_keep);

/* Sparse attention for one decode token (args->n_tok == 1). */
void adm_adamas_attend(adm_adamas *a, adm_pool *pool, const adm_attn_args *args);

/* The same for the decode tokens of n_segs sequences (segs[i] attends
 * through as[i]; every as[i] distinct) in three parallel passes for all of
 * them instead of two or three each; each result is the one
 * adm_adamas_attend gives. */
void adm_adamas_attend_multi(adm_adamas *const *as, adm_pool *pool, const adm_attn_args *segs, int n_segs);

/* The positions query head h attended to in the last sparse step (ascending). */
const int32_t *adm_adamas_selection(const adm_adamas *a, int h);
int adm_adamas_n_selected(const adm_adamas *a, int h);

/* Appends to out the k positions in [lo, hi) with the smallest d[t]
 * (values <= max_d), ties going to the largest t, in ascending order;
 * returns how many (min(k, hi - lo)). hist has max_d + 1 entries. */
int adm_select_smallest(const uint16_t *d, int lo, int hi, int k, int max_d, uint32_t *hist, int32_t *out);

/* The same selection (identical output), faster on long ranges: a sample
 * of the distances estimates a cut-off that keeps about 2k positions, the
 * kernel table's filter_le_u16 collects the positions at or under it, and
 * the counting select runs on those only (every position that can be
 * selected is among them). Falls back to adm_select_smallest for short
 * ranges, large k, or when the estimate keeps fewer than k or too many. */
int adm_select_smallest_fast(const adm_kernels *kt, const uint16_t *d, int lo, int hi, int k, int max_d, uint32_t *hist,
                             int32_t *out);

/* Per-layer mean share of the dense softmax mass the selected keys held
 * (collect_stats only); NaN for layers that never attended sparsely. */
double adm_adamas_mass(const adm_adamas *a, int layer, int64_t *n_steps);

/* ---- Snapshots (snapshot.c) ----
 * The state beside the KV rows, in two parts: a small blob (thresholds,
 * running statistics, calibration point; layout in adamas.c and
 * docs/snapshot.md) and the codes of each (sparse layer, KV head) in their
 * block layout, adm_adamas_code_bytes_for(code_dim, n) bytes for n tokens. */
bool adm_adamas_has_codes(const adm_adamas *a);  /* Adamas mode with at least one sparse layer */
int adm_adamas_n_sparse(const adm_adamas *a);
int adm_adamas_code_dim(const adm_adamas *a);
size_t adm_adamas_code_bytes_for(int code_dim, int n);
uint8_t *adm_adamas_head_codes(const adm_adamas *a, int sparse_layer, int kv_head);
size_t adm_adamas_state_size(const adm_adamas *a);
size_t adm_adamas_state_size_for(int code_dim, int n_sparse, int n_head, int n_head_kv);
void adm_adamas_state_save(const adm_adamas *a, uint8_t *out);
/* Whether a saved blob describes this index's layout (code size, sparse
 * layers, heads, threshold mode), so that its codes can be used as they are. */
bool adm_adamas_state_compatible(const adm_adamas *a, const uint8_t *blob, size_t size);
/* Loads a compatible blob for a sequence of n tokens (codes copied by the
 * caller); refuses damaged values (ADM_ERR_FORMAT), leaving the index reset. */
adm_status adm_adamas_state_load(adm_adamas *a, const uint8_t *blob, size_t size, int n, adm_error *err);
/* Builds the index of n cached tokens from their keys: the key statistics,
 * thresholds and codes a sparse prefill of them in one batch would have
 * made (bit-identical sums). Query statistics cannot be rebuilt (queries
 * are not cached): query thresholds are calibrated from the queries of the
 * next tokens evaluated, whatever their position, until CALIB_FIRST. */
void adm_adamas_rebuild(adm_adamas *a, adm_pool *pool, const adm_kernels *k, const adm_kv_cache *kv, int n);

#endif
