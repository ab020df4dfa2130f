/*
 * fuzz_snapshot.c - libFuzzer target: arbitrary bytes as a KV snapshot
 * (docs/snapshot.md). The loader must accept or refuse them without
 * crashing or reading out of bounds; an accepted snapshot is then restored
 * into a KV cache (and, when it carries one, an Adamas index) of its own
 * shape, which verifies the row and code checksums, loads or rebuilds the
 * Adamas state, and must again either succeed or fail cleanly.
 */
#include "adamas.h"
#include "snapshot.h"
#include "threadpool.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    adm_snapshot *s;
    adm_error err;
    if (adm_snapshot_parse(data, size, "fuzz.snap", &s, &err) != ADM_OK) return 0;
    const adm_snapshot_shape sh = adm_snapshot_get_shape(s);
    const int n = adm_snapshot_n_tokens(s);
    adm_kv_cache *kv = NULL;
    adm_adamas *a = NULL;
    adm_pool *pool = NULL;
    /* The cache is no larger than the rows the file holds; the Adamas
     * scratch grows with heads x tokens, so very wide ones are skipped. */
    if (adm_kv_cache_create(sh.n_layer, sh.n_head_kv, sh.head_dim_k, sh.head_dim_v, n, adm_snapshot_type_k(s),
                            adm_snapshot_type_v(s), &kv, &err) == ADM_OK &&
        adm_pool_create(1, &pool, &err) == ADM_OK) {
        if (adm_snapshot_has_adamas(s) && (uint64_t)sh.n_head * (uint64_t)n <= (1u << 22)) {
            adm_adamas_params ap = {ADM_ATTN_ADAMAS, sh.thresholds, 16, sh.n_layer - sh.n_sparse, 2, 4, false, false};
            if (adm_adamas_create(&ap, kv, sh.n_head, 1, &a, &err) != ADM_OK) a = NULL;
        }
        /* Twice: all tokens, then a prefix (chunks read partially). */
        if (adm_snapshot_restore(s, kv, a, pool, adm_kernels_get(), n, &err) == ADM_OK)
            adm_snapshot_restore(s, kv, a, pool, adm_kernels_get(), n / 2, &err);
        float *logits = malloc(sizeof(float) * (size_t)sh.n_vocab);
        if (logits) adm_snapshot_logits(s, logits);
        free(logits);
    }
    adm_adamas_free(a);
    adm_kv_cache_free(kv);
    adm_pool_free(pool);
    adm_snapshot_free(s);
    return 0;
}
