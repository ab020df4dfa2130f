/*
 * attn_avx2.c - attention and Adamas kernels with AVX2 + FMA + F16C:
 * attn_qk_f16, attn_pv_f16, fwht, bucketize, code_l1, code_l1_multi and
 * the selection pre-filter filter_le_u16. The design notes and measurements are in
 * docs/attention_kernels.md; attn_avx512.c is the same design with wider
 * vectors.
 *
 * attn_qk_f16 and attn_pv_f16 are bit-identical to scalar.c: the canonical
 * 16 partial sums of kernels.h are two ymm accumulators (lanes 0-7 and
 * 8-15), reduced in the canonical tree, and every attn_pv output element is
 * one fused multiply-add per key in key order. fwht performs scalar.c's
 * additions in the same order; bucketize and code_l1 are exact integers.
 */
#include "kernels.h"
#include "attn_rows.h"
#include "canonical.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#define UNROLL16 _Pragma("clang loop unroll(full)")
#else
#define UNROLL16 _Pragma("GCC unroll 16")
#endif

#define AI static inline __attribute__((always_inline))

/* ---- attn_qk_f16 ----
 *
 * A block of 8 keys is scored against one query at a time. Per (key,
 * query): two accumulators (canonical lanes 0-7 and 8-15), added into the
 * first tree level t = lo + hi; eight such t vectors are transpose-reduced
 * (+4, +2, +1 levels) into one vector of 8 dot products. Keys go 4 at a
 * time (8 accumulators, 2 query registers, 4 finished t vectors: 14 of the
 * 16 ymm registers). With G > 1 the block's keys are converted to f32 once
 * into a stack buffer (L1) shared by all the queries. */

#define QK_BUF_COLS 512 /* 8 keys x 512 floats = 16 KiB; wider heads re-convert per query */
#define QK_SEQ_COLS 128

/* Slot i holds key 4 (i % 2) + i / 2: the reduction leaves slot m + 2 s in
 * lane 4 m + s, so lane k then holds key k. */
#define SLOT_KEY(i) (4 * ((i)&1) + ((i) >> 1))

AI __m256 cvt8(const adm_f16 *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }

/* Lanes below n set (n in 0..8), for maskload / maskstore. */
AI __m256i lanes_below(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* r[slot m + 2 s -> lane 4 m + s] = canonical levels +4, +2, +1 of t[slot]. */
AI __m256 reduce8x8(const __m256 t[8]) {
    __m256 u[4], v[2];
    UNROLL16
    for (int i = 0; i < 4; i++)
        u[i] = _mm256_add_ps(_mm256_permute2f128_ps(t[2 * i], t[2 * i + 1], 0x20),
                             _mm256_permute2f128_ps(t[2 * i], t[2 * i + 1], 0x31));
    UNROLL16
    for (int i = 0; i < 2; i++) {
        const __m256d x = _mm256_castps_pd(u[2 * i]), y = _mm256_castps_pd(u[2 * i + 1]);
        v[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(x, y)), _mm256_castpd_ps(_mm256_unpackhi_pd(x, y)));
    }
    return _mm256_add_ps(_mm256_shuffle_ps(v[0], v[1], 0x88), _mm256_shuffle_ps(v[0], v[1], 0xDD));
}

/* Scores of one block (rows in slot order) against one query, f16 rows
 * converted on the fly. */
