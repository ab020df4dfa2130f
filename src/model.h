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

/* How a layer rotates its queries and keys: theta_i = pos * freq_scale *
 * base^(-2i/n_rot) / factors[i], and cos/sin multiplied by attn_factor (as
 * ggml's rope does; LongRoPE files set it). */
typedef struct adm_rope {
    float base, freq_scale, attn_factor;
    const float *factors;                /* (n_rot/2) frequency divisors, or NULL */
    const float *factors_long;           /* LongRoPE: used instead when the context exceeds n_ctx_orig */
    int n_ctx_orig;
    bool longrope;                       /* factors (short) / factors_long chosen by the context size */
} adm_rope;

typedef enum adm_ffn_act {
    ADM_ACT_SILU,      /* SwiGLU: silu(gate) * up */
    ADM_ACT_GELU_TANH, /* GeGLU with tanh-approximated GELU (Gemma) */
} adm_ffn_act;

/* Mixture-of-experts weights: n_expert matrices stored back to back in one
 * 3-D tensor; expert e's matrix starts at w.data + e * stride. */
typedef struct adm_experts {
    adm_weight w;                        /* expert 0's view */
    size_t stride;                       /* bytes per expert */
} adm_experts;

typedef struct adm_layer {
    bool swa;                            /* sliding-window layer: attends to the last n_swa tokens */
    const float *attn_norm;              /* (n_embd) */
    adm_weight wq, wk, wv, wo;           /* wq: n_embd -> n_head*head_dim, wo: n_head*head_dim_v -> n_embd */
    const float *bq, *bk, *bv;           /* optional biases (qwen2) */
    const float *q_norm, *k_norm;        /* (head_dim), qwen3 */
    const float *ffn_norm;               /* (n_embd) */
    adm_weight w_gate, w_up, w_down;     /* n_embd -> n_ff, n_ff -> n_embd (dense feed-forward) */
    const float *attn_post_norm, *ffn_post_norm; /* (n_embd), gemma3: norms of the sublayer outputs */
    adm_weight router;                   /* MoE: n_embd -> n_expert logits (data NULL: dense layer) */
    adm_experts gate_exps, up_exps, down_exps; /* n_embd -> n_ff_exp, n_ff_exp -> n_embd per expert */
} adm_layer;

typedef struct adm_hparams {
    int n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
    int head_dim, head_dim_v, n_rot;
    float rms_eps;
    float rope_base, rope_freq_scale;
    const float *rope_factors;           /* (n_rot/2) frequency divisors, or NULL (llama3 scaling) */
    adm_rope rope[2];                    /* [0]: global layers, [1]: sliding-window layers */
    int n_swa;                           /* sliding window in tokens (0: none) */
    int swa_period;                      /* every swa_period-th layer is global (info only) */
    float attn_scale;                    /* scale of q.k before the softmax */
    float embd_scale;                    /* token embeddings are multiplied by this (gemma: sqrt(n_embd)) */
    float final_softcap;                 /* logits = c * tanh(logits / c) if > 0 */
    float attn_softcap;                  /* attention scores = c * tanh(score / c) if > 0 (gemma2) */
    adm_ffn_act ffn_act;
    int n_expert, n_expert_used, n_ff_exp; /* MoE (n_expert 0: dense) */
    bool expert_norm;                    /* renormalize the chosen experts' weights to sum 1 */
    float expert_scale;                  /* multiplies the chosen experts' weights */
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
    float *gelu_table;                   /* GeGLU models: gelu of every f16 value, rounded to f16 (ggml's table) */
    uint64_t n_params, weight_bytes;
    char **meta_strs;                    /* NUL-terminated copies for adm_model_meta_str */
    size_t n_meta_strs;
};

#endif
