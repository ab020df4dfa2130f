/*
 * test_threadpool.c - the thread pool runs every slice of every job exactly
 * once with the right (ith, nth), also when a worker never gets to run (a
 * descheduled thread must not hold a job up), and with more threads than
 * CPUs; the default thread count follows the affinity mask and the cgroup
 * CPU quota (parsers fed with strings).
 *
 * A pool that waits for a stalled worker hangs: alarm() turns that into a
 * failure instead of a stuck test run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cpus.h"
#include "threadpool.h"

#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#define MAX_N 8
#define MAX_SLICES 32
#define N_JOBS 3000

typedef struct job_log {
    int n;                        /* the pool's size */
    int job;                      /* the job being run */
    _Atomic int bad_nth;          /* calls with nth != n or ith out of range */
    _Atomic int hits[MAX_SLICES]; /* calls per slice in the current job */
    int64_t out[MAX_SLICES];      /* a result that depends only on (ith, nth) */
} job_log;

static void record(void *arg, int ith, int nth) {
    job_log *l = arg;
    if (nth != l->n || ith < 0 || ith >= nth) {
        atomic_fetch_add(&l->bad_nth, 1);
        return;
    }
    atomic_fetch_add(&l->hits[ith], 1);
    int64_t s = 0;
    for (int k = ith; k < 1000; k += nth) s += (int64_t)k * (l->job + 1);
    l->out[ith] = s;
}

/* Runs jobs on pool and checks each: every slice once, results as if run
 * one slice after the other. With vary, the slice count changes from job to
 * job (adm_pool_run_n, 1 to MAX_SLICES): a thread still claiming from the
 * previous job must not run a slice the next job does not have. */
static void run_jobs_vary(adm_pool *pool, int n_threads, int n_jobs, bool vary) {
    job_log l = {.n = n_threads};
    for (int j = 0; j < n_jobs; j++) {
        l.job = j;
        l.n = vary ? 1 + (j * 7 + j / 3) % MAX_SLICES : n_threads;
        const int n = l.n;
        for (int i = 0; i < MAX_SLICES; i++) atomic_store(&l.hits[i], 0);
        if (vary) adm_pool_run_n(pool, record, &l, n);
        else adm_pool_run(pool, record, &l);
        assert_int_equal(atomic_load(&l.bad_nth), 0);
        for (int i = 0; i < MAX_SLICES; i++) {
            assert_int_equal(atomic_load(&l.hits[i]), i < n ? 1 : 0);
            if (i >= n) continue;
            int64_t want = 0;
            for (int k = i; k < 1000; k += n) want += (int64_t)k * (j + 1);
            assert_int_equal(l.out[i], want);
        }
    }
}

static void run_jobs(adm_pool *pool, int n, int n_jobs) { run_jobs_vary(pool, n, n_jobs, false); }

static void test_every_slice_once(void **state) {
    (void)state;
    alarm(120);
    for (int n = 1; n <= MAX_N; n++) {
        adm_pool *pool;
        adm_error err;
        assert_int_equal(adm_pool_create(n, &pool, &err), ADM_OK);
        assert_int_equal(adm_pool_size(pool), n);
        run_jobs(pool, n, n > 2 ? N_JOBS / 4 : N_JOBS);
        run_jobs_vary(pool, n, n > 2 ? N_JOBS / 4 : N_JOBS, true);
        adm_pool_free(pool);
    }
    alarm(0);
}

/* A worker that is never scheduled (here: held by the test hook) must not
 * hold any job up: the running threads take its slices. */
static void test_stalled_worker(void **state) {
    (void)state;
    alarm(60);
    const int sizes[] = {2, 3, 4};
    for (int s = 0; s < 3; s++) {
        const int n = sizes[s];
        for (int stalled = 1; stalled < n; stalled++) {
            adm_pool *pool;
            adm_error err;
            assert_int_equal(adm_pool_create(n, &pool, &err), ADM_OK);
            run_jobs(pool, n, 10); /* every worker has started and is waiting */
            adm_pool_test_stall(pool, stalled);
            run_jobs(pool, n, 200);
            adm_pool_test_stall(pool, 0);
            run_jobs(pool, n, 200);
            adm_pool_free(pool);
        }
    }
    /* Stalled before it ever ran, and freed while stalled. */
    adm_pool *pool;
    adm_error err;
    assert_int_equal(adm_pool_create(3, &pool, &err), ADM_OK);
    adm_pool_test_stall(pool, 1);
    run_jobs(pool, 3, 50);
    adm_pool_free(pool);
    alarm(0);
}

/* All threads on one CPU: every job still completes, slices exactly once. */
static void test_one_cpu(void **state) {
    (void)state;
    cpu_set_t old, one;
    assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
    int first = 0;
    while (!CPU_ISSET(first, &old)) first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
    alarm(120);
    adm_pool *pool;
    adm_error err;
    assert_int_equal(adm_pool_create(4, &pool, &err), ADM_OK); /* workers inherit the mask */
    run_jobs(pool, 4, 500);
    adm_pool_free(pool);
    alarm(0);
    assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
}

