/*
 * cmd_bench.c - `adamas bench`: prompt processing (pp) and generation (tg)
 * speed after filling the context to given depths, the way llama.cpp's
 * llama-bench measures them, plus memory and the time spent in attention.
 *
 * For each model, the context is filled once per depth (densely, in
 * batches, not timed) and each repetition of each test starts from that
 * state by truncating the cache back to the depth. With --attention
 * dense,adamas one sparse context serves both methods (it keeps its code
 * index current and switches its decode path), so both rows see the same
 * cache. Fields shared with llama-bench keep its names in CSV and JSON.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"
#include "opts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_LIST 16

typedef struct bench_opts {
    const char *models[MAX_LIST];
    int n_models;
    int n_prompt, n_gen;
    int depths[MAX_LIST], n_depths;
    adm_attention attn[3];
    int n_attn;
    int reps;
    const char *format;
    bool no_bw;
    char list_buf[8192];     /* copies of the -m lists, split in place */
    size_t list_used;
} bench_opts;

typedef struct result {
    const char *model;
    adm_model_info mi;
    const char *attention;
    int n_prompt, n_gen, n_depth, n_threads;
    double avg_ts, std_ts, avg_ns, std_ns;
    double attn_ms;          /* tg: attention time per token */
    double weight_gbs;       /* tg: weight bytes read per second */
    double read_gbs;         /* this machine's read bandwidth (same run) */
    uint64_t kv_bytes, code_bytes;
    double samples_ts[64];
    int n_samples;
} result;

static void usage(FILE *f) {
    fprintf(f, "usage: adamas bench -m MODEL[,MODEL2...] [-p 512] [-n 128] [-d 0,4096,...] [-r 3]\n"
               "                    [--attention dense,adamas] [-o md|json|csv] [options]\n"
               "Measures prompt processing (pp) and generation (tg) tokens/s at each context depth.\n\n"
               "  -p, --n-prompt N        prompt tokens per pp test (default 512; 0 = no pp test)\n"
               "  -n, --n-gen N           tokens per tg test (default 128; 0 = no tg test)\n"
               "  -d, --n-depth LIST      context depths to fill first (default 0); the context holds the\n"
               "                          deepest test\n"
               "  -r, --repetitions N     repetitions (default 3)\n"
               "  --attention LIST        dense, adamas, window (comma-separated; default dense)\n"
               "  -o, --output FORMAT     md (default), json, csv\n"
               "  --no-bw                 skip measuring the memory read bandwidth\n"
               "tg rows report weight bytes read per second and their share of this machine's\n"
               "read bandwidth, measured just before each tg test (a 256 MiB STREAM-style sum).\n");
    model_opts_usage(f, USAGE_NO_CTX | USAGE_NO_ATTENTION);
}

static int split_ints(const char *s, int *out, int max, long lo, long hi) {
    int n = 0;
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        long v;
        if (n == max || !args_int("bench", "list", tok, lo, hi, &v)) return -1;
        out[n++] = (int)v;
    }
    return n;
}


static void stats(const double *x, int n, double *mean, double *sd) {
    double s = 0, s2 = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) s2 += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(s2 / (n - 1)) : 0;
}

/* Fills the cache with `n` pseudo-random tokens (densely, in batches). */
static bool fill(adm_ctx *ctx, int n, int n_vocab, int32_t *buf, progress_state *ps) {
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        buf[i] = (int32_t)((x >> 33) % (uint64_t)n_vocab);
    }
    adm_error err;
    progress_init(ps, "filling context");
    adm_status st = adm_ctx_eval(ctx, buf, n, NULL, false, &err);
    progress_done(ps);
    if (st != ADM_OK) args_error("bench", "%s", err.msg);
    return st == ADM_OK;
}

