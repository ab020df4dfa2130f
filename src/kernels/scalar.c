/*
 * scalar.c - portable reference kernels. Always compiled; the oracle for the
 * SIMD versions and the kernels used on CPUs without AVX2 (or with
 * ADM_ISA=scalar). Integer products are exact; each block's integer sum is
 * scaled in float, the same association ggml's kernels use.
 */
#include "kernels.h"

#include "canonical.h"

#include <math.h>

/* ---- float types: 16 lanes, lane l takes values l, l+16, ... in fused
 * multiply-adds, reduced by adm_reduce16 (the order of one AVX-512
 * accumulator, and of llama.cpp's batched float products). BF16 follows
 * vdpbf16ps: lane l takes the pairs (2l, 2l+1) of every 32 values, the
 * odd value first. Values past n count as zeros. */

static float fl_value(adm_type t, const uint8_t *p, int i) {
    if (t == ADM_TYPE_F32) return adm_rd_f32(p + 4 * (size_t)i);
    if (t == ADM_TYPE_F16) return adm_f16_to_f32(adm_rd_u16(p + 2 * (size_t)i));
    return adm_bf16_to_f32(adm_rd_u16(p + 2 * (size_t)i));
}

static float fl_dot(adm_type t, int n, const uint8_t *x, const uint8_t *y) {
    float acc[16] = {0};
    if (t == ADM_TYPE_BF16) {
        for (int c = 0; c < n; c += 32)
            for (int l = 0; l < 16; l++)
                for (int i = c + 2 * l + 1; i >= c + 2 * l; i--)
                    if (i < n) acc[l] = fmaf(fl_value(t, x, i), fl_value(t, y, i), acc[l]);
    } else {
        for (int i = 0; i < n; i++) acc[i % 16] = fmaf(fl_value(t, x, i), fl_value(t, y, i), acc[i % 16]);
    }
    return adm_reduce16(acc);
}

static void dot_f32_f32(int n, float *s, const void *x, const void *y) { *s = fl_dot(ADM_TYPE_F32, n, x, y); }
static void dot_f16_f16(int n, float *s, const void *x, const void *y) { *s = fl_dot(ADM_TYPE_F16, n, x, y); }
static void dot_bf16_bf16(int n, float *s, const void *x, const void *y) { *s = fl_dot(ADM_TYPE_BF16, n, x, y); }

/* ---- block-32 types: 8 lanes per output, lane k takes the exact integer
 * sum over values 4k..4k+3 of each block, times dx * dy, in a fused
 * multiply-add; Q4_1/Q5_1 then add m * (s / 8) to every lane (dividing by
 * 8 is exact). Reduced by adm_reduce8. This is the order of one 256-bit
 * accumulator, and of llama.cpp's products for Q4_0, Q5_0 and Q8_0. */

/* Value j (0..31) of a block as a signed integer (codes minus the offset
 * for Q4_0/Q5_0, raw codes for the types with a min). */
static int b32_value(adm_type t, const uint8_t *blk, int j) {
    const int lo = j < 16, jj = j & 15;
    switch (t) {
    case ADM_TYPE_Q4_0: return (lo ? blk[2 + jj] & 0xF : blk[2 + jj] >> 4) - 8;
    case ADM_TYPE_Q4_1: return lo ? blk[4 + jj] & 0xF : blk[4 + jj] >> 4;
    case ADM_TYPE_Q5_0:
    case ADM_TYPE_Q5_1: {
        const int qh = t == ADM_TYPE_Q5_0 ? 2 : 4;
        const int v = (lo ? blk[qh + 4 + jj] & 0xF : blk[qh + 4 + jj] >> 4) | (int)((adm_rd_u32(blk + qh) >> j) & 1) << 4;
        return t == ADM_TYPE_Q5_0 ? v - 16 : v;
    }
    default: return (int8_t)blk[2 + j];
    }
}

