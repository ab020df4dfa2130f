/*
 * avx512.c - AVX-512 F/BW/VL/DQ + VNNI + BF16 kernels (Zen 4, Ice Lake and
 * later). Starts from the AVX2 table (activation quantizers and
 * conversions are not hot) and overrides the products and float helpers.
 *
 * Same contract as avx2.c: exact integer block sums, float differences from
 * scalar only in the order of additions, and each output's result does not
 * depend on the tile shape (every (row, column) pair runs the same
 * instruction sequence with its own accumulators).
 *
 * What AVX-512 buys here: vpdpbusd (u8 x s8 -> int32, no int16
 * saturation, fused accumulate), vpdpwssd (int16 pairs x scales, fused
 * accumulate), vdpbf16ps, 64-byte vectors holding two 32-value blocks, 32
 * registers for bigger tiles, and masked loads instead of scalar tails.
 */
#include "kernels.h"

#include <cpuid.h>
#include <immintrin.h>

#define AI static inline __attribute__((always_inline))
#ifdef __clang__
#define UNROLL _Pragma("unroll")
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- helpers ---- */

static inline __m512i ld512(const void *p) { return _mm512_loadu_si512(p); }
static inline __m256i ld256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline __m128i ld128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline float f16f(const void *p) { return _cvtsh_ss(adm_rd_u16(p)); }

/* Horizontal sums in one fixed order. */
static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hsum512(__m512 v) {
    return hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

/* [f16 at a x 8 | f16 at b x 8] as floats; b == NULL gives zeros on top
 * (the padding half of a trailing single block). */
static inline __m512 f16_pair(const uint8_t *a, const uint8_t *b) {
    const __m128i h = _mm_cvtsi32_si128((int)(adm_rd_u16(a) | (b ? (uint32_t)adm_rd_u16(b) << 16 : 0u)));
    const __m512 f = _mm512_castps128_ps512(_mm_cvtph_ps(h));
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), f);
}

/* 32 bytes at a, then 32 at b (zeros if b == NULL). */
static inline __m512i cat256(const uint8_t *a, const uint8_t *b) {
    const __m512i lo = _mm512_castsi256_si512(ld256(a));
    return b ? _mm512_inserti64x4(lo, ld256(b), 1) : _mm512_zextsi256_si512(ld256(a));
}

/* ---- block-32 types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 ----
 *
 * Two blocks per 512-bit vector: two consecutive blocks of one row (decode,
 * z32_row) or the same block of two rows (prompt tiles, z32_tile); lane k
 * of each half's int32 sums is the exact sum over values 4k..4k+3 of that
 * half's block. vpdpbusd wants
 * one unsigned operand, so the weights are made unsigned and the offset is
 * removed through the activations, once per activation block and shared
 * by every row of the tile (it becomes the accumulator's start value):
 *   Q8_0: x + 128 (xor 0x80), minus 128 * sum(y)
 *   Q4_0: nibble u = x + 8, minus 8 * sum(y); Q5_0: u = x + 16, minus 16 * sum(y)
 *   Q4_1/Q5_1: codes are already unsigned; m * s (s = d * sum(y) from Q8_1)
 *              spread over the 8 lanes of its block as m * (s / 8). */

enum { B_Q4_0, B_Q4_1, B_Q5_0, B_Q5_1, B_Q8_0 };

typedef struct {
    __m512i q;
    __m512 d, m;
} z32_w;

typedef struct {
    __m512i y, start; /* codes; -offset * (sums of 4 codes) */
    __m512 d, s8;
} z32_a;

AI size_t z32_wsize(const int T) {
    return T == B_Q4_0 ? sizeof(block_q4_0)
         : T == B_Q4_1 ? sizeof(block_q4_1)
         : T == B_Q5_0 ? sizeof(block_q5_0)
         : T == B_Q5_1 ? sizeof(block_q5_1)
                       : sizeof(block_q8_0);
}

AI bool z32_has_min(const int T) { return T == B_Q4_1 || T == B_Q5_1; }

/* 16 packed bytes per block -> [low nibbles a | high nibbles a | low b |
 * high b]: each block's qs go to two 128-bit lanes, the odd lanes are
 * shifted by 4 under a mask. */
static inline __m512i nibbles64(const uint8_t *a, const uint8_t *b) {
    const __m256i two = b ? _mm256_set_m128i(ld128(b), ld128(a)) : _mm256_zextsi128_si256(ld128(a));
    const __m512i v = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3), _mm512_castsi256_si512(two));
    return _mm512_and_si512(_mm512_mask_srli_epi16(v, 0xFF00FF00u, v, 4), _mm512_set1_epi8(0x0F));
}

/* a, b: the two blocks (b NULL for a trailing single block). */
AI z32_w z32_decode(const int T, const uint8_t *a, const uint8_t *b) {
    z32_w w;
    w.d = f16_pair(a, b);
    w.m = _mm512_setzero_ps();
    if (z32_has_min(T)) w.m = f16_pair(a + 2, b ? b + 2 : NULL);
    switch (T) {
    case B_Q4_0: w.q = nibbles64(a + 2, b ? b + 2 : NULL); break;
    case B_Q4_1: w.q = nibbles64(a + 4, b ? b + 4 : NULL); break;
    case B_Q5_0:
    case B_Q5_1: {
        const int qh = T == B_Q5_0 ? 2 : 4;
        const uint64_t bits = adm_rd_u32(a + qh) | (b ? (uint64_t)adm_rd_u32(b + qh) << 32 : 0);
        /* qh bit j is value j's 5th bit: add 16 under the byte mask. */
        const __m512i q = nibbles64(a + qh + 4, b ? b + qh + 4 : NULL);
        w.q = _mm512_mask_add_epi8(q, _cvtu64_mask64(bits), q, _mm512_set1_epi8(0x10));
        break;
    }
    default: w.q = _mm512_xor_si512(cat256(a + 2, b ? b + 2 : NULL), _mm512_set1_epi8((char)0x80)); break;
    }
    return w;
}

AI z32_a z32_prep(const int T, const uint8_t *a, const uint8_t *b) {
    z32_a p;
    p.d = f16_pair(a, b);
    p.s8 = _mm512_setzero_ps();
    p.start = _mm512_setzero_si512();
    if (z32_has_min(T)) {
        p.s8 = _mm512_mul_ps(f16_pair(a + 2, b ? b + 2 : NULL), _mm512_set1_ps(0.125f));
        p.y = cat256(a + 4, b ? b + 4 : NULL);
    } else {
        p.y = cat256(a + 2, b ? b + 2 : NULL);
        const char off = T == B_Q8_0 ? (char)0x80 : T == B_Q4_0 ? 8 : 16;
        p.start = _mm512_sub_epi32(_mm512_setzero_si512(),
                                   _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(off), p.y));
    }
    return p;
}

/* The canonical order (scalar.c) keeps 8 lanes per output and adds the
 * blocks one after the other. So a 512-bit register holds the same block
 * of two weight rows (r in the low half, r + 1 in the high half) against
 * that block of one activation column in both halves: every fused
 * multiply-add advances two outputs by one block each. */
