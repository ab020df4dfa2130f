/*
 * threadpool.c - see threadpool.h.
 *
 * A job is n slices (the pool's size, or more). `work` holds the job's
 * slice count (high 32 bits) and the next unclaimed slice (low 32 bits);
 * every thread, the driver included, claims slices with one fetch_add until
 * none is left, so no thread waits for another to *start*: only a thread
 * preempted in the middle of a slice can hold a job up. `done` counts
 * finished slices; the driver returns when it reaches n.
 *
 * Waiting is bounded (see backoff_step): workers waiting for a job and the
 * driver waiting for the last slice spin briefly, then yield the CPU, then
 * sleep on a futex (a condition variable elsewhere). A waiting thread never
 * keeps a thread with work off a CPU for more than its short spin, whether
 * the other thread is this pool's (more threads than free cores) or not.
 */
#include "threadpool.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* A waiting thread backs off in three steps:
 * - PAUSES pause instructions (tens of microseconds): the gap between two
 *   kernels of a decode step, where a sleep and wake would cost more than
 *   the kernel;
 * - then sched_yield for up to YIELD_S seconds (the sampling between two
 *   decode steps): the same quick pickup, but a thread of this pool (or any
 *   other process) that wants this CPU gets it at once, so waiting costs
 *   nothing when threads outnumber free cores;
 * - then a futex sleep, so an idle pool uses no CPU. */
#define PAUSES 1000
#define YIELD_S 2e-3

typedef struct backoff {
    int steps;
    double t_yield; /* when the yield phase started */
} backoff;

/* One step of waiting; false when it is time to sleep. */
static bool backoff_step(backoff *b) {
    if (b->steps < PAUSES) {
        b->steps++;
        cpu_relax();
        return true;
    }
    if (b->steps++ == PAUSES) b->t_yield = adm_time_s();
    sched_yield();
    return (b->steps & 7) != 0 || adm_time_s() - b->t_yield < YIELD_S;
}

typedef struct worker {
    adm_pool *pool;
    int ith;
    pthread_t thread;
} worker;

struct adm_pool {
    int n;
    worker *workers;
    uint32_t job;     /* the driver's job counter */
    adm_pool_fn fn;   /* the current job, written before it is published */
    void *arg;
    uint32_t n_slices; /* its slice count (the driver's copy; claims read it from work) */
    bool sync_ok;
#ifndef __linux__
    pthread_mutex_t mutex;
    pthread_cond_t cond;
#endif
    /* Each hot word on its own cache line: claims, completions and the
     * wake-up word are written by different threads at different times. */
    alignas(64) _Atomic uint64_t work;
    alignas(64) _Atomic uint32_t done;
    _Atomic uint32_t driver_asleep;
    alignas(64) _Atomic uint32_t seq; /* the published job's number: workers wait for it to change */
    _Atomic uint32_t sleepers;        /* workers asleep or about to sleep on seq */
    _Atomic bool stop;
    _Atomic uint32_t stall;           /* adm_pool_test_stall */
};

/* ---- waiting on a 32-bit word ---- */

#ifdef __linux__
/* Sleeps while *w == expected (returns at once if it already differs, or on
 * a spurious wake: callers recheck). */
