/*
 * quant.c - reference (scalar, obviously correct) conversions between f32
 * and every block format. Dequantization defines what a file's bytes mean;
 * the activation quantizers (Q8_0, Q8_1, Q8_K) reproduce ggml's rounding so
 * products match llama.cpp's. Weight quantizers are simple round-to-nearest
 * schemes used by the random-model generator and tests; they write valid
 * blocks but make no attempt to match llama-quantize's error minimization.
 */
#include "quant.h"

#include <math.h>

static const adm_type_traits k_traits[ADM_TYPE_COUNT] = {
    [ADM_TYPE_F32] = {"f32", 1, 4, false, ADM_TYPE_F32},
    [ADM_TYPE_F16] = {"f16", 1, 2, false, ADM_TYPE_F16},
    [ADM_TYPE_BF16] = {"bf16", 1, 2, false, ADM_TYPE_BF16},
    [ADM_TYPE_Q4_0] = {"q4_0", QK4_0, sizeof(block_q4_0), true, ADM_TYPE_Q8_0},
    [ADM_TYPE_Q4_1] = {"q4_1", QK4_1, sizeof(block_q4_1), true, ADM_TYPE_Q8_1},
    [ADM_TYPE_Q5_0] = {"q5_0", QK5_0, sizeof(block_q5_0), true, ADM_TYPE_Q8_0},
    [ADM_TYPE_Q5_1] = {"q5_1", QK5_1, sizeof(block_q5_1), true, ADM_TYPE_Q8_1},
    [ADM_TYPE_Q8_0] = {"q8_0", QK8_0, sizeof(block_q8_0), true, ADM_TYPE_Q8_0},
    [ADM_TYPE_Q8_1] = {"q8_1", QK8_1, sizeof(block_q8_1), true, ADM_TYPE_Q8_1},
    [ADM_TYPE_Q2_K] = {"q2_k", QK_K, sizeof(block_q2_K), true, ADM_TYPE_Q8_K},
    [ADM_TYPE_Q3_K] = {"q3_k", QK_K, sizeof(block_q3_K), true, ADM_TYPE_Q8_K},
    [ADM_TYPE_Q4_K] = {"q4_k", QK_K, sizeof(block_q4_K), true, ADM_TYPE_Q8_K},
    [ADM_TYPE_Q5_K] = {"q5_k", QK_K, sizeof(block_q5_K), true, ADM_TYPE_Q8_K},
    [ADM_TYPE_Q6_K] = {"q6_k", QK_K, sizeof(block_q6_K), true, ADM_TYPE_Q8_K},
    [ADM_TYPE_Q8_K] = {"q8_k", QK_K, sizeof(block_q8_K), true, ADM_TYPE_Q8_K},
};

static const adm_type_traits k_unknown = {NULL, 1, 0, false, ADM_TYPE_F32};

const adm_type_traits *adm_type_get_traits(adm_type t) {
    if ((unsigned)t >= ADM_TYPE_COUNT || !k_traits[t].name) return &k_unknown;
    return &k_traits[t];
}

bool adm_type_is_supported(adm_type t) {
    return adm_type_get_traits(t)->name != NULL && t != ADM_TYPE_Q8_1 && t != ADM_TYPE_Q8_K;
}

const char *adm_type_name(adm_type t) { return adm_type_get_traits(t)->name; }

bool adm_type_from_name(const char *name, adm_type *out) {
    for (int t = 0; t < ADM_TYPE_COUNT; t++) {
        const char *n = k_traits[t].name;
        if (!n) continue;
        size_t i = 0;
        while (n[i] && name[i] && (name[i] | 0x20) == (n[i] | 0x20)) i++;
        if (!n[i] && !name[i]) {
            *out = (adm_type)t;
            return true;
        }
    }
    return false;
}

int adm_type_block_size(adm_type t) { return adm_type_get_traits(t)->block_size; }
size_t adm_type_row_size(adm_type t, int64_t n) { return adm_row_size(t, n); }
void adm_quantize(adm_type t, const float *src, void *dst, int64_t n) { adm_quantize_row(t, src, dst, n); }
void adm_dequantize(adm_type t, const void *src, float *dst, int64_t n) { adm_dequantize_row(t, src, dst, n); }

