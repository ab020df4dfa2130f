/*
 * engine.h - what the sequences of one model share (adm_engine: threads,
 * kernels, the scratch of one forward pass sized for n_batch rows) and what
 * belongs to one sequence (adm_seq: KV cache, Adamas code index, tokens,
 * attention settings). The split follows whisper.cpp's model/state split:
 * any number of sequences, each evaluated in batches that may mix rows of
 * several of them (forward.c).
 */
#ifndef ADM_ENGINE_H
#define ADM_ENGINE_H

#include "attention/adamas.h"
#include "attention/attention.h"
#include "kv_cache.h"
#include "model.h"
#include "packed.h"

/* A run of consecutive batch rows that belong to one sequence. */
typedef struct adm_seg {
    adm_seq *seq;
    int row0, n;
} adm_seg;

struct adm_engine {
    const adm_model *model;
    /* The CPU's kernel table, or k_bsum: the same with its block-sum
     * products (adm_kernels_with_block_sums) unless params.llama_order. */
    const adm_kernels *k;
    adm_kernels k_bsum;
    /* Block order with gemm_pack16: the model's views with its Q8_0
     * matrices packed (packed.h), else NULL; adm_engine_layer and
     * adm_engine_output give the views the products use. */
    struct adm_packed *packed;
    adm_pool *pool;
    bool pool_owned;     /* false: params.threads_from's */
    int n_batch, n_threads;
    uint64_t mem_budget; /* 0: none */
    uint64_t mem_used;   /* bytes of KV rows and codes the sequences have touched */
    int n_seqs;

    /* Scratch of one forward pass, each (n_batch, width) row-major. */
    float *x;          /* residual stream (n_embd) */
    float *xn;         /* normed input / product output (max(n_embd, n_q)) */
    float *q, *kcur, *vcur; /* (n_head*hd), (n_head_kv*hd), (n_head_kv*hdv) */
    float *attn;       /* (n_head * head_dim_v) */
    float *gate, *up;  /* (n_ff) */
    float *rope;       /* (2, n_batch, n_rot): cos, sin pairs; [1]: sliding-window layers */
    struct adm_moe_scratch *moe; /* mixture-of-experts models' scratch, else NULL */
    int32_t *pos;      /* (n_batch) position of each row in its sequence */
    int32_t *tokens;   /* (n_batch) */
    int32_t *out_rows; /* (n_batch) rows whose logits are wanted */
    adm_seg *segs;     /* (n_batch) */
    adm_attn_args *attn_args; /* (n_batch) one per segment: dense ones from the front, sparse from the back */
    struct adm_adamas **sparse; /* (n_batch) the sparse segments' indexes, in attn_args' order from the back */
    void *mm_scratch;  /* quantized activations */
    uint8_t *attn_scratch;          /* dense attention, per thread; grows with the longest sequence */
    size_t attn_scratch_per_thread;
    uint64_t scratch_bytes;
};

struct adm_seq {
    adm_engine *e;
    adm_seq_params p;
    adm_kv_cache *kv;
    adm_adamas *adamas;  /* NULL for dense attention */
    int32_t *tokens;     /* (n_ctx) the ids in the cache */
    int n_past;
    int n_touched;       /* positions written since the last clear (memory counted in e->mem_used) */
    uint64_t token_bytes; /* KV and code bytes per position, but for the rings' */
    uint64_t ring_bytes;  /* bytes per ring slot of the sliding-window layers (0: no rings) */
    adm_attention attention; /* method of decode steps now (adm_seq_set_attention) */
    adm_ctx_perf perf;
};

/* Runs the model over n_rows <= n_batch rows already laid out in
 * e->tokens, grouped in n_segs segments (each row's position is its
 * sequence's n_past plus its index in the segment), and appends them to
 * their sequences. The logits of rows e->out_rows[0 .. n_out) go to
 * `logits` (n_out rows of n_vocab). Inputs are validated by the caller. */
void adm_forward(adm_engine *e, const adm_seg *segs, int n_segs, int n_rows, int n_out, float *logits);

/* Bytes of KV rows and codes one position of this sequence takes in its
 * full-context layers. */
uint64_t adm_seq_token_bytes(const adm_seq *s);
/* Bytes counted against the budget when n positions have been written:
 * the full layers grow with n, the rings stop at their size. */
uint64_t adm_seq_mem(const adm_seq *s, int n);

static inline const adm_layer *adm_engine_layer(const adm_engine *e, int il) {
    return e->packed ? &e->packed->layers[il] : &e->model->layers[il];
}
static inline const adm_weight *adm_engine_output(const adm_engine *e) {
    return e->packed ? &e->packed->output : &e->model->output;
}

#endif
