/*
 * test_gguf.c - the GGUF reader against files the test writes byte by byte:
 * a valid file with every metadata type, then one damaged file per failure
 * class (truncation at every offset, sizes and offsets past the end,
 * overflowing counts and dimensions, duplicates, wrong key types, bad
 * alignment, unknown types), each of which must be refused with a message
 * naming the file and the problem. Also the real files under ../shared.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adamas.h"
#include "gguf.h"
#include "gguf_writer.h"
#include "quant.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a byte builder for hand-made files ---- */

typedef struct bb {
    uint8_t *p;
    size_t len, cap;
} bb;

static void bb_put(bb *b, const void *d, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}
static void bb_u8(bb *b, uint8_t v) { bb_put(b, &v, 1); }
static void bb_u32(bb *b, uint32_t v) { bb_put(b, &v, 4); }
static void bb_u64(bb *b, uint64_t v) { bb_put(b, &v, 8); }
static void bb_f32(bb *b, float v) { bb_put(b, &v, 4); }
static void bb_str(bb *b, const char *s) {
    bb_u64(b, strlen(s));
    bb_put(b, s, strlen(s));
}
static void bb_key(bb *b, const char *k, adm_gguf_type t) {
    bb_str(b, k);
    bb_u32(b, (uint32_t)t);
}
static void bb_pad(bb *b, size_t align) {
    while (b->len % align) bb_u8(b, 0);
}

/* Header with the given counts. */
static void bb_header(bb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    bb_put(b, "GGUF", 4);
    bb_u32(b, version);
    bb_u64(b, n_tensors);
    bb_u64(b, n_kv);
}

static void bb_tensor_info(bb *b, const char *name, int n_dims, const uint64_t *ne, uint32_t type, uint64_t offset) {
    bb_str(b, name);
    bb_u32(b, (uint32_t)n_dims);
    for (int i = 0; i < n_dims; i++) bb_u64(b, ne[i]);
    bb_u32(b, type);
    bb_u64(b, offset);
}

/* A valid file: one key of every type and two tensors. */
static bb make_valid(void) {
    bb b = {0};
    bb_header(&b, 3, 2, 15);
    bb_key(&b, "t.u8", ADM_GGUF_UINT8); bb_u8(&b, 200);
    bb_key(&b, "t.i8", ADM_GGUF_INT8); bb_u8(&b, (uint8_t)-5);
    bb_key(&b, "t.u16", ADM_GGUF_UINT16); uint16_t u16 = 60000; bb_put(&b, &u16, 2);
    bb_key(&b, "t.i16", ADM_GGUF_INT16); int16_t i16 = -30000; bb_put(&b, &i16, 2);
    bb_key(&b, "t.u32", ADM_GGUF_UINT32); bb_u32(&b, 4000000000u);
    bb_key(&b, "t.i32", ADM_GGUF_INT32); bb_u32(&b, (uint32_t)-7);
    bb_key(&b, "t.f32", ADM_GGUF_FLOAT32); bb_f32(&b, 1.5f);
    bb_key(&b, "t.bool", ADM_GGUF_BOOL); bb_u8(&b, 1);
    bb_key(&b, "t.str", ADM_GGUF_STRING); bb_str(&b, "hello");
    bb_key(&b, "t.u64", ADM_GGUF_UINT64); bb_u64(&b, 1ull << 40);
    bb_key(&b, "t.i64", ADM_GGUF_INT64); bb_u64(&b, (uint64_t)-(1ll << 40));
    bb_key(&b, "t.f64", ADM_GGUF_FLOAT64); double f64 = -2.25; bb_put(&b, &f64, 8);
    bb_key(&b, "t.arr_i32", ADM_GGUF_ARRAY); bb_u32(&b, ADM_GGUF_INT32); bb_u64(&b, 3);
    bb_u32(&b, 1); bb_u32(&b, 2); bb_u32(&b, 3);
    bb_key(&b, "t.arr_str", ADM_GGUF_ARRAY); bb_u32(&b, ADM_GGUF_STRING); bb_u64(&b, 2);
    bb_str(&b, "a"); bb_str(&b, "bc");
    /* nested: [[1, 2], ["x"]] */
    bb_key(&b, "t.nested", ADM_GGUF_ARRAY); bb_u32(&b, ADM_GGUF_ARRAY); bb_u64(&b, 2);
    bb_u32(&b, ADM_GGUF_UINT8); bb_u64(&b, 2); bb_u8(&b, 1); bb_u8(&b, 2);
    bb_u32(&b, ADM_GGUF_STRING); bb_u64(&b, 1); bb_str(&b, "x");
    uint64_t ne_a[2] = {4, 2}, ne_b[1] = {32};
    bb_tensor_info(&b, "a", 2, ne_a, ADM_TYPE_F32, 0);
    bb_tensor_info(&b, "b", 1, ne_b, ADM_TYPE_Q8_0, 32);
    bb_pad(&b, 32);
    for (int i = 0; i < 8; i++) bb_f32(&b, (float)i);
    bb_pad(&b, 32);
    for (int i = 0; i < 34; i++) bb_u8(&b, (uint8_t)i);
    return b;
}