size_t adm_row_size(adm_type t, int64_t n) {
    const adm_type_traits *tr = adm_type_get_traits(t);
    return (size_t)(n / tr->block_size) * tr->type_size;
}

/* ---- half and bfloat ---- */

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float adm_f16_to_f32(adm_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0) {
        float v = (float)m * 0x1p-24f; /* zero or subnormal: exact */
        return sign ? -v : v;
    }
    if (e == 31) return f32_from_bits(sign | 0x7f800000u | (m << 13));
    return f32_from_bits(sign | ((e + 112) << 23) | (m << 13));
}

adm_f16 adm_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    x &= 0x7fffffff;
    if (x >= 0x7f800000) return (adm_f16)(sign | 0x7c00 | (x > 0x7f800000 ? 0x200 : 0));
    if (x >= 0x47800000) return (adm_f16)(sign | 0x7c00); /* >= 65536: infinity */
    int e = (int)(x >> 23) - 127;
    if (e >= -14) {
        uint32_t m = x & 0x7fffff;
        uint32_t h = ((uint32_t)(e + 15) << 10) | (m >> 13);
        uint32_t rem = m & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++; /* a carry into the exponent is correct */
        return (adm_f16)(sign | h);
    }
    if (e < -25) return (adm_f16)sign;
    uint32_t mf = (x & 0x7fffff) | 0x800000;
    int shift = -e - 1;
    uint32_t k = mf >> shift, rem = mf & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (k & 1))) k++;
    return (adm_f16)(sign | k);
}

adm_bf16 adm_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return (adm_bf16)((u >> 16) | 64); /* quiet NaN */
    return (adm_bf16)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

/* Round half to even, like ggml's nearest_int (which uses a float trick). */
static inline int nearest_int(float x) { return (int)lrintf(x); }

/* ---- Q8 quantizers: the weight reference and the activation forms ---- */

/* Q8_0 as ggml's reference quantizer writes it (1 / d, half away from
 * zero): what llama-quantize stores for Q8_0 weights. */
void adm_quantize_row_q8_0_ref(const float *x, block_q8_0 *y, int64_t n) {
    for (int64_t i = 0; i < n / QK8_0; i++) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(x[i * QK8_0 + j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = adm_f32_to_f16(d);
        for (int j = 0; j < QK8_0; j++) y[i].qs[j] = (int8_t)roundf(x[i * QK8_0 + j] * id);
    }
}

/* Activations in Q8_0/Q8_1 as llama.cpp's x86 CPU backend quantizes them
 * before a product (and a q8_0 KV cache): multiplier 127 / amax, rounded
 * half to even. It differs from the reference above in the last bit of
 * some codes, which is enough to move logits. */
static void quantize_act_q8(const float *x, uint8_t *y, int64_t n, bool with_sum) {
    const size_t bs = with_sum ? sizeof(block_q8_1) : sizeof(block_q8_0);
    for (int64_t i = 0; i < n / 32; i++, x += 32, y += bs) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int8_t *qs = (int8_t *)(y + (with_sum ? 4 : 2));
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += qs[j] = (int8_t)nearest_int(x[j] * id);
        const adm_f16 dh = adm_f32_to_f16(d);
        memcpy(y, &dh, 2);
        if (with_sum) {
            const adm_f16 sh = adm_f32_to_f16((float)sum * d);
            memcpy(y + 2, &sh, 2);
        }
    }
}

void adm_quantize_act_q8_0(const float *x, block_q8_0 *y, int64_t n) { quantize_act_q8(x, (uint8_t *)y, n, false); }
void adm_quantize_act_q8_1(const float *x, block_q8_1 *y, int64_t n) { quantize_act_q8(x, (uint8_t *)y, n, true); }

