/*
 * test_model.c - the forward pass against references: stories260K's golden
 * first-step logits and 256 greedy tokens (../shared/models/README.md), and
 * llama.cpp's own logits for every model in ../shared/peer. Also batch vs
 * one-token-at-a-time agreement, determinism across runs and thread counts,
 * KV cache types, and clear errors for bad models and bad inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adamas.h"
#include "base.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static adm_model *load(const char *rel) {
    adm_model *m;
    adm_error err;
    if (adm_model_load(tu_shared(rel), NULL, &m, &err) != ADM_OK) fail_msg("%s: %s", rel, err.msg);
    return m;
}

static adm_ctx *make_ctx(const adm_model *m, int n_ctx, int n_threads, int n_batch) {
    adm_ctx_params p = adm_ctx_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = n_threads;
    p.n_batch = n_batch;
    adm_ctx *ctx;
    adm_error err;
    if (adm_ctx_create(m, &p, &ctx, &err) != ADM_OK) fail_msg("%s", err.msg);
    return ctx;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static const int k_stories_greedy[256] = {
    403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408,
    419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268, 388, 426,
    338, 391, 266, 267, 337, 335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13,  438, 310, 439, 419,
    357, 336, 432, 313, 438, 310, 432, 278, 316, 439, 419, 298, 414, 267, 265, 282, 295, 433, 426, 436, 317, 286,
    296, 418, 269, 279, 292, 416, 439, 413, 409, 416, 327, 263, 415, 294, 267, 400, 426, 338, 336, 432, 313, 442,
    391, 267, 337, 335, 364, 420, 268, 388, 432, 398, 359, 280, 303, 439, 413, 272, 417, 264, 312, 426, 436, 13,
    438, 310, 286, 296, 418, 269, 279, 292, 416, 439, 413, 409, 416, 327, 263, 415, 294, 267, 400, 426, 338, 336,
    432, 313, 442, 439, 423, 262, 304, 420, 422, 432, 317, 426, 359, 279, 292, 416, 439, 413, 409, 416, 327, 263,
    415, 294, 267, 400, 426, 436, 13,  438, 310, 279, 292, 416, 439, 413, 391, 267, 281, 421, 427, 311, 357, 432,
    384, 358, 336, 432, 313, 442, 439, 423, 262, 304, 420, 422, 432, 357, 426, 359, 279, 292, 416, 439, 413, 409,
    416, 327, 263, 415, 294, 267, 400, 426, 436, 320, 285, 357, 336, 432, 313, 455, 289, 439, 413, 263, 304, 420,
    422, 432, 317, 426, 410, 448, 411, 280, 303, 281, 421, 427, 364, 426,
};

static void test_stories_first_logits(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    adm_model_info mi = adm_model_get_info(m);
    assert_string_equal(mi.arch, "llama");
    assert_int_equal(mi.n_vocab, 512);
    assert_int_equal(mi.n_layer, 5);
    assert_int_equal(mi.n_head_kv, 4);
    adm_ctx *ctx = make_ctx(m, 16, 1, 16);
    float logits[512];
    adm_error err;
    int32_t bos = 1;
    assert_int_equal(adm_ctx_eval(ctx, &bos, 1, logits, false, &err), ADM_OK);
    /* ../shared/models/README.md: float64 reference top-5 at the first step. */
    const int ids[5] = {403, 385, 410, 317, 407};
    const double ref[5] = {17.0235, 15.4062, 13.1083, 12.7692, 12.4181};
    for (int i = 0; i < 5; i++) {
        if (fabs((double)logits[ids[i]] - ref[i]) > 1e-3)
            fail_msg("logit %d: %.5f, expected %.4f", ids[i], (double)logits[ids[i]], ref[i]);
    }
    assert_int_equal(argmax(logits, 512), 403);
    adm_ctx_free(ctx);
    adm_model_free(m);
}