static void test_cgroup_parsers(void **state) {
    (void)state;
    assert_true(adm_cgroup2_cpu_max("max 100000\n") == 0.0);
    assert_true(adm_cgroup2_cpu_max("150000 100000\n") == 1.5);
    assert_true(adm_cgroup2_cpu_max("50000 100000") == 0.5);
    assert_true(adm_cgroup2_cpu_max("200000 100000\n") == 2.0);
    assert_true(adm_cgroup2_cpu_max("100000") < 0);
    assert_true(adm_cgroup2_cpu_max("100000 0") < 0);
    assert_true(adm_cgroup2_cpu_max("") < 0);
    assert_true(adm_cgroup2_cpu_max("max") < 0);
    assert_true(adm_cgroup2_cpu_max("1 2 3") < 0);
    assert_true(adm_cgroup2_cpu_max("99999999999999999999999 100000") < 0);

    assert_true(adm_cgroup1_cfs("-1\n", "100000\n") == 0.0);
    assert_true(adm_cgroup1_cfs("300000\n", "100000\n") == 3.0);
    assert_true(adm_cgroup1_cfs("50000", "100000") == 0.5);
    assert_true(adm_cgroup1_cfs("abc", "100000") < 0);
    assert_true(adm_cgroup1_cfs("100000", "0") < 0);
    assert_true(adm_cgroup1_cfs("100000", "") < 0);

    char path[64];
    assert_true(adm_cgroup_path("0::/user.slice/session-1.scope\n", true, path, sizeof(path)));
    assert_string_equal(path, "/user.slice/session-1.scope");
    assert_false(adm_cgroup_path("0::/user.slice/session-1.scope\n", false, path, sizeof(path)));
    const char *hybrid = "12:pids:/a\n4:cpu,cpuacct:/docker/abc\n2:cpuset:/\n0::/init.scope\n";
    assert_true(adm_cgroup_path(hybrid, false, path, sizeof(path)));
    assert_string_equal(path, "/docker/abc");
    assert_true(adm_cgroup_path(hybrid, true, path, sizeof(path)));
    assert_string_equal(path, "/init.scope");
    assert_true(adm_cgroup_path("3:cpuacct,cpu:/", false, path, sizeof(path)));
    assert_string_equal(path, "/");
    /* cpuset and cpuacct are not the cpu controller. */
    assert_false(adm_cgroup_path("2:cpuset:/x\n3:cpuacct:/y\n", false, path, sizeof(path)));
    assert_false(adm_cgroup_path("", true, path, sizeof(path)));
    assert_false(adm_cgroup_path("garbage\n::\n", true, path, sizeof(path)));
    assert_false(adm_cgroup_path("0::/a/path/longer/than/the/buffer/it/is/copied/into/by/far/yes\n", true, path, 16));

    assert_int_equal(adm_cpulist_first("0-1\n"), 0);
    assert_int_equal(adm_cpulist_first("5,37"), 5);
    assert_int_equal(adm_cpulist_first("12-13,44-45\n"), 12);
    assert_int_equal(adm_cpulist_first(""), -1);
    assert_int_equal(adm_cpulist_first("x"), -1);
}

static void test_thread_counts(void **state) {
    (void)state;
    /* affinity, physical cores among it, quota */
    const struct { adm_cpu_info ci; int usable, deflt; } cases[] = {
        {{8, 4, 0}, 8, 4},       /* SMT: one thread per core by default */
        {{8, 4, 1.5}, 2, 2},     /* docker --cpus=1.5 */
        {{8, 8, 6}, 6, 6},
        {{2, 2, 0.5}, 1, 1},     /* less than a CPU still runs one thread */
        {{16, 0, 0}, 16, 16},    /* topology unknown */
        {{4, 4, 100}, 4, 4},     /* a quota above the mask does not add CPUs */
        {{1, 1, 0}, 1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(adm_cpus_usable_of(&cases[i].ci), cases[i].usable);
        assert_int_equal(adm_cpus_default_threads_of(&cases[i].ci), cases[i].deflt);
    }
}

/* The real query follows this process's affinity mask (taskset). */
static void test_default_follows_affinity(void **state) {
    (void)state;
    cpu_set_t old, one;
    assert_int_equal(sched_getaffinity(0, sizeof(old), &old), 0);
    assert_true(adm_usable_cpus() <= CPU_COUNT(&old));
    assert_true(adm_default_threads() <= adm_usable_cpus());
    assert_true(adm_default_threads() >= 1);
    int last = CPU_SETSIZE - 1;
    while (!CPU_ISSET(last, &old)) last--;
    CPU_ZERO(&one);
    CPU_SET(last, &one);
    assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
    const int usable = adm_usable_cpus(), deflt = adm_default_threads();
    assert_int_equal(sched_setaffinity(0, sizeof(old), &old), 0);
    assert_int_equal(usable, 1);
    assert_int_equal(deflt, 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_slice_once),  cmocka_unit_test(test_stalled_worker),
        cmocka_unit_test(test_one_cpu),           cmocka_unit_test(test_cgroup_parsers),
        cmocka_unit_test(test_thread_counts),     cmocka_unit_test(test_default_follows_affinity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
