/*
 * attn_avx512.c - attention and Adamas kernels with AVX-512 F/BW/VL (+F16C,
 * FMA): attn_qk_f16, attn_pv_f16, fwht, bucketize, code_l1, code_l1_multi
 * and the Adamas selection pre-filter filter_le_u16. The design notes
 * and measurements are in docs/attention_kernels.md.
 *
 * attn_qk_f16 and attn_pv_f16 are bit-identical to scalar.c: every (key,
 * query) dot product runs the canonical order of kernels.h (16 interleaved
 * fused multiply-add partial sums, then the tree (l, l+8), +4, +2, +1), and
 * every output element of attn_pv is one fused multiply-add per key in key
 * order. Only the grouping of independent work into registers differs.
 * fwht performs the same additions as scalar.c in the same order (so it is
 * bit-identical too, although only a tolerance is promised); bucketize and
 * code_l1 are exact integer results.
 */
#include "kernels.h"
#include "attn_rows.h"
#include "canonical.h"

#include <immintrin.h>
#include <math.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#define UNROLL16 _Pragma("clang loop unroll(full)")
#else
#define UNROLL16 _Pragma("GCC unroll 16")
#endif

#define AI static inline __attribute__((always_inline))

/* ---- attn_qk_f16 ----
 *
 * A block of 16 keys is scored against one query at a time: 16 zmm
 * accumulators, one per key, each holding the canonical 16 partial sums.
 * The transpose-reduce below adds them in the canonical tree and leaves the
 * 16 dot products in one vector, which is scaled and stored with one
 * (masked) store into s[g * ld + j0 ..]. With G > 1 the block's keys are
 * converted to f32 once into a stack buffer (L1), and the 16 accumulators
 * hold 4 keys x 4 queries (or 8 x 2) so that every load feeds several
 * FMAs; with G == 1 the f16 rows are converted on the fly. */

/* Columns of the f32 key buffer (16 keys x QK_BUF_COLS floats = 32 KiB);
 * wider heads re-convert per query head (no model uses them today). */
#define QK_BUF_COLS 512
/* Columns transposed at a time by the sequential (hk % 16 != 0) path. */
#define QK_SEQ_COLS 128

/* Accumulator slot i holds key 4 (i % 4) + i / 4 of the block: the
 * reduction's shuffles leave slot m + 4 s in lane 4 m + s, so feeding keys in
 * this order makes lane k hold key k without a final permute. */
#define SLOT_KEY(i) (4 * ((i)&3) + ((i) >> 2))

