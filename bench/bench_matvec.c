/*
 * bench_matvec.c - weight matrix x activations, per weight type, through
 * adm_matmul (the path the forward pass takes).
 *
 *   decode (n_tok = 1): GB/s of weights streamed from a matrix far larger
 *   than the caches (>= 256 MiB), next to this machine's read bandwidth
 *   measured in the same run with the same thread count;
 *   prompt (n_tok = 512): GFLOP/s (2 * n_in * n_out * n_tok / time) on the
 *   two FFN shapes of Qwen2.5-0.5B.
 *
 * usage: bench_matvec [--quick] [--types q8_0,q4_k,...] [--threads 1,2]
 * Prints a markdown table; each number is the median of several runs. The
 * read-bandwidth passes alternate with the matvec passes, so a busy
 * machine (other processes, frequency changes) affects both alike.
 * ADM_ISA=scalar|avx2 selects a lower kernel table.
 */
#include "kernels/kernels.h"
#include "matmul.h"
#include "membw.h"
#include "quant.h"
#include "threadpool.h"
#include "bench_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 8

static const adm_type k_types[] = {ADM_TYPE_F32,  ADM_TYPE_F16,  ADM_TYPE_BF16, ADM_TYPE_Q8_0, ADM_TYPE_Q4_0,
                                   ADM_TYPE_Q4_1, ADM_TYPE_Q5_0, ADM_TYPE_Q5_1, ADM_TYPE_Q2_K, ADM_TYPE_Q3_K,
                                   ADM_TYPE_Q4_K, ADM_TYPE_Q5_K, ADM_TYPE_Q6_K};
#define N_TYPES ((int)(sizeof(k_types) / sizeof(k_types[0])))

/* Median seconds of one adm_matmul call. */
static double time_matmul(adm_pool *pool, const adm_kernels *k, const adm_weight *w, const float *x, int n_tok,
                          float *out, void *scratch, int reps) {
    double t[64];
    adm_matmul(pool, k, w, x, n_tok, out, (size_t)w->n_out, scratch);
    for (int i = 0; i < reps; i++) {
        const double t0 = adm_time_s();
        adm_matmul(pool, k, w, x, n_tok, out, (size_t)w->n_out, scratch);
        t[i] = adm_time_s() - t0;
    }
    return median(t, reps);
}

static bool parse_list(const char *s, bool *types_on) {
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        adm_type t;
        if (!adm_type_from_name(tok, &t)) {
            fprintf(stderr, "unknown type '%s'\n", tok);
            return false;
        }
        for (int i = 0; i < N_TYPES; i++)
            if (k_types[i] == t) types_on[i] = true;
    }
    return true;
}

static void cpu_name(char *out, size_t size) {
    snprintf(out, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *v = strchr(line, ':');
            if (v) {
                snprintf(out, size, "%s", v + 2);
                out[strcspn(out, "\n")] = 0;
            }
            break;
        }
    }
    fclose(f);
}