AI __m256 qk_block_direct(const adm_f16 *const rows[8], int hk, const float *q) {
    __m256 t[8];
    UNROLL16
    for (int half = 0; half < 2; half++) {
        __m256 acc[8];
        UNROLL16
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
        for (int c = 0; c < hk; c += 16) {
            const __m256 qlo = _mm256_loadu_ps(q + c), qhi = _mm256_loadu_ps(q + c + 8);
            UNROLL16
            for (int i = 0; i < 4; i++) {
                const adm_f16 *r = rows[4 * half + i] + c;
                acc[2 * i] = _mm256_fmadd_ps(cvt8(r), qlo, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_ps(cvt8(r + 8), qhi, acc[2 * i + 1]);
            }
        }
        UNROLL16
        for (int i = 0; i < 4; i++) t[4 * half + i] = _mm256_add_ps(acc[2 * i], acc[2 * i + 1]);
    }
    return reduce8x8(t);
}

/* The same against keys converted into buf: columns c .. c+7 of slot i at
 * buf + 8 (c + i) (c a multiple of 8), so one pointer walks the block. */
AI __m256 qk_block_buf(const float *buf, int hk, const float *q) {
    __m256 t[8];
    UNROLL16
    for (int half = 0; half < 2; half++) {
        __m256 acc[8];
        UNROLL16
        for (int i = 0; i < 8; i++) acc[i] = _mm256_setzero_ps();
        const float *b = buf + 32 * half;
        for (int c = 0; c < hk; c += 16, b += 128) {
            const __m256 qlo = _mm256_loadu_ps(q + c), qhi = _mm256_loadu_ps(q + c + 8);
            UNROLL16
            for (int i = 0; i < 4; i++) {
                acc[2 * i] = _mm256_fmadd_ps(_mm256_load_ps(b + 8 * i), qlo, acc[2 * i]);
                acc[2 * i + 1] = _mm256_fmadd_ps(_mm256_load_ps(b + 64 + 8 * i), qhi, acc[2 * i + 1]);
            }
        }
        UNROLL16
        for (int i = 0; i < 4; i++) t[4 * half + i] = _mm256_add_ps(acc[2 * i], acc[2 * i + 1]);
    }
    return reduce8x8(t);
}

/* Head sizes that are not a multiple of 16: one sequential fused
 * multiply-add chain per (key, query), so lanes hold keys: a chunk of
 * columns is transposed into kt (column i = 8 keys) and each query's chain
 * runs down it. Between chunks the running sums live in s. */
static void qk_seq(const adm_f16 *base, size_t stride, const int32_t *idx, int n, int hk, const float *q, int G,
                   float scale, float *s, int ld) {
    float kt[QK_SEQ_COLS * 8] __attribute__((aligned(32)));
    const __m256 vscale = _mm256_set1_ps(scale);
    for (int j0 = 0; j0 < n; j0 += 8) {
        const int nb = n - j0 < 8 ? n - j0 : 8;
        const __m256i m = lanes_below(nb);
        for (int c0 = 0; c0 < hk; c0 += QK_SEQ_COLS) {
            const int nc = hk - c0 < QK_SEQ_COLS ? hk - c0 : QK_SEQ_COLS;
            for (int l = 0; l < 8; l++) {
                /* Missing keys of a partial block repeat key 0 (never stored). */
                const adm_f16 *r = row_at(base, stride, idx, j0 + (l < nb ? l : 0)) + c0;
                for (int i = 0; i < nc; i++) kt[i * 8 + l] = _cvtsh_ss(r[i]);
            }
            for (int g = 0; g < G; g++) {
                float *sg = s + (size_t)g * ld + j0;
                const float *qg = q + (size_t)g * hk + c0;
                __m256 acc = c0 == 0 ? _mm256_setzero_ps() : _mm256_maskload_ps(sg, m);
                for (int i = 0; i < nc; i++) acc = _mm256_fmadd_ps(_mm256_load_ps(kt + i * 8), _mm256_set1_ps(qg[i]), acc);
                if (c0 + nc == hk) acc = _mm256_mul_ps(acc, vscale);
                _mm256_maskstore_ps(sg, m, acc);
            }
        }
    }
}

static void k_attn_qk_f16(const adm_f16 *base, size_t stride, const int32_t *idx, int n, int hk, const float *q, int G,
                          float scale, float *s, int ld) {
    if (n <= 0 || G <= 0) return;
    if (hk % 16 != 0) {
        qk_seq(base, stride, idx, n, hk, q, G, scale, s, ld);
        return;
    }
    float buf[8 * QK_BUF_COLS] __attribute__((aligned(32)));
    const bool buffered = G > 1 && hk <= QK_BUF_COLS;
    const __m256 vscale = _mm256_set1_ps(scale);
    const int ahead = prefetch_ahead_rows(stride, 8);
    for (int j0 = 0; j0 < n; j0 += 8) {
        const int nb = n - j0 < 8 ? n - j0 : 8;
        const adm_f16 *rows[8];
        for (int i = 0; i < 8; i++) {
            const int key = SLOT_KEY(i);
            rows[i] = row_at(base, stride, idx, j0 + (key < nb ? key : 0));
        }
        if (idx) prefetch_rows(base, stride, idx, j0 + 8, n - j0 - 8 < 8 ? n : j0 + 16, hk * 2);
        else if (ahead > 0 && j0 + ahead < n) {
            const int pb = n - j0 - ahead < 8 ? n - j0 - ahead : 8;
            prefetch_l2(base + (size_t)(j0 + ahead) * stride, ((size_t)(pb - 1) * stride + (size_t)hk) * sizeof(adm_f16));
        }
        if (buffered)
            for (int i = 0; i < 8; i++)
                for (int c = 0; c < hk; c += 8) _mm256_store_ps(buf + 8 * ((size_t)c + i), cvt8(rows[i] + c));
        for (int g = 0; g < G; g++) {
            const float *qg = q + (size_t)g * hk;
            const __m256 r = _mm256_mul_ps(buffered ? qk_block_buf(buf, hk, qg) : qk_block_direct(rows, hk, qg), vscale);
            float *sg = s + (size_t)g * ld + j0;
            if (nb == 8) _mm256_storeu_ps(sg, r);
            else _mm256_maskstore_ps(sg, lanes_below(nb), r);
        }
    }
}

/* ---- attn_pv_f16 ----
 *
 * A tile is Gc query heads x W ymm (8 W output columns) of accumulators in
 * registers (Gc x W <= 12) while the value rows of a key range stream by;
 * each row chunk is converted once for all Gc heads. Column groups that do
 * not fill a W-wide chunk use W = 1, the last hv % 8 columns run the same
 * fused multiply-adds one at a time. When a key range needs several passes,
 * keys go in ranges whose value rows (16 KiB) stay in L1. Per output
 * element: one fused multiply-add per key, ascending. */

/* pf > 0: this pass is the first over keys j0 .. j1 - 1 of contiguous rows
 * and requests row j + pf (if < n) into L2 as it reads row j. */
AI void pv_tile(const adm_f16 *base, size_t stride, const int32_t *idx, int j0, int j1, int i0, int hv, const float *p,
                int ld, float *out, int pf, int n, const int Gc, const int W) {
    __m256 acc[12];
    UNROLL16
    for (int g = 0; g < Gc; g++) {
        UNROLL16
        for (int w = 0; w < W; w++) acc[g * W + w] = _mm256_loadu_ps(out + (size_t)g * hv + i0 + 8 * w);
    }
    for (int j = j0; j < j1; j++) {
        const adm_f16 *v = row_at(base, stride, idx, j) + i0;
        if (idx && j + 8 < j1) {
            const char *r = (const char *)(row_at(base, stride, idx, j + 8) + i0);
            _mm_prefetch(r, _MM_HINT_T0);
            _mm_prefetch(r + 16 * W - 1, _MM_HINT_T0);
        } else if (pf > 0 && j + pf < n) {
            prefetch_l2(base + (size_t)(j + pf) * stride, (size_t)hv * sizeof(adm_f16));
        }
        if (Gc == 1) {
            /* One head: each converted chunk is used at once (8 accumulators,
             * no row held in registers). */
            const __m256 pb = _mm256_broadcast_ss(p + j);
            UNROLL16
            for (int w = 0; w < W; w++) acc[w] = _mm256_fmadd_ps(pb, cvt8(v + 8 * w), acc[w]);
            continue;
        }
        __m256 vv[8];
        UNROLL16
        for (int w = 0; w < W; w++) vv[w] = cvt8(v + 8 * w);
        UNROLL16
        for (int g = 0; g < Gc; g++) {
            const __m256 pb = _mm256_broadcast_ss(p + (size_t)g * ld + j);
            UNROLL16
            for (int w = 0; w < W; w++) acc[g * W + w] = _mm256_fmadd_ps(pb, vv[w], acc[g * W + w]);
        }
    }
    UNROLL16
    for (int g = 0; g < Gc; g++) {
        UNROLL16
        for (int w = 0; w < W; w++) _mm256_storeu_ps(out + (size_t)g * hv + i0 + 8 * w, acc[g * W + w]);
    }
}

/* The last hv % 8 columns [i0, hv) of heads g0 .. g0+Gc-1. */
static void pv_tail(const adm_f16 *base, size_t stride, const int32_t *idx, int j0, int j1, int i0, int hv,
                    const float *p, int ld, float *out, int Gc) {
    for (int j = j0; j < j1; j++) {
        const adm_f16 *v = row_at(base, stride, idx, j);
        for (int g = 0; g < Gc; g++) {
            const float pj = p[(size_t)g * ld + j];
            float *o = out + (size_t)g * hv;
            for (int i = i0; i < hv; i++) o[i] = fmaf(pj, _cvtsh_ss(v[i]), o[i]);
        }
    }
}

/* Ymm per head in a tile of Gc heads (Gc <= 6). */
static int pv_width(int Gc, int hv) { return Gc == 1 ? (hv >= 64 ? 8 : 4) : Gc <= 3 ? 4 : 2; }

static void k_attn_pv_f16(const adm_f16 *base, size_t stride, const int32_t *idx, int n, int hv, const float *p, int G,
                          int ld, float *out) {
    if (n <= 0 || G <= 0 || hv <= 0) return;
    const int n_tiles = (G + 5) / 6;
    int passes = 0;
    for (int t = 0; t < n_tiles; t++) {
        const int Gc = (t + 1) * G / n_tiles - t * G / n_tiles, cw = 8 * pv_width(Gc, hv);
        passes += (hv + cw - 1) / cw;
    }
    const int ahead = prefetch_ahead_rows(stride, 1);
    int range = n;
    if (passes > 1) range = 16384 / (2 * hv) < 16 ? 16 : 16384 / (2 * hv);
    const int hv8 = hv / 8 * 8;
    for (int j0 = 0; j0 < n; j0 += range) {
        const int j1 = n - j0 < range ? n : j0 + range;
        for (int t = 0; t < n_tiles; t++) {
            const int g0 = t * G / n_tiles, Gc = (t + 1) * G / n_tiles - g0, W = pv_width(Gc, hv);
            const float *pt = p + (size_t)g0 * ld;
            float *ot = out + (size_t)g0 * hv;
            int i0 = 0;
#define PV(GC, WW) pv_tile(base, stride, idx, j0, j1, i0, hv, pt, ld, ot, !idx && t == 0 && i0 == 0 ? ahead : 0, n, GC, WW)
            for (; i0 + 8 * W <= hv8; i0 += 8 * W) {
                switch (Gc) {
                case 1:
                    if (W == 8) PV(1, 8);
                    else PV(1, 4);
                    break;
                case 2: PV(2, 4); break;
                case 3: PV(3, 4); break;
                case 4: PV(4, 2); break;
                case 5: PV(5, 2); break;
                default: PV(6, 2); break;
                }
            }
            for (; i0 < hv8; i0 += 8) {
                switch (Gc) {
                case 1: PV(1, 1); break;
                case 2: PV(2, 1); break;
                case 3: PV(3, 1); break;
                case 4: PV(4, 1); break;
                case 5: PV(5, 1); break;
                default: PV(6, 1); break;
                }
            }
#undef PV
            if (hv8 < hv) pv_tail(base, stride, idx, j0, j1, hv8, hv, pt, ld, ot, Gc);
        }
    }
}

/* ---- fwht ----
 *
 * Strides 1, 2, 4 inside one ymm: lane i takes x[i] + x[i ^ h] when bit h of
 * i is clear and x[i ^ h] - x[i] when set, i.e. fma(x, +-1, perm(x)) (exact
 * product, one rounding, as scalar's a + b and a - b). Strides >= 8 are
 * add/sub of whole vectors. Same stages in the same order as scalar.c. */

static void fwht_small(float *x, int n) {
    for (int h = 1; h < n; h *= 2)
        for (int i = 0; i < n; i += 2 * h)
            for (int j = i; j < i + h; j++) {
                const float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
    const float norm = 1.0f / sqrtf((float)n);
    for (int i = 0; i < n; i++) x[i] *= norm;
}

static void k_fwht(float *x, int n) {
    if (n < 8) {
        fwht_small(x, n);
        return;
    }
    const __m256 s1 = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
    const __m256 s2 = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
    const __m256 s4 = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
    for (int i = 0; i < n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        v = _mm256_fmadd_ps(v, s1, _mm256_permute_ps(v, 0xB1));
        v = _mm256_fmadd_ps(v, s2, _mm256_permute_ps(v, 0x4E));
        v = _mm256_fmadd_ps(v, s4, _mm256_permute2f128_ps(v, v, 0x01));
        _mm256_storeu_ps(x + i, v);
    }
    for (int h = 8; h < n; h *= 2)
        for (int i = 0; i < n; i += 2 * h)
            for (int j = i; j < i + h; j += 8) {
                const __m256 a = _mm256_loadu_ps(x + j), b = _mm256_loadu_ps(x + j + h);
                _mm256_storeu_ps(x + j, _mm256_add_ps(a, b));
                _mm256_storeu_ps(x + j + h, _mm256_sub_ps(a, b));
            }
    const __m256 norm = _mm256_set1_ps(1.0f / sqrtf((float)n));
    for (int i = 0; i < n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), norm));
}