static void test_stories_greedy_256(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    adm_ctx *ctx = make_ctx(m, 512, 2, 64);
    float logits[512];
    adm_error err;
    int32_t tok = 1;
    for (int i = 0; i < 256; i++) {
        assert_int_equal(adm_ctx_eval(ctx, &tok, 1, logits, false, &err), ADM_OK);
        tok = argmax(logits, 512);
        if (tok != k_stories_greedy[i]) fail_msg("step %d: token %d, expected %d", i, tok, k_stories_greedy[i]);
    }
    assert_int_equal(adm_ctx_n_past(ctx), 256);
    adm_ctx_free(ctx);
    adm_model_free(m);
}

/* Runs a .logits reference prompt through a model in one batch (in
 * llama.cpp's summation order, or the default one). */
static float *eval_order(const adm_model *m, const tu_logits *ref, int n_threads, int n_batch, adm_type kv,
                         bool llama_order) {
    adm_ctx_params p = adm_ctx_default_params();
    p.llama_order = llama_order;
    p.n_ctx = ref->n;
    p.n_threads = n_threads;
    p.n_batch = n_batch;
    p.type_k = kv;
    p.type_v = kv;
    adm_ctx *ctx;
    adm_error err;
    if (adm_ctx_create(m, &p, &ctx, &err) != ADM_OK) fail_msg("%s", err.msg);
    float *out = malloc(sizeof(float) * (size_t)ref->n * (size_t)ref->n_vocab);
    if (adm_ctx_eval(ctx, ref->tokens, ref->n, out, true, &err) != ADM_OK) fail_msg("%s", err.msg);
    adm_ctx_free(ctx);
    return out;
}

static float *eval_all(const adm_model *m, const tu_logits *ref, int n_threads, int n_batch, adm_type kv) {
    return eval_order(m, ref, n_threads, n_batch, kv, true);
}

static double rms_diff(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]);
    return sqrt(s / (double)n);
}

/* Files whose weights are all F32, F16, BF16 or Q8_0 must reproduce
 * llama.cpp's logits bit for bit in llama.cpp's order (llama_order, the
 * default of a context): for those types our kernels follow the summation
 * order of llama.cpp's batched products (llamafile's sgemm), of its tiled
 * flash attention, its exp and its fused RoPE, on every ISA
 * (docs/correctness.md). In the block order (Q8_0 blocks summed in
 * integers first where the CPU has those kernels, an engine's default)
 * the first 8 positions must agree to 1e-4 (rounding: ~2e-6 measured) and
 * all of them within half the quantization error: these random-weight
 * models amplify a rounding difference of 1e-7 into logit differences of
 * ~0.1 once an activation code or an attention winner flips (peer-llama-
 * q8_0 from position 16 on: rms 0.22 of the quantization error, qwen2
 * 0.28; docs/kernels.md). The others (block formats and K-quants, whose
 * kernels keep their own order) must stay within a quarter of the
 * quantization error, as the issue asks; a wrong block layout or scale
 * gives ratios of 1 or more. */
static bool must_be_exact(const char *type) {
    return !strcmp(type, "f32") || !strcmp(type, "f16") || !strcmp(type, "bf16") || !strcmp(type, "q8_0");
}

