/*
 * test_attn_kernels.c - the attention and Adamas kernels of every SIMD table
 * (avx2, avx512 when compiled in and supported) against scalar.c:
 *   attn_qk_f16, attn_pv_f16: bit-identical (memcmp of the whole output,
 *     so nothing outside [0, n) of a score row or the hv outputs changes),
 *     contiguous and gathered rows, head sizes that are and are not a
 *     multiple of 16 (and past the kernels' buffers), 1..16 query heads,
 *     large magnitudes, exact ties,
 *     zeros of both signs and f16 subnormals;
 *   the canonical exp (within 2.5 ulp of exp) and swiglu: bit-identical;
 *   attn_tile (prompt attention) over several tiles: bit-identical, and
 *     scalar against softmax attention in double;
 *   fwht: within a tolerance (the SIMD versions happen to be exact);
 *   bucketize: exact, ties with the thresholds, infinities, NaN;
 *   code_l1: exact, nothing written past n_tok, tables with entries up to 6
 *     (one query head) and up to 255 (GQA-summed tables); code_l1_multi
 *     (all heads of a group at once) against code_l1 head by head;
 *   filter_le_u16 (the selection pre-filter) against a plain loop, and
 *     adm_select_smallest_fast through every table against
 *     adm_select_smallest (identical selections) on distance
 *     distributions that defeat the sampled cut-off.
 * Buffers are sized exactly (rows end at the end of their allocation) so
 * the sanitizer build catches any read past the last row or byte.
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

#include "attention/adamas.h"
#include "kernels/canonical.h"
#include "kernels/kernels.h"
#include "quant.h"

typedef struct {
    uint64_t s;
} rng;

static uint64_t rng_u64(rng *r) {
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint32_t rng_below(rng *r, uint32_t n) { return (uint32_t)(rng_u64(r) % n); }

/* Uniform in [-1, 1). */
static float rng_sym(rng *r) { return (float)((double)(rng_u64(r) >> 11) * 0x1p-52 - 1.0); }

/* A value of some scale: mostly ordinary, sometimes large (up to 6e4, the
 * f16 range), tiny (f16 subnormals), zero of either sign, or a repeat. */
static float rng_value(rng *r, float prev) {
    const uint32_t k = rng_below(r, 20);
    if (k == 0) return 0.0f;
    if (k == 1) return -0.0f;
    if (k == 2) return prev;
    if (k == 3) return 6e4f * rng_sym(r);
    if (k == 4) return 1e-6f * rng_sym(r);
    if (k == 5) return 100.0f * rng_sym(r);
    return rng_sym(r);
}

static int n_simd;
static const adm_kernels *simd[2];

static int setup(void **state) {
    (void)state;
    if (adm_kernels_avx2()) simd[n_simd++] = adm_kernels_avx2();
    if (adm_kernels_avx512()) simd[n_simd++] = adm_kernels_avx512();
    if (n_simd == 0) printf("    (no SIMD table on this build/CPU: nothing to compare)\n");
    return 0;
}

/* A cache of n_rows rows of hk f16 values, stride elements apart, whose last
 * row ends exactly at the end of the allocation. Some rows repeat earlier
 * ones (exact ties between scores). */
static adm_f16 *make_rows(rng *r, int n_rows, int hk, size_t stride) {
    const size_t len = (size_t)(n_rows - 1) * stride + (size_t)hk;
    adm_f16 *k = malloc(len * sizeof(adm_f16));
    assert_non_null(k);
    float prev = 1.0f;
    for (size_t i = 0; i < len; i++) {
        prev = rng_value(r, prev);
        k[i] = adm_f32_to_f16(prev);
    }
    for (int j = 1; j < n_rows; j++)
        if (rng_below(r, 16) == 0) memcpy(k + (size_t)j * stride, k + (size_t)(j - 1) * stride, (size_t)hk * sizeof(adm_f16));
    return k;
}