AI __m512 z32_step(const int T, const z32_w *w, const z32_a *a, __m512 acc) {
    const __m512i sumi = _mm512_dpbusd_epi32(a->start, w->q, a->y);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_mul_ps(w->d, a->d), acc);
    if (z32_has_min(T)) acc = _mm512_fmadd_ps(w->m, a->s8, acc);
    return acc;
}

/* NR x NC tile (NR <= 8, NC <= 3): NR / 2 row pairs (the last one half
 * empty for odd NR), one block per step. */
AI void z32_tile(const int T, const int NR, const int NC, int n, const uint8_t *w, size_t ws, const uint8_t *a,
                 size_t as, float *s, size_t lds) {
    const size_t bx = z32_wsize(T), by = z32_has_min(T) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const int NP = (NR + 1) / 2;
    __m512 acc[4][3];
    UNROLL for (int p = 0; p < NP; p++) UNROLL for (int c = 0; c < NC; c++) acc[p][c] = _mm512_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        z32_a ya[3];
        UNROLL for (int c = 0; c < NC; c++) {
            const uint8_t *q = a + c * as + (size_t)i * by;
            ya[c] = z32_prep(T, q, q);
        }
        UNROLL for (int p = 0; p < NP; p++) {
            const uint8_t *q = w + 2 * p * ws + (size_t)i * bx;
            const z32_w x = z32_decode(T, q, 2 * p + 1 < NR ? q + ws : NULL);
            UNROLL for (int c = 0; c < NC; c++) acc[p][c] = z32_step(T, &x, &ya[c], acc[p][c]);
        }
    }
    UNROLL for (int p = 0; p < NP; p++) UNROLL for (int c = 0; c < NC; c++) {
        s[c * lds + 2 * p] = hsum256(_mm512_castps512_ps256(acc[p][c]));
        if (2 * p + 1 < NR) s[c * lds + 2 * p + 1] = hsum256(_mm512_extractf32x8_ps(acc[p][c], 1));
    }
}

/* One row against one column (decode, bound by reading the weights): two
 * consecutive blocks per register, then the halves into one 256-bit
 * accumulator in turn, the same order as z32_tile. */
AI float z32_row(const int T, int n, const uint8_t *w, const uint8_t *a) {
    const size_t bx = z32_wsize(T), by = z32_has_min(T) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const int nb = n / 32;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nb; i += 2) {
        const bool two = i + 1 < nb;
        const uint8_t *q = a + (size_t)i * by, *x = w + (size_t)i * bx;
        const z32_a ya = z32_prep(T, q, two ? q + by : NULL);
        const z32_w xw = z32_decode(T, x, two ? x + bx : NULL);
        const __m512 f = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(ya.start, xw.q, ya.y));
        const __m512 d = _mm512_mul_ps(xw.d, ya.d);
        acc = _mm256_fmadd_ps(_mm512_castps512_ps256(f), _mm512_castps512_ps256(d), acc);
        if (z32_has_min(T)) acc = _mm256_fmadd_ps(_mm512_castps512_ps256(xw.m), _mm512_castps512_ps256(ya.s8), acc);
        if (two) {
            acc = _mm256_fmadd_ps(_mm512_extractf32x8_ps(f, 1), _mm512_extractf32x8_ps(d, 1), acc);
            if (z32_has_min(T))
                acc = _mm256_fmadd_ps(_mm512_extractf32x8_ps(xw.m, 1), _mm512_extractf32x8_ps(ya.s8, 1), acc);
        }
    }
    return hsum256(acc);
}

/* Any nr x nc <= ADM_TILE_MAX: row by row for one or two columns (one
 * sequential weight stream, what the DRAM prefetchers like; a second
 * column finds the row in L1; a 2-token batch, as speculative decoding
 * verifies, ran 30% faster so than in 8 x 2 tiles), 8 x 3 register tiles
 * (12 accumulators) otherwise. z32_row and z32_tile add in the same order. */
#define Z32_ROW_COLS 2
AI void z32_gemm(const int T, int n, int nr, int nc, const void *vw, size_t ws, const void *va, size_t as, float *s,
                 size_t lds) {
    if (nc <= Z32_ROW_COLS) {
        for (int r = 0; r < nr; r++)
            for (int c = 0; c < nc; c++)
                s[(size_t)c * lds + r] = z32_row(T, n, (const uint8_t *)vw + (size_t)r * ws, (const uint8_t *)va + (size_t)c * as);
        return;
    }
    for (int c = 0; c < nc; c += 3) {
        const int cc = ADM_MIN(3, nc - c);
        for (int r = 0; r < nr; r += 8) {
            const int rr = ADM_MIN(8, nr - r);
            const uint8_t *w = (const uint8_t *)vw + (size_t)r * ws, *a = (const uint8_t *)va + (size_t)c * as;
            float *o = s + (size_t)c * lds + r;
            switch (rr * 10 + cc) {
            case 11: z32_tile(T, 1, 1, n, w, ws, a, as, o, lds); break;
            case 12: z32_tile(T, 1, 2, n, w, ws, a, as, o, lds); break;
            case 13: z32_tile(T, 1, 3, n, w, ws, a, as, o, lds); break;
            case 21: z32_tile(T, 2, 1, n, w, ws, a, as, o, lds); break;
            case 22: z32_tile(T, 2, 2, n, w, ws, a, as, o, lds); break;
            case 23: z32_tile(T, 2, 3, n, w, ws, a, as, o, lds); break;
            case 31: z32_tile(T, 3, 1, n, w, ws, a, as, o, lds); break;
            case 32: z32_tile(T, 3, 2, n, w, ws, a, as, o, lds); break;
            case 33: z32_tile(T, 3, 3, n, w, ws, a, as, o, lds); break;
            case 41: z32_tile(T, 4, 1, n, w, ws, a, as, o, lds); break;
            case 42: z32_tile(T, 4, 2, n, w, ws, a, as, o, lds); break;
            case 43: z32_tile(T, 4, 3, n, w, ws, a, as, o, lds); break;
            case 51: z32_tile(T, 5, 1, n, w, ws, a, as, o, lds); break;
            case 52: z32_tile(T, 5, 2, n, w, ws, a, as, o, lds); break;
            case 53: z32_tile(T, 5, 3, n, w, ws, a, as, o, lds); break;
            case 61: z32_tile(T, 6, 1, n, w, ws, a, as, o, lds); break;
            case 62: z32_tile(T, 6, 2, n, w, ws, a, as, o, lds); break;
            case 63: z32_tile(T, 6, 3, n, w, ws, a, as, o, lds); break;
            case 71: z32_tile(T, 7, 1, n, w, ws, a, as, o, lds); break;
            case 72: z32_tile(T, 7, 2, n, w, ws, a, as, o, lds); break;
            case 73: z32_tile(T, 7, 3, n, w, ws, a, as, o, lds); break;
            case 81: z32_tile(T, 8, 1, n, w, ws, a, as, o, lds); break;
            case 82: z32_tile(T, 8, 2, n, w, ws, a, as, o, lds); break;
            default: z32_tile(T, 8, 3, n, w, ws, a, as, o, lds); break;
            }
        }
    }
}

