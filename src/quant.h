/*
 * quant.h - the weight and activation block formats, bit-identical to ggml's
 * (so GGUF files written by llama.cpp load unchanged), and their traits.
 *
 * A row of n values of a block type is n / block_size consecutive blocks.
 * Each weight type is multiplied against activations quantized to its
 * "dot type" (Q8_0, Q8_1 or Q8_K, or F16/BF16/F32 for float weights), the
 * same pairing ggml uses, so results match llama.cpp's.
 */
#ifndef ADM_QUANT_H
#define ADM_QUANT_H

#include "base.h"

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef uint16_t adm_f16;  /* IEEE half, raw bits */
typedef uint16_t adm_bf16; /* bfloat16, raw bits */

typedef struct { adm_f16 d; uint8_t qs[QK4_0 / 2]; } block_q4_0;
typedef struct { adm_f16 d, m; uint8_t qs[QK4_1 / 2]; } block_q4_1;
typedef struct { adm_f16 d; uint8_t qh[4]; uint8_t qs[QK5_0 / 2]; } block_q5_0;
typedef struct { adm_f16 d, m; uint8_t qh[4]; uint8_t qs[QK5_1 / 2]; } block_q5_1;
typedef struct { adm_f16 d; int8_t qs[QK8_0]; } block_q8_0;
typedef struct { adm_f16 d, s; int8_t qs[QK8_1]; } block_q8_1; /* s = d * sum(qs) */

/* K-quants: super-blocks of 256 with 16 or 8 sub-block scales. */
typedef struct { uint8_t scales[QK_K / 16]; uint8_t qs[QK_K / 4]; adm_f16 d, dmin; } block_q2_K;
typedef struct { uint8_t hmask[QK_K / 8]; uint8_t qs[QK_K / 4]; uint8_t scales[12]; adm_f16 d; } block_q3_K;
typedef struct { adm_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qs[QK_K / 2]; } block_q4_K;
typedef struct { adm_f16 d, dmin; uint8_t scales[K_SCALE_SIZE]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; } block_q5_K;
typedef struct { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; adm_f16 d; } block_q6_K;
typedef struct { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; } block_q8_K;

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 layout");
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 layout");
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 layout");
_Static_assert(sizeof(block_q5_1) == 24, "block_q5_1 layout");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 layout");
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 layout");
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K layout");
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K layout");
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K layout");
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K layout");
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K layout");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K layout");

/* Static facts about a type; kernels live in kernels/kernels.h. */
typedef struct adm_type_traits {
    const char *name;      /* NULL: type unknown to adamas */
    int block_size;        /* values per block */
    size_t type_size;      /* bytes per block */
    bool is_quantized;
    adm_type dot_type;     /* activation format for products with this weight type */
} adm_type_traits;

const adm_type_traits *adm_type_get_traits(adm_type t);
/* True if t is a type adamas can store weights in. */
bool adm_type_is_supported(adm_type t);
/* Bytes of a row of n values (n must be a multiple of the block size). */
size_t adm_row_size(adm_type t, int64_t n);

/* Scalar half/bfloat conversions, exact (round to nearest even). */
float adm_f16_to_f32(adm_f16 h);
adm_f16 adm_f32_to_f16(float f);
static inline float adm_bf16_to_f32(adm_bf16 h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
adm_bf16 adm_f32_to_bf16(float f);

/* Reference (scalar) conversions of one row of n values. These define the
 * formats; the SIMD kernels are tested against them.
 *   dequantize: any supported type -> f32
 *   quantize:   f32 -> any supported type (for weights: a simple, good
 *               quality rounding; for activations: exactly ggml's method) */
void adm_dequantize_row(adm_type t, const void *src, float *dst, int64_t n);
void adm_quantize_row(adm_type t, const float *src, void *dst, int64_t n);

/* Q8_0 weights as ggml's reference writes them; Q8_0/Q8_1 activations as
 * llama.cpp's x86 backend quantizes them (the scalar kernels' from_float);
 * Q8_K activations (ggml's reference, also its x86 form). */
void adm_quantize_row_q8_0_ref(const float *x, block_q8_0 *y, int64_t n);
void adm_quantize_act_q8_0(const float *x, block_q8_0 *y, int64_t n);
void adm_quantize_act_q8_1(const float *x, block_q8_1 *y, int64_t n);
void adm_quantize_row_q8_K_ref(const float *x, block_q8_K *y, int64_t n);

/* The 6-bit scale/min pairs packed into 12 bytes for Q4_K and Q5_K. */
static inline void adm_get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

/* Unpacks Q3_K's 16 6-bit scales (stored biased by 32) into signed bytes. */
void adm_q3_K_unpack_scales(const uint8_t packed[12], int8_t out[16]);

#endif
