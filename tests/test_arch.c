/*
 * test_arch.c - the gemma3, phi3 and qwen3moe forward passes beyond what
 * tests/e2e/arch_ref.sh compares with llama.cpp (the prompt in one batch,
 * then greedy single steps): the same prompt in batches of 7 and one token
 * at a time (sliding windows crossing batch boundaries and starting inside
 * attention tiles, experts given a few rows each, the single-token paths)
 * lands within F32 rounding of llama.cpp's logits; the thread count changes
 * no bit; and two sequences in one mixed batch get what each gets alone
 * (rows of both routed to the same experts). The tiny models are written by
 * `adamas gen-model` ($ADAMAS, set by tests/run.sh) with the seed of
 * tests/arch_ref/make_refs.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adamas.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *k_archs[] = {"gemma3", "phi3", "qwen3moe", "llama-moe"};

/* Writes tests/arch_ref's F32 model of an architecture into the scratch directory. */
static const char *gen_model(const char *arch) {
    const char *adamas = getenv("ADAMAS");
    if (!adamas || !*adamas) fail_msg("ADAMAS (the adamas binary) is not set; run through tests/run.sh");
    char name[64], cmd[2048];
    snprintf(name, sizeof(name), "%s-f32.gguf", arch);
    const char *path = tu_tmp(name);
    snprintf(cmd, sizeof(cmd), "'%s' gen-model --preset tiny-%s --type f32 --vocab '%s' --seed 17 -o '%s' 2>/dev/null",
             adamas, arch, tu_shared("models/stories260K.gguf"), path);
    if (system(cmd) != 0) fail_msg("gen-model failed: %s", cmd);
    return path;
}

static double rms_diff(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]);
    return sqrt(s / (double)n);
}

static float *eval(const adm_model *m, const tu_logits *ref, int n_ctx, int n_threads, int n_batch) {
    adm_ctx_params p = adm_ctx_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = n_threads;
    p.n_batch = n_batch;
    adm_ctx *ctx;
    adm_error err;
    if (adm_ctx_create(m, &p, &ctx, &err) != ADM_OK) fail_msg("%s", err.msg);
    float *out = malloc(sizeof(float) * (size_t)ref->n * (size_t)ref->n_vocab);
    assert_non_null(out);
    if (adm_ctx_eval(ctx, ref->tokens, ref->n, out, true, &err) != ADM_OK) fail_msg("%s", err.msg);
    adm_ctx_free(ctx);
    return out;
}

static void test_batches_and_steps(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(k_archs) / sizeof(k_archs[0]); i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "tests/arch_ref/%s-f32.logits", k_archs[i]);
        tu_logits ref;
        if (!tu_logits_load(rel, &ref)) fail_msg("cannot read %s", rel);
        adm_model *m;
        adm_error err;
        if (adm_model_load(gen_model(k_archs[i]), NULL, &m, &err) != ADM_OK) fail_msg("%s", err.msg);
        const size_t n = (size_t)ref.n * (size_t)ref.n_vocab;
        /* (one batch: tests/e2e/arch_ref.sh) */
        float *b7 = eval(m, &ref, 2048, 2, 7), *b1 = eval(m, &ref, 2048, 1, 1), *t3 = eval(m, &ref, 2048, 3, 7);
        const double d7 = rms_diff(b7, ref.logits, n), ds = rms_diff(b1, ref.logits, n);
        printf("    %-9s rms vs llama.cpp: batches of 7 %.2e, token by token %.2e\n", k_archs[i], d7, ds);
        assert_true(d7 <= 1e-3 && ds <= 1e-3);
        assert_int_equal(memcmp(b7, t3, n * sizeof(float)), 0);
        free(b7);
        free(b1);
        free(t3);
        adm_model_free(m);
        tu_logits_free(&ref);
    }
}

/* Two sequences fed in one mixed batch per step, the first a few tokens
 * ahead of the other: each sequence's logits equal those of the same
 * tokens evaluated in a batch of its own. */
static void test_mixed_batch(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof(k_archs) / sizeof(k_archs[0]); i++) {
        char rel[128];
        snprintf(rel, sizeof(rel), "tests/arch_ref/%s-f32.logits", k_archs[i]);
        tu_logits ref;
        if (!tu_logits_load(rel, &ref)) fail_msg("cannot read %s", rel);
        adm_model *m;
        adm_error err;
        if (adm_model_load(gen_model(k_archs[i]), NULL, &m, &err) != ADM_OK) fail_msg("%s", err.msg);
        adm_engine_params ep = adm_engine_default_params();
        ep.n_threads = 2;
        adm_engine *e;
        if (adm_engine_create(m, &ep, &e, &err) != ADM_OK) fail_msg("%s", err.msg);
        adm_seq_params sp = adm_seq_default_params();
        sp.n_ctx = 2048;
        adm_seq *a, *b, *solo;
        assert_int_equal(adm_seq_create(e, &sp, &a, &err), ADM_OK);
        assert_int_equal(adm_seq_create(e, &sp, &b, &err), ADM_OK);
        assert_int_equal(adm_seq_create(e, &sp, &solo, &err), ADM_OK);
        const int nv = ref.n_vocab, lead = 5, chunk = 9;
        float *mixed = malloc(sizeof(float) * (size_t)nv * 2 * (size_t)chunk), *alone = malloc(sizeof(float) * (size_t)nv * (size_t)chunk);
        assert_non_null(mixed);
        assert_non_null(alone);
        adm_batch_row rows[2 * 9];
        /* b runs `lead` tokens behind a, over the same prompt */
        for (int t = 0; t < lead; t++) rows[t] = (adm_batch_row){a, ref.tokens[t], false};
        assert_int_equal(adm_engine_decode(e, rows, lead, NULL, &err), ADM_OK);
        for (int pos_b = 0; pos_b + lead + chunk <= ref.n; pos_b += chunk) {
            int r = 0;
            for (int t = 0; t < chunk; t++) rows[r++] = (adm_batch_row){a, ref.tokens[pos_b + lead + t], true};
            for (int t = 0; t < chunk; t++) rows[r++] = (adm_batch_row){b, ref.tokens[pos_b + t], true};
            assert_int_equal(adm_engine_decode(e, rows, r, mixed, &err), ADM_OK);
            for (int t = 0; t < chunk; t++) rows[t] = (adm_batch_row){solo, ref.tokens[pos_b + t], true};
            assert_int_equal(adm_engine_decode(e, rows, chunk, alone, &err), ADM_OK);
            if (memcmp(mixed + (size_t)chunk * nv, alone, sizeof(float) * (size_t)nv * (size_t)chunk) != 0)
                fail_msg("%s: sequence b at %d differs in a mixed batch (rms %.3g)", k_archs[i], pos_b,
                         rms_diff(mixed + (size_t)chunk * nv, alone, (size_t)nv * (size_t)chunk));
        }
        free(mixed);
        free(alone);
        adm_seq_free(a);
        adm_seq_free(b);
        adm_seq_free(solo);
        adm_engine_free(e);
        adm_model_free(m);
        tu_logits_free(&ref);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_and_steps),
        cmocka_unit_test(test_mixed_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