/* Batches of 2+ columns (decode steps of several sequences, speculative
 * checks, prompts): z32_tile unpacks each activation block again for every 8-row tile, and
 * that unpacking costs about as much as the products. Prepared columns
 * hold what z32_prep computes, once per product (adm_prep_size bytes per
 * column: per block the codes in both halves and the start value, then
 * the scales as floats), so a tile of row pairs x up to 8 columns spends
 * its instructions on vpdpbusd, the conversion and two multiplies per
 * step: the same instructions on the same values as z32_tile, so the same
 * results bit for bit. */
AI void z32_prep_col(const int T, int n, const void *va, void *vp) {
    const size_t by = z32_has_min(T) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const int nb = n / 32;
    uint8_t *p = vp;
    float *f = (float *)(p + (size_t)nb * 128);
    for (int i = 0; i < nb; i++) {
        const uint8_t *q = (const uint8_t *)va + (size_t)i * by;
        const z32_a ya = z32_prep(T, q, q);
        _mm512_storeu_si512(p + (size_t)i * 128, ya.y);
        _mm512_storeu_si512(p + (size_t)i * 128 + 64, ya.start);
        f[2 * i] = _mm512_cvtss_f32(ya.d);
        f[2 * i + 1] = _mm512_cvtss_f32(ya.s8);
    }
}

/* NP row pairs (nr rows, the last pair may be half) x NC prepared columns. */
AI void z32_ptile(const int T, const int NP, const int NC, int n, int nr, const uint8_t *w, size_t ws,
                  const uint8_t *p, size_t ps, float *s, size_t lds) {
    const size_t bx = z32_wsize(T);
    const int nb = n / 32;
    __m512 acc[2][8];
    UNROLL for (int q = 0; q < NP; q++) UNROLL for (int c = 0; c < NC; c++) acc[q][c] = _mm512_setzero_ps();
    /* The rows of two tiles ahead, as many bytes per step as a tile reads:
     * a tile's rows are short streams (a few KiB) that the hardware
     * prefetchers would pick up only when they are half read. */
    const uint8_t *pf = w + (size_t)(4 * NP) * ws;
    for (int i = 0; i < nb; i++) {
        const uint8_t *pfi = pf + (size_t)i * (size_t)(2 * NP) * bx;
        UNROLL for (int l = 0; l < (int)((2 * NP * bx + 63) / 64); l++) _mm_prefetch((const char *)pfi + 64 * l, _MM_HINT_T0);
        z32_w x[2];
        UNROLL for (int q = 0; q < NP; q++) {
            const uint8_t *b = w + 2 * q * ws + (size_t)i * bx;
            x[q] = z32_decode(T, b, 2 * q + 1 < nr ? b + ws : NULL);
        }
        UNROLL for (int c = 0; c < NC; c++) {
            const uint8_t *pc = p + (size_t)c * ps + (size_t)i * 128;
            const float *fc = (const float *)(p + (size_t)c * ps + (size_t)nb * 128) + 2 * i;
            const __m512i y = ld512(pc), start = ld512(pc + 64);
            const __m512 d = _mm512_set1_ps(fc[0]);
            UNROLL for (int q = 0; q < NP; q++) {
                const __m512i sumi = _mm512_dpbusd_epi32(start, x[q].q, y);
                acc[q][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_mul_ps(x[q].d, d), acc[q][c]);
                if (z32_has_min(T)) acc[q][c] = _mm512_fmadd_ps(x[q].m, _mm512_set1_ps(fc[1]), acc[q][c]);
            }
        }
    }
    UNROLL for (int q = 0; q < NP; q++) UNROLL for (int c = 0; c < NC; c++) {
        s[c * lds + 2 * q] = hsum256(_mm512_castps512_ps256(acc[q][c]));
        if (2 * q + 1 < nr) s[c * lds + 2 * q + 1] = hsum256(_mm512_extractf32x8_ps(acc[q][c], 1));
    }
}

/* Columns in groups of 8, 4, 2 and 1 (four tile widths, not eight: clang
 * with the sanitizers spends minutes on every instantiated tile). */
AI void z32_gemm_prep(const int T, int n, int nr, int nc, const void *vw, size_t ws, const void *vp, size_t ps,
                      float *s, size_t lds) {
    for (int r = 0; r < nr; r += 4) {
        const int rr = ADM_MIN(4, nr - r);
        const uint8_t *w = (const uint8_t *)vw + (size_t)r * ws;
        for (int c = 0; c < nc;) {
            const int g = adm_col_group(nc - c);
            const uint8_t *p = (const uint8_t *)vp + (size_t)c * ps;
            float *o = s + (size_t)c * lds + r;
            if (rr > 2) {
                switch (g) {
                case 8: z32_ptile(T, 2, 8, n, rr, w, ws, p, ps, o, lds); break;
                case 4: z32_ptile(T, 2, 4, n, rr, w, ws, p, ps, o, lds); break;
                case 2: z32_ptile(T, 2, 2, n, rr, w, ws, p, ps, o, lds); break;
                default: z32_ptile(T, 2, 1, n, rr, w, ws, p, ps, o, lds); break;
                }
            } else {
                switch (g) {
                case 8: z32_ptile(T, 1, 8, n, rr, w, ws, p, ps, o, lds); break;
                case 4: z32_ptile(T, 1, 4, n, rr, w, ws, p, ps, o, lds); break;
                case 2: z32_ptile(T, 1, 2, n, rr, w, ws, p, ps, o, lds); break;
                default: z32_ptile(T, 1, 1, n, rr, w, ws, p, ps, o, lds); break;
                }
            }
            c += g;
        }
    }
}

/* Q8_0 in block-sum order (kernels.h; scalar.c's gemm_bsum_q8_0 is the
 * definition): 16 weight rows in the lanes. A block of 16 rows is loaded
 * row-major and transposed in registers (rows k and k + 8 in the halves of
 * one vector, then three rounds of unpacks and a permute) into g[j], whose
 * lane r holds row r's codes 4j..4j+3; the 16 scales come with one gather.
 * Per prepared column and block: the column's correction broadcast as the
 * start value, eight vpdpbusd against the column's code groups broadcast
 * from memory (exact integer sums, made unsigned by x + 128), one
 * conversion, one multiply of the scales and one FMA for 16 rows at once,
 * against four instructions per 2 rows in the canonical tiles. The
 * transpose costs ~2.5 instructions per row and block, shared by the
 * columns of the call. */
AI void b16_transpose(const __m512i v[8], __m512i g[8]) {
    __m512i t[8], u[8];
    UNROLL for (int k = 0; k < 4; k++) {
        t[2 * k] = _mm512_unpacklo_epi32(v[2 * k], v[2 * k + 1]);
        t[2 * k + 1] = _mm512_unpackhi_epi32(v[2 * k], v[2 * k + 1]);
    }
    /* t[2k]: lanes of rows 2k, 2k+1 for dwords 0,1 (and 4,5); t[2k+1]: 2,3 (6,7) */
    UNROLL for (int h = 0; h < 2; h++) {
        const int a = 4 * h; /* rows 0-3 (h = 0) or 4-7 (h = 1) of each half */
        u[a + 0] = _mm512_unpacklo_epi64(t[a], t[a + 2]);
        u[a + 1] = _mm512_unpackhi_epi64(t[a], t[a + 2]);
        u[a + 2] = _mm512_unpacklo_epi64(t[a + 1], t[a + 3]);
        u[a + 3] = _mm512_unpackhi_epi64(t[a + 1], t[a + 3]);
    }
    /* u[j] (j < 4): 128-bit lanes [rows 0-3 dword j | j+4 | rows 8-11 j | j+4];
     * u[4 + j] the same for rows 4-7 and 12-15. */
    const __m512i lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13), hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
    UNROLL for (int j = 0; j < 4; j++) {
        g[j] = _mm512_permutex2var_epi64(u[j], lo, u[4 + j]);
        g[j + 4] = _mm512_permutex2var_epi64(u[j], hi, u[4 + j]);
    }
}

