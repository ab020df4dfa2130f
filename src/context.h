/*
 * context.h - adm_ctx: the mutable state of one sequence: its KV cache, the
 * scratch buffers of the forward pass (allocated once, sized for n_batch
 * tokens), the thread pool and the kernel table.
 */
#ifndef ADM_CONTEXT_H
#define ADM_CONTEXT_H

#include "attention/adamas.h"
#include "attention/attention.h"
#include "kv_cache.h"
#include "model.h"

struct adm_ctx {
    const adm_model *model;
    adm_ctx_params params;
    const adm_kernels *k;
    adm_pool *pool;
    bool pool_owned;     /* false: params.threads_from's */
    adm_kv_cache *kv;
    adm_adamas *adamas;  /* NULL for dense attention */
    int n_past;

    /* Scratch, each sized for n_batch tokens: (n_batch, width) row-major. */
    float *x;          /* residual stream (n_embd) */
    float *xn;         /* normed input / product output (max(n_embd, n_q)) */
    float *q, *kcur, *vcur; /* (n_head*hd), (n_head_kv*hd), (n_head_kv*hdv) */
    float *attn;       /* (n_head * head_dim_v) */
    float *gate, *up;  /* (n_ff) */
    float *rope;       /* (n_batch, n_rot): cos, sin pairs */
    int32_t *pos;      /* (n_batch) */
    void *mm_scratch;  /* quantized activations */
    uint8_t *attn_scratch;
    size_t attn_scratch_per_thread;
    uint64_t scratch_bytes;
    adm_attention attention; /* method of decode steps now (see adm_ctx_set_attention) */
    adm_ctx_perf perf;
};

/* Runs the model on n_tok <= n_batch tokens at positions n_past.. and
 * appends them to the cache. logits: NULL (none), or the output rows:
 * all n_tok rows if logits_all, else the last token's row. */
void adm_forward(adm_ctx *ctx, const int32_t *tokens, int n_tok, float *logits, bool logits_all);

#endif