/* Random gather list over n_rows rows: repeats, and the last row. */
static void make_idx(rng *r, int32_t *idx, int n, int n_rows) {
    for (int j = 0; j < n; j++) idx[j] = (int32_t)rng_below(r, (uint32_t)n_rows);
    idx[rng_below(r, (uint32_t)n)] = n_rows - 1;
    if (n > 1) idx[rng_below(r, (uint32_t)n)] = idx[0];
}

static void fill_sentinel(float *x, size_t n) {
    const uint32_t bits = 0x7fc0beefu; /* a NaN no kernel produces */
    for (size_t i = 0; i < n; i++) memcpy(x + i, &bits, 4);
}

#define MAX_G 16
#define MAX_N 4097
#define MAX_HD 528

/* One (hk, G) shape over a list of n, contiguous and gathered. */
static void qk_shape(rng *r, const adm_f16 *k, int n_rows, size_t stride, int hk, int G, const int *ns, int n_ns,
                     int32_t *idx, float *q, float *s_ref, float *s_simd) {
    float prev = 1.0f;
    for (int i = 0; i < G * hk; i++) q[i] = prev = rng_value(r, prev);
    const float scale = rng_below(r, 2) ? 0.125f : 1.0f / sqrtf((float)hk);
    for (int a = 0; a < n_ns; a++) {
        const int n = ns[a];
        for (int gather = 0; gather < 2; gather++) {
            if (gather) make_idx(r, idx, n, n_rows);
            const int ld = n + (int)rng_below(r, 20);
            const size_t len = (size_t)G * (size_t)ld;
            fill_sentinel(s_ref, len);
            adm_kernels_scalar()->attn_qk_f16(k, stride, gather ? idx : NULL, n, hk, q, G, scale, s_ref, ld);
            for (int t = 0; t < n_simd; t++) {
                fill_sentinel(s_simd, len);
                simd[t]->attn_qk_f16(k, stride, gather ? idx : NULL, n, hk, q, G, scale, s_simd, ld);
                if (memcmp(s_ref, s_simd, len * sizeof(float)) != 0) {
                    for (size_t i = 0; i < len; i++)
                        if (memcmp(s_ref + i, s_simd + i, 4) != 0)
                            fail_msg("%s attn_qk_f16 hk=%d G=%d n=%d ld=%d %s: s[%d][%d] = %.9g, scalar %.9g", simd[t]->name,
                                     hk, G, n, ld, gather ? "gathered" : "contiguous", (int)(i / (size_t)ld),
                                     (int)(i % (size_t)ld), (double)s_simd[i], (double)s_ref[i]);
                }
            }
        }
    }
}

/* o_simd holds the starting values, then one output per SIMD table. */
static void pv_shape(rng *r, const adm_f16 *v, int n_rows, size_t stride, int hv, int G, const int *ns, int n_ns,
                     int32_t *idx, float *p, float *o_ref, float *o_simd) {
    for (int a = 0; a < n_ns; a++) {
        const int n = ns[a];
        for (int gather = 0; gather < 2; gather++) {
            if (gather) make_idx(r, idx, n, n_rows);
            const int ld = n + (int)rng_below(r, 20);
            float prev = 0.5f;
            for (int i = 0; i < G * ld; i++) p[i] = prev = rng_below(r, 4) ? fabsf(rng_value(r, prev)) : rng_sym(r);
            const size_t len = (size_t)G * (size_t)hv + 16; /* 16 guard values */
            for (size_t i = 0; i < len; i++) o_ref[i] = prev = rng_value(r, prev);
            fill_sentinel(o_ref + len - 16, 16);
            memcpy(o_simd, o_ref, len * sizeof(float));
            adm_kernels_scalar()->attn_pv_f16(v, stride, gather ? idx : NULL, n, hv, p, G, ld, o_ref);
            for (int t = 0; t < n_simd; t++) {
                float *o = o_simd + (size_t)(t + 1) * len;
                memcpy(o, o_simd, len * sizeof(float));
                simd[t]->attn_pv_f16(v, stride, gather ? idx : NULL, n, hv, p, G, ld, o);
                if (memcmp(o_ref, o, len * sizeof(float)) != 0) {
                    for (size_t i = 0; i < len; i++)
                        if (memcmp(o_ref + i, o + i, 4) != 0)
                            fail_msg("%s attn_pv_f16 hv=%d G=%d n=%d %s: out[%d] = %.9g, scalar %.9g", simd[t]->name, hv, G,
                                     n, gather ? "gathered" : "contiguous", (int)i, (double)o[i], (double)o_ref[i]);
                }
            }
        }
    }
}