/* One block of 32 values of 16 rows x NC prepared columns, the rows'
 * codes in g (lane r of g[j]: row r's codes 4j..4j+3, unsigned) and
 * their scales in dw: per column the correction broadcast as the start
 * value, eight vpdpbusd, one conversion, one multiply and one FMA into
 * acc[c]. Columns go interleaved instruction by instruction: each column's
 * eight vpdpbusd form a dependent chain, which issued chain after chain
 * wait in the scheduler (0.35 -> 0.33 ns per product). SPLIT integer
 * chains per column hide the vpdpbusd latency when few columns give few
 * independent chains (integer sums are exact in any order). */
AI void bsum_block(const int NC, const __m512i g[8], __m512 dw, const uint8_t *p, size_t ps, int nb, int i,
                   __m512 acc[8]) {
    const int SPLIT = NC >= 4 ? 1 : NC == 2 ? 2 : 4;
    __m512i si[8][4];
    UNROLL for (int c = 0; c < NC; c++) {
        si[c][0] = _mm512_set1_epi32(((const int32_t *)(p + (size_t)c * ps + adm_bsum_corr_off(nb)))[i]);
        UNROLL for (int h = 1; h < SPLIT; h++) si[c][h] = _mm512_setzero_si512();
    }
    UNROLL for (int j = 0; j < 8; j++) UNROLL for (int c = 0; c < NC; c++) {
        const int32_t *x = (const int32_t *)(p + (size_t)c * ps + (size_t)i * 32);
        si[c][j % SPLIT] = _mm512_dpbusd_epi32(si[c][j % SPLIT], g[j], _mm512_set1_epi32(x[j]));
    }
    UNROLL for (int c = 0; c < NC; c++) {
        UNROLL for (int h = 1; h < SPLIT; h++) si[c][0] = _mm512_add_epi32(si[c][0], si[c][h]);
        const float dx = ((const float *)(p + (size_t)c * ps + adm_bsum_scale_off(nb)))[i];
        const __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(dx));
        acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(si[c][0]), d, acc[c]);
    }
}

/* Rows r0 .. r0+15 (the ones past nr repeat row nr - 1; their lanes are
 * not stored) x NC columns. */
AI void b16_tile(const int NC, int n, int nr, const uint8_t *w, size_t ws, const uint8_t *p, size_t ps, float *s,
                 size_t lds) {
    const int nb = n / 32;
    const size_t bx = sizeof(block_q8_0);
    int32_t off[16];
    for (int r = 0; r < 16; r++) off[r] = (int32_t)((size_t)(r < nr ? r : nr - 1) * ws);
    const __m512i voff = _mm512_loadu_si512(off);
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512 acc[8];
    UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_setzero_ps();
    /* The 16 rows after the next into L2, as many bytes per block as this
     * one reads (into L1, or only the next 16 rows, left the 2-thread DRAM
     * stream at 18 GB/s instead of 26-29). */
    const uint8_t *pf = w + 32 * ws;
    for (int i = 0; i < nb; i++) {
        const size_t o = (size_t)i * bx;
        UNROLL for (int l = 0; l < 9; l++) _mm_prefetch((const char *)pf + o * 16 + 64 * l, _MM_HINT_T1);
        __m512i v[8], g[8];
        UNROLL for (int k = 0; k < 8; k++)
            v[k] = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(ld256(w + off[k] + o + 2)),
                                                       ld256(w + off[k + 8] + o + 2), 1),
                                    flip);
        b16_transpose(v, g);
        const __m512i dh = _mm512_i32gather_epi32(voff, (const void *)(w + o), 1);
        bsum_block(NC, g, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dh)), p, ps, nb, i, acc);
    }
    const __mmask16 m = (__mmask16)((1u << nr) - 1u);
    UNROLL for (int c = 0; c < NC; c++) _mm512_mask_storeu_ps(s + (size_t)c * lds, m, acc[c]);
}

static void prep_bsum_q8_0(int n, const void *va, void *vp) {
    const int nb = n / 32;
    uint8_t *p = vp;
    const __m256i ones = _mm256_set1_epi8(1);
    for (int i = 0; i < nb; i++) {
        const uint8_t *b = (const uint8_t *)va + (size_t)i * sizeof(block_q8_0);
        const __m256i q = ld256(b + 2);
        /* sum of the codes: vpdpbusd of ones (unsigned) with the codes */
        const __m256i s4 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q);
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
        _mm256_storeu_si256((__m256i *)(p + (size_t)i * 32), q);
        ((int32_t *)(p + adm_bsum_corr_off(nb)))[i] = -128 * _mm_cvtsi128_si32(s);
        ((float *)(p + adm_bsum_scale_off(nb)))[i] = f16f(b);
    }
}

static void gemm_bsum_q8_0(int n, int nr, int nc, const void *vw, size_t ws, const void *vp, size_t ps, float *s,
                           size_t lds) {
    for (int r = 0; r < nr; r += 16) {
        const int rr = ADM_MIN(16, nr - r);
        const uint8_t *w = (const uint8_t *)vw + (size_t)r * ws;
        for (int c = 0; c < nc;) {
            const int g = adm_col_group(nc - c);
            const uint8_t *p = (const uint8_t *)vp + (size_t)c * ps;
            float *o = s + (size_t)c * lds + r;
            switch (g) {
            case 8: b16_tile(8, n, rr, w, ws, p, ps, o, lds); break;
            case 4: b16_tile(4, n, rr, w, ws, p, ps, o, lds); break;
            case 2: b16_tile(2, n, rr, w, ws, p, ps, o, lds); break;
            default: b16_tile(1, n, rr, w, ws, p, ps, o, lds); break;
            }
            c += g;
        }
    }
}

/* The same products over weights packed by adm_pack16_q8_0 (kernels.h):
 * the vectors b16_tile transposes into g[j] and its gathered scales are
 * loaded as they are, 512 + 32 bytes per block of 16 rows, so the pipes
 * that did the transpose (which competes with vpdpbusd on Zen 4) are free.
 * The same bsum_block as b16_tile: the same bits. */
AI void p16_tile(const int NC, int n, int nr, const uint8_t *pk, const uint8_t *p, size_t ps, float *s, size_t lds) {
    const int nb = n / 32;
    __m512 acc[8];
    UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm512_setzero_ps();
    const uint8_t *sc = pk + adm_pack16_scales_off(n);
    for (int i = 0; i < nb; i++) {
        const uint8_t *b = pk + (size_t)i * 512;
        /* 16 blocks (8 KiB) ahead into L2, as b16_tile's rows: the
         * hardware prefetcher alone left 8 columns ~30% slower from DRAM. */
        UNROLL for (int l = 0; l < 8; l++) _mm_prefetch((const char *)b + 16 * 512 + 64 * l, _MM_HINT_T1);
        _mm_prefetch((const char *)sc + (size_t)(i + 16) * 32, _MM_HINT_T1);
        __m512i g[8];
        UNROLL for (int j = 0; j < 8; j++) g[j] = _mm512_load_si512((const void *)(b + 64 * j));
        bsum_block(NC, g, _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(sc + (size_t)i * 32))), p, ps, nb, i, acc);
    }
    const __mmask16 m = (__mmask16)((1u << nr) - 1u);
    UNROLL for (int c = 0; c < NC; c++) _mm512_mask_storeu_ps(s + (size_t)c * lds, m, acc[c]);
}