/* ---- bucketize ----
 *
 * 8 values per step. Threshold r of value k is float 3k + r of the 24
 * loaded: lane (3k + r) % 8 of vector (3k + r) / 8, so one in-lane-index
 * permute of each of the three vectors and two immediate blends gather it.
 * Three compares give -1 per true; their sum, negated and packed, is the
 * code. */

static void k_bucketize(const float *x, const float *th, uint8_t *codes, int n) {
    const __m256i idx0 = _mm256_setr_epi32(0, 3, 6, 1, 4, 7, 2, 5);
    const __m256i idx1 = _mm256_setr_epi32(1, 4, 7, 2, 5, 0, 3, 6);
    const __m256i idx2 = _mm256_setr_epi32(2, 5, 0, 3, 6, 1, 4, 7);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const float *t = th + 3 * (size_t)i;
        const __m256 t0 = _mm256_loadu_ps(t), t1 = _mm256_loadu_ps(t + 8), t2 = _mm256_loadu_ps(t + 16);
        const __m256 lo = _mm256_blend_ps(
            _mm256_blend_ps(_mm256_permutevar8x32_ps(t0, idx0), _mm256_permutevar8x32_ps(t1, idx0), 0xF8),
            _mm256_permutevar8x32_ps(t2, idx0), 0xC0);
        const __m256 mid = _mm256_blend_ps(
            _mm256_blend_ps(_mm256_permutevar8x32_ps(t0, idx1), _mm256_permutevar8x32_ps(t1, idx1), 0xF8),
            _mm256_permutevar8x32_ps(t2, idx1), 0xE0);
        const __m256 hi = _mm256_blend_ps(
            _mm256_blend_ps(_mm256_permutevar8x32_ps(t0, idx2), _mm256_permutevar8x32_ps(t1, idx2), 0xFC),
            _mm256_permutevar8x32_ps(t2, idx2), 0xE0);
        const __m256 xv = _mm256_loadu_ps(x + i);
        const __m256i c = _mm256_sub_epi32(
            _mm256_setzero_si256(),
            _mm256_add_epi32(_mm256_add_epi32(_mm256_castps_si256(_mm256_cmp_ps(xv, lo, _CMP_GT_OQ)),
                                              _mm256_castps_si256(_mm256_cmp_ps(xv, mid, _CMP_GT_OQ))),
                             _mm256_castps_si256(_mm256_cmp_ps(xv, hi, _CMP_GT_OQ))));
        const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        _mm_storel_epi64((__m128i *)(codes + i), _mm_packus_epi16(w, w));
    }
    for (; i < n; i++)
        codes[i] = (uint8_t)((x[i] > th[3 * i]) + (x[i] > th[3 * i + 1]) + (x[i] > th[3 * i + 2]));
}

