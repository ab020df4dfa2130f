/*
 * base.h - internal basics shared by every module: error reporting into
 * adm_error, overflow-checked size arithmetic for anything derived from file
 * data, checked allocation, and little-endian loads from unaligned bytes.
 */
#ifndef ADM_BASE_H
#define ADM_BASE_H

#include "adamas.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define ADM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ADM_LIKELY(x) __builtin_expect(!!(x), 1)
#define ADM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ADM_PRINTF(a, b)
#define ADM_LIKELY(x) (x)
#define ADM_UNLIKELY(x) (x)
#endif

#define ADM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ADM_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Fills err (if not NULL) and returns code, so callers can write
 * `return adm_fail(err, ADM_ERR_FORMAT, "%s: ...", path);`. */
adm_status adm_fail(adm_error *err, adm_status code, const char *fmt, ...) ADM_PRINTF(3, 4);

/* Prefixes an existing message: "<prefix>: <old message>". */
void adm_error_prefix(adm_error *err, const char *fmt, ...) ADM_PRINTF(2, 3);

/* Internal logging through the sink installed by adm_log_set. */
void adm_log(adm_log_level level, const char *fmt, ...) ADM_PRINTF(2, 3);

/* Overflow-checked arithmetic: return false on overflow. */
static inline bool adm_size_mul(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool adm_size_add(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* Checked allocation: NULL on failure (or on overflow of n * size). Memory
 * is 64-byte aligned so SIMD kernels can use aligned loads on scratch. */
void *adm_alloc(size_t size);
void *adm_calloc(size_t n, size_t size);
void adm_free(void *p);

/* Large zeroed memory that costs nothing until touched (anonymous mmap),
 * for caches sized for a whole context. Unmap with adm_unmap. (2 MiB pages
 * were tried and dropped: their zeroing lands on whichever decode step
 * first touches a new page of every (layer, KV head) at once, a stall of
 * tens of milliseconds, and the gain did not rise above this machine's
 * noise.) */
void *adm_map_zeroed(size_t size);
void adm_unmap(void *p, size_t size);
/* Gives the pages of such a mapping back to the system (they read as zero). */
void adm_map_discard(void *p, size_t size);

/* In test builds (ADM_TESTING), fail the n-th allocation from now (0 = off),
 * to check that every allocation failure unwinds cleanly. */
void adm_alloc_fail_after(long n);

/* Unaligned little-endian loads (x86 and every platform we target is LE;
 * memcpy compiles to a plain load). */
static inline uint16_t adm_rd_u16(const void *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t adm_rd_u32(const void *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t adm_rd_u64(const void *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline float adm_rd_f32(const void *p) { float v; memcpy(&v, p, 4); return v; }
static inline double adm_rd_f64(const void *p) { double v; memcpy(&v, p, 8); return v; }

/* Wall-clock seconds from a monotonic clock. */
double adm_time_s(void);

#endif
