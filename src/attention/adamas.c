/*
 * adamas.c - see adamas.h. A sparse decode step of one layer runs in two
 * parallel phases:
 *   1. score: for each (KV head, range of 1024 tokens), read the key codes
 *      once and compute the exact L1 distance to the codes of every query
 *      head of the GQA group (one lookup table per query head);
 *   2. attend: for each query head, pick the budget closest tokens with a
 *      counting select over the small integer distances, then run exact
 *      softmax attention of the original query over those K/V rows.
 */
#include "adamas.h"

#include <math.h>
#include <stdlib.h>

#define SCAN_CHUNK 1024        /* tokens per phase-1 work item (multiple of ADM_CODE_BLOCK) */
#define CALIB_FIRST 64         /* first recalibration point (then doubling) */
#define CALIB_LAST 8192        /* thresholds freeze after this many tokens */
#define PAPER_THRESHOLD 10.0f  /* the reference code's fixed -10/0/+10 */
#define LLOYD_MAX_4 0.9816f    /* outer thresholds of a 4-level Gaussian quantizer, in std units */

struct adm_adamas {
    adm_adamas_params p;
    int n_layer, n_sparse, n_head, n_head_kv, group, head_dim, code_dim, n_ctx;
    size_t head_bytes;          /* code bytes per (layer, kv head): n_blocks * code_dim * 8 */
    uint8_t *codes;             /* (n_sparse, n_head_kv, head_bytes), adm_map_zeroed: pages appear as used */
    size_t codes_size;
    int n_coded;                /* tokens coded so far */

    /* Thresholds, (n_sparse, n_head_kv, code_dim, 3) for keys and
     * (n_sparse, n_head, code_dim, 3) for queries. */
    float *k_th, *q_th;
    double *k_sum, *k_sum2;     /* (n_sparse, n_head_kv, code_dim) */
    double *q_sum2;             /* (n_sparse, n_head, code_dim) */
    int64_t k_count, q_count;   /* per layer counts are equal: every layer sees every token */
    int64_t *q_count_layer;     /* (n_sparse) queries seen per layer */
    int64_t *k_count_layer;
    int next_calib;
    bool q_pending;             /* query statistics are missing (a code index rebuilt from KV rows,
                                   adm_adamas_rebuild): gather them from the next queries whatever
                                   their position, until CALIB_FIRST per layer */

    /* Per-step scratch. */
    uint16_t *dist;             /* (n_head, n_ctx) */
    uint8_t *lut;               /* (n_head, code_dim/2, 16) */
    uint8_t *glut;              /* (n_head_kv, code_dim/2, 16): summed over a group (group_select) */
    uint8_t lut_rows[16][16];   /* [c0 + 4 c1][v] = |c0 - (v & 3)| + |c1 - (v >> 2)|: the table rows */
    int32_t *sel;               /* (n_head, budget) */
    int *n_sel;                 /* (n_head) */
    uint8_t *scratch;           /* per thread: transform buffer, histogram, scores */
    size_t scratch_per_thread;

    float *stat_scores;         /* (n_ctx) dense scores, collect_stats only */
    float *stat_tmp;            /* (head_dim) */
    double *mass_sum;           /* (n_layer) */
    int64_t *mass_n;
};

static void reset_thresholds(adm_adamas *a);
static uint8_t *head_codes(const adm_adamas *a, int sl, int g);

static int next_pow2(int x) {
    int p = 1;
    while (p < x) p *= 2;
    return p;
}


adm_status adm_adamas_create(const adm_adamas_params *p, const adm_kv_cache *kv, int n_head, int n_threads,
                             adm_adamas **out, adm_error *err) {
    *out = NULL;
    if (p->budget < 2) return adm_fail(err, ADM_ERR_INVALID_ARG, "the attention budget must be at least 2");
    if (p->sink + p->window + 1 > p->budget)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "sink (%d) + window (%d) + the current token exceed the budget %d",
                        p->sink, p->window, p->budget);
    if (p->group_select && n_head / kv->n_head_kv > 42)
        return adm_fail(err, ADM_ERR_UNSUPPORTED, "group selection supports up to 42 query heads per KV head (the "
                        "summed 8-bit distance tables overflow); this model has %d", n_head / kv->n_head_kv);
    adm_adamas *a = adm_calloc(1, sizeof(*a));
    if (!a) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    a->p = *p;
    a->n_layer = kv->n_layer;
    a->n_sparse = ADM_MAX(0, kv->n_layer - p->dense_layers);
    a->n_head = n_head;
    a->n_head_kv = kv->n_head_kv;
    a->group = n_head / kv->n_head_kv;
    a->head_dim = kv->head_dim_k;
    a->code_dim = ADM_MAX(next_pow2(kv->head_dim_k), 4);
    a->n_ctx = kv->n_ctx;
    a->next_calib = CALIB_FIRST;
    for (int c = 0; c < 16; c++)
        for (int v = 0; v < 16; v++) a->lut_rows[c][v] = (uint8_t)(abs((c & 3) - (v & 3)) + abs((c >> 2) - (v >> 2)));
    const size_t n_blocks = ((size_t)kv->n_ctx + ADM_CODE_BLOCK - 1) / ADM_CODE_BLOCK;
    a->head_bytes = n_blocks * (size_t)a->code_dim * (ADM_CODE_BLOCK / 4);
    const size_t ns = (size_t)a->n_sparse, cd = (size_t)a->code_dim;
    bool ok = true;
    if (p->mode == ADM_ATTN_ADAMAS && ns > 0) {
        a->codes_size = ns * (size_t)a->n_head_kv * a->head_bytes;
        a->codes = adm_map_zeroed(a->codes_size);
        a->k_th = adm_calloc(ns * (size_t)a->n_head_kv * cd * 3, sizeof(float));
        a->q_th = adm_calloc(ns * (size_t)n_head * cd * 3, sizeof(float));
        a->k_sum = adm_calloc(ns * (size_t)a->n_head_kv * cd, sizeof(double));
        a->k_sum2 = adm_calloc(ns * (size_t)a->n_head_kv * cd, sizeof(double));
        a->q_sum2 = adm_calloc(ns * (size_t)n_head * cd, sizeof(double));
        a->q_count_layer = adm_calloc(ns, sizeof(int64_t));
        a->k_count_layer = adm_calloc(ns, sizeof(int64_t));
        a->lut = adm_alloc((size_t)n_head * cd / 2 * 16);
        a->glut = adm_alloc((size_t)a->n_head_kv * cd / 2 * 16);
        a->dist = adm_alloc((size_t)n_head * (size_t)a->n_ctx * sizeof(uint16_t));
        ok = a->glut && a->codes && a->k_th && a->q_th && a->k_sum && a->k_sum2 && a->q_sum2 && a->q_count_layer &&
             a->k_count_layer && a->lut && a->dist;
        if (ok) reset_thresholds(a); /* until statistics exist, calibrated thresholds equal the paper's */
    }
    a->sel = adm_alloc((size_t)n_head * (size_t)p->budget * sizeof(int32_t));
    a->n_sel = adm_alloc((size_t)n_head * sizeof(int));
    a->mass_sum = adm_calloc((size_t)a->n_layer, sizeof(double));
    a->mass_n = adm_calloc((size_t)a->n_layer, sizeof(int64_t));
    /* Per thread: a transform buffer, a histogram over [0, 3 * code_dim],
     * scores for the selected keys (or all keys, for statistics), a value row. */
    /* Distances go up to 3 * code_dim per query head, times the group size
     * when a group's distances are summed. */
    const size_t max_d = 3 * cd * (size_t)(p->group_select ? a->group : 1);
    size_t hist = (max_d + 1) * sizeof(uint32_t);
    size_t scores = (size_t)p->budget * (size_t)(p->group_select ? a->group : 1) * sizeof(float);
    const size_t qconv = adm_row_size(ADM_TYPE_Q8_0, ADM_MAX(kv->head_dim_k / QK8_0, 1) * QK8_0);
    a->scratch_per_thread =
        (cd * sizeof(float) + hist + scores + (size_t)kv->head_dim_v * sizeof(float) + qconv + 4 * 64 + 63) / 64 * 64;
    a->scratch = adm_alloc(a->scratch_per_thread * (size_t)n_threads);
    if (p->collect_stats) {
        a->stat_scores = adm_alloc((size_t)a->n_ctx * sizeof(float));
        a->stat_tmp = adm_alloc((size_t)a->head_dim * sizeof(float));
        ok = ok && a->stat_scores && a->stat_tmp;
    }
    ok = ok && a->sel && a->n_sel && a->mass_sum && a->mass_n && a->scratch;
    if (!ok) {
        adm_adamas_free(a);
        return adm_fail(err, ADM_ERR_NOMEM, "cannot allocate the Adamas code index for %d tokens", kv->n_ctx);
    }
    *out = a;
    return ADM_OK;
}