static adm_status parse(const bb *b, adm_gguf **g, adm_error *err) {
    return adm_gguf_parse(b->p, b->len, "test.gguf", g, err);
}

/* Expects a refusal with `code` whose message names the file and contains `what`. */
static void expect_fail(const bb *b, adm_status code, const char *what) {
    adm_gguf *g = (adm_gguf *)1;
    adm_error err = {0};
    adm_status st = parse(b, &g, &err);
    if (st != code || !strstr(err.msg, "test.gguf") || (what && !strstr(err.msg, what)))
        fail_msg("expected %s containing '%s', got %s: %s", adm_status_str(code), what ? what : "",
                 adm_status_str(st), err.msg);
    assert_null(g);
}

static void test_valid_file(void **state) {
    (void)state;
    bb b = make_valid();
    adm_gguf *g;
    adm_error err;
    assert_int_equal(parse(&b, &g, &err), ADM_OK);
    assert_int_equal(g->version, 3);
    assert_int_equal(g->n_kv, 15);
    int64_t iv;
    bool found;
    assert_int_equal(adm_gguf_get_int(g, "t.u8", 0, 1000, &iv, &found, &err), ADM_OK);
    assert_true(found);
    assert_int_equal(iv, 200);
    assert_int_equal(adm_gguf_get_int(g, "t.i8", -100, 100, &iv, &found, &err), ADM_OK);
    assert_int_equal(iv, -5);
    assert_int_equal(adm_gguf_get_int(g, "t.i16", -40000, 0, &iv, &found, &err), ADM_OK);
    assert_int_equal(iv, -30000);
    assert_int_equal(adm_gguf_get_int(g, "t.u32", 0, INT64_MAX, &iv, &found, &err), ADM_OK);
    assert_int_equal(iv, 4000000000ll);
    assert_int_equal(adm_gguf_get_int(g, "t.i64", INT64_MIN, 0, &iv, &found, &err), ADM_OK);
    assert_int_equal(iv, -(1ll << 40));
    /* Range checks apply. */
    assert_int_equal(adm_gguf_get_int(g, "t.u32", 0, 100, &iv, &found, &err), ADM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "t.u32"));
    double d;
    assert_int_equal(adm_gguf_get_float(g, "t.f32", &d, &found, &err), ADM_OK);
    assert_true(d == 1.5);
    assert_int_equal(adm_gguf_get_float(g, "t.f64", &d, &found, &err), ADM_OK);
    assert_true(d == -2.25);
    bool bv;
    assert_int_equal(adm_gguf_get_bool(g, "t.bool", &bv, &found, &err), ADM_OK);
    assert_true(bv);
    adm_str s;
    assert_int_equal(adm_gguf_get_str(g, "t.str", &s, &found, &err), ADM_OK);
    assert_true(adm_str_eq(s, "hello"));
    /* Wrong types are reported with the key name. */
    assert_int_equal(adm_gguf_get_str(g, "t.u8", &s, &found, &err), ADM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "t.u8"));
    assert_int_equal(adm_gguf_get_int(g, "t.str", 0, 1, &iv, &found, &err), ADM_ERR_FORMAT);
    /* Absent keys are not errors. */
    assert_int_equal(adm_gguf_get_int(g, "nope", 0, 1, &iv, &found, &err), ADM_OK);
    assert_false(found);
    const adm_gguf_value *arr;
    assert_int_equal(adm_gguf_get_arr(g, "t.arr_i32", ADM_GGUF_INT64, &arr, &found, &err), ADM_OK);
    assert_int_equal(arr->arr.n, 3);
    assert_int_equal(adm_gguf_arr_int(arr, 2), 3);
    assert_int_equal(adm_gguf_get_arr(g, "t.arr_str", ADM_GGUF_STRING, &arr, &found, &err), ADM_OK);
    assert_true(adm_str_eq(arr->arr.strs[1], "bc"));
    assert_int_equal(adm_gguf_get_arr(g, "t.arr_str", ADM_GGUF_INT64, &arr, &found, &err), ADM_ERR_FORMAT);
    assert_int_equal(adm_gguf_get_arr(g, "t.nested", ADM_GGUF_ARRAY, &arr, &found, &err), ADM_OK);
    assert_int_equal(arr->arr.n, 2);
    assert_int_equal(arr->arr.vals[0].arr.n, 2);
    assert_int_equal(adm_gguf_arr_int(&arr->arr.vals[0], 1), 2);
    assert_true(adm_str_eq(arr->arr.vals[1].arr.strs[0], "x"));
    /* Tensors. */
    const adm_gguf_tensor *t = adm_gguf_find_tensor(g, "a");
    assert_non_null(t);
    assert_int_equal(t->ne[0], 4);
    assert_int_equal(t->ne[1], 2);
    assert_int_equal(t->size, 32);
    float v;
    memcpy(&v, t->data + 12, 4);
    assert_true(v == 3.0f);
    t = adm_gguf_find_tensor(g, "b");
    assert_non_null(t);
    assert_int_equal(t->type, ADM_TYPE_Q8_0);
    assert_int_equal(t->size, 34);
    assert_null(adm_gguf_find_tensor(g, "c"));
    /* The public inspection API renders values. */
    char buf[256];
    int64_t k = adm_gguf_find_key(g, "t.arr_str");
    assert_true(k >= 0);
    assert_int_equal(adm_gguf_array_len(g, (uint64_t)k), 2);
    assert_string_equal(adm_gguf_value_str(g, (uint64_t)k, 8, buf, sizeof(buf)), "[2 x string] \"a\" \"bc\"");
    adm_gguf_free(g);
    free(b.p);
}