AI __m512 cvt16(const adm_f16 *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

/* r[slot m + 4 s -> lane 4 m + s] = reduce16(a[slot]), canonical tree:
 *   stage 1: [a.lo256 | b.lo256] + [a.hi256 | b.hi256]   t[i] = a[i] + a[i+8]
 *   stage 2: 128-bit chunks 0,2 + 1,3                   u[i] = t[i] + t[i+4]
 *   stage 3: 64-bit pairs lo + hi                       v[i] = u[i] + u[i+2]
 *   stage 4: even + odd lanes                           v[0] + v[1] */
AI __m512 reduce16x16(const __m512 a[16]) {
    __m512 b[8], c[4], d[2];
    UNROLL16
    for (int i = 0; i < 8; i++)
        b[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xEE));
    UNROLL16
    for (int i = 0; i < 4; i++)
        c[i] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0x88),
                             _mm512_shuffle_f32x4(b[2 * i], b[2 * i + 1], 0xDD));
    UNROLL16
    for (int i = 0; i < 2; i++) {
        const __m512d x = _mm512_castps_pd(c[2 * i]), y = _mm512_castps_pd(c[2 * i + 1]);
        d[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    return _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
}

/* Scores of one block (rows in slot order) against one query, f16 rows
 * converted on the fly. */
AI __m512 qk_block_direct(const adm_f16 *const rows[16], int hk, const float *q) {
    __m512 acc[16];
    UNROLL16
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    for (int c = 0; c < hk; c += 16) {
        const __m512 qv = _mm512_loadu_ps(q + c);
        UNROLL16
        for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(cvt16(rows[i] + c), qv, acc[i]);
    }
    return reduce16x16(acc);
}

/* Against keys already converted into buf (columns c .. c+15 of key k of
 * the block at buf + 16 (c + k)): keys kb0 .. kb0 + 16/Qb - 1 times Qb
 * queries (q, q + hk, ...), one accumulator per pair. Each loaded key chunk
 * serves Qb queries and each query chunk 16/Qb keys, so there are 1 + 16/Qb
 * loads per 16/Qb FMAs instead of one per FMA. Slot i is lane p = 4 (i % 4)
 * + i / 4 of the reduced vector (see reduce16x16); lane p is the pair
 * (query p / Kb, key p % Kb), so each query's scores are consecutive lanes. */
AI __m512 qk_tile(const float *buf, int hk, const float *q, int kb0, const int Qb) {
    const int Kb = 16 / Qb;
    __m512 acc[16];
    UNROLL16
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    for (int c = 0; c < hk; c += 16) {
        __m512 kv[16], qv[4];
        UNROLL16
        for (int k = 0; k < Kb; k++) kv[k] = _mm512_load_ps(buf + 16 * ((size_t)c + kb0 + k));
        UNROLL16
        for (int m = 0; m < Qb; m++) qv[m] = _mm512_loadu_ps(q + (size_t)m * hk + c);
        UNROLL16
        for (int i = 0; i < 16; i++) {
            const int p = 4 * (i & 3) + (i >> 2);
            acc[i] = _mm512_fmadd_ps(kv[p % Kb], qv[p / Kb], acc[i]);
        }
    }
    return reduce16x16(acc);
}

/* Head sizes that are not a multiple of 16: the canonical order is one
 * sequential fused multiply-add chain per (key, query), so lanes hold keys:
 * a chunk of columns is transposed into kt (column i = 16 keys) and each
 * query's chain runs down it. Between chunks the running sums live in s. */
static void qk_seq(const adm_f16 *base, size_t stride, const int32_t *idx, int n, int hk, const float *q, int G,
                   float scale, float *s, int ld) {
    float kt[QK_SEQ_COLS * 16] __attribute__((aligned(64)));
    const __m512 vscale = _mm512_set1_ps(scale);
    for (int j0 = 0; j0 < n; j0 += 16) {
        const int nb = n - j0 < 16 ? n - j0 : 16;
        const __mmask16 m = (__mmask16)((1u << nb) - 1);
        for (int c0 = 0; c0 < hk; c0 += QK_SEQ_COLS) {
            const int nc = hk - c0 < QK_SEQ_COLS ? hk - c0 : QK_SEQ_COLS;
            for (int l = 0; l < 16; l++) {
                /* Missing keys of a partial block repeat key 0 (never stored). */
                const adm_f16 *r = row_at(base, stride, idx, j0 + (l < nb ? l : 0)) + c0;
                for (int i = 0; i < nc; i++) kt[i * 16 + l] = _cvtsh_ss(r[i]);
            }
            for (int g = 0; g < G; g++) {
                float *sg = s + (size_t)g * ld + j0;
                const float *qg = q + (size_t)g * hk + c0;
                __m512 acc = c0 == 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, sg);
                for (int i = 0; i < nc; i++) acc = _mm512_fmadd_ps(_mm512_load_ps(kt + i * 16), _mm512_set1_ps(qg[i]), acc);
                if (c0 + nc == hk) acc = _mm512_mul_ps(acc, vscale);
                _mm512_mask_storeu_ps(sg, m, acc);
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
    float buf[16 * QK_BUF_COLS] __attribute__((aligned(64)));
    const bool buffered = G > 1 && hk <= QK_BUF_COLS;
    const __m512 vscale = _mm512_set1_ps(scale);
    const int ahead = prefetch_ahead_rows(stride, 16);
    for (int j0 = 0; j0 < n; j0 += 16) {
        const int nb = n - j0 < 16 ? n - j0 : 16;
        if (idx) prefetch_rows(base, stride, idx, j0 + 16, n - j0 - 16 < 16 ? n : j0 + 32, hk * 2);
        else if (ahead > 0 && j0 + ahead < n) {
            const int pb = n - j0 - ahead < 16 ? n - j0 - ahead : 16;
            prefetch_l2(base + (size_t)(j0 + ahead) * stride, ((size_t)(pb - 1) * stride + (size_t)hk) * sizeof(adm_f16));
        }
        if (!buffered) {
            const __mmask16 m = (__mmask16)((1u << nb) - 1);
            const adm_f16 *rows[16];
            for (int i = 0; i < 16; i++) {
                const int key = SLOT_KEY(i);
                rows[i] = row_at(base, stride, idx, j0 + (key < nb ? key : 0));
            }
            for (int g = 0; g < G; g++) {
                const __m512 r = qk_block_direct(rows, hk, q + (size_t)g * hk);
                _mm512_mask_storeu_ps(s + (size_t)g * ld + j0, m, _mm512_mul_ps(r, vscale));
            }
            continue;
        }
        /* Missing keys of a partial block repeat key 0 (never stored). */
        for (int k = 0; k < 16; k++) {
            const adm_f16 *r = row_at(base, stride, idx, j0 + (k < nb ? k : 0));
            for (int c = 0; c < hk; c += 16) _mm512_store_ps(buf + 16 * ((size_t)c + k), cvt16(r + c));
        }
        /* Queries in fours, then a pair, then one (G = 7: 4 + 2 + 1). */
        for (int g = 0; g < G;) {
            const float *qg = q + (size_t)g * hk;
            float *sg = s + (size_t)g * ld + j0;
            if (G - g >= 4) {
                for (int kb0 = 0; kb0 < nb; kb0 += 4) {
                    const __m512 r = _mm512_mul_ps(qk_tile(buf, hk, qg, kb0, 4), vscale);
                    const __mmask8 m = (__mmask8)(nb - kb0 >= 4 ? 0xF : (1u << (nb - kb0)) - 1);
                    _mm_mask_storeu_ps(sg + kb0, m, _mm512_extractf32x4_ps(r, 0));
                    _mm_mask_storeu_ps(sg + (size_t)ld + kb0, m, _mm512_extractf32x4_ps(r, 1));
                    _mm_mask_storeu_ps(sg + 2 * (size_t)ld + kb0, m, _mm512_extractf32x4_ps(r, 2));
                    _mm_mask_storeu_ps(sg + 3 * (size_t)ld + kb0, m, _mm512_extractf32x4_ps(r, 3));
                }
                g += 4;
            } else if (G - g >= 2) {
                for (int kb0 = 0; kb0 < nb; kb0 += 8) {
                    const __m512 r = _mm512_mul_ps(qk_tile(buf, hk, qg, kb0, 2), vscale);
                    const __mmask8 m = (__mmask8)(nb - kb0 >= 8 ? 0xFF : (1u << (nb - kb0)) - 1);
                    _mm256_mask_storeu_ps(sg + kb0, m, _mm512_extractf32x8_ps(r, 0));
                    _mm256_mask_storeu_ps(sg + (size_t)ld + kb0, m, _mm512_extractf32x8_ps(r, 1));
                }
                g += 2;
            } else {
                const __m512 r = _mm512_mul_ps(qk_tile(buf, hk, qg, 0, 1), vscale);
                _mm512_mask_storeu_ps(sg, (__mmask16)((1u << nb) - 1), r);
                g += 1;
            }
        }
    }
}

/* ---- attn_pv_f16 ----
 *
 * A tile is Gc query heads x W zmm (16 W output columns) of accumulators
 * held in registers while the value rows of a range of keys stream by: each
 * row chunk is loaded and converted once and used by all Gc heads (p is
 * broadcast from memory by each FMA, fmadd_bcast). Gc x W <= 16 leaves room for the
 * converted row; W shrinks as Gc grows so there are always >= 8 independent
 * FMA chains (Gc = 1 uses 4 or 8). Columns past hv are masked off. When one
 * key range needs several passes (more column chunks or head tiles), keys go
 * in ranges whose value rows (16 KiB) stay in L1 between the passes. The
 * order per output element stays: one fused multiply-add per key, ascending. */

/* acc + v * (*p broadcast): vfmadd231ps with an embedded {1to16} broadcast,
 * written out because gcc and clang share one vbroadcastss between the W
 * FMAs of a head, and on Zen 4 that broadcast takes FMA-pipe time (pv 1.45
 * -> 1.28 ns per key x head at G = 7; docs/attention_kernels.md). The same
 * product and sum as _mm512_fmadd_ps(set1(*p), v, acc): one rounding. */
AI __m512 fmadd_bcast(__m512 v, const float *p, __m512 acc) {
    __asm__("vfmadd231ps %[p]%{1to16%}, %[v], %[acc]" : [acc] "+v"(acc) : [v] "v"(v), [p] "m"(*p));
    return acc;
}

/* pf > 0: this pass is the first over keys j0 .. j1 - 1 of contiguous rows
 * and requests row j + pf (if < n) into L2 as it reads row j. */
AI void pv_tile(const adm_f16 *base, size_t stride, const int32_t *idx, int j0, int j1, int i0, int hv, const float *p,
                int ld, float *out, int pf, int n, const int Gc, const int W) {
    __mmask16 m[8];
    for (int w = 0; w < W; w++) {
        const int c = hv - i0 - 16 * w;
        m[w] = c >= 16 ? (__mmask16)0xFFFF : c <= 0 ? (__mmask16)0 : (__mmask16)((1u << c) - 1);
    }
    __m512 acc[16];
    UNROLL16
    for (int g = 0; g < Gc; g++) {
        UNROLL16
        for (int w = 0; w < W; w++) acc[g * W + w] = _mm512_maskz_loadu_ps(m[w], out + (size_t)g * hv + i0 + 16 * w);
    }
    for (int j = j0; j < j1; j++) {
        const adm_f16 *v = row_at(base, stride, idx, j) + i0;
        if (idx && j + 8 < j1) {
            const char *r = (const char *)(row_at(base, stride, idx, j + 8) + i0);
            _mm_prefetch(r, _MM_HINT_T0);
            _mm_prefetch(r + 32 * W - 1, _MM_HINT_T0);
        } else if (pf > 0 && j + pf < n) {
            prefetch_l2(base + (size_t)(j + pf) * stride, (size_t)hv * sizeof(adm_f16));
        }
        __m512 vv[8];
        UNROLL16
        for (int w = 0; w < W; w++) vv[w] = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m[w], v + 16 * w));
        UNROLL16
        for (int g = 0; g < Gc; g++) {
            const float *pg = p + (size_t)g * ld + j;
            UNROLL16
            for (int w = 0; w < W; w++) acc[g * W + w] = fmadd_bcast(vv[w], pg, acc[g * W + w]);
        }
    }
    UNROLL16
    for (int g = 0; g < Gc; g++) {
        UNROLL16
        for (int w = 0; w < W; w++) _mm512_mask_storeu_ps(out + (size_t)g * hv + i0 + 16 * w, m[w], acc[g * W + w]);
    }
}

/* Zmm per head in a tile of Gc heads. */
static int pv_width(int Gc, int hv) { return Gc == 1 ? (hv > 64 ? 8 : 4) : Gc <= 4 ? 4 : 2; }

static void k_attn_pv_f16(const adm_f16 *base, size_t stride, const int32_t *idx, int n, int hv, const float *p, int G,
                          int ld, float *out) {
    if (n <= 0 || G <= 0 || hv <= 0) return;
    const int n_tiles = (G + 7) / 8;
    int passes = 0;
    for (int t = 0; t < n_tiles; t++) {
        const int Gc = (t + 1) * G / n_tiles - t * G / n_tiles, cw = 16 * pv_width(Gc, hv);
        passes += (hv + cw - 1) / cw;
    }
    const int ahead = prefetch_ahead_rows(stride, 1);
    int range = n;
    if (passes > 1) range = 16384 / (2 * hv) < 16 ? 16 : 16384 / (2 * hv);
    for (int j0 = 0; j0 < n; j0 += range) {
        const int j1 = n - j0 < range ? n : j0 + range;
        for (int t = 0; t < n_tiles; t++) {
            const int g0 = t * G / n_tiles, Gc = (t + 1) * G / n_tiles - g0, W = pv_width(Gc, hv);
            const float *pt = p + (size_t)g0 * ld;
            float *ot = out + (size_t)g0 * hv;
            for (int i0 = 0; i0 < hv; i0 += 16 * W) {
                const int pf = !idx && t == 0 && i0 == 0 ? ahead : 0;
#define PV(GC, WW) pv_tile(base, stride, idx, j0, j1, i0, hv, pt, ld, ot, pf, n, GC, WW)
                switch (Gc) {
                case 1:
                    if (W == 8) PV(1, 8);
                    else PV(1, 4);
                    break;
                case 2: PV(2, 4); break;
                case 3: PV(3, 4); break;
                case 4: PV(4, 4); break;
                case 5: PV(5, 2); break;
                case 6: PV(6, 2); break;
                case 7: PV(7, 2); break;
                default: PV(8, 2); break;
                }
#undef PV
            }
        }
    }
}

/* ---- fwht ----
 *
 * Strides 1, 2, 4, 8 inside one zmm: lane i takes x[i] + x[i ^ h] when bit h
 * of i is clear and x[i ^ h] - x[i] when it is set, i.e. fma(x, +-1, perm(x))
 * (exact: the product by +-1 is exact and the sum rounds once, as scalar's
 * a + b and a - b). Strides >= 16 are add/sub of whole vectors. The stages
 * run in scalar.c's order, so the results are identical. */

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
    if (n < 16) {
        fwht_small(x, n);
        return;
    }
    const __m512 s1 = _mm512_setr_ps(1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1);
    const __m512 s2 = _mm512_setr_ps(1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1);
    const __m512 s4 = _mm512_setr_ps(1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1);
    const __m512 s8 = _mm512_setr_ps(1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1);
    for (int i = 0; i < n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        v = _mm512_fmadd_ps(v, s1, _mm512_permute_ps(v, 0xB1));
        v = _mm512_fmadd_ps(v, s2, _mm512_permute_ps(v, 0x4E));
        v = _mm512_fmadd_ps(v, s4, _mm512_shuffle_f32x4(v, v, 0xB1));
        v = _mm512_fmadd_ps(v, s8, _mm512_shuffle_f32x4(v, v, 0x4E));
        _mm512_storeu_ps(x + i, v);
    }
    for (int h = 16; h < n; h *= 2)
        for (int i = 0; i < n; i += 2 * h)
            for (int j = i; j < i + h; j += 16) {
                const __m512 a = _mm512_loadu_ps(x + j), b = _mm512_loadu_ps(x + j + h);
                _mm512_storeu_ps(x + j, _mm512_add_ps(a, b));
                _mm512_storeu_ps(x + j + h, _mm512_sub_ps(a, b));
            }
    const __m512 norm = _mm512_set1_ps(1.0f / sqrtf((float)n));
    for (int i = 0; i < n; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), norm));
}

