/*
 * bench_decode_attn.c - dense decode attention as a batched step runs it:
 * S sequences, each with its own f16 KV cache of L layers at depth D, one
 * new token per sequence, every layer one adm_attn_dense_multi call over
 * the S segments (the engine's call). Between two layers a buffer the size
 * of one layer's weights is read through the caches, as the products do,
 * so the K/V rows come from DRAM as they do in a real step.
 *
 * The flush makes the rows come from DRAM but also leaves the hardware
 * prefetcher behind: the kernels measure ~1 ms per sequence-step slower
 * here than inside the engine's step (perf of batched-bench, docs/
 * benchmarks.md), so compare runs of this bench with each other.
 *
 * Prints microseconds of attention per sequence and step (all layers), the
 * K/V bytes read per second, and the same for one sequence, so that the
 * cost a batch adds per sequence can be compared with what one sequence
 * pays alone.
 *
 * usage: bench_decode_attn [--seqs 1,8] [--depth 4096] [--layers 24]
 *                          [--heads 14/2] [--head-dim 64] [--threads 2]
 *                          [--steps 8] [--rounds 3] [--layer-mib 20]
 * ADM_ISA=scalar|avx2 lowers the kernel table.
 */
#include "attention/attention.h"
#include "kernels/kernels.h"
#include "kv_cache.h"
#include "membw.h"
#include "threadpool.h"
#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SEQS 64
#define MAX_STEPS 64

static void die(const char *what, const adm_error *err) {
    fprintf(stderr, "bench_decode_attn: %s: %s\n", what, err ? err->msg : "out of memory");
    exit(1);
}