static void test_truncated_everywhere(void **state) {
    (void)state;
    bb b = make_valid();
    for (size_t n = 0; n < b.len; n++) {
        /* A private copy of exactly n bytes lets ASan catch any overread. */
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, b.p, n);
        adm_gguf *g;
        adm_error err = {0};
        adm_status st = adm_gguf_parse(copy, n, "test.gguf", &g, &err);
        if (st == ADM_OK) fail_msg("a file truncated to %zu of %zu bytes was accepted", n, b.len);
        if (!strstr(err.msg, "test.gguf")) fail_msg("message does not name the file: %s", err.msg);
        if (n >= 24 && n < b.len && !strstr(err.msg, "truncated")) fail_msg("at %zu: %s", n, err.msg);
        free(copy);
    }
    free(b.p);
}

static void test_magic_and_version(void **state) {
    (void)state;
    bb b = {0};
    bb_put(&b, "GGML", 4);
    bb_u32(&b, 3);
    bb_u64(&b, 0);
    bb_u64(&b, 0);
    expect_fail(&b, ADM_ERR_FORMAT, "not a GGUF file");
    b.len = 0;
    bb_header(&b, 1, 0, 0);
    expect_fail(&b, ADM_ERR_UNSUPPORTED, "version 1");
    b.len = 0;
    bb_header(&b, 4, 0, 0);
    expect_fail(&b, ADM_ERR_UNSUPPORTED, "version 4");
    b.len = 0;
    bb_header(&b, 0x03000000, 0, 0);
    expect_fail(&b, ADM_ERR_UNSUPPORTED, "big-endian");
    /* Version 2 with nothing in it is fine. */
    b.len = 0;
    bb_header(&b, 2, 0, 0);
    adm_gguf *g;
    adm_error err;
    assert_int_equal(parse(&b, &g, &err), ADM_OK);
    adm_gguf_free(g);
    free(b.p);
}