/* The head sizes of the brief, then odd ones that reach other paths: 20
 * (AVX2 pv's scalar tail columns), 200 (sequential qk over two column
 * chunks) and 528 (qk past the f32 key buffer); those run fewer shapes. */
static const int k_heads[] = {8, 16, 48, 64, 80, 128, 256, 20, 200, 528};
#define N_HEADS ((int)(sizeof(k_heads) / sizeof(k_heads[0])))

/* n: every value 1..300 for the common shapes, block edges for the others
 * (fewer for wide groups, to keep the scalar oracle fast), and 4097. */
static int n_list(int *ns, bool all, bool wide, bool big) {
    int m = 0;
    if (all) {
        for (int n = 1; n <= 300; n++) ns[m++] = n;
    } else if (!wide) {
        static const int some[] = {1, 2, 3, 5, 8, 15, 16, 17, 31, 33, 47, 64, 65, 100, 127, 129, 255, 300};
        for (size_t i = 0; i < sizeof(some) / sizeof(some[0]); i++) ns[m++] = some[i];
    } else {
        static const int few[] = {1, 7, 16, 17, 50, 129};
        for (size_t i = 0; i < sizeof(few) / sizeof(few[0]); i++) ns[m++] = few[i];
    }
    if (big) ns[m++] = MAX_N;
    return m;
}

static void attn_test(bool pv) {
    rng r = {pv ? 77u : 42u};
    const int n_rows = 5000;
    int32_t *idx = malloc(sizeof(int32_t) * MAX_N);
    float *q = malloc(sizeof(float) * MAX_G * MAX_HD);
    float *a = malloc(sizeof(float) * MAX_G * (MAX_N + 32));
    float *b = malloc(sizeof(float) * 3 * (MAX_G * (MAX_N + 32)));
    int ns[400];
    for (int h = 0; h < N_HEADS; h++) {
        const int hd = k_heads[h];
        /* Rows are stride elements apart: packed, or padded as another layout would. */
        const size_t stride = (size_t)hd + (h % 2 ? 0 : 24);
        adm_f16 *rows = make_rows(&r, n_rows, hd, stride);
        for (int G = 1; G <= MAX_G; G++) {
            if (h >= 7 && G != 1 && G != 3 && G != 9) continue;
            const bool common = (hd == 64 || hd == 8) && (G == 1 || G == 7);
            const bool big = G == 1 || G == 7 || (G == 16 && hd <= 64);
            const int m = n_list(ns, common, G > 8, big);
            if (pv) pv_shape(&r, rows, n_rows, stride, hd, G, ns, m, idx, a, b, b + MAX_G * MAX_HD + 16);
            else qk_shape(&r, rows, n_rows, stride, hd, G, ns, m, idx, q, a, b);
        }
        free(rows);
    }
    free(idx);
    free(q);
    free(a);
    free(b);
}

static void test_attn_qk(void **state) {
    (void)state;
    attn_test(false);
}

static void test_attn_pv(void **state) {
    (void)state;
    attn_test(true);
}

/* softmax: every table bit-identical to scalar (the canonical exp and lane
 * sums), and scalar within float rounding of a double-precision softmax. */
