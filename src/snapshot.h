/*
 * snapshot.h - one sequence's state on disk: token ids, K and V rows, the
 * Adamas code index and calibration, and optionally the logits of the last
 * token, with a fingerprint of the model that made them. The format is
 * described in docs/snapshot.md; in short, a checksummed header and section
 * table in the first page, then page-aligned sections. Rows are stored per
 * (layer, KV head) with n_tokens rows each, so a restore is one memcpy per
 * (layer, KV head) out of the file's mapping into the KV cache (whatever
 * the cache's n_ctx), verifying the rows' checksums chunk by chunk.
 *
 * Loading validates everything a hostile file could get wrong (sizes,
 * offsets, overlaps, versions, checksums, token ids, float values) before
 * anything is used: a snapshot either opens or is refused with a message
 * naming the file and the problem.
 */
#ifndef ADM_SNAPSHOT_H
#define ADM_SNAPSHOT_H

#include "attention/adamas.h"
#include "kv_cache.h"
#include "model.h"

#define ADM_SNAPSHOT_VERSION 2 /* 2: sliding-window rows before ring_lo may be absent (zeros); 1 reads as ring_lo 0 */
#define ADM_SNAPSHOT_CHUNK 1024    /* tokens per row checksum (a multiple of ADM_CODE_BLOCK) */

typedef struct adm_snapshot adm_snapshot;

/* The model's identity: a 64-bit hash of its architecture, hyperparameters,
 * every tensor's name, type, shape and offset, and 64 bytes at the start,
 * middle and end of every tensor's data (so a fine-tune of the same shape
 * differs too, at the cost of three reads per tensor); desc gets a
 * human-readable description ("qwen2 'Qwen2.5 0.5B' 24 layers, q8_0"). */
uint64_t adm_model_fingerprint(const adm_model *m, char *desc, size_t desc_size);

/* Validates snapshot bytes held by the caller (they must outlive the view);
 * name is used in messages. Checks the header and section table (checksum,
 * version, sizes), the small sections' checksums and the token ids. */
adm_status adm_snapshot_parse(const uint8_t *data, uint64_t size, const char *name, adm_snapshot **out,
                              adm_error *err);
/* Maps and validates a snapshot file. */
adm_status adm_snapshot_open(const char *path, adm_snapshot **out, adm_error *err);
void adm_snapshot_free(adm_snapshot *s);

int adm_snapshot_n_tokens(const adm_snapshot *s);
const int32_t *adm_snapshot_tokens(const adm_snapshot *s);
/* The last token's logits (n_vocab floats, unaligned-safe copy into out);
 * false when the snapshot has none. */
bool adm_snapshot_logits(const adm_snapshot *s, float *out);
bool adm_snapshot_has_adamas(const adm_snapshot *s);

/* The dimensions the snapshot was made with (what a KV cache and Adamas
 * index need to receive it). n_head, n_sparse, code_dim and thresholds are
 * 0 without an Adamas state. */
typedef struct adm_snapshot_shape {
    int n_layer, n_head_kv, head_dim_k, head_dim_v, n_vocab;
    int n_head, n_sparse, code_dim;
    adm_thresholds thresholds;
} adm_snapshot_shape;
adm_snapshot_shape adm_snapshot_get_shape(const adm_snapshot *s);
adm_type adm_snapshot_type_k(const adm_snapshot *s);
adm_type adm_snapshot_type_v(const adm_snapshot *s);
/* First position whose rows the sliding-window layers hold (0: all; the
 * saving sequence kept only a ring of them). */
int adm_snapshot_ring_lo(const adm_snapshot *s);

/* Refuses a snapshot made by another model, naming both. */
adm_status adm_snapshot_check_model(const adm_snapshot *s, const adm_model *m, adm_error *err);

/* Copies the first n tokens' rows into kv (its n becomes n; the caller
 * checks that the sliding-window rows before n are there: ring_lo) and, when a is
 * an Adamas index, its state: loaded from the snapshot when the layouts
 * match, else rebuilt from the restored keys (adm_adamas_rebuild). The row
 * and code checksums of the chunks read are verified. On failure kv->n is 0
 * and a is reset. */
adm_status adm_snapshot_restore(const adm_snapshot *s, adm_kv_cache *kv, adm_adamas *a, adm_pool *pool,
                                const adm_kernels *k, int n, adm_error *err);

/* Writes the first n tokens of a sequence (tokens, kv rows, a's state when
 * a has codes, the last token's logits when not NULL) to path, through a
 * temporary file renamed over it (a snapshot being read stays intact). */
adm_status adm_snapshot_write(const char *path, const adm_model *m, const adm_kv_cache *kv, const adm_adamas *a,
                              const int32_t *tokens, int n, const float *logits, adm_error *err);

/* The hash of the header, sections and row chunks (exposed for tests). */
uint64_t adm_snapshot_hash(const void *data, size_t size, uint64_t seed);

#endif
