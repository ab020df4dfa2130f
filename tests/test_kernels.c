/*
 * test_kernels.c - the numeric kernels against simpler oracles.
 *
 *  1. scalar vec_dot vs a double-precision dot of the dequantized operands;
 *  2. every SIMD table (avx2, avx512 when the CPU has them) vs scalar:
 *     vec_dot, gemm tiles of every shape up to ADM_TILE_MAX, activation
 *     quantizers (byte-identical), conversions and float helpers;
 *  3. adm_matmul_multi on 1, 2, 3 threads vs a naive double reference,
 *     bit-identical run to run and across thread counts;
 *  4. f16/bf16 conversions vs an independent exact reference;
 *  5. the reference weight quantizers: quantize, dequantize, bounded error.
 *
 * Tolerances are relative to M = sum |a_i| |y_i| + |b_i| |y_i|, where the
 * weight value is a_i - b_i (scaled code minus offset), i.e. the size of
 * the intermediate sums a kernel adds up, not of the (possibly cancelling)
 * result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "matmul.h"
#include "quant.h"
#include "threadpool.h"

/* ---- random numbers (splitmix64; one state per test, no globals) ---- */

typedef struct { uint64_t s; } rng;

static uint64_t rng_u64(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rng_u32(rng *r) { return (uint32_t)(rng_u64(r) >> 32); }

/* Uniform in [0, 1). */
static double rng_unit(rng *r) { return (double)(rng_u64(r) >> 11) * 0x1p-53; }

static float rng_normal(rng *r) {
    double u = rng_unit(r), v = rng_unit(r);
    if (u < 1e-300) u = 1e-300;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Data shapes a model can throw at a kernel. */
enum { D_NORMAL, D_TINY, D_HUGE, D_MIXED, D_COUNT };

/* n values: gaussian at a scale per mode; D_MIXED varies the scale per
 * 32 values over 8 orders of magnitude (staying inside f16's range),
 * zeroes some blocks and plants outliers. */
static void fill(rng *r, float *x, int64_t n, int mode) {
    float scale = mode == D_TINY ? 1e-6f : mode == D_HUGE ? 3e3f : 1.0f;
    for (int64_t i = 0; i < n; i++) {
        if (mode == D_MIXED && i % 32 == 0) {
            const uint32_t k = rng_u32(r) % 8;
            scale = k == 0 ? 0.0f : (float)pow(10.0, -6.0 + 8.0 * rng_unit(r));
        }
        x[i] = rng_normal(r) * scale;
        if (mode == D_MIXED && rng_u32(r) % 97 == 0) x[i] *= 50.0f;
    }
}

/* ---- per-type facts ---- */

static const adm_type k_weight_types[] = {ADM_TYPE_F32,  ADM_TYPE_F16,  ADM_TYPE_BF16, ADM_TYPE_Q4_0, ADM_TYPE_Q4_1,
                                          ADM_TYPE_Q5_0, ADM_TYPE_Q5_1, ADM_TYPE_Q8_0, ADM_TYPE_Q2_K, ADM_TYPE_Q3_K,
                                          ADM_TYPE_Q4_K, ADM_TYPE_Q5_K, ADM_TYPE_Q6_K};
#define N_WEIGHT_TYPES ((int)(sizeof(k_weight_types) / sizeof(k_weight_types[0])))

static int block_of(adm_type t) { return adm_type_get_traits(t)->block_size; }
static adm_type dot_of(adm_type t) { return adm_type_get_traits(t)->dot_type; }
static bool is_float_type(adm_type t) { return !adm_type_get_traits(t)->is_quantized; }

/* Offsets of the f16 scale fields of a block: [0] = the scale of the
 * codes, [1] = the scale of the offset (min) or -1. */
static void scale_fields(adm_type t, int off[2]) {
    off[0] = 0;
    off[1] = -1;
    switch (t) {
    case ADM_TYPE_Q4_1:
    case ADM_TYPE_Q5_1:
    case ADM_TYPE_Q4_K:
    case ADM_TYPE_Q5_K: off[1] = 2; break;
    case ADM_TYPE_Q2_K: off[0] = 80, off[1] = 82; break;
    case ADM_TYPE_Q3_K: off[0] = 108; break;
    case ADM_TYPE_Q6_K: off[0] = 208; break;
    default: break;
    }
}

static void *xalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* rows x n weights of type t: either quantized from random floats with
 * the reference quantizer, or random bytes with finite random f16 scales
 * (exercises every code, e.g. -128 in Q8_0 and all 6-bit scales). */
static uint8_t *make_weights(rng *r, adm_type t, int rows, int n, int mode, bool random_bytes) {
    const size_t rs = adm_row_size(t, n);
    uint8_t *w = xalloc(rs * (size_t)rows);
    if (!random_bytes || is_float_type(t)) {
        float *x = xalloc((size_t)n * sizeof(float));
        for (int i = 0; i < rows; i++) {
            fill(r, x, n, mode);
            adm_quantize_row(t, x, w + (size_t)i * rs, n);
        }
        free(x);
        return w;
    }
    for (size_t i = 0; i < rs * (size_t)rows; i++) w[i] = (uint8_t)rng_u32(r);
    const size_t bs = adm_type_get_traits(t)->type_size;
    int off[2];
    scale_fields(t, off);
    for (size_t b = 0; b < rs * (size_t)rows / bs; b++) {
        for (int k = 0; k < 2; k++) {
            if (off[k] < 0) continue;
            const float sign = rng_u32(r) & 1 ? -1.0f : 1.0f;
            const float v = ldexpf((float)rng_unit(r) + 0.5f, (int)(rng_u32(r) % 14) - 10) * sign;
            const adm_f16 h = adm_f32_to_f16(v);
            memcpy(w + b * bs + (size_t)off[k], &h, 2);
        }
    }
    return w;
}

/* Splits one weight row into its code part a and offset part b (value =
 * a - b) by dequantizing copies with the other scale zeroed. */
static void weight_parts(adm_type t, const uint8_t *row, int n, float *a, float *b) {
    int off[2];
    scale_fields(t, off);
    if (is_float_type(t) || off[1] < 0) {
        adm_dequantize_row(t, row, a, n);
        memset(b, 0, (size_t)n * sizeof(float));
        return;
    }
    const size_t rs = adm_row_size(t, n), bs = adm_type_get_traits(t)->type_size;
    uint8_t *tmp = xalloc(rs);
    memcpy(tmp, row, rs);
    for (size_t k = 0; k < rs / bs; k++) memset(tmp + k * bs + off[1], 0, 2);
    adm_dequantize_row(t, tmp, a, n);
    memcpy(tmp, row, rs);
    for (size_t k = 0; k < rs / bs; k++) memset(tmp + k * bs + off[0], 0, 2);
    adm_dequantize_row(t, tmp, b, n);
    for (int i = 0; i < n; i++) b[i] = -b[i];
    free(tmp);
}

/* The exact product in double, and its magnitude M (see the header). For
 * Q8_1 activations the offset term uses the block's stored s = d * sum(q)
 * (rounded to f16), exactly as the format defines the product. */
static void ref_dot(adm_type t, const uint8_t *wrow, const uint8_t *arow, int n, double *dot, double *mag) {
    float *a = xalloc((size_t)n * sizeof(float)), *b = xalloc((size_t)n * sizeof(float));
    float *y = xalloc((size_t)n * sizeof(float));
    weight_parts(t, wrow, n, a, b);
    adm_dequantize_row(dot_of(t), arow, y, n);
    double s = 0.0, m = 0.0;
    if (dot_of(t) == ADM_TYPE_Q8_1) {
        /* sum_i (a_i - b_i) y_i with sum_i b_i y_i replaced by m * s. */
        const block_q8_1 *yb = (const block_q8_1 *)arow;
        for (int i = 0; i < n; i++) {
            s += (double)a[i] * (double)y[i];
            m += fabs((double)a[i] * (double)y[i]);
        }
        for (int k = 0; k < n / 32; k++) {
            const double mk = -(double)b[32 * k], sk = (double)adm_f16_to_f32(yb[k].s);
            s += mk * sk;
            m += fabs(mk * sk);
        }
    } else {
        for (int i = 0; i < n; i++) {
            s += ((double)a[i] - (double)b[i]) * (double)y[i];
            m += (fabs((double)a[i]) + fabs((double)b[i])) * fabs((double)y[i]);
        }
    }
    *dot = s;
    *mag = m;
    free(a);
    free(b);
    free(y);
}

/* Allowed |got - want| for a sum of n_terms float additions. */
static double tolerance(double mag, int n_terms) { return mag * 1e-6 * (8.0 + sqrt((double)n_terms)) + 1e-30; }

static void check_close(double got, double want, double mag, int n_terms, const char *what, adm_type t, int n) {
    const double err = fabs(got - want), tol = tolerance(mag, n_terms);
    if (!(err <= tol)) {
        print_error("%s %s n=%d: got %.9g want %.9g (err %.3g > tol %.3g, magnitude %.3g)\n", what, adm_type_name(t), n,
                    got, want, err, tol, mag);
        fail();
    }
}

/* The SIMD tables compiled in and supported by this CPU. */
static int simd_tables(const adm_kernels *out[2]) {
    int n = 0;
    if (adm_kernels_avx2()) out[n++] = adm_kernels_avx2();
    if (adm_kernels_avx512()) out[n++] = adm_kernels_avx512();
    return n;
}

static const int k_sizes[] = {1, 31, 32, 33, 255, 256, 257}; /* in blocks */

/* Values per "block" for sizing: float types use 32 so their vectors are
 * as long as the block types'. */
static int size_unit(adm_type t) { return block_of(t) == 1 ? 32 : block_of(t); }

/* ---- 1 and 2: vec_dot ---- */

static bool canonical_order(adm_type t) { return is_float_type(t) || block_of(t) == 32; }

static void test_vec_dot(void **state) {
    (void)state;
    rng r = {1};
    const adm_kernels *sc = adm_kernels_scalar(), *simd[2];
    const int n_simd = simd_tables(simd);
    for (int ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        const adm_type t = k_weight_types[ti], dt = dot_of(t);
        for (size_t si = 0; si < sizeof(k_sizes) / sizeof(k_sizes[0]); si++) {
            /* Float types also get lengths that are not multiples of 8. */
            const int n = size_unit(t) * k_sizes[si] + (is_float_type(t) ? (int)si : 0);
            const int n_terms = is_float_type(t) ? n : n / block_of(t);
            float *x = xalloc((size_t)n * sizeof(float));
            uint8_t *act = xalloc(adm_row_size(dt, n));
            for (int mode = 0; mode < D_COUNT; mode++) {
                for (int rb = 0; rb < 2; rb++) {
                    uint8_t *w = make_weights(&r, t, 1, n, mode, rb == 1);
                    fill(&r, x, n, (mode + rb) % D_COUNT);
                    sc->from_float[dt](x, act, n);
                    double want, mag;
                    ref_dot(t, w, act, n, &want, &mag);
                    float got;
                    sc->vec_dot[t](n, &got, w, act);
                    check_close((double)got, want, mag, n_terms, "scalar vec_dot", t, n);
                    for (int k = 0; k < n_simd; k++) {
                        float g2;
                        simd[k]->vec_dot[t](n, &g2, w, act);
                        check_close((double)g2, (double)got, mag, n_terms, simd[k]->name, t, n);
                        /* Float and block-32 types have one summation order on every ISA. */
                        if (canonical_order(t) && memcmp(&g2, &got, 4))
                            fail_msg("%s vec_dot %s n=%d: %.9g, scalar %.9g (must be bit-identical)", simd[k]->name,
                                     adm_type_name(t), n, (double)g2, (double)got);
                    }
                    free(w);
                }
            }
            free(x);
            free(act);
        }
    }
}

/* ---- 2: gemm tiles of every shape; shape-independent results ---- */

/* A tile written into out (cols x lds, prefilled with -12345): outputs
 * outside its nr x nc untouched, each one inside the bits of
 * want[(c0 + c) * want_ld + r0 + r] (what: the kernel, and what want is). */
static void check_tile_bits(const float *out, int cols, int lds, int nr, int nc, const float *want, int want_ld, int r0,
                            int c0, const char *table, const char *what, adm_type t, int n) {
    for (int c = 0; c < cols; c++)
        for (int rr = 0; rr < lds; rr++) {
            const float v = out[c * lds + rr];
            if (c >= nc || rr >= nr) {
                assert_true(v == -12345.0f); /* wrote outside its tile */
                continue;
            }
            const float e = want[(size_t)(c0 + c) * (size_t)want_ld + (size_t)(r0 + rr)];
            if (memcmp(&v, &e, 4) != 0) {
                print_error("%s %s %s n=%d %dx%d: output (%d,%d) = %.9g, expected %.9g\n", table, what,
                            adm_type_name(t), n, nr, nc, rr, c, (double)v, (double)e);
                fail();
            }
        }
}

/* One nr x nc call of a prepared-column product (gemm_prep, gemm_bsum)
 * at rows r0 and columns c0 that move with the shape, so that tiles meet
 * different rows and columns, into a sentinel-filled cols x lds buffer:
 * check_tile_bits against want (rows x cols of expected outputs). */
static void check_prep_tile(adm_gemm_prep_fn gemm, int n, int nr, int nc, const uint8_t *w, size_t ws,
                            const uint8_t *prep, size_t ps, int rows, int cols, int lds, const float *want,
                            const char *table, const char *what, adm_type t) {
    const int r0 = (nr + nc) % (rows - nr + 1), c0 = (nr * nc) % (cols - nc + 1);
    float *out = xalloc((size_t)cols * (size_t)lds * sizeof(float));
    for (int i = 0; i < cols * lds; i++) out[i] = -12345.0f;
    gemm(n, nr, nc, w + (size_t)r0 * ws, ws, prep + (size_t)c0 * ps, ps, out, (size_t)lds);
    check_tile_bits(out, cols, lds, nr, nc, want, rows, r0, c0, table, what, t, n);
    free(out);
}

static void test_gemm_tiles(void **state) {
    (void)state;
    rng r = {2};
    const adm_kernels *sc = adm_kernels_scalar(), *simd[2];
    const int n_simd = simd_tables(simd);
    enum { ROWS = 8, COLS = 8, LDS = 11 };
    for (int ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        const adm_type t = k_weight_types[ti], dt = dot_of(t);
        const int n = size_unit(t) * 33 + (is_float_type(t) ? 3 : 0);
        const int n_terms = is_float_type(t) ? n : n / block_of(t);
        const size_t ws = adm_row_size(t, n), as = adm_row_size(dt, n);
        uint8_t *w = make_weights(&r, t, ROWS, n, D_MIXED, ti % 2 == 1);
        float *x = xalloc((size_t)n * COLS * sizeof(float));
        uint8_t *act = xalloc(as * COLS);
        fill(&r, x, (int64_t)n * COLS, D_NORMAL);
        for (int c = 0; c < COLS; c++) sc->from_float[dt](x + (size_t)c * n, act + c * as, n);
        float want[COLS][ROWS];
        double mag[COLS][ROWS];
        for (int c = 0; c < COLS; c++)
            for (int rr = 0; rr < ROWS; rr++) {
                double ref;
                sc->vec_dot[t](n, &want[c][rr], w + rr * ws, act + c * as);
                ref_dot(t, w + rr * ws, act + c * as, n, &ref, &mag[c][rr]);
            }
        for (int k = 0; k < n_simd; k++) {
            const adm_kernels *kt = simd[k];
            if (!kt->gemm[t]) continue;
            assert_true(kt->gemm_nr >= 1 && kt->gemm_nr <= ADM_TILE_MAX);
            assert_true(kt->gemm_nc >= 1 && kt->gemm_nc <= ADM_TILE_MAX);
            float one[COLS][ROWS]; /* the 1 x 1 tile of every pair */
            for (int c = 0; c < COLS; c++)
                for (int rr = 0; rr < ROWS; rr++)
                    kt->gemm[t](n, 1, 1, w + rr * ws, ws, act + c * as, as, &one[c][rr], 1);
            for (int nr = 1; nr <= ADM_TILE_MAX; nr++) {
                for (int nc = 1; nc <= ADM_TILE_MAX; nc++) {
                    const int r0 = (nr + nc) % (ROWS - nr + 1), c0 = (nr * nc) % (COLS - nc + 1);
                    float out[COLS * LDS];
                    for (int i = 0; i < COLS * LDS; i++) out[i] = -12345.0f;
                    kt->gemm[t](n, nr, nc, w + r0 * ws, ws, act + c0 * as, as, out, LDS);
                    for (int c = 0; c < nc; c++)
                        for (int rr = 0; rr < nr; rr++)
                            check_close((double)out[c * LDS + rr], (double)want[c0 + c][r0 + rr],
                                        mag[c0 + c][r0 + rr], n_terms, kt->name, t, n);
                    check_tile_bits(out, COLS, LDS, nr, nc, &one[0][0], ROWS, r0, c0, kt->name,
                                    "gemm (expected: the 1x1 tile)", t, n);
                }
            }
            /* Prepared columns (small batches): bit-identical to the 1 x 1
             * tile for every row count (pairs, a half pair, several
             * 4-row tiles) and column count. */
            if (kt->prep[t] && kt->gemm_prep[t]) {
                const size_t ps = adm_prep_size(n) + 64; /* a stride that is not the size */
                uint8_t *prep = xalloc(ps * COLS);
                for (int c = 0; c < COLS; c++) kt->prep[t](n, act + c * as, prep + c * ps);
                for (int nr = 1; nr <= ROWS; nr++)
                    for (int nc = 1; nc <= ADM_TILE_MAX; nc++)
                        check_prep_tile(kt->gemm_prep[t], n, nr, nc, w, ws, prep, ps, ROWS, COLS, LDS, &one[0][0],
                                        kt->name, "gemm_prep (expected: the 1x1 tile)", t);
                free(prep);
            }
            /* vec_dot agrees with the tiles in meaning. */
            for (int c = 0; c < COLS; c++)
                for (int rr = 0; rr < ROWS; rr++) {
                    float v;
                    kt->vec_dot[t](n, &v, w + rr * ws, act + c * as);
                    check_close((double)v, (double)one[c][rr], mag[c][rr], n_terms, "vec_dot vs tile", t, n);
                }
        }
        free(w);
        free(x);
        free(act);
    }
}

/* ---- 2: activation quantizers and conversions are byte-identical ---- */

/* Inputs that hit the rounding rules: ties at +-k.5 (amax 127 gives scale
 * 1), both signs of the largest magnitude, zero blocks and super-blocks,
 * huge and subnormal values. */
/* gemm_pack16 over rows packed by adm_pack16_q8_0 (groups of 16, the
 * last one partial) against the definition's bits want[c * rows + r], for
 * every column count; lanes past a partial group are not stored. */
static void check_pack16(const adm_kernels *kt, int n, const uint8_t *w, size_t ws, const uint8_t *prep, size_t ps,
                         const float *want, int rows, int cols) {
    const size_t group = adm_pack16_group_bytes(n);
    uint8_t *pk = aligned_alloc(64, adm_pack16_bytes(n, rows)); /* groups are 64-byte aligned */
    assert_non_null(pk);
    adm_pack16_rows(n, rows, w, ws, pk);
    enum { LDS = 19 };
    float out[ADM_TILE_MAX * LDS];
    for (int g = 0; g * 16 < rows; g++) {
        const int nr = rows - 16 * g < 16 ? rows - 16 * g : 16;
        for (int c0 = 0; c0 < cols; c0++)
            for (int nc = 1; nc <= ADM_TILE_MAX && c0 + nc <= cols; nc++) {
                for (int i = 0; i < ADM_TILE_MAX * LDS; i++) out[i] = -7.25f;
                kt->gemm_pack16[ADM_TYPE_Q8_0](n, nr, nc, pk + (size_t)g * group, prep + (size_t)c0 * ps, ps, out, LDS);
                for (int c = 0; c < nc; c++)
                    for (int r = 0; r < LDS; r++) {
                        const float got = out[c * LDS + r];
                        if (r >= nr) {
                            if (got != -7.25f) fail_msg("%s gemm_pack16 n=%d wrote row %d of a %d-row group", kt->name, n, r, nr);
                            continue;
                        }
                        const float exp = want[(size_t)(c0 + c) * rows + 16 * g + r];
                        if (memcmp(&got, &exp, sizeof(float)) != 0)
                            fail_msg("%s gemm_pack16 n=%d group %d row %d col %d (nc=%d): %.9g, the definition %.9g", kt->name,
                                     n, g, r, c0 + c, nc, (double)got, (double)exp);
                    }
            }
    }
    free(pk);
}

/* Block-sum order (kernels.h): every table that has it gives the scalar
 * definition's bits for every row count (one 16-row tile, a partial one,
 * two) and column count, and the value agrees with the exact product. */
static void test_gemm_bsum(void **state) {
    (void)state;
    rng r = {12};
    const adm_kernels *sc = adm_kernels_scalar(), *simd[2];
    const int n_simd = simd_tables(simd);
    enum { ROWS = 37, COLS = 11, LDS = 41 };
    const adm_type t = ADM_TYPE_Q8_0;
    assert_non_null(sc->prep_bsum[t]);
    assert_non_null(sc->gemm_bsum[t]);
    const int sizes[] = {1, 2, 28, 33, 152};
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        const int n = 32 * sizes[si];
        const size_t ws = adm_row_size(t, n), as = adm_row_size(ADM_TYPE_Q8_0, n);
        const size_t ps = adm_prep_size(n) + 64;
        uint8_t *w = make_weights(&r, t, ROWS, n, D_MIXED, si % 2 == 1);
        float *x = xalloc((size_t)n * COLS * sizeof(float));
        uint8_t *act = xalloc(as * COLS), *prep = xalloc(ps * COLS);
        fill(&r, x, (int64_t)n * COLS, si == 2 ? D_HUGE : D_NORMAL);
        for (int c = 0; c < COLS; c++) sc->from_float[ADM_TYPE_Q8_0](x + (size_t)c * n, act + c * as, n);
        /* The definition, column by column, row by row. */
        float want[COLS][ROWS];
        for (int c = 0; c < COLS; c++) sc->prep_bsum[t](n, act + c * as, prep + c * ps);
        for (int c = 0; c < COLS; c++)
            for (int rr = 0; rr < ROWS; rr++) sc->gemm_bsum[t](n, 1, 1, w + rr * ws, ws, prep + c * ps, ps, &want[c][rr], 1);
        for (int c = 0; c < COLS; c++)
            for (int rr = 0; rr < ROWS; rr++) {
                double ref, mag;
                ref_dot(t, w + rr * ws, act + c * as, n, &ref, &mag);
                check_close((double)want[c][rr], ref, mag, n / 32, "scalar gemm_bsum", t, n);
            }
        for (int k = -1; k < n_simd; k++) {
            const adm_kernels *kt = k < 0 ? sc : simd[k];
            if (!kt->gemm_bsum[t]) continue;
            assert_non_null(kt->prep_bsum[t]);
            for (int c = 0; c < COLS; c++) kt->prep_bsum[t](n, act + c * as, prep + c * ps);
            const int nrs[] = {1, 2, 7, 15, 16, 17, 31, 32, 37};
            for (size_t ri = 0; ri < sizeof(nrs) / sizeof(nrs[0]); ri++)
                for (int nc = 1; nc <= ADM_TILE_MAX; nc++)
                    check_prep_tile(kt->gemm_bsum[t], n, nrs[ri], nc, w, ws, prep, ps, ROWS, COLS, LDS, &want[0][0],
                                    kt->name, "gemm_bsum (expected: the definition)", t);
            if (kt->gemm_pack16[t]) check_pack16(kt, n, w, ws, prep, ps, &want[0][0], ROWS, COLS);
        }
        free(w);
        free(x);
        free(act);
        free(prep);
    }
}

static void fill_activation_cases(rng *r, float *x, int n, int variant) {
    fill(r, x, n, variant % D_COUNT);
    if (variant == D_COUNT) {
        for (int i = 0; i < n; i++) x[i] = (float)((int)(rng_u32(r) % 254) - 127) + 0.5f;
        for (int b = 0; b + 32 <= n; b += 32) x[b + (b / 32) % 32] = (b / 32) % 2 ? 127.0f : -127.0f;
    } else if (variant == D_COUNT + 1) {
        for (int i = 0; i < n; i++) x[i] = (float)(int)(rng_u32(r) % 9) - 4.0f;
        for (int b = 0; b + 256 <= n; b += 256) {
            x[b + 3] = 5.0f;
            x[b + 200] = -5.0f;
        }
    } else if (variant == D_COUNT + 2) {
        /* subnormals next to normal values (all-subnormal blocks would
         * overflow 1/d, undefined in the reference), one huge value */
        for (int i = 0; i < n; i++) x[i] = i % 16 ? bits_f32(rng_u32(r) & 0x807fffffu) : 1.0f;
        if (n > 40) x[40] = 1e30f;
    } else if (variant == D_COUNT + 3) {
        /* whole zero super-blocks (and -0.0f), then normal ones */
        for (int i = 0; i < n; i++) x[i] = (i / 256) % 2 ? rng_normal(r) : (i % 3 ? 0.0f : -0.0f);
    }
}

static void test_from_float(void **state) {
    (void)state;
    rng r = {3};
    const adm_kernels *sc = adm_kernels_scalar(), *simd[2];
    const int n_simd = simd_tables(simd);
    const adm_type types[] = {ADM_TYPE_Q8_0, ADM_TYPE_Q8_1, ADM_TYPE_Q8_K, ADM_TYPE_F16, ADM_TYPE_BF16, ADM_TYPE_F32};
    for (size_t ti = 0; ti < sizeof(types) / sizeof(types[0]); ti++) {
        const adm_type t = types[ti];
        for (size_t si = 0; si < sizeof(k_sizes) / sizeof(k_sizes[0]); si++) {
            const int n = (block_of(t) == 1 ? 32 : block_of(t)) * k_sizes[si] + (block_of(t) == 1 ? (int)si : 0);
            const size_t rs = adm_row_size(t, n);
            float *x = xalloc((size_t)n * sizeof(float));
            uint8_t *want = xalloc(rs), *got = xalloc(rs);
            for (int v = 0; v < D_COUNT + 4; v++) {
                fill_activation_cases(&r, x, n, v);
                sc->from_float[t](x, want, n);
                for (int k = 0; k < n_simd; k++) {
                    memset(got, 0xAA, rs);
                    simd[k]->from_float[t](x, got, n);
                    if (memcmp(got, want, rs) != 0) {
                        size_t at = 0;
                        while (got[at] == want[at]) at++;
                        print_error("%s from_float %s n=%d variant %d: byte %zu is %u, want %u\n", simd[k]->name,
                                    adm_type_name(t), n, v, at, got[at], want[at]);
                        fail();
                    }
                }
            }
            free(x);
            free(want);
            free(got);
        }
    }
}

/* f16/bf16 conversions of special values: random bit patterns (every
 * class: NaN, inf, subnormal, huge) must convert byte-identically too. */
static void test_convert_simd(void **state) {
    (void)state;
    rng r = {4};
    const adm_kernels *sc = adm_kernels_scalar(), *simd[2];
    const int n_simd = simd_tables(simd);
    enum { N = 65536 + 13 };
    float *x = xalloc(N * sizeof(float)), *y0 = xalloc(N * sizeof(float)), *y1 = xalloc(N * sizeof(float));
    uint16_t *h0 = xalloc(N * 2), *h1 = xalloc(N * 2), *all = xalloc(N * 2);
    for (int i = 0; i < N; i++) {
        x[i] = bits_f32(rng_u32(&r));
        all[i] = (uint16_t)i;
    }
    for (int k = 0; k < n_simd; k++) {
        for (int t = 0; t < 2; t++) {
            const adm_type ty = t ? ADM_TYPE_BF16 : ADM_TYPE_F16;
            sc->from_float[ty](x, h0, N);
            simd[k]->from_float[ty](x, h1, N);
            assert_memory_equal(h0, h1, N * 2);
            /* to_float on every half/bfloat value: identical except NaN
             * payloads (F16C quiets signalling NaNs; still a NaN). */
            sc->to_float[ty](all, y0, N);
            simd[k]->to_float[ty](all, y1, N);
            for (int i = 0; i < N; i++) {
                if (isnan(y0[i])) {
                    assert_true(isnan(y1[i]) && signbit(y0[i]) == signbit(y1[i]));
                } else {
                    assert_int_equal(f32_bits(y0[i]), f32_bits(y1[i]));
                }
            }
        }
    }
    free(x);
    free(y0);
    free(y1);
    free(h0);
    free(h1);
    free(all);
}

static void test_float_helpers(void **state) {
    (void)state;
    rng r = {5};
    const adm_kernels *sc = adm_kernels_scalar(), *simd[2];
    const int n_simd = simd_tables(simd);
    enum { NMAX = 1031 };
    float x[NMAX], y[NMAX], y0[NMAX], y1[NMAX];
    adm_f16 h[NMAX];
    for (int n = 0; n <= NMAX; n += n < 70 ? 1 : 137) {
        fill(&r, x, n, D_NORMAL);
        fill(&r, y, n, D_MIXED);
        for (int i = 0; i < n; i++) h[i] = adm_f32_to_f16(x[i]);
        double mag = 0.0, magh = 0.0;
        for (int i = 0; i < n; i++) {
            mag += fabs((double)x[i] * (double)y[i]);
            magh += fabs((double)adm_f16_to_f32(h[i]) * (double)y[i]);
        }
        const float a = rng_normal(&r);
        for (int k = 0; k < n_simd; k++) {
            const adm_kernels *kt = simd[k];
            check_close((double)kt->dot_f32(n, x, y), (double)sc->dot_f32(n, x, y), mag, n, "dot_f32", ADM_TYPE_F32, n);
            check_close((double)kt->dot_f16_f32(n, h, y), (double)sc->dot_f16_f32(n, h, y), magh, n, "dot_f16_f32",
                        ADM_TYPE_F16, n);
            memcpy(y0, y, sizeof(float) * (size_t)n);
            memcpy(y1, y, sizeof(float) * (size_t)n);
            sc->axpy_f32(n, a, x, y0);
            kt->axpy_f32(n, a, x, y1);
            assert_memory_equal(y0, y1, sizeof(float) * (size_t)n);
            sc->axpy_f16(n, a, h, y0);
            kt->axpy_f16(n, a, h, y1);
            assert_memory_equal(y0, y1, sizeof(float) * (size_t)n);
            sc->scale_f32(n, a, y0);
            kt->scale_f32(n, a, y1);
            assert_memory_equal(y0, y1, sizeof(float) * (size_t)n);
        }
    }
}

/* ---- 3: adm_matmul_multi, threaded, vs a double reference ---- */

/* next_above on every table: the first index from i0 with x > t, NaN and
 * ties never above, at every start and length around the vector widths. */
static void test_next_above(void **state) {
    (void)state;
    rng r = {11};
    const adm_kernels *sc = adm_kernels_scalar(), *simd[2];
    const int n_simd = simd_tables(simd);
    enum { NMAX = 300 };
    float x[NMAX];
    for (int trial = 0; trial < 400; trial++) {
        const int n = trial % 7 == 0 ? NMAX : (int)(rng_u32(&r) % NMAX);
        fill(&r, x, n, D_NORMAL);
        /* a few values at or above the threshold, some NaN and infinities */
        const float t = 2.0f + (float)(trial % 3);
        for (int j = 0; j < n; j++) {
            const uint32_t u = rng_u32(&r) % 97;
            if (u == 0) x[j] = t;
            else if (u == 1) x[j] = NAN;
            else if (u == 2) x[j] = -INFINITY;
            else if (u == 3 && trial % 5 == 0) x[j] = INFINITY;
            else if (u == 4) x[j] = nextafterf(t, INFINITY);
        }
        for (int i0 = 0; i0 <= n; i0 += 1 + (int)(rng_u32(&r) % 23)) {
            const int want = sc->next_above(x, i0, n, t);
            int lin = i0;
            while (lin < n && !(x[lin] > t)) lin++;
            assert_int_equal(want, lin);
            for (int k = 0; k < n_simd; k++) assert_int_equal(simd[k]->next_above(x, i0, n, t), want);
        }
    }
}

/* out (allocated, zeroed, returned) = the products of w0 and w1 over x in
 * one adm_matmul_multi pass: w0's n_tok rows of ldo[0], then w1's of ldo[1]. */
static float *matmul_pair(adm_pool *pool, const adm_kernels *k, const adm_weight *w0, const adm_weight *w1,
                          const size_t ldo[2], const float *x, int n_tok, void *scratch) {
    const size_t len = (ldo[0] + ldo[1]) * (size_t)n_tok;
    float *out = xalloc(sizeof(float) * len);
    memset(out, 0, sizeof(float) * len);
    adm_matmul_job jobs[2] = {{w0, out, ldo[0], 0, 0}, {w1, out + ldo[0] * (size_t)n_tok, ldo[1], 0, 0}};
    adm_matmul_multi(pool, k, jobs, 2, x, n_tok, scratch);
    return out;
}

static void test_matmul(void **state) {
    (void)state;
    rng r = {6};
    /* Each table, and the scalar and AVX-512 ones with their block-sum
     * products (every column count through gemm_bsum). */
    static adm_kernels bsum[2];
    adm_kernels_with_block_sums(adm_kernels_scalar(), &bsum[0]);
    if (adm_kernels_avx512()) adm_kernels_with_block_sums(adm_kernels_avx512(), &bsum[1]);
    const adm_kernels *tables[5] = {adm_kernels_scalar(), adm_kernels_avx2(), adm_kernels_avx512(), &bsum[0],
                                    adm_kernels_avx512() ? &bsum[1] : NULL};
    assert_true(bsum[0].block_sums && (!adm_kernels_avx512() || bsum[1].block_sums));
    const int n_tok_list[] = {1, 3, 5, 17};
    const int n_out[2] = {37, 29};
    adm_pool *pools[3];
    for (int p = 0; p < 3; p++) assert_int_equal(adm_pool_create(p + 1, &pools[p], NULL), ADM_OK);
    for (int ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        const adm_type t = k_weight_types[ti], dt = dot_of(t);
        const int n_in = block_of(t) == QK_K ? 3 * QK_K : block_of(t) == 32 ? 37 * 32 : 1189;
        const int n_terms = is_float_type(t) ? n_in : n_in / block_of(t);
        uint8_t *wd[2];
        adm_weight w[2];
        for (int j = 0; j < 2; j++) {
            wd[j] = make_weights(&r, t, n_out[j], n_in, j ? D_MIXED : D_NORMAL, false);
            w[j] = (adm_weight){t, n_in, n_out[j], adm_row_size(t, n_in), wd[j], NULL};
        }
        const int max_tok = 17;
        float *x = xalloc((size_t)max_tok * n_in * sizeof(float));
        fill(&r, x, (int64_t)max_tok * n_in, D_NORMAL);
        void *scratch = xalloc(adm_matmul_scratch_size(n_in, max_tok));
        const size_t as = adm_row_size(dt, n_in);
        uint8_t *act = xalloc(as * max_tok);
        for (int tk = 0; tk < max_tok; tk++)
            adm_kernels_scalar()->from_float[dt](x + (size_t)tk * n_in, act + tk * as, n_in);
        /* Reference: each output from the scalar-quantized activations. */
        double *want = xalloc(sizeof(double) * (size_t)max_tok * (37 + 29));
        double *mag = xalloc(sizeof(double) * (size_t)max_tok * (37 + 29));
        for (int tk = 0; tk < max_tok; tk++)
            for (int j = 0, o = 0; j < 2; j++)
                for (int rr = 0; rr < n_out[j]; rr++, o++)
                    ref_dot(t, wd[j] + rr * w[j].row_size, act + tk * as, n_in, &want[tk * 66 + o], &mag[tk * 66 + o]);
        for (int k = 0; k < 5; k++) {
            if (!tables[k]) continue;
            for (size_t ni = 0; ni < sizeof(n_tok_list) / sizeof(n_tok_list[0]); ni++) {
                const int n_tok = n_tok_list[ni];
                const size_t ldo[2] = {37 + 2, 29 + 5};
                float *first = NULL;
                for (int p = 0; p < 3; p++) {
                    for (int rep = 0; rep < 2; rep++) {
                        float *out = matmul_pair(pools[p], tables[k], &w[0], &w[1], ldo, x, n_tok, scratch);
                        const float *outs[2] = {out, out + ldo[0] * (size_t)n_tok};
                        for (int tk = 0; tk < n_tok; tk++)
                            for (int j = 0, o = 0; j < 2; j++)
                                for (int rr = 0; rr < n_out[j]; rr++, o++)
                                    check_close((double)outs[j][(size_t)tk * ldo[j] + rr], want[tk * 66 + o],
                                                mag[tk * 66 + o],
                                                n_terms, tables[k]->name, t, n_in);
                        if (!first) {
                            first = out;
                        } else {
                            /* Same bits for any thread count, every run. */
                            assert_memory_equal(first, out, sizeof(float) * (ldo[0] + ldo[1]) * (size_t)n_tok);
                            free(out);
                        }
                    }
                }
                /* Jobs on their own rows of X (a mixture's experts): the
                 * same bits as the same rows computed in one product. */
                if (n_tok >= 2) {
                    float *o0 = xalloc(sizeof(float) * ldo[0] * (size_t)n_tok);
                    float *o1 = xalloc(sizeof(float) * ldo[1]);
                    adm_matmul_job part[2] = {{&w[0], o0, ldo[0], 1, n_tok - 1}, {&w[1], o1, ldo[1], n_tok - 1, 1}};
                    adm_matmul_multi(pools[2], tables[k], part, 2, x, n_tok, scratch);
                    for (int tk = 1; tk < n_tok; tk++)
                        assert_memory_equal(o0 + (size_t)(tk - 1) * ldo[0], first + (size_t)tk * ldo[0],
                                            sizeof(float) * (size_t)n_out[0]);
                    assert_memory_equal(o1, first + ldo[0] * (size_t)n_tok + (size_t)(n_tok - 1) * ldo[1],
                                        sizeof(float) * (size_t)n_out[1]);
                    free(o0);
                    free(o1);
                }
                /* Block-order tables with packed weights (packed.c): the
                 * same bits. The second matrix's rows start at row 37 of
                 * the pass, so its chunks read the unpacked rows. */
                if (tables[k]->block_sums && tables[k]->gemm_pack16[t]) {
                    adm_weight wp[2];
                    uint8_t *pk[2];
                    for (int j = 0; j < 2; j++) {
                        pk[j] = aligned_alloc(64, adm_pack16_bytes(n_in, n_out[j]));
                        assert_non_null(pk[j]);
                        adm_pack16_rows(n_in, n_out[j], wd[j], w[j].row_size, pk[j]);
                        wp[j] = w[j];
                        wp[j].pack16 = pk[j];
                    }
                    for (int p = 0; p < 3; p++) {
                        float *out = matmul_pair(pools[p], tables[k], &wp[0], &wp[1], ldo, x, n_tok, scratch);
                        assert_memory_equal(first, out, sizeof(float) * (ldo[0] + ldo[1]) * (size_t)n_tok);
                        free(out);
                    }
                    for (int j = 0; j < 2; j++) free(pk[j]);
                }
                free(first);
            }
        }
        for (int j = 0; j < 2; j++) free(wd[j]);
        free(x);
        free(scratch);
        free(act);
        free(want);
        free(mag);
    }
    for (int p = 0; p < 3; p++) adm_pool_free(pools[p]);
}

/* ---- 4: f16/bf16 conversions vs an exact independent reference ---- */

/* The value of a half from its fields, in double. */
static double half_value(uint16_t h) {
    const int e = (h >> 10) & 31, m = h & 1023;
    const double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return h & 0x8000 ? -v : v;
}

/* Nearest half by bisection over the ordered non-negative halves; ties to
 * the even bit pattern; overflow past the 65504/65536 midpoint to inf. */
static uint16_t ref_f32_to_f16(float f) {
    const uint16_t sign = (uint16_t)(signbit(f) ? 0x8000 : 0);
    if (isnan(f)) return sign | 0x7e00;
    const double a = fabs((double)f);
    if (a >= 65520.0) return sign | 0x7c00;
    uint16_t lo = 0, hi = 0x7bff;
    while (lo < hi) { /* largest h with value <= a */
        const uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (half_value(mid) <= a) lo = mid;
        else hi = (uint16_t)(mid - 1);
    }
    const double dlo = a - half_value(lo), dhi = half_value((uint16_t)(lo + 1)) - a;
    const uint16_t pick = dlo < dhi ? lo : dhi < dlo ? (uint16_t)(lo + 1) : (lo & 1) ? (uint16_t)(lo + 1) : lo;
    return sign | pick;
}

static double bf16_value(uint16_t b) { /* exponent 255 reads as 2^128 (the overflow target) */
    const int e = (b >> 7) & 255, m = b & 127;
    const double v = e == 0 ? ldexp(m, -133) : ldexp(128 + m, e - 134);
    return b & 0x8000 ? -v : v;
}

static void test_half_conversions(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        const float f = adm_f16_to_f32((adm_f16)h);
        if (((h >> 10) & 31) == 31 && (h & 1023)) {
            assert_true(isnan(f));
            assert_true(!!signbit(f) == !!(h & 0x8000));
            continue;
        }
        const double inf = (double)INFINITY;
        const double want = ((h >> 10) & 31) == 31 ? (h & 0x8000 ? -inf : inf) : half_value((uint16_t)h);
        assert_true((double)f == want);
        assert_true(!!signbit(f) == !!(h & 0x8000)); /* -0 stays -0 */
        if (!isnan(f)) assert_int_equal(adm_f32_to_f16(f), h); /* round trip */
        /* bf16 -> f32 is a shift. */
        const float b = adm_bf16_to_f32((adm_bf16)h);
        assert_int_equal(f32_bits(b), h << 16);
    }
    rng r = {7};
    for (int i = 0; i < 400000; i++) {
        float f;
        const uint32_t kind = i % 4;
        if (kind == 0) {
            f = bits_f32(rng_u32(&r)); /* any class */
        } else if (kind == 1) {
            /* exact midpoints between neighbouring halves (ties) */
            const uint16_t h = (uint16_t)(rng_u32(&r) % 0x7bff);
            f = (float)((half_value(h) + half_value((uint16_t)(h + 1))) / 2.0);
            if (rng_u32(&r) & 1) f = -f;
        } else if (kind == 2) {
            /* the f16 subnormal range and above */
            f = bits_f32((rng_u32(&r) & 0x80000000u) | (0x33000000u + rng_u32(&r) % 0x0c000000u));
        } else {
            f = bits_f32((rng_u32(&r) & 0x80000000u) | (0x477f0000u + rng_u32(&r) % 0x00200000u)); /* near 65504 */
        }
        const uint16_t want = ref_f32_to_f16(f), got = adm_f32_to_f16(f);
        if (want != got) {
            print_error("f32 %a (0x%08x) -> f16 0x%04x, want 0x%04x\n", (double)f, f32_bits(f), got, want);
            fail();
        }
        /* bf16: the nearer of truncation and truncation + 1 ulp, ties even. */
        const uint32_t u = f32_bits(f);
        const adm_bf16 bg = adm_f32_to_bf16(f);
        if (isnan(f)) {
            assert_true(isnan(adm_bf16_to_f32(bg)) && (bg & 0x8000) == ((u >> 16) & 0x8000) && (bg & 0x40));
            continue;
        }
        const uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
        const double a = (double)f, dlo = fabs(a - bf16_value(lo)), dhi = fabs(bf16_value(hi) - a);
        const uint16_t bw = (lo & 0x7fff) == 0x7f80 ? lo : dlo < dhi ? lo : dhi < dlo ? hi : (lo & 1) ? hi : lo;
        if (bw != bg) {
            print_error("f32 %a -> bf16 0x%04x, want 0x%04x\n", (double)f, bg, bw);
            fail();
        }
    }
}