/* ---- code_l1 ----
 *
 * Fast-scan (FAISS PQ4 style): one 32-byte load is 2 nibble positions of a
 * 32-token block (one per 128-bit lane); vpshufb looks the low nibbles
 * (tokens 0..15) and the high nibbles (tokens 16..31) up in the two
 * positions' 16-entry tables. Sums stay in u8 for as many steps as the
 * largest table entry allows (255 / max), then are widened without
 * unpacking: A0 += bytes as u16 (even byte + 256 * odd byte), A1 += odd
 * bytes; at the end even = A0 - 256 * A1 (mod 2^16, exact: the true sums
 * are < 2^16). Exact integers, so the order of additions is free. */

static uint8_t lut_max(const uint8_t *lut, int bytes) {
    __m256i mx = _mm256_setzero_si256();
    int i = 0;
    for (; i + 32 <= bytes; i += 32) mx = _mm256_max_epu8(mx, _mm256_loadu_si256((const __m256i *)(lut + i)));
    __m128i q = _mm_max_epu8(_mm256_castsi256_si128(mx), _mm256_extracti128_si256(mx, 1));
    if (i < bytes) q = _mm_max_epu8(q, _mm_loadu_si128((const __m128i *)(lut + i))); /* bytes is a multiple of 16 */
    q = _mm_max_epu8(q, _mm_srli_si128(q, 8));
    q = _mm_max_epu8(q, _mm_srli_si128(q, 4));
    q = _mm_max_epu8(q, _mm_srli_si128(q, 2));
    q = _mm_max_epu8(q, _mm_srli_si128(q, 1));
    return (uint8_t)_mm_cvtsi128_si32(q);
}