static void test_overflowing_counts(void **state) {
    (void)state;
    bb b = {0};
    bb_header(&b, 3, 0, 1ull << 60);
    expect_fail(&b, ADM_ERR_FORMAT, "key/value pairs");
    b.len = 0;
    bb_header(&b, 3, UINT64_MAX, 0);
    expect_fail(&b, ADM_ERR_FORMAT, "tensors");
    /* A string longer than the file. */
    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_u64(&b, 1ull << 62);
    expect_fail(&b, ADM_ERR_FORMAT, "truncated");
    /* An array whose element count times size overflows. */
    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_key(&b, "k", ADM_GGUF_ARRAY);
    bb_u32(&b, ADM_GGUF_UINT64);
    bb_u64(&b, UINT64_MAX / 4);
    expect_fail(&b, ADM_ERR_FORMAT, "truncated");
    /* An array of strings claiming more elements than bytes left. */
    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_key(&b, "k", ADM_GGUF_ARRAY);
    bb_u32(&b, ADM_GGUF_STRING);
    bb_u64(&b, 1ull << 40);
    expect_fail(&b, ADM_ERR_FORMAT, "truncated");
    /* Invalid value and element types. */
    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_key(&b, "k", (adm_gguf_type)13);
    expect_fail(&b, ADM_ERR_FORMAT, "invalid value type");
    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_key(&b, "k", ADM_GGUF_ARRAY);
    bb_u32(&b, 99);
    bb_u64(&b, 0);
    expect_fail(&b, ADM_ERR_FORMAT, "invalid element type");
    /* Arrays nested without end. */
    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_key(&b, "k", ADM_GGUF_ARRAY);
    for (int i = 0; i < 20; i++) {
        bb_u32(&b, ADM_GGUF_ARRAY);
        bb_u64(&b, 1);
    }
    expect_fail(&b, ADM_ERR_FORMAT, "nested too deeply");
    /* A bool that is neither 0 nor 1. */
    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_key(&b, "k", ADM_GGUF_BOOL);
    bb_u8(&b, 7);
    expect_fail(&b, ADM_ERR_FORMAT, "bool");
    free(b.p);
}

static void test_duplicates_and_key_types(void **state) {
    (void)state;
    bb b = {0};
    bb_header(&b, 3, 0, 2);
    bb_key(&b, "dup", ADM_GGUF_UINT32);
    bb_u32(&b, 1);
    bb_key(&b, "dup", ADM_GGUF_UINT32);
    bb_u32(&b, 2);
    expect_fail(&b, ADM_ERR_FORMAT, "duplicate key 'dup'");

    uint64_t ne[1] = {4};
    b.len = 0;
    bb_header(&b, 3, 2, 0);
    bb_tensor_info(&b, "w", 1, ne, ADM_TYPE_F32, 0);
    bb_tensor_info(&b, "w", 1, ne, ADM_TYPE_F32, 32);
    bb_pad(&b, 32);
    for (int i = 0; i < 16; i++) bb_f32(&b, 0);
    expect_fail(&b, ADM_ERR_FORMAT, "duplicate tensor 'w'");

    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_key(&b, "general.alignment", ADM_GGUF_STRING);
    bb_str(&b, "32");
    expect_fail(&b, ADM_ERR_FORMAT, "general.alignment");
    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_key(&b, "general.alignment", ADM_GGUF_UINT32);
    bb_u32(&b, 48);
    expect_fail(&b, ADM_ERR_FORMAT, "power of two");
    b.len = 0;
    bb_header(&b, 3, 0, 1);
    bb_key(&b, "general.alignment", ADM_GGUF_UINT32);
    bb_u32(&b, 0);
    expect_fail(&b, ADM_ERR_FORMAT, "power of two");
    free(b.p);
}

/* A one-tensor file with a given directory entry and `data` bytes of data. */
static bb one_tensor(int n_dims, const uint64_t *ne, uint32_t type, uint64_t offset, size_t data) {
    bb b = {0};
    bb_header(&b, 3, 1, 0);
    bb_tensor_info(&b, "blk.0.w", n_dims, ne, type, offset);
    bb_pad(&b, 32);
    for (size_t i = 0; i < data; i++) bb_u8(&b, 0);
    return b;
}

