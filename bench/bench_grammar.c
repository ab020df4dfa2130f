/*
 * bench_grammar.c - what a grammar costs per generated token, next to a
 * decode step of the model. Generates with the grammar on the model (real
 * logits, real states) and times, per token: the decode step, the
 * constrained sampler call, and an unconstrained sampler (same settings)
 * on the same logits (thread CPU time). Overhead = constrained -
 * unconstrained.
 *
 *   build/bench/bench_grammar MODEL.gguf (--grammar-file F | --json-schema-file F) [-n TOKENS] [-t THREADS]
 *   build/bench/bench_grammar --vocab VOCAB.gguf (--grammar-file F | ...)   # Gaussian logits, no model
 *
 * The second form times the sampler alone on random logits (what a
 * random-weight model gives), without decode steps: quick, and not
 * disturbed by other work on the machine's memory bus.
 *
 * On a random-weight model nearly every freely drawn token is refused, so
 * the full mask is computed at almost every step: the worst case.
 */
#include "adamas.h"
#include "bench_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The sampler runs on this thread alone: its CPU time is what it costs,
 * even when other work shares the cores. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (b) b[n] = 0;
    fclose(f);
    return b;
}

int main(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *vocab_only = NULL;
    bool schema = false;
    int n_gen = 200, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--grammar-file") && i + 1 < argc) file = argv[++i];
        else if (!strcmp(argv[i], "--json-schema-file") && i + 1 < argc) file = argv[++i], schema = true;
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) n_gen = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--vocab") && i + 1 < argc) vocab_only = model = argv[++i];
        else model = argv[i];
    }
    char *text = file ? slurp(file) : NULL;
    if (!model || !text) {
        fprintf(stderr, "usage: bench_grammar MODEL.gguf (--grammar-file F | --json-schema-file F) [-n N] [-t T]\n");
        return 2;
    }
    adm_error err;
    adm_model *m = NULL;
    adm_vocab *vo = NULL;
    adm_ctx *ctx = NULL;
    if (vocab_only ? adm_vocab_load(vocab_only, &vo, &err) != ADM_OK : adm_model_load(model, NULL, &m, &err) != ADM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const adm_vocab *v = m ? adm_model_vocab(m) : vo;
    const int nv = m ? adm_model_n_vocab(m) : adm_vocab_n_tokens(v);
    adm_ctx_params cp = adm_ctx_default_params();
    cp.n_ctx = 4096;
    cp.n_threads = threads;
    if (m && adm_ctx_create(m, &cp, &ctx, &err) != ADM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    rng r = {1};
    double t0 = now();
    adm_grammar *g;
    adm_status st = schema ? adm_grammar_create_json_schema(v, text, -1, &g, &err)
                           : adm_grammar_create_gbnf(v, text, -1, &g, &err);
    if (st != ADM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    const double t_create = now() - t0;
    t0 = now();
    adm_grammar *g2;
    st = schema ? adm_grammar_create_json_schema(v, text, -1, &g2, &err) : adm_grammar_create_gbnf(v, text, -1, &g2, &err);
    const double t_create2 = now() - t0;
    if (st == ADM_OK) adm_grammar_free(g2);
    adm_sampler_params sp = adm_sampler_default_params();
    sp.temp = 1.0f;
    sp.seed = 1;
    adm_sampler *sg, *sf;
    if (adm_sampler_create(&sp, nv, &sg, &err) != ADM_OK || adm_sampler_create(&sp, nv, &sf, &err) != ADM_OK ||
        adm_sampler_set_grammar(sg, g, &err) != ADM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    float *logits = malloc(sizeof(float) * (size_t)nv);
    int32_t tok = adm_vocab_bos(v) >= 0 ? adm_vocab_bos(v) : 0;
    double t_eval = 0, t_g = 0, t_f = 0;
    int n = 0, n_docs = 0;
    for (; n < n_gen; n++) {
        t0 = now();
        if (!ctx) {
            for (int i = 0; i < nv; i++) logits[i] = 2.0f * rng_normal(&r);
        } else if (adm_ctx_eval(ctx, &tok, 1, logits, false, &err) != ADM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        const double t1 = now(), c1 = cpu_now();
        (void)adm_sampler_sample(sf, logits);
        const double c2 = cpu_now();
        tok = adm_sampler_sample(sg, logits);
        const double c3 = cpu_now();
        if (n > 0) { /* the first step pays the context's warm-up */
            t_eval += t1 - t0;
            t_f += c2 - c1;
            t_g += c3 - c2;
        }
        if (adm_vocab_is_eog(v, tok)) { /* a document done: start another at depth ~0 */
            n_docs++;
            if (ctx) adm_ctx_truncate(ctx, 0);
            adm_sampler_reset(sg, false, 0);
            tok = adm_vocab_bos(v) >= 0 ? adm_vocab_bos(v) : 0;
        }
    }
    const double k = n > 1 ? n - 1 : 1;
    printf("model %s, %d vocab, grammar %s\n", model, nv, file);
    printf("grammar compile: %.1f ms first (vocabulary trie included), %.2f ms next\n", t_create * 1e3,
           t_create2 * 1e3);
    printf("%d tokens (%d documents ended): decode step %.2f ms, sampler %.3f ms, sampler + grammar %.3f ms\n", n,
           n_docs, t_eval / k * 1e3, t_f / k * 1e3, t_g / k * 1e3);
    if (ctx)
        printf("grammar overhead per token: %.3f ms = %.1f%% of a decode step\n", (t_g - t_f) / k * 1e3,
               100.0 * (t_g - t_f) / t_eval);
    else
        printf("grammar overhead per token: %.3f ms (no model: random logits)\n", (t_g - t_f) / k * 1e3);
    free(logits);
    adm_sampler_free(sg);
    adm_sampler_free(sf);
    adm_grammar_free(g);
    adm_ctx_free(ctx);
    adm_model_free(m);
    adm_vocab_free(vo);
    free(text);
    return 0;
}
