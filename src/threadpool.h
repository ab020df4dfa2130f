/*
 * threadpool.h - a persistent pool of worker threads for data-parallel
 * kernels. adm_pool_run(pool, fn, arg) calls fn(arg, ith, nth) once on each
 * of the nth threads (the caller is thread 0) and returns when all are done.
 * Workers spin briefly between jobs (a decode step issues hundreds of small
 * jobs) and then sleep on a condition variable.
 *
 * A pool belongs to one context and is driven by one thread at a time.
 */
#ifndef ADM_THREADPOOL_H
#define ADM_THREADPOOL_H

#include "base.h"

typedef struct adm_pool adm_pool;
typedef void (*adm_pool_fn)(void *arg, int ith, int nth);

adm_status adm_pool_create(int n_threads, adm_pool **out, adm_error *err);
void adm_pool_free(adm_pool *pool);
int adm_pool_size(const adm_pool *pool);
void adm_pool_run(adm_pool *pool, adm_pool_fn fn, void *arg);

/* Splits [0, n) into nth near-equal parts; part ith is [*lo, *hi). */
static inline void adm_split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t per = n / nth, extra = n % nth;
    *lo = ith * per + (ith < extra ? ith : extra);
    *hi = *lo + per + (ith < extra ? 1 : 0);
}

#endif
