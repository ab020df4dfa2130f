/*
 * arch.c - the table of supported families. Mistral, TinyLlama, SmolLM and
 * Llama 2/3.x files all declare general.architecture = "llama"; Phi-3 and
 * Phi-4-mini declare "phi3".
 */
#include "arch.h"

static const adm_arch k_archs[] = {
    /* name       id                 rope           qk_norm post_norms gemma  moe    rope base    rms eps */
    {"llama",    ADM_ARCH_LLAMA,    ADM_ROPE_NORM, false, false,     false, false, 10000.0f,   1e-5f},
    {"qwen2",    ADM_ARCH_QWEN2,    ADM_ROPE_NEOX, false, false,     false, false, 1000000.0f, 1e-6f},
    {"qwen3",    ADM_ARCH_QWEN3,    ADM_ROPE_NEOX, true,  false,     false, false, 1000000.0f, 1e-6f},
    {"qwen3moe", ADM_ARCH_QWEN3MOE, ADM_ROPE_NEOX, true,  false,     false, true,  1000000.0f, 1e-6f},
    {"gemma2",   ADM_ARCH_GEMMA2,   ADM_ROPE_NEOX, false, true,      true,  false, 10000.0f,   1e-6f},
    {"gemma3",   ADM_ARCH_GEMMA3,   ADM_ROPE_NEOX, true,  true,      true,  false, 10000.0f,   1e-6f},
    {"phi3",     ADM_ARCH_PHI3,     ADM_ROPE_NEOX, false, false,     false, false, 10000.0f,   1e-5f},
};

const adm_arch *adm_arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof(k_archs) / sizeof(k_archs[0]); i++)
        if (strlen(k_archs[i].name) == len && memcmp(k_archs[i].name, name, len) == 0) return &k_archs[i];
    return NULL;
}

const char *adm_arch_supported(void) {
    return "llama (Llama 2/3.x, Mistral, TinyLlama, SmolLM), qwen2, qwen3, qwen3moe (Qwen3-30B-A3B), gemma2, gemma3, "
           "phi3 "
           "(Phi-3, Phi-4-mini)";
}
