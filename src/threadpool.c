/*
 * threadpool.c - see threadpool.h. Synchronization: the driver publishes a
 * job by bumping `generation`; workers notice it (spinning, then sleeping),
 * run their slice, and decrement `pending`; the driver spins until pending
 * reaches zero. Each job's work split depends only on (ith, nth), so results
 * are identical run to run for a fixed thread count.
 */
#include "threadpool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* Spin iterations before a worker sleeps: long enough to cover the gap
 * between two kernels of one decode step, short enough not to burn a core
 * while the user reads the output. */
#define SPIN_ITERS 200000

typedef struct worker {
    adm_pool *pool;
    int ith;
    pthread_t thread;
} worker;

struct adm_pool {
    int n;
    worker *workers;
    adm_pool_fn fn;
    void *arg;
    _Atomic uint64_t generation;
    _Atomic int pending;
    _Atomic int sleepers;
    _Atomic bool stop;
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    bool sync_ok;
};

static void *worker_main(void *p) {
    worker *w = p;
    adm_pool *pool = w->pool;
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen;
        int spins = 0;
        while ((gen = atomic_load_explicit(&pool->generation, memory_order_acquire)) == seen) {
            if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
            if (++spins < SPIN_ITERS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&pool->mutex);
            atomic_fetch_add(&pool->sleepers, 1);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->cond, &pool->mutex);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->mutex);
            spins = 0;
        }
        seen = gen;
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
        pool->fn(pool->arg, w->ith, pool->n);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_acq_rel);
    }
}

adm_status adm_pool_create(int n_threads, adm_pool **out, adm_error *err) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "thread count %d is out of range (1 to 1024)", n_threads);
    adm_pool *pool = adm_calloc(1, sizeof(*pool));
    if (!pool) return adm_fail(err, ADM_ERR_NOMEM, "out of memory creating the thread pool");
    pool->n = n_threads;
    if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
        adm_free(pool);
        return adm_fail(err, ADM_ERR_NOMEM, "cannot create a mutex");
    }
    if (pthread_cond_init(&pool->cond, NULL) != 0) {
        pthread_mutex_destroy(&pool->mutex);
        adm_free(pool);
        return adm_fail(err, ADM_ERR_NOMEM, "cannot create a condition variable");
    }
    pool->sync_ok = true;
    pool->workers = adm_calloc((size_t)n_threads, sizeof(worker));
    if (!pool->workers) {
        adm_pool_free(pool);
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory creating the thread pool");
    }
    for (int i = 1; i < n_threads; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].ith = i;
        int rc = pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]);
        if (rc != 0) {
            pool->n = i; /* only join the threads that exist */
            adm_pool_free(pool);
            return adm_fail(err, ADM_ERR_NOMEM, "cannot start thread %d of %d: %s", i, n_threads, strerror(rc));
        }
    }
    *out = pool;
    return ADM_OK;
}

void adm_pool_free(adm_pool *pool) {
    if (!pool) return;
    if (pool->workers) {
        pthread_mutex_lock(&pool->mutex);
        atomic_store(&pool->stop, true);
        pthread_cond_broadcast(&pool->cond);
        pthread_mutex_unlock(&pool->mutex);
        for (int i = 1; i < pool->n; i++) pthread_join(pool->workers[i].thread, NULL);
        adm_free(pool->workers);
    }
    if (pool->sync_ok) {
        pthread_cond_destroy(&pool->cond);
        pthread_mutex_destroy(&pool->mutex);
    }
    adm_free(pool);
}

int adm_pool_size(const adm_pool *pool) { return pool->n; }

void adm_pool_run(adm_pool *pool, adm_pool_fn fn, void *arg) {
    if (pool->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->pending, pool->n - 1, memory_order_relaxed);
    atomic_fetch_add(&pool->generation, 1); /* seq_cst: pairs with the sleepers check below */
    if (atomic_load(&pool->sleepers) > 0) {
        pthread_mutex_lock(&pool->mutex);
        pthread_cond_broadcast(&pool->cond);
        pthread_mutex_unlock(&pool->mutex);
    }
    fn(arg, 0, pool->n);
    while (atomic_load_explicit(&pool->pending, memory_order_acquire) > 0) cpu_relax();
}
