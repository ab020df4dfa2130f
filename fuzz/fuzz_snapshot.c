/*
 * fuzz_snapshot.c - libFuzzer target: arbitrary bytes as a KV snapshot
 * (docs/snapshot.md). The loader must accept or refuse them without
 * crashing or reading out of bounds; an accepted snapshot is then restored
 * into a KV cache (and, when it carries one, an Adamas index) of its own
 * shape, which verifies the row and code checksums, loads or rebuilds the
 * Adamas state, and must again either succeed or fail cleanly.
 *
 * Checksums stop almost every mutation at the first check, so each input
 * is also tried "resealed": the header's and the small sections'
 * checksums recomputed over the mutated bytes (docs/snapshot.md), which
 * lets mutations of sizes, offsets, token ids and Adamas values reach the
 * checks behind them.
 */
#include "adamas.h"
#include "snapshot.h"
#include "threadpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Recomputes what checksums it can find (sections inside the file). */
static void reseal(uint8_t *d, size_t size) {
    if (size < 256) return;
    const uint32_t hs = rd32(d + 12), n = rd32(d + 204);
    if (hs > size || hs > 4096 || n > 16 || 256 + 32 * (uint64_t)n > hs) return;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *e = d + 256 + 32 * i;
        const uint32_t id = rd32(e);
        const uint64_t off = rd64(e + 8), len = rd64(e + 16);
        if ((id == 1 || id == 2 || id == 5 || id == 7) && off <= size && len <= size - off) {
            const uint64_t h = adm_snapshot_hash(d + off, (size_t)len, id);
            memcpy(e + 24, &h, 8);
        }
    }
    memset(d + 24, 0, 8);
    const uint64_t h = adm_snapshot_hash(d, hs, 0);
    memcpy(d + 24, &h, 8);
}

static void try_one(const uint8_t *data, size_t size) {
    adm_snapshot *s;
    adm_error err;
    if (adm_snapshot_parse(data, size, "fuzz.snap", &s, &err) != ADM_OK) return;
    const adm_snapshot_shape sh = adm_snapshot_get_shape(s);
    const int n = adm_snapshot_n_tokens(s);
    adm_kv_cache *kv = NULL;
    adm_adamas *a = NULL;
    adm_pool *pool = NULL;
    /* The cache is no larger than the rows the file holds; the Adamas
     * scratch grows with heads x tokens, so very wide ones are skipped. */
    if (adm_kv_cache_create(sh.n_layer, sh.n_head_kv, sh.head_dim_k, sh.head_dim_v, n, NULL, 0, adm_snapshot_type_k(s),
                            adm_snapshot_type_v(s), &kv, &err) == ADM_OK &&
        adm_pool_create(1, &pool, &err) == ADM_OK) {
        if (adm_snapshot_has_adamas(s) && (uint64_t)sh.n_head * (uint64_t)n <= (1u << 22)) {
            adm_adamas_params ap = {ADM_ATTN_ADAMAS, sh.thresholds, 16, sh.n_layer - sh.n_sparse, 2, 4, false, false};
            if (adm_adamas_create(&ap, kv, sh.n_head, 1, &a, &err) != ADM_OK) a = NULL;
        }
        /* Twice: all tokens, then a prefix (chunks read partially). A
         * restore holds exactly what it says, and a failed one nothing. */
        for (int want = n, round = 0; round < 2; round++, want = n / 2) {
            const adm_status st = adm_snapshot_restore(s, kv, a, pool, adm_kernels_get(), want, &err);
            if (kv->n != (st == ADM_OK ? want : 0)) {
                fprintf(stderr, "restore of %d tokens: status %d but the cache holds %d\n", want, (int)st, kv->n);
                abort();
            }
            if (st != ADM_OK) break;
        }
        float *logits = malloc(sizeof(float) * (size_t)sh.n_vocab);
        if (logits) adm_snapshot_logits(s, logits);
        free(logits);
    }
    adm_adamas_free(a);
    adm_kv_cache_free(kv);
    adm_pool_free(pool);
    adm_snapshot_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_one(data, size);
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    reseal(copy, size);
    try_one(copy, size);
    free(copy);
    return 0;
}
