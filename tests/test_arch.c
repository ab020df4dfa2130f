/*
 * test_arch.c - the gemma2, gemma3, phi3 and qwen3moe forward passes beyond what
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

#define ADM_MIN_T(a, b) ((a) < (b) ? (a) : (b))

static const char *k_archs[] = {"gemma2", "gemma3", "phi3", "qwen3moe", "llama-moe"};

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


/* ---- gemma3's sliding-window rings (kv_cache.h) ----
 * A tiny gemma3 with a window of 16 decodes 300 tokens, far past the
 * window, in an engine of 8-row batches: its local layers keep rings of
 * 16 + 8 + ADM_MAX_DRAFT rows. The reference is the same sequence with
 * swa_full (every position kept, as before the rings); every comparison is
 * bit for bit. */

enum { RING_N = 300, RING_BATCH = 8 };

static const char *gen_gemma3_w16(void) {
    static char path[1024];
    if (path[0]) return path;
    const char *adamas = getenv("ADAMAS");
    if (!adamas || !*adamas) fail_msg("ADAMAS (the adamas binary) is not set; run through tests/run.sh");
    snprintf(path, sizeof(path), "%s", tu_tmp("gemma3-w16.gguf"));
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "'%s' gen-model --preset tiny-gemma3 --swa 16 --type f32 --vocab '%s' --seed 17 -o '%s' "
             "2>/dev/null", adamas, tu_shared("models/stories260K.gguf"), path);
    if (system(cmd) != 0) fail_msg("gen-model failed: %s", cmd);
    return path;
}

typedef struct ring_fix {
    adm_model *m;
    adm_engine *e;
    int32_t toks[RING_N];
    int nv;
} ring_fix;

static void ring_setup(ring_fix *f) {
    adm_error err;
    if (adm_model_load(gen_gemma3_w16(), NULL, &f->m, &err) != ADM_OK) fail_msg("%s", err.msg);
    adm_engine_params ep = adm_engine_default_params();
    ep.n_threads = 2;
    ep.n_batch = RING_BATCH;
    if (adm_engine_create(f->m, &ep, &f->e, &err) != ADM_OK) fail_msg("%s", err.msg);
    f->nv = adm_model_n_vocab(f->m);
    uint64_t r = 99;
    for (int i = 0; i < RING_N; i++) f->toks[i] = (int32_t)(tu_rand(&r) % (uint64_t)f->nv);
}

static void ring_teardown(ring_fix *f) {
    adm_engine_free(f->e);
    adm_model_free(f->m);
}

static adm_seq *ring_seq_with(ring_fix *f, bool full, adm_type type, adm_attention attention) {
    adm_seq_params sp = adm_seq_default_params();
    sp.n_ctx = 1024;
    sp.swa_full = full;
    sp.type_k = sp.type_v = type;
    sp.attention = attention;
    sp.budget = 32;
    adm_seq *s;
    adm_error err;
    if (adm_seq_create(f->e, &sp, &s, &err) != ADM_OK) fail_msg("%s", err.msg);
    return s;
}

static adm_seq *ring_seq(ring_fix *f, bool full) { return ring_seq_with(f, full, ADM_TYPE_F16, ADM_ATTN_DENSE); }

/* Feeds tokens [from, to) in steps of `step` rows; every row's logits to out + row * nv (out may be NULL). */
static void ring_feed(ring_fix *f, adm_seq *s, const int32_t *toks, int from, int to, int step, float *out) {
    adm_batch_row rows[RING_BATCH];
    adm_error err;
    for (int i = from; i < to; i += step) {
        const int n = ADM_MIN_T(step, to - i);
        for (int j = 0; j < n; j++) rows[j] = (adm_batch_row){s, toks[i + j], out != NULL};
        if (adm_engine_decode(f->e, rows, n, out ? out + (size_t)i * (size_t)f->nv : NULL, &err) != ADM_OK)
            fail_msg("%s", err.msg);
    }
}

static void ring_same(const float *a, const float *b, int from, int to, int nv, const char *what) {
    const size_t o = (size_t)from * (size_t)nv, n = (size_t)(to - from) * (size_t)nv;
    if (memcmp(a + o, b + o, n * sizeof(float)) != 0)
        fail_msg("%s: logits of positions %d-%d differ (rms %.3g)", what, from, to - 1, rms_diff(a + o, b + o, n));
}

/* Ring and full KV give the same logits token by token and in chunks of 7
 * (windows crossing the ring's end and batch boundaries), with f16 and q8_0
 * caches and with Adamas sparse decoding on the global layers; the ring
 * holds far less memory. */
