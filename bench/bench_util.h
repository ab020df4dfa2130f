/*
 * bench_util.h - the small helpers every benchmark program needs: a
 * seeded generator (so runs measure the same data) and the median.
 * Header-only: every benchmark is a program of one .c file.
 */
#ifndef ADM_BENCH_UTIL_H
#define ADM_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>

typedef struct {
    uint64_t s;
} rng;

static inline uint32_t rng_u32(rng *r) {
    r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(r->s >> 32);
}

/* Irwin-Hall: the sum of 4 uniforms is close enough to a Gaussian here. */
static inline float rng_normal(rng *r) {
    float s = 0.0f;
    for (int i = 0; i < 4; i++) {
        r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
        s += (float)(r->s >> 40) * 0x1p-24f;
    }
    return (s - 2.0f) * 1.7320508f;
}

static inline int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts v in place. */
static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#endif