void adm_quantize_row_q8_K_ref(const float *x, block_q8_K *y, int64_t n) {
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            float ax = fabsf(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[i], 0, sizeof(y[i]));
            continue;
        }
        /* The largest-magnitude value maps to -127 (ggml's convention). */
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = (int8_t)ADM_MIN(127, v);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int k = 0; k < 16; k++) sum += y[i].qs[j * 16 + k];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

/* ---- dequantization (defines the formats) ---- */

static void deq_q4_0(const block_q4_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK4_0) {
        const float d = adm_f16_to_f32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = (float)((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + QK4_0 / 2] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void deq_q4_1(const block_q4_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK4_1) {
        const float d = adm_f16_to_f32(x[i].d), m = adm_f16_to_f32(x[i].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = (float)(x[i].qs[j] & 0x0F) * d + m;
            y[j + QK4_1 / 2] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

static void deq_q5_0(const block_q5_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK5_0) {
        const float d = adm_f16_to_f32(x[i].d);
        const uint32_t qh = adm_rd_u32(x[i].qh);
        for (int j = 0; j < QK5_0 / 2; j++) {
            const int x0 = (int)((x[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16;
            const int x1 = (int)((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
            y[j] = (float)x0 * d;
            y[j + QK5_0 / 2] = (float)x1 * d;
        }
    }
}

static void deq_q5_1(const block_q5_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK5_1) {
        const float d = adm_f16_to_f32(x[i].d), m = adm_f16_to_f32(x[i].m);
        const uint32_t qh = adm_rd_u32(x[i].qh);
        for (int j = 0; j < QK5_1 / 2; j++) {
            const int x0 = (int)((x[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4));
            const int x1 = (int)((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
            y[j] = (float)x0 * d + m;
            y[j + QK5_1 / 2] = (float)x1 * d + m;
        }
    }
}

static void deq_q8_0(const block_q8_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK8_0) {
        const float d = adm_f16_to_f32(x[i].d);
        for (int j = 0; j < QK8_0; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

static void deq_q8_1(const block_q8_1 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK8_1) {
        const float d = adm_f16_to_f32(x[i].d);
        for (int j = 0; j < QK8_1; j++) y[j] = (float)x[i].qs[j] * d;
    }
}

/* Q2_K and Q3_K share a layout: element 128*h + 32*j + l (h < 2, j < 4,
 * l < 32) is bits 2j..2j+1 of qs[32*h + l]; its sub-block is 8*h + 2*j + l/16. */
static void deq_q2_K(const block_q2_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = adm_f16_to_f32(x[i].d), dmin = adm_f16_to_f32(x[i].dmin);
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, j = (e % 128) / 32, l = e % 32;
            const int sc = x[i].scales[8 * h + 2 * j + l / 16];
            const int q = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
            y[e] = d * (float)(sc & 0xF) * (float)q - dmin * (float)(sc >> 4);
        }
        y += QK_K;
    }
}

void adm_q3_K_unpack_scales(const uint8_t packed[12], int8_t out[16]) {
    for (int j = 0; j < 16; j++) {
        int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
        int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)((low | (high << 4)) - 32);
    }
}

static void deq_q3_K(const block_q3_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = adm_f16_to_f32(x[i].d);
        int8_t sc[16];
        adm_q3_K_unpack_scales(x[i].scales, sc);
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, j = (e % 128) / 32, l = e % 32;
            const int q = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
            const int hi = (x[i].hmask[l] >> (4 * h + j)) & 1;
            y[e] = d * (float)sc[8 * h + 2 * j + l / 16] * (float)(q - (hi ? 0 : 4));
        }
        y += QK_K;
    }
}

/* Q4_K/Q5_K: element 64*j + 32*s + l uses sub-block 2*j + s and the low
 * (s = 0) or high (s = 1) nibble of qs[32*j + l]; Q5_K's fifth bit is bit
 * 2*j + s of qh[l] (qh is NULL for Q4_K). */
static void deq_k_scale_min(adm_f16 dh, adm_f16 dminh, const uint8_t *scales, const uint8_t *qs, const uint8_t *qh,
                            float *y) {
    const float d = adm_f16_to_f32(dh), dmin = adm_f16_to_f32(dminh);
    for (int e = 0; e < QK_K; e++) {
        const int j = e / 64, s = (e % 64) / 32, l = e % 32;
        uint8_t sc, m;
        adm_get_scale_min_k4(2 * j + s, scales, &sc, &m);
        int q = (qs[32 * j + l] >> (4 * s)) & 0xF;
        if (qh) q |= ((qh[l] >> (2 * j + s)) & 1) << 4;
        y[e] = d * (float)sc * (float)q - dmin * (float)m;
    }
}

static void deq_q4_K(const block_q4_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K) deq_k_scale_min(x[i].d, x[i].dmin, x[i].scales, x[i].qs, NULL, y);
}

static void deq_q5_K(const block_q5_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K) deq_k_scale_min(x[i].d, x[i].dmin, x[i].scales, x[i].qs, x[i].qh, y);
}

/* Q6_K: element 128*h + 32*k + l (k < 4): low nibble of ql[64h + l + 32*(k&1)]
 * (k < 2) or high nibble (k >= 2), 2 high bits at 2k of qh[32h + l], scale
 * index 8h + 2k + l/16. */
static void deq_q6_K(const block_q6_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = adm_f16_to_f32(x[i].d);
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, k = (e % 128) / 32, l = e % 32;
            const int lo = (x[i].ql[64 * h + l + 32 * (k & 1)] >> (4 * (k >> 1))) & 0xF;
            const int hi = (x[i].qh[32 * h + l] >> (2 * k)) & 3;
            y[e] = d * (float)x[i].scales[8 * h + 2 * k + l / 16] * (float)((lo | (hi << 4)) - 32);
        }
        y += QK_K;
    }
}

static void deq_q8_K(const block_q8_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, y += QK_K)
        for (int j = 0; j < QK_K; j++) y[j] = x[i].d * (float)x[i].qs[j];
}

void adm_dequantize_row(adm_type t, const void *src, float *dst, int64_t n) {
    const int64_t nb = n / adm_type_get_traits(t)->block_size;
    switch (t) {
    case ADM_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case ADM_TYPE_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = adm_f16_to_f32(adm_rd_u16((const uint8_t *)src + 2 * i));
        break;
    case ADM_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = adm_bf16_to_f32(adm_rd_u16((const uint8_t *)src + 2 * i));
        break;
    case ADM_TYPE_Q4_0: deq_q4_0(src, dst, nb); break;
    case ADM_TYPE_Q4_1: deq_q4_1(src, dst, nb); break;
    case ADM_TYPE_Q5_0: deq_q5_0(src, dst, nb); break;
    case ADM_TYPE_Q5_1: deq_q5_1(src, dst, nb); break;
    case ADM_TYPE_Q8_0: deq_q8_0(src, dst, nb); break;
    case ADM_TYPE_Q8_1: deq_q8_1(src, dst, nb); break;
    case ADM_TYPE_Q2_K: deq_q2_K(src, dst, nb); break;
    case ADM_TYPE_Q3_K: deq_q3_K(src, dst, nb); break;
    case ADM_TYPE_Q4_K: deq_q4_K(src, dst, nb); break;
    case ADM_TYPE_Q5_K: deq_q5_K(src, dst, nb); break;
    case ADM_TYPE_Q6_K: deq_q6_K(src, dst, nb); break;
    case ADM_TYPE_Q8_K: deq_q8_K(src, dst, nb); break;
    default: memset(dst, 0, (size_t)n * sizeof(float)); break;
    }
}

/* ---- weight quantizers (round to nearest; for generated models and tests) ---- */

/* Value with the largest magnitude, keeping its sign. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void minmax(const float *x, int n, float *mn, float *mx) {
    *mn = x[0];
    *mx = x[0];
    for (int j = 1; j < n; j++) {
        *mn = fminf(*mn, x[j]);
        *mx = fmaxf(*mx, x[j]);
    }
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void q_q4_0(const float *x, block_q4_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK4_0) {
        const float d = signed_absmax(x, QK4_0) / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = adm_f32_to_f16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            int a = clampi(nearest_int(x[j] * id) + 8, 0, 15), b = clampi(nearest_int(x[j + 16] * id) + 8, 0, 15);
            y[i].qs[j] = (uint8_t)(a | (b << 4));
        }
    }
}

static void q_q4_1(const float *x, block_q4_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK4_1) {
        float mn, mx;
        minmax(x, QK4_1, &mn, &mx);
        const float d = (mx - mn) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = adm_f32_to_f16(d);
        y[i].m = adm_f32_to_f16(mn);
        for (int j = 0; j < QK4_1 / 2; j++) {
            int a = clampi(nearest_int((x[j] - mn) * id), 0, 15), b = clampi(nearest_int((x[j + 16] - mn) * id), 0, 15);
            y[i].qs[j] = (uint8_t)(a | (b << 4));
        }
    }
}

static void q_q5_0(const float *x, block_q5_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK5_0) {
        const float d = signed_absmax(x, QK5_0) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = adm_f32_to_f16(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int a = clampi(nearest_int(x[j] * id) + 16, 0, 31), b = clampi(nearest_int(x[j + 16] * id) + 16, 0, 31);
            y[i].qs[j] = (uint8_t)((a & 0xF) | ((b & 0xF) << 4));
            qh |= (uint32_t)(a >> 4) << j;
            qh |= (uint32_t)(b >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void q_q5_1(const float *x, block_q5_1 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK5_1) {
        float mn, mx;
        minmax(x, QK5_1, &mn, &mx);
        const float d = (mx - mn) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = adm_f32_to_f16(d);
        y[i].m = adm_f32_to_f16(mn);
        uint32_t qh = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            int a = clampi(nearest_int((x[j] - mn) * id), 0, 31), b = clampi(nearest_int((x[j + 16] - mn) * id), 0, 31);
            y[i].qs[j] = (uint8_t)((a & 0xF) | ((b & 0xF) << 4));
            qh |= (uint32_t)(a >> 4) << j;
            qh |= (uint32_t)(b >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

static void q_q8_0(const float *x, block_q8_0 *y, int64_t nb) { adm_quantize_row_q8_0_ref(x, y, nb * QK8_0); }

/* Sub-block scale s and offset m (x ~ s*q - m, m >= 0) for unsigned codes 0..qmax. */
static void sub_scale_min(const float *x, int n, int qmax, float *s, float *m) {
    float mn, mx;
    minmax(x, n, &mn, &mx);
    if (mn > 0.0f) mn = 0.0f;
    *s = (mx - mn) / (float)qmax;
    *m = -mn;
}

static void q_q2_K(const float *x, block_q2_K *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float s[16], m[16], smax = 0.0f, mmax = 0.0f;
        for (int b = 0; b < 16; b++) {
            sub_scale_min(x + 16 * b, 16, 3, &s[b], &m[b]);
            smax = fmaxf(smax, s[b]);
            mmax = fmaxf(mmax, m[b]);
        }
        const float d = smax / 15.0f, dmin = mmax / 15.0f;
        y[i].d = adm_f32_to_f16(d);
        y[i].dmin = adm_f32_to_f16(dmin);
        const float dq = adm_f16_to_f32(y[i].d), dmq = adm_f16_to_f32(y[i].dmin);
        memset(y[i].qs, 0, sizeof(y[i].qs));
        int ls[16], lm[16];
        for (int b = 0; b < 16; b++) {
            ls[b] = dq > 0.0f ? clampi(nearest_int(s[b] / dq), 0, 15) : 0;
            lm[b] = dmq > 0.0f ? clampi(nearest_int(m[b] / dmq), 0, 15) : 0;
            y[i].scales[b] = (uint8_t)(ls[b] | (lm[b] << 4));
        }
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, j = (e % 128) / 32, l = e % 32, b = 8 * h + 2 * j + l / 16;
            const float sc = dq * (float)ls[b], mm = dmq * (float)lm[b];
            const int q = sc > 0.0f ? clampi(nearest_int((x[e] + mm) / sc), 0, 3) : 0;
            y[i].qs[32 * h + l] |= (uint8_t)(q << (2 * j));
        }
    }
}

