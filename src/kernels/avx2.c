/*
 * avx2.c - AVX2 + FMA + F16C kernels (Haswell / Zen 1 and later). The only
 * translation unit built with those -m flags; dispatch.c calls
 * adm_kernels_init_avx2 only after CPUID confirms the features.
 *
 * Contract with scalar.c (the oracle): every integer block sum is exact (no
 * int16 saturation, no overflow), the float side differs from scalar only by
 * the order of additions (per-lane partial sums, reduced at the end), and
 * the activation quantizers produce byte-identical blocks. For every type
 * the result of one output does not depend on the tile shape it was
 * computed in: each (row, column) pair runs the same instruction sequence
 * with its own accumulator, so matmul results are identical for any thread
 * count and any nr/nc.
 *
 * Layout: helpers; block-32 types (Q4_0 .. Q8_0) as register-blocked tiles;
 * K-quants as "decode a super-block once, multiply it with every column";
 * float types; activation conversions; float helpers; the table.
 */
#include "kernels.h"

#include <immintrin.h>

/* Force the compiler to keep tile accumulators in registers: the tile
 * templates below take their shape as constant arguments, and must be
 * inlined and fully unrolled to get one register per accumulator. */
#define AI static inline __attribute__((always_inline))
#ifdef __clang__
#define UNROLL _Pragma("unroll")
#else
#define UNROLL _Pragma("GCC unroll 8")
#endif

#ifdef __clang__
/* Keep a * b + c as two roundings in scalar tails (as in scalar.c), so the
 * helpers that promise bit-identical results (axpy, scale) keep it. */
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- helpers ---- */

static inline __m256i ld256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline __m128i ld128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }
static inline float f16f(const void *p) { return _cvtsh_ss(adm_rd_u16(p)); }

/* Horizontal sum in one fixed order (every output uses the same order). */
static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hmax_ps(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

/* 16 packed bytes -> 32 nibbles in element order: byte j holds the low
 * nibble of q[j] for j < 16 and the high nibble of q[j - 16] after that,
 * which is how Q4_0/Q4_1/Q5_0/Q5_1 store elements j and j + 16. */
static inline __m256i nibbles32(const uint8_t *q) {
    const __m128i t = ld128(q);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

/* 32 bits -> 32 bytes, byte j = 0xFF if bit j is set. Trick: broadcast the
 * word, give byte j a copy of source byte j/8, OR in a mask that has every
 * bit except bit j%8 set, and compare with all-ones. */
static inline __m256i bits_to_bytes32(uint32_t bits) {
    const __m256i pick = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL, 0x0101010101010101LL, 0);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), pick);
    v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL));
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

/* ---- block-32 types: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 ----
 *
 * Dot types: Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1. Each 32-value
 * block pair gives 8 int32 lanes (lane k = the exact sum over values
 * 4k..4k+3), converted and scaled by dx*dy into the output's accumulator.
 *
 * pmaddubsw multiplies unsigned by signed bytes, so:
 *  - Q8_0 x Q8_0: |x| times y with x's sign (the sign trick; |x| = 128 is
 *    fine as an unsigned byte, and |y| <= 127 keeps the int16 sums exact);
 *  - Q4_0/Q5_0: unsigned codes u times y, minus 8 (16) times the pair sums
 *    of y, computed once per activation block and shared by all rows;
 *  - Q4_1/Q5_1: unsigned codes times y; the offset m * s term (s = d * sum
 *    of y, precomputed in Q8_1) is spread over the 8 lanes as m * (s / 8),
 *    exact since dividing by 8 is. */

enum { B_Q4_0, B_Q4_1, B_Q5_0, B_Q5_1, B_Q8_0 };

typedef struct {
    __m256i q, aq; /* codes; |codes| for Q8_0 */
    float d, m;
} b32_w;

typedef struct {
    __m256i y, corr; /* codes; per-type correction (see above) */
    float d, s8;
} b32_a;

AI size_t b32_wsize(const int T) {
    return T == B_Q4_0 ? sizeof(block_q4_0)
         : T == B_Q4_1 ? sizeof(block_q4_1)
         : T == B_Q5_0 ? sizeof(block_q5_0)
         : T == B_Q5_1 ? sizeof(block_q5_1)
                       : sizeof(block_q8_0);
}

AI bool b32_has_min(const int T) { return T == B_Q4_1 || T == B_Q5_1; }

AI b32_w b32_decode(const int T, const uint8_t *b) {
    b32_w w;
    w.d = f16f(b);
    w.m = 0.0f;
    w.aq = _mm256_setzero_si256();
    switch (T) {
    case B_Q4_0: w.q = nibbles32(b + 2); break;
    case B_Q4_1:
        w.m = f16f(b + 2);
        w.q = nibbles32(b + 4);
        break;
    case B_Q5_0:
        w.q = _mm256_or_si256(nibbles32(b + 6),
                              _mm256_and_si256(bits_to_bytes32(adm_rd_u32(b + 2)), _mm256_set1_epi8(0x10)));
        break;
    case B_Q5_1:
        w.m = f16f(b + 2);
        w.q = _mm256_or_si256(nibbles32(b + 8),
                              _mm256_and_si256(bits_to_bytes32(adm_rd_u32(b + 4)), _mm256_set1_epi8(0x10)));
        break;
    default:
        w.q = ld256(b + 2);
        w.aq = _mm256_abs_epi8(w.q);
        break;
    }
    return w;
}