static void test_softmax(void **state) {
    (void)state;
    rng r = {77};
    const adm_kernels *sc = adm_kernels_scalar();
    static float x[MAX_N], a[MAX_N], b[MAX_N];
    for (int n = 1; n <= MAX_N; n = n < 300 ? n + 1 : n == 300 ? 4097 : MAX_N + 1) {
        const float spread = (float)(1 + rng_below(&r, 4)) * 30.0f;
        for (int j = 0; j < n; j++) x[j] = spread * rng_sym(&r);
        if (n > 3) x[rng_below(&r, (uint32_t)n)] = -INFINITY; /* masked entries */
        memcpy(a, x, sizeof(float) * (size_t)n);
        sc->softmax(a, n);
        double mx = -HUGE_VAL, sum = 0, total = 0;
        for (int j = 0; j < n; j++) mx = (double)x[j] > mx ? (double)x[j] : mx;
        /* x - max is a float subtraction in every implementation. */
        for (int j = 0; j < n; j++) sum += exp((double)(x[j] - (float)mx));
        for (int j = 0; j < n; j++) {
            const double want = exp((double)(x[j] - (float)mx)) / sum;
            if (fabs((double)a[j] - want) > 2e-6 * want + 1e-37) fail_msg("scalar softmax n=%d [%d]: %g vs %g", n, j, (double)a[j], want);
            total += (double)a[j];
        }
        assert_true(fabs(total - 1.0) < 1e-5);
        for (int k = 0; k < n_simd; k++) {
            memcpy(b, x, sizeof(float) * (size_t)n);
            simd[k]->softmax(b, n);
            if (memcmp(a, b, sizeof(float) * (size_t)n)) fail_msg("%s softmax differs from scalar at n=%d", simd[k]->name, n);
        }
    }
}

/* The canonical exponential: within 2 ulp of exp in double over the whole
 * float range (subnormal results, overflow, NaN included), and every
 * table's vector version bit-identical to it (through swiglu, which also
 * covers positive arguments, and softmax above). */
static void test_exp_swiglu(void **state) {
    (void)state;
    rng r = {5};
    enum { N = 20000 };
    static float g[N], u[N], a[N], b[N];
    for (int i = 0; i < N; i++) {
        const float x = i < 9 ? (const float[]){0.0f, -0.0f, 88.7f, 89.0f, -87.5f, -103.9f, -104.0f, -200.0f, NAN}[i]
                              : (float)((double)rng_sym(&r) * (i % 3 ? 110.0 : 20.0));
        const float e = adm_canonical_exp(x);
        const double want = exp((double)x);
        if (x != x) {
            assert_true(e != e);
        } else if (want > 3.4028234e38) {
            assert_true(isinf(e));
        } else {
            const double ulp = want < 0x1p-126 ? 0x1p-149 : ldexp(1.0, ilogb(want) - 23);
            if (fabs((double)e - want) > 2.5 * ulp) fail_msg("exp(%.9g) = %.9g, want %.9g", (double)x, (double)e, want);
        }
        g[i] = -x;
        u[i] = rng_value(&r, 1.0f);
    }
    const adm_kernels *sc = adm_kernels_scalar();
    for (int n = 1; n <= N; n = n < 40 ? n + 1 : n == N ? N + 1 : N) {
        sc->swiglu(n, g, u, a);
        for (int i = 0; i < n; i++) {
            /* exp(-g) overflows below g = -88.7, giving -0 for a true value under 1e-30 */
            const double want = (double)g[i] / (1.0 + exp(-(double)g[i])) * (double)u[i];
            if (g[i] == g[i] && fabs((double)a[i] - want) > 1e-6 * fabs(want) + 1e-30)
                fail_msg("swiglu(%g, %g) = %.9g, want %.9g", (double)g[i], (double)u[i], (double)a[i], want);
        }
        for (int k = 0; k < n_simd; k++) {
            simd[k]->swiglu(n, g, u, b);
            if (memcmp(a, b, sizeof(float) * (size_t)n)) fail_msg("%s swiglu differs from scalar at n=%d", simd[k]->name, n);
        }
    }
}

/* attn_tile (the prompt-attention order): every table bit-identical to
 * scalar, tile after tile with the running state; and the scalar result,
 * divided by the sum, within float rounding of softmax attention in double.
 * Every other length soft-caps the scores (gemma2). */
