/*
 * seq.c - sequences: creation (KV cache, code index, token record), the
 * per-sequence operations (truncate, clear, copy a prefix) and the memory
 * each one counts against its engine's budget. A sequence counts the
 * positions it has written since it was last cleared (its mmap'd cache
 * pages that exist), not its whole context, so contexts may be
 * overcommitted as llama-server's unified cache allows.
 */
#include "engine.h"

#include <math.h>

adm_seq_params adm_seq_default_params(void) {
    adm_seq_params p;
    memset(&p, 0, sizeof(p));
    p.type_k = ADM_TYPE_F16;
    p.type_v = ADM_TYPE_F16;
    p.attention = ADM_ATTN_DENSE;
    p.budget = 128;
    p.dense_layers = 2;
    p.sink = -1;   /* min(4, budget / 4) */
    p.window = -1; /* budget / 4 for adamas */
    p.thresholds = ADM_THRESHOLDS_CALIBRATED;
    return p;
}

static double mib(uint64_t b) { return (double)b / (1024.0 * 1024.0); }

uint64_t adm_seq_token_bytes(const adm_seq *s) {
    const adm_kv_cache *kv = s->kv;
    int n_full = 0;
    for (int l = 0; l < kv->n_layer; l++) n_full += !adm_kv_is_ring(kv, l);
    uint64_t b = (uint64_t)n_full * (uint64_t)kv->n_head_kv * (kv->k_row + kv->v_row);
    return b + (s->adamas ? adm_adamas_token_bytes(s->adamas) : 0);
}

uint64_t adm_seq_mem(const adm_seq *s, int n) {
    const uint64_t ring_rows = (uint64_t)ADM_MIN(n, s->kv->ring);
    return (uint64_t)n * s->token_bytes + ring_rows * s->ring_bytes;
}