int main(int argc, char **argv) {
    int seqs[8] = {1, 8}, n_seqs_list = 2, depth = 4096, n_layer = 24, n_head = 14, n_head_kv = 2, hd = 64;
    int n_threads = 2, steps = 8, rounds = 3, layer_mib = 20;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--seqs") == 0 && v) n_seqs_list = bench_parse_list(v, seqs, 8), i++;
        else if (strcmp(argv[i], "--depth") == 0 && v) depth = atoi(v), i++;
        else if (strcmp(argv[i], "--layers") == 0 && v) n_layer = atoi(v), i++;
        else if (strcmp(argv[i], "--heads") == 0 && v) {
            if (sscanf(v, "%d/%d", &n_head, &n_head_kv) != 2) n_head = 0;
            i++;
        } else if (strcmp(argv[i], "--head-dim") == 0 && v) hd = atoi(v), i++;
        else if (strcmp(argv[i], "--threads") == 0 && v) n_threads = atoi(v), i++;
        else if (strcmp(argv[i], "--steps") == 0 && v) steps = atoi(v), i++;
        else if (strcmp(argv[i], "--rounds") == 0 && v) rounds = atoi(v), i++;
        else if (strcmp(argv[i], "--layer-mib") == 0 && v) layer_mib = atoi(v), i++;
        else {
            fprintf(stderr,
                    "usage: %s [--seqs 1,8] [--depth 4096] [--layers 24] [--heads 14/2] [--head-dim 64] [--threads 2]\n"
                    "          [--steps 8] [--rounds 3] [--layer-mib 20]\n",
                    argv[0]);
            return 2;
        }
    }
    int max_seqs = 0;
    for (int i = 0; i < n_seqs_list; i++) max_seqs = seqs[i] > max_seqs ? seqs[i] : max_seqs;
    if (n_seqs_list <= 0 || max_seqs > MAX_SEQS || depth < 1 || n_layer < 1 || n_head < 1 || n_head_kv < 1 ||
        n_head % n_head_kv || hd < 1 || n_threads < 1 || steps < 1 || steps > MAX_STEPS || rounds < 1 ||
        layer_mib < 0) {
        fprintf(stderr, "bench_decode_attn: bad arguments (seqs <= %d, steps <= %d)\n", MAX_SEQS, MAX_STEPS);
        return 2;
    }
    const adm_kernels *k = adm_kernels_get();
    adm_error err;
    adm_pool *pool;
    if (adm_pool_create(n_threads, &pool, &err) != ADM_OK) die("thread pool", &err);
    adm_membw *flush = NULL;
    if (layer_mib > 0 && !(flush = adm_membw_create((size_t)layer_mib << 20, &err))) die("layer buffer", &err);

    /* Every sequence's cache holds depth + steps rows; rows are Gaussian
     * keys with a per-channel offset (as real keys have) and Gaussian values. */
    const int n_ctx = depth + steps;
    adm_kv_cache *kv[MAX_SEQS];
    rng r = {12345};
    float *kb = malloc(sizeof(float) * (size_t)512 * n_head_kv * hd), *vb = malloc(sizeof(float) * (size_t)512 * n_head_kv * hd);
    float *offset = malloc(sizeof(float) * (size_t)hd);
    if (!kb || !vb || !offset) die("buffers", NULL);
    for (int i = 0; i < hd; i++) offset[i] = 0.5f * rng_normal(&r);
    for (int s = 0; s < max_seqs; s++) {
        if (adm_kv_cache_create(n_layer, n_head_kv, hd, hd, n_ctx, NULL, 0, ADM_TYPE_F16, ADM_TYPE_F16, &kv[s], &err) !=
            ADM_OK)
            die("kv cache", &err);
        for (int l = 0; l < n_layer; l++)
            for (int pos = 0; pos < n_ctx; pos += 512) {
                const int n = n_ctx - pos < 512 ? n_ctx - pos : 512;
                for (int i = 0; i < n * n_head_kv * hd; i++) kb[i] = rng_normal(&r) + offset[i % hd], vb[i] = rng_normal(&r);
                adm_kv_store(kv[s], k, l, pos, n, kb, vb);
            }
        kv[s]->n = n_ctx;
    }
    const size_t sc = adm_attn_scratch_size(kv[0], n_head, n_ctx);
    uint8_t *scratch = adm_alloc(sc * (size_t)n_threads);
    float *q = malloc(sizeof(float) * (size_t)max_seqs * n_head * hd), *out = malloc(sizeof(float) * (size_t)max_seqs * n_head * hd);
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)max_seqs);
    adm_attn_args *segs = malloc(sizeof(adm_attn_args) * (size_t)max_seqs);
    if (!scratch || !q || !out || !pos || !segs) die("buffers", NULL);
    for (int i = 0; i < max_seqs * n_head * hd; i++) q[i] = rng_normal(&r);

    printf("kernels: %s; %d threads; %d layers, %d/%d heads x %d, f16 KV at depth %d; %d MiB read between layers; "
           "median (min) over %d steps, best of %d rounds\n\n",
           k->name, n_threads, n_layer, n_head, n_head_kv, hd, depth, layer_mib, steps, rounds);
    printf("| sequences | us per sequence-step | (min) | KV GB/s | x one sequence's cost |\n|---:|---:|---:|---:|---:|\n");
    double one = 0.0;
    for (int si = 0; si < n_seqs_list; si++) {
        const int S = seqs[si];
        double best_med = 0.0, best_min = 0.0;
        for (int round = 0; round < rounds; round++) {
            double t[MAX_STEPS];
            for (int step = 0; step < steps; step++) {
                double total = 0.0;
                for (int l = 0; l < n_layer; l++) {
                    for (int s = 0; s < S; s++) {
                        pos[s] = depth + step;
                        const adm_attn_args a = {k, kv[s], l, 1, n_head, q + (size_t)s * n_head * hd, &pos[s],
                                                 1.0f / sqrtf((float)hd), out + (size_t)s * n_head * hd, scratch, sc, 0, 0.0f};
                        segs[s] = a;
                    }
                    if (flush) adm_membw_pass(flush, pool);
                    const double t0 = bench_now_us();
                    adm_attn_dense_multi(pool, segs, S);
                    total += bench_now_us() - t0;
                }
                t[step] = total / S;
            }
            double sorted[MAX_STEPS];
            memcpy(sorted, t, sizeof(double) * (size_t)steps);
            const double med = median(sorted, steps);
            if (round == 0 || med < best_med) best_med = med;
            if (round == 0 || sorted[0] < best_min) best_min = sorted[0];
        }
        if (S == 1) one = best_med;
        const double bytes = 2.0 * n_layer * n_head_kv * (double)(depth + 1) * hd * 2.0;
        char ratio[32] = "";
        if (one > 0.0) snprintf(ratio, sizeof ratio, "%.2f", best_med / one);
        printf("| %d | %.0f | (%.0f) | %.1f | %s |\n", S, best_med, best_min, bytes / best_med * 1e-3, ratio);
        fflush(stdout);
    }
    for (int s = 0; s < max_seqs; s++) adm_kv_cache_free(kv[s]);
    adm_free(scratch);
    free(q), free(out), free(pos), free(segs), free(kb), free(vb), free(offset);
    adm_membw_free(flush);
    adm_pool_free(pool);
    return 0;
}