static void test_attn_tile(void **state) {
    (void)state;
    rng r = {9};
    const adm_kernels *sc = adm_kernels_scalar();
    const int T = ADM_ATTN_TILE;
    static const int dims[][2] = {{64, 64}, {128, 128}, {8, 8}, {80, 48}, {64, 72}};
    for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++) {
        const int hk = dims[di][0], hv = dims[di][1];
        for (int n = 1; n <= 300; n += n < 70 ? 1 : 37) {
            float *k = malloc(sizeof(float) * (size_t)n * hk), *v = malloc(sizeof(float) * (size_t)n * hv);
            float *q = malloc(sizeof(float) * (size_t)hk), *kt = calloc((size_t)T * hk, sizeof(float));
            float *vt = malloc(sizeof(float) * (size_t)T * hv), *acc = calloc((size_t)hv, sizeof(float));
            float *acc2 = calloc((size_t)hv, sizeof(float));
            assert_true(k && v && q && kt && vt && acc && acc2);
            const float spread = (float)(1 + rng_below(&r, 3));
            for (int i = 0; i < n * hk; i++) k[i] = spread * rng_sym(&r);
            for (int i = 0; i < n * hv; i++) v[i] = rng_sym(&r);
            for (int i = 0; i < hk; i++) q[i] = rng_sym(&r);
            const float scale = 1.0f / sqrtf((float)hk), cap = n % 2 ? 0.0f : 1.5f;
            for (int t = 0; t < 1 + n_simd; t++) {
                const adm_kernels *kk = t == 0 ? sc : simd[t - 1];
                float M = -INFINITY, S = 0.0f, *out = t == 0 ? acc : acc2;
                memset(out, 0, sizeof(float) * (size_t)hv);
                for (int c = 0; c < n; c += T) {
                    const int m = n - c < T ? n - c : T;
                    for (int j = 0; j < m; j++)
                        for (int d = 0; d < hk; d++) kt[d * T + j] = k[(size_t)(c + j) * hk + d];
                    memcpy(vt, v + (size_t)c * hv, sizeof(float) * (size_t)m * hv);
                    kk->attn_tile(kt, vt, 0, m, hk, hv, q, 1, cap > 0 ? scale / cap : scale, cap, &M, &S, out);
                }
                for (int i = 0; i < hv; i++) out[i] /= S;
                if (t > 0 && memcmp(acc, acc2, sizeof(float) * (size_t)hv))
                    fail_msg("%s attn_tile differs from scalar (hk %d, hv %d, n %d)", kk->name, hk, hv, n);
            }
            double mx = -HUGE_VAL, sum = 0;
            double *p = malloc(sizeof(double) * (size_t)n);
            assert_non_null(p);
            for (int j = 0; j < n; j++) {
                double d = 0;
                for (int i = 0; i < hk; i++) d += (double)k[(size_t)j * hk + i] * (double)q[i];
                p[j] = d * (double)scale;
                if (cap > 0) p[j] = (double)cap * tanh(p[j] / (double)cap);
                mx = p[j] > mx ? p[j] : mx;
            }
            for (int j = 0; j < n; j++) sum += (p[j] = exp(p[j] - mx));
            for (int i = 0; i < hv; i++) {
                double want = 0;
                for (int j = 0; j < n; j++) want += p[j] / sum * (double)v[(size_t)j * hv + i];
                if (fabs(want - (double)acc[i]) > 2e-5) fail_msg("attn_tile hk %d n %d [%d]: %.9g vs %.9g", hk, n, i, (double)acc[i], want);
            }
            free(p), free(k), free(v), free(q), free(kt), free(vt), free(acc), free(acc2);
        }
    }
}