void adm_adamas_free(adm_adamas *a) {
    if (!a) return;
    adm_unmap(a->codes, a->codes_size);
    adm_free(a->k_th);
    adm_free(a->q_th);
    adm_free(a->k_sum);
    adm_free(a->k_sum2);
    adm_free(a->q_sum2);
    adm_free(a->q_count_layer);
    adm_free(a->k_count_layer);
    adm_free(a->lut);
    adm_free(a->glut);
    adm_free(a->dist);
    adm_free(a->sel);
    adm_free(a->n_sel);
    adm_free(a->stat_scores);
    adm_free(a->stat_tmp);
    adm_free(a->mass_sum);
    adm_free(a->mass_n);
    adm_free(a->scratch);
    adm_free(a);
}

uint64_t adm_adamas_code_bytes(const adm_adamas *a) {
    /* What the context holds for its tokens: code_dim/4 bytes per token,
     * per KV head, per sparse layer (the mapping grows as pages are touched). */
    if (!a->codes) return 0;
    return (uint64_t)a->n_sparse * (uint64_t)a->n_head_kv * (uint64_t)a->n_ctx * (uint64_t)a->code_dim / 4;
}

bool adm_adamas_applies(const adm_adamas *a, int layer, int n_tok, int n_kv) {
    return n_tok == 1 && layer >= a->p.dense_layers && n_kv > a->p.budget;
}

static uint8_t *head_codes(const adm_adamas *a, int sl, int g) {
    return a->codes + ((size_t)sl * (size_t)a->n_head_kv + (size_t)g) * a->head_bytes;
}

/* Writes one token's codes into the block layout. */
static void store_codes(uint8_t *hc, int code_dim, int pos, const uint8_t *c) {
    uint8_t *blk = hc + (size_t)(pos / ADM_CODE_BLOCK) * (size_t)code_dim * (ADM_CODE_BLOCK / 4);
    const int r = pos % ADM_CODE_BLOCK, shift = r < 16 ? 0 : 4;
    for (int j = 0; j < code_dim / 2; j++) {
        uint8_t *b = &blk[16 * j + (r & 15)];
        const uint8_t nib = (uint8_t)(c[2 * j] | (c[2 * j + 1] << 2));
        *b = (uint8_t)((*b & (0xF0 >> shift)) | (nib << shift));
    }
}

/* A key row from the cache, zero-padded to code_dim and transformed. */
static void load_key(const adm_adamas *a, const adm_kernels *k, const adm_kv_cache *kv, int layer, int g, int pos,
                     float *x) {
    k->to_float[kv->type_k](adm_kv_k(kv, layer, g, pos), x, a->head_dim);
    for (int i = a->head_dim; i < a->code_dim; i++) x[i] = 0.0f;
    k->fwht(x, a->code_dim);
}

static void code_key(adm_adamas *a, const adm_kernels *k, const adm_kv_cache *kv, int layer, int g, int pos,
                     float *x, uint8_t *c) {
    const int sl = layer - a->p.dense_layers;
    load_key(a, k, kv, layer, g, pos, x);
    k->bucketize(x, a->k_th + ((size_t)sl * a->n_head_kv + (size_t)g) * (size_t)a->code_dim * 3, c, a->code_dim);
    store_codes(head_codes(a, sl, g), a->code_dim, pos, c);
}

typedef struct append_job {
    adm_adamas *a;
    const adm_kernels *k;
    const adm_kv_cache *kv;
    int layer, pos0, n_tok;
    const float *q;
} append_job;

/* Threads split the KV heads (keys) and query heads (statistics). */
static void append_items(void *arg, int ith, int nth) {
    append_job *j = arg;
    adm_adamas *a = j->a;
    const int sl = j->layer - a->p.dense_layers, cd = a->code_dim;
    float *x = (float *)(a->scratch + (size_t)ith * a->scratch_per_thread);
    uint8_t c[4096];
    int64_t lo, hi;
    adm_split_range((int64_t)a->n_head_kv + a->n_head, ith, nth, &lo, &hi);
    const bool calibrating = a->p.thresholds == ADM_THRESHOLDS_CALIBRATED && j->pos0 < CALIB_LAST;
    for (int64_t item = lo; item < hi; item++) {
        if (item < a->n_head_kv) {
            const int g = (int)item;
            double *s1 = a->k_sum + ((size_t)sl * a->n_head_kv + (size_t)g) * (size_t)cd;
            double *s2 = a->k_sum2 + ((size_t)sl * a->n_head_kv + (size_t)g) * (size_t)cd;
            for (int t = 0; t < j->n_tok; t++) {
                code_key(a, j->k, j->kv, j->layer, g, j->pos0 + t, x, c);
                if (calibrating && j->pos0 + t < CALIB_LAST)
                    for (int i = 0; i < cd; i++) {
                        s1[i] += (double)x[i];
                        s2[i] += (double)x[i] * (double)x[i];
                    }
            }
        } else if ((calibrating || a->q_pending) && j->q) {
            const int h = (int)item - a->n_head_kv;
            double *s2 = a->q_sum2 + ((size_t)sl * a->n_head + (size_t)h) * (size_t)cd;
            for (int t = 0; t < j->n_tok && (a->q_pending || j->pos0 + t < CALIB_LAST); t++) {
                const float *q = j->q + ((size_t)t * a->n_head + (size_t)h) * a->head_dim;
                memcpy(x, q, (size_t)a->head_dim * sizeof(float));
                for (int i = a->head_dim; i < cd; i++) x[i] = 0.0f;
                j->k->fwht(x, cd);
                for (int i = 0; i < cd; i++) s2[i] += (double)x[i] * (double)x[i];
            }
        }
    }
}