static void test_bad_tensors(void **state) {
    (void)state;
    uint64_t ne[4] = {8, 2, 1, 1};
    bb b = one_tensor(2, ne, ADM_TYPE_F32, 0, 64);
    adm_gguf *g;
    adm_error err;
    assert_int_equal(parse(&b, &g, &err), ADM_OK);
    adm_gguf_free(g);
    free(b.p);

    b = one_tensor(2, ne, ADM_TYPE_F32, 0, 63);
    expect_fail(&b, ADM_ERR_FORMAT, "runs past the end");
    free(b.p);
    b = one_tensor(2, ne, ADM_TYPE_F32, 32, 64);
    expect_fail(&b, ADM_ERR_FORMAT, "runs past the end");
    free(b.p);
    b = one_tensor(2, ne, ADM_TYPE_F32, UINT64_MAX - 31, 64);
    expect_fail(&b, ADM_ERR_FORMAT, "runs past the end");
    free(b.p);
    b = one_tensor(2, ne, ADM_TYPE_F32, 4, 128);
    expect_fail(&b, ADM_ERR_FORMAT, "not a multiple of the alignment");
    free(b.p);
    b = one_tensor(0, ne, ADM_TYPE_F32, 0, 64);
    expect_fail(&b, ADM_ERR_FORMAT, "dimensions");
    free(b.p);
    uint64_t ne5[5] = {1, 1, 1, 1, 1};
    b = one_tensor(5, ne5, ADM_TYPE_F32, 0, 64);
    expect_fail(&b, ADM_ERR_FORMAT, "dimensions");
    free(b.p);
    uint64_t huge[2] = {1ull << 40, 1ull << 40};
    b = one_tensor(2, huge, ADM_TYPE_F32, 0, 64);
    expect_fail(&b, ADM_ERR_FORMAT, "overflows");
    free(b.p);
    uint64_t neg[2] = {UINT64_MAX, 1};
    b = one_tensor(2, neg, ADM_TYPE_F32, 0, 64);
    expect_fail(&b, ADM_ERR_FORMAT, "negative or too large");
    free(b.p);
    b = one_tensor(2, ne, 99, 0, 64);
    expect_fail(&b, ADM_ERR_UNSUPPORTED, "type 99");
    free(b.p);
    uint64_t ne33[2] = {33, 1};
    b = one_tensor(2, ne33, ADM_TYPE_Q8_0, 0, 64);
    expect_fail(&b, ADM_ERR_FORMAT, "not a multiple of the q8_0 block size");
    free(b.p);
    /* The data section itself must start inside the file. */
    b = one_tensor(2, ne, ADM_TYPE_F32, 0, 0);
    b.len -= 1;
    expect_fail(&b, ADM_ERR_FORMAT, "truncated");
    free(b.p);
}

static void test_shared_files(void **state) {
    (void)state;
    const char *ok[] = {
        "models/stories260K.gguf", "models/llama-2-tiny-random.gguf", "peer/peer-llama-q4_k_m.gguf",
        "peer/peer-qwen3-f16.gguf", "testdata/tokenizer/ggml-vocab-llama-spm.gguf",
        "testdata/tokenizer/ggml-vocab-qwen2.gguf",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        adm_gguf *g;
        adm_error err;
        if (adm_gguf_open(tu_shared(ok[i]), &g, &err) != ADM_OK) fail_msg("%s: %s", ok[i], err.msg);
        adm_gguf_free(g);
    }
    adm_gguf *g;
    adm_error err;
    assert_int_equal(adm_gguf_open(tu_shared("models/tinyllamas-stories-260k-f32.gguf"), &g, &err), ADM_ERR_UNSUPPORTED);
    assert_non_null(strstr(err.msg, "version 1"));
    assert_non_null(strstr(err.msg, "tinyllamas-stories-260k-f32.gguf"));
    assert_int_equal(adm_gguf_open(tu_shared("models/tinyllamas-stories-260k-q8_0.gguf"), &g, &err), ADM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "ffn_down.weight"));
    assert_non_null(strstr(err.msg, "not a multiple of the q8_0 block size 32"));
    assert_int_equal(adm_gguf_open("/nonexistent/model.gguf", &g, &err), ADM_ERR_IO);
    assert_non_null(strstr(err.msg, "/nonexistent/model.gguf"));
    assert_int_equal(adm_gguf_open("/tmp", &g, &err), ADM_ERR_IO);
}

static void test_allocation_failures(void **state) {
    (void)state;
    bb b = make_valid();
    /* Fail each allocation in turn: every one must unwind with NOMEM. */
    for (long n = 1;; n++) {
        adm_alloc_fail_after(n);
        adm_gguf *g;
        adm_error err;
        adm_status st = parse(&b, &g, &err);
        adm_alloc_fail_after(0);
        if (st == ADM_OK) {
            adm_gguf_free(g);
            assert_true(n > 3);
            break;
        }
        assert_int_equal(st, ADM_ERR_NOMEM);
        assert_null(g);
    }
    free(b.p);
}

