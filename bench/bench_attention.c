/*
 * bench_attention.c - one decode step's attention for one layer (one new
 * token attending to a context of n cached tokens, f16 K/V cache), dense
 * against Adamas sparse attention at budget 128 (sink 4, window 32, the
 * defaults), for the attention shapes of Qwen2.5-0.5B (14 query heads, 2 KV
 * heads, head size 64) and Llama-3.2-1B (32 / 8, 64).
 *
 *   dense:  adm_attn_dense (scores, softmax and values over all n tokens);
 *   adamas: adm_adamas_attend (query codes, the code scan, the selection and
 *           attention over the 128 selected rows);
 *   score, select: the two phases of the Adamas step that grow with n, timed
 *           alone on a synthetic code index of the same size: code_l1_multi
 *           (or code_l1 per head) over every (KV head, 1024-token chunk)
 *           against the query heads of its group, split over the threads as
 *           adamas.c does; then
 *           adm_select_smallest_fast over each query head's n distances.
 *
 * A second table splits dense attention into its kernels (attn_qk_f16, the
 * softmax, attn_pv_f16) on one thread.
 *
 * --cold: before every timed dense and adamas call, a 64 MiB buffer is read
 * through the caches, as the weight reads of a real decode step do between
 * two layers' attention; the K/V rows and code index then come from DRAM.
 *
 * usage: bench_attention [--quick] [--cold] [--threads 1,2] [--ctx 1024,4096,...] [--rounds 3]
 * Prints markdown tables of microseconds per layer-step: the median of
 * several runs (the minimum in parentheses), the best of `rounds` rounds. ADM_ISA=scalar|avx2 lowers the kernel table.
 */
#include "attention/adamas.h"
#include "attention/attention.h"
#include "kernels/kernels.h"
#include "kv_cache.h"
#include "membw.h"
#include "quant.h"
#include "threadpool.h"
#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_RUNS 64
#define BUDGET 128
#define SINK 4
#define WINDOW 32
#define SCAN_CHUNK 1024 /* as adamas.c */

typedef struct {
    const char *name;
    int n_head, n_head_kv, head_dim;
} shape;

static const shape k_shapes[] = {
    {"Qwen2.5-0.5B", 14, 2, 64},
    {"Llama-3.2-1B", 32, 8, 64},
};

typedef struct {
    double med, min;
} timing;

static timing summarize(double *t, int n) {
    const double med = median(t, n); /* sorts t */
    timing r = {med, t[0]};
    return r;
}

/* Across rounds: the lowest median (and lowest minimum). Other processes
 * on a 2-core machine slow whole stretches of runs; the best round is the
 * machine's own speed. */
static void keep_best(timing *best, timing t, int round) {
    if (round == 0 || t.med < best->med) best->med = t.med;
    if (round == 0 || t.min < best->min) best->min = t.min;
}

/* Runs per measurement: enough for ~0.3 s of the slowest (dense) case. */
static int n_runs(int ctx, bool quick) {
    int r = (int)(3000000 / ((double)ctx * 20.0));
    if (quick) r /= 4;
    return r < 5 ? 5 : r > MAX_RUNS ? MAX_RUNS : r;
}

/* ---- the synthetic score and select phases ---- */

typedef struct {
    const adm_kernels *k;
    int n_head_kv, group, code_dim, n;
    const uint8_t *codes; /* (n_head_kv, blocks, code_dim / 2, 16) */
    size_t head_bytes;
    const uint8_t *lut;   /* (n_head, code_dim / 2, 16) */
    uint16_t *dist;       /* (n_head, n) */
    uint32_t *hist;       /* per thread: 3 code_dim + 1 */
    int32_t *sel;         /* per thread: BUDGET */
} phase_job;

static void score_job(void *arg, int ith, int nth) {
    phase_job *j = arg;
    const int n_chunks = (j->n + SCAN_CHUNK - 1) / SCAN_CHUNK;
    int64_t lo, hi;
    adm_split_range((int64_t)j->n_head_kv * n_chunks, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int g = (int)(item / n_chunks), t0 = (int)(item % n_chunks) * SCAN_CHUNK;
        const int nt = j->n - t0 < SCAN_CHUNK ? j->n - t0 : SCAN_CHUNK;
        const uint8_t *c = j->codes + (size_t)g * j->head_bytes + (size_t)(t0 / ADM_CODE_BLOCK) * (size_t)j->code_dim * 8;
        const size_t lut_bytes = (size_t)j->code_dim * 8;
        const int h0 = g * j->group;
        if (j->k->code_l1_multi) {
            j->k->code_l1_multi(c, nt, j->code_dim, j->lut + (size_t)h0 * lut_bytes, lut_bytes, j->group,
                                j->dist + (size_t)h0 * (size_t)j->n + (size_t)t0, (size_t)j->n);
            continue;
        }
        for (int h = h0; h < h0 + j->group; h++)
            j->k->code_l1(c, nt, j->code_dim, j->lut + (size_t)h * lut_bytes, j->dist + (size_t)h * (size_t)j->n + (size_t)t0);
    }
}

