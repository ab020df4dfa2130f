/*
 * engine.c - creating an engine (threads, scratch) and evaluating mixed
 * batches: rows are validated as a whole first (tokens, contexts, memory
 * budget), so that a refused batch changes nothing, then evaluated in
 * passes of at most n_batch rows.
 */
#include "engine.h"

#include "moe.h"

#include <stdio.h>

adm_engine_params adm_engine_default_params(void) {
    adm_engine_params p;
    memset(&p, 0, sizeof(p));
    p.n_batch = 512;
    return p;
}

static float *alloc_f(adm_engine *e, size_t n, bool *ok) {
    float *p = adm_alloc(n * sizeof(float));
    if (!p) *ok = false;
    e->scratch_bytes += n * sizeof(float);
    return p;
}

adm_status adm_engine_create(const adm_model *model, const adm_engine_params *params, adm_engine **out,
                             adm_error *err) {
    *out = NULL;
    adm_engine_params p = params ? *params : adm_engine_default_params();
    const adm_hparams *hp = &model->hp;
    if (p.n_batch < 1) p.n_batch = 512;
    if (p.n_batch > (1 << 16))
        return adm_fail(err, ADM_ERR_INVALID_ARG, "batch size %d is out of range (1 to %d)", p.n_batch, 1 << 16);
    if (p.threads_from) p.n_threads = adm_pool_size(p.threads_from->pool);
    if (p.n_threads <= 0) p.n_threads = adm_default_threads();

    adm_engine *e = adm_calloc(1, sizeof(*e));
    if (!e) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    e->model = model;
    adm_kernels_with_block_sums(adm_kernels_get(), &e->k_bsum);
    e->k = p.llama_order ? adm_kernels_get() : &e->k_bsum;
    e->n_batch = p.n_batch;
    e->n_threads = p.n_threads;
    e->mem_budget = p.mem_budget;
    adm_status st = ADM_OK;
    if (p.threads_from) {
        e->pool = p.threads_from->pool;
    } else {
        st = adm_pool_create(p.n_threads, &e->pool, err);
        if (st != ADM_OK) goto fail;
        e->pool_owned = true;
    }
    if (!p.llama_order && e->k->block_sums && e->k->gemm_pack16[ADM_TYPE_Q8_0]) {
        st = adm_packed_create(model, e->pool, &e->packed, err);
        if (st != ADM_OK) goto fail;
    }
    const size_t nb = (size_t)p.n_batch;
    const size_t nq = (size_t)hp->n_head * hp->head_dim, nk = (size_t)hp->n_head_kv * hp->head_dim;
    const size_t nv = (size_t)hp->n_head_kv * hp->head_dim_v, no = (size_t)hp->n_head * hp->head_dim_v;
    const size_t wide = ADM_MAX(ADM_MAX((size_t)hp->n_embd, (size_t)hp->n_ff), ADM_MAX(nq, ADM_MAX(no, (size_t)hp->n_ff_exp)));
    bool ok = true;
    e->x = alloc_f(e, nb * hp->n_embd, &ok);
    e->xn = alloc_f(e, nb * hp->n_embd, &ok);
    e->q = alloc_f(e, nb * nq, &ok);
    e->kcur = alloc_f(e, nb * nk, &ok);
    e->vcur = alloc_f(e, nb * nv, &ok);
    e->attn = alloc_f(e, nb * ADM_MAX(no, (size_t)hp->n_embd), &ok); /* also holds MoE outputs */
    e->gate = alloc_f(e, nb * hp->n_ff, &ok);
    e->up = alloc_f(e, nb * hp->n_ff, &ok);
    e->rope = alloc_f(e, 2 * nb * hp->n_rot, &ok);
    if ((st = adm_moe_scratch_create(model, p.n_batch, &e->moe, &e->scratch_bytes, err)) != ADM_OK) goto fail;
    e->pos = adm_alloc(nb * sizeof(int32_t));
    e->tokens = adm_alloc(nb * sizeof(int32_t));
    e->out_rows = adm_alloc(nb * sizeof(int32_t));
    e->segs = adm_alloc(nb * sizeof(adm_seg));
    e->attn_args = adm_alloc(nb * sizeof(adm_attn_args));
    e->sparse = adm_alloc(nb * sizeof(*e->sparse));
    size_t mm = adm_matmul_scratch_size((int64_t)wide, p.n_batch);
    e->mm_scratch = adm_alloc(mm);
    e->scratch_bytes += nb * (3 * sizeof(int32_t) + sizeof(adm_seg) + sizeof(adm_attn_args) + sizeof(*e->sparse)) + mm;
    if (!ok || !e->pos || !e->tokens || !e->out_rows || !e->segs || !e->attn_args || !e->sparse || !e->mm_scratch) {
        st = adm_fail(err, ADM_ERR_NOMEM, "cannot allocate %.1f MiB of scratch memory for batches of %d tokens",
                      (double)e->scratch_bytes / (1024.0 * 1024.0), p.n_batch);
        goto fail;
    }
    *out = e;
    return ADM_OK;
fail:
    adm_engine_free(e);
    return st;
}

void adm_engine_free(adm_engine *e) {
    if (!e) return;
    if (e->n_seqs) adm_log(ADM_LOG_WARN, "adm_engine_free: %d sequences still alive", e->n_seqs);
    if (e->pool_owned) adm_pool_free(e->pool);
    adm_packed_free(e->packed);
    adm_free(e->x);
    adm_free(e->xn);
    adm_free(e->q);
    adm_free(e->kcur);
    adm_free(e->vcur);
    adm_free(e->attn);
    adm_free(e->gate);
    adm_free(e->up);
    adm_free(e->rope);
    adm_moe_scratch_free(e->moe);
    adm_free(e->pos);
    adm_free(e->tokens);
    adm_free(e->out_rows);
    adm_free(e->segs);
    adm_free(e->attn_args);
    adm_free(e->sparse);
    adm_free(e->mm_scratch);
    adm_free(e->attn_scratch);
    adm_free(e);
}