static void gemm_pack16_q8_0(int n, int nr, int nc, const void *vpk, const void *vp, size_t ps, float *s, size_t lds) {
    const uint8_t *pk = vpk;
    for (int c = 0; c < nc;) {
        const int g = adm_col_group(nc - c);
        const uint8_t *p = (const uint8_t *)vp + (size_t)c * ps;
        float *o = s + (size_t)c * lds;
        switch (g) {
        case 8: p16_tile(8, n, nr, pk, p, ps, o, lds); break;
        case 4: p16_tile(4, n, nr, pk, p, ps, o, lds); break;
        case 2: p16_tile(2, n, nr, pk, p, ps, o, lds); break;
        default: p16_tile(1, n, nr, pk, p, ps, o, lds); break;
        }
        c += g;
    }
}

#define Z32_KERNELS(NAME, T)                                                                                        \
    static void dot_##NAME(int n, float *s, const void *x, const void *y) { *s = z32_row(T, n, x, y); }          \
    static void gemm_##NAME(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *s,   \
                            size_t lds) {                                                                           \
        z32_gemm(T, n, nr, nc, w, ws, a, as, s, lds);                                                               \
    }
/* Prepared columns for Q8_0 only (the weights of Q8_0 files and the mixes'
 * short rows): clang with the sanitizers took half an hour over five types. */
#define Z32_PREP_KERNELS(NAME, T)                                                                                   \
    static void prep_##NAME(int n, const void *a, void *p) { z32_prep_col(T, n, a, p); }                          \
    static void gemm_prep_##NAME(int n, int nr, int nc, const void *w, size_t ws, const void *p, size_t ps,         \
                                 float *s, size_t lds) {                                                            \
        z32_gemm_prep(T, n, nr, nc, w, ws, p, ps, s, lds);                                                          \
    }
Z32_KERNELS(q4_0, B_Q4_0)
Z32_KERNELS(q4_1, B_Q4_1)
Z32_KERNELS(q5_0, B_Q5_0)
Z32_KERNELS(q5_1, B_Q5_1)
Z32_KERNELS(q8_0, B_Q8_0)
Z32_PREP_KERNELS(q8_0, B_Q8_0)
#undef Z32_PREP_KERNELS
#undef Z32_KERNELS

/* ---- K-quants (dot type Q8_K) ----
 *
 * As in avx2.c (see there for the bsums handling of mins and offsets),
 * with 4 chunks of 64 values per super-block: maddubs gives exact int16
 * pair sums (at most 2*63*127), vpdpwssd multiplies them by the int16
 * sub-block scales and accumulates in int32 in one instruction. Sub-block
 * scales are spread over a chunk with vpermw; 5th/high code bits come in
 * through byte masks (vptestmb) and masked adds. */

enum { K_Q2, K_Q3, K_Q4, K_Q5, K_Q6 };

typedef struct {
    __m512i s16;  /* int16 sub-block scales (8 or 16) */
    __m512i bits; /* Q3_K hmask / Q5_K qh, broadcast to both halves */
    __m256i mn;   /* int16 multipliers of the 16 bsums */
    float d, dmin;
} zk_hdr;

typedef struct {
    __m512i q[4], sc[4];
    __m256i mn;
    float d, dmin;
} zk_dec;

AI size_t zk_size(const int T) {
    return T == K_Q2 ? sizeof(block_q2_K)
         : T == K_Q3 ? sizeof(block_q3_K)
         : T == K_Q4 ? sizeof(block_q4_K)
         : T == K_Q5 ? sizeof(block_q5_K)
                     : sizeof(block_q6_K);
}

static inline __m512i bcast256(const void *p) { return _mm512_broadcast_i64x4(ld256(p)); }

/* As avx2.c's: Q4_K/Q5_K scales and mins, Q3_K scales, with 32-bit masks. */
static inline void k4_scales(const uint8_t *p, uint32_t sc[2], uint32_t mn[2]) {
    const uint32_t u0 = adm_rd_u32(p), u1 = adm_rd_u32(p + 4), u2 = adm_rd_u32(p + 8);
    sc[0] = u0 & 0x3f3f3f3fu;
    mn[0] = u1 & 0x3f3f3f3fu;
    sc[1] = (u2 & 0x0f0f0f0fu) | ((u0 >> 2) & 0x30303030u);
    mn[1] = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 2) & 0x30303030u);
}

static inline __m128i q3k_scales(const uint8_t *p) {
    const uint32_t u0 = adm_rd_u32(p), u1 = adm_rd_u32(p + 4), hi = adm_rd_u32(p + 8);
    const uint32_t s0 = (u0 & 0x0f0f0f0fu) | ((hi & 0x03030303u) << 4);
    const uint32_t s1 = (u1 & 0x0f0f0f0fu) | (((hi >> 2) & 0x03030303u) << 4);
    const uint32_t s2 = ((u0 >> 4) & 0x0f0f0f0fu) | (((hi >> 4) & 0x03030303u) << 4);
    const uint32_t s3 = ((u1 >> 4) & 0x0f0f0f0fu) | (((hi >> 6) & 0x03030303u) << 4);
    return _mm_sub_epi8(_mm_set_epi32((int)s3, (int)s2, (int)s1, (int)s0), _mm_set1_epi8(32));
}

AI void zk_header(const int T, const uint8_t *blk, zk_hdr *h) {
    h->bits = _mm512_setzero_si512();
    h->dmin = 0.0f;
    if (T == K_Q2) {
        const block_q2_K *x = (const block_q2_K *)blk;
        h->d = f16f(&x->d);
        h->dmin = f16f(&x->dmin);
        const __m128i raw = ld128(x->scales);
        h->s16 = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0F))));
        h->mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F)));
    } else if (T == K_Q3) {
        const block_q3_K *x = (const block_q3_K *)blk;
        h->d = f16f(&x->d);
        const __m256i sc16 = _mm256_cvtepi8_epi16(q3k_scales(x->scales));
        h->s16 = _mm512_castsi256_si512(sc16);
        h->mn = _mm256_slli_epi16(sc16, 2);
        h->bits = bcast256(x->hmask);
    } else if (T == K_Q6) {
        const block_q6_K *x = (const block_q6_K *)blk;
        h->d = f16f(&x->d);
        const __m256i sc16 = _mm256_cvtepi8_epi16(ld128(x->scales));
        h->s16 = _mm512_castsi256_si512(sc16);
        h->mn = _mm256_slli_epi16(sc16, 5);
    } else {
        h->d = f16f(blk);
        h->dmin = f16f(blk + 2);
        uint32_t sc[2], mn[2];
        k4_scales(blk + 4, sc, mn);
        h->s16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sc[1], (int)sc[0])));
        const __m128i m8 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)mn[1], (int)mn[0]));
        h->mn = _mm256_set_m128i(_mm_unpackhi_epi16(m8, m8), _mm_unpacklo_epi16(m8, m8));
        if (T == K_Q5) h->bits = bcast256(((const block_q5_K *)blk)->qh);
    }
}