void adm_adamas_append(adm_adamas *a, adm_pool *pool, const adm_kernels *k, const adm_kv_cache *kv, int layer,
                       int pos0, int n_tok, const float *q) {
    if (a->p.mode != ADM_ATTN_ADAMAS || layer < a->p.dense_layers) return;
    append_job j = {a, k, kv, layer, pos0, n_tok, q};
    if (n_tok > 1) adm_pool_run(pool, append_items, &j);
    else append_items(&j, 0, 1);
    const int sl = layer - a->p.dense_layers;
    const int counted = ADM_MAX(0, ADM_MIN(pos0 + n_tok, CALIB_LAST) - pos0);
    a->k_count_layer[sl] += counted;
    a->q_count_layer[sl] += a->q_pending ? n_tok : counted;
    if (sl == a->n_sparse - 1) a->n_coded = pos0 + n_tok;
}

/* Key thresholds from the statistics gathered so far. */
static void calibrate_keys(adm_adamas *a) {
    const int cd = a->code_dim;
    for (int sl = 0; sl < a->n_sparse; sl++) {
        const double nk = (double)ADM_MAX(a->k_count_layer[sl], 1);
        for (int g = 0; g < a->n_head_kv; g++) {
            const size_t base = ((size_t)sl * a->n_head_kv + (size_t)g) * (size_t)cd;
            for (int i = 0; i < cd; i++) {
                const double mean = a->k_sum[base + i] / nk;
                const double var = ADM_MAX(a->k_sum2[base + i] / nk - mean * mean, 0.0);
                const float t = LLOYD_MAX_4 * (float)sqrt(var);
                float *th = a->k_th + 3 * (base + (size_t)i);
                th[0] = (float)mean - t;
                th[1] = (float)mean;
                th[2] = (float)mean + t;
            }
        }
    }
}

/* Query thresholds from the statistics gathered so far. */
static void calibrate_queries(adm_adamas *a) {
    const int cd = a->code_dim;
    for (int sl = 0; sl < a->n_sparse; sl++) {
        const double nq = (double)ADM_MAX(a->q_count_layer[sl], 1);
        for (int h = 0; h < a->n_head; h++) {
            const size_t base = ((size_t)sl * a->n_head + (size_t)h) * (size_t)cd;
            for (int i = 0; i < cd; i++) {
                const float t = LLOYD_MAX_4 * (float)sqrt(a->q_sum2[base + i] / nq);
                float *th = a->q_th + 3 * (base + (size_t)i);
                th[0] = -t;
                th[1] = 0.0f;
                th[2] = t;
            }
        }
    }
}

static void calibrate(adm_adamas *a) {
    calibrate_keys(a);
    calibrate_queries(a);
}

typedef struct recode_job {
    adm_adamas *a;
    const adm_kernels *k;
    const adm_kv_cache *kv;
    int n;
} recode_job;

static void recode_items(void *arg, int ith, int nth) {
    recode_job *j = arg;
    adm_adamas *a = j->a;
    float *x = (float *)(a->scratch + (size_t)ith * a->scratch_per_thread);
    uint8_t c[4096];
    int64_t lo, hi;
    adm_split_range((int64_t)a->n_sparse * a->n_head_kv, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int sl = (int)(item / a->n_head_kv), g = (int)(item % a->n_head_kv);
        /* A sliding-window ring no longer holds the old keys; those layers
         * always attend densely, so their codes are never read. */
        if (adm_kv_is_ring(j->kv, sl + a->p.dense_layers)) continue;
        for (int pos = 0; pos < j->n; pos++) code_key(a, j->k, j->kv, sl + a->p.dense_layers, g, pos, x, c);
    }
}

void adm_adamas_after_batch(adm_adamas *a, adm_pool *pool, const adm_kernels *k, const adm_kv_cache *kv, int n_past) {
    if (a->p.mode != ADM_ATTN_ADAMAS || a->p.thresholds != ADM_THRESHOLDS_CALIBRATED || a->n_sparse == 0) return;
    if (a->q_pending) {
        /* Query codes are made per step: new thresholds need no recoding. */
        calibrate_queries(a);
        bool enough = true;
        for (int sl = 0; sl < a->n_sparse; sl++) enough = enough && a->q_count_layer[sl] >= CALIB_FIRST;
        a->q_pending = !enough;
    }
    if (n_past < a->next_calib || a->next_calib > CALIB_LAST) return;
    while (a->next_calib <= n_past && a->next_calib <= CALIB_LAST) a->next_calib *= 2;
    calibrate(a);
    recode_job j = {a, k, kv, n_past};
    adm_pool_run(pool, recode_items, &j);
}

uint64_t adm_adamas_token_bytes(const adm_adamas *a) {
    if (!a->codes) return 0;
    return (uint64_t)a->n_sparse * (uint64_t)a->n_head_kv * (uint64_t)a->code_dim / 4;
}

/* Thresholds as a new index has them: the paper's until statistics exist. */
static void reset_thresholds(adm_adamas *a) {
    const size_t ns = (size_t)a->n_sparse, cd = (size_t)a->code_dim;
    memset(a->k_th, 0, ns * (size_t)a->n_head_kv * cd * 3 * sizeof(float));
    memset(a->q_th, 0, ns * (size_t)a->n_head * cd * 3 * sizeof(float));
    for (size_t i = 0; i < ns * (size_t)a->n_head_kv * cd; i++) {
        a->k_th[3 * i] = -PAPER_THRESHOLD;
        a->k_th[3 * i + 2] = PAPER_THRESHOLD;
    }
    for (size_t i = 0; i < ns * (size_t)a->n_head * cd; i++) {
        a->q_th[3 * i] = -PAPER_THRESHOLD;
        a->q_th[3 * i + 2] = PAPER_THRESHOLD;
    }
}

void adm_adamas_reset(adm_adamas *a) {
    a->n_coded = 0;
    a->next_calib = CALIB_FIRST;
    a->q_pending = false;
    if (!a->codes) return;
    const size_t ns = (size_t)a->n_sparse, cd = (size_t)a->code_dim;
    adm_map_discard(a->codes, a->codes_size);
    memset(a->k_sum, 0, ns * (size_t)a->n_head_kv * cd * sizeof(double));
    memset(a->k_sum2, 0, ns * (size_t)a->n_head_kv * cd * sizeof(double));
    memset(a->q_sum2, 0, ns * (size_t)a->n_head * cd * sizeof(double));
    memset(a->q_count_layer, 0, ns * sizeof(int64_t));
    memset(a->k_count_layer, 0, ns * sizeof(int64_t));
    reset_thresholds(a);
}