/* ---- 5: reference quantizers round-trip within the format's bound ---- */

typedef struct {
    adm_type t;
    double max_err; /* max |x - x'| / amax over the block (block_size values) */
    double rms_err; /* rms(x - x') / rms(x) on gaussian data */
} roundtrip_bound;

/* Max-error bounds follow from each format's grid, relative to the largest
 * magnitude of the block (super-block for K-quants): step/2 of a symmetric
 * grid (Q8_0 1/254, Q5_1 range/62 <= 2/62), one full step where the
 * quantizer clamps the side opposite the max (Q4_0 1/8, Q5_0 1/16, Q3_K
 * 1/4, Q6_K 1/32 of a sub-block), plus half an f16 ulp (2^-12) on the
 * scales; Q2_K/Q4_K/Q5_K also round 4- or 6-bit sub-block scales and mins.
 * The rms bounds are for gaussian data (uniform error, step / sqrt(12)). */
static const roundtrip_bound k_bounds[] = {
    {ADM_TYPE_F32, 0.0, 0.0},        {ADM_TYPE_F16, 4.9e-4, 3e-4},   {ADM_TYPE_BF16, 3.91e-3, 2.5e-3},
    {ADM_TYPE_Q8_0, 4.25e-3, 6e-3},  {ADM_TYPE_Q4_0, 0.1255, 0.1},   {ADM_TYPE_Q4_1, 0.068, 0.09},
    {ADM_TYPE_Q5_0, 0.0629, 0.05},   {ADM_TYPE_Q5_1, 0.033, 0.045},  {ADM_TYPE_Q2_K, 0.45, 0.4},
    {ADM_TYPE_Q3_K, 0.255, 0.2},     {ADM_TYPE_Q4_K, 0.08, 0.09},    {ADM_TYPE_Q5_K, 0.04, 0.045},
    {ADM_TYPE_Q6_K, 0.0325, 0.025},
};

