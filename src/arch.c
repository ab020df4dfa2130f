/*
 * arch.c - the table of supported families. Mistral, TinyLlama, SmolLM and
 * Llama 2/3.x files all declare general.architecture = "llama".
 */
#include "arch.h"

static const adm_arch k_archs[] = {
    {"llama", ADM_ARCH_LLAMA, ADM_ROPE_NORM, false, 10000.0f, 1e-5f},
    {"qwen2", ADM_ARCH_QWEN2, ADM_ROPE_NEOX, false, 1000000.0f, 1e-6f},
    {"qwen3", ADM_ARCH_QWEN3, ADM_ROPE_NEOX, true, 1000000.0f, 1e-6f},
};

const adm_arch *adm_arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < sizeof(k_archs) / sizeof(k_archs[0]); i++)
        if (strlen(k_archs[i].name) == len && memcmp(k_archs[i].name, name, len) == 0) return &k_archs[i];
    return NULL;
}

const char *adm_arch_supported(void) { return "llama (Llama 2/3.x, Mistral, TinyLlama, SmolLM), qwen2, qwen3"; }
