/*
 * cpus.c - see cpus.h. Linux only reports these through files; a file that
 * is missing or unreadable means "no limit from it", never an error, since
 * a thread count is all that depends on it.
 */
#include "cpus.h"

#include <ctype.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Parses a non-negative decimal at *s, advancing it; false if there is none
 * or it overflows. */
static bool parse_u64(const char **s, uint64_t *out) {
    const char *p = *s;
    if (!isdigit((unsigned char)*p)) return false;
    uint64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10) return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *s = p;
    *out = v;
    return true;
}

static bool only_space(const char *s) {
    while (*s && isspace((unsigned char)*s)) s++;
    return *s == 0;
}

double adm_cgroup2_cpu_max(const char *text) {
    const char *p = text;
    uint64_t quota = 0, period;
    bool unlimited = !strncmp(p, "max", 3);
    if (unlimited) p += 3;
    else if (!parse_u64(&p, &quota)) return -1;
    if (*p != ' ') return -1;
    p++;
    if (!parse_u64(&p, &period) || period == 0 || !only_space(p)) return -1;
    return unlimited ? 0 : (double)quota / (double)period;
}

double adm_cgroup1_cfs(const char *quota, const char *period) {
    const char *p = quota;
    uint64_t q, per;
    if (!strncmp(p, "-1", 2) && only_space(p + 2)) return 0;
    if (!parse_u64(&p, &q) || !only_space(p)) return -1;
    p = period;
    if (!parse_u64(&p, &per) || per == 0 || !only_space(p)) return -1;
    return q == 0 ? -1 : (double)q / (double)per;
}

/* Whether the comma-separated list [s, end) has the item `want`. */
static bool list_has(const char *s, const char *end, const char *want) {
    const size_t n = strlen(want);
    while (s < end) {
        const char *c = memchr(s, ',', (size_t)(end - s));
        if (!c) c = end;
        if ((size_t)(c - s) == n && !memcmp(s, want, n)) return true;
        s = c + 1;
    }
    return false;
}

bool adm_cgroup_path(const char *text, bool v2, char *out, size_t cap) {
    /* Each line is "ID:CONTROLLERS:PATH"; v2's is "0::PATH". */
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        if (!eol) eol = line + strlen(line);
        const char *c1 = memchr(line, ':', (size_t)(eol - line));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
        if (c2 && c2 + 1 < eol && c2[1] == '/') {
            const bool is_v2 = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
            if (v2 ? is_v2 : (!is_v2 && list_has(c1 + 1, c2, "cpu"))) {
                const size_t n = (size_t)(eol - c2 - 1);
                if (n + 1 > cap) return false;
                memcpy(out, c2 + 1, n);
                out[n] = 0;
                return true;
            }
        }
        line = *eol ? eol + 1 : eol;
    }
    return false;
}

int adm_cpulist_first(const char *list) {
    const char *p = list;
    uint64_t v;
    return parse_u64(&p, &v) && v < INT32_MAX ? (int)v : -1;
}

/* Reads a small text file into buf; false if it cannot. */
static bool read_text(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    return n > 0;
}

/* The tightest quota on the cgroup at `path` under `root` or any ancestor
 * (each level's limit applies); 0 if none. */
static double quota_along(const char *root, const char *path, bool v2) {
    char dir[1024], file[1200], a[128], b[128];
    if ((size_t)snprintf(dir, sizeof(dir), "%s", path) >= sizeof(dir)) return 0;
    double best = 0;
    for (;;) {
        /* dir is "/x/y" or "" for the root. */
        double lim = -1;
        if (v2) {
            snprintf(file, sizeof(file), "%s%s/cpu.max", root, dir);
            if (read_text(file, a, sizeof(a))) lim = adm_cgroup2_cpu_max(a);
        } else {
            snprintf(file, sizeof(file), "%s%s/cpu.cfs_quota_us", root, dir);
            if (read_text(file, a, sizeof(a))) {
                snprintf(file, sizeof(file), "%s%s/cpu.cfs_period_us", root, dir);
                if (read_text(file, b, sizeof(b))) lim = adm_cgroup1_cfs(a, b);
            }
        }
        if (lim > 0 && (best == 0 || lim < best)) best = lim;
        char *slash = strrchr(dir, '/');
        if (!slash) break;
        *slash = 0;
    }
    return best;
}

static double cgroup_quota(void) {
    char text[4096], path[1024];
    if (!read_text("/proc/self/cgroup", text, sizeof(text))) return 0;
    double q = 0;
    if (adm_cgroup_path(text, true, path, sizeof(path))) {
        if (!strcmp(path, "/")) path[0] = 0;
        q = quota_along("/sys/fs/cgroup", path, true);
    }
    if (adm_cgroup_path(text, false, path, sizeof(path))) {
        if (!strcmp(path, "/")) path[0] = 0;
        /* The v1 cpu controller is mounted alone or together with cpuacct. */
        static const char *const roots[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"};
        for (size_t r = 0; r < sizeof(roots) / sizeof(roots[0]); r++) {
            double v = quota_along(roots[r], path, false);
            if (v > 0 && (q == 0 || v < q)) q = v;
        }
    }
    return q;
}

void adm_cpus_query(adm_cpu_info *out) {
    memset(out, 0, sizeof(*out));
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
    cpu_set_t mask, cores;
    CPU_ZERO(&mask);
    CPU_ZERO(&cores);
    /* A machine with more CPUs than cpu_set_t holds fails here: then all
     * online CPUs count. */
    if (sched_getaffinity(0, sizeof(mask), &mask) == 0 && CPU_COUNT(&mask) > 0) {
        out->affinity = CPU_COUNT(&mask);
        bool known = true;
        for (int c = 0; c < CPU_SETSIZE && known; c++) {
            if (!CPU_ISSET(c, &mask)) continue;
            char file[128], list[256];
            snprintf(file, sizeof(file), "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c);
            int first = read_text(file, list, sizeof(list)) ? adm_cpulist_first(list) : -1;
            if (first < 0 || first >= CPU_SETSIZE) known = false;
            else CPU_SET(first, &cores);
        }
        out->physical = known ? CPU_COUNT(&cores) : 0;
    } else {
        out->affinity = (int)online;
    }
    out->quota = cgroup_quota();
}

int adm_cpus_usable_of(const adm_cpu_info *ci) {
    int n = ci->affinity > 0 ? ci->affinity : 1;
    if (ci->quota > 0) {
        /* A quota of 1.5 CPUs still runs two threads at once, half the time. */
        double q = ceil(ci->quota - 1e-9);
        if (q < n) n = q < 1 ? 1 : (int)q;
    }
    return n;
}

int adm_cpus_default_threads_of(const adm_cpu_info *ci) {
    int n = adm_cpus_usable_of(ci);
    return ci->physical > 0 && ci->physical < n ? ci->physical : n;
}

int adm_usable_cpus(void) {
    adm_cpu_info ci;
    adm_cpus_query(&ci);
    return adm_cpus_usable_of(&ci);
}

int adm_default_threads(void) {
    adm_cpu_info ci;
    adm_cpus_query(&ci);
    return adm_cpus_default_threads_of(&ci);
}