static void select_job(void *arg, int ith, int nth) {
    phase_job *j = arg;
    int64_t lo, hi;
    adm_split_range((int64_t)j->n_head_kv * j->group, ith, nth, &lo, &hi);
    uint32_t *hist = j->hist + (size_t)ith * (size_t)(3 * j->code_dim + 1);
    int32_t *sel = j->sel + (size_t)ith * BUDGET;
    const int recent_lo = j->n - 1 - WINDOW, want = BUDGET - SINK - WINDOW - 1;
    for (int64_t h = lo; h < hi; h++)
        adm_select_smallest_fast(j->k, j->dist + (size_t)h * (size_t)j->n, SINK, recent_lo, want, 3 * j->code_dim, hist, sel);
}

/* ---- dense attention by kernel: one thread, every KV head of a layer ---- */

typedef struct {
    timing qk, softmax, pv;
} kernel_result;

static void bench_kernels(const shape *sh, int ctx, bool quick, int rounds, kernel_result *res) {
    const adm_kernels *k = adm_kernels_get();
    const int hd = sh->head_dim, G = sh->n_head / sh->n_head_kv;
    rng r = {7};
    /* One KV head's rows; every KV head of the layer repeats the same work. */
    adm_f16 *kc = malloc(sizeof(adm_f16) * (size_t)ctx * hd), *vc = malloc(sizeof(adm_f16) * (size_t)ctx * hd);
    for (size_t i = 0; i < (size_t)ctx * hd; i++) kc[i] = adm_f32_to_f16(rng_normal(&r)), vc[i] = adm_f32_to_f16(rng_normal(&r));
    float *q = malloc(sizeof(float) * (size_t)G * hd), *s = malloc(sizeof(float) * (size_t)G * ctx);
    float *out = malloc(sizeof(float) * (size_t)G * hd);
    for (int i = 0; i < G * hd; i++) q[i] = rng_normal(&r);
    const int runs = n_runs(ctx, quick);
    double t[3][MAX_RUNS];
    for (int round = 0; round < rounds; round++) {
        for (int i = 0; i < runs; i++) {
            double t0 = bench_now_us();
            for (int h = 0; h < sh->n_head_kv; h++) k->attn_qk_f16(kc, (size_t)hd, NULL, ctx, hd, q, G, 0.125f, s, ctx);
            double t1 = bench_now_us();
            for (int h = 0; h < sh->n_head_kv; h++)
                for (int g = 0; g < G; g++) k->softmax(s + (size_t)g * ctx, ctx);
            double t2 = bench_now_us();
            for (int h = 0; h < sh->n_head_kv; h++) {
                memset(out, 0, sizeof(float) * (size_t)G * hd);
                k->attn_pv_f16(vc, (size_t)hd, NULL, ctx, hd, s, G, ctx, out);
            }
            double t3 = bench_now_us();
            t[0][i] = t1 - t0, t[1][i] = t2 - t1, t[2][i] = t3 - t2;
        }
        keep_best(&res->qk, summarize(t[0], runs), round);
        keep_best(&res->softmax, summarize(t[1], runs), round);
        keep_best(&res->pv, summarize(t[2], runs), round);
    }
    free(kc);
    free(vc);
    free(q);
    free(s);
    free(out);
}

/* ---- one (shape, context) ---- */

typedef struct {
    timing dense[2], adamas[2], score[2], select[2];
} result;