AI b32_a b32_prep(const int T, const uint8_t *b) {
    b32_a a;
    a.d = f16f(b);
    a.s8 = 0.0f;
    a.corr = _mm256_setzero_si256();
    if (b32_has_min(T)) {
        a.s8 = f16f(b + 2) * 0.125f;
        a.y = ld256(b + 4);
    } else {
        a.y = ld256(b + 2);
        if (T == B_Q4_0) a.corr = _mm256_maddubs_epi16(_mm256_set1_epi8(8), a.y);
        if (T == B_Q5_0) a.corr = _mm256_maddubs_epi16(_mm256_set1_epi8(16), a.y);
    }
    return a;
}

AI __m256 b32_pair(const int T, const b32_w *w, const b32_a *a, __m256 acc) {
    __m256i p;
    if (T == B_Q8_0) p = _mm256_maddubs_epi16(w->aq, _mm256_sign_epi8(a->y, w->q));
    else if (T == B_Q4_0 || T == B_Q5_0) p = _mm256_sub_epi16(_mm256_maddubs_epi16(w->q, a->y), a->corr);
    else p = _mm256_maddubs_epi16(w->q, a->y);
    const __m256i p32 = _mm256_madd_epi16(p, _mm256_set1_epi16(1));
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_set1_ps(w->d * a->d), acc);
    if (b32_has_min(T)) acc = _mm256_fmadd_ps(_mm256_set1_ps(w->m), _mm256_set1_ps(a->s8), acc);
    return acc;
}

/* One NR x NC tile (NR <= 4, NC <= 2): activations prepared once per
 * block and column, each weight block decoded once and used NC times. */
AI void b32_tile(const int T, const int NR, const int NC, int n, const uint8_t *w, size_t ws, const uint8_t *a,
                 size_t as, float *s, size_t lds) {
    const size_t bx = b32_wsize(T), by = b32_has_min(T) ? sizeof(block_q8_1) : sizeof(block_q8_0);
    __m256 acc[4][2];
    UNROLL for (int r = 0; r < NR; r++) UNROLL for (int c = 0; c < NC; c++) acc[r][c] = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        b32_a ya[2];
        UNROLL for (int c = 0; c < NC; c++) ya[c] = b32_prep(T, a + c * as + (size_t)i * by);
        UNROLL for (int r = 0; r < NR; r++) {
            const b32_w x = b32_decode(T, w + r * ws + (size_t)i * bx);
            UNROLL for (int c = 0; c < NC; c++) acc[r][c] = b32_pair(T, &x, &ya[c], acc[r][c]);
        }
    }
    UNROLL for (int r = 0; r < NR; r++) UNROLL for (int c = 0; c < NC; c++) s[c * lds + r] = hsum_ps(acc[r][c]);
}

/* Covers any nr x nc <= ADM_TILE_MAX with 4 x 2 register tiles, or row
 * by row for one or two columns (one sequential weight stream, see
 * kq_gemm; two columns are a speculative-decoding batch). */
AI void b32_gemm(const int T, int n, int nr, int nc, const void *vw, size_t ws, const void *va, size_t as, float *s,
                 size_t lds) {
    if (nc == 1) {
        for (int r = 0; r < nr; r++) b32_tile(T, 1, 1, n, (const uint8_t *)vw + (size_t)r * ws, ws, va, as, s + r, lds);
        return;
    }
    if (nc == 2) {
        for (int r = 0; r < nr; r++) b32_tile(T, 1, 2, n, (const uint8_t *)vw + (size_t)r * ws, ws, va, as, s + r, lds);
        return;
    }
    for (int c = 0; c < nc; c += 2) {
        const int cc = ADM_MIN(2, nc - c);
        for (int r = 0; r < nr; r += 4) {
            const int rr = ADM_MIN(4, nr - r);
            const uint8_t *w = (const uint8_t *)vw + (size_t)r * ws, *a = (const uint8_t *)va + (size_t)c * as;
            float *o = s + (size_t)c * lds + r;
            switch (rr * 10 + cc) {
            case 11: b32_tile(T, 1, 1, n, w, ws, a, as, o, lds); break;
            case 21: b32_tile(T, 2, 1, n, w, ws, a, as, o, lds); break;
            case 31: b32_tile(T, 3, 1, n, w, ws, a, as, o, lds); break;
            case 41: b32_tile(T, 4, 1, n, w, ws, a, as, o, lds); break;
            case 12: b32_tile(T, 1, 2, n, w, ws, a, as, o, lds); break;
            case 22: b32_tile(T, 2, 2, n, w, ws, a, as, o, lds); break;
            case 32: b32_tile(T, 3, 2, n, w, ws, a, as, o, lds); break;
            default: b32_tile(T, 4, 2, n, w, ws, a, as, o, lds); break;
            }
        }
    }
}

