/*
 * kernels.h - the table of hot numeric kernels, one implementation per ISA.
 *
 * scalar.c is portable C, always built, and is the reference every SIMD
 * version is tested against. avx2.c and avx512.c are the only translation
 * units compiled with ISA flags; dispatch.c picks the best table the CPU
 * supports once (ADM_ISA=scalar|avx2|avx512 lowers the choice).
 *
 * Kernels are pure functions over the ranges they are given: no allocation,
 * no threads, no global state. Threading happens one level up (matmul.c).
 */
#ifndef ADM_KERNELS_H
#define ADM_KERNELS_H

#include "../quant.h"

/* s = dot(x, y) over n values: x is one weight row of type T, y one
 * activation row already converted to T's dot type. Float and block-32
 * types have one canonical order on every ISA (scalar.c defines it; it is
 * the order of llama.cpp's batched products): F32/F16 in 16 lanes (lane l
 * takes values l, l+16, ...), BF16 in 16 lanes of value pairs as vdpbf16ps
 * adds them, reduced by adm_reduce16; Q4_0..Q8_0 in 8 lanes of 4-value
 * integer sums times dx*dy, block after block, reduced by adm_reduce8. The
 * K-quants keep each ISA's own order (results agree to float rounding). */
typedef void (*adm_vec_dot_fn)(int n, float *s, const void *x, const void *y);

/* A tile of products: for r < nr, c < nc,
 *   s[c * lds + r] = dot(w + r * w_stride, a + c * a_stride)
 * nr and nc are at most ADM_TILE_MAX. Lets a kernel reuse loaded weights
 * across activation columns (prompt processing) and vice versa. */
#define ADM_TILE_MAX 8
typedef void (*adm_gemm_fn)(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                            float *s, size_t lds);

/* Batches of 2+ columns of block-32 weights (AVX-512: Q8_0): prep turns one quantized
 * activation row (the weight type's dot type) into at most
 * adm_prep_size(n) bytes, once per product; gemm_prep then computes
 *   s[c * lds + r] = dot(w + r * w_stride, column c at p + c * p_stride)
 * for any nr and nc <= ADM_TILE_MAX, with the same sums in the same order
 * as gemm (bit-identical results), without unpacking the activations again
 * for every row tile. NULL where an ISA has none. */
typedef void (*adm_prep_fn)(int n, const void *a, void *p);
typedef void (*adm_gemm_prep_fn)(int n, int nr, int nc, const void *w, size_t w_stride, const void *p, size_t p_stride,
                                 float *s, size_t lds);
/* Tiles of several columns go 8, 4, 2 or 1 columns wide (each width is
 * compiled once per type; more widths made clang with the sanitizers take
 * minutes per file): the width for `left` columns still to do. */
static inline int adm_col_group(int left) { return left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1; }

static inline size_t adm_prep_size(int64_t n) { return ((size_t)(n / 32) * 136 + 63) & ~(size_t)63; }

/* Block-sum order (engines not in llama.cpp's order, adm_engine_params):
 * s[c * lds + r] = sum over blocks i ascending of fmaf((float)(exact
 * integer sum of block i's 32 products), dw_i * dx_i, acc), one
 * accumulator per output, no lanes. Not llama.cpp's order (gemm's eight
 * lanes per output), so results differ from gemm's in the last bits, but
 * they are the same on every table that has the entries (scalar.c
 * defines them) and do not depend on nr, nc or the batch. It lets
 * AVX-512 hold 16 rows in the lanes of one register and spend one
 * conversion and one multiply-add per block of 16 rows instead of per row.
 * prep_bsum writes at most adm_prep_size(n) bytes per column; gemm_bsum
 * takes any nr and nc <= ADM_TILE_MAX. NULL where a table has none.
 * A prepared column of nb = n / 32 blocks holds nb x 32 codes, then nb
 * int32 corrections (-128 x the block's code sum, for kernels that make
 * the weights unsigned), then nb float scales, at these offsets: */
static inline size_t adm_bsum_corr_off(int nb) { return (size_t)nb * 32; }
static inline size_t adm_bsum_scale_off(int nb) { return (size_t)nb * 36; }

/* Q8_0 weights packed for the block-sum order (packed.c packs them once
 * per block-order engine): groups of 16 rows (rows past the matrix repeat
 * its last row). A group of nb = n / 32 blocks holds nb x 512 bytes of
 * codes, block after block: eight 64-byte vectors whose lane r holds row
 * r's codes 4j..4j+3 (vector j) plus 128, as unsigned bytes; then the nb x
 * 16 scales as in the file (f16, row r at index r); then padding to 64
 * bytes. As many bytes as the rows in the file, in the layout gemm_bsum
 * builds in registers for every call (a transpose, a gather, a sign
 * flip); gemm_pack16 reads it as it is and gives the same sums in the
 * same order, bit for bit:
 *   s[c * lds + r] = gemm_bsum's value for row r < nr of the group at pk
 * and the column prepared by prep_bsum at p + c * p_stride, nc <= ADM_TILE_MAX;
 * pk is 64-byte aligned. */