static void bench_one(const shape *sh, int ctx, const int *threads, int n_threads, adm_pool **pools, bool quick,
                      int rounds, adm_membw *flush, result *res) {
    const adm_kernels *k = adm_kernels_get();
    const int hd = sh->head_dim, nkv = sh->n_head_kv, nh = sh->n_head, layer = 2;
    adm_kv_cache *kv;
    adm_error err;
    if (adm_kv_cache_create(3, nkv, hd, hd, ctx, NULL, 0, ADM_TYPE_F16, ADM_TYPE_F16, &kv, &err) != ADM_OK) {
        fprintf(stderr, "kv cache: %s\n", err.msg);
        exit(1);
    }
    rng r = {(uint64_t)ctx * 31u + (uint64_t)nh};
    /* Keys and values: Gaussian, with a per-channel offset in the keys as
     * real models have; queries for the threshold statistics alike. */
    float *kbuf = malloc(sizeof(float) * (size_t)nkv * hd * 512), *vbuf = malloc(sizeof(float) * (size_t)nkv * hd * 512);
    float *qbuf = malloc(sizeof(float) * (size_t)nh * hd * 512), offset[256];
    for (int i = 0; i < hd; i++) offset[i] = 0.5f * rng_normal(&r);
    const int max_threads = threads[n_threads - 1] > threads[0] ? threads[n_threads - 1] : threads[0];
    adm_adamas_params p = {ADM_ATTN_ADAMAS, ADM_THRESHOLDS_CALIBRATED, BUDGET, 2, SINK, WINDOW, false, false};
    adm_adamas *a;
    if (adm_adamas_create(&p, kv, nh, max_threads, &a, &err) != ADM_OK) {
        fprintf(stderr, "adamas: %s\n", err.msg);
        exit(1);
    }
    for (int pos = 0; pos < ctx; pos += 512) {
        const int n = ctx - pos < 512 ? ctx - pos : 512;
        for (int i = 0; i < n * nkv * hd; i++) kbuf[i] = rng_normal(&r) + offset[i % hd], vbuf[i] = rng_normal(&r);
        /* Query statistics stop at 8192 tokens (adamas.h). */
        if (pos < 8192)
            for (int i = 0; i < n * nh * hd; i++) qbuf[i] = rng_normal(&r);
        adm_kv_store(kv, k, layer, pos, n, kbuf, vbuf);
        kv->n = pos + n;
        adm_adamas_append(a, pools[n_threads - 1], k, kv, layer, pos, n, pos < 8192 ? qbuf : NULL);
        adm_adamas_after_batch(a, pools[n_threads - 1], k, kv, pos + n);
    }
    float *q = malloc(sizeof(float) * (size_t)nh * hd), *out = malloc(sizeof(float) * (size_t)nh * hd);
    for (int i = 0; i < nh * hd; i++) q[i] = rng_normal(&r);
    const size_t sc = adm_attn_scratch_size(kv, nh, ctx);
    uint8_t *scratch = malloc(sc * (size_t)max_threads);
    const int32_t pos = ctx - 1;
    adm_attn_args args = {k, kv, layer, 1, nh, q, &pos, 1.0f / sqrtf((float)hd), out, scratch, sc, 0, 0.0f};

    /* The synthetic code index: random codes, tables from random query codes. */
    const int cd = hd, nblk = (ctx + ADM_CODE_BLOCK - 1) / ADM_CODE_BLOCK;
    phase_job pj = {k, nkv, nh / nkv, cd, ctx - 1, NULL, (size_t)nblk * (size_t)cd * 8, NULL, NULL, NULL, NULL};
    uint8_t *codes = malloc(pj.head_bytes * (size_t)nkv), *lut = malloc((size_t)nh * (size_t)cd * 8);
    for (size_t i = 0; i < pj.head_bytes * (size_t)nkv; i++) codes[i] = (uint8_t)rng_u32(&r);
    for (int h = 0; h < nh; h++)
        for (int j = 0; j < cd / 2; j++) {
            const int c0 = (int)(rng_u32(&r) % 4), c1 = (int)(rng_u32(&r) % 4);
            for (int v = 0; v < 16; v++)
                lut[((size_t)h * (size_t)cd / 2 + (size_t)j) * 16 + (size_t)v] =
                    (uint8_t)(abs(c0 - (v & 3)) + abs(c1 - (v >> 2)));
        }
    pj.codes = codes;
    pj.lut = lut;
    pj.dist = malloc(sizeof(uint16_t) * (size_t)nh * (size_t)ctx);
    pj.hist = malloc(sizeof(uint32_t) * (size_t)(3 * cd + 1) * (size_t)max_threads);
    pj.sel = malloc(sizeof(int32_t) * BUDGET * (size_t)max_threads);

    const int runs = n_runs(ctx, quick);
    for (int round = 0; round < rounds; round++) {
        for (int ti = 0; ti < n_threads; ti++) {
            adm_pool *pool = pools[ti];
            double t[4][MAX_RUNS];
            /* Warm up once, then alternate the four so that machine noise hits all alike. */
            adm_attn_dense(pool, &args);
            adm_adamas_attend(a, pool, &args);
            for (int i = 0; i < runs; i++) {
                if (flush) adm_membw_pass(flush, pool);
                double t0 = bench_now_us();
                adm_attn_dense(pool, &args);
                double t1 = bench_now_us();
                if (flush) adm_membw_pass(flush, pool), t1 = bench_now_us();
                adm_adamas_attend(a, pool, &args);
                double t2 = bench_now_us();
                adm_pool_run(pool, score_job, &pj);
                double t3 = bench_now_us();
                adm_pool_run(pool, select_job, &pj);
                double t4 = bench_now_us();
                t[0][i] = t1 - t0, t[1][i] = t2 - t1, t[2][i] = t3 - t2, t[3][i] = t4 - t3;
            }
            keep_best(&res->dense[ti], summarize(t[0], runs), round);
            keep_best(&res->adamas[ti], summarize(t[1], runs), round);
            keep_best(&res->score[ti], summarize(t[2], runs), round);
            keep_best(&res->select[ti], summarize(t[3], runs), round);
        }
    }
    free(codes);
    free(lut);
    free(pj.dist);
    free(pj.hist);
    free(pj.sel);
    free(kbuf);
    free(vbuf);
    free(qbuf);
    free(q);
    free(out);
    free(scratch);
    adm_adamas_free(a);
    adm_kv_cache_free(kv);
}