adm_status adm_adamas_copy_prefix(adm_adamas *dst, const adm_adamas *src, int n, adm_error *err) {
    if (dst->p.mode != src->p.mode || dst->p.thresholds != src->p.thresholds ||
        dst->p.dense_layers != src->p.dense_layers || dst->n_sparse != src->n_sparse ||
        dst->n_head_kv != src->n_head_kv || dst->n_head != src->n_head || dst->code_dim != src->code_dim)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "cannot copy between sequences of different sparse attention "
                        "settings (method, thresholds or dense layers differ)");
    if (n > dst->n_ctx || (src->codes && n > src->n_coded))
        return adm_fail(err, ADM_ERR_INVALID_ARG, "cannot copy %d coded tokens (the source has %d, the destination "
                        "holds %d)", n, src->n_coded, dst->n_ctx);
    dst->n_coded = n;
    dst->next_calib = src->next_calib;
    dst->q_pending = src->q_pending;
    if (!dst->codes) return ADM_OK;
    const size_t ns = (size_t)dst->n_sparse, cd = (size_t)dst->code_dim;
    const size_t blocks = ((size_t)n + ADM_CODE_BLOCK - 1) / ADM_CODE_BLOCK;
    for (int sl = 0; sl < dst->n_sparse; sl++)
        for (int g = 0; g < dst->n_head_kv; g++)
            memcpy(head_codes(dst, sl, g), head_codes(src, sl, g), blocks * cd * (ADM_CODE_BLOCK / 4));
    memcpy(dst->k_th, src->k_th, ns * (size_t)dst->n_head_kv * cd * 3 * sizeof(float));
    memcpy(dst->q_th, src->q_th, ns * (size_t)dst->n_head * cd * 3 * sizeof(float));
    memcpy(dst->k_sum, src->k_sum, ns * (size_t)dst->n_head_kv * cd * sizeof(double));
    memcpy(dst->k_sum2, src->k_sum2, ns * (size_t)dst->n_head_kv * cd * sizeof(double));
    memcpy(dst->q_sum2, src->q_sum2, ns * (size_t)dst->n_head * cd * sizeof(double));
    memcpy(dst->q_count_layer, src->q_count_layer, ns * sizeof(int64_t));
    memcpy(dst->k_count_layer, src->k_count_layer, ns * sizeof(int64_t));
    return ADM_OK;
}

void adm_adamas_truncate(adm_adamas *a, int n_keep) {
    /* Codes are overwritten when positions are reused; statistics keep
     * what they learned (they describe the model's key distribution). */
    if (a->n_coded > n_keep) a->n_coded = n_keep;
}

/* ---- a decode step ---- */

typedef struct step {
    adm_adamas *a;
    const adm_attn_args *args;
    int n;              /* tokens in the cache, the current one included */
    int sl;
} step;

/* Phase 1: distances of tokens [0, n-1) for every query head of a KV head,
 * items (KV head, chunk of SCAN_CHUNK tokens). */
static int64_t score_count(const step *s) {
    const int n_old = s->n - 1;
    return (int64_t)s->a->n_head_kv * ((n_old + SCAN_CHUNK - 1) / SCAN_CHUNK);
}

static void score_one(const step *s, int64_t item, int ith) {
    (void)ith;
    adm_adamas *a = s->a;
    const adm_kernels *k = s->args->k;
    const int n_old = s->n - 1, n_chunks = (n_old + SCAN_CHUNK - 1) / SCAN_CHUNK;
    const int g = (int)(item / n_chunks), ch = (int)(item % n_chunks);
    const int t0 = ch * SCAN_CHUNK, nt = ADM_MIN(SCAN_CHUNK, n_old - t0);
    const uint8_t *codes = head_codes(a, s->sl, g) + (size_t)(t0 / ADM_CODE_BLOCK) * (size_t)a->code_dim * (ADM_CODE_BLOCK / 4);
    const size_t lut_bytes = (size_t)a->code_dim * 8;
    const int h0 = g * a->group;
    if (a->p.group_select) {
        k->code_l1(codes, nt, a->code_dim, a->glut + (size_t)g * lut_bytes, a->dist + (size_t)h0 * (size_t)a->n_ctx + (size_t)t0);
        return;
    }
    if (k->code_l1_multi) {
        k->code_l1_multi(codes, nt, a->code_dim, a->lut + (size_t)h0 * lut_bytes, lut_bytes, a->group,
                         a->dist + (size_t)h0 * (size_t)a->n_ctx + (size_t)t0, (size_t)a->n_ctx);
        return;
    }
    for (int h = h0; h < h0 + a->group; h++)
        k->code_l1(codes, nt, a->code_dim, a->lut + (size_t)h * lut_bytes, a->dist + (size_t)h * (size_t)a->n_ctx + (size_t)t0);
}

/* The k smallest distances among tokens [lo, hi), ties to the newest, as
 * ascending positions appended to out. Counting select: distances are
 * small integers (at most 3 * code_dim), so one histogram pass finds the
 * cut-off and a second pass collects. */
int adm_select_smallest(const uint16_t *d, int lo, int hi, int k, int max_d, uint32_t *hist, int32_t *out) {
    if (k <= 0 || hi <= lo) return 0;
    if (k >= hi - lo) {
        for (int t = lo; t < hi; t++) *out++ = t;
        return hi - lo;
    }
    memset(hist, 0, (size_t)(max_d + 1) * sizeof(uint32_t));
    for (int t = lo; t < hi; t++) hist[d[t]]++;
    int cut = 0;
    uint32_t below = 0;
    while (below + hist[cut] < (uint32_t)k) below += hist[cut++];
    int ties = k - (int)below, n = k;
    /* Fill from the end so positions come out ascending. */
    for (int t = hi - 1; t >= lo; t--) {
        if (d[t] < cut || (d[t] == cut && ties > 0)) {
            if (d[t] == cut) ties--;
            out[--n] = t;
        }
    }
    return k;
}

#define SELECT_SAMPLE 1024   /* distances sampled to estimate the cut-off */
#define SELECT_CAND_MAX 4096 /* positions the pre-filter may keep (a 16 KiB stack buffer) */
#define SELECT_SUBHIST 1024  /* distances up to this use 4 u16 sample histograms (8 KiB of stack) */

/* filter_le_u16 of the scalar table (kernels.h). */
static int filter_le_plain(const uint16_t *d, int n, int cut, int32_t *out, int cap) {
    int m = 0;
    for (int t = 0; t < n; t++)
        if (d[t] <= cut) {
            if (m == cap) return -1;
            out[m++] = t;
        }
    return m;
}

/* hist[0..max_v] = how many of the m values v[i] (each <= max_v) take each
 * value. Small ranges count in four interleaved u16 histograms (m is at
 * most SELECT_CAND_MAX): concentrated values would otherwise make every
 * increment wait for the previous one's store. */