static void test_writer_round_trip(void **state) {
    (void)state;
    adm_gguf_writer *w;
    adm_error err;
    assert_int_equal(adm_gguf_writer_create(&w, &err), ADM_OK);
    assert_int_equal(adm_gguf_writer_set_str(w, "general.architecture", "llama"), ADM_OK);
    assert_int_equal(adm_gguf_writer_set_u32(w, "llama.block_count", 3), ADM_OK);
    assert_int_equal(adm_gguf_writer_set_f32(w, "x.f", 0.25f), ADM_OK);
    assert_int_equal(adm_gguf_writer_set_bool(w, "x.b", true), ADM_OK);
    assert_int_equal(adm_gguf_writer_set_i32(w, "x.i", -9), ADM_OK);
    adm_gguf *src;
    assert_int_equal(adm_gguf_open(tu_shared("models/stories260K.gguf"), &src, &err), ADM_OK);
    assert_int_equal(adm_gguf_writer_copy_keys(w, src, "tokenizer."), ADM_OK);
    int64_t ne[2] = {64, 3};
    assert_int_equal(adm_gguf_writer_add_tensor(w, "q", ADM_TYPE_Q8_0, 2, ne), ADM_OK);
    assert_int_equal(adm_gguf_writer_add_tensor(w, "f", ADM_TYPE_F32, 1, ne), ADM_OK);
    const char *path = tu_tmp("round_trip.gguf");
    assert_int_equal(adm_gguf_writer_begin(w, path, &err), ADM_OK);
    uint8_t q[3 * 2 * 34];
    float f[64];
    for (int i = 0; i < 64; i++) f[i] = (float)i;
    for (int r = 0; r < 3; r++) adm_quantize(ADM_TYPE_Q8_0, f, q + r * 68, 64);
    assert_int_equal(adm_gguf_writer_write_tensor(w, q, 100, &err), ADM_ERR_INVALID_ARG);
    assert_int_equal(adm_gguf_writer_write_tensor(w, q, sizeof(q), &err), ADM_OK);
    assert_int_equal(adm_gguf_writer_finish(w, &err), ADM_ERR_INVALID_ARG); /* one tensor still owed */
    assert_int_equal(adm_gguf_writer_write_tensor(w, f, sizeof(f), &err), ADM_OK);
    assert_int_equal(adm_gguf_writer_finish(w, &err), ADM_OK);
    adm_gguf_writer_free(w);

    adm_gguf *g;
    assert_int_equal(adm_gguf_open(path, &g, &err), ADM_OK);
    int64_t iv;
    bool found;
    assert_int_equal(adm_gguf_get_int(g, "llama.block_count", 0, 10, &iv, &found, &err), ADM_OK);
    assert_int_equal(iv, 3);
    assert_int_equal(adm_gguf_get_int(g, "x.i", -10, 0, &iv, &found, &err), ADM_OK);
    assert_int_equal(iv, -9);
    const adm_gguf_value *toks;
    assert_int_equal(adm_gguf_get_arr(g, "tokenizer.ggml.tokens", ADM_GGUF_STRING, &toks, &found, &err), ADM_OK);
    assert_true(found);
    assert_int_equal(toks->arr.n, 512);
    assert_true(adm_str_eq(toks->arr.strs[1], "<s>"));
    const adm_gguf_tensor *t = adm_gguf_find_tensor(g, "q");
    assert_non_null(t);
    assert_int_equal(t->offset % 32, 0);
    float back[64];
    adm_dequantize(ADM_TYPE_Q8_0, t->data + 68 * 2, back, 64);
    for (int i = 0; i < 64; i++) assert_true(back[i] > (float)i - 0.3f && back[i] < (float)i + 0.3f);
    t = adm_gguf_find_tensor(g, "f");
    assert_int_equal(t->size, 256);
    assert_int_equal(memcmp(t->data, f, 256), 0);
    adm_gguf_free(g);
    adm_gguf_free(src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_file),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_magic_and_version),
        cmocka_unit_test(test_overflowing_counts),
        cmocka_unit_test(test_duplicates_and_key_types),
        cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_shared_files),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_writer_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
