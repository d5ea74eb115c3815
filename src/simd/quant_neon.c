/*
 * quant_neon.c — AArch64 NEON kernels (compiled with -march=armv8.2-a+dotprod+fp16;
 * installed only when the hwcaps report dot product and half precision). Integer dots
 * use vdotq_s32 (4 int8 products summed into each int32 lane). The Q8_0 / Q8_K
 * activation quantizers are bit-identical to the references: vrndaq_f32 rounds half away
 * from zero like roundf, vrndnq_f32 ties to even like ggml's nearest_int.
 */
#include "quant_impl.h"
#include <arm_neon.h>
#include <math.h>

/* Software prefetch of weights a few blocks ahead (see the x86 files). */
static inline void prefetch(const void *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) __builtin_prefetch((const char *)p + o);
}

/* ---- F32 / F16 / BF16 × F32 ---------------------------------------------------------- */
static inline float32x4_t ld_f32(const float *p) { return vld1q_f32(p); }
static inline float32x4_t ld_f16(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
static inline float32x4_t ld_bf16(const uint16_t *p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
static inline float id_f32(float v) { return v; }
#define NEON_DOT(name, T, load, conv)                                                        \
    static void name(int n, float *s, const void *vx, const void *vy) {                     \
        const T *x = vx;                                                                     \
        const float *y = vy;                                                                 \
        float32x4_t a0 = vdupq_n_f32(0), a1 = a0, a2 = a0, a3 = a0;                          \
        int i = 0;                                                                           \
        for (; i + 16 <= n; i += 16) {                                                       \
            a0 = vfmaq_f32(a0, load(x + i), vld1q_f32(y + i));                               \
            a1 = vfmaq_f32(a1, load(x + i + 4), vld1q_f32(y + i + 4));                       \
            a2 = vfmaq_f32(a2, load(x + i + 8), vld1q_f32(y + i + 8));                       \
            a3 = vfmaq_f32(a3, load(x + i + 12), vld1q_f32(y + i + 12));                     \
        }                                                                                    \
        for (; i + 4 <= n; i += 4) a0 = vfmaq_f32(a0, load(x + i), vld1q_f32(y + i));       \
        float sum = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));             \
        for (; i < n; i++) sum += conv(x[i]) * y[i];                                         \
        *s = sum;                                                                            \
    }
NEON_DOT(vec_dot_f32_neon, float, ld_f32, id_f32)
NEON_DOT(vec_dot_f16_neon, uint16_t, ld_f16, r1_fp16_to_fp32)
NEON_DOT(vec_dot_bf16_neon, uint16_t, ld_bf16, r1_bf16_to_fp32)

/* ---- F16 / BF16 <-> F32 conversion (bit-identical to the scalar helpers) ------------- */
static void f16_to_float_neon(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, ld_f16(x + i));
    for (; i < n; i++) dst[i] = r1_fp16_to_fp32(x[i]);
}
static void f16_from_float_neon(const float *src, void *dstv, int64_t n) {
    uint16_t *dst = dstv;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(dst + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(src + i))));
    for (; i < n; i++) dst[i] = r1_fp32_to_fp16(src[i]);
}
static void bf16_to_float_neon(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(dst + i, ld_bf16(x + i));
    for (; i < n; i++) dst[i] = r1_bf16_to_fp32(x[i]);
}

/* ---- activation quantizers ------------------------------------------------------------ */
/* 16 integral floats -> 16 int8 (values within int8 range). */
static inline int8x16_t narrow16(float32x4_t a, float32x4_t b, float32x4_t c, float32x4_t d) {
    int16x8_t ab = vcombine_s16(vmovn_s32(vcvtq_s32_f32(a)), vmovn_s32(vcvtq_s32_f32(b)));
    int16x8_t cd = vcombine_s16(vmovn_s32(vcvtq_s32_f32(c)), vmovn_s32(vcvtq_s32_f32(d)));
    return vcombine_s8(vmovn_s16(ab), vmovn_s16(cd));
}
static void q8_0_from_float_neon(const float *x, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK32; i++, x += QK32) {
        float32x4_t v[8], m = vdupq_n_f32(0);
        for (int k = 0; k < 8; k++) { v[k] = vld1q_f32(x + 4 * k); m = vmaxq_f32(m, vabsq_f32(v[k])); }
        float amax = vmaxvq_f32(m);
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = r1_fp32_to_fp16(d);
        for (int k = 0; k < 8; k++) v[k] = vrndaq_f32(vmulq_n_f32(v[k], id));
        vst1q_s8(b[i].qs, narrow16(v[0], v[1], v[2], v[3]));
        vst1q_s8(b[i].qs + 16, narrow16(v[4], v[5], v[6], v[7]));
    }
}
static void q8_K_from_float_neon(const float *x, void *dst, int64_t n) {
    block_q8_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float32x4_t m = vdupq_n_f32(0);
        for (int j = 0; j < QK_K; j += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + j)));
        float amax = vmaxvq_f32(m);
        if (!amax) { memset(&b[i], 0, sizeof b[i]); continue; }
        float max = 0;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) == amax) { max = x[j]; break; }
        float iscale = -127.f / max;
        float32x4_t lim = vdupq_n_f32(127.f);
        for (int j = 0; j < QK_K; j += 16) {
            float32x4_t r[4];
            for (int k = 0; k < 4; k++) r[k] = vminq_f32(lim, vrndnq_f32(vmulq_n_f32(vld1q_f32(x + j + 4 * k), iscale)));
            int8x16_t q = narrow16(r[0], r[1], r[2], r[3]);
            vst1q_s8(b[i].qs + j, q);
            b[i].bsums[j / 16] = (int16_t)vaddlvq_s8(q);
        }
        b[i].d = 1 / iscale;
    }
}