static inline size_t adm_pack16_group_bytes(int64_t n) { return ((size_t)(n / 32) * 544 + 63) & ~(size_t)63; }
static inline size_t adm_pack16_scales_off(int64_t n) { return (size_t)(n / 32) * 512; }
typedef void (*adm_gemm_pack16_fn)(int n, int nr, int nc, const void *pk, const void *p, size_t p_stride, float *s,
                                   size_t lds);
/* Packs rows r0 .. r0 + 15 of n values (nr <= 16 of them exist; w is row
 * r0, rows w_stride bytes apart) into one group of adm_pack16_group_bytes(n). */
void adm_pack16_q8_0(int n, int nr, const void *w, size_t w_stride, void *out);
/* A whole matrix of n_rows rows: its adm_pack16_bytes groups, in order. */
static inline size_t adm_pack16_bytes(int64_t n, int64_t n_rows) {
    return (size_t)((n_rows + 15) / 16) * adm_pack16_group_bytes(n);
}
void adm_pack16_rows(int n, int64_t n_rows, const void *w, size_t w_stride, void *out);

/* Converts n f32 values into a row of some type. */
typedef void (*adm_from_float_fn)(const float *x, void *y, int64_t n);
typedef void (*adm_to_float_fn)(const void *x, float *y, int64_t n);

typedef struct adm_kernels {
    const char *name;                           /* "scalar", "avx2", "avx512" */
    adm_vec_dot_fn vec_dot[ADM_TYPE_COUNT];     /* by weight type */
    adm_gemm_fn gemm[ADM_TYPE_COUNT];           /* by weight type */
    int gemm_nr, gemm_nc;                       /* preferred tile shape */
    adm_prep_fn prep[ADM_TYPE_COUNT];           /* by weight type (optional) */
    adm_gemm_prep_fn gemm_prep[ADM_TYPE_COUNT]; /* by weight type (optional) */
    adm_prep_fn prep_bsum[ADM_TYPE_COUNT];      /* block-sum order (optional, Q8_0) */
    adm_gemm_prep_fn gemm_bsum[ADM_TYPE_COUNT];
    adm_gemm_pack16_fn gemm_pack16[ADM_TYPE_COUNT]; /* block-sum order over packed weights (optional, Q8_0) */
    bool block_sums;                            /* set by adm_kernels_with_block_sums: prep and gemm_prep
                                                   are the block-sum entries, for every column count */
    adm_from_float_fn from_float[ADM_TYPE_COUNT]; /* by target (dot) type: f16, bf16, q8_0, q8_1, q8_K */
    adm_to_float_fn to_float[ADM_TYPE_COUNT];   /* by source type */

    /* Float helpers used by the forward pass and attention. */
    float (*dot_f32)(int n, const float *x, const float *y);
    float (*dot_f16_f32)(int n, const adm_f16 *x, const float *y); /* f16 x f32 */
    void (*axpy_f32)(int n, float a, const float *x, float *y);    /* y += a * x */
    void (*axpy_f16)(int n, float a, const adm_f16 *x, float *y);  /* y += a * (float)x */
    void (*scale_f32)(int n, float a, float *y);                   /* y *= a */
    /* The first i in [i0, n) with x[i] > t (NaN never is), or n: the
     * sampler's scan for logits above the worst of its best k so far. */
    int (*next_above)(const float *x, int i0, int n, float t);

    /* Attention over an f16 KV cache (attention/dense.c, attention/adamas.c).
     * Row j is base + idx[j] * stride (idx NULL: base + j * stride; stride in
     * elements). G query heads share the rows; q is (G, hk), s is (G, ld).
     *   attn_qk: s[g*ld + j] = scale * dot(k_j, q_g), j < n
     *   attn_pv: out[g*hv + i] += sum over j ascending of p[g*ld + j] * v_j[i]
     * Canonical order, identical on every ISA: a dot product keeps 16
     * interleaved partial sums (lane l takes elements l, l+16, ...; fused
     * multiply-add), reduced as ((l, l+8), then +4, +2, +1); head sizes that
     * are not a multiple of 16 sum sequentially. attn_pv is one fused
     * multiply-add per term, in order. */
    void (*attn_qk_f16)(const adm_f16 *base, size_t stride, const int32_t *idx, int n, int hk, const float *q, int G,
                        float scale, float *s, int ld);
    void (*attn_pv_f16)(const adm_f16 *base, size_t stride, const int32_t *idx, int n, int hv, const float *p, int G,
                        int ld, float *out);

    /* Softmax of s[0..n) in place. Canonical, identical on every ISA:
     * e = exp(s - max) with the canonical exponential (canonical.h),
     * summed in 16 interleaved lanes reduced as above, then scaled by 1/sum. */
    void (*softmax)(float *s, int n);

    /* One key tile of prompt (multi-token) attention for G query heads (q is
     * (G, hk), M and S have G entries, acc is (G, hv)), each in
     * the order of llama.cpp's tiled flash attention: kt holds the tile's
     * keys transposed (kt[d * ADM_ATTN_TILE + j], j < m <= ADM_ATTN_TILE),
     * vt its values (vt[j * hv + i]). Scores s_j = (sum over d ascending
     * of k_j[d] q[d] in fused multiply-adds) * scale; with the tile's max
     * raising the running max *M, acc and *S are first scaled by
     * expf(old - new); e_j = exp(s_j - *M) (canonical exponential), *S
     * += the sum of e in double over 16-lane sums of each 16 of the 64
     * slots (empty slots are 0); acc[i] += e_j v_j[i] for j ascending,
     * one fused multiply-add each. The caller divides acc by *S at the end.
     * Slots j < m0 are empty too (a sliding window starting inside the
     * tile), so the tile keeps llama.cpp's alignment. softcap > 0 (gemma2)
     * makes each score tanhf(s_j) * softcap, as llama.cpp's soft-capping
     * (the caller divides scale by softcap). */
    void (*attn_tile)(const float *kt, const float *vt, int m0, int m, int hk, int hv, const float *q, int G,
                      float scale, float softcap, float *M, float *S, float *acc);
    /* out[i] = g[i] / (1 + exp(-g[i])) * u[i] (SiLU gate, canonical exp). */
    void (*swiglu)(int n, const float *g, const float *u, float *out);

    /* Adamas sparse attention (attention/adamas.c). */
    /* Orthonormal Walsh-Hadamard transform in place; n is a power of two. */
    void (*fwht)(float *x, int n);
    /* 2-bit codes of n values: c_i = [x_i > lo_i] + [x_i > mid_i] + [x_i > hi_i],
     * with per-value thresholds th[3*i .. 3*i+2] = lo, mid, hi. */
    void (*bucketize)(const float *x, const float *th, uint8_t *codes, int n);
    /* Exact L1 distances between one query's codes and n_tok cached key
     * codes stored in ADM_CODE_BLOCK-token blocks (see adamas.h for the
     * layout): dist[t] = sum_j lut[16*j + nibble_j(t)] over code_dim/2
     * nibble positions. lut entries are u8; distances are u16. */
    void (*code_l1)(const uint8_t *codes, int n_tok, int code_dim, const uint8_t *lut, uint16_t *dist);
    /* code_l1 for the G query heads of one KV head at once, reading the
     * codes once: head g's tables at lut + g * lut_stride, its distances at
     * dist + g * dist_stride (same results as G code_l1 calls). NULL in the
     * scalar table: the caller then loops over code_l1. */
    void (*code_l1_multi)(const uint8_t *codes, int n_tok, int code_dim, const uint8_t *lut, size_t lut_stride, int G,
                          uint16_t *dist, size_t dist_stride);
    /* The pre-filter of the Adamas selection (adm_select_smallest_fast):
     * writes the positions t < n with d[t] <= cut to out, ascending, and
     * returns how many; returns -1 as soon as there are more than cap (out
     * then holds at most cap unspecified values). NULL in the scalar table:
     * the caller then runs the same plain loop itself. */
    int (*filter_le_u16)(const uint16_t *d, int n, int cut, int32_t *out, int cap);
} adm_kernels;