static void test_fwht(void **state) {
    (void)state;
    rng r = {5};
    for (int n = 4; n <= 512; n *= 2)
        for (int trial = 0; trial < 20; trial++) {
            float x[512], ref[512], y[512];
            const float mag = trial % 3 == 0 ? 1e4f : 1.0f;
            for (int i = 0; i < n; i++) x[i] = mag * rng_sym(&r);
            memcpy(ref, x, sizeof(float) * (size_t)n);
            adm_kernels_scalar()->fwht(ref, n);
            double norm = 0;
            for (int i = 0; i < n; i++) norm += (double)x[i] * (double)x[i];
            const double tol = 1e-6 * sqrt(norm) * log2((double)n);
            for (int t = 0; t < n_simd; t++) {
                memcpy(y, x, sizeof(float) * (size_t)n);
                simd[t]->fwht(y, n);
                for (int i = 0; i < n; i++)
                    if (fabs((double)y[i] - (double)ref[i]) > tol)
                        fail_msg("%s fwht n=%d: [%d] %.9g vs scalar %.9g", simd[t]->name, n, i, (double)y[i], (double)ref[i]);
            }
        }
}

static void test_bucketize(void **state) {
    (void)state;
    rng r = {9};
    float x[300], th[900];
    uint8_t ref[300 + 16], got[300 + 16];
    for (int n = 1; n <= 300; n += (n < 70 ? 1 : 37)) {
        for (int i = 0; i < n; i++) {
            float t[3] = {rng_sym(&r), rng_sym(&r), rng_sym(&r)};
            /* Sorted thresholds, sometimes equal ones. */
            if (t[0] > t[1]) { float u = t[0]; t[0] = t[1]; t[1] = u; }
            if (t[1] > t[2]) { float u = t[1]; t[1] = t[2]; t[2] = u; }
            if (t[0] > t[1]) { float u = t[0]; t[0] = t[1]; t[1] = u; }
            if (rng_below(&r, 10) == 0) t[1] = t[0];
            memcpy(th + 3 * i, t, sizeof(t));
            const uint32_t k = rng_below(&r, 12);
            x[i] = k < 3 ? t[k] : k == 3 ? INFINITY : k == 4 ? -INFINITY : k == 5 ? NAN : 1.2f * rng_sym(&r);
        }
        memset(ref, 0xAA, sizeof(ref));
        adm_kernels_scalar()->bucketize(x, th, ref, n);
        for (int t = 0; t < n_simd; t++) {
            memset(got, 0xAA, sizeof(got));
            simd[t]->bucketize(x, th, got, n);
            if (memcmp(ref, got, sizeof(ref)) != 0) fail_msg("%s bucketize n=%d differs", simd[t]->name, n);
        }
    }
}

static void test_code_l1(void **state) {
    (void)state;
    rng r = {13};
    static const int dims[] = {4, 6, 8, 12, 16, 24, 32, 40, 64, 100, 128, 200, 256};
    uint16_t *ref = malloc(sizeof(uint16_t) * 1100), *got = malloc(sizeof(uint16_t) * 1100);
    for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++) {
        const int cd = dims[di], np = cd / 2;
        for (int big = 0; big < 4; big++) {
            /* Tables: Adamas' entries (0..6), GQA-summed ones (0..255), all
             * 255, and 0..1 (whole distances in u8 even for long codes). */
            uint8_t *lut = malloc((size_t)np * 16);
            for (int i = 0; i < np * 16; i++)
                lut[i] = big == 2 ? 255 : (uint8_t)rng_below(&r, big == 0 ? 7 : big == 1 ? 256 : 2);
            for (int n = 1; n <= 1000; n += n < 70 ? 1 : n < 300 ? 29 : 350) {
                /* Exactly the blocks that hold n tokens. */
                const size_t bytes = (size_t)(n + ADM_CODE_BLOCK - 1) / ADM_CODE_BLOCK * (size_t)np * 16;
                uint8_t *codes = malloc(bytes);
                for (size_t i = 0; i < bytes; i++) codes[i] = (uint8_t)rng_u64(&r);
                memset(ref, 0xEE, sizeof(uint16_t) * 1100);
                adm_kernels_scalar()->code_l1(codes, n, cd, lut, ref);
                for (int t = 0; t < n_simd; t++) {
                    memset(got, 0xEE, sizeof(uint16_t) * 1100);
                    simd[t]->code_l1(codes, n, cd, lut, got);
                    for (int i = 0; i < 1100; i++)
                        if (ref[i] != got[i])
                            fail_msg("%s code_l1 code_dim=%d n_tok=%d tables %d: dist[%d] = %d, scalar %d", simd[t]->name,
                                     cd, n, big, i, got[i], ref[i]);
                }
                free(codes);
            }
            free(lut);
        }
    }
    free(ref);
    free(got);
}