/* vpermw indices: chunk c's int16 scale for each maddubs lane. 16-value
 * sub-blocks: [4c x 8, 4c+1 x 8, 4c+2 x 8, 4c+3 x 8]; 32-value sub-blocks
 * (Q4_K, Q5_K): [2c x 16, 2c+1 x 16]. */
#define R8(v) v, v, v, v, v, v, v, v
static const uint16_t k_idx16[4][32] = {{R8(0), R8(1), R8(2), R8(3)},
                                        {R8(4), R8(5), R8(6), R8(7)},
                                        {R8(8), R8(9), R8(10), R8(11)},
                                        {R8(12), R8(13), R8(14), R8(15)}};
static const uint16_t k_idx32[4][32] = {{R8(0), R8(0), R8(1), R8(1)},
                                        {R8(2), R8(2), R8(3), R8(3)},
                                        {R8(4), R8(4), R8(5), R8(5)},
                                        {R8(6), R8(6), R8(7), R8(7)}};
#undef R8

/* Byte masks selecting bit b0 in bytes 0-31 and bit b1 in bytes 32-63. */
static inline __m512i bit_select(int b0, int b1) {
    const __m256i lo = _mm256_set1_epi8((char)(1 << b0)), hi = _mm256_set1_epi8((char)(1 << b1));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Codes and scales of chunk c (values 64c .. 64c+63), c constant. */
AI void zk_chunk(const int T, const uint8_t *blk, const zk_hdr *h, const int c, __m512i *q, __m512i *sc) {
    const __m512i m2 = _mm512_set1_epi8(3), m4 = _mm512_set1_epi8(0x0F);
    const __mmask32 upper = 0xFFFF0000u; /* 16-bit lanes of bytes 32-63 */
    if (T == K_Q2 || T == K_Q3) {
        /* value 128h + 32j + l: bits 2j of qs[32h + l]; chunk c = (h, j in {2(c%2), 2(c%2)+1}) */
        const uint8_t *qs = T == K_Q2 ? ((const block_q2_K *)blk)->qs : ((const block_q3_K *)blk)->qs;
        __m512i v = _mm512_srli_epi16(bcast256(qs + 32 * (c / 2)), 4 * (c % 2));
        v = _mm512_mask_srli_epi16(v, upper, v, 2);
        *q = _mm512_and_si512(v, m2);
        if (T == K_Q3) {
            const __mmask64 hb = _mm512_test_epi8_mask(h->bits, bit_select(2 * c, 2 * c + 1));
            *q = _mm512_mask_add_epi8(*q, hb, *q, _mm512_set1_epi8(4));
        }
        *sc = _mm512_permutexvar_epi16(ld512(k_idx16[c]), h->s16);
    } else if (T == K_Q4 || T == K_Q5) {
        const uint8_t *qs = T == K_Q4 ? ((const block_q4_K *)blk)->qs : ((const block_q5_K *)blk)->qs;
        const __m512i v = bcast256(qs + 32 * c);
        *q = _mm512_and_si512(_mm512_mask_srli_epi16(v, upper, v, 4), m4);
        if (T == K_Q5) {
            const __mmask64 hb = _mm512_test_epi8_mask(h->bits, bit_select(2 * c, 2 * c + 1));
            *q = _mm512_mask_add_epi8(*q, hb, *q, _mm512_set1_epi8(0x10));
        }
        *sc = _mm512_permutexvar_epi16(ld512(k_idx32[c]), h->s16);
    } else {
        /* Q6_K chunk c: half hh = c/2, ql[64hh .. 64hh+63] nibble c%2,
         * high bits 4(c%2) and 4(c%2)+2 of qh[32hh + l]. */
        const block_q6_K *x = (const block_q6_K *)blk;
        const int hh = c / 2;
        const __m512i l = ld512(x->ql + 64 * hh);
        const __m512i lo = _mm512_and_si512(c % 2 ? _mm512_srli_epi16(l, 4) : l, m4);
        __m512i hb = _mm512_srli_epi16(bcast256(x->qh + 32 * hh), 4 * (c % 2));
        hb = _mm512_and_si512(_mm512_mask_srli_epi16(hb, upper, hb, 2), m2);
        *q = _mm512_or_si512(lo, _mm512_slli_epi16(hb, 4));
        *sc = _mm512_permutexvar_epi16(ld512(k_idx16[c]), h->s16);
    }
}

AI __m256 zk_finish(const int T, __m512i sumi16, __m256i mn, float d, float dmin, const block_q8_K *y, __m256 acc) {
    const __m256i sumi = _mm256_add_epi32(_mm512_castsi512_si256(sumi16), _mm512_extracti64x4_epi64(sumi16, 1));
    const __m256i summ = _mm256_madd_epi16(ld256(y->bsums), mn);
    if (T == K_Q3 || T == K_Q6)
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sumi, summ)), _mm256_set1_ps(d * y->d), acc);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d * y->d), acc);
    return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_set1_ps(dmin * y->d), acc);
}

AI float zk_row(const int T, int n, const uint8_t *x, const block_q8_K *y) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++, x += zk_size(T), y++) {
        zk_hdr h;
        zk_header(T, x, &h);
        __m512i sumi = _mm512_setzero_si512();
        UNROLL for (int c = 0; c < 4; c++) {
            __m512i q, sc;
            zk_chunk(T, x, &h, c, &q, &sc);
            sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(q, ld512(y->qs + 64 * c)), sc);
        }
        acc = zk_finish(T, sumi, h.mn, h.d, h.dmin, y, acc);
    }
    return hsum256(acc);
}

AI void zk_decode(const int T, const uint8_t *x, zk_dec *o) {
    zk_hdr h;
    zk_header(T, x, &h);
    UNROLL for (int c = 0; c < 4; c++) zk_chunk(T, x, &h, c, &o->q[c], &o->sc[c]);
    o->mn = h.mn;
    o->d = h.d;
    o->dmin = h.dmin;
}

AI __m256 zk_pair(const int T, const zk_dec *x, const block_q8_K *y, __m256 acc) {
    __m512i sumi = _mm512_setzero_si512();
    UNROLL for (int c = 0; c < 4; c++)
        sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(x->q[c], ld512(y->qs + 64 * c)), x->sc[c]);
    return zk_finish(T, sumi, x->mn, x->d, x->dmin, y, acc);
}

/* One row against NC columns (NC constant, so the decoded super-block and
 * the NC accumulators stay in registers): each super-block is decoded once
 * and run against every column, in the order of zk_row. */
