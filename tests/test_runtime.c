/*
 * test_runtime.c - the multi-sequence runtime: mixed batches give each
 * sequence exactly what it gets alone, slots stepped together give the
 * texts they give alone, speculation does not change the text, cancelling
 * one slot leaves the others untouched, and the memory budget refuses
 * cleanly. Models: stories260K (dense, adamas and window attention over a
 * small budget, so sparse steps really happen) and a quantized Qwen2 peer
 * file (GQA, Q8_0 weights).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adamas.h"
#include "testutil.h"

/* q8_0 caches need a head size that is a multiple of 32 (stories260K's is 8). */
static int g_head_dim = 64;

static adm_model *load(const char *rel) {
    adm_model *m = NULL;
    adm_error err;
    adm_model_params mp = adm_model_default_params();
    if (adm_model_load(tu_shared(rel), &mp, &m, &err) != ADM_OK) fail_msg("%s: %s", rel, err.msg);
    g_head_dim = adm_model_get_info(m).n_embd_head;
    return m;
}

static adm_seq_params seq_params(int kind) {
    adm_seq_params p = adm_seq_default_params();
    p.n_ctx = 256;
    p.budget = 16;
    p.dense_layers = 1;
    switch (kind) {
    case 1: p.attention = ADM_ATTN_ADAMAS; break;
    case 2: p.type_k = p.type_v = g_head_dim % 32 == 0 ? ADM_TYPE_Q8_0 : ADM_TYPE_F32; break;
    case 3: p.attention = ADM_ATTN_WINDOW; break;
    default: break;
    }
    return p;
}

static void make_tokens(uint64_t *st, int32_t *t, int n, int n_vocab) {
    for (int i = 0; i < n; i++) t[i] = (int32_t)(tu_rand(st) % (uint64_t)(n_vocab - 3)) + 3;
}

#define NSEQ 4
#define NSTEP 12

/* Sequence i: a prompt of len[i] tokens from step start[i], then one token a step. */
typedef struct script {
    int len[NSEQ], start[NSEQ];
    int32_t prompt[NSEQ][64];
    int32_t next[NSEQ][NSTEP];
} script;

/* Runs the script; `together` puts every sequence's rows of a step in one
 * batch, otherwise each sequence gets batches of its own. logits[i][step]
 * holds the sequence's last-row logits after each of its batches. */
static void run_script(adm_model *m, const script *sc, bool together, bool llama_order, const int kinds[NSEQ],
                       float *logits) {
    const int nv = adm_model_n_vocab(m);
    adm_error err;
    adm_engine_params ep = adm_engine_default_params();
    ep.n_batch = 256;
    ep.n_threads = 2;
    ep.llama_order = llama_order;
    adm_engine *e;
    assert_int_equal(adm_engine_create(m, &ep, &e, &err), ADM_OK);
    adm_seq *s[NSEQ];
    for (int i = 0; i < NSEQ; i++) {
        adm_seq_params sp = seq_params(kinds[i]);
        assert_int_equal(adm_seq_create(e, &sp, &s[i], &err), ADM_OK);
    }
    adm_batch_row rows[NSEQ * 64];
    float *out = malloc((size_t)NSEQ * nv * sizeof(float));
    assert_non_null(out);
    for (int step = 0; step < NSTEP + 8; step++) {
        int n = 0, who[NSEQ], nw = 0;
        for (int i = 0; i < NSEQ; i++) {
            const int k = step - sc->start[i];
            if (k < 0 || k > NSTEP) continue;
            if (k == 0)
                for (int j = 0; j < sc->len[i]; j++)
                    rows[n++] = (adm_batch_row){s[i], sc->prompt[i][j], j == sc->len[i] - 1};
            else rows[n++] = (adm_batch_row){s[i], sc->next[i][k - 1], true};
            who[nw++] = i;
            if (!together) {
                assert_int_equal(adm_engine_decode(e, rows, n, out, &err), ADM_OK);
                memcpy(logits + ((size_t)i * (NSTEP + 1) + (size_t)k) * nv, out, (size_t)nv * sizeof(float));
                n = 0;
            }
        }
        if (together && n) {
            assert_int_equal(adm_engine_decode(e, rows, n, out, &err), ADM_OK);
            for (int w = 0; w < nw; w++) {
                const int i = who[w], k = step - sc->start[i];
                memcpy(logits + ((size_t)i * (NSTEP + 1) + (size_t)k) * nv, out + (size_t)w * nv,
                       (size_t)nv * sizeof(float));
            }
        }
    }
    for (int i = 0; i < NSEQ; i++) assert_int_equal(adm_seq_n_past(s[i]), sc->len[i] + NSTEP);
    free(out);
    for (int i = 0; i < NSEQ; i++) adm_seq_free(s[i]);
    adm_engine_free(e);
}