/* ---- bucketize ----
 *
 * 16 values per step: the interleaved (lo, mid, hi) thresholds of 48 floats
 * are de-interleaved with two two-source permutes each (indices 3k + r below
 * 32 come from the first two vectors, the rest from the third), then three
 * compares; each true compare adds 1 to the value's byte. */

static void k_bucketize(const float *x, const float *th, uint8_t *codes, int n) {
    /* idx_a[r][k] picks th[3k + r] from (t0, t1) when 3k + r < 32;
     * idx_b[r][k] keeps that lane or picks th[3k + r] from t2. */
    __m512i idx_a[3], idx_b[3];
    for (int r = 0; r < 3; r++) {
        int32_t a[16], b[16];
        for (int k = 0; k < 16; k++) {
            const int e = 3 * k + r;
            a[k] = e < 32 ? e : 0;
            b[k] = e < 32 ? k : 16 + e - 32;
        }
        idx_a[r] = _mm512_loadu_si512(a);
        idx_b[r] = _mm512_loadu_si512(b);
    }
    const __m128i one = _mm_set1_epi8(1);
    for (int i = 0; i < n; i += 16) {
        const int nv = n - i < 16 ? n - i : 16;
        const __mmask16 m = (__mmask16)((1u << nv) - 1);
        const int nt = 3 * nv; /* thresholds of this step */
        const __mmask16 m0 = (__mmask16)(nt >= 16 ? 0xFFFF : (1u << nt) - 1);
        const __mmask16 m1 = (__mmask16)(nt >= 32 ? 0xFFFF : nt <= 16 ? 0 : (1u << (nt - 16)) - 1);
        const __mmask16 m2 = (__mmask16)(nt >= 48 ? 0xFFFF : nt <= 32 ? 0 : (1u << (nt - 32)) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        const float *t = th + 3 * (size_t)i;
        const __m512 t0 = _mm512_maskz_loadu_ps(m0, t), t1 = _mm512_maskz_loadu_ps(m1, t + 16),
                     t2 = _mm512_maskz_loadu_ps(m2, t + 32);
        __m128i c = _mm_setzero_si128();
        for (int r = 0; r < 3; r++) {
            const __m512 tr = _mm512_permutex2var_ps(_mm512_permutex2var_ps(t0, idx_a[r], t1), idx_b[r], t2);
            c = _mm_mask_add_epi8(c, _mm512_cmp_ps_mask(xv, tr, _CMP_GT_OQ), c, one);
        }
        _mm_mask_storeu_epi8(codes + i, m, c);
    }
}

/* ---- code_l1 ----
 *
 * Fast-scan (FAISS PQ4 style): one 64-byte load is 4 nibble positions of a
 * 32-token block (one per 128-bit lane); vpshufb looks the low nibbles
 * (tokens 0..15) and high nibbles (tokens 16..31) up in the 4 positions'
 * 16-entry tables. Sums stay in u8 for as many steps as the largest table
 * entry allows (255 / max: 42 steps for Adamas' entries <= 6, every step for
 * GQA-summed tables up to 255), then are widened into u16 without unpacking:
 * A0 += bytes as u16 (even byte + 256 * odd byte), A1 += odd bytes; at the
 * end even = A0 - 256 * A1 (mod 2^16, exact as the true sum is < 2^16).
 * Distances are exact integers, so the order of additions is free. */

static uint8_t lut_max(const uint8_t *lut, int bytes) {
    __m512i mx = _mm512_setzero_si512();
    for (int i = 0; i < bytes; i += 64) {
        const int nb = bytes - i < 64 ? bytes - i : 64;
        const __mmask64 m = nb == 64 ? ~(__mmask64)0 : (((__mmask64)1 << nb) - 1);
        mx = _mm512_max_epu8(mx, _mm512_maskz_loadu_epi8(m, lut + i));
    }
    __m256i h = _mm256_max_epu8(_mm512_castsi512_si256(mx), _mm512_extracti64x4_epi64(mx, 1));
    __m128i q = _mm_max_epu8(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    q = _mm_max_epu8(q, _mm_srli_si128(q, 8));
    q = _mm_max_epu8(q, _mm_srli_si128(q, 4));
    q = _mm_max_epu8(q, _mm_srli_si128(q, 2));
    q = _mm_max_epu8(q, _mm_srli_si128(q, 1));
    return (uint8_t)_mm_cvtsi128_si32(q);
}

/* Sum of the four 128-bit chunks of a and of b: [sum a, sum a, sum b, sum b]. */
AI __m512i chunk_sums(__m512i a, __m512i b) {
    const __m512i p =
        _mm512_add_epi16(_mm512_shuffle_i32x4(a, b, 0x44), _mm512_shuffle_i32x4(a, b, 0xEE));
    return _mm512_add_epi16(p, _mm512_shuffle_i32x4(p, p, 0xB1));
}

/* Adds the table entries of nibble positions [j, j1) of a block into the u8
 * sums: slo for tokens 0..15 (low nibbles), shi for 16..31 (high nibbles). */
AI void scan_positions(const uint8_t *blk, const uint8_t *lut, int j, int j1, __m512i *slo, __m512i *shi) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    for (; j + 4 <= j1; j += 4) {
        const __m512i x = _mm512_loadu_si512(blk + 16 * j), l = _mm512_loadu_si512(lut + 16 * j);
        *slo = _mm512_add_epi8(*slo, _mm512_shuffle_epi8(l, _mm512_and_si512(x, low4)));
        *shi = _mm512_add_epi8(*shi, _mm512_shuffle_epi8(l, _mm512_and_si512(_mm512_srli_epi16(x, 4), low4)));
    }
    if (j < j1) {
        /* 1..3 trailing positions: missing ones load zero tables. */
        const __mmask64 m = ((__mmask64)1 << (16 * (j1 - j))) - 1;
        const __m512i x = _mm512_maskz_loadu_epi8(m, blk + 16 * j), l = _mm512_maskz_loadu_epi8(m, lut + 16 * j);
        *slo = _mm512_add_epi8(*slo, _mm512_shuffle_epi8(l, _mm512_and_si512(x, low4)));
        *shi = _mm512_add_epi8(*shi, _mm512_shuffle_epi8(l, _mm512_and_si512(_mm512_srli_epi16(x, 4), low4)));
    }
}

AI void store_block(uint16_t *dist, int nt, __m512i d) {
    const __mmask32 m = nt >= 32 ? ~(__mmask32)0 : (((__mmask32)1 << nt) - 1);
    _mm512_mask_storeu_epi16(dist, m, d);
}

static void k_code_l1(const uint8_t *codes, int n_tok, int code_dim, const uint8_t *lut, uint16_t *dist) {
    const int np = code_dim / 2;
    if (n_tok <= 0) return;
    const uint8_t mx = np > 0 ? lut_max(lut, 16 * np) : 0;
    const size_t blk_bytes = (size_t)np * 16;
    if ((int)mx * np <= 255) {
        /* Whole distances fit in u8 (head size 64 with Adamas' tables): the
         * four lanes are summed in u8 and widened once. */
        for (int t0 = 0; t0 < n_tok; t0 += ADM_CODE_BLOCK) {
            __m512i slo = _mm512_setzero_si512(), shi = slo;
            scan_positions(codes + (size_t)(t0 / ADM_CODE_BLOCK) * blk_bytes, lut, 0, np, &slo, &shi);
            const __m512i p = _mm512_add_epi8(_mm512_shuffle_i32x4(slo, shi, 0x44), _mm512_shuffle_i32x4(slo, shi, 0xEE));
            const __m512i q = _mm512_add_epi8(p, _mm512_shuffle_i32x4(p, p, 0xB1)); /* [lo, lo, hi, hi] */
            const __m512i d = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(_mm512_shuffle_i32x4(q, q, 0x08)));
            store_block(dist + t0, n_tok - t0, d);
        }
        return;
    }
    /* u8 steps between widenings: each lane adds one entry per step. */
    const int steps = mx ? 255 / mx : np;
    const int run = 4 * (steps > 0 ? steps : 1);
    for (int t0 = 0; t0 < n_tok; t0 += ADM_CODE_BLOCK) {
        const uint8_t *blk = codes + (size_t)(t0 / ADM_CODE_BLOCK) * blk_bytes;
        __m512i a0lo = _mm512_setzero_si512(), a1lo = a0lo, a0hi = a0lo, a1hi = a0lo;
        for (int j0 = 0; j0 < np; j0 += run) {
            __m512i slo = _mm512_setzero_si512(), shi = slo;
            scan_positions(blk, lut, j0, np - j0 < run ? np : j0 + run, &slo, &shi);
            a0lo = _mm512_add_epi16(a0lo, slo);
            a1lo = _mm512_add_epi16(a1lo, _mm512_srli_epi16(slo, 8));
            a0hi = _mm512_add_epi16(a0hi, shi);
            a1hi = _mm512_add_epi16(a1hi, _mm512_srli_epi16(shi, 8));
        }
        /* Even tokens (byte 2k of a lane) and odd ones, summed over lanes. */
        const __m512i ev = chunk_sums(_mm512_sub_epi16(a0lo, _mm512_slli_epi16(a1lo, 8)),
                                      _mm512_sub_epi16(a0hi, _mm512_slli_epi16(a1hi, 8)));
        const __m512i od = chunk_sums(a1lo, a1hi);
        /* [tokens 0..7 | - | 16..23 | -] and [8..15 | - | 24..31 | -]. */
        const __m512i r = _mm512_unpacklo_epi16(ev, od), s = _mm512_unpackhi_epi16(ev, od);
        const __m512i rs = _mm512_shuffle_i32x4(r, s, 0x88); /* [r0, r2, s0, s2] */
        store_block(dist + t0, n_tok - t0, _mm512_shuffle_i32x4(rs, rs, 0xD8)); /* [r0, s0, r2, s2] */
    }
}