#define B32_KERNELS(NAME, T)                                                                                        \
    static void dot_##NAME(int n, float *s, const void *x, const void *y) {                                        \
        b32_tile(T, 1, 1, n, x, 0, y, 0, s, 0);                                                                     \
    }                                                                                                               \
    static void gemm_##NAME(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *s,   \
                            size_t lds) {                                                                           \
        b32_gemm(T, n, nr, nc, w, ws, a, as, s, lds);                                                               \
    }
B32_KERNELS(q4_0, B_Q4_0)
B32_KERNELS(q4_1, B_Q4_1)
B32_KERNELS(q5_0, B_Q5_0)
B32_KERNELS(q5_1, B_Q5_1)
B32_KERNELS(q8_0, B_Q8_0)
#undef B32_KERNELS

/* ---- K-quants: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (dot type Q8_K) ----
 *
 * A super-block of 256 weights is 8 chunks of 32 values; chunk k gives a
 * vector of unsigned codes u and a vector of int16 sub-block scales, and
 *   sumi = sum_k madd(maddubs(u_k, y_k), scale_k)     (exact int32 lanes)
 * The constant part of each code is handled through Q8_K's bsums (sums of
 * 16 activations), madd'ed with a per-type int16 vector `mn`:
 *   Q2_K, Q4_K, Q5_K: value = d*sc*u - dmin*m  -> float term -dmin*(mn.bsums)
 *   Q3_K: value = sc*(u - 4), Q6_K: value = sc*(u - 32)
 *        -> mn = 4*sc (32*sc), subtracted from sumi in integers.
 * The largest int16 product is 2*63*127 (Q6_K), so maddubs never saturates;
 * a lane sums at most 32 products of 63*127*128, far below 2^31.
 *
 * Two paths share kq_header/kq_chunk, so they produce the same lanes and
 * bit-identical results: a fused one for one activation column (decode,
 * streaming rows) and a decode-once one for tiles of several columns
 * (prompt processing), which stores the chunks and reuses them per column. */

enum { K_Q2, K_Q3, K_Q4, K_Q5, K_Q6 };

typedef struct {
    __m256i sa, sb; /* scale sources for the chunks' pshufb */
    __m256i bits;   /* Q3_K hmask / Q5_K qh */
    __m256i mn;     /* int16 multipliers of the 16 bsums */
    float d, dmin;
} kq_hdr;

typedef struct {
    __m256i q[8], sc[8], mn;
    float d, dmin;
} kq_dec;

AI size_t kq_size(const int T) {
    return T == K_Q2 ? sizeof(block_q2_K)
         : T == K_Q3 ? sizeof(block_q3_K)
         : T == K_Q4 ? sizeof(block_q4_K)
         : T == K_Q5 ? sizeof(block_q5_K)
                     : sizeof(block_q6_K);
}

/* pshufb controls (per 128-bit half). For 16-value sub-blocks (Q2_K, Q3_K,
 * Q6_K) chunk k needs [scale 2k x 8 | scale 2k+1 x 8]: with both halves
 * holding int16 scales 0-7 (sa) or 8-15 (sb), row k%4 picks int16 2k in
 * the low half and 2k+1 in the high half. For 32-value sub-blocks (Q4_K,
 * Q5_K) row k picks int16 k everywhere. */
#define PICK2(a) a, a + 1, a, a + 1, a, a + 1, a, a + 1, a, a + 1, a, a + 1, a, a + 1, a, a + 1
static const uint8_t k_pick_pair[4][32] = {
    {PICK2(0), PICK2(2)}, {PICK2(4), PICK2(6)}, {PICK2(8), PICK2(10)}, {PICK2(12), PICK2(14)}};
static const uint8_t k_pick_one[8][32] = {
    {PICK2(0), PICK2(0)},   {PICK2(2), PICK2(2)},   {PICK2(4), PICK2(4)},   {PICK2(6), PICK2(6)},
    {PICK2(8), PICK2(8)},   {PICK2(10), PICK2(10)}, {PICK2(12), PICK2(12)}, {PICK2(14), PICK2(14)}};
#undef PICK2

/* The 8 scales and 8 mins of Q4_K/Q5_K, unpacked 4 at a time with 32-bit
 * masks (bytes 0-3 scales, 4-7 mins low; 8-11 hold the high sub-blocks'
 * low nibbles; bits 6-7 of bytes 0-7 their high bits). */
static inline void k4_scales(const uint8_t *p, uint32_t sc[2], uint32_t mn[2]) {
    const uint32_t u0 = adm_rd_u32(p), u1 = adm_rd_u32(p + 4), u2 = adm_rd_u32(p + 8);
    sc[0] = u0 & 0x3f3f3f3fu;
    mn[0] = u1 & 0x3f3f3f3fu;
    sc[1] = (u2 & 0x0f0f0f0fu) | ((u0 >> 2) & 0x30303030u);
    mn[1] = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 2) & 0x30303030u);
}

/* Q3_K's 16 6-bit scales (biased by 32) as signed bytes, 4 at a time:
 * low nibbles from bytes 0-7 (scales 0-7) or their high nibbles (8-15),
 * the 2 high bits from bytes 8-11 at bit 2 * (j / 4). */