static void test_ring_equals_full(void **state) {
    (void)state;
    ring_fix f;
    ring_setup(&f);
    const size_t n = (size_t)RING_N * (size_t)f.nv;
    float *full = malloc(n * sizeof(float)), *ring = malloc(n * sizeof(float));
    assert_non_null(full);
    assert_non_null(ring);
    const int steps[] = {1, 7, RING_BATCH, 1, 7, 1};
    const adm_type types[] = {ADM_TYPE_F16, ADM_TYPE_F16, ADM_TYPE_F16, ADM_TYPE_Q8_0, ADM_TYPE_Q8_0, ADM_TYPE_F16};
    const adm_attention attn[] = {ADM_ATTN_DENSE, ADM_ATTN_DENSE, ADM_ATTN_DENSE, ADM_ATTN_DENSE, ADM_ATTN_DENSE,
                                  ADM_ATTN_ADAMAS};
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        adm_seq *a = ring_seq_with(&f, true, types[k], attn[k]), *b = ring_seq_with(&f, false, types[k], attn[k]);
        ring_feed(&f, a, f.toks, 0, RING_N, steps[k], full);
        ring_feed(&f, b, f.toks, 0, RING_N, steps[k], ring);
        ring_same(full, ring, 0, RING_N, f.nv, "ring vs full KV");
        const uint64_t kf = adm_seq_get_memory(a).kv_bytes, kr = adm_seq_get_memory(b).kv_bytes;
        if (k == 0) printf("    KV bytes at 1024 tokens: full %llu, ring %llu\n", (unsigned long long)kf, (unsigned long long)kr);
        assert_true(kr < kf);
        adm_seq_free(a);
        adm_seq_free(b);
    }
    free(full);
    free(ring);
    ring_teardown(&f);
}

/* Speculative rollback (guesses evaluated, then taken back) continues as if
 * they had never been; a truncation deeper than the ring starts over; a
 * prefix copy works from what the ring holds and is refused beyond it. */
static void test_ring_truncate_and_copy(void **state) {
    (void)state;
    ring_fix f;
    ring_setup(&f);
    const size_t n = (size_t)RING_N * (size_t)f.nv;
    float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    assert_non_null(ref);
    assert_non_null(got);
    adm_seq *r = ring_seq(&f, false);
    ring_feed(&f, r, f.toks, 0, RING_N, 1, ref);

    adm_seq *s = ring_seq(&f, false);
    int32_t wrong[RING_N];
    for (int i = 0; i < RING_N; i++) wrong[i] = (f.toks[i] + 1) % f.nv;
    ring_feed(&f, s, f.toks, 0, 150, 1, got);
    /* guesses in one batch of RING_BATCH, and ADM_MAX_DRAFT single steps */
    ring_feed(&f, s, wrong, 150, 150 + RING_BATCH, RING_BATCH, NULL);
    adm_seq_truncate(s, 150);
    assert_int_equal(adm_seq_n_past(s), 150);
    ring_feed(&f, s, wrong, 150, 150 + ADM_MAX_DRAFT, 1, NULL);
    adm_seq_truncate(s, 150);
    assert_int_equal(adm_seq_n_past(s), 150);
    ring_feed(&f, s, f.toks, 150, RING_N, 1, got);
    ring_same(ref, got, 0, RING_N, f.nv, "rollback then continue");

    adm_error err;
    adm_seq *c = ring_seq(&f, false);
    /* 200 is deeper than the ring of r (at 300) reaches */
    assert_int_equal(adm_seq_copy_prefix(c, r, 200, &err), ADM_ERR_INVALID_ARG);
    assert_non_null(strstr(err.msg, "sliding-window"));
    assert_int_equal(adm_seq_copy_prefix(c, r, RING_N - 20, &err), ADM_OK);
    ring_feed(&f, c, f.toks, RING_N - 20, RING_N, 1, got);
    ring_same(ref, got, RING_N - 20, RING_N, f.nv, "copied prefix then continue");
    /* a full sequence copies any prefix, and a ring copies it back */
    adm_seq *full = ring_seq(&f, true), *c2 = ring_seq(&f, false);
    ring_feed(&f, full, f.toks, 0, RING_N, 1, NULL); /* (batches change the rounding of later layers' keys) */
    assert_int_equal(adm_seq_copy_prefix(c2, full, 100, &err), ADM_OK);
    ring_feed(&f, c2, f.toks, 100, 160, 1, got);
    ring_same(ref, got, 100, 160, f.nv, "prefix of a full sequence into a ring");

    adm_seq_truncate(s, 50); /* deeper than the ring: starts over */
    assert_int_equal(adm_seq_n_past(s), 0);
    ring_feed(&f, s, f.toks, 0, 40, 1, got);
    ring_same(ref, got, 0, 40, f.nv, "after starting over");
    adm_seq_free(c2);
    adm_seq_free(full);
    adm_seq_free(c);
    adm_seq_free(s);
    adm_seq_free(r);
    free(ref);
    free(got);
    ring_teardown(&f);
}