AI void zk_rowcols(const int T, const int NC, int n, const uint8_t *x, const uint8_t *a, size_t as, float *s,
                   size_t lds) {
    const size_t bx = zk_size(T);
    __m256 acc[ADM_TILE_MAX];
    UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();
    /* The rows four ahead into L2, as many bytes per super-block as
     * this row reads: with 8 columns the stream is slow enough that the
     * hardware prefetchers fall behind (Q6_K from DRAM 5.4-6.2 ns per
     * row-column-super-block against 3.3-3.5 in cache). */
    const uint8_t *pf = x + 4 * (size_t)(n / QK_K) * bx;
    for (int i = 0; i < n / QK_K; i++) {
        UNROLL for (int l = 0; l < (int)((bx + 63) / 64); l++)
            _mm_prefetch((const char *)pf + (size_t)i * bx + 64 * l, _MM_HINT_T1);
        zk_dec d;
        zk_decode(T, x + (size_t)i * bx, &d);
        UNROLL for (int c = 0; c < NC; c++) acc[c] = zk_pair(T, &d, (const block_q8_K *)(a + c * as) + i, acc[c]);
    }
    UNROLL for (int c = 0; c < NC; c++) s[c * lds] = hsum256(acc[c]);
}

/* Rows one after another in every case: one sequential weight stream per
 * thread (what the DRAM prefetchers follow; a tile interleaving 4 rows
 * reads 4 short streams), the columns in groups of 8, 4 or 2 per decoded
 * super-block. A tile with runtime-sized loops kept its decoded rows and
 * 8 x 8 accumulators in memory: 2 columns ran slower than 1 (Llama-3.2-1B
 * Q4_K_M: 16.4 t/s for 2 sequences against 22.2 for one). */
AI void zk_gemm(const int T, int n, int nr, int nc, const void *vw, size_t ws, const void *va, size_t as, float *s,
                size_t lds) {
    const uint8_t *w = vw, *a = va;
    for (int r = 0; r < nr; r++) {
        const uint8_t *x = w + r * ws;
        for (int c = 0; c < nc;) {
            const int g = adm_col_group(nc - c);
            const uint8_t *ac = a + c * as;
            float *o = s + (size_t)c * lds + r;
            switch (g) {
            case 8: zk_rowcols(T, 8, n, x, ac, as, o, lds); break;
            case 4: zk_rowcols(T, 4, n, x, ac, as, o, lds); break;
            case 2: zk_rowcols(T, 2, n, x, ac, as, o, lds); break;
            default: *o = zk_row(T, n, x, (const block_q8_K *)ac); break;
            }
            c += g;
        }
    }
}

#define ZK_KERNELS(NAME, T)                                                                                         \
    static void dot_##NAME(int n, float *s, const void *x, const void *y) { *s = zk_row(T, n, x, y); }              \
    static void gemm_##NAME(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *s,   \
                            size_t lds) {                                                                           \
        zk_gemm(T, n, nr, nc, w, ws, a, as, s, lds);                                                                \
    }
ZK_KERNELS(q2_K, K_Q2)
ZK_KERNELS(q3_K, K_Q3)
ZK_KERNELS(q4_K, K_Q4)
ZK_KERNELS(q5_K, K_Q5)
ZK_KERNELS(q6_K, K_Q6)
#undef ZK_KERNELS

/* ---- float types: F32, F16, BF16 ----
 * The canonical order of kernels.h / scalar.c: one 16-lane accumulator per
 * output (16-value steps for F32/F16, 32-value steps of vdpbf16ps for
 * BF16), the tail through masked loads (zeros leave the lanes unchanged).
 * Tiles up to 4 x 3 give 12 independent FMA chains. */

enum { F_F32, F_F16, F_BF16 };

AI int fl_step(const int T) { return T == F_BF16 ? 32 : 16; }

/* The next `cnt` (<= step) values as a vector; masked lanes read zero. */
AI __m512 fl_load(const int T, const uint8_t *p, int cnt) {
    const int step = fl_step(T);
    if (T == F_F32)
        return cnt == step ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1), p);
    if (T == F_F16)
        return _mm512_cvtph_ps(cnt == step ? ld256(p) : _mm256_maskz_loadu_epi16((__mmask16)((1u << cnt) - 1), p));
    return _mm512_castsi512_ps(cnt == step ? ld512(p)
                                           : _mm512_maskz_loadu_epi16((__mmask32)(((uint64_t)1 << cnt) - 1), p));
}

AI __m512 fl_fma(const int T, __m512 x, __m512 y, __m512 acc) {
    if (T == F_BF16) return _mm512_dpbf16_ps(acc, (__m512bh)x, (__m512bh)y);
    return _mm512_fmadd_ps(x, y, acc);
}

AI void fl_tile(const int T, const int NR, const int NC, int n, const uint8_t *w, size_t ws, const uint8_t *a,
                size_t as, float *s, size_t lds) {
    const size_t es = T == F_F32 ? 4 : 2;
    const int step = fl_step(T);
    __m512 acc[4][3];
    UNROLL for (int r = 0; r < NR; r++) UNROLL for (int c = 0; c < NC; c++) acc[r][c] = _mm512_setzero_ps();
    for (int i = 0; i < n; i += step) {
        const int cnt = ADM_MIN(step, n - i);
        __m512 y[3];
        UNROLL for (int c = 0; c < NC; c++) y[c] = fl_load(T, a + c * as + (size_t)i * es, cnt);
        UNROLL for (int r = 0; r < NR; r++) {
            const __m512 x = fl_load(T, w + r * ws + (size_t)i * es, cnt);
            UNROLL for (int c = 0; c < NC; c++) acc[r][c] = fl_fma(T, x, y[c], acc[r][c]);
        }
    }
    UNROLL for (int r = 0; r < NR; r++) UNROLL for (int c = 0; c < NC; c++) s[c * lds + r] = hsum512(acc[r][c]);
}

AI void fl_gemm(const int T, int n, int nr, int nc, const void *vw, size_t ws, const void *va, size_t as, float *s,
                size_t lds) {
    for (int c = 0; c < nc; c += 3) {
        const int cc = ADM_MIN(3, nc - c);
        for (int r = 0; r < nr; r += cc == 1 ? 1 : 4) {
            const int rr = cc == 1 ? 1 : ADM_MIN(4, nr - r);
            const uint8_t *w = (const uint8_t *)vw + (size_t)r * ws, *a = (const uint8_t *)va + (size_t)c * as;
            float *o = s + (size_t)c * lds + r;
            switch (rr * 10 + cc) {
            case 11: fl_tile(T, 1, 1, n, w, ws, a, as, o, lds); break;
            case 12: fl_tile(T, 1, 2, n, w, ws, a, as, o, lds); break;
            case 22: fl_tile(T, 2, 2, n, w, ws, a, as, o, lds); break;
            case 32: fl_tile(T, 3, 2, n, w, ws, a, as, o, lds); break;
            case 42: fl_tile(T, 4, 2, n, w, ws, a, as, o, lds); break;
            case 13: fl_tile(T, 1, 3, n, w, ws, a, as, o, lds); break;
            case 23: fl_tile(T, 2, 3, n, w, ws, a, as, o, lds); break;
            case 33: fl_tile(T, 3, 3, n, w, ws, a, as, o, lds); break;
            default: fl_tile(T, 4, 3, n, w, ws, a, as, o, lds); break;
            }
        }
    }
}

#define FL_KERNELS(NAME, T)                                                                                         \
    static void dot_##NAME(int n, float *s, const void *x, const void *y) { fl_tile(T, 1, 1, n, x, 0, y, 0, s, 0); } \
    static void gemm_##NAME(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *s,   \
                            size_t lds) {                                                                           \
        fl_gemm(T, n, nr, nc, w, ws, a, as, s, lds);                                                                \
    }