static inline __m128i q3k_scales(const uint8_t *p) {
    const uint32_t u0 = adm_rd_u32(p), u1 = adm_rd_u32(p + 4), hi = adm_rd_u32(p + 8);
    const uint32_t s0 = (u0 & 0x0f0f0f0fu) | ((hi & 0x03030303u) << 4);
    const uint32_t s1 = (u1 & 0x0f0f0f0fu) | (((hi >> 2) & 0x03030303u) << 4);
    const uint32_t s2 = ((u0 >> 4) & 0x0f0f0f0fu) | (((hi >> 4) & 0x03030303u) << 4);
    const uint32_t s3 = ((u1 >> 4) & 0x0f0f0f0fu) | (((hi >> 6) & 0x03030303u) << 4);
    return _mm_sub_epi8(_mm_set_epi32((int)s3, (int)s2, (int)s1, (int)s0), _mm_set1_epi8(32));
}

AI void kq_header(const int T, const uint8_t *blk, kq_hdr *h) {
    h->bits = _mm256_setzero_si256();
    h->dmin = 0.0f;
    __m256i sc16;
    if (T == K_Q2) {
        const block_q2_K *x = (const block_q2_K *)blk;
        h->d = f16f(&x->d);
        h->dmin = f16f(&x->dmin);
        const __m128i raw = ld128(x->scales);
        sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(raw, _mm_set1_epi8(0x0F)));
        h->mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(raw, 4), _mm_set1_epi8(0x0F)));
    } else if (T == K_Q3) {
        const block_q3_K *x = (const block_q3_K *)blk;
        h->d = f16f(&x->d);
        sc16 = _mm256_cvtepi8_epi16(q3k_scales(x->scales));
        h->mn = _mm256_slli_epi16(sc16, 2);
        h->bits = ld256(x->hmask);
    } else if (T == K_Q6) {
        const block_q6_K *x = (const block_q6_K *)blk;
        h->d = f16f(&x->d);
        sc16 = _mm256_cvtepi8_epi16(ld128(x->scales));
        h->mn = _mm256_slli_epi16(sc16, 5);
    } else {
        h->d = f16f(blk);
        h->dmin = f16f(blk + 2);
        uint32_t sc[2], mn[2];
        k4_scales(blk + 4, sc, mn);
        const __m128i s8 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sc[1], (int)sc[0]));
        h->sa = h->sb = _mm256_set_m128i(s8, s8);
        /* Each min multiplies the two bsums of its 32 values. */
        const __m128i m8 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)mn[1], (int)mn[0]));
        h->mn = _mm256_set_m128i(_mm_unpackhi_epi16(m8, m8), _mm_unpacklo_epi16(m8, m8));
        if (T == K_Q5) h->bits = ld256(((const block_q5_K *)blk)->qh);
        return;
    }
    h->sa = _mm256_permute2x128_si256(sc16, sc16, 0x00);
    h->sb = _mm256_permute2x128_si256(sc16, sc16, 0x11);
}

/* Codes and scales of chunk k (values 32k .. 32k+31); k is a constant
 * after unrolling, so the shifts are immediates and shared loads CSE. */
AI void kq_chunk(const int T, const uint8_t *blk, const kq_hdr *h, const int k, __m256i *q, __m256i *sc) {
    const __m256i m2 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    if (T == K_Q2 || T == K_Q3) {
        const uint8_t *qs = T == K_Q2 ? ((const block_q2_K *)blk)->qs : ((const block_q3_K *)blk)->qs;
        const __m256i v = ld256(qs + 32 * (k / 4));
        *q = _mm256_and_si256(_mm256_srli_epi16(v, 2 * (k % 4)), m2);
        /* Q3_K: u = low 2 bits | hmask bit (4h + j) << 2, value u - 4. */
        if (T == K_Q3) {
            const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(h->bits, k), one);
            *q = _mm256_or_si256(*q, _mm256_slli_epi16(hb, 2));
        }
        *sc = _mm256_shuffle_epi8(k < 4 ? h->sa : h->sb, ld256(k_pick_pair[k % 4]));
    } else if (T == K_Q4 || T == K_Q5) {
        const uint8_t *qs = T == K_Q4 ? ((const block_q4_K *)blk)->qs : ((const block_q5_K *)blk)->qs;
        const __m256i v = ld256(qs + 32 * (k / 2));
        *q = _mm256_and_si256(k % 2 ? _mm256_srli_epi16(v, 4) : v, m4);
        if (T == K_Q5) {
            const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(h->bits, k), one);
            *q = _mm256_or_si256(*q, _mm256_slli_epi16(hb, 4));
        }
        *sc = _mm256_shuffle_epi8(h->sa, ld256(k_pick_one[k]));
    } else {
        /* Q6_K value 128h + 32j + l: nibble j/2 of ql[64h + 32(j%2) + l],
         * high bits 2j of qh[32h + l]. */
        const block_q6_K *x = (const block_q6_K *)blk;
        const int hh = k / 4, j = k % 4;
        const __m256i l = ld256(x->ql + 64 * hh + 32 * (j % 2));
        const __m256i lo = _mm256_and_si256(j / 2 ? _mm256_srli_epi16(l, 4) : l, m4);
        const __m256i hb = _mm256_and_si256(_mm256_srli_epi16(ld256(x->qh + 32 * hh), 2 * j), m2);
        *q = _mm256_or_si256(lo, _mm256_slli_epi16(hb, 4));
        *sc = _mm256_shuffle_epi8(k < 4 ? h->sa : h->sb, ld256(k_pick_pair[k % 4]));
    }
}