static void b32_dot(adm_type t, int n, float *s, const uint8_t *x, const uint8_t *y) {
    const bool has_min = t == ADM_TYPE_Q4_1 || t == ADM_TYPE_Q5_1;
    const size_t bx = adm_type_get_traits(t)->type_size, by = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0);
    const int yq = has_min ? 4 : 2; /* offset of the codes in the activation block */
    float acc[8] = {0};
    for (int i = 0; i < n / 32; i++) {
        const uint8_t *xb = x + (size_t)i * bx, *yb = y + (size_t)i * by;
        const float d = adm_f16_to_f32(adm_rd_u16(xb)) * adm_f16_to_f32(adm_rd_u16(yb));
        const float m = has_min ? adm_f16_to_f32(adm_rd_u16(xb + 2)) : 0.0f;
        const float s8 = has_min ? adm_f16_to_f32(adm_rd_u16(yb + 2)) * 0.125f : 0.0f;
        for (int k = 0; k < 8; k++) {
            int sumi = 0;
            for (int j = 4 * k; j < 4 * k + 4; j++) sumi += b32_value(t, xb, j) * (int8_t)yb[yq + j];
            acc[k] = fmaf((float)sumi, d, acc[k]);
            if (has_min) acc[k] = fmaf(m, s8, acc[k]);
        }
    }
    *s = adm_reduce8(acc);
}

static void dot_q4_0(int n, float *s, const void *x, const void *y) { b32_dot(ADM_TYPE_Q4_0, n, s, x, y); }
static void dot_q4_1(int n, float *s, const void *x, const void *y) { b32_dot(ADM_TYPE_Q4_1, n, s, x, y); }
static void dot_q5_0(int n, float *s, const void *x, const void *y) { b32_dot(ADM_TYPE_Q5_0, n, s, x, y); }
static void dot_q5_1(int n, float *s, const void *x, const void *y) { b32_dot(ADM_TYPE_Q5_1, n, s, x, y); }
static void dot_q8_0(int n, float *s, const void *x, const void *y) { b32_dot(ADM_TYPE_Q8_0, n, s, x, y); }

/* Q8_0 in block-sum order (kernels.h): the plain definition every table's
 * gemm_bsum must reproduce bit for bit. A prepared column is the codes of
 * its nb blocks (32 bytes each), then nb int32 values -128 * (sum of the
 * block's codes) (what the SIMD kernels need when they make the weights
 * unsigned), then the nb scales as floats. */
static void prep_bsum_q8_0(int n, const void *va, void *vp) {
    const int nb = n / 32;
    uint8_t *p = vp;
    for (int i = 0; i < nb; i++) {
        const uint8_t *b = (const uint8_t *)va + (size_t)i * sizeof(block_q8_0);
        int sum = 0;
        for (int j = 0; j < 32; j++) sum += (int8_t)b[2 + j];
        memcpy(p + (size_t)i * 32, b + 2, 32);
        const int32_t corr = -128 * sum;
        const float d = adm_f16_to_f32(adm_rd_u16(b));
        memcpy(p + adm_bsum_corr_off(nb) + (size_t)i * 4, &corr, 4);
        memcpy(p + adm_bsum_scale_off(nb) + (size_t)i * 4, &d, 4);
    }
}

static void gemm_bsum_q8_0(int n, int nr, int nc, const void *vw, size_t ws, const void *vp, size_t ps, float *s,
                           size_t lds) {
    const int nb = n / 32;
    for (int c = 0; c < nc; c++) {
        const uint8_t *p = (const uint8_t *)vp + (size_t)c * ps;
        for (int r = 0; r < nr; r++) {
            const uint8_t *w = (const uint8_t *)vw + (size_t)r * ws;
            float acc = 0.0f;
            for (int i = 0; i < nb; i++) {
                const uint8_t *wb = w + (size_t)i * sizeof(block_q8_0);
                const int8_t *x = (const int8_t *)(p + (size_t)i * 32);
                int sumi = 0;
                for (int j = 0; j < 32; j++) sumi += (int8_t)wb[2 + j] * x[j];
                float dx;
                memcpy(&dx, p + adm_bsum_scale_off(nb) + (size_t)i * 4, 4);
                const float d = adm_f16_to_f32(adm_rd_u16(wb)) * dx;
                acc = fmaf((float)sumi, d, acc);
            }
            s[(size_t)c * lds + r] = acc;
        }
    }
}

