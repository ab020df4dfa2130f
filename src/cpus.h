/*
 * cpus.h - how many CPUs this process may really use: the CPUs in its
 * affinity mask (taskset, cpusets), capped by its cgroup's CPU quota
 * (docker --cpus, systemd CPUQuota=), and the physical cores among them.
 * More compute threads than that do not run at once, and a thread pool that
 * waits for every thread then waits for the scheduler.
 *
 * The parsers are pure functions of the files' text so tests can feed them
 * strings; adm_cpus_query reads the real files.
 */
#ifndef ADM_CPUS_H
#define ADM_CPUS_H

#include "base.h"

typedef struct adm_cpu_info {
    int affinity; /* CPUs in the affinity mask (logical CPUs, SMT siblings count) */
    int physical; /* physical cores among them (0 = unknown) */
    double quota; /* cgroup CPU limit in CPUs (0 = none) */
} adm_cpu_info;

void adm_cpus_query(adm_cpu_info *out);

/* min(affinity, ceil(quota)): how many threads can run at the same time. */
int adm_cpus_usable_of(const adm_cpu_info *ci);

/* min(physical cores, usable CPUs): SMT siblings share execution units and
 * slow matmuls down, so one thread per core. */
int adm_cpus_default_threads_of(const adm_cpu_info *ci);

/* cgroup v2 cpu.max ("QUOTA PERIOD" or "max PERIOD"): the limit in CPUs,
 * 0 for none, -1 if the text is not of that form. */
double adm_cgroup2_cpu_max(const char *text);

/* cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us: the limit in CPUs, 0 for
 * none (a quota of -1), -1 if either text is malformed. */
double adm_cgroup1_cfs(const char *quota, const char *period);

/* The cgroup path of this process in /proc/self/cgroup's text: the v2 line
 * ("0::/a/b") if v2, else the v1 line whose controllers include "cpu".
 * Copies the path (starting with '/') into out; false if there is none or it
 * does not fit. */
bool adm_cgroup_path(const char *proc_self_cgroup, bool v2, char *out, size_t cap);

/* The smallest CPU number in a sysfs CPU list ("0-3,8,10-11"), which names
 * a core uniquely when the list is its thread_siblings_list; -1 if the text
 * does not start with a number. */
int adm_cpulist_first(const char *list);

#endif