/* ---- 32-element block types · Q8_0 ---------------------------------------------------- */
static inline float h2f(uint16_t h) {  /* hardware half -> float (exact) */
    __fp16 v;
    memcpy(&v, &h, 2);
    return (float)v;
}
static void vec_dot_q8_0_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q8_0 *x = vx, *y = vy;
    float32x4_t acc = vdupq_n_f32(0);
    for (int i = 0; i < n / QK32; i++) {
        prefetch((const char *)(x + i) + 2048, 1);
        int32x4_t p = vdotq_s32(vdupq_n_s32(0), vld1q_s8(x[i].qs), vld1q_s8(y[i].qs));
        p = vdotq_s32(p, vld1q_s8(x[i].qs + 16), vld1q_s8(y[i].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(p), h2f(x[i].d) * h2f(y[i].d));
    }
    *s = vaddvq_f32(acc);
}
static void vec_dot_q4_0_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q4_0 *x = vx;
    const block_q8_0 *y = vy;
    const int8x16_t eight = vdupq_n_s8(8);
    float32x4_t acc = vdupq_n_f32(0);
    for (int i = 0; i < n / QK32; i++) {
        prefetch((const char *)(x + i) + 2048, 1);
        uint8x16_t q = vld1q_u8(x[i].qs);
        int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0xF))), eight);
        int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
        int32x4_t p = vdotq_s32(vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(y[i].qs)), hi, vld1q_s8(y[i].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(p), h2f(x[i].d) * h2f(y[i].d));
    }
    *s = vaddvq_f32(acc);
}
/* 16 bytes: 0x10 where bit (base + j) of qh is set, j = 0..15. */
static inline uint8x16_t qh_bits16(uint32_t qh, int base) {
    static const uint8_t idx_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    static const uint8_t bit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t bytes = vreinterpretq_u8_u32(vdupq_n_u32(qh));
    uint8x16_t idx = vaddq_u8(vld1q_u8(idx_lo), vdupq_n_u8((uint8_t)(base / 8)));
    uint8x16_t set = vtstq_u8(vqtbl1q_u8(bytes, idx), vld1q_u8(bit));
    return vandq_u8(set, vdupq_n_u8(0x10));
}
/* The 32 5-bit values (0..31) of a Q5 block as two 16-byte vectors. */
static inline void q5_values(const uint8_t qs[16], const uint8_t qhb[4], uint8x16_t *lo, uint8x16_t *hi) {
    uint32_t qh;
    memcpy(&qh, qhb, 4);
    uint8x16_t q = vld1q_u8(qs);
    *lo = vorrq_u8(vandq_u8(q, vdupq_n_u8(0xF)), qh_bits16(qh, 0));
    *hi = vorrq_u8(vshrq_n_u8(q, 4), qh_bits16(qh, 16));
}
static inline int32x4_t dot32(uint8x16_t lo, uint8x16_t hi, const int8_t *y, int bias) {
    int8x16_t l = vsubq_s8(vreinterpretq_s8_u8(lo), vdupq_n_s8((int8_t)bias));
    int8x16_t h = vsubq_s8(vreinterpretq_s8_u8(hi), vdupq_n_s8((int8_t)bias));
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), l, vld1q_s8(y)), h, vld1q_s8(y + 16));
}
static void vec_dot_q4_1_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q4_1 *x = vx;
    const block_q8_1 *y = vy;
    float32x4_t acc = vdupq_n_f32(0);
    float summ = 0;
    for (int i = 0; i < n / QK32; i++) {
        uint8x16_t q = vld1q_u8(x[i].qs);
        int32x4_t p = dot32(vandq_u8(q, vdupq_n_u8(0xF)), vshrq_n_u8(q, 4), y[i].qs, 0);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(p), h2f(x[i].d) * h2f(y[i].d));
        summ += h2f(x[i].m) * h2f(y[i].s);
    }
    *s = vaddvq_f32(acc) + summ;
}
static void vec_dot_q5_0_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q5_0 *x = vx;
    const block_q8_0 *y = vy;
    float32x4_t acc = vdupq_n_f32(0);
    for (int i = 0; i < n / QK32; i++) {
        uint8x16_t lo, hi;
        q5_values(x[i].qs, x[i].qh, &lo, &hi);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(dot32(lo, hi, y[i].qs, 16)), h2f(x[i].d) * h2f(y[i].d));
    }
    *s = vaddvq_f32(acc);
}
static void vec_dot_q5_1_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q5_1 *x = vx;
    const block_q8_1 *y = vy;
    float32x4_t acc = vdupq_n_f32(0);
    float summ = 0;
    for (int i = 0; i < n / QK32; i++) {
        uint8x16_t lo, hi;
        q5_values(x[i].qs, x[i].qh, &lo, &hi);
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(dot32(lo, hi, y[i].qs, 0)), h2f(x[i].d) * h2f(y[i].d));
        summ += h2f(x[i].m) * h2f(y[i].s);
    }
    *s = vaddvq_f32(acc) + summ;
}
static void vec_dot_iq4_nl_neon(int n, float *s, const void *vx, const void *vy) {
    const block_iq4_nl *x = vx;
    const block_q8_0 *y = vy;
    const int8x16_t lut = vld1q_s8(r1_kvalues_iq4nl);
    float32x4_t acc = vdupq_n_f32(0);
    for (int i = 0; i < n / QK32; i++) {
        prefetch((const char *)(x + i) + 2048, 1);
        uint8x16_t q = vld1q_u8(x[i].qs);
        int8x16_t lo = vqtbl1q_s8(lut, vandq_u8(q, vdupq_n_u8(0xF))), hi = vqtbl1q_s8(lut, vshrq_n_u8(q, 4));
        int32x4_t p = vdotq_s32(vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(y[i].qs)), hi, vld1q_s8(y[i].qs + 16));
        acc = vmlaq_n_f32(acc, vcvtq_f32_s32(p), h2f(x[i].d) * h2f(y[i].d));
    }
    *s = vaddvq_f32(acc);
}