adm_status adm_seq_create(adm_engine *e, const adm_seq_params *params, adm_seq **out, adm_error *err) {
    *out = NULL;
    adm_seq_params p = params ? *params : adm_seq_default_params();
    const adm_hparams *hp = &e->model->hp;
    if (p.n_ctx == 0) p.n_ctx = hp->n_ctx_train;
    if (p.n_ctx < 1 || p.n_ctx > (1 << 24))
        return adm_fail(err, ADM_ERR_INVALID_ARG, "context size %d is out of range (1 to %d)", p.n_ctx, 1 << 24);
    if (p.budget < 1) return adm_fail(err, ADM_ERR_INVALID_ARG, "attention budget must be at least 1");
    /* Defaults chosen by measurement (docs/adamas.md): 4 attention-sink
     * tokens and a recent window of a quarter of the budget. */
    if (p.sink < 0) p.sink = ADM_MIN(4, p.budget / 4);
    if (p.window < 0) p.window = p.attention == ADM_ATTN_ADAMAS ? p.budget / 4 : 0;
    if (p.dense_layers < 0) return adm_fail(err, ADM_ERR_INVALID_ARG, "dense layers must not be negative");
    if (p.attention != ADM_ATTN_DENSE && p.attention != ADM_ATTN_ADAMAS && p.attention != ADM_ATTN_WINDOW)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "unknown attention method %d", (int)p.attention);

    adm_seq *s = adm_calloc(1, sizeof(*s));
    if (!s) return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    s->e = e;
    s->p = p;
    s->attention = p.attention;
    /* Sliding-window layers keep a ring of rows unless swa_full asks for
     * the whole context (kv_cache.h). */
    bool *windowed = adm_calloc((size_t)hp->n_layer, sizeof(bool));
    if (!windowed) {
        adm_free(s);
        return adm_fail(err, ADM_ERR_NOMEM, "out of memory");
    }
    for (int l = 0; l < hp->n_layer; l++) windowed[l] = hp->n_swa > 0 && e->model->layers[l].swa;
    const int ring = hp->n_swa > 0 && !p.swa_full ? adm_kv_ring_rows(hp->n_swa, e->n_batch) : 0;
    adm_status st = adm_kv_cache_create(hp->n_layer, hp->n_head_kv, hp->head_dim, hp->head_dim_v, p.n_ctx, windowed,
                                        ring, p.type_k, p.type_v, &s->kv, err);
    adm_free(windowed);
    if (st != ADM_OK) goto fail;
    if (p.attention != ADM_ATTN_DENSE) {
        adm_adamas_params ap = {p.attention,     p.thresholds,  p.budget,      p.dense_layers,
                                p.sink,          p.window,      p.collect_stats, p.group_select};
        st = adm_adamas_create(&ap, s->kv, hp->n_head, e->n_threads, &s->adamas, err);
        if (st != ADM_OK) goto fail;
    }
    s->token_bytes = adm_seq_token_bytes(s);
    if (s->kv->ring) {
        int n_ring = 0;
        for (int l = 0; l < hp->n_layer; l++) n_ring += adm_kv_is_ring(s->kv, l);
        s->ring_bytes = (uint64_t)n_ring * (uint64_t)hp->n_head_kv * (s->kv->k_row + s->kv->v_row);
    }
    if (e->mem_budget && adm_seq_mem(s, p.n_ctx) > e->mem_budget) {
        st = adm_fail(err, ADM_ERR_MEM_BUDGET, "a sequence of %d tokens needs %.1f MiB of KV cache and codes, more "
                      "than the memory budget of %.1f MiB for all sequences", p.n_ctx,
                      mib(adm_seq_mem(s, p.n_ctx)), mib(e->mem_budget));
        goto fail;
    }
    s->tokens = adm_alloc((size_t)p.n_ctx * sizeof(int32_t));
    if (!s->tokens) {
        st = adm_fail(err, ADM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    /* Dense attention's per-thread scratch grows with the longest context. */
    const size_t need = adm_attn_scratch_size(s->kv, hp->n_head, p.n_ctx);
    if (need > e->attn_scratch_per_thread) {
        uint8_t *scr = adm_alloc(need * (size_t)e->n_threads);
        if (!scr) {
            st = adm_fail(err, ADM_ERR_NOMEM, "cannot allocate %.1f MiB of attention scratch for %d tokens",
                          mib(need * (uint64_t)e->n_threads), p.n_ctx);
            goto fail;
        }
        e->scratch_bytes += (need - e->attn_scratch_per_thread) * (size_t)e->n_threads;
        adm_free(e->attn_scratch);
        e->attn_scratch = scr;
        e->attn_scratch_per_thread = need;
    }
    e->n_seqs++;
    *out = s;
    return ADM_OK;
fail:
    adm_kv_cache_free(s->kv);
    adm_adamas_free(s->adamas);
    adm_free(s->tokens);
    adm_free(s);
    return st;
}

void adm_seq_free(adm_seq *s) {
    if (!s) return;
    s->e->mem_used -= adm_seq_mem(s, s->n_touched);
    s->e->n_seqs--;
    adm_kv_cache_free(s->kv);
    adm_adamas_free(s->adamas);
    adm_free(s->tokens);
    adm_free(s);
}

adm_engine *adm_seq_engine(const adm_seq *s) { return s->e; }
adm_seq_params adm_seq_get_params(const adm_seq *s) { return s->p; }
int adm_seq_n_past(const adm_seq *s) { return s->n_past; }
int adm_seq_n_ctx(const adm_seq *s) { return s->p.n_ctx; }
const int32_t *adm_seq_tokens(const adm_seq *s) { return s->tokens; }

void adm_seq_truncate(adm_seq *s, int n_keep) {
    if (n_keep < 0) n_keep = 0;
    /* Deeper than the sliding-window rings reach: nothing before n_keep
     * can be continued from, so the sequence starts over (the caller
     * re-evaluates from adm_seq_n_past, as llama.cpp does with its SWA
     * cache). */
    if (n_keep < s->n_past && !adm_kv_can_keep(s->kv, n_keep, s->e->model->hp.n_swa)) n_keep = 0;
    if (n_keep < s->n_past) s->n_past = n_keep;
    s->kv->n = s->n_past;
    if (s->n_past == 0) s->kv->ring_lo = 0;
    if (s->adamas) adm_adamas_truncate(s->adamas, s->n_past);
}

void adm_seq_clear(adm_seq *s) {
    s->n_past = 0;
    adm_kv_cache_discard(s->kv);
    if (s->adamas) adm_adamas_reset(s->adamas);
    s->e->mem_used -= adm_seq_mem(s, s->n_touched);
    s->n_touched = 0;
}

adm_status adm_seq_copy_prefix(adm_seq *dst, const adm_seq *src, int n, adm_error *err) {
    if (dst->e != src->e) return adm_fail(err, ADM_ERR_INVALID_ARG, "the sequences belong to different engines");
    if (n < 0 || n > src->n_past)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "cannot copy %d tokens of a sequence holding %d", n, src->n_past);
    if (dst == src) { /* a sequence's own prefix: a truncation */
        adm_seq_truncate(dst, n);
        return ADM_OK;
    }
    if (n > dst->p.n_ctx)
        return adm_fail(err, ADM_ERR_CONTEXT_FULL, "%d tokens do not fit in a context of %d", n, dst->p.n_ctx);
    if (dst->p.type_k != src->p.type_k || dst->p.type_v != src->p.type_v)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "the sequences' KV cache types differ");
    if (!adm_kv_can_keep(src->kv, n, src->e->model->hp.n_swa))
        return adm_fail(err, ADM_ERR_INVALID_ARG, "cannot copy the first %d tokens: the sliding-window layers keep "
                        "only positions %d to %d of that sequence (create it with swa_full to keep them all)", n,
                        src->kv->ring_lo, src->n_past - 1);
    if (dst->adamas && !src->adamas)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "a sequence with sparse attention cannot copy a dense one's tokens "
                        "(it has no code index)");
    const adm_engine *e = dst->e;
    const uint64_t extra = n > dst->n_touched ? adm_seq_mem(dst, n) - adm_seq_mem(dst, dst->n_touched) : 0;
    if (e->mem_budget && e->mem_used + extra > e->mem_budget)
        return adm_fail(err, ADM_ERR_MEM_BUDGET, "the sequences' memory budget of %.1f MiB is used up (%.1f MiB in use, "
                        "%.1f MiB more needed)", mib(e->mem_budget), mib(e->mem_used), mib(extra));
    if (dst->adamas) {
        adm_status st = adm_adamas_copy_prefix(dst->adamas, src->adamas, n, err);
        if (st != ADM_OK) return st;
    }
    adm_kv_cache_copy_prefix(dst->kv, src->kv, n);
    memcpy(dst->tokens, src->tokens, (size_t)n * sizeof(int32_t));
    dst->n_past = n;
    if (n > dst->n_touched) {
        dst->e->mem_used += extra;
        dst->n_touched = n;
    }
    return ADM_OK;
}

adm_status adm_seq_set_attention(adm_seq *s, adm_attention attention, adm_error *err) {
    if (attention != ADM_ATTN_DENSE && attention != s->p.attention)
        return adm_fail(err, ADM_ERR_INVALID_ARG, "this sequence was created for %s attention; create it with the "
                        "sparse method to use it", s->p.attention == ADM_ATTN_DENSE ? "dense" : "another");
    s->attention = attention;
    return ADM_OK;
}

adm_ctx_memory adm_seq_get_memory(const adm_seq *s) {
    adm_ctx_memory m = {adm_kv_cache_bytes(s->kv), s->adamas ? adm_adamas_code_bytes(s->adamas) : 0, 0};
    return m;
}

adm_ctx_perf adm_seq_get_perf(const adm_seq *s) { return s->perf; }

double adm_seq_adamas_mass(const adm_seq *s, int layer, int64_t *n_steps) {
    *n_steps = 0;
    if (!s->adamas || layer < 0 || layer >= s->e->model->hp.n_layer) return (double)NAN;
    return adm_adamas_mass(s->adamas, layer, n_steps);
}