const adm_model *adm_engine_model(const adm_engine *e) { return e->model; }
int adm_engine_n_threads(const adm_engine *e) { return e->n_threads; }
int adm_engine_n_batch(const adm_engine *e) { return e->n_batch; }
uint64_t adm_engine_mem_used(const adm_engine *e) { return e->mem_used; }
uint64_t adm_engine_mem_budget(const adm_engine *e) { return e->mem_budget; }

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

/* Checks a whole batch; fills the segment table. */
static adm_status check_batch(adm_engine *e, const adm_batch_row *rows, int n_rows, adm_seg *segs, int *n_segs,
                              adm_error *err) {
    const adm_hparams *hp = &e->model->hp;
    int ns = 0;
    uint64_t extra = 0;
    for (int i = 0; i < n_rows;) {
        adm_seq *s = rows[i].seq;
        if (!s) return adm_fail(err, ADM_ERR_INVALID_ARG, "batch row %d has no sequence", i);
        if (s->e != e) return adm_fail(err, ADM_ERR_INVALID_ARG, "batch row %d: the sequence belongs to another engine", i);
        int j = i;
        while (j < n_rows && rows[j].seq == s) {
            if (rows[j].token < 0 || rows[j].token >= hp->n_vocab)
                return adm_fail(err, ADM_ERR_INVALID_ARG, "token id %d at index %d is outside the vocabulary (0 to %d)",
                                rows[j].token, j, hp->n_vocab - 1);
            j++;
        }
        for (int k = 0; k < ns; k++)
            if (segs[k].seq == s)
                return adm_fail(err, ADM_ERR_INVALID_ARG, "batch rows %d and %d of one sequence are not consecutive",
                                segs[k].row0 + segs[k].n - 1, i);
        const int n = j - i;
        if (n > s->p.n_ctx - s->n_past)
            return adm_fail(err, ADM_ERR_CONTEXT_FULL, "%d tokens do not fit in the context: %d of %d positions are used",
                            n, s->n_past, s->p.n_ctx);
        if (s->n_past + n > s->n_touched) extra += adm_seq_mem(s, s->n_past + n) - adm_seq_mem(s, s->n_touched);
        segs[ns++] = (adm_seg){s, i, n};
        i = j;
    }
    if (e->mem_budget && e->mem_used + extra > e->mem_budget)
        return adm_fail(err, ADM_ERR_MEM_BUDGET, "the sequences' memory budget of %.1f MiB is used up (%.1f MiB in use, "
                        "%.1f MiB more needed): finish or clear other sequences first",
                        mib(e->mem_budget), mib(e->mem_used), mib(extra));
    *n_segs = ns;
    return ADM_OK;
}

adm_status adm_engine_decode(adm_engine *e, const adm_batch_row *rows, int n_rows, float *logits, adm_error *err) {
    if (n_rows < 0 || (n_rows > 0 && !rows)) return adm_fail(err, ADM_ERR_INVALID_ARG, "invalid batch");
    if (n_rows == 0) return ADM_OK;
    /* One segment per sequence, at most one per row: the engine's segment
     * table holds n_batch, so a longer batch is checked in a local one. */
    adm_seg *segs = n_rows <= e->n_batch ? e->segs : adm_alloc((size_t)n_rows * sizeof(adm_seg));
    if (!segs) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    int n_segs = 0;
    adm_status st = check_batch(e, rows, n_rows, segs, &n_segs, err);
    if (st == ADM_OK) {
        for (int k = 0; k < n_segs; k++) {
            adm_seq *s = segs[k].seq;
            if (s->n_past + segs[k].n > s->n_touched) {
                e->mem_used += adm_seq_mem(s, s->n_past + segs[k].n) - adm_seq_mem(s, s->n_touched);
                s->n_touched = s->n_past + segs[k].n;
            }
        }
        if (logits) {
            bool any = false;
            for (int i = 0; i < n_rows; i++) any |= rows[i].logits;
            if (!any) logits = NULL;
        } else {
            for (int i = 0; i < n_rows && st == ADM_OK; i++)
                if (rows[i].logits) st = adm_fail(err, ADM_ERR_INVALID_ARG, "row %d wants logits but no buffer was given", i);
        }
    }
    if (st != ADM_OK) {
        if (segs != e->segs) adm_free(segs);
        return st;
    }
    if (segs != e->segs) adm_free(segs);
    /* Passes of at most n_batch rows; a segment cut by a pass boundary
     * continues in the next pass (its positions follow n_past). e->segs
     * becomes each pass's table (the check above is done with it). */
    const size_t n_vocab = (size_t)e->model->hp.n_vocab;
    for (int r0 = 0; r0 < n_rows;) {
        const int r1 = ADM_MIN(n_rows, r0 + e->n_batch);
        int np = 0, n_out = 0;
        for (int i = r0; i < r1; i++) {
            e->tokens[i - r0] = rows[i].token;
            if (rows[i].logits) e->out_rows[n_out++] = i - r0;
            if (i == r0 || rows[i].seq != rows[i - 1].seq) e->segs[np++] = (adm_seg){rows[i].seq, i - r0, 0};
            e->segs[np - 1].n++;
        }
        adm_forward(e, e->segs, np, r1 - r0, n_out, logits);
        if (logits) logits += (size_t)n_out * n_vocab;
        r0 = r1;
    }
    return ADM_OK;
}