int main(int argc, char **argv) {
    bool quick = false, types_on[N_TYPES] = {false}, any_type = false;
    int threads[MAX_THREADS] = {1, 2}, n_threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = true;
        } else if (strcmp(argv[i], "--types") == 0 && i + 1 < argc) {
            if (!parse_list(argv[++i], types_on)) return 2;
            any_type = true;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            n_threads = 0;
            char buf[64];
            snprintf(buf, sizeof(buf), "%s", argv[++i]);
            for (char *tok = strtok(buf, ","); tok && n_threads < MAX_THREADS; tok = strtok(NULL, ","))
                threads[n_threads++] = ADM_MAX(1, ADM_MIN(MAX_THREADS, atoi(tok)));
        } else {
            fprintf(stderr, "usage: %s [--quick] [--types q8_0,q4_k,...] [--threads 1,2]\n", argv[0]);
            return 2;
        }
    }
    if (!any_type)
        for (int i = 0; i < N_TYPES; i++) types_on[i] = true;

    const adm_kernels *k = adm_kernels_get();
    const int reps_mv = quick ? 5 : 15, reps_pp = quick ? 2 : 5;
    const size_t min_bytes = (size_t)256 << 20;
    const int64_t n_in_mv = 4096;
    rng r = {12345};

    char cpu[256], date[64];
    cpu_name(cpu, sizeof(cpu));
    const time_t now = time(NULL);
    strftime(date, sizeof(date), "%Y-%m-%d", gmtime(&now));
    printf("# bench_matvec: %s, kernels %s (tile %dx%d), %s\n\n", cpu, k->name, k->gemm_nr, k->gemm_nc, date);

    adm_pool *pools[MAX_THREADS] = {NULL};
    for (int i = 0; i < n_threads; i++)
        if (adm_pool_create(threads[i], &pools[i], NULL) != ADM_OK) return 1;
    /* The read-bandwidth buffer is as large as the weights; its passes
     * alternate with the matvec passes below, so both see the same
     * machine (other load, frequency) and the ratio is fair. */
    adm_membw *rd = adm_membw_create(min_bytes, NULL);
    if (!rd) return 1;
    for (int i = 0; i < n_threads; i++) adm_membw_pass(rd, pools[i]); /* warm up */

    /* Header. */
    printf("| type | bits/w |");
    for (int i = 0; i < n_threads; i++) printf(" tg %dT GB/s | read %dT GB/s | %% |", threads[i], threads[i]);
    for (int i = 0; i < n_threads; i++) printf(" pp 896x4864 %dT GFLOP/s |", threads[i]);
    for (int i = 0; i < n_threads; i++) printf(" pp 4864x896 %dT GFLOP/s |", threads[i]);
    printf("\n|---|---:|");
    for (int i = 0; i < 5 * n_threads; i++) printf("---:|");
    printf("\n");
    fflush(stdout);

    for (int ti = 0; ti < N_TYPES; ti++) {
        if (!types_on[ti]) continue;
        const adm_type t = k_types[ti];
        const adm_type_traits *tr = adm_type_get_traits(t);
        printf("| %s | %.2f |", tr->name, 8.0 * (double)tr->type_size / tr->block_size);
        fflush(stdout);

        /* Decode: one >= 256 MiB matrix, n_tok = 1. */
        const size_t rs = adm_row_size(t, n_in_mv);
        const int64_t rows = (int64_t)((min_bytes + rs - 1) / rs + 63) / 64 * 64;
        uint8_t *wd = make_matrix(t, n_in_mv, rows, &r);
        float *x = malloc((size_t)512 * 4864 * sizeof(float));
        float *out = adm_alloc((size_t)rows * sizeof(float) > (size_t)512 * 4864 * sizeof(float)
                                   ? (size_t)rows * sizeof(float)
                                   : (size_t)512 * 4864 * sizeof(float));
        void *scratch = adm_alloc(adm_matmul_scratch_size(4864, 512));
        if (!wd || !x || !out || !scratch) return 1;
        for (size_t i = 0; i < (size_t)512 * 4864; i++) x[i] = rng_normal(&r);
        const adm_weight w = {t, n_in_mv, rows, rs, wd, NULL};
        for (int i = 0; i < n_threads; i++) {
            double tm[64], trd[64];
            adm_matmul(pools[i], k, &w, x, 1, out, (size_t)rows, scratch);
            for (int rep = 0; rep < reps_mv; rep++) {
                trd[rep] = adm_membw_pass(rd, pools[i]);
                const double t0 = adm_time_s();
                adm_matmul(pools[i], k, &w, x, 1, out, (size_t)rows, scratch);
                tm[rep] = adm_time_s() - t0;
            }
            const double gbs = (double)rs * (double)rows / median(tm, reps_mv) * 1e-9;
            const double bw = (double)adm_membw_size(rd) / median(trd, reps_mv) * 1e-9;
            printf(" %.1f | %.1f | %.0f%% |", gbs, bw, 100.0 * gbs / bw);
            fflush(stdout);
        }
        adm_free(wd);

        /* Prompt: n_tok = 512 on the FFN shapes (n_in rounded up to the
         * block size: K-quants cannot hold 896-wide rows). */
        for (int shape = 0; shape < 2; shape++) {
            const int64_t bsz = tr->block_size;
            int64_t n_in = shape == 0 ? 896 : 4864, n_out = shape == 0 ? 4864 : 896;
            n_in = (n_in + bsz - 1) / bsz * bsz;
            uint8_t *wp = make_matrix(t, n_in, n_out, &r);
            if (!wp) return 1;
            const adm_weight wpp = {t, n_in, n_out, adm_row_size(t, n_in), wp, NULL};
            for (int i = 0; i < n_threads; i++) {
                const double s = time_matmul(pools[i], k, &wpp, x, 512, out, scratch, reps_pp);
                const bool rounded = n_in != (shape ? 4864 : 896);
                printf(" %.1f%s |", 2.0 * (double)n_in * (double)n_out * 512.0 / s * 1e-9, rounded ? "*" : "");
                fflush(stdout);
            }
            adm_free(wp);
        }
        printf("\n");
        free(x);
        adm_free(out);
        adm_free(scratch);
    }
    printf("\ntg: n_tok = 1, n_in = %lld, >= 256 MiB of weights, GB/s = weight bytes / time (median); read = "
           "plain sum over a 256 MiB buffer, run alternately with the matvec (median); %% = tg / read.\n"
           "pp: n_tok = 512, GFLOP/s = 2 n_in n_out n_tok / time; * = n_in rounded up to 1024 (K-quant rows are "
           "multiples of 256).\n",
           (long long)n_in_mv);
    for (int i = 0; i < n_threads; i++) adm_pool_free(pools[i]);
    adm_membw_free(rd);
    return 0;
}