static void test_peer_logits(void **state) {
    (void)state;
    static const char *files[] = {
        "llama-f32", "llama-f16", "llama-bf16", "llama-q8_0", "llama-q4_0", "llama-q4_1", "llama-q5_0",
        "llama-q5_1", "llama-q2_k", "llama-q3_k_m", "llama-q4_k_m", "llama-q5_k_m", "llama-q6_k", "qwen2-f32",
        "qwen2-f16", "qwen2-q8_0", "qwen2-q4_k_m", "qwen3-f32", "qwen3-f16", "qwen3-q8_0", "qwen3-q4_k_m",
    };
    char path[256];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        const char *name = files[i];
        char arch[16];
        snprintf(arch, sizeof(arch), "%.*s", (int)(strchr(name, '-') - name), name);
        const char *type = strchr(name, '-') + 1;
        tu_logits ref, master;
        snprintf(path, sizeof(path), "peer/peer-%s.logits", name);
        if (!tu_logits_load(tu_shared(path), &ref)) fail_msg("cannot read %s", path);
        snprintf(path, sizeof(path), "peer/peer-%s-f32.logits", arch);
        if (!tu_logits_load(tu_shared(path), &master)) fail_msg("cannot read %s", path);
        snprintf(path, sizeof(path), "peer/peer-%s.gguf", name);
        adm_model *m = load(path);
        assert_int_equal(adm_model_n_vocab(m), ref.n_vocab);
        float *ours = eval_all(m, &ref, 2, 512, ADM_TYPE_F16);
        const size_t n = (size_t)ref.n * (size_t)ref.n_vocab;
        double d = rms_diff(ours, ref.logits, n), q = rms_diff(ref.logits, master.logits, n);
        printf("    peer-%-14s rms vs llama.cpp %.6f, llama.cpp quantization rms %.5f, ratio %.3f\n", name, d, q,
               q > 0 ? d / q : 0.0);
        float *blocks = eval_order(m, &ref, 2, 512, ADM_TYPE_F16, false);
        const double db = rms_diff(blocks, ref.logits, n);
        double early = 0.0;
        for (size_t j = 0; j < (size_t)8 * (size_t)ref.n_vocab && j < n; j++)
            early = fmax(early, fabs((double)blocks[j] - (double)ours[j]));
        printf("    %-19s block order: rms vs llama.cpp %.6f, ratio %.3f; positions 0-7 within %.2g\n", "", db,
               q > 0 ? db / q : 0.0, early);
        if (early > 1e-4) fail_msg("peer-%s, block order: positions 0-7 differ by %.3g", name, early);
        if (q > 0 && db > 0.5 * q)
            fail_msg("peer-%s, block order: rms %.5f is %.3f of the quantization rms %.5f (limit 0.5)", name, db,
                     db / q, q);
        free(blocks);
        if (must_be_exact(type)) {
            for (size_t j = 0; j < n; j++)
                if (memcmp(&ours[j], &ref.logits[j], sizeof(float)))
                    fail_msg("peer-%s: position %zu, token %zu: %.9g, llama.cpp %.9g (must be bit-identical)", name,
                             j / (size_t)ref.n_vocab, j % (size_t)ref.n_vocab, (double)ours[j], (double)ref.logits[j]);
        } else if (d > 0.25 * q) {
            fail_msg("peer-%s: rms %.5f is %.3f of the quantization rms %.5f (limit 0.25)", name, d, d / q, q);
        }
        free(ours);
        adm_model_free(m);
        tu_logits_free(&ref);
        tu_logits_free(&master);
    }
}

/* Evaluating a prompt in one batch, in small batches, or token by token
 * must give the same logits up to float rounding; the thread count must
 * not change a single bit. */
static void test_batching_and_threads(void **state) {
    (void)state;
    tu_logits ref;
    assert_true(tu_logits_load(tu_shared("peer/peer-llama-f32.logits"), &ref));
    adm_model *m = load("peer/peer-llama-f32.gguf");
    const size_t n = (size_t)ref.n * (size_t)ref.n_vocab;
    float *a = eval_all(m, &ref, 1, 512, ADM_TYPE_F32);
    float *b = eval_all(m, &ref, 2, 7, ADM_TYPE_F32);
    float *c = eval_all(m, &ref, 3, 1, ADM_TYPE_F32);
    float *d = eval_all(m, &ref, 3, 512, ADM_TYPE_F32);
    float *e = eval_all(m, &ref, 2, 512, ADM_TYPE_F32);
    assert_true(rms_diff(a, b, n) < 1e-4);
    assert_true(rms_diff(a, c, n) < 1e-4);
    assert_int_equal(memcmp(a, d, n * sizeof(float)), 0);
    assert_int_equal(memcmp(a, e, n * sizeof(float)), 0);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    adm_model_free(m);
    tu_logits_free(&ref);
}

/* Two contexts on one thread pool (adm_ctx_params.threads_from, as a draft
 * model beside its target), used in turn: each gives exactly what it gives
 * on threads of its own. */
