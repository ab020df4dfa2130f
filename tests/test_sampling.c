/*
 * test_sampling.c - the sampler chain: greedy equivalences, seeded
 * reproducibility, that top-k / top-p / min-p never pick outside their set,
 * the penalties, and empirical frequencies against the softmax.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "adamas.h"
#include "sampling.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

#define NV 1000

static adm_sampler *make(adm_sampler_params p) {
    adm_sampler *s;
    adm_error err;
    if (adm_sampler_create(&p, NV, &s, &err) != ADM_OK) fail_msg("%s", err.msg);
    return s;
}

static void random_logits(float *l, uint64_t *rng) {
    for (int i = 0; i < NV; i++) l[i] = 4.0f * tu_randf(rng);
}

static int argmax(const float *l) {
    int b = 0;
    for (int i = 1; i < NV; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static void test_greedy_equivalences(void **state) {
    (void)state;
    uint64_t rng = 1;
    float l[NV];
    adm_sampler_params p = adm_sampler_default_params();
    p.temp = 0;
    adm_sampler *g = make(p);
    p = adm_sampler_default_params();
    p.top_k = 1;
    p.temp = 2.0f;
    adm_sampler *k1 = make(p);
    for (int t = 0; t < 200; t++) {
        random_logits(l, &rng);
        assert_int_equal(adm_sampler_sample(g, l), argmax(l));
        assert_int_equal(adm_sampler_sample(k1, l), argmax(l));
    }
    adm_sampler_free(g);
    adm_sampler_free(k1);
}

/* The fast selection of the best few (greedy, top-k) picks what filling
 * and sorting every candidate picks: ties (coarse logits), NaN and
 * infinities, penalties on recent tokens, every filter after top-k. */
static void test_fast_selection_matches_reference(void **state) {
    (void)state;
    float l[NV];
    uint64_t rng = 7;
    for (int cfg = 0; cfg < 8; cfg++) {
        adm_sampler_params p = adm_sampler_default_params();
        p.seed = 100 + (uint64_t)cfg;
        p.temp = cfg == 0 ? 0.0f : 0.3f + 0.4f * (float)cfg;
        p.top_k = (int[]){0, 1, 5, 40, NV - 1, 40, 2, 40}[cfg];
        p.top_p = cfg == 5 ? 0.5f : 0.95f;
        p.min_p = cfg == 6 ? 0.2f : 0.05f;
        if (cfg >= 3) {
            p.penalty_last_n = 16;
            p.repeat_penalty = 1.3f;
            p.freq_penalty = cfg == 7 ? 0.8f : 0.0f;
            p.presence_penalty = cfg == 7 ? 0.5f : 0.0f;
        }
        adm_sampler *fast = make(p), *ref = make(p);
        for (int t = 0; t < 300; t++) {
            for (int i = 0; i < NV; i++) l[i] = floorf(8.0f * tu_randf(&rng)) * 0.5f; /* many ties */
            if (t % 7 == 0) l[(t * 13) % NV] = NAN;
            if (t % 11 == 0) l[(t * 17) % NV] = INFINITY;
            if (t % 5 == 0) l[(t * 19) % NV] = -INFINITY;
            const int32_t a = adm_sampler_sample(fast, l), b = adm_sampler_sample_reference(ref, l);
            if (a != b) fail_msg("config %d, step %d: fast path %d, reference %d", cfg, t, a, b);
            adm_sampler_accept(fast, a);
            adm_sampler_accept(ref, b);
        }
        adm_sampler_free(fast);
        adm_sampler_free(ref);
    }
}

static void test_seeded_reproducible(void **state) {
    (void)state;
    float l[NV];
    uint64_t rng = 5;
    random_logits(l, &rng);
    adm_sampler_params p = adm_sampler_default_params();
    p.seed = 1234;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.temp = 1.0f;
    adm_sampler *a = make(p), *b = make(p);
    int seq[100], differ = 0;
    for (int i = 0; i < 100; i++) {
        seq[i] = adm_sampler_sample(a, l);
        assert_int_equal(seq[i], adm_sampler_sample(b, l));
    }
    adm_sampler_reset(a, true, 1234);
    for (int i = 0; i < 100; i++) assert_int_equal(seq[i], adm_sampler_sample(a, l));
    adm_sampler_reset(a, true, 99);
    for (int i = 0; i < 100; i++) differ += seq[i] != adm_sampler_sample(a, l);
    assert_true(differ > 50);
    adm_sampler_free(a);
    adm_sampler_free(b);
}