/* The float side, shared by both paths: one lane-wise update per block. */
AI __m256 kq_finish(const int T, __m256i sumi, __m256i mn, float d, float dmin, const block_q8_K *y, __m256 acc) {
    const __m256i summ = _mm256_madd_epi16(ld256(y->bsums), mn);
    if (T == K_Q3 || T == K_Q6)
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(sumi, summ)), _mm256_set1_ps(d * y->d), acc);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d * y->d), acc);
    return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(summ), _mm256_set1_ps(dmin * y->d), acc);
}

/* Fused path: one row against one column. */
AI float kq_row(const int T, int n, const uint8_t *x, const block_q8_K *y) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++, x += kq_size(T), y++) {
        kq_hdr h;
        kq_header(T, x, &h);
        __m256i sumi = _mm256_setzero_si256();
        UNROLL for (int k = 0; k < 8; k++) {
            __m256i q, sc;
            kq_chunk(T, x, &h, k, &q, &sc);
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q, ld256(y->qs + 32 * k)), sc));
        }
        acc = kq_finish(T, sumi, h.mn, h.d, h.dmin, y, acc);
    }
    return hsum_ps(acc);
}

AI void kq_decode(const int T, const uint8_t *x, kq_dec *o) {
    kq_hdr h;
    kq_header(T, x, &h);
    UNROLL for (int k = 0; k < 8; k++) kq_chunk(T, x, &h, k, &o->q[k], &o->sc[k]);
    o->mn = h.mn;
    o->d = h.d;
    o->dmin = h.dmin;
}

AI __m256 kq_pair(const int T, const kq_dec *x, const block_q8_K *y, __m256 acc) {
    __m256i sumi = _mm256_setzero_si256();
    UNROLL for (int k = 0; k < 8; k++)
        sumi = _mm256_add_epi32(sumi,
                                _mm256_madd_epi16(_mm256_maddubs_epi16(x->q[k], ld256(y->qs + 32 * k)), x->sc[k]));
    return kq_finish(T, sumi, x->mn, x->d, x->dmin, y, acc);
}

/* One row against NC columns (NC constant, so the NC accumulators stay in
 * registers; a decoded super-block is 16 registers, all AVX2 has, so it
 * lives in L1): each super-block is decoded once and run against every
 * column, in the order of kq_row. */
AI void kq_rowcols(const int T, const int NC, int n, const uint8_t *x, const uint8_t *a, size_t as, float *s,
                   size_t lds) {
    const size_t bx = kq_size(T);
    __m256 acc[ADM_TILE_MAX];
    UNROLL for (int c = 0; c < NC; c++) acc[c] = _mm256_setzero_ps();
    for (int i = 0; i < n / QK_K; i++) {
        kq_dec d;
        kq_decode(T, x + (size_t)i * bx, &d);
        UNROLL for (int c = 0; c < NC; c++) acc[c] = kq_pair(T, &d, (const block_q8_K *)(a + c * as) + i, acc[c]);
    }
    UNROLL for (int c = 0; c < NC; c++) s[c * lds] = hsum_ps(acc[c]);
}

/* Any nr x nc <= ADM_TILE_MAX, rows one after another: a thread reads its
 * weights as one sequential stream (interleaving rows halves the DRAM
 * throughput the prefetchers reach), the columns in groups of 8, 4 or 2
 * per decoded super-block (as avx512.c's zk_gemm). */
AI void kq_gemm(const int T, int n, int nr, int nc, const void *vw, size_t ws, const void *va, size_t as, float *s,
                size_t lds) {
    const uint8_t *w = vw, *a = va;
    for (int r = 0; r < nr; r++) {
        const uint8_t *x = w + r * ws;
        for (int c = 0; c < nc;) {
            const int g = adm_col_group(nc - c);
            const uint8_t *ac = a + c * as;
            float *o = s + (size_t)c * lds + r;
            switch (g) {
            case 8: kq_rowcols(T, 8, n, x, ac, as, o, lds); break;
            case 4: kq_rowcols(T, 4, n, x, ac, as, o, lds); break;
            case 2: kq_rowcols(T, 2, n, x, ac, as, o, lds); break;
            default: *o = kq_row(T, n, x, (const block_q8_K *)ac); break;
            }
            c += g;
        }
    }
}

#define KQ_KERNELS(NAME, T)                                                                                         \
    static void dot_##NAME(int n, float *s, const void *x, const void *y) { *s = kq_row(T, n, x, y); }              \
    static void gemm_##NAME(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *s,   \
                            size_t lds) {                                                                           \
        kq_gemm(T, n, nr, nc, w, ws, a, as, s, lds);                                                                \
    }
KQ_KERNELS(q2_K, K_Q2)
KQ_KERNELS(q3_K, K_Q3)
KQ_KERNELS(q4_K, K_Q4)
KQ_KERNELS(q5_K, K_Q5)
KQ_KERNELS(q6_K, K_Q6)
#undef KQ_KERNELS