void adm_pack16_q8_0(int n, int nr, const void *w, size_t w_stride, void *out) {
    const int nb = n / 32;
    uint8_t *o = out, *d = o + adm_pack16_scales_off(n);
    for (int i = 0; i < nb; i++) {
        for (int r = 0; r < 16; r++) {
            const uint8_t *b = (const uint8_t *)w + (size_t)(r < nr ? r : nr - 1) * w_stride + (size_t)i * sizeof(block_q8_0);
            for (int j = 0; j < 8; j++)
                for (int k = 0; k < 4; k++) o[(size_t)i * 512 + 64 * j + 4 * r + k] = (uint8_t)(b[2 + 4 * j + k] ^ 0x80u);
            memcpy(d + (size_t)i * 32 + 2 * r, b, 2);
        }
    }
    memset(d + (size_t)nb * 32, 0, adm_pack16_group_bytes(n) - adm_pack16_scales_off(n) - (size_t)nb * 32);
}

void adm_pack16_rows(int n, int64_t n_rows, const void *w, size_t w_stride, void *out) {
    for (int64_t g = 0; g * 16 < n_rows; g++)
        adm_pack16_q8_0(n, (int)ADM_MIN(16, n_rows - 16 * g), (const uint8_t *)w + (size_t)(16 * g) * w_stride, w_stride,
                        (uint8_t *)out + (size_t)g * adm_pack16_group_bytes(n));
}

/* gemm_bsum over packed weights: the codes come back as u - 128, the
 * scales as in the file; the same integer sums and the same fmaf as
 * gemm_bsum_q8_0. */
static void gemm_pack16_q8_0(int n, int nr, int nc, const void *vpk, const void *vp, size_t ps, float *s, size_t lds) {
    const int nb = n / 32;
    const uint8_t *pk = vpk, *dw16 = pk + adm_pack16_scales_off(n);
    for (int c = 0; c < nc; c++) {
        const uint8_t *p = (const uint8_t *)vp + (size_t)c * ps;
        for (int r = 0; r < nr; r++) {
            float acc = 0.0f;
            for (int i = 0; i < nb; i++) {
                const uint8_t *o = pk + (size_t)i * 512;
                const int8_t *x = (const int8_t *)(p + (size_t)i * 32);
                int sumi = 0;
                for (int j = 0; j < 8; j++)
                    for (int k = 0; k < 4; k++) sumi += ((int)o[64 * j + 4 * r + k] - 128) * x[4 * j + k];
                float dx;
                memcpy(&dx, p + adm_bsum_scale_off(nb) + (size_t)i * 4, 4);
                const float dw = adm_f16_to_f32(adm_rd_u16(dw16 + (size_t)i * 32 + 2 * r));
                acc = fmaf((float)sumi, dw * dx, acc);
            }
            s[(size_t)c * lds + r] = acc;
        }
    }
}

/* The K-quant dots below share one shape: per super-block, an exact integer
 * sum over sub-blocks of (sub-block scale) * (codes . activations), scaled
 * by d_x * d_y; types with a min subtract dmin * (mins . activation sums),
 * where the activation sums come precomputed in Q8_K's bsums. */

static void dot_q2_K(int n, float *s, const void *vx, const void *vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / QK_K; i++) {
        int summ = 0, sumi = 0;
        for (int b = 0; b < 16; b++) summ += y[i].bsums[b] * (x[i].scales[b] >> 4);
        for (int e = 0; e < QK_K; e++) {
            const int h = e / 128, j = (e % 128) / 32, l = e % 32;
            const int q = (x[i].qs[32 * h + l] >> (2 * j)) & 3;
            sumi += (x[i].scales[8 * h + 2 * j + l / 16] & 0xF) * q * y[i].qs[e];
        }
        const float dall = y[i].d * adm_f16_to_f32(x[i].d), dmin = y[i].d * adm_f16_to_f32(x[i].dmin);
        sum += dall * (float)sumi - dmin * (float)summ;
    }
    *s = sum;
}