/* code_l1_multi: the nibble index vectors of a load serve all heads of a
 * group (2 shuffles + 2 adds per head per load instead of 8 ops). Only the
 * whole-distance-in-u8 case is fused (2 accumulators per head, up to 8
 * heads in registers); other tables go through code_l1 head by head. */
AI void l1_group(const uint8_t *codes, int n_tok, int np, const uint8_t *lut, size_t lut_stride, uint16_t *dist,
                 size_t dist_stride, const int Gc) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const size_t blk_bytes = (size_t)np * 16;
    for (int t0 = 0; t0 < n_tok; t0 += ADM_CODE_BLOCK) {
        const uint8_t *blk = codes + (size_t)(t0 / ADM_CODE_BLOCK) * blk_bytes;
        __m512i slo[8], shi[8];
        UNROLL16
        for (int g = 0; g < Gc; g++) slo[g] = shi[g] = _mm512_setzero_si512();
        for (int j = 0; j < np; j += 4) {
            const __mmask64 m = np - j >= 4 ? ~(__mmask64)0 : ((__mmask64)1 << (16 * (np - j))) - 1;
            const __m512i x = _mm512_maskz_loadu_epi8(m, blk + 16 * j);
            const __m512i il = _mm512_and_si512(x, low4), ih = _mm512_and_si512(_mm512_srli_epi16(x, 4), low4);
            UNROLL16
            for (int g = 0; g < Gc; g++) {
                /* Missing trailing positions load zero tables. */
                const __m512i l = _mm512_maskz_loadu_epi8(m, lut + (size_t)g * lut_stride + 16 * j);
                slo[g] = _mm512_add_epi8(slo[g], _mm512_shuffle_epi8(l, il));
                shi[g] = _mm512_add_epi8(shi[g], _mm512_shuffle_epi8(l, ih));
            }
        }
        UNROLL16
        for (int g = 0; g < Gc; g++) {
            const __m512i p =
                _mm512_add_epi8(_mm512_shuffle_i32x4(slo[g], shi[g], 0x44), _mm512_shuffle_i32x4(slo[g], shi[g], 0xEE));
            const __m512i q = _mm512_add_epi8(p, _mm512_shuffle_i32x4(p, p, 0xB1));
            const __m512i d = _mm512_cvtepu8_epi16(_mm512_castsi512_si256(_mm512_shuffle_i32x4(q, q, 0x08)));
            store_block(dist + (size_t)g * dist_stride + t0, n_tok - t0, d);
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
    /* Balanced groups of at most 8 heads (G = 14: 7 + 7). */
    const int n_groups = (G + 7) / 8;
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
        case 6: l1_group(codes, n_tok, np, l, lut_stride, d, dist_stride, 6); break;
        case 7: l1_group(codes, n_tok, np, l, lut_stride, d, dist_stride, 7); break;
        default: l1_group(codes, n_tok, np, l, lut_stride, d, dist_stride, 8); break;
        }
    }
}