/* ---- float types: F32, F16, BF16 (dot type = weight type) ----
 * The canonical order of kernels.h / scalar.c: 16 lanes per output, held
 * as two 8-lane accumulators (lanes 0-7, 8-15), which also gives a lone
 * row two FMA chains. F32/F16 take 16 consecutive values per step; BF16
 * takes 32 and emulates vdpbf16ps: lane l gets value 2l+1, then 2l. A
 * partial last step is copied into a zeroed buffer (zeros leave the lanes
 * unchanged). Tiles are at most 2 x 2 (4 outputs x 2 chains). */

enum { F_F32, F_F16, F_BF16 };

AI int fl_step(const int T) { return T == F_BF16 ? 32 : 16; }
AI size_t fl_esize(const int T) { return T == F_F32 ? 4 : 2; }

AI __m256 fl_load(const int T, const uint8_t *p) {
    if (T == F_F32) return _mm256_loadu_ps((const float *)p);
    if (T == F_F16) return _mm256_cvtph_ps(ld128(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(ld128(p)), 16));
}

/* Half h (lanes 8h .. 8h+7) of one step: acc += x * y in the lane order. */
AI __m256 fl_half(const int T, const uint8_t *x, const uint8_t *y, int h, __m256 acc) {
    if (T != F_BF16) return _mm256_fmadd_ps(fl_load(T, x + 8 * h * fl_esize(T)), fl_load(T, y + 8 * h * fl_esize(T)), acc);
    const __m256i wx = ld256(x + 32 * h), wy = ld256(y + 32 * h), hi = _mm256_set1_epi32((int)0xFFFF0000u);
    acc = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_and_si256(wx, hi)), _mm256_castsi256_ps(_mm256_and_si256(wy, hi)),
                          acc);
    return _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(wx, 16)), _mm256_castsi256_ps(_mm256_slli_epi32(wy, 16)),
                           acc);
}

AI void fl_tile(const int T, const int NR, const int NC, int n, const uint8_t *w, size_t ws, const uint8_t *a,
                size_t as, float *s, size_t lds) {
    const size_t es = fl_esize(T);
    const int step = fl_step(T);
    __m256 acc[2][2][2];
    UNROLL for (int r = 0; r < NR; r++) UNROLL for (int c = 0; c < NC; c++) acc[r][c][0] = acc[r][c][1] =
        _mm256_setzero_ps();
    int i = 0;
    for (; i + step <= n; i += step)
        UNROLL for (int h = 0; h < 2; h++) UNROLL for (int r = 0; r < NR; r++) UNROLL for (int c = 0; c < NC; c++)
            acc[r][c][h] = fl_half(T, w + r * ws + (size_t)i * es, a + c * as + (size_t)i * es, h, acc[r][c][h]);
    if (i < n) {
        _Alignas(32) uint8_t tw[2][64] = {{0}}, ta[2][64] = {{0}};
        const size_t bytes = (size_t)(n - i) * es;
        UNROLL for (int r = 0; r < NR; r++) memcpy(tw[r], w + r * ws + (size_t)i * es, bytes);
        UNROLL for (int c = 0; c < NC; c++) memcpy(ta[c], a + c * as + (size_t)i * es, bytes);
        UNROLL for (int h = 0; h < 2; h++) UNROLL for (int r = 0; r < NR; r++) UNROLL for (int c = 0; c < NC; c++)
            acc[r][c][h] = fl_half(T, tw[r], ta[c], h, acc[r][c][h]);
    }
    UNROLL for (int r = 0; r < NR; r++) UNROLL for (int c = 0; c < NC; c++) s[c * lds + r] =
        hsum_ps(_mm256_add_ps(acc[r][c][0], acc[r][c][1]));
}

AI void fl_gemm(const int T, int n, int nr, int nc, const void *vw, size_t ws, const void *va, size_t as, float *s,
                size_t lds) {
    for (int c = 0; c < nc; c += 2) {
        const int cc = ADM_MIN(2, nc - c);
        for (int r = 0; r < nr; r += cc == 1 ? 1 : 2) {
            const int rr = cc == 1 ? 1 : ADM_MIN(2, nr - r);
            const uint8_t *w = (const uint8_t *)vw + (size_t)r * ws, *a = (const uint8_t *)va + (size_t)c * as;
            float *o = s + (size_t)c * lds + r;
            switch (rr * 10 + cc) {
            case 11: fl_tile(T, 1, 1, n, w, ws, a, as, o, lds); break;
            case 12: fl_tile(T, 1, 2, n, w, ws, a, as, o, lds); break;
            default: fl_tile(T, 2, 2, n, w, ws, a, as, o, lds); break;
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

/* ---- activation conversions (byte-identical to quant.c) ---- */

/* 4 x 8 int32 in [-128, 127] -> 32 bytes in order (packs work per 128-bit
 * half, so the dwords come out as a0 b0 c0 d0 a1 b1 c1 d1; permute back). */
static inline __m256i pack_epi32_to_epi8(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i v = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* Largest |x| over 32 values (max_ps(new, acc) ignores a NaN in `new`,
 * like fmaxf in the reference). */
static inline float amax32(const __m256 v[4]) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_andnot_ps(sign, v[0]);
    for (int k = 1; k < 4; k++) m = _mm256_max_ps(_mm256_andnot_ps(sign, v[k]), m);
    return hmax_ps(m);
}

static void quantize_q8_01(const float *x, void *vy, int64_t n, bool with_sum) {
    uint8_t *out = vy;
    const size_t bs = with_sum ? sizeof(block_q8_1) : sizeof(block_q8_0);
    for (int64_t i = 0; i < n / 32; i++, x += 32, out += bs) {
        __m256 v[4];
        for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + 8 * k);
        const float amax = amax32(v), d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        __m256i q[4]; /* cvtps2dq rounds half to even in the default MXCSR mode */
        for (int k = 0; k < 4; k++) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], _mm256_set1_ps(id)));
        const adm_f16 dh = adm_f32_to_f16(d);
        memcpy(out, &dh, 2);
        if (with_sum) {
            const int sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
            const adm_f16 sh = adm_f32_to_f16((float)sum * d);
            memcpy(out + 2, &sh, 2);
        }
        _mm256_storeu_si256((__m256i *)(out + (with_sum ? 4 : 2)), pack_epi32_to_epi8(q[0], q[1], q[2], q[3]));
    }
}