/* Dense, Adamas, q8_0-cache and window sequences, prompts of different
 * lengths starting at different steps (so prompt chunks share batches with
 * other sequences' decode rows): every logit equals the sequence's own
 * run, bit for bit, in both summation orders (llama.cpp's, and the block
 * order of Q8_0 products, kernels.h). The last set is all Adamas: several
 * sequences' sparse steps share one scan and one selection pass. */
static void check_mixed(const char *model, bool llama_order) {
    adm_model *m = load(model);
    const int nv = adm_model_n_vocab(m);
    script sc;
    uint64_t st = 7;
    const int lens[NSEQ] = {40, 23, 2, 31}, starts[NSEQ] = {0, 0, 3, 5};
    for (int i = 0; i < NSEQ; i++) {
        sc.len[i] = lens[i];
        sc.start[i] = starts[i];
        make_tokens(&st, sc.prompt[i], lens[i], nv);
        make_tokens(&st, sc.next[i], NSTEP, nv);
    }
    static const int kind_sets[3][NSEQ] = {{0, 1, 2, 3}, {1, 2, 3, 0}, {1, 1, 1, 1}};
    for (int set = 0; set < 3; set++) {
        const int *kinds = kind_sets[set];
        const size_t n = (size_t)NSEQ * (NSTEP + 1) * nv;
        float *alone = calloc(n, sizeof(float)), *mixed = calloc(n, sizeof(float));
        assert_non_null(alone);
        assert_non_null(mixed);
        run_script(m, &sc, false, llama_order, kinds, alone);
        run_script(m, &sc, true, llama_order, kinds, mixed);
        for (int i = 0; i < NSEQ; i++)
            for (int k = 0; k <= NSTEP; k++) {
                const float *a = alone + ((size_t)i * (NSTEP + 1) + k) * nv, *b = mixed + ((size_t)i * (NSTEP + 1) + k) * nv;
                if (memcmp(a, b, (size_t)nv * sizeof(float)) != 0)
                    fail_msg("%s: sequence %d (kind %d) differs at step %d", model, i, kinds[i], k);
            }
        free(alone);
        free(mixed);
    }
    adm_model_free(m);
}

static void test_mixed_batches_stories(void **state) {
    (void)state;
    check_mixed("models/stories260K.gguf", false);
}

static void test_mixed_batches_qwen2(void **state) {
    (void)state;
    check_mixed("peer/peer-qwen2-q8_0.gguf", false);
    check_mixed("peer/peer-qwen2-q8_0.gguf", true);
}

/* ---- slots and the scheduler ---- */

typedef struct req {
    const char *prompt;
    float temp;
    uint64_t seed;
    int kind;           /* seq_params kind */
    int lookup;
    int n_predict;
} req;

typedef struct result {
    char text[4096];
    int32_t ids[256];
    float lp[256];
    int n;
    adm_finish finish;
    int accepted;
} result;

static adm_gen_params gen_for(const req *r) {
    adm_gen_params g = adm_gen_default_params();
    g.sampling.temp = r->temp;
    g.sampling.seed = r->seed;
    g.n_predict = r->n_predict;
    g.lookup = r->lookup;
    g.n_probs = 3;
    return g;
}

static void collect(adm_slot *sl, result *res) {
    size_t n;
    const char *t = adm_slot_take_text(sl, &n);
    const size_t have = strlen(res->text);
    assert_true(have + n < sizeof(res->text));
    memcpy(res->text + have, t, n);
    res->text[have + n] = 0;
}