static void count_values(const uint16_t *v, int m, int max_v, uint32_t *hist) {
    if (max_v >= SELECT_SUBHIST) {
        memset(hist, 0, (size_t)(max_v + 1) * sizeof(uint32_t));
        for (int i = 0; i < m; i++) hist[v[i]]++;
        return;
    }
    uint16_t sub[4][SELECT_SUBHIST];
    for (int j = 0; j < 4; j++) memset(sub[j], 0, sizeof(uint16_t) * (size_t)(max_v + 1));
    int i = 0;
    for (; i + 4 <= m; i += 4) sub[0][v[i]]++, sub[1][v[i + 1]]++, sub[2][v[i + 2]]++, sub[3][v[i + 3]]++;
    for (; i < m; i++) sub[0][v[i]]++;
    for (int x = 0; x <= max_v; x++) hist[x] = (uint32_t)sub[0][x] + sub[1][x] + sub[2][x] + sub[3][x];
}

int adm_select_smallest_fast(const adm_kernels *kt, const uint16_t *d, int lo, int hi, int k, int max_d, uint32_t *hist,
                             int32_t *out) {
    const int n = hi - lo;
    if (k <= 0 || n <= 0) return 0;
    if (n < 1024 || n < 4 * k || 4 * k > SELECT_CAND_MAX) return adm_select_smallest(d, lo, hi, k, max_d, hist, out);
    /* Cut-off: the sample's value below which about 2k of the n positions
     * (plus a margin for the sampling error) should fall. The sample is
     * runs of 16 consecutive distances spread evenly over the range (one
     * cache line each instead of one per value). */
    const int ns = n / 4 < SELECT_SAMPLE ? n / 4 : SELECT_SAMPLE, runs = ns / 16, stride = n / runs;
    const uint32_t want = (uint32_t)((int64_t)2 * k * ns / n) + 8;
    uint16_t sample[SELECT_SAMPLE];
    for (int i = 0; i < runs; i++) memcpy(sample + 16 * i, d + lo + i * stride, 16 * sizeof(uint16_t));
    count_values(sample, 16 * runs, max_d, hist);
    int cut = 0;
    uint32_t cum = hist[0];
    while (cum < want && cut < max_d) cum += hist[++cut];
    int32_t cand[SELECT_CAND_MAX];
    const int m = kt->filter_le_u16 ? kt->filter_le_u16(d + lo, n, cut, cand, SELECT_CAND_MAX)
                                    : filter_le_plain(d + lo, n, cut, cand, SELECT_CAND_MAX);
    if (m < k) return adm_select_smallest(d, lo, hi, k, max_d, hist, out); /* too few, or too many (-1) */
    /* Every position with d <= cut is a candidate and the k selected ones
     * have d <= cut (at least k do), so the counting select over the
     * candidates picks exactly what the full one would. Their distances
     * are copied out first: the histogram's increments and the final pass
     * then read them in order instead of through a dependent load. */
    uint16_t cd[SELECT_CAND_MAX];
    for (int i = 0; i < m; i++) cd[i] = d[lo + cand[i]];
    count_values(cd, m, cut, hist);
    int c = 0;
    uint32_t below = 0;
    while (below + hist[c] < (uint32_t)k) below += hist[c++];
    /* Oldest first, branch-free (about half the candidates are taken, in
     * no predictable pattern): every distance below c, and of those equal
     * to c all but the oldest hist[c] - (k - below), so that ties go to
     * the newest. */
    int skip = (int)hist[c] - (k - (int)below), o = 0;
    int32_t pick[SELECT_CAND_MAX / 4 + 1]; /* k + 1 slots: the last write may follow the k-th pick */
    for (int i = 0; i < m; i++) {
        const int v = cd[i], eq = v == c;
        const int take = (v < c) | (eq & (skip <= 0));
        pick[o] = cand[i];
        o += take;
        skip -= eq;
    }
    for (int i = 0; i < k; i++) out[i] = lo + pick[i];
    return k;
}

/* Exact attention of query heads h0 .. h0+nq-1 (one KV head's) over the
 * same selected positions, with the same products and softmax as dense.c
 * (so a full selection is bit-identical). With an f16 cache one gather of
 * the rows serves all nq heads; scores holds nq * n_sel floats. */
static void attend_selected(const adm_attn_args *args, int h0, int nq, const int32_t *sel, int n_sel, float *scores,
                            float *vrow, uint8_t *qconv, float *out) {
    const adm_kv_cache *kv = args->kv;
    const adm_kernels *k = args->k;
    const int g = h0 / (args->n_head / kv->n_head_kv), hk = kv->head_dim_k, hv = kv->head_dim_v;
    memset(out, 0, (size_t)nq * (size_t)hv * sizeof(float));
    if (kv->type_k == ADM_TYPE_F16 && kv->type_v == ADM_TYPE_F16) {
        k->attn_qk_f16((const adm_f16 *)adm_kv_k(kv, args->layer, g, 0), (size_t)hk, sel, n_sel, hk,
                       args->q + (size_t)h0 * hk, nq, args->scale, scores, n_sel);
        for (int i = 0; i < nq; i++) k->softmax(scores + (size_t)i * n_sel, n_sel);
        k->attn_pv_f16((const adm_f16 *)adm_kv_v(kv, args->layer, g, 0), (size_t)hv, sel, n_sel, hv, scores, nq, n_sel,
                       out);
        return;
    }
    for (int h = h0; h < h0 + nq; h++) {
        const float *q = args->q + (size_t)h * hk;
        float *o = out + (size_t)(h - h0) * hv;
        adm_attn_prepare_query(k, kv->type_k, hk, q, qconv);
        for (int i = 0; i < n_sel; i++)
            scores[i] = adm_attn_score(k, kv->type_k, hk, adm_kv_k(kv, args->layer, g, sel[i]), q, qconv) * args->scale;
        k->softmax(scores, n_sel);
        for (int i = 0; i < n_sel; i++)
            adm_attn_accumulate(k, kv->type_v, hv, scores[i], adm_kv_v(kv, args->layer, g, sel[i]), vrow, o);
    }
}

/* Share of the dense softmax mass of query head h held by the selection. */
static double captured_mass(const adm_attn_args *args, int h, int n, const int32_t *sel, int n_sel, float *scores,
                            float *tmp) {
    const adm_kv_cache *kv = args->kv;
    const int g = h / (args->n_head / kv->n_head_kv), hk = kv->head_dim_k;
    const float *q = args->q + (size_t)h * hk;
    float max = -INFINITY;
    for (int j = 0; j < n; j++) {
        args->k->to_float[kv->type_k](adm_kv_k(kv, args->layer, g, j), tmp, hk);
        scores[j] = args->k->dot_f32(hk, tmp, q) * args->scale;
        max = scores[j] > max ? scores[j] : max;
    }
    double total = 0, kept = 0;
    for (int j = 0; j < n; j++) total += exp((double)(scores[j] - max));
    for (int i = 0; i < n_sel; i++) kept += exp((double)(scores[sel[i]] - max));
    return kept / total;
}

/* Requests the K and V rows of the selected positions (no-op where the
 * compiler has no prefetch builtin). */
