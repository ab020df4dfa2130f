/*
 * test_snapshot.c - KV snapshots (src/snapshot.c, docs/snapshot.md):
 *  - a restored sequence continues exactly as the uninterrupted one (every
 *    logit bit-identical, hence the same greedy tokens), for dense and Adamas
 *    attention, f16 and q8_0 caches, into a context of another size, across a
 *    recalibration point of the Adamas thresholds;
 *  - a snapshot taken densely, restored into an Adamas sequence, gets the key
 *    codes, thresholds and statistics a sparse prefill in one batch makes;
 *  - prefix use: a snapshot of a document, then the document plus a question:
 *    only the question's tokens are evaluated;
 *  - hostile files: truncation at every length, every bit of the header and
 *    section table flipped, damaged rows, codes, tokens and Adamas state,
 *    another format version, sections past the end, token ids out of range,
 *    another model, other cache types, a context too small: each refused with
 *    a message saying what is wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adamas.h"
#include "context.h"
#include "engine.h"
#include "snapshot.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_DOC 100
#define N_GEN 40 /* 100 + 40 crosses the 128-token recalibration point */

static adm_model *load(const char *rel) {
    adm_model *m;
    adm_error err;
    if (adm_model_load(tu_shared(rel), NULL, &m, &err) != ADM_OK) fail_msg("%s: %s", rel, err.msg);
    return m;
}

static adm_ctx *make_ctx(const adm_model *m, int n_ctx, adm_type type, adm_attention att) {
    adm_ctx_params p = adm_ctx_default_params();
    p.n_ctx = n_ctx;
    p.n_threads = 1;
    p.n_batch = 32;
    p.type_k = p.type_v = type;
    p.attention = att;
    p.budget = 24;         /* sparse from the first decode step on */
    p.dense_layers = 0;    /* the peer models have 2 layers: both sparse */
    adm_ctx *ctx;
    adm_error err;
    if (adm_ctx_create(m, &p, &ctx, &err) != ADM_OK) fail_msg("%s", err.msg);
    return ctx;
}