static void dot_q3_K(int n, float *s, const void *vx, const void *vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / QK_K; i++) {
        int8_t sc[16];
        adm_q3_K_unpack_scales(x[i].scales, sc);
        int sumi = 0;
        for (int b = 0; b < 16; b++) {
            int sb = 0;
            for (int k = 0; k < 16; k++) {
                const int e = 16 * b + k, h = e / 128, j = (e % 128) / 32, l = e % 32;
                const int q = ((x[i].qs[32 * h + l] >> (2 * j)) & 3) - (((x[i].hmask[l] >> (4 * h + j)) & 1) ? 0 : 4);
                sb += q * y[i].qs[e];
            }
            sumi += sc[b] * sb;
        }
        sum += adm_f16_to_f32(x[i].d) * y[i].d * (float)sumi;
    }
    *s = sum;
}

/* One Q4_K/Q5_K super-block against Q8_K (qh NULL for Q4_K): 8 sub-blocks
 * of 32 with 6-bit scales and mins; the mins meet the activation sums. */
static float dot_k_scale_min(adm_f16 dh, adm_f16 dminh, const uint8_t *scales, const uint8_t *qs, const uint8_t *qh,
                             const block_q8_K *y) {
    int sumi = 0, summ = 0;
    for (int b = 0; b < 8; b++) {
        uint8_t sc, m;
        adm_get_scale_min_k4(b, scales, &sc, &m);
        const int j = b / 2, sh = 4 * (b % 2);
        int sb = 0;
        for (int l = 0; l < 32; l++) {
            int q = (qs[32 * j + l] >> sh) & 0xF;
            if (qh) q |= ((qh[l] >> b) & 1) << 4;
            sb += q * y->qs[32 * b + l];
        }
        sumi += sc * sb;
        summ += m * (y->bsums[2 * b] + y->bsums[2 * b + 1]);
    }
    return y->d * (adm_f16_to_f32(dh) * (float)sumi - adm_f16_to_f32(dminh) * (float)summ);
}

static void dot_q4_K(int n, float *s, const void *vx, const void *vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / QK_K; i++) sum += dot_k_scale_min(x[i].d, x[i].dmin, x[i].scales, x[i].qs, NULL, &y[i]);
    *s = sum;
}

static void dot_q5_K(int n, float *s, const void *vx, const void *vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / QK_K; i++) sum += dot_k_scale_min(x[i].d, x[i].dmin, x[i].scales, x[i].qs, x[i].qh, &y[i]);
    *s = sum;
}

static void dot_q6_K(int n, float *s, const void *vx, const void *vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / QK_K; i++) {
        int sumi = 0;
        for (int b = 0; b < 16; b++) {
            int sb = 0;
            for (int k = 0; k < 16; k++) {
                const int e = 16 * b + k, h = e / 128, kk = (e % 128) / 32, l = e % 32;
                const int lo = (x[i].ql[64 * h + l + 32 * (kk & 1)] >> (4 * (kk >> 1))) & 0xF;
                const int hi = (x[i].qh[32 * h + l] >> (2 * kk)) & 3;
                sb += ((lo | (hi << 4)) - 32) * y[i].qs[e];
            }
            sumi += x[i].scales[b] * sb;
        }
        sum += adm_f16_to_f32(x[i].d) * y[i].d * (float)sumi;
    }
    *s = sum;
}

static void from_f32_f16(const float *x, void *vy, int64_t n) { adm_quantize_row(ADM_TYPE_F16, x, vy, n); }
static void from_f32_bf16(const float *x, void *vy, int64_t n) { adm_quantize_row(ADM_TYPE_BF16, x, vy, n); }
static void from_f32_f32(const float *x, void *vy, int64_t n) { memcpy(vy, x, (size_t)n * sizeof(float)); }
static void from_f32_q8_0(const float *x, void *vy, int64_t n) { adm_quantize_act_q8_0(x, vy, n); }
static void from_f32_q8_1(const float *x, void *vy, int64_t n) { adm_quantize_act_q8_1(x, vy, n); }
static void from_f32_q8_K(const float *x, void *vy, int64_t n) { adm_quantize_row_q8_K_ref(x, vy, n); }