static void prefetch_rows(const adm_kv_cache *kv, int layer, int g, const int32_t *sel, int m) {
#if defined(__GNUC__)
    for (int i = 0; i < m; i++) {
        const uint8_t *pk = adm_kv_k(kv, layer, g, sel[i]), *pv = adm_kv_v(kv, layer, g, sel[i]);
        for (size_t o = 0; o < kv->k_row; o += 64) __builtin_prefetch(pk + o, 0, 3);
        for (size_t o = 0; o < kv->v_row; o += 64) __builtin_prefetch(pv + o, 0, 3);
    }
#else
    (void)kv, (void)layer, (void)g, (void)sel, (void)m;
#endif
}

/* The positions a query head (or, with group_select, a KV head's group)
 * attends to, ascending: always the first `sink` tokens, the last `window`
 * ones and the current token; the rest of the budget goes to the closest
 * codes (Adamas) or to more recent tokens (window). */
static int select_positions(adm_adamas *a, const adm_kernels *k, const uint16_t *dist, int n, int max_d, uint32_t *hist,
                            int32_t *sel) {
    const int budget = a->p.budget, sink = ADM_MIN(a->p.sink, n - 1);
    int m = 0;
    for (int t = 0; t < sink; t++) sel[m++] = t;
    if (a->p.mode == ADM_ATTN_WINDOW) {
        for (int t = n - (budget - m); t < n; t++) sel[m++] = t;
        return m;
    }
    const int recent_lo = ADM_MAX(sink, n - 1 - a->p.window);
    const int want = budget - sink - (n - 1 - recent_lo) - 1;
    m += adm_select_smallest_fast(k, dist, sink, recent_lo, want, max_d, hist, sel + m);
    for (int t = recent_lo; t < n; t++) sel[m++] = t;
    return m;
}

/* Phase 2: selection and attention, items per query head or per KV head
 * group. */
static int attend_per_item(const adm_adamas *a) {
    return a->p.group_select && a->p.mode == ADM_ATTN_ADAMAS ? a->group : 1;
}

static int64_t attend_count(const step *s) { return s->a->n_head / attend_per_item(s->a); }

/* Thread ith's scratch of a: the selection's histogram, the scores, a
 * value row and a converted query. */
typedef struct attend_scratch {
    uint32_t *hist;
    float *scores, *vrow;
    uint8_t *qconv;
} attend_scratch;

static attend_scratch scratch_of(const adm_adamas *a, int hv, int ith) {
    const int per_item = attend_per_item(a), max_d = 3 * a->code_dim * per_item;
    uint8_t *scr = a->scratch + (size_t)ith * a->scratch_per_thread;
    attend_scratch r;
    r.hist = (uint32_t *)(scr + (size_t)a->code_dim * sizeof(float));
    r.scores = (float *)(r.hist + max_d + 1);
    r.vrow = r.scores + (size_t)a->p.budget * (size_t)per_item;
    r.qconv = (uint8_t *)(r.vrow + hv);
    return r;
}

/* The selection of one item, its rows requested at once. */
static void select_one(const step *s, int64_t item, int ith) {
    adm_adamas *a = s->a;
    const int per_item = attend_per_item(a), budget = a->p.budget, max_d = 3 * a->code_dim * per_item;
    const int h0 = (int)item * per_item, g = h0 / a->group;
    int32_t *sel = a->sel + (size_t)h0 * (size_t)budget;
    /* Grouped distances sit in the group's first row, h0 (score_one).
     * The window baseline computes none (a->dist is NULL: no offset). */
    const uint16_t *dist = a->dist ? a->dist + (size_t)h0 * (size_t)a->n_ctx : NULL;
    const int m = select_positions(a, s->args->k, dist, s->n, max_d, scratch_of(a, s->args->kv->head_dim_v, ith).hist, sel);
    prefetch_rows(s->args->kv, s->args->layer, g, sel, m);
    for (int i = 0; i < per_item; i++) {
        a->n_sel[h0 + i] = m;
        if (i) memcpy(a->sel + (size_t)(h0 + i) * (size_t)budget, sel, (size_t)m * sizeof(int32_t));
    }
}

static void attend_one(const step *s, int64_t item, int ith) {
    adm_adamas *a = s->a;
    const int per_item = attend_per_item(a), h0 = (int)item * per_item;
    const attend_scratch r = scratch_of(a, s->args->kv->head_dim_v, ith);
    attend_selected(s->args, h0, per_item, a->sel + (size_t)h0 * (size_t)a->p.budget, a->n_sel[h0], r.scores, r.vrow,
                    r.qconv, s->args->out + (size_t)h0 * s->args->kv->head_dim_v);
}

/* Query codes and lookup tables: one 16-entry table per nibble position,
 * T_j[v] = |cq_2j - (v & 3)| + |cq_2j+1 - (v >> 2)|. */
static void build_luts(adm_adamas *a, const adm_attn_args *args, int sl, int ith) {
    const adm_kernels *k = args->k;
    const int cd = a->code_dim;
    float *x = (float *)(a->scratch + (size_t)ith * a->scratch_per_thread);
    uint8_t c[4096];
    for (int h = 0; h < a->n_head; h++) {
        memcpy(x, args->q + (size_t)h * a->head_dim, (size_t)a->head_dim * sizeof(float));
        for (int i = a->head_dim; i < cd; i++) x[i] = 0.0f;
        k->fwht(x, cd);
        k->bucketize(x, a->q_th + ((size_t)sl * a->n_head + (size_t)h) * (size_t)cd * 3, c, cd);
        uint8_t *lut = a->lut + (size_t)h * (size_t)cd * 8;
        for (int j = 0; j < cd / 2; j++) memcpy(lut + 16 * j, a->lut_rows[c[2 * j] + 4 * c[2 * j + 1]], 16);
    }
    if (!a->p.group_select) return;
    /* GQA-shared scoring: a group's tables summed (entries <= 6 * group). */
    const size_t lut_bytes = (size_t)cd * 8;
    for (int g = 0; g < a->n_head_kv; g++) {
        uint8_t *gl = a->glut + (size_t)g * lut_bytes;
        memcpy(gl, a->lut + (size_t)g * a->group * lut_bytes, lut_bytes);
        for (int i = 1; i < a->group; i++) {
            const uint8_t *l = a->lut + ((size_t)g * a->group + (size_t)i) * lut_bytes;
            for (size_t b = 0; b < lut_bytes; b++) gl[b] = (uint8_t)(gl[b] + l[b]);
        }
    }
}

/* The sparse steps of several sequences as three parallel passes: the
 * query tables (one item per sequence), the code scan (items of every
 * sequence in one index space) and selection plus attention. Each thread
 * makes all the selections of its range before any product, so the rows
 * of one sequence's selection arrive while the next is being selected
 * (the rows are scattered over caches far larger than the CPU's: their
 * misses are better overlapped than met one product at a time). Every
 * item's result is the same whichever thread runs it and whatever shares
 * the pass. */
typedef struct multi_step {
    step *steps;
    int n;
} multi_step;

static void luts_items(void *arg, int ith, int nth) {
    multi_step *m = arg;
    for (int i = ith; i < m->n; i += nth)
        if (m->steps[i].a->p.mode == ADM_ATTN_ADAMAS) build_luts(m->steps[i].a, m->steps[i].args, m->steps[i].sl, ith);
}