static void from_f32_q8_0(const float *x, void *y, int64_t n) { quantize_q8_01(x, y, n, false); }
static void from_f32_q8_1(const float *x, void *y, int64_t n) { quantize_q8_01(x, y, n, true); }

/* Q8_K: scale from the signed value of largest magnitude (the first one,
 * as in the reference scan), codes rounded to nearest even (cvtps2dq in
 * the default MXCSR mode = nearbyint), bsums from psadbw on codes + 128. */
static void from_f32_q8_K(const float *x, void *vy, int64_t n) {
    block_q8_K *y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 m = _mm256_andnot_ps(sign, _mm256_loadu_ps(x));
        for (int k = 1; k < 32; k++) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k)), m);
        const float amax = hmax_ps(m);
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        float max = 0.0f;
        const __m256 am = _mm256_set1_ps(amax);
        for (int k = 0; k < 32; k++) {
            const int hit = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * k)), am,
                                                             _CMP_EQ_OQ));
            if (hit) {
                max = x[8 * k + __builtin_ctz((unsigned)hit)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i lim = _mm256_set1_epi32(127);
        for (int k = 0; k < 8; k++) {
            __m256i q[4];
            for (int j = 0; j < 4; j++)
                q[j] = _mm256_min_epi32(
                    _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * k + 8 * j), vs)), lim);
            const __m256i b = pack_epi32_to_epi8(q[0], q[1], q[2], q[3]);
            _mm256_storeu_si256((__m256i *)(y[i].qs + 32 * k), b);
            const __m256i sad =
                _mm256_sad_epu8(_mm256_xor_si256(b, _mm256_set1_epi8((char)0x80)), _mm256_setzero_si256());
            uint64_t p[4];
            _mm256_storeu_si256((__m256i *)p, sad);
            y[i].bsums[2 * k] = (int16_t)((int)(p[0] + p[1]) - 16 * 128);
            y[i].bsums[2 * k + 1] = (int16_t)((int)(p[2] + p[3]) - 16 * 128);
        }
        y[i].d = 1.0f / iscale;
    }
}

/* f32 -> f16 with F16C (round to nearest even, subnormals exact); NaNs are
 * rewritten to the reference's canonical quiet NaN (sign | 0x7e00). */
static inline __m128i f32_to_f16_8(__m256 v) {
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m256i nan32 = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    const __m128i nan16 = _mm_packs_epi32(_mm256_castsi256_si128(nan32), _mm256_extracti128_si256(nan32, 1));
    if (_mm_testz_si128(nan16, nan16)) return h;
    const __m128i canon = _mm_or_si128(_mm_and_si128(h, _mm_set1_epi16((short)0x8000)), _mm_set1_epi16(0x7e00));
    return _mm_blendv_epi8(h, canon, nan16);
}

static void from_f32_f16(const float *x, void *vy, int64_t n) {
    uint8_t *y = vy;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm_storeu_si128((__m128i *)(y + 2 * i), f32_to_f16_8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) {
        const adm_f16 h = adm_f32_to_f16(x[i]);
        memcpy(y + 2 * i, &h, 2);
    }
}

/* f32 -> bf16 round to nearest even in integers (the reference's formula:
 * add 0x7fff plus the lowest kept bit), NaNs quieted by setting bit 6. */
static void from_f32_bf16(const float *x, void *vy, int64_t n) {
    uint8_t *y = vy;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i u = _mm256_loadu_si256((const __m256i *)(x + i));
        const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
        const __m256i rne =
            _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
        const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
        const __m256i is_nan =
            _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)), _mm256_set1_epi32(0x7f800000));
        const __m256i r = _mm256_blendv_epi8(rne, quiet, is_nan);
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
        _mm_storeu_si128((__m128i *)(y + 2 * i), _mm256_castsi256_si128(p));
    }
    for (; i < n; i++) {
        const adm_bf16 h = adm_f32_to_bf16(x[i]);
        memcpy(y + 2 * i, &h, 2);
    }
}