/* A snapshot of a ring sequence restores into a ring or a full sequence and
 * continues exactly; a prompt sharing a prefix the ring no longer covers
 * restores nothing. */
static void test_ring_snapshot(void **state) {
    (void)state;
    ring_fix f;
    ring_setup(&f);
    const size_t n = (size_t)RING_N * (size_t)f.nv;
    float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    assert_non_null(ref);
    assert_non_null(got);
    adm_seq *r = ring_seq(&f, false);
    ring_feed(&f, r, f.toks, 0, RING_N, 1, ref);
    adm_seq *s = ring_seq(&f, false);
    ring_feed(&f, s, f.toks, 0, 250, 1, NULL);
    adm_error err;
    const char *path = tu_tmp("ring.snap");
    assert_int_equal(adm_seq_save(s, path, NULL, &err), ADM_OK);
    for (int full = 0; full < 2; full++) {
        adm_seq *q = ring_seq(&f, full);
        int got_n = -1;
        assert_int_equal(adm_seq_restore(q, path, NULL, 0, NULL, &got_n, &err), ADM_OK);
        assert_int_equal(got_n, 250);
        ring_feed(&f, q, f.toks, 250, RING_N, 1, got);
        ring_same(ref, got, 250, RING_N, f.nv, full ? "restored into full KV" : "restored into a ring");
        /* a prompt that shares 100 tokens: the ring no longer reaches there */
        int32_t prompt[120];
        memcpy(prompt, f.toks, sizeof(prompt));
        prompt[100] = (prompt[100] + 1) % f.nv;
        assert_int_equal(adm_seq_restore(q, path, prompt, 120, NULL, &got_n, &err), ADM_OK);
        assert_int_equal(got_n, 0);
        assert_int_equal(adm_seq_n_past(q), 0);
        adm_seq_free(q);
    }
    adm_seq_free(s);
    adm_seq_free(r);
    free(ref);
    free(got);
    ring_teardown(&f);
}

/* Two ring sequences in one mixed batch per step get what each gets alone. */
static void test_ring_mixed(void **state) {
    (void)state;
    ring_fix f;
    ring_setup(&f);
    const size_t n = (size_t)RING_N * (size_t)f.nv;
    float *alone = malloc(n * sizeof(float)), *mixed = malloc(2 * RING_BATCH * (size_t)f.nv * sizeof(float));
    assert_non_null(alone);
    assert_non_null(mixed);
    adm_seq *solo = ring_seq(&f, false);
    ring_feed(&f, solo, f.toks, 0, RING_N, 4, alone);
    adm_seq *a = ring_seq(&f, false), *b = ring_seq(&f, false);
    const int lead = 3, chunk = 4;
    ring_feed(&f, a, f.toks, 0, lead, lead, NULL);
    adm_batch_row rows[RING_BATCH];
    adm_error err;
    for (int pos = 0; pos + lead + chunk <= RING_N; pos += chunk) {
        int k = 0;
        for (int t = 0; t < chunk; t++) rows[k++] = (adm_batch_row){a, f.toks[pos + lead + t], true};
        for (int t = 0; t < chunk; t++) rows[k++] = (adm_batch_row){b, f.toks[pos + t], true};
        if (adm_engine_decode(f.e, rows, k, mixed, &err) != ADM_OK) fail_msg("%s", err.msg);
        if (memcmp(mixed + (size_t)chunk * f.nv, alone + (size_t)pos * f.nv, sizeof(float) * (size_t)chunk * f.nv))
            fail_msg("sequence b at %d differs in a mixed batch", pos);
        if (pos % 4 == 0 && memcmp(mixed, alone + (size_t)(pos + lead) * f.nv, sizeof(float) * (size_t)chunk * f.nv))
            fail_msg("sequence a at %d differs in a mixed batch", pos + lead);
    }
    adm_seq_free(a);
    adm_seq_free(b);
    adm_seq_free(solo);
    free(alone);
    free(mixed);
    ring_teardown(&f);
}