typedef int64_t (*count_fn)(const step *s);
typedef void (*item_fn)(const step *s, int64_t item, int ith);

/* Runs fn on items lo .. hi-1 of the index space the sequences' items
 * form one after another. */
static void for_items(const multi_step *m, count_fn count, int64_t lo, int64_t hi, item_fn fn, int ith) {
    int64_t base = 0;
    for (int i = 0; i < m->n && base < hi; i++) {
        const int64_t c = count(&m->steps[i]);
        for (int64_t it = ADM_MAX(lo, base); it < ADM_MIN(hi, base + c); it++) fn(&m->steps[i], it - base, ith);
        base += c;
    }
}

static int64_t scan_count(const step *s) { return s->a->p.mode == ADM_ATTN_ADAMAS ? score_count(s) : 0; }

static int64_t total(const multi_step *m, count_fn count) {
    int64_t t = 0;
    for (int i = 0; i < m->n; i++) t += count(&m->steps[i]);
    return t;
}

static void score_items(void *arg, int ith, int nth) {
    multi_step *m = arg;
    int64_t lo, hi;
    adm_split_range(total(m, scan_count), ith, nth, &lo, &hi);
    for_items(m, scan_count, lo, hi, score_one, ith);
}

static void attend_items(void *arg, int ith, int nth) {
    multi_step *m = arg;
    int64_t lo, hi;
    adm_split_range(total(m, attend_count), ith, nth, &lo, &hi);
    for_items(m, attend_count, lo, hi, select_one, ith);
    for_items(m, attend_count, lo, hi, attend_one, ith);
}

static void collect_stats(adm_adamas *a, const adm_attn_args *args, int n) {
    /* Evaluation only: compare with the dense softmax on the caller's thread. */
    for (int h = 0; h < a->n_head; h++)
        a->mass_sum[args->layer] +=
            captured_mass(args, h, n, a->sel + (size_t)h * a->p.budget, a->n_sel[h], a->stat_scores, a->stat_tmp);
    a->mass_n[args->layer] += a->n_head;
}

/* Sequences per set of passes: a batch with more sparse segments makes
 * more sets (the step records live on the stack). */
#define MULTI_MAX 64

void adm_adamas_attend_multi(adm_adamas *const *as, adm_pool *pool, const adm_attn_args *segs, int n_segs) {
    for (int i0 = 0; i0 < n_segs; i0 += MULTI_MAX) {
        step steps[MULTI_MAX];
        const int n = ADM_MIN(MULTI_MAX, n_segs - i0);
        bool any_scan = false;
        for (int i = 0; i < n; i++) {
            adm_adamas *a = as[i0 + i];
            const adm_attn_args *args = &segs[i0 + i];
            const step s = {a, args, args->pos[0] + 1, args->layer - a->p.dense_layers};
            steps[i] = s;
            any_scan |= a->p.mode == ADM_ATTN_ADAMAS;
        }
        multi_step m = {steps, n};
        if (any_scan) {
            /* One sequence builds its tables on the caller's thread: a pass
             * of one item would only add a wake-up. */
            if (n == 1) luts_items(&m, 0, 1);
            else adm_pool_run(pool, luts_items, &m);
            adm_pool_run(pool, score_items, &m);
        }
        adm_pool_run(pool, attend_items, &m);
        for (int i = 0; i < n; i++)
            if (steps[i].a->p.collect_stats) collect_stats(steps[i].a, steps[i].args, steps[i].n);
    }
}

void adm_adamas_attend(adm_adamas *a, adm_pool *pool, const adm_attn_args *args) {
    adm_adamas_attend_multi(&a, pool, args, 1);
}

double adm_adamas_mass(const adm_adamas *a, int layer, int64_t *n_steps) {
    *n_steps = a->mass_n[layer] / ADM_MAX(a->n_head, 1);
    return a->mass_n[layer] ? a->mass_sum[layer] / (double)a->mass_n[layer] : (double)NAN;
}

const int32_t *adm_adamas_selection(const adm_adamas *a, int h) { return a->sel + (size_t)h * (size_t)a->p.budget; }

int adm_adamas_n_selected(const adm_adamas *a, int h) { return a->n_sel[h]; }

/* ---- snapshots (snapshot.c): the state beside the KV rows ---- */

/* The state blob, little-endian, in this order (docs/snapshot.md):
 *   u32 code_dim, n_sparse, dense_layers, n_head, n_head_kv, thresholds, next_calib, q_pending
 *   f32 k_th[n_sparse][n_head_kv][code_dim][3], q_th[n_sparse][n_head][code_dim][3]
 *   f64 k_sum[n_sparse][n_head_kv][code_dim], k_sum2[...], q_sum2[n_sparse][n_head][code_dim]
 *   i64 k_count_layer[n_sparse], q_count_layer[n_sparse]
 * The codes themselves are a separate section (adm_adamas_head_codes). */
#define STATE_HEAD 32

bool adm_adamas_has_codes(const adm_adamas *a) { return a && a->codes != NULL; }

int adm_adamas_n_sparse(const adm_adamas *a) { return a->n_sparse; }

size_t adm_adamas_state_size_for(int code_dim, int n_sparse, int n_head, int n_head_kv) {
    const size_t ns = (size_t)n_sparse, cd = (size_t)code_dim, nkv = (size_t)n_head_kv, nh = (size_t)n_head;
    return STATE_HEAD + ns * cd * 3 * (nkv + nh) * sizeof(float) + ns * cd * (2 * nkv + nh) * sizeof(double) +
           2 * ns * sizeof(int64_t);
}

size_t adm_adamas_state_size(const adm_adamas *a) {
    return adm_adamas_state_size_for(a->code_dim, a->n_sparse, a->n_head, a->n_head_kv);
}

static uint8_t *put(uint8_t *o, const void *src, size_t n) {
    memcpy(o, src, n);
    return o + n;
}

void adm_adamas_state_save(const adm_adamas *a, uint8_t *out) {
    const uint32_t head[8] = {(uint32_t)a->code_dim,   (uint32_t)a->n_sparse,   (uint32_t)a->p.dense_layers,
                              (uint32_t)a->n_head,     (uint32_t)a->n_head_kv,  (uint32_t)a->p.thresholds,
                              (uint32_t)a->next_calib, (uint32_t)a->q_pending};
    const size_t ns = (size_t)a->n_sparse, cd = (size_t)a->code_dim;
    const size_t nk = ns * (size_t)a->n_head_kv * cd, nq = ns * (size_t)a->n_head * cd;
    uint8_t *o = put(out, head, sizeof(head));
    o = put(o, a->k_th, nk * 3 * sizeof(float));
    o = put(o, a->q_th, nq * 3 * sizeof(float));
    o = put(o, a->k_sum, nk * sizeof(double));
    o = put(o, a->k_sum2, nk * sizeof(double));
    o = put(o, a->q_sum2, nq * sizeof(double));
    o = put(o, a->k_count_layer, ns * sizeof(int64_t));
    put(o, a->q_count_layer, ns * sizeof(int64_t));
}