#define TO_FLOAT(T, NAME) \
    static void NAME(const void *x, float *y, int64_t n) { adm_dequantize_row(T, x, y, n); }
TO_FLOAT(ADM_TYPE_F32, to_f32_f32)
TO_FLOAT(ADM_TYPE_F16, to_f32_f16)
TO_FLOAT(ADM_TYPE_BF16, to_f32_bf16)
TO_FLOAT(ADM_TYPE_Q4_0, to_f32_q4_0)
TO_FLOAT(ADM_TYPE_Q4_1, to_f32_q4_1)
TO_FLOAT(ADM_TYPE_Q5_0, to_f32_q5_0)
TO_FLOAT(ADM_TYPE_Q5_1, to_f32_q5_1)
TO_FLOAT(ADM_TYPE_Q8_0, to_f32_q8_0)
TO_FLOAT(ADM_TYPE_Q2_K, to_f32_q2_K)
TO_FLOAT(ADM_TYPE_Q3_K, to_f32_q3_K)
TO_FLOAT(ADM_TYPE_Q4_K, to_f32_q4_K)
TO_FLOAT(ADM_TYPE_Q5_K, to_f32_q5_K)
TO_FLOAT(ADM_TYPE_Q6_K, to_f32_q6_K)
#undef TO_FLOAT

static float k_dot_f32(int n, const float *x, const float *y) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += x[i] * y[i];
    return s;
}

static float k_dot_f16_f32(int n, const adm_f16 *x, const float *y) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += adm_f16_to_f32(x[i]) * y[i];
    return s;
}

static void k_axpy_f32(int n, float a, const float *x, float *y) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

static void k_axpy_f16(int n, float a, const adm_f16 *x, float *y) {
    for (int i = 0; i < n; i++) y[i] += a * adm_f16_to_f32(x[i]);
}

static int k_next_above(const float *x, int i0, int n, float t) {
    int i = i0;
    while (i < n && !(x[i] > t)) i++;
    return i;
}

static void k_scale_f32(int n, float a, float *y) {
    for (int i = 0; i < n; i++) y[i] *= a;
}

static void k_attn_qk_f16(const adm_f16 *base, size_t stride, const int32_t *idx, int n, int hk, const float *q, int G,
                          float scale, float *s, int ld) {
    for (int j = 0; j < n; j++) {
        const adm_f16 *k = base + (size_t)(idx ? idx[j] : j) * stride;
        for (int g = 0; g < G; g++) {
            const float *qg = q + (size_t)g * hk;
            float dot;
            if (hk % 16 == 0) {
                float acc[16] = {0};
                for (int c = 0; c < hk; c += 16)
                    for (int l = 0; l < 16; l++) acc[l] = fmaf(adm_f16_to_f32(k[c + l]), qg[c + l], acc[l]);
                dot = adm_reduce16(acc);
            } else {
                dot = 0.0f;
                for (int i = 0; i < hk; i++) dot = fmaf(adm_f16_to_f32(k[i]), qg[i], dot);
            }
            s[(size_t)g * ld + j] = dot * scale;
        }
    }
}

static void k_attn_pv_f16(const adm_f16 *base, size_t stride, const int32_t *idx, int n, int hv, const float *p, int G,
                          int ld, float *out) {
    for (int j = 0; j < n; j++) {
        const adm_f16 *v = base + (size_t)(idx ? idx[j] : j) * stride;
        for (int g = 0; g < G; g++) {
            const float pj = p[(size_t)g * ld + j];
            float *o = out + (size_t)g * hv;
            for (int i = 0; i < hv; i++) o[i] = fmaf(pj, adm_f16_to_f32(v[i]), o[i]);
        }
    }
}

