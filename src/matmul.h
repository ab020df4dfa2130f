/*
 * matmul.h - weight matrix x activations, multithreaded.
 *
 * A weight is a GGUF tensor of shape [n_in, n_out] (ne0 = n_in contiguous):
 * n_out rows of n_in values in any supported type. Activations are n_tok
 * rows of n_in floats. The product Y[t][o] = sum_i W[o][i] * X[t][i] is
 * computed by quantizing each X row once to the weight's dot type (as ggml
 * does) and then running the ISA's tile kernel over a split of the output
 * rows, so every output value comes from one kernel call and results do not
 * depend on the thread count.
 */
#ifndef ADM_MATMUL_H
#define ADM_MATMUL_H

#include "kernels/kernels.h"
#include "threadpool.h"

typedef struct adm_weight {
    adm_type type;
    int64_t n_in;       /* ne0: values per row */
    int64_t n_out;      /* ne1: rows */
    size_t row_size;    /* bytes per row */
    const uint8_t *data;
    /* The same rows packed in groups of 16 for the kernels' gemm_pack16
     * (kernels.h; block-order engines pack Q8_0 weights, packed.c), or
     * NULL. Used where the table has gemm_pack16 and is in block order. */
    const uint8_t *pack16;
} adm_weight;

/* One product of a batch: out[t * ldo + o] for t < n_tok, o < w->n_out.
 * With n_tok 0 the job takes every row of the call's X; else rows x0 to
 * x0 + n_tok - 1 only (the chosen experts of a mixture each take their
 * own tokens' rows, and all of them run in one parallel pass). */
typedef struct adm_matmul_job {
    const adm_weight *w;
    float *out;
    size_t ldo;
    int x0, n_tok;
} adm_matmul_job;

/* Bytes of scratch needed to hold n_tok activation rows of n_in values in
 * any dot type (the largest over all types). */
size_t adm_matmul_scratch_size(int64_t n_in, int n_tok);

/* Computes several products over the same input X of n_tok rows (e.g. Q,
 * K and V, or gate and up, or the experts of a mixture on their rows) in
 * one parallel pass. All weights must have n_in == the row length of X and
 * the same dot type. `scratch` holds adm_matmul_scratch_size(n_in, n_tok)
 * bytes. Each output value is the same whichever call computes it. */
void adm_matmul_multi(adm_pool *pool, const adm_kernels *k, const adm_matmul_job *jobs, int n_jobs, const float *x,
                      int n_tok, void *scratch);

/* Single product convenience wrapper. */
void adm_matmul(adm_pool *pool, const adm_kernels *k, const adm_weight *w, const float *x, int n_tok, float *out,
                size_t ldo, void *scratch);

#endif