static void finish_result(adm_slot *sl, result *res) {
    collect(sl, res);
    res->n = adm_slot_n_tokens(sl);
    assert_true(res->n <= 256);
    for (int i = 0; i < res->n; i++) {
        const adm_gen_token *t = adm_slot_token(sl, i);
        res->ids[i] = t->id;
        res->lp[i] = t->logprob;
        assert_true(t->logprob <= 0.0f);
        assert_true(t->n_top == 3);
        assert_true(t->top[0].logprob >= t->top[1].logprob && t->top[1].logprob >= t->top[2].logprob);
    }
    res->finish = adm_slot_get_info(sl).finish;
    res->accepted = adm_slot_get_info(sl).n_accepted;
}

/* Runs requests r[0..n) on n slots of one scheduler; cancel_at >= 0 cancels
 * slot cancel_slot at that tick. */
static void run_sched(adm_model *m, const req *r, int n, result *res, int cancel_slot, int cancel_at) {
    const adm_vocab *v = adm_model_vocab(m);
    adm_error err;
    adm_engine_params ep = adm_engine_default_params();
    ep.n_batch = 128;
    ep.n_threads = 2;
    adm_engine *e;
    assert_int_equal(adm_engine_create(m, &ep, &e, &err), ADM_OK);
    adm_sched_params spar = adm_sched_default_params();
    spar.tick_tokens = 16;
    adm_sched *sc;
    assert_int_equal(adm_sched_create(e, &spar, &sc, &err), ADM_OK);
    adm_seq *s[8];
    adm_slot *sl[8];
    for (int i = 0; i < n; i++) {
        adm_seq_params sp = seq_params(r[i].kind);
        assert_int_equal(adm_seq_create(e, &sp, &s[i], &err), ADM_OK);
        assert_int_equal(adm_slot_create(s[i], NULL, &sl[i], &err), ADM_OK);
        assert_int_equal(adm_sched_add(sc, sl[i], &err), ADM_OK);
        int32_t toks[256];
        const int nt = (int)adm_tokenize(v, r[i].prompt, -1, toks, 256, ADM_TOKENIZE_ADD_SPECIAL);
        assert_true(nt > 0 && nt < 256);
        adm_gen_params g = gen_for(&r[i]);
        assert_int_equal(adm_slot_start(sl[i], toks, nt, &g, &err), ADM_OK);
        memset(&res[i], 0, sizeof(res[i]));
    }
    for (int tick = 0; adm_sched_busy(sc); tick++) {
        if (tick == cancel_at) adm_slot_cancel(sl[cancel_slot]);
        assert_int_equal(adm_sched_step(sc, &err), ADM_OK);
        for (int i = 0; i < n; i++) collect(sl[i], &res[i]);
        assert_true(tick < 2000);
    }
    for (int i = 0; i < n; i++) {
        finish_result(sl[i], &res[i]);
        adm_slot_free(sl[i]);
        adm_seq_free(s[i]);
    }
    adm_sched_free(sc);
    adm_engine_free(e);
}

static const req REQS[4] = {
    {"Once upon a time, there was a little girl named Lily. She loved to play outside", 0.0f, 1, 0, 0, 60},
    {"The cat sat on the mat. The dog", 0.8f, 42, 1, 0, 80},
    {"Tom and", 1.0f, 7, 2, 0, 50},
    {"One day, a big bird flew over the house and saw a small boy who was sad because his toy was broken. The bird", 0.7f,
     99, 1, 0, 70},
};

static void expect_same(const result *a, const result *b, const char *what, int i) {
    if (strcmp(a->text, b->text) != 0 || a->n != b->n)
        fail_msg("%s: request %d: texts differ:\n[%s]\n[%s]", what, i, a->text, b->text);
    for (int k = 0; k < a->n; k++) {
        assert_int_equal(a->ids[k], b->ids[k]);
        if (memcmp(&a->lp[k], &b->lp[k], sizeof(float)) != 0)
            fail_msg("%s: request %d token %d: log-probability %.9g vs %.9g", what, i, k, (double)a->lp[k],
                     (double)b->lp[k]);
    }
    assert_int_equal(a->finish, b->finish);
}

/* Four requests (dense, adamas, q8_0 cache; greedy and seeded sampling)
 * stepped together give what each gives alone: same tokens, same
 * log-probabilities bit for bit. */
static void test_sched_independent(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    result together[4], alone[4];
    run_sched(m, REQS, 4, together, -1, -1);
    for (int i = 0; i < 4; i++) {
        run_sched(m, &REQS[i], 1, &alone[i], -1, -1);
        expect_same(&alone[i], &together[i], "together vs alone", i);
        assert_true(alone[i].n > 10);
    }
    adm_model_free(m);
}