static void k_softmax(float *s, int n) {
    float max = s[0];
    for (int j = 1; j < n; j++) max = s[j] > max ? s[j] : max;
    float acc[16] = {0};
    for (int j = 0; j < n; j++) {
        s[j] = adm_canonical_exp(s[j] - max);
        acc[j % 16] += s[j];
    }
    const float inv = 1.0f / adm_reduce16(acc);
    for (int j = 0; j < n; j++) s[j] *= inv;
}

static void attn_tile_1(const float *kt, const float *vt, int m0, int m, int hk, int hv, const float *q, float scale,
                        float softcap, float *M, float *S, float *acc) {
    float e[ADM_ATTN_TILE], tmax = -INFINITY;
    for (int j = 0; j < ADM_ATTN_TILE; j++) {
        if (j < m0 || j >= m) {
            e[j] = -INFINITY;
            continue;
        }
        float s = 0.0f;
        for (int d = 0; d < hk; d++) s = fmaf(kt[d * ADM_ATTN_TILE + j], q[d], s);
        e[j] = s * scale;
        if (softcap > 0.0f) e[j] = tanhf(e[j]) * softcap;
        tmax = e[j] > tmax ? e[j] : tmax;
    }
    const float mnew = adm_tile_raise_max(M, S, acc, hv, tmax);
    double sum = 0.0;
    for (int c = 0; c < ADM_ATTN_TILE; c += 16) {
        for (int j = c; j < c + 16; j++) e[j] = adm_canonical_exp(e[j] - mnew);
        sum += (double)adm_reduce16(e + c);
    }
    *S = (float)((double)*S + sum);
    for (int j = m0; j < m; j++)
        for (int i = 0; i < hv; i++) acc[i] = fmaf(vt[(size_t)j * hv + i], e[j], acc[i]);
}

static void k_attn_tile(const float *kt, const float *vt, int m0, int m, int hk, int hv, const float *q, int G,
                        float scale, float softcap, float *M, float *S, float *acc) {
    for (int g = 0; g < G; g++)
        attn_tile_1(kt, vt, m0, m, hk, hv, q + (size_t)g * hk, scale, softcap, M + g, S + g, acc + (size_t)g * hv);
}

static void k_swiglu(int n, const float *g, const float *u, float *out) {
    for (int i = 0; i < n; i++) out[i] = adm_canonical_swiglu(g[i], u[i]);
}

static void k_fwht(float *x, int n) {
    for (int h = 1; h < n; h *= 2)
        for (int i = 0; i < n; i += 2 * h)
            for (int j = i; j < i + h; j++) {
                const float a = x[j], b = x[j + h];
                x[j] = a + b;
                x[j + h] = a - b;
            }
    const float norm = 1.0f / sqrtf((float)n);
    for (int i = 0; i < n; i++) x[i] *= norm;
}

static void k_bucketize(const float *x, const float *th, uint8_t *codes, int n) {
    for (int i = 0; i < n; i++)
        codes[i] = (uint8_t)((x[i] > th[3 * i]) + (x[i] > th[3 * i + 1]) + (x[i] > th[3 * i + 2]));
}

/* Block layout: for block b and nibble position j, 16 bytes whose byte r
 * holds token 32b + r in its low nibble and token 32b + 16 + r in its high
 * nibble; a nibble is c[2j] | c[2j+1] << 2. */
static void k_code_l1(const uint8_t *codes, int n_tok, int code_dim, const uint8_t *lut, uint16_t *dist) {
    const int np = code_dim / 2;
    for (int t = 0; t < n_tok; t++) {
        const uint8_t *blk = codes + (size_t)(t / ADM_CODE_BLOCK) * (size_t)np * 16;
        const int r = t % ADM_CODE_BLOCK;
        unsigned d = 0;
        for (int j = 0; j < np; j++) {
            const uint8_t byte = blk[16 * j + (r & 15)];
            d += lut[16 * j + (r < 16 ? byte & 15 : byte >> 4)];
        }
        dist[t] = (uint16_t)d;
    }
}

