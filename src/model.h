/*
 * model.h - a loaded model: hyperparameters and typed views of the weights,
 * which point into the GGUF mapping the model owns. Immutable after
 * adm_model_load, so any number of contexts may share it.
 */
#ifndef ADM_MODEL_H
#define ADM_MODEL_H

#include "arch.h"
#include "gguf.h"
#include "matmul.h"

typedef struct adm_layer {
    const float *attn_norm;              /* (n_embd) */
    adm_weight wq, wk, wv, wo;           /* wq: n_embd -> n_head*head_dim, wo: n_head*head_dim_v -> n_embd */
    const float *bq, *bk, *bv;           /* optional biases (qwen2) */
    const float *q_norm, *k_norm;        /* (head_dim), qwen3 */
    const float *ffn_norm;               /* (n_embd) */
    adm_weight w_gate, w_up, w_down;     /* n_embd -> n_ff, n_ff -> n_embd */
} adm_layer;

typedef struct adm_hparams {
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
    int head_dim, head_dim_v, n_rot;
    float rms_eps;
    float rope_base, rope_freq_scale;
    const float *rope_factors;           /* (n_rot/2) frequency divisors, or NULL (llama3 scaling) */
} adm_hparams;

struct adm_model {
    adm_gguf *gguf;
    const adm_arch *arch;
    adm_hparams hp;
    char name[128];
    adm_weight tok_embd;                 /* n_embd x n_vocab */
    const float *output_norm;
    adm_weight output;                   /* may alias tok_embd (tied) */
    adm_layer *layers;
    adm_vocab *vocab;                    /* NULL if the file has none */
    float *owned;                        /* f32 copies of small vectors (norms, biases) */
    uint64_t n_params, weight_bytes;
    char **meta_strs;                    /* NUL-terminated copies for adm_model_meta_str */
    size_t n_meta_strs;
};

#endif