static void test_shared_threads(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    const int nv = adm_model_n_vocab(m);
    adm_ctx *own = make_ctx(m, 256, 2, 512), *owner = make_ctx(m, 256, 2, 512);
    adm_ctx_params p = adm_ctx_default_params();
    p.n_ctx = 256;
    p.n_threads = 1; /* ignored: the pool decides */
    p.threads_from = owner;
    adm_ctx *guest;
    adm_error err;
    if (adm_ctx_create(m, &p, &guest, &err) != ADM_OK) fail_msg("%s", err.msg);
    float *a = malloc(sizeof(float) * (size_t)nv), *b = malloc(sizeof(float) * (size_t)nv);
    float *c = malloc(sizeof(float) * (size_t)nv);
    int32_t tok = 1;
    for (int i = 0; i < 40; i++) {
        assert_int_equal(adm_ctx_eval(own, &tok, 1, a, false, &err), ADM_OK);
        assert_int_equal(adm_ctx_eval(guest, &tok, 1, b, false, &err), ADM_OK);
        assert_int_equal(adm_ctx_eval(owner, &tok, 1, c, false, &err), ADM_OK);
        assert_int_equal(memcmp(a, b, sizeof(float) * (size_t)nv), 0);
        assert_int_equal(memcmp(a, c, sizeof(float) * (size_t)nv), 0);
        tok = argmax(a, nv);
    }
    adm_ctx_free(guest); /* before the pool's owner */
    adm_ctx_free(owner);
    adm_ctx_free(own);
    free(a);
    free(b);
    free(c);
    adm_model_free(m);
}

/* q8_0 and f32 KV caches stay close to the default f16 one. */
static void test_kv_cache_types(void **state) {
    (void)state;
    tu_logits ref;
    assert_true(tu_logits_load(tu_shared("peer/peer-qwen2-f32.logits"), &ref));
    adm_model *m = load("peer/peer-qwen2-f32.gguf");
    const size_t n = (size_t)ref.n * (size_t)ref.n_vocab;
    float *f16 = eval_all(m, &ref, 2, 512, ADM_TYPE_F16);
    float *f32 = eval_all(m, &ref, 2, 512, ADM_TYPE_F32);
    float *q8 = eval_all(m, &ref, 2, 512, ADM_TYPE_Q8_0);
    double d32 = rms_diff(f32, ref.logits, n), d16 = rms_diff(f16, ref.logits, n), d8 = rms_diff(q8, ref.logits, n);
    printf("    kv f32 %.5f, f16 %.5f, q8_0 %.5f (rms vs llama.cpp, f16 cache)\n", d32, d16, d8);
    assert_true(d16 < 1e-3);
    assert_true(d32 < 0.02);
    assert_true(d8 < 0.2);
    free(f16);
    free(f32);
    free(q8);
    adm_model_free(m);
    tu_logits_free(&ref);
}

/* llama-2-tiny-random: F16 weights, multi-head attention, 32000 tokens. */
static void test_tiny_random_f16(void **state) {
    (void)state;
    adm_model *m = load("models/llama-2-tiny-random.gguf");
    adm_model_info mi = adm_model_get_info(m);
    assert_int_equal(mi.n_vocab, 32000);
    assert_int_equal(mi.n_head, mi.n_head_kv);
    adm_ctx *ctx = make_ctx(m, 32, 2, 32);
    float *logits = malloc(sizeof(float) * 32000 * 4);
    int32_t toks[4] = {1, 15043, 3186, 29889};
    adm_error err;
    assert_int_equal(adm_ctx_eval(ctx, toks, 4, logits, true, &err), ADM_OK);
    for (int i = 0; i < 4 * 32000; i++) assert_true(isfinite(logits[i]));
    free(logits);
    adm_ctx_free(ctx);
    adm_model_free(m);
}