/* ---- k-quants · Q8_K ------------------------------------------------------------------ */
static void vec_dot_q4_K_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    const uint8x16_t m4 = vdupq_n_u8(0xF);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        uint8_t sc[8], mn[8];
        r1_q4k_scales_mins(x[i].scales, sc, mn);
        int isum = 0;
        for (int p = 0; p < 4; p++) {
            const uint8_t *q = x[i].qs + 32 * p;
            const int8_t *q8 = y[i].qs + 64 * p;
            uint8x16_t a = vld1q_u8(q), b = vld1q_u8(q + 16);
            int32x4_t lo = vdotq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(vandq_u8(a, m4)), vld1q_s8(q8));
            lo = vdotq_s32(lo, vreinterpretq_s8_u8(vandq_u8(b, m4)), vld1q_s8(q8 + 16));
            int32x4_t hi = vdotq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(vshrq_n_u8(a, 4)), vld1q_s8(q8 + 32));
            hi = vdotq_s32(hi, vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), vld1q_s8(q8 + 48));
            isum += sc[2 * p] * vaddvq_s32(lo) + sc[2 * p + 1] * vaddvq_s32(hi);
        }
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        acc += y[i].d * h2f(x[i].d) * isum - y[i].d * h2f(x[i].dmin) * summ;
    }
    *s = acc;
}
static void vec_dot_q6_K_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    const uint8x16_t m4 = vdupq_n_u8(0xF), m3 = vdupq_n_u8(3);
    const int8x16_t off = vdupq_n_s8(32);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs, *sc = x[i].scales;
        int isum = 0;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, q8 += 128, sc += 8)
            for (int half = 0; half < 2; half++) {      /* elements l = 16*half .. +16 of each quarter */
                uint8x16_t l0 = vld1q_u8(ql + 16 * half), l1 = vld1q_u8(ql + 32 + 16 * half);
                uint8x16_t hb = vld1q_u8(qh + 16 * half);
                uint8x16_t u[4];
                u[0] = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hb, m3), 4));
                u[1] = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m3), 4));
                u[2] = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m3), 4));
                u[3] = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
                for (int k = 0; k < 4; k++) {
                    int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(u[k]), off);
                    int32x4_t p = vdotq_s32(vdupq_n_s32(0), q, vld1q_s8(q8 + 32 * k + 16 * half));
                    isum += sc[2 * k + half] * vaddvq_s32(p);
                }
            }
        acc += h2f(x[i].d) * y[i].d * isum;
    }
    *s = acc;
}

