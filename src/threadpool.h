/*
 * threadpool.h - a persistent pool of worker threads for data-parallel
 * kernels. adm_pool_run(pool, fn, arg) calls fn(arg, ith, nth) once for each
 * slice ith of nth (nth = the pool's size; the caller takes part) and
 * returns when all are done.
 *
 * Any running thread may run any slice that has not started, so a job
 * finishes even while some threads are descheduled (more threads than free
 * cores, another process on a core). A slice's work depends only on
 * (ith, nth), never on which thread runs it, so per-ith scratch stays
 * private and results are identical run to run for a fixed thread count.
 * Waiting threads spin briefly (a decode step issues hundreds of small jobs)
 * and then sleep.
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
/* The same with n_slices slices (>= 1), claimed in order by whichever
 * thread is free: more slices than threads even out threads that run at
 * different speeds (a VM's vCPUs, a core shared with another process),
 * for jobs whose slices need no per-thread scratch. */
void adm_pool_run_n(adm_pool *pool, adm_pool_fn fn, void *arg, int n_slices);
/* The slices per thread that reading jobs (products, the bandwidth pass)
 * take: a thread running slower then takes fewer instead of holding the
 * others at the end of every job, and each slice is still a contiguous
 * range long enough for the hardware prefetchers. */
#define ADM_SLICES_PER_THREAD 4

/* Test hook: worker `ith` (1..n-1) takes no work until called again with
 * ith = 0, as if the OS never scheduled it; jobs must still complete. */
void adm_pool_test_stall(adm_pool *pool, int ith);

/* Splits [0, n) into nth near-equal parts; part ith is [*lo, *hi). */
static inline void adm_split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t per = n / nth, extra = n % nth;
    *lo = ith * per + (ith < extra ? ith : extra);
    *hi = *lo + per + (ith < extra ? 1 : 0);
}

#endif