/* ---- filter_le_u16 ----
 *
 * The selection pre-filter keeps ~2k of tens of thousands of distances, so
 * almost every 64-value step is two compares and a test; the rare set bits
 * are walked one by one. */

AI int filter_bits(uint64_t bits, int t, int m, int32_t *out) {
    while (bits) {
        out[m++] = t + __builtin_ctzll(bits);
        bits &= bits - 1;
    }
    return m;
}

static int k_filter_le_u16(const uint16_t *d, int n, int cut, int32_t *out, int cap) {
    if (cut < 0) return 0;
    const __m512i c = _mm512_set1_epi16((short)(uint16_t)(cut > 65535 ? 65535 : cut));
    int m = 0, t = 0;
    for (; t + 64 <= n; t += 64) {
        const uint64_t bits = (uint64_t)_mm512_cmple_epu16_mask(_mm512_loadu_si512(d + t), c) |
                              (uint64_t)_mm512_cmple_epu16_mask(_mm512_loadu_si512(d + t + 32), c) << 32;
        if (!bits) continue;
        if (m + __builtin_popcountll(bits) > cap) return -1;
        m = filter_bits(bits, t, m, out);
    }
    for (; t < n; t += 32) {
        const int nv = n - t < 32 ? n - t : 32;
        const __mmask32 valid = nv == 32 ? ~(__mmask32)0 : (((__mmask32)1 << nv) - 1);
        const uint64_t bits = _mm512_mask_cmple_epu16_mask(valid, _mm512_maskz_loadu_epi16(valid, d + t), c);
        if (m + __builtin_popcountll(bits) > cap) return -1;
        m = filter_bits(bits, t, m, out);
    }
    return m;
}

