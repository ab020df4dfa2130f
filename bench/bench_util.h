/*
 * bench_util.h - the small helpers every benchmark program needs: a
 * seeded generator (so runs measure the same data), the median, a
 * monotonic clock, comma-separated number lists, and weight matrices of
 * real codes and scales.
 * Header-only: every benchmark is a program of one .c file.
 */
#ifndef ADM_BENCH_UTIL_H
#define ADM_BENCH_UTIL_H

#include "quant.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static inline double bench_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec * 1e-3;
}

/* "1,2,4" into out: the count, or -1 when an entry is not a positive
 * integer or there are more than max. */
static inline int bench_parse_list(const char *s, int *out, int max) {
    int n = 0;
    while (*s) {
        char *end;
        const long v = strtol(s, &end, 10);
        if (end == s || v <= 0 || v > 1 << 30 || n == max || (*end && *end != ',')) return -1;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* Sorts v in place. */
static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* rows x n_in weights of type t: 256 distinct rows quantized from gaussian
 * data (real codes and scales), repeated to fill the matrix. NULL when out
 * of memory; free with adm_free. */
static inline uint8_t *make_matrix(adm_type t, int64_t n_in, int64_t rows, rng *r) {
    const size_t rs = adm_row_size(t, n_in);
    uint8_t *w = adm_alloc(rs * (size_t)rows);
    if (!w) return NULL;
    float *x = malloc((size_t)n_in * sizeof(float));
    if (!x) {
        adm_free(w);
        return NULL;
    }
    const int64_t distinct = rows < 256 ? rows : 256;
    for (int64_t i = 0; i < distinct; i++) {
        for (int64_t j = 0; j < n_in; j++) x[j] = rng_normal(r) * 0.02f;
        adm_quantize_row(t, x, w + (size_t)i * rs, n_in);
    }
    for (int64_t i = distinct; i < rows; i++) memcpy(w + (size_t)i * rs, w + (size_t)(i % distinct) * rs, rs);
    free(x);
    return w;
}

#endif