int main(int argc, char **argv) {
    bool quick = false, cold = false, bad = false;
    int rounds = 3;
    int threads[4] = {1, 2}, n_threads = 2;
    int ctxs[16] = {1024, 4096, 16384, 32768}, n_ctx = 4;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = true;
        else if (strcmp(argv[i], "--cold") == 0) cold = true;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) n_threads = bench_parse_list(argv[++i], threads, 2);
        else if (strcmp(argv[i], "--ctx") == 0 && i + 1 < argc) n_ctx = bench_parse_list(argv[++i], ctxs, 16);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
        else bad = true;
    }
    if (bad || n_threads < 1 || n_ctx < 1 || rounds < 1) {
        fprintf(stderr, "usage: %s [--quick] [--cold] [--threads 1,2] [--ctx 1024,4096,16384,32768] [--rounds 3]\n"
                        "  (at most 2 thread counts and 16 contexts)\n", argv[0]);
        return 2;
    }
    if (quick) rounds = 1;
    adm_pool *pools[2];
    adm_error err;
    for (int i = 0; i < n_threads; i++)
        if (adm_pool_create(threads[i], &pools[i], &err) != ADM_OK) {
            fprintf(stderr, "pool: %s\n", err.msg);
            return 1;
        }
    adm_membw *flush = cold ? adm_membw_create((size_t)64 << 20, &err) : NULL;
    if (cold && !flush) {
        fprintf(stderr, "flush buffer: %s\n", err.msg);
        return 1;
    }
    printf("kernels: %s; Adamas budget %d (sink %d, window %d), f16 KV cache; microseconds per layer-step, median "
           "(min) of runs, best of %d rounds%s\n\n",
           adm_kernels_get()->name, BUDGET, SINK, WINDOW, rounds,
           cold ? "; cold caches (64 MiB read before each dense and adamas call)" : "");
    printf("| model | context | threads | dense | adamas | of which score | of which select | dense / adamas |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof(k_shapes) / sizeof(k_shapes[0]); s++)
        for (int c = 0; c < n_ctx; c++) {
            result res;
            bench_one(&k_shapes[s], ctxs[c], threads, n_threads, pools, quick, rounds, flush, &res);
            for (int ti = 0; ti < n_threads; ti++) {
                printf("| %s (%d/%d x %d) | %d | %d | %.0f (%.0f) | %.0f (%.0f) | %.0f | %.0f | %.1fx |\n", k_shapes[s].name,
                       k_shapes[s].n_head, k_shapes[s].n_head_kv, k_shapes[s].head_dim, ctxs[c], threads[ti],
                       res.dense[ti].med, res.dense[ti].min, res.adamas[ti].med, res.adamas[ti].min, res.score[ti].med,
                       res.select[ti].med, res.dense[ti].med / res.adamas[ti].med);
                fflush(stdout);
            }
        }
    printf("\nDense attention by kernel (one thread, all KV heads of one layer; microseconds, median):\n\n");
    printf("| model | context | attn_qk_f16 | softmax | attn_pv_f16 | qk ns/(key x head) | pv ns/(key x head) |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof(k_shapes) / sizeof(k_shapes[0]); s++)
        for (int c = 0; c < n_ctx; c++) {
            kernel_result kr;
            memset(&kr, 0, sizeof(kr));
            bench_kernels(&k_shapes[s], ctxs[c], quick, rounds, &kr);
            const double pairs = (double)ctxs[c] * k_shapes[s].n_head / 1000.0;
            printf("| %s | %d | %.0f | %.0f | %.0f | %.2f | %.2f |\n", k_shapes[s].name, ctxs[c], kr.qk.med, kr.softmax.med,
                   kr.pv.med, kr.qk.med / pairs, kr.pv.med / pairs);
            fflush(stdout);
        }
    for (int i = 0; i < n_threads; i++) adm_pool_free(pools[i]);
    adm_membw_free(flush);
    return 0;
}