/* Adds the table entries of nibble positions [j, j1) of a block into the u8
 * sums: slo for tokens 0..15 (low nibbles), shi for 16..31 (high nibbles). */
AI void scan_positions(const uint8_t *blk, const uint8_t *lut, int j, int j1, __m256i *slo, __m256i *shi) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (; j + 2 <= j1; j += 2) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(blk + 16 * j));
        const __m256i l = _mm256_loadu_si256((const __m256i *)(lut + 16 * j));
        *slo = _mm256_add_epi8(*slo, _mm256_shuffle_epi8(l, _mm256_and_si256(x, low4)));
        *shi = _mm256_add_epi8(*shi, _mm256_shuffle_epi8(l, _mm256_and_si256(_mm256_srli_epi16(x, 4), low4)));
    }
    if (j < j1) { /* a last odd position, alone in the low lane */
        const __m256i x = _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 16 * j)));
        const __m256i l = _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)(lut + 16 * j)));
        *slo = _mm256_add_epi8(*slo, _mm256_shuffle_epi8(l, _mm256_and_si256(x, low4)));
        *shi = _mm256_add_epi8(*shi, _mm256_shuffle_epi8(l, _mm256_and_si256(_mm256_srli_epi16(x, 4), low4)));
    }
}

/* Tokens 0..15 in d0, 16..31 in d1; only the first nt are stored. */
AI void store_block(uint16_t *dist, int nt, __m256i d0, __m256i d1) {
    if (nt >= ADM_CODE_BLOCK) {
        _mm256_storeu_si256((__m256i *)dist, d0);
        _mm256_storeu_si256((__m256i *)(dist + 16), d1);
    } else {
        uint16_t tmp[ADM_CODE_BLOCK];
        _mm256_storeu_si256((__m256i *)tmp, d0);
        _mm256_storeu_si256((__m256i *)(tmp + 16), d1);
        memcpy(dist, tmp, (size_t)nt * sizeof(uint16_t));
    }
}

static void k_code_l1(const uint8_t *codes, int n_tok, int code_dim, const uint8_t *lut, uint16_t *dist) {
    const int np = code_dim / 2;
    if (n_tok <= 0) return;
    const uint8_t mx = np > 0 ? lut_max(lut, 16 * np) : 0;
    const size_t blk_bytes = (size_t)np * 16;
    if ((int)mx * np <= 255) {
        /* Whole distances fit in u8 (head size 64 with Adamas' tables): the
         * two lanes are summed in u8 and widened once. */
        for (int t0 = 0; t0 < n_tok; t0 += ADM_CODE_BLOCK) {
            __m256i slo = _mm256_setzero_si256(), shi = slo;
            scan_positions(codes + (size_t)(t0 / ADM_CODE_BLOCK) * blk_bytes, lut, 0, np, &slo, &shi);
            const __m256i p = _mm256_add_epi8(_mm256_permute2x128_si256(slo, shi, 0x20),
                                              _mm256_permute2x128_si256(slo, shi, 0x31)); /* [tokens 0..15 | 16..31] */
            store_block(dist + t0, n_tok - t0, _mm256_cvtepu8_epi16(_mm256_castsi256_si128(p)),
                        _mm256_cvtepu8_epi16(_mm256_extracti128_si256(p, 1)));
        }
        return;
    }
    const int steps = mx ? 255 / mx : np;
    const int run = 2 * (steps > 0 ? steps : 1); /* positions between widenings */
    for (int t0 = 0; t0 < n_tok; t0 += ADM_CODE_BLOCK) {
        const uint8_t *blk = codes + (size_t)(t0 / ADM_CODE_BLOCK) * blk_bytes;
        __m256i a0lo = _mm256_setzero_si256(), a1lo = a0lo, a0hi = a0lo, a1hi = a0lo;
        for (int j0 = 0; j0 < np; j0 += run) {
            __m256i slo = _mm256_setzero_si256(), shi = slo;
            scan_positions(blk, lut, j0, np - j0 < run ? np : j0 + run, &slo, &shi);
            a0lo = _mm256_add_epi16(a0lo, slo);
            a1lo = _mm256_add_epi16(a1lo, _mm256_srli_epi16(slo, 8));
            a0hi = _mm256_add_epi16(a0hi, shi);
            a1hi = _mm256_add_epi16(a1hi, _mm256_srli_epi16(shi, 8));
        }
        const __m256i elo = _mm256_sub_epi16(a0lo, _mm256_slli_epi16(a1lo, 8));
        const __m256i ehi = _mm256_sub_epi16(a0hi, _mm256_slli_epi16(a1hi, 8));
        /* Lanes summed: [low-nibble tokens | high-nibble tokens], even and odd. */
        const __m256i ev = _mm256_add_epi16(_mm256_permute2x128_si256(elo, ehi, 0x20), _mm256_permute2x128_si256(elo, ehi, 0x31));
        const __m256i od = _mm256_add_epi16(_mm256_permute2x128_si256(a1lo, a1hi, 0x20), _mm256_permute2x128_si256(a1lo, a1hi, 0x31));
        /* r = [tokens 0..7 | 16..23], s = [8..15 | 24..31]. */
        const __m256i r = _mm256_unpacklo_epi16(ev, od), s = _mm256_unpackhi_epi16(ev, od);
        store_block(dist + t0, n_tok - t0, _mm256_permute2x128_si256(r, s, 0x20), _mm256_permute2x128_si256(r, s, 0x31));
    }
}