void adm_gemm_from_vec_dot(adm_vec_dot_fn dot, int n, int nr, int nc, const void *w, size_t w_stride, const void *a,
                           size_t a_stride, float *s, size_t lds) {
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++)
            dot(n, &s[(size_t)c * lds + (size_t)r], (const uint8_t *)w + (size_t)r * w_stride,
                (const uint8_t *)a + (size_t)c * a_stride);
}

void adm_kernels_fill_scalar(adm_kernels *t) {
    memset(t, 0, sizeof(*t));
    t->name = "scalar";
    t->gemm_nr = 1;
    t->gemm_nc = 1;
    t->vec_dot[ADM_TYPE_F32] = dot_f32_f32;
    t->vec_dot[ADM_TYPE_F16] = dot_f16_f16;
    t->vec_dot[ADM_TYPE_BF16] = dot_bf16_bf16;
    t->vec_dot[ADM_TYPE_Q4_0] = dot_q4_0;
    t->vec_dot[ADM_TYPE_Q4_1] = dot_q4_1;
    t->vec_dot[ADM_TYPE_Q5_0] = dot_q5_0;
    t->vec_dot[ADM_TYPE_Q5_1] = dot_q5_1;
    t->vec_dot[ADM_TYPE_Q8_0] = dot_q8_0;
    t->prep_bsum[ADM_TYPE_Q8_0] = prep_bsum_q8_0;
    t->gemm_bsum[ADM_TYPE_Q8_0] = gemm_bsum_q8_0;
    t->gemm_pack16[ADM_TYPE_Q8_0] = gemm_pack16_q8_0;
    t->vec_dot[ADM_TYPE_Q2_K] = dot_q2_K;
    t->vec_dot[ADM_TYPE_Q3_K] = dot_q3_K;
    t->vec_dot[ADM_TYPE_Q4_K] = dot_q4_K;
    t->vec_dot[ADM_TYPE_Q5_K] = dot_q5_K;
    t->vec_dot[ADM_TYPE_Q6_K] = dot_q6_K;
    t->from_float[ADM_TYPE_F32] = from_f32_f32;
    t->from_float[ADM_TYPE_F16] = from_f32_f16;
    t->from_float[ADM_TYPE_BF16] = from_f32_bf16;
    t->from_float[ADM_TYPE_Q8_0] = from_f32_q8_0;
    t->from_float[ADM_TYPE_Q8_1] = from_f32_q8_1;
    t->from_float[ADM_TYPE_Q8_K] = from_f32_q8_K;
    t->to_float[ADM_TYPE_F32] = to_f32_f32;
    t->to_float[ADM_TYPE_F16] = to_f32_f16;
    t->to_float[ADM_TYPE_BF16] = to_f32_bf16;
    t->to_float[ADM_TYPE_Q4_0] = to_f32_q4_0;
    t->to_float[ADM_TYPE_Q4_1] = to_f32_q4_1;
    t->to_float[ADM_TYPE_Q5_0] = to_f32_q5_0;
    t->to_float[ADM_TYPE_Q5_1] = to_f32_q5_1;
    t->to_float[ADM_TYPE_Q8_0] = to_f32_q8_0;
    t->to_float[ADM_TYPE_Q2_K] = to_f32_q2_K;
    t->to_float[ADM_TYPE_Q3_K] = to_f32_q3_K;
    t->to_float[ADM_TYPE_Q4_K] = to_f32_q4_K;
    t->to_float[ADM_TYPE_Q5_K] = to_f32_q5_K;
    t->to_float[ADM_TYPE_Q6_K] = to_f32_q6_K;
    t->dot_f32 = k_dot_f32;
    t->dot_f16_f32 = k_dot_f16_f32;
    t->axpy_f32 = k_axpy_f32;
    t->axpy_f16 = k_axpy_f16;
    t->scale_f32 = k_scale_f32;
    t->next_above = k_next_above;
    t->attn_qk_f16 = k_attn_qk_f16;
    t->attn_pv_f16 = k_attn_pv_f16;
    t->softmax = k_softmax;
    t->attn_tile = k_attn_tile;
    t->swiglu = k_swiglu;
    t->fwht = k_fwht;
    t->bucketize = k_bucketize;
    t->code_l1 = k_code_l1;
}
