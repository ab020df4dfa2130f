/*
 * attn_rows.h - how the SIMD attention kernels (attn_avx2.c, attn_avx512.c)
 * find and prefetch the K/V rows they read: row j of a range is
 * base[idx[j] * stride] when the rows are gathered (Adamas' selection, a
 * wrapped ring), base[j * stride] when they are contiguous. One place for
 * the prefetch policy, so both instruction sets follow the same
 * measurements (docs/attention_kernels.md). Only SSE's _mm_prefetch is
 * used, which every x86-64 translation unit has.
 */
#ifndef ADM_ATTN_ROWS_H
#define ADM_ATTN_ROWS_H

#include "kernels.h"

#include <immintrin.h>

static inline __attribute__((always_inline)) const adm_f16 *row_at(const adm_f16 *base, size_t stride,
                                                                   const int32_t *idx, int j) {
    return base + (size_t)(idx ? idx[j] : j) * stride;
}

/* Prefetch rows j0 .. j1 - 1 of a gather into L1 (random rows: the
 * hardware prefetcher cannot guess them). Prefetches never fault. */
static inline __attribute__((always_inline)) void prefetch_rows(const adm_f16 *base, size_t stride,
                                                                const int32_t *idx, int j0, int j1, int row_bytes) {
    for (int j = j0; j < j1; j++) {
        const char *r = (const char *)row_at(base, stride, idx, j);
        for (int o = 0; o < row_bytes; o += 64) _mm_prefetch(r + o, _MM_HINT_T0);
        _mm_prefetch(r + row_bytes - 1, _MM_HINT_T0);
    }
}

/* Contiguous rows are also requested into L2 this far ahead of their use:
 * a decode step's attention streams every sequence's K and V from DRAM,
 * and demand misses plus the hardware streamer keep too few lines in
 * flight for the bandwidth (docs/attention_kernels.md: 5.1 -> 4.3 ms per
 * sequence-step at depth 4096 on a 2-vCPU Xeon). 32 KiB is 256 rows of a
 * 64-wide f16 head: enough lines for L2's request queue, little enough to
 * stay in L2 until used. */
#define PF_AHEAD_BYTES 32768

/* Rows of `stride` f16 values that PF_AHEAD_BYTES covers, rounded down to
 * a multiple of `block` (0: a row is longer than the distance). */
static inline int prefetch_ahead_rows(size_t stride, int block) {
    return (int)(PF_AHEAD_BYTES / (stride * sizeof(adm_f16))) / block * block;
}

/* Request bytes from p into L2 (every line the range touches). */
static inline __attribute__((always_inline)) void prefetch_l2(const void *p, size_t bytes) {
    const char *c = p;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(c + o, _MM_HINT_T1);
    _mm_prefetch(c + bytes - 1, _MM_HINT_T1);
}

#endif