/* code_l1_multi: the nibble index vectors of a load serve all heads of a
 * group. Only the whole-distance-in-u8 case is fused (2 accumulators per
 * head, up to 6 heads in the 16 registers); other tables go through
 * code_l1 head by head. */
AI void l1_group(const uint8_t *codes, int n_tok, int np, const uint8_t *lut, size_t lut_stride, uint16_t *dist,
                 size_t dist_stride, const int Gc) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    const size_t blk_bytes = (size_t)np * 16;
    for (int t0 = 0; t0 < n_tok; t0 += ADM_CODE_BLOCK) {
        const uint8_t *blk = codes + (size_t)(t0 / ADM_CODE_BLOCK) * blk_bytes;
        __m256i slo[6], shi[6];
        UNROLL16
        for (int g = 0; g < Gc; g++) slo[g] = shi[g] = _mm256_setzero_si256();
        int j = 0;
        for (; j + 2 <= np; j += 2) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(blk + 16 * j));
            const __m256i il = _mm256_and_si256(x, low4), ih = _mm256_and_si256(_mm256_srli_epi16(x, 4), low4);
            UNROLL16
            for (int g = 0; g < Gc; g++) {
                const __m256i l = _mm256_loadu_si256((const __m256i *)(lut + (size_t)g * lut_stride + 16 * j));
                slo[g] = _mm256_add_epi8(slo[g], _mm256_shuffle_epi8(l, il));
                shi[g] = _mm256_add_epi8(shi[g], _mm256_shuffle_epi8(l, ih));
            }
        }
        if (j < np) { /* a last odd position, alone in the low lane */
            const __m256i x = _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)(blk + 16 * j)));
            const __m256i il = _mm256_and_si256(x, low4), ih = _mm256_and_si256(_mm256_srli_epi16(x, 4), low4);
            UNROLL16
            for (int g = 0; g < Gc; g++) {
                const __m256i l =
                    _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)(lut + (size_t)g * lut_stride + 16 * j)));
                slo[g] = _mm256_add_epi8(slo[g], _mm256_shuffle_epi8(l, il));
                shi[g] = _mm256_add_epi8(shi[g], _mm256_shuffle_epi8(l, ih));
            }
        }
        UNROLL16
        for (int g = 0; g < Gc; g++) {
            const __m256i p = _mm256_add_epi8(_mm256_permute2x128_si256(slo[g], shi[g], 0x20),
                                              _mm256_permute2x128_si256(slo[g], shi[g], 0x31));
            store_block(dist + (size_t)g * dist_stride + t0, n_tok - t0, _mm256_cvtepu8_epi16(_mm256_castsi256_si128(p)),
                        _mm256_cvtepu8_epi16(_mm256_extracti128_si256(p, 1)));
        }
    }
}