static void doc_tokens(int32_t *t, int n, uint64_t seed) {
    t[0] = 1;
    for (int i = 1; i < n; i++) t[i] = 3 + (int32_t)(tu_rand(&seed) % 500);
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* The public calls, on the context's sequence. */
static adm_status snap_save(adm_ctx *ctx, const float *logits, const char *path, adm_error *err) {
    return adm_seq_save(adm_ctx_seq(ctx), path, logits, err);
}

static adm_status snap_restore(adm_ctx *ctx, const char *path, const int32_t *prompt, int n_prompt, float *logits,
                               int *n_restored, adm_error *err) {
    return adm_seq_restore(adm_ctx_seq(ctx), path, prompt, n_prompt, logits, n_restored, err);
}

/* Evaluates the document, saves, then decodes N_GEN greedy tokens; a
 * second context restores the snapshot and must produce the same logits
 * bit for bit at every step. */
static void round_trip(const char *model, adm_type type, adm_attention att) {
    adm_model *m = load(model);
    const int nv = adm_model_n_vocab(m);
    adm_ctx *a = make_ctx(m, 256, type, att);
    int32_t doc[N_DOC];
    doc_tokens(doc, N_DOC, 7);
    float *la = malloc(sizeof(float) * (size_t)nv * (N_GEN + 1)), *lb = malloc(sizeof(float) * (size_t)nv);
    adm_error err;
    assert_int_equal(adm_ctx_eval(a, doc, N_DOC, la, false, &err), ADM_OK);
    const char *path = tu_tmp("round.snap");
    assert_int_equal(snap_save(a, la, path, &err), ADM_OK);
    int32_t gen[N_GEN];
    for (int i = 0; i < N_GEN; i++) {
        gen[i] = argmax(la + (size_t)i * nv, nv);
        assert_int_equal(adm_ctx_eval(a, &gen[i], 1, la + (size_t)(i + 1) * nv, false, &err), ADM_OK);
    }
    /* Another context size: rows land at other offsets of the cache. */
    adm_ctx *b = make_ctx(m, 200, type, att);
    int n_restored;
    assert_int_equal(snap_restore(b, path, doc, N_DOC, lb, &n_restored, &err), ADM_OK);
    assert_int_equal(n_restored, N_DOC); /* all of it: the logits were saved */
    assert_memory_equal(lb, la, sizeof(float) * (size_t)nv);
    for (int i = 0; i < N_GEN; i++) {
        assert_int_equal(argmax(lb, nv), gen[i]);
        assert_int_equal(adm_ctx_eval(b, &gen[i], 1, lb, false, &err), ADM_OK);
        if (memcmp(lb, la + (size_t)(i + 1) * nv, sizeof(float) * (size_t)nv))
            fail_msg("%s %s %s: logits differ after %d restored decode steps", model, adm_type_name(type),
                     att == ADM_ATTN_DENSE ? "dense" : "adamas", i + 1);
    }
    free(la);
    free(lb);
    adm_ctx_free(a);
    adm_ctx_free(b);
    adm_model_free(m);
}

static void test_round_trip_dense_f16(void **state) {
    (void)state;
    round_trip("peer/peer-qwen2-f32.gguf", ADM_TYPE_F16, ADM_ATTN_DENSE);
}
static void test_round_trip_dense_q8(void **state) {
    (void)state;
    round_trip("peer/peer-llama-q8_0.gguf", ADM_TYPE_Q8_0, ADM_ATTN_DENSE);
}
static void test_round_trip_adamas_f16(void **state) {
    (void)state;
    round_trip("peer/peer-qwen2-f32.gguf", ADM_TYPE_F16, ADM_ATTN_ADAMAS);
}
static void test_round_trip_adamas_q8(void **state) {
    (void)state;
    round_trip("peer/peer-llama-q8_0.gguf", ADM_TYPE_Q8_0, ADM_ATTN_ADAMAS);
}

/* A dense snapshot restored into an Adamas context: the key side of the
 * index equals what a sparse prefill in one batch builds. */
static void test_dense_snapshot_gets_codes(void **state) {
    (void)state;
    adm_model *m = load("peer/peer-qwen2-f32.gguf");
    int32_t doc[N_DOC];
    doc_tokens(doc, N_DOC, 9);
    adm_error err;
    adm_ctx_params p = adm_ctx_default_params();
    adm_ctx *d = make_ctx(m, 128, ADM_TYPE_F16, ADM_ATTN_DENSE);
    assert_int_equal(adm_ctx_eval(d, doc, N_DOC, NULL, false, &err), ADM_OK);
    const char *path = tu_tmp("dense.snap");
    assert_int_equal(snap_save(d, NULL, path, &err), ADM_OK);
    /* The reference: a sparse prefill of the document in one batch. */
    p.n_ctx = 128;
    p.n_batch = N_DOC;
    p.n_threads = 2;
    p.attention = ADM_ATTN_ADAMAS;
    p.budget = 24;
    p.dense_layers = 0;
    adm_ctx *ref, *r = make_ctx(m, 128, ADM_TYPE_F16, ADM_ATTN_ADAMAS);
    assert_int_equal(adm_ctx_create(m, &p, &ref, &err), ADM_OK);
    assert_int_equal(adm_ctx_eval(ref, doc, N_DOC, NULL, false, &err), ADM_OK);
    int n_restored;
    assert_int_equal(snap_restore(r, path, NULL, 0, NULL, &n_restored, &err), ADM_OK);
    assert_int_equal(n_restored, N_DOC);
    const size_t sz = adm_adamas_state_size(adm_ctx_seq(ref)->adamas);
    uint8_t *sa = malloc(sz), *sb = malloc(sz);
    adm_adamas_state_save(adm_ctx_seq(ref)->adamas, sa);
    adm_adamas_state_save(adm_ctx_seq(r)->adamas, sb);
    /* Layout: 32-byte head, k_th, q_th (differs: queries are not cached), k_sum, k_sum2, q_sum2, counts. */
    const int ns = adm_adamas_n_sparse(adm_ctx_seq(ref)->adamas), cd = adm_adamas_code_dim(adm_ctx_seq(ref)->adamas);
    const size_t nk = (size_t)ns * 2 * (size_t)cd, nq = (size_t)ns * 4 * (size_t)cd;
    assert_memory_equal(sa + 24, sb + 24, 4);                                     /* next calibration point */
    assert_memory_equal(sa + 32, sb + 32, nk * 3 * sizeof(float));               /* key thresholds */
    const size_t ksum = 32 + (nk + nq) * 3 * sizeof(float);
    assert_memory_equal(sa + ksum, sb + ksum, 2 * nk * sizeof(double));           /* key statistics */
    for (int sl = 0; sl < ns; sl++)
        for (int g = 0; g < 2; g++)
            assert_memory_equal(adm_adamas_head_codes(adm_ctx_seq(ref)->adamas, sl, g), adm_adamas_head_codes(adm_ctx_seq(r)->adamas, sl, g),
                                adm_adamas_code_bytes_for(cd, N_DOC));
    /* Query thresholds come from the next tokens' queries. */
    float logits[512];
    int32_t q = 5;
    assert_int_equal(adm_ctx_eval(r, &q, 1, logits, false, &err), ADM_OK);
    for (int i = 0; i < 512; i++) assert_true(isfinite(logits[i]));
    free(sa);
    free(sb);
    adm_ctx_free(d);
    adm_ctx_free(r);
    adm_ctx_free(ref);
    adm_model_free(m);
}

/* Document snapshot, then document + question: only the question is evaluated. */
static void test_prefix_use(void **state) {
    (void)state;
    adm_model *m = load("peer/peer-llama-f32.gguf");
    int32_t prompt[N_DOC + 12];
    doc_tokens(prompt, N_DOC + 12, 3);
    adm_error err;
    adm_ctx *a = make_ctx(m, 256, ADM_TYPE_F16, ADM_ATTN_DENSE);
    float la[512], lb[512];
    assert_int_equal(adm_ctx_eval(a, prompt, N_DOC, NULL, false, &err), ADM_OK);
    const char *path = tu_tmp("doc.snap");
    assert_int_equal(snap_save(a, NULL, path, &err), ADM_OK);
    assert_int_equal(adm_ctx_eval(a, prompt + N_DOC, 12, la, false, &err), ADM_OK);
    /* What the snapshot holds, without a model. */
    int32_t held[N_DOC];
    int n_held;
    assert_int_equal(adm_snapshot_read_tokens(path, held, 10, &n_held, &err), ADM_OK);
    assert_int_equal(n_held, N_DOC);
    assert_int_equal(adm_snapshot_read_tokens(path, held, N_DOC, &n_held, &err), ADM_OK);
    assert_memory_equal(held, prompt, sizeof(held));

    adm_ctx *b = make_ctx(m, 256, ADM_TYPE_F16, ADM_ATTN_DENSE);
    int n_restored;
    assert_int_equal(snap_restore(b, path, prompt, N_DOC + 12, lb, &n_restored, &err), ADM_OK);
    assert_int_equal(n_restored, N_DOC);
    adm_ctx_reset_perf(b);
    assert_int_equal(adm_ctx_eval(b, prompt + n_restored, N_DOC + 12 - n_restored, lb, false, &err), ADM_OK);
    assert_int_equal(adm_ctx_get_perf(b).n_tokens, 12);
    assert_memory_equal(la, lb, sizeof(la));
    /* The same prompt as the snapshot, without saved logits: its last
     * token is evaluated again (its logits are needed). */
    assert_int_equal(snap_restore(b, path, prompt, N_DOC, lb, &n_restored, &err), ADM_OK);
    assert_int_equal(n_restored, N_DOC - 1);
    /* A prompt that diverges at token 40. */
    int32_t other[N_DOC];
    memcpy(other, prompt, sizeof(other));
    other[40] ^= 1;
    assert_int_equal(snap_restore(b, path, other, N_DOC, lb, &n_restored, &err), ADM_OK);
    assert_int_equal(n_restored, 40);
    assert_int_equal(adm_ctx_n_past(b), 40);
    assert_memory_equal(adm_seq_tokens(adm_ctx_seq(b)), other, 40 * sizeof(int32_t));
    /* Nothing in common. */
    other[0] ^= 1;
    assert_int_equal(snap_restore(b, path, other, N_DOC, lb, &n_restored, &err), ADM_OK);
    assert_int_equal(n_restored, 0);
    assert_int_equal(adm_ctx_n_past(b), 0);
    adm_ctx_free(a);
    adm_ctx_free(b);
    adm_model_free(m);
}

/* ---- hostile files ---- */

typedef struct snap_file {
    uint8_t *data;
    size_t len;
} snap_file;

/* A small Adamas snapshot with logits, as bytes. */
static snap_file make_snapshot(adm_model *m, adm_type type) {
    adm_ctx *ctx = make_ctx(m, 2048, type, ADM_ATTN_ADAMAS);
    enum { N = 1100 }; /* two row chunks */
    int32_t *doc = malloc(sizeof(int32_t) * N);
    doc_tokens(doc, N, 5);
    float *logits = malloc(sizeof(float) * 512);
    adm_error err;
    assert_int_equal(adm_ctx_eval(ctx, doc, N, logits, false, &err), ADM_OK);
    const char *path = tu_tmp("hostile.snap");
    assert_int_equal(snap_save(ctx, logits, path, &err), ADM_OK);
    snap_file f;
    f.data = tu_read_file(path, &f.len);
    assert_non_null(f.data);
    free(doc);
    free(logits);
    adm_ctx_free(ctx);
    return f;
}

static bool refused(const uint8_t *d, size_t n, const char *expect) {
    adm_snapshot *s;
    adm_error err;
    if (adm_snapshot_parse(d, n, "t.snap", &s, &err) == ADM_OK) {
        adm_snapshot_free(s);
        return false;
    }
    if (expect && !strstr(err.msg, expect)) fail_msg("expected '%s' in: %s", expect, err.msg);
    assert_non_null(strstr(err.msg, "t.snap"));
    return true;
}

/* Restores bytes into a context; returns the status and the message. */
static adm_status restore_bytes(adm_ctx *ctx, const uint8_t *d, size_t n, adm_error *err) {
    adm_snapshot *s;
    adm_status st = adm_snapshot_parse(d, n, "t.snap", &s, err);
    if (st != ADM_OK) return st;
    adm_seq *q = adm_ctx_seq(ctx);
    st = adm_snapshot_check_model(s, q->e->model, err);
    if (st == ADM_OK)
        st = adm_snapshot_restore(s, q->kv, q->adamas, q->e->pool, q->e->k, adm_snapshot_n_tokens(s), err);
    adm_snapshot_free(s);
    return st;
}

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Recomputes the header checksum after an edit (docs/snapshot.md). */
static void reseal_header(uint8_t *d) {
    const uint32_t hs = rd32(d + 12);
    wr64(d + 24, 0);
    wr64(d + 24, adm_snapshot_hash(d, hs, 0));
}

/* Entry of section id in the table, or NULL. */
static uint8_t *section(uint8_t *d, uint32_t id) {
    const uint32_t n = rd32(d + 204);
    for (uint32_t i = 0; i < n; i++)
        if (rd32(d + 256 + 32 * i) == id) return d + 256 + 32 * i;
    return NULL;
}

/* Recomputes a small section's checksum, then the header's. */
static void reseal_section(uint8_t *d, uint32_t id) {
    uint8_t *e = section(d, id);
    wr64(e + 24, adm_snapshot_hash(d + rd64(e + 8), rd64(e + 16), id));
    reseal_header(d);
}

static void test_hostile(void **state) {
    (void)state;
    adm_model *m = load("peer/peer-llama-f32.gguf");
    snap_file f = make_snapshot(m, ADM_TYPE_F16);
    uint8_t *d = malloc(f.len);
    adm_error err;
    adm_ctx *ctx = make_ctx(m, 2048, ADM_TYPE_F16, ADM_ATTN_ADAMAS);
    assert_int_equal(restore_bytes(ctx, f.data, f.len, &err), ADM_OK);

    /* Truncated anywhere (every length up to two pages, then page steps). */
    for (size_t n = 0; n < f.len; n += n < 8192 ? 1 : 4093) assert_true(refused(f.data, n, NULL));
    assert_true(refused(f.data, f.len - 1, "truncated"));
    assert_true(refused(f.data, 300, "truncated"));
    /* Every bit of the header and section table. */
    const uint32_t hs = rd32(f.data + 12);
    for (uint32_t i = 0; i < hs * 8; i++) {
        memcpy(d, f.data, f.len);
        d[i / 8] ^= (uint8_t)(1u << (i % 8));
        if (!refused(d, f.len, NULL)) fail_msg("bit %u of the header flipped: accepted", i);
    }
    /* Each small section damaged, bit by bit for the token and state ones. */
    const uint32_t small[] = {1, 2, 5, 7};
    for (size_t k = 0; k < 4; k++) {
        memcpy(d, f.data, f.len);
        const uint8_t *e = section(d, small[k]);
        assert_non_null(e);
        const uint64_t off = rd64(e + 8), len = rd64(e + 16);
        for (uint64_t b = 0; b < len * 8; b += len * 8 / 97 + 1) {
            d[off + b / 8] ^= (uint8_t)(1u << (b % 8));
            assert_true(refused(d, f.len, "checksum"));
            d[off + b / 8] ^= (uint8_t)(1u << (b % 8));
        }
    }
    /* Rows and codes: parsed (they are verified as they are read), refused at restore. */
    const uint32_t bulk[] = {3, 4, 6};
    const char *what[] = {"K rows of layer", "V rows of layer", "Adamas codes"};
    for (size_t k = 0; k < 3; k++) {
        const uint8_t *e = section(f.data, bulk[k]);
        const uint64_t off = rd64(e + 8), len = rd64(e + 16);
        for (uint64_t at = 0; at < len; at += len / 5 + 1) {
            memcpy(d, f.data, f.len);
            d[off + at] ^= 0x10;
            assert_int_equal(restore_bytes(ctx, d, f.len, &err), ADM_ERR_FORMAT);
            assert_non_null(strstr(err.msg, what[k]));
            assert_non_null(strstr(err.msg, "checksum"));
            assert_int_equal(adm_ctx_seq(ctx)->kv->n, 0);
        }
    }
    /* Another version (resealed: the version check itself must say so). */
    memcpy(d, f.data, f.len);
    wr32(d + 8, 3);
    reseal_header(d);
    assert_true(refused(d, f.len, "version 3"));
    /* A section past the end, and one that overlaps another. */
    memcpy(d, f.data, f.len);
    wr64(section(d, 3) + 8, (uint64_t)f.len);
    reseal_header(d);
    assert_true(refused(d, f.len, "past the end"));
    memcpy(d, f.data, f.len);
    wr64(section(d, 4) + 8, rd64(section(d, 3) + 8));
    reseal_header(d);
    assert_true(refused(d, f.len, "overlap"));
    /* A size the header does not imply; too many tokens for the file. */
    memcpy(d, f.data, f.len);
    wr64(section(d, 3) + 16, rd64(section(d, 3) + 16) + 4096);
    reseal_header(d);
    assert_true(refused(d, f.len, "size"));
    memcpy(d, f.data, f.len);
    wr32(d + 196, 0x7fffffff);
    reseal_header(d);
    assert_true(refused(d, f.len, "out of range"));
    /* Token ids out of range (checksums made consistent). */
    memcpy(d, f.data, f.len);
    wr32(d + rd64(section(d, 1) + 8) + 4 * 17, 512);
    reseal_section(d, 1);
    assert_true(refused(d, f.len, "token id 512 at position 17"));
    memcpy(d, f.data, f.len);
    wr32(d + rd64(section(d, 1) + 8), (uint32_t)-3);
    reseal_section(d, 1);
    assert_true(refused(d, f.len, "outside the vocabulary"));
    /* A non-finite threshold in the Adamas state. */
    memcpy(d, f.data, f.len);
    const float inf = INFINITY;
    memcpy(d + rd64(section(d, 5) + 8) + 32 + 4 * 5, &inf, 4);
    reseal_section(d, 5);
    assert_int_equal(restore_bytes(ctx, d, f.len, &err), ADM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "damaged"));
    /* Not a snapshot at all. */
    assert_true(refused((const uint8_t *)"GGUF\3\0\0\0\0\0\0\0\0\0\0\0\0\0", 18, "not an adamas snapshot"));

    /* Another model (same shape, other weights type), naming both. */
    adm_model *q8 = load("peer/peer-llama-q8_0.gguf");
    adm_ctx *cq = make_ctx(q8, 2048, ADM_TYPE_F16, ADM_ATTN_ADAMAS);
    assert_int_equal(restore_bytes(cq, f.data, f.len, &err), ADM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "another model"));
    assert_non_null(strstr(err.msg, "f32)"));
    assert_non_null(strstr(err.msg, "q8_0)"));
    /* Other cache types; a context too small. */
    adm_ctx *c8 = make_ctx(m, 2048, ADM_TYPE_Q8_0, ADM_ATTN_ADAMAS);
    assert_int_equal(restore_bytes(c8, f.data, f.len, &err), ADM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "--cache-type-k f16"));
    adm_ctx *small_ctx = make_ctx(m, 1000, ADM_TYPE_F16, ADM_ATTN_ADAMAS);
    assert_int_equal(restore_bytes(small_ctx, f.data, f.len, &err), ADM_ERR_CONTEXT_FULL);
    /* A dense context ignores the codes; the undamaged file still restores. */
    adm_ctx *dense = make_ctx(m, 2048, ADM_TYPE_F16, ADM_ATTN_DENSE);
    assert_int_equal(restore_bytes(dense, f.data, f.len, &err), ADM_OK);
    assert_int_equal(restore_bytes(ctx, f.data, f.len, &err), ADM_OK);

    adm_ctx_free(dense);
    adm_ctx_free(small_ctx);
    adm_ctx_free(c8);
    adm_ctx_free(cq);
    adm_model_free(q8);
    adm_ctx_free(ctx);
    free(d);
    free(f.data);
    adm_model_free(m);
}