static void test_bad_inputs(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    adm_ctx *ctx = make_ctx(m, 8, 1, 4);
    float logits[512], spare[512];
    adm_error err;
    int32_t toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    assert_int_equal(adm_ctx_eval(ctx, toks, 9, logits, false, &err), ADM_ERR_CONTEXT_FULL);
    assert_non_null(strstr(err.msg, "do not fit"));
    assert_int_equal(adm_ctx_n_past(ctx), 0);
    int32_t bad = 512;
    assert_int_equal(adm_ctx_eval(ctx, &bad, 1, logits, false, &err), ADM_ERR_INVALID_ARG);
    assert_non_null(strstr(err.msg, "512"));
    bad = -1;
    assert_int_equal(adm_ctx_eval(ctx, &bad, 1, logits, false, &err), ADM_ERR_INVALID_ARG);
    assert_int_equal(adm_ctx_eval(ctx, toks, 7, logits, false, &err), ADM_OK);
    assert_int_equal(adm_ctx_eval(ctx, toks + 7, 1, logits, false, &err), ADM_OK);
    assert_int_equal(adm_ctx_eval(ctx, toks, 1, spare, false, &err), ADM_ERR_CONTEXT_FULL);
    /* Truncating frees room; re-evaluating the same token gives the same
     * logits (a single-token step both times: prompt batches use another
     * summation order, see attention/dense.c). */
    float again[512];
    adm_ctx_truncate(ctx, 7);
    assert_int_equal(adm_ctx_eval(ctx, toks + 7, 1, again, false, &err), ADM_OK);
    assert_int_equal(memcmp(logits, again, sizeof(logits)), 0);
    adm_ctx_free(ctx);
    adm_ctx_params p = adm_ctx_default_params();
    p.n_ctx = -5;
    assert_int_equal(adm_ctx_create(m, &p, &ctx, &err), ADM_ERR_INVALID_ARG);
    p = adm_ctx_default_params();
    p.type_k = ADM_TYPE_Q8_0; /* head size 8 is not a multiple of 32 */
    assert_int_equal(adm_ctx_create(m, &p, &ctx, &err), ADM_ERR_INVALID_ARG);
    assert_non_null(strstr(err.msg, "head size 8"));
    adm_model_free(m);
}

/* Writes a copy of stories260K with one metadata key or tensor changed. */
static const char *patched_model(const char *name, const char *skip_key, const char *arch, const char *skip_tensor,
                                 int bad_shape) {
    adm_gguf *src;
    adm_error err;
    assert_int_equal(adm_gguf_open(tu_shared("models/stories260K.gguf"), &src, &err), ADM_OK);
    adm_gguf_writer *w;
    assert_int_equal(adm_gguf_writer_create(&w, &err), ADM_OK);
    char key[256];
    for (uint64_t i = 0; i < adm_gguf_n_kv(src); i++) {
        adm_gguf_key(src, i, key, sizeof(key));
        if (skip_key && !strcmp(key, skip_key)) continue;
        if (!strcmp(key, "general.architecture")) continue;
        if (!strncmp(key, "llama.", 6) && strcmp(arch, "llama")) continue;
        assert_int_equal(adm_gguf_writer_copy_key(w, src, i), ADM_OK);
    }
    assert_int_equal(adm_gguf_writer_set_str(w, "general.architecture", arch), ADM_OK);
    if (skip_key && !strcmp(skip_key, "llama.block_count"))
        assert_int_equal(adm_gguf_writer_set_str(w, "llama.block_count", "five"), ADM_OK);
    for (uint64_t i = 0; i < adm_gguf_n_tensors(src); i++) {
        adm_tensor_info t = adm_gguf_tensor_info(src, i);
        if (skip_tensor && !strcmp(t.name, skip_tensor)) continue;
        int64_t ne[4] = {t.ne[0], t.ne[1], t.ne[2], t.ne[3]};
        if (bad_shape && !strcmp(t.name, "blk.2.attn_q.weight")) ne[1] = 32;
        assert_int_equal(adm_gguf_writer_add_tensor(w, t.name, t.type, t.n_dims, ne), ADM_OK);
    }
    const char *path = tu_tmp(name);
    assert_int_equal(adm_gguf_writer_begin(w, path, &err), ADM_OK);
    size_t flen;
    uint8_t *file = tu_read_file(tu_shared("models/stories260K.gguf"), &flen);
    for (uint64_t i = 0; i < adm_gguf_n_tensors(src); i++) {
        adm_tensor_info t = adm_gguf_tensor_info(src, i);
        if (skip_tensor && !strcmp(t.name, skip_tensor)) continue;
        size_t size = (size_t)t.size;
        if (bad_shape && !strcmp(t.name, "blk.2.attn_q.weight")) size /= 2;
        assert_int_equal(adm_gguf_writer_write_tensor(w, file + 14176 + t.offset, size, &err), ADM_OK);
    }
    assert_int_equal(adm_gguf_writer_finish(w, &err), ADM_OK);
    free(file);
    adm_gguf_writer_free(w);
    adm_gguf_free(src);
    return path;
}

