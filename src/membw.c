/*
 * membw.c - STREAM-style read bandwidth (see membw.h).
 */
#include "membw.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_READ_X86 1
#endif

#define MAX_SINK 64

struct adm_membw {
    uint8_t *buf;
    size_t size;
    bool avx2;
    /* One cache line per thread: the sums are kept so the compiler cannot
     * drop the loads, and spread so the threads do not share a line. */
    uint64_t sink[MAX_SINK * 8];
};

#ifdef HAVE_READ_X86
/* 32-byte loads reach ~8% more than 16-byte ones on Zen 4. */
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, const uint8_t *end) {
    __m256i a[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
    for (; p < end; p += 256)
        for (int k = 0; k < 8; k++)
            a[k % 4] = _mm256_add_epi64(a[k % 4], _mm256_load_si256((const __m256i *)(p + 32 * k)));
    a[0] = _mm256_add_epi64(_mm256_add_epi64(a[0], a[1]), _mm256_add_epi64(a[2], a[3]));
    return (uint64_t)_mm256_extract_epi64(a[0], 0);
}

/* SSE2 is part of x86-64: 8 independent accumulators, so the loop is bound
 * by memory, not by the add latency. */
static uint64_t read_sse2(const uint8_t *p, const uint8_t *end) {
    __m128i a[8];
    for (int k = 0; k < 8; k++) a[k] = _mm_setzero_si128();
    for (; p < end; p += 256)
        for (int k = 0; k < 16; k++) a[k % 8] = _mm_add_epi64(a[k % 8], _mm_load_si128((const __m128i *)(p + 16 * k)));
    for (int k = 1; k < 8; k++) a[0] = _mm_add_epi64(a[0], a[k]);
    return (uint64_t)_mm_cvtsi128_si64(a[0]);
}
#else
static uint64_t read_plain(const uint8_t *p, const uint8_t *end) {
    uint64_t s[4] = {0, 0, 0, 0};
    for (; p < end; p += 32)
        for (int k = 0; k < 4; k++) s[k] += adm_rd_u64(p + 8 * k);
    return s[0] + s[1] + s[2] + s[3];
}
#endif

static void read_part(void *arg, int ith, int nth) {
    adm_membw *b = arg;
    int64_t lo, hi;
    adm_split_range((int64_t)(b->size / 256), ith, nth, &lo, &hi);
    const uint8_t *p = b->buf + (size_t)lo * 256, *end = b->buf + (size_t)hi * 256;
    uint64_t s;
#ifdef HAVE_READ_X86
    s = b->avx2 ? read_avx2(p, end) : read_sse2(p, end);
#else
    s = read_plain(p, end);
#endif
    b->sink[(ith % MAX_SINK) * 8] += s;
}

adm_membw *adm_membw_create(size_t bytes, adm_error *err) {
    adm_membw *b = calloc(1, sizeof(*b));
    if (!b) {
        adm_fail(err, ADM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    b->size = (bytes + 255) / 256 * 256;
    b->buf = adm_alloc(b->size);
    if (!b->buf) {
        free(b);
        adm_fail(err, ADM_ERR_NOMEM, "out of memory for a %zu MiB bandwidth buffer", bytes >> 20);
        return NULL;
    }
    memset(b->buf, 1, b->size);
#ifdef HAVE_READ_X86
    b->avx2 = __builtin_cpu_supports("avx2");
#endif
    return b;
}

void adm_membw_free(adm_membw *b) {
    if (!b) return;
    adm_free(b->buf);
    free(b);
}

size_t adm_membw_size(const adm_membw *b) { return b->size; }

double adm_membw_pass(adm_membw *b, adm_pool *pool) {
    /* Slices as the products take them: a pass reads at the rate the
     * weights can be read, not at the slowest thread's. Each slice has its
     * own sink while there are at most MAX_SINK. */
    const int n_slices = ADM_MIN(MAX_SINK, adm_pool_size(pool) * ADM_SLICES_PER_THREAD);
    const double t0 = adm_time_s();
    adm_pool_run_n(pool, read_part, b, n_slices);
    return adm_time_s() - t0;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

adm_status adm_read_bandwidth(int n_threads, size_t bytes, int passes, double *gb_per_s, adm_error *err) {
    if (n_threads <= 0) n_threads = adm_default_threads();
    if (passes < 1 || passes > 64 || bytes < 256 || !gb_per_s)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "read bandwidth: 1..64 passes over at least 256 bytes");
    adm_pool *pool = NULL;
    adm_status st = adm_pool_create(n_threads, &pool, err);
    if (st != ADM_OK) return st;
    adm_membw *b = adm_membw_create(bytes, err);
    if (!b) {
        adm_pool_free(pool);
        return ADM_ERR_NOMEM;
    }
    double t[64];
    adm_membw_pass(b, pool); /* wakes the threads */
    for (int i = 0; i < passes; i++) t[i] = adm_membw_pass(b, pool);
    qsort(t, (size_t)passes, sizeof(double), cmp_double);
    const double med = passes % 2 ? t[passes / 2] : 0.5 * (t[passes / 2 - 1] + t[passes / 2]);
    *gb_per_s = (double)b->size / med * 1e-9;
    adm_membw_free(b);
    adm_pool_free(pool);
    return ADM_OK;
}
