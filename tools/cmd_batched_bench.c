/*
 * cmd_batched_bench.c - `adamas batched-bench`: the speed of B sequences
 * decoded together, shaped like llama.cpp's llama-batched-bench so that
 * the same scripts read both. For each B: B prompts of PP tokens (fed in
 * batches of -b rows, sequence after sequence), then TG steps of one token
 * for every sequence, all B in one batch. Columns (llama-batched-bench's
 * names): N_KV = B (PP + TG), T_PP and S_PP = B PP / T_PP, T_TG and
 * S_TG = B TG / T_TG, T = T_PP + T_TG and S = N_KV / T. A 16-token pass
 * first warms up, as llama-batched-bench's does.
 */
#include "adamas.h"
#include "args.h"
#include "commands.h"
#include "opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LIST 32

static void usage(FILE *f) {
    fprintf(f, "usage: adamas batched-bench -m MODEL [-npp 128] [-ntg 32] [-npl 1,2,4,8,16] [-o md|json] [options]\n"
               "Aggregate speed of several sequences decoded together (llama-batched-bench's table).\n\n"
               "  -npp N[,N...]           prompt tokens per sequence (default 128)\n"
               "  -ntg N[,N...]           generated tokens per sequence (default 32)\n"
               "  -npl B[,B...]           numbers of parallel sequences (default 1,2,4,8,16)\n"
               "  -o md|json              a Markdown table (default) or one JSON object per line\n");
    model_opts_usage(f, USAGE_NO_CTX); /* the context is sized from -npp and -ntg */
}

static int parse_list(const char *cmd, const char *opt, const char *v, int *out, int max, long lo, long hi) {
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", v);
    int n = 0;
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        long x;
        if (n == max) {
            args_error(cmd, "at most %d values for %s", max, opt);
            return -1;
        }
        if (!args_int(cmd, opt, p, lo, hi, &x)) return -1;
        out[n++] = (int)x;
    }
    if (!n) args_error(cmd, "%s needs at least one value", opt);
    return n ? n : -1;
}

typedef struct bb_row {
    int pp, tg, b, n_kv;
    double t_pp, t_tg;
} bb_row;

/* One measurement; false on an error (printed). */
static bool measure(adm_model *m, const model_opts *o, int pp, int tg, int B, bb_row *r) {
    adm_error err;
    adm_engine_params ep = adm_engine_default_params();
    ep.n_batch = o->cp.n_batch > 0 ? o->cp.n_batch : 512;
    if (ep.n_batch < B) ep.n_batch = B;
    ep.n_threads = o->cp.n_threads;
    ep.llama_order = model_opts_engine_llama_order(o);
    adm_engine *e = NULL;
    adm_seq **s = calloc((size_t)B, sizeof(*s));
    adm_batch_row *rows = malloc((size_t)ep.n_batch * sizeof(*rows));
    float *logits = malloc((size_t)B * (size_t)adm_model_n_vocab(m) * sizeof(float));
    bool ok = false;
    if (!s || !rows || !logits) {
        args_error("batched-bench", "out of memory");
        goto done;
    }
    if (adm_engine_create(m, &ep, &e, &err) != ADM_OK) goto fail;
    adm_seq_params sp = adm_seq_default_params();
    sp.n_ctx = pp + tg;
    sp.type_k = o->cp.type_k;
    sp.type_v = o->cp.type_v;
    sp.attention = o->cp.attention;
    sp.budget = o->cp.budget;
    sp.dense_layers = o->cp.dense_layers;
    sp.sink = o->cp.sink;
    sp.window = o->cp.window;
    sp.thresholds = o->cp.thresholds;
    sp.group_select = o->cp.group_select;
    sp.swa_full = o->cp.swa_full;
    for (int i = 0; i < B; i++)
        if (adm_seq_create(e, &sp, &s[i], &err) != ADM_OK) goto fail;
    const int nv = adm_model_n_vocab(m);
    /* Prompts: every sequence its own tokens (no shared prefix), logits of
     * each prompt's last token as a real request needs them. */
    uint64_t x = 12345;
    const double t0 = args_now();
    int n = 0, n_out = 0;
    for (int i = 0; i < B; i++)
        for (int j = 0; j < pp; j++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            rows[n++] = (adm_batch_row){s[i], (int32_t)((x >> 33) % (uint64_t)nv), j == pp - 1};
            n_out += j == pp - 1;
            if (n == ep.n_batch || (i == B - 1 && j == pp - 1)) {
                if (adm_engine_decode(e, rows, n, n_out ? logits : NULL, &err) != ADM_OK) goto fail;
                n = n_out = 0;
            }
        }
    const double t1 = args_now();
    for (int t = 0; t < tg; t++) {
        for (int i = 0; i < B; i++) rows[i] = (adm_batch_row){s[i], (int32_t)((t * 31 + i * 7 + 1) % nv), true};
        if (adm_engine_decode(e, rows, B, logits, &err) != ADM_OK) goto fail;
    }
    const double t2 = args_now();
    *r = (bb_row){pp, tg, B, B * (pp + tg), t1 - t0, t2 - t1};
    ok = true;
    goto done;
fail:
    args_error("batched-bench", "%s", err.msg);
done:
    if (s)
        for (int i = 0; i < B; i++) adm_seq_free(s[i]);
    adm_engine_free(e);
    free(s);
    free(rows);
    free(logits);
    return ok;
}