static void q_q3_K(const float *x, block_q3_K *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float s[16], smax = 0.0f, sabs = 0.0f;
        for (int b = 0; b < 16; b++) {
            s[b] = signed_absmax(x + 16 * b, 16) / -4.0f;
            if (fabsf(s[b]) > sabs) {
                sabs = fabsf(s[b]);
                smax = s[b];
            }
        }
        const float d = smax / -32.0f;
        y[i].d = adm_f32_to_f16(d);
        const float dq = adm_f16_to_f32(y[i].d);
        int ls[16];
        memset(y[i].scales, 0, sizeof(y[i].scales));
        for (int b = 0; b < 16; b++) {
            ls[b] = dq != 0.0f ? clampi(nearest_int(s[b] / dq), -32, 31) : 0;
            const int l = ls[b] + 32;
            if (b < 8) y[i].scales[b] = (uint8_t)(l & 0xF);
            else y[i].scales[b - 8] |= (uint8_t)((l & 0xF) << 4);
            y[i].scales[8 + b % 4] |= (uint8_t)((l >> 4) << (2 * (b / 4)));
        }
        memset(y[i].qs, 0, sizeof(y[i].qs));
        memset(y[i].hmask, 0, sizeof(y[i].hmask));
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, j = (e % 128) / 32, l = e % 32, b = 8 * h + 2 * j + l / 16;
            const float sc = dq * (float)ls[b];
            const int q = (sc != 0.0f ? clampi(nearest_int(x[e] / sc), -4, 3) : 0) + 4;
            y[i].qs[32 * h + l] |= (uint8_t)((q & 3) << (2 * j));
            if (q >= 4) y[i].hmask[l] |= (uint8_t)(1 << (4 * h + j));
        }
    }
}