/* The canonical exponential (canonical.h) step by step; vscalefps applies
 * 2^n with the single rounding ldexpf gives. */
static inline __m512 exp_canonical(__m512 x) {
    const __m512 shift = _mm512_set1_ps(ADM_EXP_SHIFT);
    const __m512 n = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(ADM_EXP_LOG2E), shift), shift);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(ADM_EXP_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(ADM_EXP_LN2_LO), r);
    const __m512 r2 = _mm512_mul_ps(r, r);
    const __m512 hi = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(ADM_EXP_C5), r, _mm512_set1_ps(ADM_EXP_C4)), r2,
                                      _mm512_fmadd_ps(_mm512_set1_ps(ADM_EXP_C3), r, _mm512_set1_ps(ADM_EXP_C2)));
    const __m512 p = _mm512_fmadd_ps(hi, r2, _mm512_fmadd_ps(_mm512_set1_ps(ADM_EXP_C1), r, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(p, n);
    const __mmask16 big = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(ADM_EXP_NMAX), _CMP_GT_OQ);
    if (!big) return res;
    const __mmask16 pos = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(big, res, _mm512_maskz_mov_ps(pos, _mm512_set1_ps(INFINITY)));
}

/* Softmax (kernels.h): lane l of the 16 accumulators takes j = l mod 16,
 * exactly as the scalar loop. */