/* Write failures are reported, and leave no file behind. */
static void test_write_errors(void **state) {
    (void)state;
    adm_model *m = load("peer/peer-llama-f32.gguf");
    adm_ctx *ctx = make_ctx(m, 64, ADM_TYPE_F16, ADM_ATTN_DENSE);
    adm_error err;
    assert_int_equal(snap_save(ctx, NULL, tu_tmp("empty.snap"), &err), ADM_ERR_INVALID_ARG);
    int32_t doc[10];
    doc_tokens(doc, 10, 1);
    assert_int_equal(adm_ctx_eval(ctx, doc, 10, NULL, false, &err), ADM_OK);
    assert_int_equal(snap_save(ctx, NULL, "/nonexistent-dir/x.snap", &err), ADM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent-dir/x.snap"));
    adm_seq *q = adm_ctx_seq(ctx);
    doc[3] = 9999;
    assert_int_equal(adm_snapshot_write(tu_tmp("bad.snap"), m, q->kv, NULL, doc, 10, NULL, &err), ADM_ERR_INVALID_ARG);
    /* A missing file: an I/O error naming it; the sequence is left empty. */
    int n_restored = 5;
    assert_int_equal(snap_restore(ctx, tu_tmp("missing.snap"), NULL, 0, NULL, &n_restored, &err), ADM_ERR_IO);
    assert_non_null(strstr(err.msg, "missing.snap"));
    assert_int_equal(n_restored, 0);
    assert_int_equal(adm_ctx_n_past(ctx), 0);
    adm_ctx_free(ctx);
    adm_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_dense_f16),
        cmocka_unit_test(test_round_trip_dense_q8),
        cmocka_unit_test(test_round_trip_adamas_f16),
        cmocka_unit_test(test_round_trip_adamas_q8),
        cmocka_unit_test(test_dense_snapshot_gets_codes),
        cmocka_unit_test(test_prefix_use),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_write_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