/* Cancelling one slot mid-generation ends it with ADM_FINISH_CANCELLED and
 * leaves the others' outputs identical to an undisturbed run. */
static void test_sched_cancel(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    result base[4], cut[4];
    run_sched(m, REQS, 4, base, -1, -1);
    run_sched(m, REQS, 4, cut, 1, 12);
    for (int i = 0; i < 4; i++) {
        if (i == 1) {
            assert_int_equal(cut[i].finish, ADM_FINISH_CANCELLED);
            assert_true(cut[i].n < base[i].n);
            continue;
        }
        expect_same(&base[i], &cut[i], "undisturbed vs one cancelled", i);
    }
    adm_model_free(m);
}

/* Prompt-lookup speculation gives the text generation gives without it,
 * alone and with four slots (greedy, on text that repeats itself), and
 * its guesses are really taken. */
static void test_sched_speculation(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    req r[4];
    memcpy(r, REQS, sizeof(r));
    /* Dense attention: with Adamas a verifying batch attends densely where
     * a single decode step would attend sparsely (README). */
    for (int i = 0; i < 4; i++) r[i].temp = 0.0f, r[i].kind = i == 2 ? 2 : 0, r[i].n_predict = 120;
    result plain[4], spec[4];
    run_sched(m, r, 4, plain, -1, -1);
    for (int i = 0; i < 4; i++) r[i].lookup = 8;
    run_sched(m, r, 4, spec, -1, -1);
    int accepted = 0;
    for (int i = 0; i < 4; i++) accepted += spec[i].accepted;
    assert_true(accepted > 20);
    for (int i = 0; i < 4; i++)
        if (strcmp(plain[i].text, spec[i].text) != 0)
            fail_msg("request %d: speculation changed the text:\n[%s]\n[%s]", i, plain[i].text, spec[i].text);
    result one;
    run_sched(m, &r[0], 1, &one, -1, -1);
    assert_string_equal(one.text, plain[0].text);
    adm_model_free(m);
}

/* Stop strings end the text before them; n_predict limits the tokens. */
static void test_slot_stop_and_limit(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    req r = REQS[0];
    result full;
    run_sched(m, &r, 1, &full, -1, -1);
    const char *lily = strstr(full.text, "Lily");
    assert_non_null(lily);
    /* The same request with "Lily" as a stop string. */
    const adm_vocab *v = adm_model_vocab(m);
    adm_error err;
    adm_engine *e;
    adm_engine_params ep = adm_engine_default_params();
    ep.n_threads = 2;
    assert_int_equal(adm_engine_create(m, &ep, &e, &err), ADM_OK);
    adm_seq_params sp = seq_params(0);
    adm_seq *s;
    adm_slot *sl;
    adm_sched *sc;
    assert_int_equal(adm_seq_create(e, &sp, &s, &err), ADM_OK);
    assert_int_equal(adm_slot_create(s, NULL, &sl, &err), ADM_OK);
    assert_int_equal(adm_sched_create(e, NULL, &sc, &err), ADM_OK);
    assert_int_equal(adm_sched_add(sc, sl, &err), ADM_OK);
    int32_t toks[256];
    const int nt = (int)adm_tokenize(v, r.prompt, -1, toks, 256, ADM_TOKENIZE_ADD_SPECIAL);
    adm_gen_params g = gen_for(&r);
    g.stops[0] = "Lily";
    g.n_stops = 1;
    assert_int_equal(adm_slot_start(sl, toks, nt, &g, &err), ADM_OK);
    char text[4096] = "";
    while (adm_sched_busy(sc)) {
        assert_int_equal(adm_sched_step(sc, &err), ADM_OK);
        size_t n;
        const char *t = adm_slot_take_text(sl, &n);
        strncat(text, t, n);
    }
    assert_int_equal(adm_slot_get_info(sl).finish, ADM_FINISH_STOP);
    assert_int_equal(strlen(text), (size_t)(lily - full.text));
    assert_memory_equal(text, full.text, strlen(text));
    /* Limit: 5 tokens. The second request reuses the prompt's cache. */
    adm_slot_release(sl);
    g.n_stops = 0;
    g.n_predict = 5;
    assert_int_equal(adm_slot_start(sl, toks, nt, &g, &err), ADM_OK);
    assert_int_equal(adm_slot_get_info(sl).n_cached, nt - 1);
    while (adm_sched_busy(sc)) assert_int_equal(adm_sched_step(sc, &err), ADM_OK);
    adm_slot_info info = adm_slot_get_info(sl);
    assert_int_equal(info.finish, ADM_FINISH_LENGTH);
    assert_int_equal(info.n_gen, 5);
    /* pick: the slot holding the prompt is chosen for a prompt sharing it. */
    assert_ptr_equal(adm_sched_pick(sc, toks, nt), sl);
    adm_sched_free(sc);
    adm_slot_free(sl);
    adm_seq_free(s);
    adm_engine_free(e);
    adm_model_free(m);
}