/* Gemma-3-1B's shape at 32K context with an f16 cache: the bytes the engine
 * allocates and counts against its memory budget, full KV vs rings. */
static void test_ring_memory_gemma3_1b(void **state) {
    (void)state;
    const char *adamas = getenv("ADAMAS");
    if (!adamas || !*adamas) fail_msg("ADAMAS (the adamas binary) is not set; run through tests/run.sh");
    const char *path = tu_tmp("gemma-3-1b-shape.gguf");
    char cmd[2048];
    /* the real attention shape (26 layers, 1 KV head of 256, window 512,
     * every 6th layer global); the vocabulary and feed-forward size, which
     * do not change the KV cache, small to keep the file small */
    snprintf(cmd, sizeof(cmd), "'%s' gen-model --preset gemma-3-1b --n-ff 64 --type q8_0 --vocab '%s' --seed 1 -o '%s' "
             "2>/dev/null",
             adamas, tu_shared("models/stories260K.gguf"), path);
    if (system(cmd) != 0) fail_msg("gen-model failed: %s", cmd);
    adm_model *m;
    adm_error err;
    if (adm_model_load(path, NULL, &m, &err) != ADM_OK) fail_msg("%s", err.msg);
    adm_engine_params ep = adm_engine_default_params();
    ep.n_threads = 1;
    adm_engine *e;
    if (adm_engine_create(m, &ep, &e, &err) != ADM_OK) fail_msg("%s", err.msg);
    uint64_t bytes[2], budget[2];
    for (int full = 0; full < 2; full++) {
        adm_seq_params sp = adm_seq_default_params();
        sp.n_ctx = 32768;
        sp.swa_full = full;
        adm_seq *s;
        if (adm_seq_create(e, &sp, &s, &err) != ADM_OK) fail_msg("%s", err.msg);
        bytes[full] = adm_seq_get_memory(s).kv_bytes;
        /* the public estimate (adamas info) must equal what the engine allocates */
        budget[full] = adm_model_kv_bytes(m, ADM_TYPE_F16, ADM_TYPE_F16, 32768, ep.n_batch, full);
        adm_seq_free(s);
    }
    printf("    gemma-3-1b, 32768 tokens, f16 KV: full %.1f MiB, ring %.1f MiB\n", (double)bytes[1] / 1048576.0,
           (double)bytes[0] / 1048576.0);
    assert_int_equal(bytes[0], budget[0]);
    assert_int_equal(bytes[1], budget[1]);
    assert_true(bytes[0] * 5 < bytes[1]);
    /* The longest context that fits a memory budget counts the rings: with
     * the budget of a full 8192-token cache, over five times as long. */
    const adm_model_info mi = adm_model_get_info(m);
    for (int full = 0; full < 2; full++) {
        const uint64_t want = adm_model_kv_bytes(m, ADM_TYPE_F16, ADM_TYPE_F16, 8192, ep.n_batch, true);
        const int n = adm_model_ctx_for_memory(m, ADM_TYPE_F16, ADM_TYPE_F16, ep.n_batch, full, want);
        assert_int_equal(n % 256, 0);
        assert_true(adm_model_kv_bytes(m, ADM_TYPE_F16, ADM_TYPE_F16, n, ep.n_batch, full) <= want);
        if (n < mi.n_ctx_train)
            assert_true(adm_model_kv_bytes(m, ADM_TYPE_F16, ADM_TYPE_F16, n + 256, ep.n_batch, full) > want);
        if (full) assert_int_equal(n, 8192);
        else assert_true(n > 5 * 8192 || n == mi.n_ctx_train);
    }
    assert_int_equal(adm_model_ctx_for_memory(m, ADM_TYPE_F16, ADM_TYPE_F16, ep.n_batch, false, 1), 256);
    assert_int_equal(adm_model_ctx_for_memory(m, ADM_TYPE_F16, ADM_TYPE_F16, ep.n_batch, false, UINT64_MAX),
                     mi.n_ctx_train);
    adm_engine_free(e);
    adm_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_and_steps),
        cmocka_unit_test(test_mixed_batch),
        cmocka_unit_test(test_ring_equals_full),
        cmocka_unit_test(test_ring_truncate_and_copy),
        cmocka_unit_test(test_ring_snapshot),
        cmocka_unit_test(test_ring_mixed),
        cmocka_unit_test(test_ring_memory_gemma3_1b),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