static bool run_test(adm_ctx *ctx, const adm_model *m, int depth, int n_prompt, int n_gen, int reps, int32_t *buf,
                     float *logits, result *r) {
    adm_error err;
    double ns[64];
    double attn = 0;
    r->n_samples = 0;
    /* Rep -1 is a warm-up, as llama-bench does: it faults in the cache pages
     * the test touches and wakes the threads; it is not measured. */
    for (int rep = -1; rep < reps && rep < 64; rep++) {
        adm_ctx_truncate(ctx, depth);
        if (adm_ctx_n_past(ctx) != depth) {
            args_error("bench", "the sliding-window layers' ring cannot go back to depth %d after a test; use "
                       "--swa-full (or a larger -b)", depth);
            return false;
        }
        adm_ctx_reset_perf(ctx);
        const int n_vocab = adm_model_n_vocab(m);
        for (int i = 0; i < n_prompt; i++) buf[i] = (int32_t)((i * 7919 + rep + 1) % n_vocab);
        double t0 = args_now();
        if (n_prompt > 0) {
            if (adm_ctx_eval(ctx, buf, n_prompt, logits, false, &err) != ADM_OK) goto fail;
        } else {
            int32_t tok = 1 % n_vocab;
            for (int i = 0; i < n_gen; i++) {
                if (adm_ctx_eval(ctx, &tok, 1, logits, false, &err) != ADM_OK) goto fail;
                tok = (int32_t)((tok * 31 + 7) % n_vocab);
            }
        }
        double dt = args_now() - t0;
        if (rep < 0) continue;
        ns[rep] = dt * 1e9;
        r->samples_ts[rep] = (double)(n_prompt > 0 ? n_prompt : n_gen) / dt;
        r->n_samples++;
        attn += adm_ctx_get_perf(ctx).attn_seconds;
    }
    stats(r->samples_ts, r->n_samples, &r->avg_ts, &r->std_ts);
    stats(ns, r->n_samples, &r->avg_ns, &r->std_ns);
    r->attn_ms = n_gen > 0 ? attn / r->n_samples / n_gen * 1e3 : 0;
    adm_ctx_truncate(ctx, depth);
    return true;
fail:
    args_error("bench", "%s", err.msg);
    return false;
}

/* The bandwidth buffer should not count as the run's peak memory: Linux
 * resets the peak ("VmHWM") when "5" is written to clear_refs. Elsewhere the
 * peak may include it. */
static void reset_peak_rss(void) {
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return;
    fputs("5", f);
    fclose(f);
}

/* Peak resident KiB since reset_peak_rss(): VmHWM where Linux has it (the
 * rusage peak also keeps what exited threads saw), else the rusage peak. */
static double peak_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        long kib = -1;
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "VmHWM: %ld", &kib) == 1) break;
        fclose(f);
        if (kib >= 0) return (double)kib;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss;
}

/* Memory bandwidth drifts on a shared machine, so it is measured right
 * before each tg test; the buffer's pages are left out of the peak. */
static bool measure_bandwidth(int n_threads, double *peak_kib, double *gbs) {
    *peak_kib = fmax(*peak_kib, peak_rss_kib());
    adm_error err;
    if (adm_read_bandwidth(n_threads, (size_t)256 << 20, 9, gbs, &err) != ADM_OK) {
        args_error("bench", "%s", err.msg);
        return false;
    }
    reset_peak_rss();
    return true;
}

static void human_size(uint64_t b, char *buf, size_t n) {
    if (b >= (1ull << 30)) snprintf(buf, n, "%.2f GiB", (double)b / (double)(1ull << 30));
    else snprintf(buf, n, "%.2f MiB", (double)b / (double)(1ull << 20));
}

static void print_md_header(void) {
    printf("| model | size | params | threads | attention | test | t/s | weights GB/s | attn ms/tok | KV MiB | codes "
           "MiB |\n");
    printf("| ----- | ---: | -----: | ------: | --------- | ---: | --: | -----------: | ----------: | -----: | "
           "--------: |\n");
}

