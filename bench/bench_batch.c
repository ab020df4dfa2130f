/*
 * bench_batch.c - products of a few columns (one decode step of B
 * sequences) in both summation orders: llama.cpp's (the kernel table as
 * is) and the block order (adm_kernels_with_block_sums), through
 * adm_matmul as the forward pass calls it.
 *
 * For each weight type, row length and column count B: a matrix of >= 256
 * MiB (read from DRAM, as a decode step reads a model's weights) and one
 * of 1 MiB or 512 rows (in cache: the kernel's compute rate), timed in turn, the two
 * orders alternating so that a slow phase of the machine falls on both.
 * A third column runs the block order over the rows packed as a block-order
 * engine packs them (packed.c; same bits, no transpose in registers).
 * Reported: nanoseconds per row-column-block of 32 values, times the
 * thread count (the cost of one product on one core), and GB/s of weights.
 *
 * usage: bench_batch [--types q8_0,q4_k,q6_k] [--cols 1,2,4,8,16] [--n-in 896,4864]
 *                    [--threads 2] [--reps 9]
 * ADM_ISA=scalar|avx2 selects a lower kernel table (no block order on AVX2).
 */
#include "kernels/kernels.h"
#include "matmul.h"
#include "quant.h"
#include "threadpool.h"
#include "bench_util.h"

#include <stdio.h>
#include <string.h>

#define MAX_LIST 16

int main(int argc, char **argv) {
    adm_type types[MAX_LIST] = {ADM_TYPE_Q8_0};
    int n_types = 1, cols[MAX_LIST] = {1, 2, 4, 8, 16}, n_cols = 5, n_ins[MAX_LIST] = {896, 4864}, n_n = 2;
    int threads = 2, reps = 9;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(a, "--types")) {
            char buf[256];
            snprintf(buf, sizeof(buf), "%s", v);
            n_types = 0;
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n_types < MAX_LIST; t = strtok_r(NULL, ",", &save))
                if (!adm_type_from_name(t, &types[n_types++])) {
                    fprintf(stderr, "unknown type '%s'\n", t);
                    return 2;
                }
        } else if (!strcmp(a, "--cols")) n_cols = bench_parse_list(v, cols, MAX_LIST);
        else if (!strcmp(a, "--n-in")) n_n = bench_parse_list(v, n_ins, MAX_LIST);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else goto usage;
    }
    if (threads < 1 || reps < 1 || reps > 64 || n_cols < 1 || n_n < 1) goto usage;

    const adm_kernels *k = adm_kernels_get();
    adm_kernels kb;
    adm_kernels_with_block_sums(k, &kb);
    adm_pool *pool = NULL;
    if (adm_pool_create(threads, &pool, NULL) != ADM_OK) return 1;
    rng r = {4242};
    int max_cols = 1, max_n = 32;
    for (int i = 0; i < n_cols; i++) max_cols = cols[i] > max_cols ? cols[i] : max_cols;
    for (int i = 0; i < n_n; i++) max_n = n_ins[i] > max_n ? n_ins[i] : max_n;
    float *x = malloc((size_t)max_cols * (size_t)max_n * sizeof(float));
    void *scratch = adm_alloc(adm_matmul_scratch_size(max_n, max_cols));
    if (!x || !scratch) return 1;
    for (size_t i = 0; i < (size_t)max_cols * (size_t)max_n; i++) x[i] = rng_normal(&r);

    printf("# bench_batch: kernels %s, %d threads; ns per row-column-block of 32 values x threads "
           "(GB/s of weights)\n\n",
           k->name, threads);
    printf("| type | n_in | B | DRAM llama order | DRAM block order | DRAM packed | cache llama order | cache block order "
           "| cache packed |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int ti = 0; ti < n_types; ti++) {
        const adm_type t = types[ti];
        for (int ni = 0; ni < n_n; ni++) {
            const int64_t bs = adm_type_get_traits(t)->block_size;
            const int64_t n_in = (n_ins[ni] + bs - 1) / bs * bs;
            const size_t rs = adm_row_size(t, n_in);
            const size_t sizes[2] = {(size_t)256 << 20, (size_t)1 << 20};
            uint8_t *w[2], *pk[2] = {NULL, NULL};
            int64_t rows[2];
            for (int m = 0; m < 2; m++) {
                /* at least 512 rows: fewer leave the threads too little work to share */
                rows[m] = (int64_t)((sizes[m] + rs - 1) / rs + 15) / 16 * 16;
                if (rows[m] < 512) rows[m] = 512;
                if (!(w[m] = make_matrix(t, n_in, rows[m], &r))) return 1;
                /* The rows packed as a block-order engine packs them (packed.c). */
                if (kb.gemm_pack16[t]) {
                    if (!(pk[m] = adm_map_zeroed(adm_pack16_bytes(n_in, rows[m])))) return 1;
                    adm_pack16_rows((int)n_in, rows[m], w[m], rs, pk[m]);
                }
            }
            float *out = adm_alloc((size_t)rows[0] * (size_t)max_cols * sizeof(float));
            if (!out) return 1;
            for (int ci = 0; ci < n_cols; ci++) {
                const int B = cols[ci];
                if (B < 1 || B > max_cols) continue;
                double best[2][3]; /* [matrix][order: llama, block, packed] median seconds */
                for (int m = 0; m < 2; m++) {
                    const adm_weight wt = {t, n_in, rows[m], rs, w[m], NULL};
                    const adm_weight wp = {t, n_in, rows[m], rs, w[m], pk[m]};
                    const adm_weight *ws[3] = {&wt, &wt, &wp};
                    double tm[3][64];
                    for (int o = 0; o < 3; o++) adm_matmul(pool, o ? &kb : k, ws[o], x, B, out, (size_t)rows[m], scratch);
                    for (int rep = 0; rep < reps; rep++)
                        for (int o = 0; o < 3; o++) {
                            const double t0 = adm_time_s();
                            adm_matmul(pool, o ? &kb : k, ws[o], x, B, out, (size_t)rows[m], scratch);
                            tm[o][rep] = adm_time_s() - t0;
                        }
                    for (int o = 0; o < 3; o++) best[m][o] = median(tm[o], reps);
                }
                printf("| %s | %lld | %d |", adm_type_name(t), (long long)n_in, B);
                for (int m = 0; m < 2; m++)
                    for (int o = 0; o < 3; o++) {
                        const double blocks = (double)rows[m] * (double)(n_in / 32) * B;
                        printf(" %.3f (%.1f) |", best[m][o] * 1e9 * threads / blocks,
                               (double)rs * (double)rows[m] / best[m][o] * 1e-9);
                    }
                printf("\n");
                fflush(stdout);
            }
            adm_free(out);
            for (int m = 0; m < 2; m++) {
                adm_free(w[m]);
                if (pk[m]) adm_unmap(pk[m], adm_pack16_bytes(n_in, rows[m]));
            }
        }
    }
    printf("\nThe block order applies to Q8_0 where the table has its kernels (AVX-512 VNNI, scalar); for other\n"
           "types and tables the three columns run the same kernels. Packed: the block order over weights packed\n"
           "in 16-row groups as a block-order engine packs them (kernels.h, gemm_pack16), used for 2+ columns.\n");
    adm_free(scratch);
    free(x);
    adm_pool_free(pool);
    return 0;
usage:
    fprintf(stderr, "usage: %s [--types q8_0,q4_k] [--cols 1,2,4,8,16] [--n-in 896,4864] [--threads 2] [--reps 9]\n",
            argv[0]);
    return 2;
}