static void pack_scale_min_k4(uint8_t *scales, const int *ls, const int *lm) {
    memset(scales, 0, K_SCALE_SIZE);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            scales[j] = (uint8_t)ls[j];
            scales[j + 4] = (uint8_t)lm[j];
        } else {
            scales[j + 4] = (uint8_t)((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            scales[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            scales[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Shared by Q4_K (qmax 15) and Q5_K (qmax 31): 8 sub-blocks of 32 with
 * 6-bit scales and mins. Writes the codes into q[256]. */
static void q_k_scale_min(const float *x, int qmax, adm_f16 *d_out, adm_f16 *dmin_out, uint8_t *scales, uint8_t *q) {
    float s[8], m[8], smax = 0.0f, mmax = 0.0f;
    for (int b = 0; b < 8; b++) {
        sub_scale_min(x + 32 * b, 32, qmax, &s[b], &m[b]);
        smax = fmaxf(smax, s[b]);
        mmax = fmaxf(mmax, m[b]);
    }
    *d_out = adm_f32_to_f16(smax / 63.0f);
    *dmin_out = adm_f32_to_f16(mmax / 63.0f);
    const float dq = adm_f16_to_f32(*d_out), dmq = adm_f16_to_f32(*dmin_out);
    int ls[8], lm[8];
    for (int b = 0; b < 8; b++) {
        ls[b] = dq > 0.0f ? clampi(nearest_int(s[b] / dq), 0, 63) : 0;
        lm[b] = dmq > 0.0f ? clampi(nearest_int(m[b] / dmq), 0, 63) : 0;
    }
    pack_scale_min_k4(scales, ls, lm);
    for (int e = 0; e < QK_K; e++) {
        const int b = e / 32;
        const float sc = dq * (float)ls[b], mm = dmq * (float)lm[b];
        q[e] = (uint8_t)(sc > 0.0f ? clampi(nearest_int((x[e] + mm) / sc), 0, qmax) : 0);
    }
}

static void q_q4_K(const float *x, block_q4_K *y, int64_t nb) {
    uint8_t q[QK_K];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        q_k_scale_min(x, 15, &y[i].d, &y[i].dmin, y[i].scales, q);
        for (int j = 0; j < 4; j++)
            for (int l = 0; l < 32; l++) y[i].qs[32 * j + l] = (uint8_t)(q[64 * j + l] | (q[64 * j + 32 + l] << 4));
    }
}

static void q_q5_K(const float *x, block_q5_K *y, int64_t nb) {
    uint8_t q[QK_K];
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        q_k_scale_min(x, 31, &y[i].d, &y[i].dmin, y[i].scales, q);
        memset(y[i].qh, 0, sizeof(y[i].qh));
        for (int j = 0; j < 4; j++) {
            for (int l = 0; l < 32; l++) {
                const int a = q[64 * j + l], b = q[64 * j + 32 + l];
                y[i].qs[32 * j + l] = (uint8_t)((a & 0xF) | ((b & 0xF) << 4));
                y[i].qh[l] |= (uint8_t)(((a >> 4) << (2 * j)) | ((b >> 4) << (2 * j + 1)));
            }
        }
    }
}

static void q_q6_K(const float *x, block_q6_K *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK_K) {
        float s[16], smax = 0.0f, sabs = 0.0f;
        for (int b = 0; b < 16; b++) {
            s[b] = signed_absmax(x + 16 * b, 16) / -32.0f;
            if (fabsf(s[b]) > sabs) {
                sabs = fabsf(s[b]);
                smax = s[b];
            }
        }
        const float d = smax / -128.0f;
        y[i].d = adm_f32_to_f16(d);
        const float dq = adm_f16_to_f32(y[i].d);
        for (int b = 0; b < 16; b++) y[i].scales[b] = (int8_t)(dq != 0.0f ? clampi(nearest_int(s[b] / dq), -128, 127) : 0);
        memset(y[i].ql, 0, sizeof(y[i].ql));
        memset(y[i].qh, 0, sizeof(y[i].qh));
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, k = (e % 128) / 32, l = e % 32;
            const float sc = dq * (float)y[i].scales[8 * h + 2 * k + l / 16];
            const int q = (sc != 0.0f ? clampi(nearest_int(x[e] / sc), -32, 31) : 0) + 32;
            y[i].ql[64 * h + l + 32 * (k & 1)] |= (uint8_t)((q & 0xF) << (4 * (k >> 1)));
            y[i].qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * k));
        }
    }
}