static void print_md(const result *r) {
    char size[32], test[64];
    human_size(r->mi.weight_bytes, size, sizeof(size));
    if (r->n_prompt) snprintf(test, sizeof(test), "pp%d", r->n_prompt);
    else snprintf(test, sizeof(test), "tg%d", r->n_gen);
    if (r->n_depth) snprintf(test + strlen(test), sizeof(test) - strlen(test), " @ d%d", r->n_depth);
    char attn[32] = "", wbw[48] = "";
    if (r->n_gen) snprintf(attn, sizeof(attn), "%.3f", r->attn_ms);
    if (r->n_gen && r->read_gbs > 0)
        snprintf(wbw, sizeof(wbw), "%.1f (%.0f%%)", r->weight_gbs, 100.0 * r->weight_gbs / r->read_gbs);
    else if (r->n_gen) snprintf(wbw, sizeof(wbw), "%.1f", r->weight_gbs);
    printf("| %s %s | %s | %.2f M | %d | %s | %s | %.2f ± %.2f | %s | %s | %.1f | %.1f |\n", r->mi.arch, r->mi.name,
           size, (double)r->mi.n_params / 1e6, r->n_threads, r->attention, test, r->avg_ts, r->std_ts, wbw, attn,
           (double)r->kv_bytes / 1048576.0, (double)r->code_bytes / 1048576.0);
    fflush(stdout);
}

static const char *k_csv_fields =
    "model_filename,model_type,model_size,model_n_params,n_threads,attention,budget,type_k,type_v,n_prompt,n_gen,"
    "n_depth,test_time,kv_bytes,code_bytes,attn_ms_per_token,weight_gbs,read_gbs,avg_ns,stddev_ns,avg_ts,stddev_ts";

static void print_csv(const result *r, const model_opts *o, const char *when) {
    printf("\"%s\",\"%s %s\",%llu,%llu,%d,%s,%d,%s,%s,%d,%d,%d,%s,%llu,%llu,%.4f,%.3f,%.3f,%.0f,%.0f,%.6f,%.6f\n",
           r->model,
           r->mi.arch, r->mi.name, (unsigned long long)r->mi.weight_bytes, (unsigned long long)r->mi.n_params,
           r->n_threads, r->attention, o->cp.budget, adm_type_name(o->cp.type_k), adm_type_name(o->cp.type_v),
           r->n_prompt, r->n_gen, r->n_depth, when, (unsigned long long)r->kv_bytes,
           (unsigned long long)r->code_bytes, r->attn_ms, r->weight_gbs, r->read_gbs, r->avg_ns, r->std_ns, r->avg_ts,
           r->std_ts);
    fflush(stdout);
}

static void print_json(const result *r, const model_opts *o, const char *when, bool first) {
    printf("%s  {\"model_filename\": \"%s\", \"model_type\": \"%s %s\", \"model_size\": %llu, \"model_n_params\": %llu, "
           "\"n_threads\": %d, \"attention\": \"%s\", \"budget\": %d, \"type_k\": \"%s\", \"type_v\": \"%s\", "
           "\"n_prompt\": %d, \"n_gen\": %d, \"n_depth\": %d, \"test_time\": \"%s\", \"kv_bytes\": %llu, "
           "\"code_bytes\": %llu, \"attn_ms_per_token\": %.4f, \"weight_gbs\": %.3f, \"read_gbs\": %.3f, \"avg_ns\": %.0f, \"stddev_ns\": %.0f, "
           "\"avg_ts\": %.6f, \"stddev_ts\": %.6f, \"samples_ts\": [",
           first ? "" : ",\n", r->model, r->mi.arch, r->mi.name, (unsigned long long)r->mi.weight_bytes,
           (unsigned long long)r->mi.n_params, r->n_threads, r->attention, o->cp.budget, adm_type_name(o->cp.type_k),
           adm_type_name(o->cp.type_v), r->n_prompt, r->n_gen, r->n_depth, when, (unsigned long long)r->kv_bytes,
           (unsigned long long)r->code_bytes, r->attn_ms, r->weight_gbs, r->read_gbs, r->avg_ns, r->std_ns, r->avg_ts,
           r->std_ts);
    for (int i = 0; i < r->n_samples; i++) printf("%s%.6f", i ? ", " : "", r->samples_ts[i]);
    printf("]}");
    fflush(stdout);
}