/* The memory budget: a sequence that cannot fit at all is refused at
 * creation; a batch that would exceed it is refused whole, changing nothing. */
static void test_mem_budget(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    adm_error err;
    const uint64_t per_tok = adm_model_kv_bytes_per_token(m, ADM_TYPE_F16, ADM_TYPE_F16);
    adm_engine_params ep = adm_engine_default_params();
    ep.n_threads = 1;
    ep.mem_budget = per_tok * 100;
    adm_engine *e;
    assert_int_equal(adm_engine_create(m, &ep, &e, &err), ADM_OK);
    adm_seq_params sp = adm_seq_default_params();
    sp.n_ctx = 200;
    adm_seq *big;
    assert_int_equal(adm_seq_create(e, &sp, &big, &err), ADM_ERR_MEM_BUDGET);
    assert_non_null(strstr(err.msg, "budget"));
    sp.n_ctx = 80;
    adm_seq *a, *b;
    assert_int_equal(adm_seq_create(e, &sp, &a, &err), ADM_OK);
    assert_int_equal(adm_seq_create(e, &sp, &b, &err), ADM_OK);
    adm_batch_row rows[80];
    for (int i = 0; i < 60; i++) rows[i] = (adm_batch_row){a, 5 + i, false};
    assert_int_equal(adm_engine_decode(e, rows, 60, NULL, &err), ADM_OK);
    assert_int_equal(adm_engine_mem_used(e), per_tok * 60);
    for (int i = 0; i < 60; i++) rows[i] = (adm_batch_row){b, 5 + i, false};
    assert_int_equal(adm_engine_decode(e, rows, 60, NULL, &err), ADM_ERR_MEM_BUDGET);
    assert_int_equal(adm_seq_n_past(b), 0);
    assert_int_equal(adm_seq_n_past(a), 60);
    /* Clearing a gives its memory back. */
    adm_seq_clear(a);
    assert_int_equal(adm_engine_mem_used(e), 0);
    assert_int_equal(adm_engine_decode(e, rows, 60, NULL, &err), ADM_OK);
    adm_seq_free(a);
    adm_seq_free(b);
    assert_int_equal(adm_engine_mem_used(e), 0);
    adm_engine_free(e);
    adm_model_free(m);
}

/* Refused batches change nothing. */
static void test_decode_validation(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    adm_error err;
    adm_engine *e;
    adm_engine_params ep = adm_engine_default_params();
    ep.n_threads = 1;
    assert_int_equal(adm_engine_create(m, &ep, &e, &err), ADM_OK);
    adm_seq_params sp = adm_seq_default_params();
    sp.n_ctx = 8;
    adm_seq *a, *b;
    assert_int_equal(adm_seq_create(e, &sp, &a, &err), ADM_OK);
    assert_int_equal(adm_seq_create(e, &sp, &b, &err), ADM_OK);
    adm_batch_row rows[4] = {{a, 1, false}, {b, 2, false}, {a, 3, false}, {b, 4, false}};
    assert_int_equal(adm_engine_decode(e, rows, 4, NULL, &err), ADM_ERR_INVALID_ARG);
    assert_non_null(strstr(err.msg, "consecutive"));
    rows[1] = (adm_batch_row){a, 100000, false};
    assert_int_equal(adm_engine_decode(e, rows, 2, NULL, &err), ADM_ERR_INVALID_ARG);
    adm_batch_row many[9];
    for (int i = 0; i < 9; i++) many[i] = (adm_batch_row){a, 5, false};
    assert_int_equal(adm_engine_decode(e, many, 9, NULL, &err), ADM_ERR_CONTEXT_FULL);
    many[0].logits = true;
    assert_int_equal(adm_engine_decode(e, many, 1, NULL, &err), ADM_ERR_INVALID_ARG);
    assert_int_equal(adm_seq_n_past(a), 0);
    assert_int_equal(adm_seq_n_past(b), 0);
    adm_seq_free(a);
    adm_seq_free(b);
    adm_engine_free(e);
    adm_model_free(m);
}