/* Q2_K / Q3_K: per 128 elements, 32 bytes of 2-bit fields; shift 2k gives groups
 * (16 bytes each) 8h+2k and 8h+2k+1. Q3_K subtracts 4 where its hmask bit 4h+k is clear. */
static void vec_dot_q2_K_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    const uint8x16_t m3 = vdupq_n_u8(3);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        const uint8_t *sc = x[i].scales;
        int isum = 0;
        for (int h = 0; h < 2; h++) {
            uint8x16_t q0 = vld1q_u8(x[i].qs + 32 * h), q1 = vld1q_u8(x[i].qs + 32 * h + 16);
            for (int k = 0; k < 4; k++, sc += 2) {
                const int8_t *q8 = y[i].qs + 128 * h + 32 * k;
                int8x16_t v0 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q0, vdupq_n_s8((int8_t)(-2 * k))), m3));
                int8x16_t v1 = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q1, vdupq_n_s8((int8_t)(-2 * k))), m3));
                isum += (sc[0] & 0xF) * vaddvq_s32(vdotq_s32(vdupq_n_s32(0), v0, vld1q_s8(q8)));
                isum += (sc[1] & 0xF) * vaddvq_s32(vdotq_s32(vdupq_n_s32(0), v1, vld1q_s8(q8 + 16)));
            }
        }
        int summs = 0;
        for (int j = 0; j < 16; j++) summs += y[i].bsums[j] * (x[i].scales[j] >> 4);
        acc += y[i].d * h2f(x[i].d) * isum - y[i].d * h2f(x[i].dmin) * summs;
    }
    *s = acc;
}
static void vec_dot_q3_K_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    const uint8x16_t m3 = vdupq_n_u8(3);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        int8_t sc[16];
        r1_q3k_scales(x[i].scales, sc);
        uint8x16_t hm0 = vld1q_u8(x[i].hmask), hm1 = vld1q_u8(x[i].hmask + 16);
        int isum = 0;
        for (int h = 0; h < 2; h++) {
            uint8x16_t q0 = vld1q_u8(x[i].qs + 32 * h), q1 = vld1q_u8(x[i].qs + 32 * h + 16);
            for (int k = 0; k < 4; k++) {
                const int8_t *q8 = y[i].qs + 128 * h + 32 * k;
                uint8x16_t bit = vdupq_n_u8((uint8_t)(1 << (4 * h + k)));
                /* 4 where the bit is clear: (~test) & 4 */
                uint8x16_t f0 = vbicq_u8(vdupq_n_u8(4), vtstq_u8(hm0, bit)), f1 = vbicq_u8(vdupq_n_u8(4), vtstq_u8(hm1, bit));
                int8x16_t v0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q0, vdupq_n_s8((int8_t)(-2 * k))), m3)), vreinterpretq_s8_u8(f0));
                int8x16_t v1 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(vshlq_u8(q1, vdupq_n_s8((int8_t)(-2 * k))), m3)), vreinterpretq_s8_u8(f1));
                isum += sc[8 * h + 2 * k] * vaddvq_s32(vdotq_s32(vdupq_n_s32(0), v0, vld1q_s8(q8)));
                isum += sc[8 * h + 2 * k + 1] * vaddvq_s32(vdotq_s32(vdupq_n_s32(0), v1, vld1q_s8(q8 + 16)));
            }
        }
        acc += h2f(x[i].d) * y[i].d * isum;
    }
    *s = acc;
}
static void vec_dot_q5_K_neon(int n, float *s, const void *vx, const void *vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    const uint8x16_t m4 = vdupq_n_u8(0xF), b4 = vdupq_n_u8(0x10);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        uint8_t sc[8], mn[8];
        r1_q4k_scales_mins(x[i].scales, sc, mn);
        uint8x16_t h0 = vld1q_u8(x[i].qh), h1 = vld1q_u8(x[i].qh + 16);
        int isum = 0;
        for (int p = 0; p < 4; p++) {
            const uint8_t *q = x[i].qs + 32 * p;
            const int8_t *q8 = y[i].qs + 64 * p;
            uint8x16_t a = vld1q_u8(q), b = vld1q_u8(q + 16);
            uint8x16_t blo = vdupq_n_u8((uint8_t)(1 << (2 * p))), bhi = vdupq_n_u8((uint8_t)(2 << (2 * p)));
            uint8x16_t la = vorrq_u8(vandq_u8(a, m4), vandq_u8(vtstq_u8(h0, blo), b4));
            uint8x16_t lb = vorrq_u8(vandq_u8(b, m4), vandq_u8(vtstq_u8(h1, blo), b4));
            uint8x16_t ha = vorrq_u8(vshrq_n_u8(a, 4), vandq_u8(vtstq_u8(h0, bhi), b4));
            uint8x16_t hb = vorrq_u8(vshrq_n_u8(b, 4), vandq_u8(vtstq_u8(h1, bhi), b4));
            int32x4_t lo = vdotq_s32(vdotq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(la), vld1q_s8(q8)), vreinterpretq_s8_u8(lb), vld1q_s8(q8 + 16));
            int32x4_t hi = vdotq_s32(vdotq_s32(vdupq_n_s32(0), vreinterpretq_s8_u8(ha), vld1q_s8(q8 + 32)), vreinterpretq_s8_u8(hb), vld1q_s8(q8 + 48));
            isum += sc[2 * p] * vaddvq_s32(lo) + sc[2 * p + 1] * vaddvq_s32(hi);
        }
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        acc += y[i].d * h2f(x[i].d) * isum - y[i].d * h2f(x[i].dmin) * summ;
    }
    *s = acc;
}
static void vec_dot_iq4_xs_neon(int n, float *s, const void *vx, const void *vy) {
    const block_iq4_xs *x = vx;
    const block_q8_K *y = vy;
    const int8x16_t lut = vld1q_s8(r1_kvalues_iq4nl);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        int isum = 0;
        for (int ib = 0; ib < 8; ib++) {
            int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            uint8x16_t q = vld1q_u8(x[i].qs + 16 * ib);
            int8x16_t lo = vqtbl1q_s8(lut, vandq_u8(q, vdupq_n_u8(0xF))), hi = vqtbl1q_s8(lut, vshrq_n_u8(q, 4));
            const int8_t *q8 = y[i].qs + 32 * ib;
            isum += (ls - 32) * vaddvq_s32(vdotq_s32(vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(q8)), hi, vld1q_s8(q8 + 16)));
        }
        acc += h2f(x[i].d) * y[i].d * isum;
    }
    *s = acc;
}

