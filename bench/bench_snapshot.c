/*
 * bench_snapshot.c - what saving and restoring a KV snapshot costs, apart
 * from any forward pass: a KV cache of n tokens of a model's shape is filled
 * with random rows (and, with --adamas, coded), saved, then restored into a
 * cache of another context size several times. Each restore is split into
 * its parts: opening (map + validate the header, small sections and token
 * ids), the model fingerprint, and the copy of the rows with their checksums
 * verified; beside them a plain memcpy of the same bytes (the least any
 * restore into a separately allocated cache costs) and the hash alone. With
 * --adamas the code index is also rebuilt from the keys, as a restore of a
 * dense snapshot into an Adamas sequence does.
 *
 * usage: bench_snapshot [-m MODEL] [-n TOKENS] [--adamas] [--rounds 5] [-o DIR]
 * defaults: /tmp/q05.gguf, 16384 tokens, 5 rounds, the snapshot in /tmp.
 * Prints the median seconds of each part (the page cache holds the file).
 */
#include "attention/adamas.h"
#include "bench_util.h"
#include "model.h"
#include "snapshot.h"
#include "threadpool.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static double now(void) { return adm_time_s(); }

int main(int argc, char **argv) {
    const char *model = "/tmp/q05.gguf", *dir = "/tmp";
    int n = 16384, rounds = 5;
    bool adamas = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--adamas")) adamas = true;
        else {
            fprintf(stderr, "usage: bench_snapshot [-m MODEL] [-n TOKENS] [--adamas] [--rounds 5] [-o DIR]\n");
            return 2;
        }
    }
    if (n < 1 || rounds < 1 || rounds > 100) return 2;
    adm_error err;
    adm_model *m;
    if (adm_model_load(model, NULL, &m, &err) != ADM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const adm_hparams *hp = &m->hp;
    const adm_kernels *k = adm_kernels_get();
    adm_kv_cache *src, *dst;
    adm_pool *pool;
    if (adm_kv_cache_create(hp->n_layer, hp->n_head_kv, hp->head_dim, hp->head_dim_v, n + 64, NULL, 0, ADM_TYPE_F16,
                            ADM_TYPE_F16, &src, &err) != ADM_OK ||
        adm_kv_cache_create(hp->n_layer, hp->n_head_kv, hp->head_dim, hp->head_dim_v, n + 1000, NULL, 0, ADM_TYPE_F16,
                            ADM_TYPE_F16, &dst, &err) != ADM_OK ||
        adm_pool_create(adm_default_threads(), &pool, &err) != ADM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    /* Random keys and values, token by token as a prefill stores them. */
    rng r = {42};
    const int nkv = hp->n_head_kv;
    float *kf = malloc(sizeof(float) * (size_t)nkv * (size_t)hp->head_dim);
    float *vf = malloc(sizeof(float) * (size_t)nkv * (size_t)hp->head_dim_v);
    int32_t *toks = malloc(sizeof(int32_t) * (size_t)n);
    for (int l = 0; l < hp->n_layer; l++)
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < nkv * hp->head_dim; i++) kf[i] = 2.0f * rng_normal(&r);
            for (int i = 0; i < nkv * hp->head_dim_v; i++) vf[i] = rng_normal(&r);
            adm_kv_store(src, k, l, t, 1, kf, vf);
        }
    src->n = n;
    for (int t = 0; t < n; t++) toks[t] = (int32_t)(rng_u32(&r) % (uint32_t)hp->n_vocab);
    adm_adamas *a = NULL, *b = NULL;
    if (adamas) {
        adm_adamas_params ap = {ADM_ATTN_ADAMAS, ADM_THRESHOLDS_CALIBRATED, 128, 2, 4, 32, false, false};
        if (adm_adamas_create(&ap, src, hp->n_head, adm_pool_size(pool), &a, &err) != ADM_OK ||
            adm_adamas_create(&ap, dst, hp->n_head, adm_pool_size(pool), &b, &err) != ADM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        adm_adamas_rebuild(a, pool, k, src, n);
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/bench_snapshot.%d.snap", dir, (int)getpid());
    double t0 = now();
    if (adm_snapshot_write(path, m, src, a, toks, n, NULL, &err) != ADM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const double t_write = now() - t0;
    struct stat sb;
    stat(path, &sb);

    double t_open[100], t_fp[100], t_copy[100], t_memcpy[100], t_hash[100], t_rebuild[100];
    const size_t block = (size_t)n * src->k_row;
    volatile uint64_t sink = 0;
    for (int i = 0; i < rounds; i++) {
        adm_snapshot *s;
        t0 = now();
        if (adm_snapshot_open(path, &s, &err) != ADM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        t_open[i] = now() - t0;
        t0 = now();
        if (adm_snapshot_check_model(s, m, &err) != ADM_OK) return 1;
        t_fp[i] = now() - t0;
        t0 = now();
        if (adm_snapshot_restore(s, dst, b, pool, k, n, &err) != ADM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        t_copy[i] = now() - t0;
        adm_snapshot_free(s);
        /* The same bytes with a plain memcpy per (layer, head), and hashed alone. */
        t0 = now();
        for (int l = 0; l < hp->n_layer; l++)
            for (int h = 0; h < nkv; h++) {
                memcpy(adm_kv_k(dst, l, h, 0), adm_kv_k(src, l, h, 0), block);
                memcpy(adm_kv_v(dst, l, h, 0), adm_kv_v(src, l, h, 0), block);
            }
        t_memcpy[i] = now() - t0;
        t0 = now();
        for (int l = 0; l < hp->n_layer; l++)
            for (int h = 0; h < nkv; h++)
                sink += adm_snapshot_hash(adm_kv_k(src, l, h, 0), block, 3) ^ adm_snapshot_hash(adm_kv_v(src, l, h, 0), block, 4);
        t_hash[i] = now() - t0;
        t_rebuild[i] = 0;
        if (b) {
            t0 = now();
            adm_adamas_rebuild(b, pool, k, dst, n);
            t_rebuild[i] = now() - t0;
        }
    }
    const double rows = (double)n * (double)hp->n_layer * nkv * (double)(src->k_row + src->v_row);
    printf("model %s, %d tokens, f16 cache%s, %d threads; snapshot %.1f MiB (%.0f bytes per token; KV rows %.0f)\n",
           model, n, adamas ? " + Adamas index" : "", adm_pool_size(pool), (double)sb.st_size / 1048576.0,
           (double)sb.st_size / n, rows / n);
    printf("\n| step | seconds (median of %d) | GB/s of rows |\n|---|---:|---:|\n", rounds);
    printf("| write (hash + write to the page cache) | %.3f | %.1f |\n", t_write, rows / t_write / 1e9);
    const double o = median(t_open, rounds), f = median(t_fp, rounds), c = median(t_copy, rounds);
    const double mc = median(t_memcpy, rounds), hs = median(t_hash, rounds);
    printf("| open: map, validate header, small sections, token ids | %.4f | |\n", o);
    printf("| model fingerprint | %.4f | |\n", f);
    printf("| restore: copy rows%s, checksums verified | %.3f | %.1f |\n", adamas ? " and codes, load state" : "", c,
           rows / c / 1e9);
    printf("| (plain memcpy of the rows, cache to cache) | %.3f | %.1f |\n", mc, rows / mc / 1e9);
    printf("| (hash of the rows alone) | %.3f | %.1f |\n", hs, rows / hs / 1e9);
    if (b) printf("| Adamas index rebuilt from the keys (dense snapshot) | %.3f | |\n", median(t_rebuild, rounds));
    remove(path);
    adm_adamas_free(a);
    adm_adamas_free(b);
    adm_kv_cache_free(src);
    adm_kv_cache_free(dst);
    adm_pool_free(pool);
    free(kf);
    free(vf);
    free(toks);
    adm_model_free(m);
    return (int)(sink & 0);
}