bool adm_adamas_state_compatible(const adm_adamas *a, const uint8_t *blob, size_t size) {
    if (!a->codes || size < STATE_HEAD) return false;
    return adm_rd_u32(blob) == (uint32_t)a->code_dim && adm_rd_u32(blob + 4) == (uint32_t)a->n_sparse &&
           adm_rd_u32(blob + 8) == (uint32_t)a->p.dense_layers && adm_rd_u32(blob + 12) == (uint32_t)a->n_head &&
           adm_rd_u32(blob + 16) == (uint32_t)a->n_head_kv && adm_rd_u32(blob + 20) == (uint32_t)a->p.thresholds &&
           size == adm_adamas_state_size(a);
}

/* Copies n values of `bytes` each, refusing non-finite floats (a damaged
 * threshold would silently break selection) and, for sums of squares,
 * negative ones. */
static bool get_f32(float *dst, const uint8_t **in, size_t n) {
    memcpy(dst, *in, n * sizeof(float));
    *in += n * sizeof(float);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i])) return false;
    return true;
}
static bool get_f64(double *dst, const uint8_t **in, size_t n, bool nonneg) {
    memcpy(dst, *in, n * sizeof(double));
    *in += n * sizeof(double);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i]) || (nonneg && dst[i] < 0)) return false;
    return true;
}

adm_status adm_adamas_state_load(adm_adamas *a, const uint8_t *blob, size_t size, int n, adm_error *err) {
    if (!adm_adamas_state_compatible(a, blob, size))
        return adm_fail(err, ADM_ERR_INTERNAL, "Adamas state does not match the sequence's code index");
    const uint32_t next_calib = adm_rd_u32(blob + 24), q_pending = adm_rd_u32(blob + 28);
    if (next_calib < CALIB_FIRST || next_calib > 2 * CALIB_LAST || (next_calib & (next_calib - 1)) || q_pending > 1)
        return adm_fail(err, ADM_ERR_FORMAT, "the Adamas calibration point %u is not one adamas uses", next_calib);
    const size_t ns = (size_t)a->n_sparse, cd = (size_t)a->code_dim;
    const size_t nk = ns * (size_t)a->n_head_kv * cd, nq = ns * (size_t)a->n_head * cd;
    const uint8_t *in = blob + STATE_HEAD;
    bool ok = get_f32(a->k_th, &in, nk * 3) && get_f32(a->q_th, &in, nq * 3);
    for (size_t i = 0; ok && i < nk + nq; i++) {
        const float *th = i < nk ? a->k_th + 3 * i : a->q_th + 3 * (i - nk);
        ok = th[0] <= th[1] && th[1] <= th[2];
    }
    ok = ok && get_f64(a->k_sum, &in, nk, false) && get_f64(a->k_sum2, &in, nk, true) &&
         get_f64(a->q_sum2, &in, nq, true);
    if (ok) {
        memcpy(a->k_count_layer, in, ns * sizeof(int64_t));
        memcpy(a->q_count_layer, in + ns * sizeof(int64_t), ns * sizeof(int64_t));
        for (size_t i = 0; i < ns; i++)
            ok = ok && a->k_count_layer[i] >= 0 && a->k_count_layer[i] <= CALIB_LAST && a->q_count_layer[i] >= 0 &&
                 a->q_count_layer[i] <= INT32_MAX;
    }
    if (!ok) {
        /* Leave a consistent (uncalibrated) index rather than half a state. */
        adm_adamas_reset(a);
        return adm_fail(err, ADM_ERR_FORMAT, "the Adamas thresholds or statistics are damaged (not finite, "
                        "unordered or out of range)");
    }
    a->next_calib = (int)next_calib;
    a->q_pending = q_pending != 0;
    a->n_coded = n;
    return ADM_OK;
}

size_t adm_adamas_code_bytes_for(int code_dim, int n) {
    return ((size_t)n + ADM_CODE_BLOCK - 1) / ADM_CODE_BLOCK * (size_t)code_dim * (ADM_CODE_BLOCK / 4);
}

int adm_adamas_code_dim(const adm_adamas *a) { return a->code_dim; }

uint8_t *adm_adamas_head_codes(const adm_adamas *a, int sl, int g) { return head_codes(a, sl, g); }

typedef struct rebuild_job {
    adm_adamas *a;
    const adm_kernels *k;
    const adm_kv_cache *kv;
    int n;
} rebuild_job;

/* Key statistics of positions 0 .. min(n, CALIB_LAST) - 1, in the order
 * append_items sums them (so the sums are bit-identical to a sparse
 * prefill's), one (layer, KV head) per item. */
static void rebuild_stats(void *arg, int ith, int nth) {
    rebuild_job *j = arg;
    adm_adamas *a = j->a;
    const int cd = a->code_dim, n = ADM_MIN(j->n, CALIB_LAST);
    float *x = (float *)(a->scratch + (size_t)ith * a->scratch_per_thread);
    int64_t lo, hi;
    adm_split_range((int64_t)a->n_sparse * a->n_head_kv, ith, nth, &lo, &hi);
    for (int64_t item = lo; item < hi; item++) {
        const int sl = (int)(item / a->n_head_kv), g = (int)(item % a->n_head_kv);
        double *s1 = a->k_sum + ((size_t)sl * a->n_head_kv + (size_t)g) * (size_t)cd;
        double *s2 = a->k_sum2 + ((size_t)sl * a->n_head_kv + (size_t)g) * (size_t)cd;
        if (adm_kv_is_ring(j->kv, sl + a->p.dense_layers)) continue; /* as in recode_items */
        for (int pos = 0; pos < n; pos++) {
            load_key(a, j->k, j->kv, sl + a->p.dense_layers, g, pos, x);
            for (int i = 0; i < cd; i++) {
                s1[i] += (double)x[i];
                s2[i] += (double)x[i] * (double)x[i];
            }
        }
    }
}

void adm_adamas_rebuild(adm_adamas *a, adm_pool *pool, const adm_kernels *k, const adm_kv_cache *kv, int n) {
    adm_adamas_reset(a);
    if (a->p.mode != ADM_ATTN_ADAMAS || !a->codes || n <= 0) return;
    recode_job j = {a, k, kv, n};
    if (a->p.thresholds == ADM_THRESHOLDS_CALIBRATED) {
        rebuild_job rj = {a, k, kv, n};
        adm_pool_run(pool, rebuild_stats, &rj);
        const int counted = ADM_MIN(n, CALIB_LAST);
        for (int sl = 0; sl < a->n_sparse; sl++) a->k_count_layer[sl] = counted;
        /* Queries are not in the cache: their thresholds wait for the
         * queries of the next tokens evaluated (see q_pending). */
        a->q_pending = true;
        if (n >= CALIB_FIRST) {
            while (a->next_calib <= n && a->next_calib <= CALIB_LAST) a->next_calib *= 2;
            calibrate_keys(a);
        }
    }
    adm_pool_run(pool, recode_items, &j);
    a->n_coded = n;
}