static void test_filters(void **state) {
    (void)state;
    uint64_t rng = 9;
    float l[NV];
    random_logits(l, &rng);
    /* The 5 largest logits. */
    int top[5];
    for (int k = 0; k < 5; k++) {
        int b = -1;
        for (int i = 0; i < NV; i++) {
            bool used = false;
            for (int j = 0; j < k; j++) used |= top[j] == i;
            if (!used && (b < 0 || l[i] > l[b])) b = i;
        }
        top[k] = b;
    }
    adm_sampler_params p = adm_sampler_default_params();
    p.top_k = 5;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.temp = 5.0f;
    adm_sampler *s = make(p);
    int seen[5] = {0};
    for (int t = 0; t < 2000; t++) {
        int id = adm_sampler_sample(s, l), k = 0;
        while (k < 5 && top[k] != id) k++;
        if (k == 5) fail_msg("top-k 5 picked %d", id);
        seen[k]++;
    }
    for (int k = 0; k < 5; k++) assert_true(seen[k] > 0); /* high temperature reaches all five */
    adm_sampler_free(s);

    /* min-p: only tokens within log(min_p) of the best. */
    float m[NV];
    for (int i = 0; i < NV; i++) m[i] = -10.0f;
    m[3] = 0.0f;
    m[7] = -1.0f; /* p ratio e^-1 = 0.37 */
    m[9] = -3.0f; /* 0.05: cut by min-p 0.1 */
    p = adm_sampler_default_params();
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.1f;
    p.temp = 1.0f;
    s = make(p);
    int n3 = 0, n7 = 0;
    for (int t = 0; t < 4000; t++) {
        int id = adm_sampler_sample(s, m);
        assert_true(id == 3 || id == 7);
        n3 += id == 3;
        n7 += id == 7;
    }
    /* Frequencies follow the renormalized softmax: 1 : e^-1. */
    double ratio = (double)n7 / (double)n3;
    assert_true(ratio > 0.30 && ratio < 0.45);
    adm_sampler_free(s);

    /* top-p 0.5 with one token holding 0.73 of the mass: only that token. */
    p.min_p = 0.0f;
    p.top_p = 0.5f;
    s = make(p);
    for (int t = 0; t < 500; t++) assert_int_equal(adm_sampler_sample(s, m), 3);
    adm_sampler_free(s);
}

static void test_penalties(void **state) {
    (void)state;
    float l[NV];
    for (int i = 0; i < NV; i++) l[i] = 0.0f;
    l[10] = 2.0f;
    l[11] = 1.9f;
    adm_sampler_params p = adm_sampler_default_params();
    p.temp = 0;
    p.repeat_penalty = 1.5f;
    adm_sampler *s = make(p);
    assert_int_equal(adm_sampler_sample(s, l), 10);
    adm_sampler_accept(s, 10);
    assert_int_equal(adm_sampler_sample(s, l), 11); /* 2.0 / 1.5 < 1.9 */
    adm_sampler_reset(s, false, 0);
    assert_int_equal(adm_sampler_sample(s, l), 10);
    adm_sampler_free(s);
    p.repeat_penalty = 1.0f;
    p.freq_penalty = 0.06f;
    s = make(p);
    adm_sampler_accept(s, 10);
    assert_int_equal(adm_sampler_sample(s, l), 10); /* 2.0 - 0.06 > 1.9 */
    adm_sampler_accept(s, 10);
    assert_int_equal(adm_sampler_sample(s, l), 11); /* 2.0 - 0.12 < 1.9 */
    adm_sampler_free(s);
    adm_error err;
    p = adm_sampler_default_params();
    p.top_p = 0.0f;
    assert_int_equal(adm_sampler_create(&p, NV, &s, &err), ADM_ERR_INVALID_ARG);
    p = adm_sampler_default_params();
    assert_int_equal(adm_sampler_create(&p, 0, &s, &err), ADM_ERR_INVALID_ARG);
}

static void test_nan_logits(void **state) {
    (void)state;
    float l[NV];
    for (int i = 0; i < NV; i++) l[i] = NAN;
    l[42] = 1.0f;
    adm_sampler *s = make(adm_sampler_default_params());
    for (int t = 0; t < 50; t++) assert_int_equal(adm_sampler_sample(s, l), 42);
    adm_sampler_free(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_equivalences), cmocka_unit_test(test_seeded_reproducible),
        cmocka_unit_test(test_fast_selection_matches_reference),
        cmocka_unit_test(test_filters),             cmocka_unit_test(test_penalties),
        cmocka_unit_test(test_nan_logits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