/* code_l1_multi: G heads against scalar code_l1 head by head, the distances
 * of each head in a row of a (G, stride) array with guard values. */
static void test_code_l1_multi(void **state) {
    (void)state;
    rng r = {19};
    static const int dims[] = {4, 6, 8, 16, 24, 64, 100, 128};
    for (size_t di = 0; di < sizeof(dims) / sizeof(dims[0]); di++) {
        const int cd = dims[di], np = cd / 2;
        for (int G = 1; G <= 16; G += G < 8 ? 1 : 7) {
            for (int kind = 0; kind < 3; kind++) {
                /* Adamas' tables (0..6), one GQA-summed table among them, 0..1. */
                const size_t lut_stride = (size_t)np * 16 + 16 * (size_t)(kind == 1);
                uint8_t *lut = malloc(lut_stride * (size_t)G);
                for (size_t i = 0; i < lut_stride * (size_t)G; i++)
                    lut[i] = (uint8_t)rng_below(&r, kind == 2 ? 2 : 7);
                if (kind == 1) lut[lut_stride * (size_t)(G - 1)] = 200;
                const int n = 1 + (int)rng_below(&r, 700);
                const size_t stride = (size_t)n + 5, len = stride * (size_t)G;
                const size_t bytes = (size_t)(n + ADM_CODE_BLOCK - 1) / ADM_CODE_BLOCK * (size_t)np * 16;
                uint8_t *codes = malloc(bytes);
                for (size_t i = 0; i < bytes; i++) codes[i] = (uint8_t)rng_u64(&r);
                uint16_t *ref = malloc(sizeof(uint16_t) * len), *got = malloc(sizeof(uint16_t) * len);
                memset(ref, 0xEE, sizeof(uint16_t) * len);
                for (int g = 0; g < G; g++)
                    adm_kernels_scalar()->code_l1(codes, n, cd, lut + (size_t)g * lut_stride, ref + (size_t)g * stride);
                for (int t = 0; t < n_simd; t++) {
                    if (!simd[t]->code_l1_multi) continue;
                    memset(got, 0xEE, sizeof(uint16_t) * len);
                    simd[t]->code_l1_multi(codes, n, cd, lut, lut_stride, G, got, stride);
                    if (memcmp(ref, got, sizeof(uint16_t) * len) != 0)
                        fail_msg("%s code_l1_multi code_dim=%d G=%d n_tok=%d tables %d differ", simd[t]->name, cd, G, n, kind);
                }
                free(codes);
                free(ref);
                free(got);
                free(lut);
            }
        }
    }
}

/* The plain loop filter_le_u16 stands for (kernels.h). */
static int filter_ref(const uint16_t *d, int n, int cut, int32_t *out, int cap) {
    int m = 0;
    for (int t = 0; t < n; t++)
        if (d[t] <= cut) {
            if (m == cap) return -1;
            out[m++] = t;
        }
    return m;
}