static void k_code_l1_multi(const uint8_t *codes, int n_tok, int code_dim, const uint8_t *lut, size_t lut_stride, int G,
                            uint16_t *dist, size_t dist_stride) {
    const int np = code_dim / 2;
    if (n_tok <= 0 || G <= 0) return;
    int mx = 0;
    for (int g = 0; g < G && np > 0; g++) {
        const int m = lut_max(lut + (size_t)g * lut_stride, 16 * np);
        mx = m > mx ? m : mx;
    }
    if (np == 0 || mx * np > 255) {
        for (int g = 0; g < G; g++)
            k_code_l1(codes, n_tok, code_dim, lut + (size_t)g * lut_stride, dist + (size_t)g * dist_stride);
        return;
    }
    /* Balanced groups of at most 6 heads (G = 7: 4 + 3). */
    const int n_groups = (G + 5) / 6;
    for (int i = 0; i < n_groups; i++) {
        const int g0 = i * G / n_groups, Gc = (i + 1) * G / n_groups - g0;
        const uint8_t *l = lut + (size_t)g0 * lut_stride;
        uint16_t *d = dist + (size_t)g0 * dist_stride;
        switch (Gc) {
        case 1: l1_group(codes, n_tok, np, l, lut_stride, d, dist_stride, 1); break;
        case 2: l1_group(codes, n_tok, np, l, lut_stride, d, dist_stride, 2); break;
        case 3: l1_group(codes, n_tok, np, l, lut_stride, d, dist_stride, 3); break;
        case 4: l1_group(codes, n_tok, np, l, lut_stride, d, dist_stride, 4); break;
        case 5: l1_group(codes, n_tok, np, l, lut_stride, d, dist_stride, 5); break;
        default: l1_group(codes, n_tok, np, l, lut_stride, d, dist_stride, 6); break;
        }
    }
}

/* ---- filter_le_u16 ----
 *
 * The selection pre-filter keeps ~2k of tens of thousands of distances:
 * d <= cut is min(d, cut) == d, 32 values per step tested at once; the rare
 * hits are walked bit by bit (movemask gives two bits per u16, the even
 * ones are kept). */

AI int filter_bits(uint32_t bits, int t, int m, int32_t *out) {
    while (bits) {
        out[m++] = t + __builtin_ctz(bits) / 2;
        bits &= bits - 1;
    }
    return m;
}

static int k_filter_le_u16(const uint16_t *d, int n, int cut, int32_t *out, int cap) {
    if (cut < 0) return 0;
    const __m256i c = _mm256_set1_epi16((short)(uint16_t)(cut > 65535 ? 65535 : cut));
    int m = 0, t = 0;
    for (; t + 32 <= n; t += 32) {
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)(d + t));
        const __m256i x1 = _mm256_loadu_si256((const __m256i *)(d + t + 16));
        const __m256i le0 = _mm256_cmpeq_epi16(_mm256_min_epu16(x0, c), x0);
        const __m256i le1 = _mm256_cmpeq_epi16(_mm256_min_epu16(x1, c), x1);
        if (_mm256_testz_si256(_mm256_or_si256(le0, le1), _mm256_or_si256(le0, le1))) continue;
        const uint32_t b0 = (uint32_t)_mm256_movemask_epi8(le0) & 0x55555555u;
        const uint32_t b1 = (uint32_t)_mm256_movemask_epi8(le1) & 0x55555555u;
        if (m + __builtin_popcount(b0) + __builtin_popcount(b1) > cap) return -1;
        m = filter_bits(b0, t, m, out);
        m = filter_bits(b1, t + 16, m, out);
    }
    for (; t < n; t++)
        if (d[t] <= cut) {
            if (m == cap) return -1;
            out[m++] = t;
        }
    return m;
}

/* The canonical exponential (canonical.h) step by step. Without vscalefps,
 * 2^n goes in two halves: p * 2^(n>>1) is exact (|n| <= 192 keeps it a
 * normal number), the second multiply rounds once, as ldexpf does. */
static inline __m256 pow2i(__m256i k) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23)); }

static inline __m256 exp_canonical(__m256 x) {
    const __m256 shift = _mm256_set1_ps(ADM_EXP_SHIFT);
    const __m256 n = _mm256_sub_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(ADM_EXP_LOG2E), shift), shift);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ADM_EXP_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(ADM_EXP_LN2_LO), r);
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 hi = _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(ADM_EXP_C5), r, _mm256_set1_ps(ADM_EXP_C4)), r2,
                                      _mm256_fmadd_ps(_mm256_set1_ps(ADM_EXP_C3), r, _mm256_set1_ps(ADM_EXP_C2)));
    const __m256 p = _mm256_fmadd_ps(hi, r2, _mm256_fmadd_ps(_mm256_set1_ps(ADM_EXP_C1), r, _mm256_set1_ps(1.0f)));
    const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 big = _mm256_cmp_ps(absn, _mm256_set1_ps(ADM_EXP_NMAX), _CMP_GT_OQ);
    /* NaN lanes convert to INT_MIN: clamp n for the exponent arithmetic (their p is NaN anyway). */
    const __m256i ni = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(n, _mm256_set1_ps(-ADM_EXP_NMAX)),
                                                        _mm256_set1_ps(ADM_EXP_NMAX)));
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256 res = _mm256_mul_ps(_mm256_mul_ps(p, pow2i(n1)), pow2i(_mm256_sub_epi32(ni, n1)));
    if (_mm256_testz_ps(big, big)) return res;
    const __m256 inf = _mm256_and_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(INFINITY));
    return _mm256_blendv_ps(res, inf, big);
}

/* Softmax (kernels.h): two ymm hold canonical lanes 0-7 and 8-15 (j mod 16);
 * a tail of fewer than 16 values goes through the scalar definition into
 * the same lanes. */