static void test_quant_roundtrip(void **state) {
    (void)state;
    rng r = {8};
    enum { N = QK_K * 64 };
    float *x = xalloc(N * sizeof(float)), *y = xalloc(N * sizeof(float));
    uint8_t *q = xalloc(adm_row_size(ADM_TYPE_F32, N));
    for (size_t bi = 0; bi < sizeof(k_bounds) / sizeof(k_bounds[0]); bi++) {
        const roundtrip_bound *b = &k_bounds[bi];
        const int bs = block_of(b->t) == 1 ? 32 : block_of(b->t);
        double worst_max = 0.0, worst_rms = 0.0;
        for (int mode = 0; mode < D_COUNT; mode++) {
            fill(&r, x, N, mode);
            adm_quantize_row(b->t, x, q, N);
            adm_dequantize_row(b->t, q, y, N);
            double se = 0.0, sx = 0.0;
            for (int blk = 0; blk < N / bs; blk++) {
                double amax = 0.0, emax = 0.0;
                for (int i = blk * bs; i < (blk + 1) * bs; i++) {
                    amax = fmax(amax, fabs((double)x[i]));
                    emax = fmax(emax, fabs((double)x[i] - (double)y[i]));
                    se += ((double)x[i] - (double)y[i]) * ((double)x[i] - (double)y[i]);
                    sx += (double)x[i] * (double)x[i];
                }
                /* f16 scales lose relative precision below f16's normal
                 * range (and f16 values overflow above 65504). */
                if ((amax < 1.0 && b->t != ADM_TYPE_F32 && b->t != ADM_TYPE_BF16) || amax > 6e4) continue;
                if (amax > 0.0) worst_max = fmax(worst_max, emax / amax);
                else assert_true(emax == 0.0); /* zero blocks stay zero */
            }
            if (mode == D_NORMAL) worst_rms = sqrt(se / sx);
        }
        if (getenv("ADM_TEST_VERBOSE"))
            print_message("%s round trip: max err %.4g, rms err %.4g\n", adm_type_name(b->t), worst_max, worst_rms);
        if (worst_max > b->max_err || worst_rms > b->rms_err) {
            print_error("%s round trip: max err %.4g of block amax (bound %.4g), rms err %.4g (bound %.4g)\n",
                        adm_type_name(b->t), worst_max, b->max_err, worst_rms, b->rms_err);
            fail();
        }
    }
    free(x);
    free(y);
    free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half_conversions), cmocka_unit_test(test_quant_roundtrip),
        cmocka_unit_test(test_vec_dot),          cmocka_unit_test(test_gemm_tiles),
        cmocka_unit_test(test_from_float),       cmocka_unit_test(test_convert_simd),
        cmocka_unit_test(test_float_helpers),    cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_next_above),       cmocka_unit_test(test_gemm_bsum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
