/*
 * base.c - error messages, the log sink, checked allocation and the clock.
 * The log sink is one of two pieces of process-wide state (the other is the
 * CPU kernel table); both are documented in include/adamas.h.
 */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

const char *adm_status_str(adm_status s) {
    switch (s) {
    case ADM_OK: return "ADM_OK";
    case ADM_ERR_IO: return "ADM_ERR_IO";
    case ADM_ERR_FORMAT: return "ADM_ERR_FORMAT";
    case ADM_ERR_UNSUPPORTED: return "ADM_ERR_UNSUPPORTED";
    case ADM_ERR_NOMEM: return "ADM_ERR_NOMEM";
    case ADM_ERR_INVALID_ARG: return "ADM_ERR_INVALID_ARG";
    case ADM_ERR_CONTEXT_FULL: return "ADM_ERR_CONTEXT_FULL";
    case ADM_ERR_INTERNAL: return "ADM_ERR_INTERNAL";
    case ADM_ERR_CANCELLED: return "ADM_ERR_CANCELLED";
    case ADM_ERR_MEM_BUDGET: return "ADM_ERR_MEM_BUDGET";
    }
    return "ADM_ERR_UNKNOWN";
}

adm_status adm_fail(adm_error *err, adm_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

void adm_error_prefix(adm_error *err, const char *fmt, ...) {
    if (!err) return;
    char prefix[128], old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t n = strlen(prefix);
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof(err->msg) - n - 3;
    size_t len = strnlen(old, room);
    memcpy(err->msg + n + 2, old, len);
    err->msg[n + 2 + len] = 0;
}

static adm_log_fn g_log_fn;
static void *g_log_user;
static adm_log_level g_log_max = ADM_LOG_WARN;

void adm_log_set(adm_log_fn fn, void *user, adm_log_level max_level) {
    g_log_fn = fn;
    g_log_user = user;
    g_log_max = max_level;
}

void adm_log(adm_log_level level, const char *fmt, ...) {
    if (level > g_log_max) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (g_log_fn) {
        g_log_fn(level, buf, g_log_user);
    } else {
        static const char *names[] = {"error", "warning", "info", "debug"};
        fprintf(stderr, "adamas: %s: %s\n", names[level], buf);
    }
}

static long g_fail_after;

void adm_alloc_fail_after(long n) { g_fail_after = n; }

static bool alloc_should_fail(void) {
#ifdef ADM_TESTING
    if (g_fail_after > 0 && --g_fail_after == 0) return true;
#endif
    return false;
}

void *adm_alloc(size_t size) {
    if (alloc_should_fail()) return NULL;
    if (size == 0) size = 1;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size) return NULL;
    return aligned_alloc(64, rounded);
}

void *adm_calloc(size_t n, size_t size) {
    uint64_t total;
    if (!adm_size_mul(n, size, &total) || total > SIZE_MAX) return NULL;
    void *p = adm_alloc((size_t)total);
    if (p) memset(p, 0, (size_t)total);
    return p;
}

void adm_free(void *p) { free(p); }

void *adm_map_zeroed(size_t size) {
    if (alloc_should_fail() || size == 0) return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void adm_unmap(void *p, size_t size) {
    if (p) munmap(p, size);
}

void adm_map_discard(void *p, size_t size) {
    /* The pages read as zero again and no longer count against the process. */
    if (p && size) madvise(p, size, MADV_DONTNEED);
}

double adm_time_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