int cmd_bench(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    bench_opts b = {.n_prompt = 512, .n_gen = 128, .n_depths = 1, .reps = 3, .format = "md"};
    b.attn[0] = ADM_ATTN_DENSE;
    b.n_attn = 1;
    long v;
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!args_value("bench", argc, argv, &i)) return 2;
            /* Split a copy: the process's argv stays as typed (ps, error messages). */
            const size_t len = strlen(argv[i]);
            if (b.list_used + len + 1 > sizeof(b.list_buf)) {
                args_error("bench", "model list too long");
                return 2;
            }
            char *list = memcpy(b.list_buf + b.list_used, argv[i], len + 1);
            b.list_used += len + 1;
            for (char *tok = strtok(list, ","); tok && b.n_models < MAX_LIST; tok = strtok(NULL, ","))
                b.models[b.n_models++] = tok;
            continue;
        }
        if (!strcmp(a, "--attention")) {
            if (!args_value("bench", argc, argv, &i)) return 2;
            char buf[128];
            snprintf(buf, sizeof(buf), "%s", argv[i]);
            b.n_attn = 0;
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                if (b.n_attn == 3) break;
                if (!attention_from_name(tok, &b.attn[b.n_attn])) {
                    args_error("bench", "unknown attention method '%s'", tok);
                    return 2;
                }
                b.n_attn++;
            }
            continue;
        }
        if (!strcmp(a, "--no-bw")) {
            b.no_bw = true;
            continue;
        }
        int r = model_opts_parse(&o, "bench", argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        const bool valued = !strcmp(a, "-p") || !strcmp(a, "-n") || !strcmp(a, "-d") || !strcmp(a, "-r") ||
                            !strcmp(a, "-o") || !strcmp(a, "--n-prompt") || !strcmp(a, "--n-gen") ||
                            !strcmp(a, "--n-depth") || !strcmp(a, "--repetitions") || !strcmp(a, "--output");
        const char *val = valued ? args_value("bench", argc, argv, &i) : NULL;
        if (valued && !val) return 2;
        if (!strcmp(a, "-p") || !strcmp(a, "--n-prompt")) {
            if (!args_int("bench", a, val, 0, 1 << 20, &v)) return 2;
            b.n_prompt = (int)v;
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-gen")) {
            if (!args_int("bench", a, val, 0, 1 << 20, &v)) return 2;
            b.n_gen = (int)v;
        } else if (!strcmp(a, "-d") || !strcmp(a, "--n-depth")) {
            if ((b.n_depths = split_ints(val, b.depths, MAX_LIST, 0, 1 << 24)) < 1) return 2;
        } else if (!strcmp(a, "-r") || !strcmp(a, "--repetitions")) {
            if (!args_int("bench", a, val, 1, 64, &v)) return 2;
            b.reps = (int)v;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            b.format = val;
            if (strcmp(b.format, "md") && strcmp(b.format, "json") && strcmp(b.format, "csv")) {
                args_error("bench", "unknown output format '%s' (md, json, csv)", b.format);
                return 2;
            }
        } else {
            return args_unknown("bench", a);
        }
    }
    if (b.n_models == 0) {
        args_error("bench", "no model given (-m FILE.gguf)");
        return 2;
    }
    if (o.cp.n_threads <= 0) o.cp.n_threads = adm_default_threads();
    int max_depth = 0;
    for (int i = 0; i < b.n_depths; i++) max_depth = b.depths[i] > max_depth ? b.depths[i] : max_depth;
    /* One context per model serves every depth, test and method. */
    adm_attention ctx_attn = ADM_ATTN_DENSE;
    for (int i = 0; i < b.n_attn; i++)
        if (b.attn[i] != ADM_ATTN_DENSE) ctx_attn = b.attn[i];
    for (int i = 0; i < b.n_attn; i++)
        if (b.attn[i] != ADM_ATTN_DENSE && b.attn[i] != ctx_attn) {
            args_error("bench", "compare dense with one sparse method per run");
            return 2;
        }
    o.cp.attention = ctx_attn;
    o.cp.n_ctx = max_depth + (b.n_prompt > b.n_gen ? b.n_prompt : b.n_gen) + 1;
    o.ctx_set = true;
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));

    if (!strcmp(b.format, "md")) print_md_header();
    else if (!strcmp(b.format, "csv")) printf("%s\n", k_csv_fields);
    else printf("[\n");
    bool first = true;
    int rc = 0;
    double peak_kib = 0;
    for (int mi = 0; mi < b.n_models && rc == 0; mi++) {
        o.model = b.models[mi];
        adm_model *m = model_opts_load(&o, "bench");
        if (!m) {
            rc = 1;
            break;
        }
        adm_ctx *ctx = model_opts_ctx(&o, "bench", m, 0);
        int32_t *buf = malloc(sizeof(int32_t) * (size_t)(max_depth + b.n_prompt + 1));
        float *logits = malloc(sizeof(float) * (size_t)adm_model_n_vocab(m));
        if (!ctx || !buf || !logits) rc = 1;
        int filled = 0;
        for (int di = 0; di < b.n_depths && rc == 0; di++) {
            const int d = b.depths[di];
            if (d < filled) {
                adm_ctx_truncate(ctx, d);
                filled = adm_ctx_n_past(ctx); /* 0 when a sliding-window ring cannot go back to d */
            }
            if (d > filled && !fill(ctx, d - filled, adm_model_n_vocab(m), buf, &o.prefill)) {
                rc = 1;
                break;
            }
            filled = d;
            for (int ai = 0; ai < b.n_attn && rc == 0; ai++) {
                adm_error err;
                adm_ctx_set_attention(ctx, b.attn[ai], &err);
                for (int t = 0; t < 2 && rc == 0; t++) {
                    const int np = t == 0 ? b.n_prompt : 0, ng = t == 1 ? b.n_gen : 0;
                    if (np == 0 && ng == 0) continue;
                    result r;
                    memset(&r, 0, sizeof(r));
                    r.model = b.models[mi];
                    r.mi = adm_model_get_info(m);
                    r.attention = attention_name(b.attn[ai]);
                    r.n_prompt = np;
                    r.n_gen = ng;
                    r.n_depth = d;
                    r.n_threads = o.cp.n_threads;
                    if (ng && !b.no_bw && !measure_bandwidth(o.cp.n_threads, &peak_kib, &r.read_gbs)) {
                        rc = 1;
                        break;
                    }
                    if (!run_test(ctx, m, d, np, ng, b.reps, buf, logits, &r)) {
                        rc = 1;
                        break;
                    }
                    if (ng) r.weight_gbs = (double)r.mi.decode_bytes * r.avg_ts * 1e-9;
                    adm_ctx_memory mem = adm_ctx_get_memory(ctx);
                    r.kv_bytes = mem.kv_bytes;
                    r.code_bytes = b.attn[ai] == ADM_ATTN_ADAMAS ? mem.code_bytes : 0;
                    if (!strcmp(b.format, "md")) print_md(&r);
                    else if (!strcmp(b.format, "csv")) print_csv(&r, &o, when);
                    else print_json(&r, &o, when, first);
                    first = false;
                }
            }
        }
        free(buf);
        free(logits);
        adm_ctx_free(ctx);
        adm_model_free(m);
    }
    if (!strcmp(b.format, "json")) printf("\n]\n");
    fprintf(stderr, "adamas bench: peak resident memory %.1f MiB, kernels %s\n", fmax(peak_kib, peak_rss_kib()) / 1024.0,
            adm_isa_name());
    return rc;
}
