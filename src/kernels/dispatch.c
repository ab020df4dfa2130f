/*
 * dispatch.c - choose the kernel table once per process from CPUID (through
 * the compiler's __builtin_cpu_supports) and the ADM_ISA override. This and
 * the log sink are the only process-wide state; both are write-once.
 */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static adm_kernels g_scalar, g_avx2, g_avx512;
static const adm_kernels *g_best;
static bool g_have_avx2, g_have_avx512;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

#if defined(ADM_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
/* F16C is not a feature name clang's __builtin_cpu_supports knows: ask CPUID. */
static bool cpu_has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

static bool cpu_has_avx2(void) {
#if defined(ADM_HAVE_AVX2) && (defined(__x86_64__) || defined(__i386__))
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
#else
    return false;
#endif
}

static bool cpu_has_avx512(void) {
#if defined(ADM_HAVE_AVX512) && (defined(__x86_64__) || defined(__i386__))
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

static void init_tables(void) {
    adm_kernels_fill_scalar(&g_scalar);
    g_best = &g_scalar;
    if (cpu_has_avx2()) {
#ifdef ADM_HAVE_AVX2
        adm_kernels_init_avx2(&g_avx2);
#ifdef ADM_HAVE_ATTN_AVX2
        adm_kernels_init_attn_avx2(&g_avx2);
#endif
        g_have_avx2 = true;
        g_best = &g_avx2;
#endif
    }
    if (cpu_has_avx512()) {
#ifdef ADM_HAVE_AVX512
        adm_kernels_init_avx512(&g_avx512);
#ifdef ADM_HAVE_ATTN_AVX512
        adm_kernels_init_attn_avx512(&g_avx512);
#endif
        g_have_avx512 = true;
        g_best = &g_avx512;
#endif
    }
    const char *want = getenv("ADM_ISA");
    if (want) {
        if (strcmp(want, "scalar") == 0) g_best = &g_scalar;
        else if (strcmp(want, "avx2") == 0 && g_have_avx2) g_best = &g_avx2;
    }
}

const adm_kernels *adm_kernels_get(void) {
    pthread_once(&g_once, init_tables);
    return g_best;
}

const adm_kernels *adm_kernels_scalar(void) {
    pthread_once(&g_once, init_tables);
    return &g_scalar;
}

const adm_kernels *adm_kernels_avx2(void) {
    pthread_once(&g_once, init_tables);
    return g_have_avx2 ? &g_avx2 : NULL;
}

const adm_kernels *adm_kernels_avx512(void) {
    pthread_once(&g_once, init_tables);
    return g_have_avx512 ? &g_avx512 : NULL;
}

const char *adm_isa_name(void) { return adm_kernels_get()->name; }

void adm_kernels_with_block_sums(const adm_kernels *k, adm_kernels *out) {
    *out = *k;
    for (int t = 0; t < ADM_TYPE_COUNT; t++)
        if (k->prep_bsum[t] && k->gemm_bsum[t]) {
            out->prep[t] = k->prep_bsum[t];
            out->gemm_prep[t] = k->gemm_bsum[t];
            out->block_sums = true;
        }
}