static void k_softmax(float *s, int n) {
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    int j = 0;
    /* max_ps returns its second operand when the first is NaN: NaN scores
     * are skipped, as the scalar comparison does. */
    for (; j + 16 <= n; j += 16) vmax = _mm512_max_ps(_mm512_loadu_ps(s + j), vmax);
    if (j < n) vmax = _mm512_max_ps(_mm512_mask_loadu_ps(vmax, (__mmask16)((1u << (n - j)) - 1), s + j), vmax);
    const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 acc = _mm512_setzero_ps();
    for (j = 0; j + 16 <= n; j += 16) {
        const __m512 e = exp_canonical(_mm512_sub_ps(_mm512_loadu_ps(s + j), max));
        _mm512_storeu_ps(s + j, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (j < n) {
        const __mmask16 m = (__mmask16)((1u << (n - j)) - 1);
        const __m512 e = _mm512_maskz_mov_ps(m, exp_canonical(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), max)));
        _mm512_mask_storeu_ps(s + j, m, e);
        acc = _mm512_add_ps(acc, e); /* inactive lanes add +0: the lane sums are unchanged */
    }
    float lanes[16];
    _mm512_storeu_ps(lanes, acc);
    const __m512 inv = _mm512_set1_ps(1.0f / adm_reduce16(lanes));
    for (j = 0; j + 16 <= n; j += 16) _mm512_storeu_ps(s + j, _mm512_mul_ps(_mm512_loadu_ps(s + j), inv));
    if (j < n) {
        const __mmask16 m = (__mmask16)((1u << (n - j)) - 1);
        _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), inv));
    }
}

/* attn_tile (kernels.h): four vectors cover the 64 key slots; every score
 * is its own chain of fused multiply-adds over d, as in scalar.c. Up to R
 * query heads go through together (R x 4 independent chains for the
 * scores, R x 4 for the output), which changes no result. */