/* Keys per tile of prompt attention (attn_tile). */
#define ADM_ATTN_TILE 64

/* Tokens per block of the Adamas code index (the fast-scan layout). */
#define ADM_CODE_BLOCK 32

/* The table for this CPU (chosen once; honours ADM_ISA). Never NULL. */
const adm_kernels *adm_kernels_get(void);

/* Each ISA's table, or NULL if not compiled in or not supported by this CPU. */
const adm_kernels *adm_kernels_scalar(void);
const adm_kernels *adm_kernels_avx2(void);
const adm_kernels *adm_kernels_avx512(void);

/* A copy of k whose prepared-column entries (prep, gemm_prep) are its
 * block-sum ones where it has them: the table of an engine in the block
 * order, whose products then take the prepared columns for every column
 * count (matmul.c), so that a result does not depend on the batch. Through
 * it gemm_prep is no longer bit-identical to gemm (block-sum order above). */
void adm_kernels_with_block_sums(const adm_kernels *k, adm_kernels *out);

/* Fills the scalar entries into t (SIMD tables start from the scalar table
 * and override what they implement). */
void adm_kernels_fill_scalar(adm_kernels *t);

/* Per-ISA initializers (defined only when that ISA's file is compiled in):
 * fill t with the scalar table, then override what the ISA implements. */
void adm_kernels_init_avx2(adm_kernels *t);
void adm_kernels_init_avx512(adm_kernels *t);
/* Attention and Adamas kernels (attn_avx2.c, attn_avx512.c): override the
 * attention entries of a table already filled by the ISA's initializer. */
void adm_kernels_init_attn_avx2(adm_kernels *t);
void adm_kernels_init_attn_avx512(adm_kernels *t);

/* Generic tile built from a vec_dot (used when an ISA has no tile kernel). */
void adm_gemm_from_vec_dot(adm_vec_dot_fn dot, int n, int nr, int nc, const void *w, size_t w_stride, const void *a,
                           size_t a_stride, float *s, size_t lds);

#endif