void r1_quant_install_neon(r1_type_traits *t) {
    t[R1_TYPE_F32].vec_dot = vec_dot_f32_neon;
    t[R1_TYPE_F16].vec_dot = vec_dot_f16_neon;
    t[R1_TYPE_BF16].vec_dot = vec_dot_bf16_neon;
    t[R1_TYPE_F16].to_float = f16_to_float_neon;
    t[R1_TYPE_F16].from_float = f16_from_float_neon;
    t[R1_TYPE_BF16].to_float = bf16_to_float_neon;
    t[R1_TYPE_Q8_0].from_float = q8_0_from_float_neon;
    t[R1_TYPE_Q8_K].from_float = q8_K_from_float_neon;
    t[R1_TYPE_Q8_0].vec_dot = vec_dot_q8_0_neon;
    t[R1_TYPE_Q4_0].vec_dot = vec_dot_q4_0_neon;
    t[R1_TYPE_IQ4_NL].vec_dot = vec_dot_iq4_nl_neon;
    t[R1_TYPE_Q4_K].vec_dot = vec_dot_q4_K_neon;
    t[R1_TYPE_Q6_K].vec_dot = vec_dot_q6_K_neon;
    t[R1_TYPE_Q4_1].vec_dot = vec_dot_q4_1_neon;
    t[R1_TYPE_Q5_0].vec_dot = vec_dot_q5_0_neon;
    t[R1_TYPE_Q5_1].vec_dot = vec_dot_q5_1_neon;
    t[R1_TYPE_Q2_K].vec_dot = vec_dot_q2_K_neon;
    t[R1_TYPE_Q3_K].vec_dot = vec_dot_q3_K_neon;
    t[R1_TYPE_Q5_K].vec_dot = vec_dot_q5_K_neon;
    t[R1_TYPE_IQ4_XS].vec_dot = vec_dot_iq4_xs_neon;
}
