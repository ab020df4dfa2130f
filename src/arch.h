/*
 * arch.h - what differs between the transformer families adamas runs. The
 * forward pass is shared; a family chooses its RoPE pairing, which
 * mechanisms it uses (each one a flag here, read by the loader), and
 * defaults for keys a file may omit.
 */
#ifndef ADM_ARCH_H
#define ADM_ARCH_H

#include "base.h"

typedef enum adm_arch_id {
    ADM_ARCH_LLAMA,
    ADM_ARCH_QWEN2,
    ADM_ARCH_QWEN3,
    ADM_ARCH_QWEN3MOE,
    ADM_ARCH_GEMMA2,
    ADM_ARCH_GEMMA3,
    ADM_ARCH_PHI3,
} adm_arch_id;

/* How RoPE pairs the values of a head (llama.cpp's NORM and NEOX). */
typedef enum adm_rope_type {
    ADM_ROPE_NORM, /* adjacent pairs (x[2i], x[2i+1]): Meta's Llama layout */
    ADM_ROPE_NEOX, /* halves (x[i], x[i + n_rot/2]): GPT-NeoX / Hugging Face layout */
} adm_rope_type;

typedef struct adm_arch {
    const char *name;       /* general.architecture */
    adm_arch_id id;
    adm_rope_type rope_type;
    bool qk_norm;           /* per-head RMS norm of Q and K before RoPE (Qwen3, Gemma 3) */
    bool post_norms;        /* RMS norms of the attention and feed-forward outputs (Gemma 3) */
    bool gemma;             /* GeGLU, embeddings scaled by sqrt(n_embd), sliding-window layers */
    bool moe;               /* routed experts in every layer (Qwen3-MoE); llama files may have them too (Mixtral) */
    float default_rope_base;
    float default_rms_eps;
} adm_arch;

/* The family for a general.architecture value, or NULL if unsupported. */
const adm_arch *adm_arch_find(const char *name, size_t len);
/* Comma-separated list of supported names, for error messages. */
const char *adm_arch_supported(void);

#endif