static void word_wait(adm_pool *pool, _Atomic uint32_t *w, uint32_t expected) {
    (void)pool;
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}
static void word_wake(adm_pool *pool, _Atomic uint32_t *w, int n) {
    (void)pool;
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}
#else
/* One condition variable stands for every word: waiters recheck theirs. */
static void word_wait(adm_pool *pool, _Atomic uint32_t *w, uint32_t expected) {
    pthread_mutex_lock(&pool->mutex);
    if (atomic_load(w) == expected) pthread_cond_wait(&pool->cond, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
}
static void word_wake(adm_pool *pool, _Atomic uint32_t *w, int n) {
    (void)w;
    (void)n;
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_broadcast(&pool->cond);
    pthread_mutex_unlock(&pool->mutex);
}
#endif

/* ---- the job protocol ---- */

/* Claims and runs slices of the current job until none is left. The job
 * cannot complete while a claimed slice runs, so fn and arg are that job's. */
static void run_slices(adm_pool *pool) {
    for (;;) {
        /* A plain load first: once the job is exhausted, late threads do not
         * write the line everyone claims from. */
        const uint64_t w = atomic_load_explicit(&pool->work, memory_order_relaxed);
        if ((uint32_t)w >= (uint32_t)(w >> 32)) return;
        /* The claim carries the slice count of the job it claims from: a
         * late thread may claim from the next job. */
        const uint64_t c = atomic_fetch_add_explicit(&pool->work, 1, memory_order_acquire);
        const uint32_t i = (uint32_t)c, n = (uint32_t)(c >> 32);
        if (i >= n) return;
        pool->fn(pool->arg, (int)i, (int)n);
        /* seq_cst, paired with the driver's store to driver_asleep and load
         * of done: either it sees this increment or this sees it asleep. */
        if (atomic_fetch_add(&pool->done, 1) + 1 == n && atomic_load(&pool->driver_asleep))
            word_wake(pool, &pool->done, 1);
    }
}

static uint32_t wait_for_job(adm_pool *pool, uint32_t seen) {
    uint32_t s;
    backoff b = {0, 0};
    bool sleep = false;
    while ((s = atomic_load_explicit(&pool->seq, memory_order_acquire)) == seen) {
        if (!sleep) {
            if (backoff_step(&b)) continue;
            sleep = true;
        }
        /* seq_cst, paired with adm_pool_run's store to seq and load of
         * sleepers; the futex rechecks seq, so no wake is lost. */
        atomic_fetch_add(&pool->sleepers, 1);
        word_wait(pool, &pool->seq, seen);
        atomic_fetch_sub(&pool->sleepers, 1);
    }
    return s;
}

static void wait_until_done(adm_pool *pool) {
    const uint32_t n = pool->n_slices;
    uint32_t d;
    backoff b = {0, 0};
    bool sleep = false;
    while ((d = atomic_load_explicit(&pool->done, memory_order_acquire)) != n) {
        if (!sleep) {
            if (backoff_step(&b)) continue;
            sleep = true;
        }
        /* seq_cst, paired with run_slices' increment of done and load of
         * driver_asleep. */
        atomic_store(&pool->driver_asleep, 1);
        d = atomic_load(&pool->done);
        if (d != n) word_wait(pool, &pool->done, d);
        atomic_store_explicit(&pool->driver_asleep, 0, memory_order_relaxed);
    }
}

static void test_stall_point(adm_pool *pool, int ith) {
#ifdef ADM_TESTING
    uint32_t s;
    while ((s = atomic_load(&pool->stall)) == (uint32_t)ith) word_wait(pool, &pool->stall, s);
#else
    (void)pool;
    (void)ith;
#endif
}

static void *worker_main(void *p) {
    worker *w = p;
    adm_pool *pool = w->pool;
    uint32_t seen = 0;
    for (;;) {
        seen = wait_for_job(pool, seen);
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) return NULL;
        test_stall_point(pool, w->ith);
        run_slices(pool);
    }
}

void adm_pool_run(adm_pool *pool, adm_pool_fn fn, void *arg) { adm_pool_run_n(pool, fn, arg, pool->n); }

void adm_pool_run_n(adm_pool *pool, adm_pool_fn fn, void *arg, int n_slices) {
    if (pool->n == 1) {
        for (int i = 0; i < n_slices; i++) fn(arg, i, n_slices);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    pool->n_slices = (uint32_t)n_slices;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    const uint32_t job = ++pool->job;
    atomic_store_explicit(&pool->work, (uint64_t)pool->n_slices << 32, memory_order_release);
    atomic_store(&pool->seq, job); /* seq_cst: pairs with the sleepers count in wait_for_job */
    if (atomic_load(&pool->sleepers) > 0) word_wake(pool, &pool->seq, INT_MAX);
    run_slices(pool);
    wait_until_done(pool);
}

/* ---- lifetime ---- */

adm_status adm_pool_create(int n_threads, adm_pool **out, adm_error *err) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "thread count %d is out of range (1 to 1024)", n_threads);
    adm_pool *pool = adm_calloc(1, sizeof(*pool));
    if (!pool) return adm_fail(err, ADM_ERR_NOMEM, "out of memory creating the thread pool");
    pool->n = n_threads;
#ifndef __linux__
    if (pthread_mutex_init(&pool->mutex, NULL) != 0) {
        adm_free(pool);
        return adm_fail(err, ADM_ERR_NOMEM, "cannot create a mutex");
    }
    if (pthread_cond_init(&pool->cond, NULL) != 0) {
        pthread_mutex_destroy(&pool->mutex);
        adm_free(pool);
        return adm_fail(err, ADM_ERR_NOMEM, "cannot create a condition variable");
    }
#endif
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
        atomic_store(&pool->stop, true);
        atomic_store(&pool->stall, 0);
        word_wake(pool, &pool->stall, INT_MAX);
        atomic_fetch_add(&pool->seq, 1);
        word_wake(pool, &pool->seq, INT_MAX);
        for (int i = 1; i < pool->n; i++) pthread_join(pool->workers[i].thread, NULL);
        adm_free(pool->workers);
    }
#ifndef __linux__
    if (pool->sync_ok) {
        pthread_cond_destroy(&pool->cond);
        pthread_mutex_destroy(&pool->mutex);
    }
#endif
    adm_free(pool);
}

int adm_pool_size(const adm_pool *pool) { return pool->n; }

void adm_pool_test_stall(adm_pool *pool, int ith) {
    atomic_store(&pool->stall, (uint32_t)ith);
    if (ith == 0) word_wake(pool, &pool->stall, INT_MAX);
}