static void k_softmax(float *s, int n) {
    float max = -INFINITY;
    int j = 0;
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (; j + 8 <= n; j += 8) vmax = _mm256_max_ps(_mm256_loadu_ps(s + j), vmax); /* skips NaN, as scalar does */
    float lanes[16];
    _mm256_storeu_ps(lanes, vmax);
    for (int i = 0; i < 8; i++) max = lanes[i] > max ? lanes[i] : max;
    for (; j < n; j++) max = s[j] > max ? s[j] : max;
    const __m256 vm = _mm256_set1_ps(max);
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    for (j = 0; j + 16 <= n; j += 16) {
        const __m256 a = exp_canonical(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
        const __m256 b = exp_canonical(_mm256_sub_ps(_mm256_loadu_ps(s + j + 8), vm));
        _mm256_storeu_ps(s + j, a);
        _mm256_storeu_ps(s + j + 8, b);
        lo = _mm256_add_ps(lo, a);
        hi = _mm256_add_ps(hi, b);
    }
    _mm256_storeu_ps(lanes, lo);
    _mm256_storeu_ps(lanes + 8, hi);
    for (int l = 0; j < n; j++, l++) {
        s[j] = adm_canonical_exp(s[j] - max);
        lanes[l] += s[j];
    }
    const float inv = 1.0f / adm_reduce16(lanes);
    const __m256 vinv = _mm256_set1_ps(inv);
    for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(s + j, _mm256_mul_ps(_mm256_loadu_ps(s + j), vinv));
    for (; j < n; j++) s[j] *= inv;
}

/* attn_tile (kernels.h): eight vectors cover the 64 key slots; every score
 * is its own chain of fused multiply-adds over d, as in scalar.c. */
static void attn_tile_1(const float *kt, const float *vt, int m0, int m, int hk, int hv, const float *q, float scale,
                        float softcap, float *M, float *S, float *acc) {
    __m256 s[8];
    for (int v = 0; v < 8; v++) s[v] = _mm256_setzero_ps();
    for (int d = 0; d < hk; d++) {
        const __m256 qd = _mm256_set1_ps(q[d]);
        for (int v = 0; v < 8; v++) s[v] = _mm256_fmadd_ps(_mm256_loadu_ps(kt + d * ADM_ATTN_TILE + 8 * v), qd, s[v]);
    }
    _Alignas(32) float e[ADM_ATTN_TILE];
    float tmax = -INFINITY;
    for (int v = 0; v < 8; v++) _mm256_store_ps(e + 8 * v, _mm256_mul_ps(s[v], _mm256_set1_ps(scale)));
    for (int j = 0; j < ADM_ATTN_TILE; j++) {
        if (j < m0 || j >= m) e[j] = -INFINITY;
        else if (softcap > 0.0f) e[j] = tanhf(e[j]) * softcap;
        tmax = e[j] > tmax ? e[j] : tmax;
    }
    const float mnew = adm_tile_raise_max(M, S, acc, hv, tmax);
    double sum = 0.0;
    for (int v = 0; v < 8; v++) _mm256_store_ps(e + 8 * v, exp_canonical(_mm256_sub_ps(_mm256_load_ps(e + 8 * v), _mm256_set1_ps(mnew))));
    for (int c = 0; c < ADM_ATTN_TILE; c += 16) sum += (double)adm_reduce16(e + c);
    *S = (float)((double)*S + sum);
    int i = 0;
    for (; i + 32 <= hv; i += 32) {
        __m256 o[4];
        for (int v = 0; v < 4; v++) o[v] = _mm256_loadu_ps(acc + i + 8 * v);
        for (int j = m0; j < m; j++) {
            const __m256 ej = _mm256_set1_ps(e[j]);
            for (int v = 0; v < 4; v++) o[v] = _mm256_fmadd_ps(_mm256_loadu_ps(vt + (size_t)j * hv + i + 8 * v), ej, o[v]);
        }
        for (int v = 0; v < 4; v++) _mm256_storeu_ps(acc + i + 8 * v, o[v]);
    }
    for (; i < hv; i++)
        for (int j = m0; j < m; j++) acc[i] = fmaf(vt[(size_t)j * hv + i], e[j], acc[i]);
}

static void k_attn_tile(const float *kt, const float *vt, int m0, int m, int hk, int hv, const float *q, int G,
                        float scale, float softcap, float *M, float *S, float *acc) {
    for (int g = 0; g < G; g++)
        attn_tile_1(kt, vt, m0, m, hk, hv, q + (size_t)g * hk, scale, softcap, M + g, S + g, acc + (size_t)g * hv);
}

static void k_swiglu(int n, const float *g, const float *u, float *out) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 den = _mm256_add_ps(_mm256_set1_ps(1.0f), exp_canonical(_mm256_sub_ps(_mm256_setzero_ps(), x)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(x, den), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++) out[i] = adm_canonical_swiglu(g[i], u[i]);
}

void adm_kernels_init_attn_avx2(adm_kernels *t) {
    t->attn_tile = k_attn_tile;
    t->swiglu = k_swiglu;
    t->softmax = k_softmax;
    t->attn_qk_f16 = k_attn_qk_f16;
    t->attn_pv_f16 = k_attn_pv_f16;
    t->fwht = k_fwht;
    t->bucketize = k_bucketize;
    t->code_l1 = k_code_l1;
    t->code_l1_multi = k_code_l1_multi;
    t->filter_le_u16 = k_filter_le_u16;
}