static void test_filter(void **state) {
    (void)state;
    rng r = {17};
    const int max_n = 5000;
    uint16_t *d = malloc(sizeof(uint16_t) * max_n);
    int32_t *ref = malloc(sizeof(int32_t) * max_n), *got = malloc(sizeof(int32_t) * max_n);
    for (int trial = 0; trial < 400; trial++) {
        const int n = trial < 100 ? trial : (int)rng_below(&r, (uint32_t)max_n + 1);
        const int max_d = trial % 3 == 0 ? 6 : trial % 3 == 1 ? 384 : 65535;
        uint16_t *dn = d + max_n - n; /* ends at the end of the allocation */
        for (int t = 0; t < n; t++) dn[t] = (uint16_t)rng_below(&r, (uint32_t)max_d + 1);
        const int cut = trial % 7 == 0 ? max_d : (int)rng_below(&r, (uint32_t)max_d / 8 + 2);
        const int cap = trial % 5 == 0 ? (int)rng_below(&r, 64) : max_n;
        const int m = filter_ref(dn, n, cut, ref, cap);
        for (int t = 0; t < n_simd; t++) {
            if (!simd[t]->filter_le_u16) continue;
            const int mg = simd[t]->filter_le_u16(dn, n, cut, got, cap);
            if (mg != m) fail_msg("%s filter_le_u16 n=%d cut=%d cap=%d: %d kept, reference %d", simd[t]->name, n, cut, cap, mg, m);
            if (m > 0 && memcmp(ref, got, sizeof(int32_t) * (size_t)m) != 0)
                fail_msg("%s filter_le_u16 n=%d cut=%d: positions differ", simd[t]->name, n, cut);
        }
    }
    free(d);
    free(ref);
    free(got);
}

static void test_select_fast(void **state) {
    (void)state;
    rng r = {23};
    const int max_n = 40000;
    uint16_t *d = malloc(sizeof(uint16_t) * max_n);
    int32_t *ref = malloc(sizeof(int32_t) * 1200), *got = malloc(sizeof(int32_t) * 1200);
    uint32_t hist[3001];
    const adm_kernels *tabs[3] = {adm_kernels_scalar(), simd[0], simd[1]};
    for (int trial = 0; trial < 60; trial++) {
        const int n = trial < 20 ? 1000 + (int)rng_below(&r, 7000) : 8000 + (int)rng_below(&r, (uint32_t)(max_n - 8000 + 1));
        /* Distributions: uniform; bell-shaped (the real one); few values
         * (huge ties); all equal; sorted either way (the sample sees a
         * skewed picture); a bell with a few far-low outliers. */
        const int kind = trial % 7;
        /* Per-head distances (at most 3 * 128) and GQA-summed ones, whose
         * cut-offs can pass the selection's small-histogram range. */
        const int max_d = (trial / 7) % 2 ? 3000 : 384;
        for (int t = 0; t < n; t++) {
            int v;
            switch (kind) {
            case 0: v = (int)rng_below(&r, max_d + 1); break;
            case 1: v = 0; for (int i = 0; i < 64; i++) v += (int)rng_below(&r, 4); v = v * max_d / 192; break;
            case 2: v = (int)rng_below(&r, 3); break;
            case 3: v = 77; break;
            case 4: v = (int)((int64_t)t * max_d / n); break;
            case 5: v = max_d - (int)((int64_t)t * max_d / n); break;
            default: v = rng_below(&r, 500) == 0 ? (int)rng_below(&r, 20) : 150 + (int)rng_below(&r, 60); break;
            }
            d[t] = (uint16_t)(v > max_d ? max_d : v);
        }
        const int lo = (int)rng_below(&r, 8), hi = n - (int)rng_below(&r, 40);
        const int k = trial % 4 == 3 ? (int)rng_below(&r, 1100) : 1 + (int)rng_below(&r, 200);
        const int m = adm_select_smallest(d, lo, hi, k, max_d, hist, ref);
        for (int t = 0; t < 1 + n_simd; t++) {
            const int mg = adm_select_smallest_fast(tabs[t], d, lo, hi, k, max_d, hist, got);
            assert_int_equal(mg, m);
            if (m > 0 && memcmp(ref, got, sizeof(int32_t) * (size_t)m) != 0)
                fail_msg("%s adm_select_smallest_fast kind %d n=%d k=%d: selection differs", tabs[t]->name, kind, n, k);
        }
    }
    free(d);
    free(ref);
    free(got);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attn_qk), cmocka_unit_test(test_attn_pv), cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_exp_swiglu), cmocka_unit_test(test_attn_tile), cmocka_unit_test(test_fwht),
        cmocka_unit_test(test_bucketize), cmocka_unit_test(test_code_l1),   cmocka_unit_test(test_code_l1_multi),
        cmocka_unit_test(test_filter),    cmocka_unit_test(test_select_fast),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
