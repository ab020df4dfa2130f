/*
 * canonical.h - the scalar definitions of operations whose exact result
 * kernels.h fixes (so every ISA gives the same bits): the 16- and 8-lane
 * reduction trees, the exponential of softmax and SiLU, and the running
 * state of prompt attention. SIMD files use these for tails and follow the
 * same steps in vector registers.
 */
#ifndef ADM_KERNELS_CANONICAL_H
#define ADM_KERNELS_CANONICAL_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ((a[l] + a[l+8]) + (.. + a[l+4])) + ... : the tree AVX-512's reduce_add uses. */
static inline float adm_reduce16(const float *a) {
    float t[8], u[4], v[2];
    for (int i = 0; i < 8; i++) t[i] = a[i] + a[i + 8];
    for (int i = 0; i < 4; i++) u[i] = t[i] + t[i + 4];
    for (int i = 0; i < 2; i++) v[i] = u[i] + u[i + 2];
    return v[0] + v[1];
}

/* (a[l] + a[l+4]) + ... : the 8-lane tree of a 256-bit horizontal sum
 * (high half onto low, then movehl, then movehdup). */
static inline float adm_reduce8(const float *a) {
    float t[4], u[2];
    for (int i = 0; i < 4; i++) t[i] = a[i] + a[i + 4];
    for (int i = 0; i < 2; i++) u[i] = t[i] + t[i + 2];
    return u[0] + u[1];
}

/* The exponential of softmax and SiLU. It is the method llama.cpp's CPU
 * backend uses in its vector loops (ARM's optimized-routines expf: n =
 * round(x log2 e) through the 1.5 * 2^23 shifter, r = x - n ln 2 in two
 * fused steps, a degree-5 polynomial evaluated as two Estrin halves, r *
 * 2^n with one rounding), so that prompt logits can match llama.cpp's bit
 * for bit; its error is at most 2.24 ulp (every float argument checked).
 * SIMD files follow it step by step;
 * 2^n is applied in two exact-then-rounding halves where there is no
 * scalef instruction. */
#define ADM_EXP_SHIFT 0x1.8p23f
#define ADM_EXP_LOG2E 0x1.715476p+0f
#define ADM_EXP_LN2_HI 0x1.62e4p-1f
#define ADM_EXP_LN2_LO 0x1.7f7d1cp-20f
#define ADM_EXP_C1 0x1.ffffecp-1f
#define ADM_EXP_C2 0x1.fffdb6p-2f
#define ADM_EXP_C3 0x1.555e66p-3f
#define ADM_EXP_C4 0x1.573e2ep-5f
#define ADM_EXP_C5 0x1.0e4020p-7f
#define ADM_EXP_NMAX 192.0f /* beyond |n| = 192 the result is 0 or infinity */

static inline float adm_canonical_exp(float x) {
    if (x != x) return x;
    const float n = fmaf(x, ADM_EXP_LOG2E, ADM_EXP_SHIFT) - ADM_EXP_SHIFT;
    if (fabsf(n) > ADM_EXP_NMAX) return n > 0 ? INFINITY : 0.0f;
    float r = fmaf(-n, ADM_EXP_LN2_HI, x);
    r = fmaf(-n, ADM_EXP_LN2_LO, r);
    const float r2 = r * r;
    const float p = fmaf(fmaf(fmaf(ADM_EXP_C5, r, ADM_EXP_C4), r2, fmaf(ADM_EXP_C3, r, ADM_EXP_C2)), r2,
                         fmaf(ADM_EXP_C1, r, 1.0f));
    return ldexpf(p, (int)n); /* one rounding, also into the subnormal range */
}

/* The running state of a prompt-attention row meeting a key tile whose
 * largest score is tmax (kernels.h, attn_tile): a higher max scales the
 * sum and the output so far by expf(old - new), libm's expf as llama.cpp
 * uses there. Returns the new max. */
static inline float adm_tile_raise_max(float *M, float *S, float *acc, int hv, float tmax) {
    const float mnew = fmaxf(*M, tmax);
    if (mnew > *M) {
        const float ms = expf(*M - mnew);
        for (int i = 0; i < hv; i++) acc[i] *= ms;
        *S *= ms;
    }
    return *M = mnew;
}

/* SiLU(g) * u, the gate of SwiGLU, with the exponential above. */
static inline float adm_canonical_swiglu(float g, float u) { return g / (1.0f + adm_canonical_exp(-g)) * u; }

#endif
