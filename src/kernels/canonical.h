/*
 * canonical.h - the scalar definitions of operations whose exact result
 * kernels.h fixes (so every ISA gives the same bits): the 16-lane reduction
 * tree and the exponential used by softmax. SIMD files use these for tails
 * and follow the same steps in vector registers.
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

#define ADM_EXP_MIN (-87.0f)          /* below: 0 (2^-126 is the smallest normal) */
#define ADM_EXP_LOG2E 1.44269504f
#define ADM_EXP_LN2_HI 0.693145752f   /* ln 2 split so n * LN2_HI is exact */
#define ADM_EXP_LN2_LO 1.42860677e-6f

/* exp(x) for x <= 0: n = rint(x log2 e), r = x - n ln 2 in two fused steps,
 * a degree-6 Taylor polynomial of e^r in fused multiply-adds, times 2^n. */
static inline float adm_canonical_exp(float x) {
    if (!(x >= ADM_EXP_MIN)) return 0.0f; /* also NaN (from a broken model): no UB in the conversion */
    const float n = rintf(x * ADM_EXP_LOG2E);
    float r = fmaf(n, -ADM_EXP_LN2_HI, x);
    r = fmaf(n, -ADM_EXP_LN2_LO, r);
    float p = 1.0f / 720.0f;
    p = fmaf(p, r, 1.0f / 120.0f);
    p = fmaf(p, r, 1.0f / 24.0f);
    p = fmaf(p, r, 1.0f / 6.0f);
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    const uint32_t bits = (uint32_t)((int)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

#endif
