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
#include <sys/stat.h>
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
    const bool is_stdin = !strcmp(path, "-");
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        args_error(cmd, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (!is_stdin && fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(f);
        args_error(cmd, "'%s' is a directory, not a file", path);
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
    if (!is_stdin) fclose(f);
    if (!buf || failed) {
        free(buf);
        args_error(cmd, "cannot read '%s'%s", is_stdin ? "standard input" : path, buf ? "" : ": out of memory");
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
    p->cancel = NULL;
}

bool progress_draw(uint64_t done, uint64_t total, void *user) {
    progress_state *p = user;
    if (p->cancel && *p->cancel) return false;
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

char **args_prepare(int argc, char **argv) {
    char **av = calloc((size_t)argc * 2 + 1, sizeof(char *));
    if (av) memcpy(av, argv, (size_t)argc * sizeof(char *));
    return av;
}

void args_split_eq(int *argc, char **argv, int i) {
    char *a = argv[i];
    if (a[0] != '-' || a[1] != '-' || a[2] == '=' || a[2] == 0) return;
    char *eq = strchr(a, '=');
    if (!eq) return;
    memmove(argv + i + 2, argv + i + 1, (size_t)(*argc - i) * sizeof(char *)); /* with the NULL after the last */
    *eq = 0;
    argv[i + 1] = eq + 1;
    (*argc)++;
}

/* llama.cpp options with no counterpart here. `takes` 1: takes a value;
 * 2: takes a value only if the next argument is one of on/off/auto/0/1
 * (-fa was a flag before it took one). */
typedef struct ignored_opt {
    const char *names[3];
    int takes;
    const char *why;
} ignored_opt;

static const ignored_opt k_ignored[] = {
    {{"-ngl", "--n-gpu-layers", "--gpu-layers"}, 1, "adamas runs on the CPU"},
    {{"-ngld", "--n-gpu-layers-draft", "--gpu-layers-draft"}, 1, "adamas runs on the CPU"},
    {{"-sm", "--split-mode", NULL}, 1, "adamas runs on the CPU"},
    {{"-mg", "--main-gpu", NULL}, 1, "adamas runs on the CPU"},
    {{"-ts", "--tensor-split", NULL}, 1, "adamas runs on the CPU"},
    {{"-dev", "--device", NULL}, 1, "adamas runs on the CPU"},
    {{"-nkvo", "--no-kv-offload", NULL}, 0, "adamas runs on the CPU"},
    {{"-fa", "--flash-attn", NULL}, 2, "attention is always computed in one fused pass"},
    {{"--no-mmap", "--mmap", NULL}, 0, "the model file is always memory-mapped"},
    {{"--mlock", NULL, NULL}, 0, "not supported; the mapped weights stay in the page cache"},
    {{"--no-warmup", NULL, NULL}, 0, "adamas does no warm-up run"},
    {{"--numa", NULL, NULL}, 1, "not supported"},
    {{"-ub", "--ubatch-size", NULL}, 1, "-b sets the batch adamas evaluates at once"},
    {{"--log-disable", NULL, NULL}, 0, "adamas logs nothing but errors and timings to stderr"},
    {{"--no-display-prompt", NULL, NULL}, 0, "the prompt is never echoed"},
    {{"--color", NULL, NULL}, 0, "not supported"},
    {{"-cnv", "--conversation", NULL}, 0, "use `adamas chat` for a conversation"},
};

int args_ignored(const char *cmd, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    for (size_t k = 0; k < sizeof(k_ignored) / sizeof(k_ignored[0]); k++) {
        const ignored_opt *o = &k_ignored[k];
        bool hit = false;
        for (int j = 0; j < 3 && o->names[j]; j++) hit |= !strcmp(a, o->names[j]);
        if (!hit) continue;
        if (o->takes == 1 && !args_value(cmd, argc, argv, i)) return -1;
        if (o->takes == 2 && *i + 1 < argc) {
            static const char *const vals[] = {"on", "off", "auto", "0", "1", "true", "false"};
            for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++)
                if (!strcmp(argv[*i + 1], vals[v])) {
                    ++*i;
                    break;
                }
        }
        fprintf(stderr, "adamas %s: note: %s ignored (%s)\n", cmd, a, o->why);
        return 1;
    }
    return 0;
}

int args_unknown(const char *cmd, const char *arg) {
    if (arg[0] == '-' && arg[1]) args_error(cmd, "unknown option '%s' ('adamas %s --help' lists the options)", arg, cmd);
    else args_error(cmd, "unexpected argument '%s' ('adamas %s --help' lists the options)", arg, cmd);
    return 2;
}

static int hex_digit(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

size_t args_unescape(char *s) {
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (*p != '\\' || !p[1]) {
            *o++ = *p;
            continue;
        }
        const char c = *++p;
        switch (c) {
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'a': *o++ = '\a'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'v': *o++ = '\v'; break;
        case '\\': case '\'': case '"': case '?': *o++ = c; break;
        default:
            if (c == 'x' && hex_digit(p[1]) >= 0 && hex_digit(p[2]) >= 0) {
                *o++ = (char)(hex_digit(p[1]) * 16 + hex_digit(p[2]));
                p += 2;
            } else { /* not an escape: kept */
                *o++ = '\\';
                *o++ = c;
            }
        }
    }
    *o = 0;
    return (size_t)(o - s);
}
