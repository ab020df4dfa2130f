/*
 * args.c - see args.h.
 */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void args_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "adamas %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool args_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        args_error(cmd, "invalid value for %s: '%s' (expected an integer from %ld to %ld)", opt, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool args_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        args_error(cmd, "invalid value for %s: '%s' (expected a number from %g to %g)", opt, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

char *args_read_file(const char *cmd, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        args_error(cmd, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    bool failed = ferror(f) != 0;
    fclose(f);
    if (!buf || failed) {
        free(buf);
        args_error(cmd, "cannot read '%s'%s", path, buf ? "" : ": out of memory");
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

double args_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void progress_init(progress_state *p, const char *label) {
    p->label = label;
    p->t_start = args_now();
    p->t_last = 0;
    p->active = isatty(STDERR_FILENO) != 0;
    p->drawn = false;
}

bool progress_draw(uint64_t done, uint64_t total, void *user) {
    progress_state *p = user;
    if (!p->active) return true;
    double now = args_now(), el = now - p->t_start;
    /* Only draw for work that takes a while, and at most 10 times a second. */
    if (el < 1.0 || (now - p->t_last < 0.1 && done < total)) return true;
    p->t_last = now;
    double rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    fprintf(stderr, "\r%s: %llu/%llu (%.0f%%), %.1f/s, ETA %.0fs   ", p->label, (unsigned long long)done,
            (unsigned long long)total, total ? 100.0 * (double)done / (double)total : 100.0, rate, eta);
    fflush(stderr);
    p->drawn = true;
    return true;
}

void progress_done(progress_state *p) {
    if (p->drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
    p->drawn = false;
}

const char *args_value(const char *cmd, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        args_error(cmd, "option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}