FL_KERNELS(f32, F_F32)
FL_KERNELS(f16, F_F16)
FL_KERNELS(bf16, F_BF16)
#undef FL_KERNELS

/* ---- float helpers ---- */

static inline __mmask16 tail16(int cnt) { return (__mmask16)((1u << cnt) - 1); }

static float k_dot_f32(int n, const float *x, const float *y) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 4; k++)
            acc[k] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16 * k), _mm512_loadu_ps(y + i + 16 * k), acc[k]);
    for (; i < n; i += 16) {
        const __mmask16 m = tail16(ADM_MIN(16, n - i));
        acc[0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), acc[0]);
    }
    return hsum512(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

static float k_dot_f16_f32(int n, const adm_f16 *x, const float *y) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 4; k++)
            acc[k] = _mm512_fmadd_ps(_mm512_cvtph_ps(ld256(x + i + 16 * k)), _mm512_loadu_ps(y + i + 16 * k), acc[k]);
    for (; i < n; i += 16) {
        const __mmask16 m = tail16(ADM_MIN(16, n - i));
        acc[0] = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i)), _mm512_maskz_loadu_ps(m, y + i),
                                 acc[0]);
    }
    return hsum512(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

/* axpy and scale: multiply, then add (no FMA), like scalar.c, bit for bit. */
static void k_axpy_f32(int n, float a, const float *x, float *y) {
    const __m512 va = _mm512_set1_ps(a);
    for (int i = 0; i < n; i += 16) {
        const __mmask16 m = tail16(ADM_MIN(16, n - i));
        const __m512 xa = _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, x + i));
        const __m512 r = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), xa);
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}

static void k_axpy_f16(int n, float a, const adm_f16 *x, float *y) {
    const __m512 va = _mm512_set1_ps(a);
    for (int i = 0; i < n; i += 16) {
        const __mmask16 m = tail16(ADM_MIN(16, n - i));
        const __m512 xf = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_mul_ps(va, xf)));
    }
}

/* 64 values per step (four compares, one test of the ORed masks): nearly
 * every logit is below the threshold once the sampler's heap is full. */
static int k_next_above(const float *x, int i0, int n, float t) {
    const __m512 vt = _mm512_set1_ps(t);
    int i = i0;
    for (; i + 64 <= n; i += 64) {
        const __mmask16 m0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i), vt, _CMP_GT_OQ);
        const __mmask16 m1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 16), vt, _CMP_GT_OQ);
        const __mmask16 m2 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 32), vt, _CMP_GT_OQ);
        const __mmask16 m3 = _mm512_cmp_ps_mask(_mm512_loadu_ps(x + i + 48), vt, _CMP_GT_OQ);
        const uint64_t m = (uint64_t)m0 | (uint64_t)m1 << 16 | (uint64_t)m2 << 32 | (uint64_t)m3 << 48;
        if (m) return i + __builtin_ctzll(m);
    }
    for (; i < n; i += 16) {
        const __mmask16 tm = tail16(ADM_MIN(16, n - i));
        const __mmask16 m = _mm512_mask_cmp_ps_mask(tm, _mm512_maskz_loadu_ps(tm, x + i), vt, _CMP_GT_OQ);
        if (m) return i + __builtin_ctz(m);
    }
    return n;
}

static void k_scale_f32(int n, float a, float *y) {
    const __m512 va = _mm512_set1_ps(a);
    for (int i = 0; i < n; i += 16) {
        const __mmask16 m = tail16(ADM_MIN(16, n - i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), va));
    }
}

/* ---- the table ---- */

/* dispatch.c checks F/BW/VL/DQ/VNNI; AVX512_BF16 (CPUID 7.1 EAX bit 5) is
 * rarer (Ice Lake and Cascade Lake lack it), so vdpbf16ps is enabled only
 * when present, else the AVX2 BF16 kernels stay in the table. */
static bool cpu_has_avx512_bf16(void) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return (a >> 5) & 1u;
}

void adm_kernels_init_avx512(adm_kernels *t) {
    adm_kernels_init_avx2(t);
    t->name = "avx512";
    t->gemm_nr = 8; /* block-32 tiles take 8 rows; the others loop over 4-row tiles */
    t->gemm_nc = 8;

    t->vec_dot[ADM_TYPE_F32] = dot_f32;
    t->vec_dot[ADM_TYPE_F16] = dot_f16;
    if (cpu_has_avx512_bf16()) {
        t->vec_dot[ADM_TYPE_BF16] = dot_bf16;
        t->gemm[ADM_TYPE_BF16] = gemm_bf16;
    }
    t->vec_dot[ADM_TYPE_Q4_0] = dot_q4_0;
    t->vec_dot[ADM_TYPE_Q4_1] = dot_q4_1;
    t->vec_dot[ADM_TYPE_Q5_0] = dot_q5_0;
    t->vec_dot[ADM_TYPE_Q5_1] = dot_q5_1;
    t->vec_dot[ADM_TYPE_Q8_0] = dot_q8_0;
    t->vec_dot[ADM_TYPE_Q2_K] = dot_q2_K;
    t->vec_dot[ADM_TYPE_Q3_K] = dot_q3_K;
    t->vec_dot[ADM_TYPE_Q4_K] = dot_q4_K;
    t->vec_dot[ADM_TYPE_Q5_K] = dot_q5_K;
    t->vec_dot[ADM_TYPE_Q6_K] = dot_q6_K;

    t->gemm[ADM_TYPE_F32] = gemm_f32;
    t->gemm[ADM_TYPE_F16] = gemm_f16;
    t->gemm[ADM_TYPE_Q4_0] = gemm_q4_0;
    t->gemm[ADM_TYPE_Q4_1] = gemm_q4_1;
    t->gemm[ADM_TYPE_Q5_0] = gemm_q5_0;
    t->gemm[ADM_TYPE_Q5_1] = gemm_q5_1;
    t->gemm[ADM_TYPE_Q8_0] = gemm_q8_0;
    t->prep[ADM_TYPE_Q8_0] = prep_q8_0;
    t->gemm_prep[ADM_TYPE_Q8_0] = gemm_prep_q8_0;
    t->prep_bsum[ADM_TYPE_Q8_0] = prep_bsum_q8_0;
    t->gemm_bsum[ADM_TYPE_Q8_0] = gemm_bsum_q8_0;
    t->gemm_pack16[ADM_TYPE_Q8_0] = gemm_pack16_q8_0;
    t->gemm[ADM_TYPE_Q2_K] = gemm_q2_K;
    t->gemm[ADM_TYPE_Q3_K] = gemm_q3_K;
    t->gemm[ADM_TYPE_Q4_K] = gemm_q4_K;
    t->gemm[ADM_TYPE_Q5_K] = gemm_q5_K;
    t->gemm[ADM_TYPE_Q6_K] = gemm_q6_K;

    t->dot_f32 = k_dot_f32;
    t->dot_f16_f32 = k_dot_f16_f32;
    t->axpy_f32 = k_axpy_f32;
    t->axpy_f16 = k_axpy_f16;
    t->scale_f32 = k_scale_f32;
    t->next_above = k_next_above;
}
