/*
 * fuzz_cgroup.c - libFuzzer target: arbitrary bytes as the text of
 * /proc/self/cgroup, cpu.max, cpu.cfs_quota_us / cpu.cfs_period_us and a
 * sysfs CPU list (the files the default thread count is read from). Each
 * parser must accept or refuse the text without reading out of bounds.
 */
#include "cpus.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    char path[32], big[4096];
    if (adm_cgroup_path(text, true, path, sizeof(path)) && strlen(path) >= sizeof(path)) abort();
    if (adm_cgroup_path(text, false, big, sizeof(big)) && big[0] != '/') abort();
    (void)adm_cgroup2_cpu_max(text);
    (void)adm_cpulist_first(text);
    /* Quota and period: the text before and after the first newline. */
    char *nl = strchr(text, '\n');
    const char *period = "100000";
    if (nl) {
        *nl = 0;
        period = nl + 1;
    }
    const double q = adm_cgroup1_cfs(text, period);
    if (!(q >= 0 || q == -1)) abort();
    free(text);
    return 0;
}