static void expect_load_error(const char *path, adm_status code, const char *what) {
    adm_model *m = (adm_model *)1;
    adm_error err = {0};
    adm_status st = adm_model_load(path, NULL, &m, &err);
    if (st != code || !strstr(err.msg, what)) fail_msg("expected %s with '%s', got %s: %s", adm_status_str(code), what,
                                                       adm_status_str(st), err.msg);
    assert_null(m);
}

static void test_bad_models(void **state) {
    (void)state;
    /* A faithful copy loads (the helper itself is right). */
    adm_model *m;
    adm_error err;
    assert_int_equal(adm_model_load(patched_model("copy.gguf", NULL, "llama", NULL, 0), NULL, &m, &err), ADM_OK);
    adm_model_free(m);
    expect_load_error(patched_model("arch.gguf", NULL, "gptj", NULL, 0), ADM_ERR_UNSUPPORTED, "architecture 'gptj'");
    expect_load_error(patched_model("nolayers.gguf", "llama.block_count", "llama", NULL, 0), ADM_ERR_FORMAT,
                      "'llama.block_count' has type string");
    expect_load_error(patched_model("missing.gguf", NULL, "llama", "blk.3.ffn_up.weight", 0), ADM_ERR_FORMAT,
                      "missing tensor 'blk.3.ffn_up.weight'");
    expect_load_error(patched_model("shape.gguf", NULL, "llama", NULL, 1), ADM_ERR_FORMAT,
                      "'blk.2.attn_q.weight' has shape [64, 32], expected [64, 64]");
    expect_load_error(tu_shared("testdata/tokenizer/ggml-vocab-llama-spm.gguf"), ADM_ERR_FORMAT, "holds no weights");
    expect_load_error(tu_shared("models/tinyllamas-stories-260k-f32.gguf"), ADM_ERR_UNSUPPORTED, "version 1");
}

/* Every allocation made while loading a model and creating a context can
 * fail: each failure must come back as ADM_ERR_NOMEM with nothing leaked
 * (the sanitizer build checks the leaks). */
static void test_allocation_failures(void **state) {
    (void)state;
    int failures = 0;
    for (long n = 1; n < 100000; n++) {
        adm_alloc_fail_after(n);
        adm_model *m;
        adm_ctx *ctx = NULL;
        adm_error err;
        adm_status st = adm_model_load(tu_shared("models/stories260K.gguf"), NULL, &m, &err);
        if (st == ADM_OK) {
            adm_ctx_params p = adm_ctx_default_params();
            p.n_ctx = 64;
            p.n_threads = 2;
            p.attention = ADM_ATTN_ADAMAS;
            st = adm_ctx_create(m, &p, &ctx, &err);
            adm_ctx_free(ctx);
            adm_model_free(m);
        }
        adm_alloc_fail_after(0);
        if (st == ADM_OK) {
            assert_true(failures > 10);
            return;
        }
        if (st != ADM_ERR_NOMEM) fail_msg("allocation %ld: %s (%s)", n, adm_status_str(st), err.msg);
        failures++;
    }
    fail_msg("loading never succeeded");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_first_logits),
        cmocka_unit_test(test_stories_greedy_256),
        cmocka_unit_test(test_peer_logits),
        cmocka_unit_test(test_batching_and_threads),
        cmocka_unit_test(test_shared_threads),
        cmocka_unit_test(test_kv_cache_types),
        cmocka_unit_test(test_tiny_random_f16),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