/* A copied prefix continues exactly as the original does (dense and
 * Adamas: the code index and calibration come along). */
static void test_copy_prefix(void **state) {
    (void)state;
    adm_model *m = load("models/stories260K.gguf");
    const int nv = adm_model_n_vocab(m);
    adm_error err;
    adm_engine *e;
    adm_engine_params ep = adm_engine_default_params();
    ep.n_threads = 2;
    assert_int_equal(adm_engine_create(m, &ep, &e, &err), ADM_OK);
    uint64_t st = 3;
    int32_t toks[120];
    make_tokens(&st, toks, 120, nv);
    float *la = malloc((size_t)nv * sizeof(float)), *lb = malloc((size_t)nv * sizeof(float));
    for (int kind = 0; kind < 2; kind++) {
        adm_seq_params sp = seq_params(kind);
        adm_seq *a, *b;
        assert_int_equal(adm_seq_create(e, &sp, &a, &err), ADM_OK);
        assert_int_equal(adm_seq_create(e, &sp, &b, &err), ADM_OK);
        adm_batch_row rows[100];
        for (int i = 0; i < 100; i++) rows[i] = (adm_batch_row){a, toks[i], false};
        assert_int_equal(adm_engine_decode(e, rows, 100, NULL, &err), ADM_OK);
        assert_int_equal(adm_seq_copy_prefix(b, a, 100, &err), ADM_OK);
        assert_memory_equal(adm_seq_tokens(b), toks, 100 * sizeof(int32_t));
        for (int i = 100; i < 120; i++) {
            adm_batch_row ra = {a, toks[i], true}, rb = {b, toks[i], true};
            assert_int_equal(adm_engine_decode(e, &ra, 1, la, &err), ADM_OK);
            assert_int_equal(adm_engine_decode(e, &rb, 1, lb, &err), ADM_OK);
            assert_memory_equal(la, lb, (size_t)nv * sizeof(float));
        }
        /* Truncate then continue: the same as never having gone further
         * (dense: the truncated rows are simply overwritten). */
        if (kind == 0) {
            adm_seq_truncate(a, 100);
            adm_batch_row ra = {a, toks[100], true};
            assert_int_equal(adm_engine_decode(e, &ra, 1, la, &err), ADM_OK);
            adm_seq_truncate(b, 101);
            adm_seq_truncate(b, 100);
            adm_batch_row rb = {b, toks[100], true};
            assert_int_equal(adm_engine_decode(e, &rb, 1, lb, &err), ADM_OK);
            assert_memory_equal(la, lb, (size_t)nv * sizeof(float));
        }
        adm_seq_free(a);
        adm_seq_free(b);
    }
    /* Copying a dense sequence into a sparse one is refused (no codes). */
    adm_seq_params dp = seq_params(0), ap = seq_params(1);
    adm_seq *d, *s;
    assert_int_equal(adm_seq_create(e, &dp, &d, &err), ADM_OK);
    assert_int_equal(adm_seq_create(e, &ap, &s, &err), ADM_OK);
    adm_batch_row r = {d, 5, false};
    assert_int_equal(adm_engine_decode(e, &r, 1, NULL, &err), ADM_OK);
    assert_int_equal(adm_seq_copy_prefix(s, d, 1, &err), ADM_ERR_INVALID_ARG);
    adm_seq_free(d);
    adm_seq_free(s);
    free(la);
    free(lb);
    adm_engine_free(e);
    adm_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_validation),  cmocka_unit_test(test_mem_budget),
        cmocka_unit_test(test_copy_prefix),        cmocka_unit_test(test_mixed_batches_stories),
        cmocka_unit_test(test_mixed_batches_qwen2), cmocka_unit_test(test_sched_independent),
        cmocka_unit_test(test_sched_cancel),       cmocka_unit_test(test_sched_speculation),
        cmocka_unit_test(test_slot_stop_and_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