int cmd_batched_bench(int argc, char **argv) {
    model_opts o;
    model_opts_init(&o);
    int npp[MAX_LIST] = {128}, ntg[MAX_LIST] = {32}, npl[MAX_LIST] = {1, 2, 4, 8, 16};
    int n_pp = 1, n_tg = 1, n_pl = 5;
    const char *format = "md";
    for (int i = 1; i < argc; i++) {
        args_split_eq(&argc, argv, i);
        const char *a = argv[i], *v;
        int r = model_opts_parse(&o, "batched-bench", argc, argv, &i);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-npp")) {
            if (!(v = args_value("batched-bench", argc, argv, &i)) ||
                (n_pp = parse_list("batched-bench", a, v, npp, MAX_LIST, 1, 1 << 20)) < 0)
                return 2;
        } else if (!strcmp(a, "-ntg")) {
            if (!(v = args_value("batched-bench", argc, argv, &i)) ||
                (n_tg = parse_list("batched-bench", a, v, ntg, MAX_LIST, 1, 1 << 20)) < 0)
                return 2;
        } else if (!strcmp(a, "-npl")) {
            if (!(v = args_value("batched-bench", argc, argv, &i)) ||
                (n_pl = parse_list("batched-bench", a, v, npl, MAX_LIST, 1, 4096)) < 0)
                return 2;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(v = args_value("batched-bench", argc, argv, &i))) return 2;
            if (strcmp(v, "md") && strcmp(v, "json") && strcmp(v, "jsonl")) {
                args_error("batched-bench", "invalid value for -o: '%s' (md or json)", v);
                return 2;
            }
            format = v;
        } else {
            return args_unknown("batched-bench", a);
        }
    }
    if (!o.model) {
        args_error("batched-bench", "no model given (-m)");
        return 2;
    }
    adm_model *m = model_opts_load(&o, "batched-bench");
    if (!m) return 1;
    const bool md = !strcmp(format, "md");
    const int threads = o.cp.n_threads > 0 ? o.cp.n_threads : adm_default_threads();
    if (md) {
        printf("\nmain: n_batch = %d, n_threads = %d, attention = %s, kernels = %s, sum order = %s\n\n",
               o.cp.n_batch > 0 ? o.cp.n_batch : 512, threads, attention_name(o.cp.attention), adm_isa_name(),
               model_opts_engine_llama_order(&o) ? "llama" : "blocks");
        printf("|%6s | %6s | %4s | %6s | %8s | %8s | %8s | %8s | %8s | %8s |\n", "PP", "TG", "B", "N_KV", "T_PP s",
               "S_PP t/s", "T_TG s", "S_TG t/s", "T s", "S t/s");
        printf("|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|\n");
    }
    /* A warm-up pass as llama-batched-bench makes (16 tokens): the first
     * measurement would otherwise pay for faulting in the weights. */
    bb_row warm;
    if (!measure(m, &o, 16, 1, 1, &warm)) {
        adm_model_free(m);
        return 1;
    }
    int rc = 0;
    for (int a = 0; a < n_pp && !rc; a++)
        for (int b = 0; b < n_tg && !rc; b++)
            for (int c = 0; c < n_pl && !rc; c++) {
                bb_row r;
                if (!measure(m, &o, npp[a], ntg[b], npl[c], &r)) {
                    rc = 1;
                    break;
                }
                const double s_pp = r.b * (double)r.pp / r.t_pp, s_tg = r.b * (double)r.tg / r.t_tg;
                const double t = r.t_pp + r.t_tg, s = r.n_kv / t;
                if (md)
                    printf("|%6d | %6d | %4d | %6d | %8.3f | %8.2f | %8.3f | %8.2f | %8.3f | %8.2f |\n", r.pp, r.tg,
                           r.b, r.n_kv, r.t_pp, s_pp, r.t_tg, s_tg, t, s);
                else
                    printf("{\"n_batch\": %d, \"n_threads\": %d, \"attention\": \"%s\", \"pp\": %d, \"tg\": %d, "
                           "\"pl\": %d, \"n_kv\": %d, \"t_pp\": %f, \"speed_pp\": %f, \"t_tg\": %f, \"speed_tg\": %f, "
                           "\"t\": %f, \"speed\": %f}\n",
                           o.cp.n_batch > 0 ? o.cp.n_batch : 512, threads, attention_name(o.cp.attention), r.pp, r.tg,
                           r.b, r.n_kv, r.t_pp, s_pp, r.t_tg, s_tg, t, s);
                fflush(stdout);
            }
    adm_model_free(m);
    return rc;
}