#define TILE_R 4
AI void attn_tile_r(const int R, const float *kt, const float *vt, int m0, int m, int hk, int hv, const float *q,
                    float scale, float softcap, float *M, float *S, float *acc) {
    __m512 s[TILE_R][4];
    UNROLL16 for (int g = 0; g < R; g++) UNROLL16 for (int v = 0; v < 4; v++) s[g][v] = _mm512_setzero_ps();
    for (int d = 0; d < hk; d++) {
        __m512 k[4];
        UNROLL16 for (int v = 0; v < 4; v++) k[v] = _mm512_loadu_ps(kt + d * ADM_ATTN_TILE + 16 * v);
        UNROLL16 for (int g = 0; g < R; g++) {
            const __m512 qd = _mm512_set1_ps(q[(size_t)g * hk + d]);
            UNROLL16 for (int v = 0; v < 4; v++) s[g][v] = _mm512_fmadd_ps(k[v], qd, s[g][v]);
        }
    }
    _Alignas(64) float e[TILE_R][ADM_ATTN_TILE];
    for (int g = 0; g < R; g++) {
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        for (int v = 0; v < 4; v++) {
            const int cnt = m - 16 * v, skip = m0 - 16 * v;
            __mmask16 valid = cnt >= 16 ? (__mmask16)0xFFFF : cnt <= 0 ? 0 : (__mmask16)((1u << cnt) - 1);
            if (skip > 0) valid &= skip >= 16 ? 0 : (__mmask16)~((1u << skip) - 1);
            s[g][v] = _mm512_mask_mul_ps(_mm512_set1_ps(-INFINITY), valid, s[g][v], _mm512_set1_ps(scale));
            if (softcap > 0.0f) { /* libm's tanhf lane by lane, as every table does */
                _Alignas(64) float t[16];
                _mm512_store_ps(t, s[g][v]);
                for (int l = 0; l < 16; l++)
                    if ((valid >> l) & 1) t[l] = tanhf(t[l]) * softcap;
                s[g][v] = _mm512_load_ps(t);
            }
            vmax = _mm512_max_ps(vmax, s[g][v]);
        }
        const float mnew = adm_tile_raise_max(M + g, S + g, acc + (size_t)g * hv, hv, _mm512_reduce_max_ps(vmax));
        double sum = 0.0;
        for (int v = 0; v < 4; v++) {
            _mm512_store_ps(e[g] + 16 * v, exp_canonical(_mm512_sub_ps(s[g][v], _mm512_set1_ps(mnew))));
            sum += (double)adm_reduce16(e[g] + 16 * v); /* not reduce_add_ps: its tree is the compiler's choice */
        }
        S[g] = (float)((double)S[g] + sum);
    }
    for (int i = 0; i < hv; i += 16) {
        const __mmask16 mk = hv - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (hv - i)) - 1);
        __m512 o[TILE_R];
        UNROLL16 for (int g = 0; g < R; g++) o[g] = _mm512_maskz_loadu_ps(mk, acc + (size_t)g * hv + i);
        for (int j = m0; j < m; j++) {
            const __m512 vj = _mm512_maskz_loadu_ps(mk, vt + (size_t)j * hv + i);
            UNROLL16 for (int g = 0; g < R; g++) o[g] = _mm512_fmadd_ps(vj, _mm512_set1_ps(e[g][j]), o[g]);
        }
        UNROLL16 for (int g = 0; g < R; g++) _mm512_mask_storeu_ps(acc + (size_t)g * hv + i, mk, o[g]);
    }
}

static void k_attn_tile(const float *kt, const float *vt, int m0, int m, int hk, int hv, const float *q, int G,
                        float scale, float softcap, float *M, float *S, float *acc) {
    for (int g = 0; g < G; g += TILE_R) {
        const size_t qo = (size_t)g * hk, ao = (size_t)g * hv;
        switch (ADM_MIN(TILE_R, G - g)) {
        case 1: attn_tile_r(1, kt, vt, m0, m, hk, hv, q + qo, scale, softcap, M + g, S + g, acc + ao); break;
        case 2: attn_tile_r(2, kt, vt, m0, m, hk, hv, q + qo, scale, softcap, M + g, S + g, acc + ao); break;
        case 3: attn_tile_r(3, kt, vt, m0, m, hk, hv, q + qo, scale, softcap, M + g, S + g, acc + ao); break;
        default: attn_tile_r(4, kt, vt, m0, m, hk, hv, q + qo, scale, softcap, M + g, S + g, acc + ao); break;
        }
    }
}

static void k_swiglu(int n, const float *g, const float *u, float *out) {
    for (int i = 0; i < n; i += 16) {
        const __mmask16 mk = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1);
        const __m512 x = _mm512_maskz_loadu_ps(mk, g + i);
        const __m512 den = _mm512_add_ps(_mm512_set1_ps(1.0f), exp_canonical(_mm512_sub_ps(_mm512_setzero_ps(), x)));
        _mm512_mask_storeu_ps(out + i, mk, _mm512_mul_ps(_mm512_div_ps(x, den), _mm512_maskz_loadu_ps(mk, u + i)));
    }
}

void adm_kernels_init_attn_avx512(adm_kernels *t) {
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