void adm_quantize_row(adm_type t, const float *src, void *dst, int64_t n) {
    const int64_t nb = n / adm_type_get_traits(t)->block_size;
    uint8_t *d8 = dst;
    switch (t) {
    case ADM_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case ADM_TYPE_F16:
        for (int64_t i = 0; i < n; i++) {
            adm_f16 h = adm_f32_to_f16(src[i]);
            memcpy(d8 + 2 * i, &h, 2);
        }
        break;
    case ADM_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            adm_bf16 h = adm_f32_to_bf16(src[i]);
            memcpy(d8 + 2 * i, &h, 2);
        }
        break;
    case ADM_TYPE_Q4_0: q_q4_0(src, dst, nb); break;
    case ADM_TYPE_Q4_1: q_q4_1(src, dst, nb); break;
    case ADM_TYPE_Q5_0: q_q5_0(src, dst, nb); break;
    case ADM_TYPE_Q5_1: q_q5_1(src, dst, nb); break;
    case ADM_TYPE_Q8_0: q_q8_0(src, dst, nb); break;
    case ADM_TYPE_Q8_1: adm_quantize_act_q8_1(src, dst, n); break;
    case ADM_TYPE_Q2_K: q_q2_K(src, dst, nb); break;
    case ADM_TYPE_Q3_K: q_q3_K(src, dst, nb); break;
    case ADM_TYPE_Q4_K: q_q4_K(src, dst, nb); break;
    case ADM_TYPE_Q5_K: q_q5_K(src, dst, nb); break;
    case ADM_TYPE_Q6_K: q_q6_K(src, dst, nb); break;
    case ADM_TYPE_Q8_K: adm_quantize_row_q8_K_ref(src, dst, n); break;
    default: break;
    }
}