static void to_f32_f16(const void *vx, float *y, int64_t n) {
    const uint8_t *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(ld128(x + 2 * i)));
    for (; i < n; i++) y[i] = f16f(x + 2 * i);
}

static void to_f32_bf16(const void *vx, float *y, int64_t n) {
    const uint8_t *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, fl_load(F_BF16, x + 2 * i));
    for (; i < n; i++) y[i] = adm_bf16_to_f32(adm_rd_u16(x + 2 * i));
}

/* ---- float helpers (forward pass, attention) ---- */

static float k_dot_f32(int n, const float *x, const float *y) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k), acc[k]);
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
    float tail = 0.0f;
    for (; i < n; i++) tail += x[i] * y[i];
    return hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))) + tail;
}

static float k_dot_f16_f32(int n, const adm_f16 *x, const float *y) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_cvtph_ps(ld128(x + i + 8 * k)), _mm256_loadu_ps(y + i + 8 * k), acc[k]);
    for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_cvtph_ps(ld128(x + i)), _mm256_loadu_ps(y + i), acc[0]);
    float tail = 0.0f;
    for (; i < n; i++) tail += _cvtsh_ss(x[i]) * y[i];
    return hsum_ps(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]))) + tail;
}

/* axpy and scale round exactly like scalar.c (multiply, then add; no FMA). */
static void k_axpy_f32(int n, float a, const float *x, float *y) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++) y[i] += a * x[i];
}

static void k_axpy_f16(int n, float a, const adm_f16 *x, float *y) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, _mm256_cvtph_ps(ld128(x + i)))));
    for (; i < n; i++) y[i] += a * _cvtsh_ss(x[i]);
}

/* 32 values per step (four compares, one test of the ORed masks): nearly
 * every logit is below the threshold once the sampler's heap is full. */
static int k_next_above(const float *x, int i0, int n, float t) {
    const __m256 vt = _mm256_set1_ps(t);
    int i = i0;
    for (; i + 32 <= n; i += 32) {
        const uint32_t m = (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), vt, _CMP_GT_OQ)) |
                           (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i + 8), vt, _CMP_GT_OQ)) << 8 |
                           (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i + 16), vt, _CMP_GT_OQ)) << 16 |
                           (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i + 24), vt, _CMP_GT_OQ)) << 24;
        if (m) return i + __builtin_ctz(m);
    }
    while (i < n && !(x[i] > t)) i++;
    return i;
}

static void k_scale_f32(int n, float a, float *y) {
    const __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), va));
    for (; i < n; i++) y[i] *= a;
}

/* ---- the table ---- */

void adm_kernels_init_avx2(adm_kernels *t) {
    adm_kernels_fill_scalar(t);
    t->name = "avx2";
    t->gemm_nr = 4;
    t->gemm_nc = 8;
    /* No block-sum kernels: without vpdpbusd the 16-rows-in-lanes layout
     * does not pay, and scalar.c's definition would be slower than the
     * canonical tiles. */
    t->prep_bsum[ADM_TYPE_Q8_0] = NULL;
    t->gemm_bsum[ADM_TYPE_Q8_0] = NULL;
    t->gemm_pack16[ADM_TYPE_Q8_0] = NULL;

    t->vec_dot[ADM_TYPE_F32] = dot_f32;
    t->vec_dot[ADM_TYPE_F16] = dot_f16;
    t->vec_dot[ADM_TYPE_BF16] = dot_bf16;
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
    t->gemm[ADM_TYPE_BF16] = gemm_bf16;
    t->gemm[ADM_TYPE_Q4_0] = gemm_q4_0;
    t->gemm[ADM_TYPE_Q4_1] = gemm_q4_1;
    t->gemm[ADM_TYPE_Q5_0] = gemm_q5_0;
    t->gemm[ADM_TYPE_Q5_1] = gemm_q5_1;
    t->gemm[ADM_TYPE_Q8_0] = gemm_q8_0;
    t->gemm[ADM_TYPE_Q2_K] = gemm_q2_K;
    t->gemm[ADM_TYPE_Q3_K] = gemm_q3_K;
    t->gemm[ADM_TYPE_Q4_K] = gemm_q4_K;
    t->gemm[ADM_TYPE_Q5_K] = gemm_q5_K;
    t->gemm[ADM_TYPE_Q6_K] = gemm_q6_K;

    t->from_float[ADM_TYPE_F16] = from_f32_f16;
    t->from_float[ADM_TYPE_BF16] = from_f32_bf16;
    t->from_float[ADM_TYPE_Q8_0] = from_f32_q8_0;
    t->from_float[ADM_TYPE_Q8_1] = from_f32_q8_1;
    t->from_float[ADM_TYPE_Q8_K] = from_f32_q8_K;
    t->to_float[ADM_TYPE_F16] = to_f32_f16;
    t->to_float[ADM_TYPE_BF16] = to_f32_bf16;

    t->dot_f32 = k_dot_f32;
    t->dot_f16_f32 = k_dot_f16_f32;
    t->axpy_f32 = k_axpy_f32;
    t->axpy_f16 = k_axpy_f16;
    t->scale_f32 = k_scale_f32;
    t->next_above = k_next_above;
}
