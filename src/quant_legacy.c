/*
 * quant_legacy.c — the 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1,
 * IQ4_NL (layouts in quant_impl.h). For each: to_float (bit-exact with ggml's
 * dequantization: the same float operations in the same order), the reference quantizer
 * (ggml's round-to-nearest rules), and a scalar vec_dot against Q8_0 (Q8_1 for the _1
 * types, whose s = d*sum(q) folds the weight offset m into one product per block).
 */
#include "quant_impl.h"
#include <float.h>
#include <math.h>

#define R1_H2F r1_fp16_to_fp32
#define R1_F2H r1_fp32_to_fp16

const int8_t r1_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

/* ---- Q4_0: x = d*(q-8); d = max/-8 where max is the signed value of largest |x| ---- */
static void q4_0_to_float(const void *src, float *y, int64_t n) {
    const block_q4_0 *b = src;
    for (int64_t i = 0; i < n / QK32; i++, y += QK32) {
        float d = R1_H2F(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((b[i].qs[j] & 0xF) - 8) * d;
            y[j + 16] = (float)((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}
static void q4_0_from_float(const float *x, void *dst, int64_t n) {
    block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / QK32; i++, x += QK32) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK32; j++)
            if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
        float d = max / -8, id = d ? 1.0f / d : 0.0f;
        b[i].d = R1_F2H(d);
        for (int j = 0; j < 16; j++) {
            int a = (int8_t)(x[j] * id + 8.5f), c = (int8_t)(x[j + 16] * id + 8.5f);
            a = a > 15 ? 15 : a; c = c > 15 ? 15 : c;
            b[i].qs[j] = (uint8_t)(a | (c << 4));
        }
    }
}
static void vec_dot_q4_0_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q4_0 *x = vx;
    const block_q8_0 *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK32; i++) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += ((x[i].qs[j] & 0xF) - 8) * y[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        acc += (float)sum * (R1_H2F(x[i].d) * R1_H2F(y[i].d));
    }
    *s = acc;
}

/* ---- Q4_1: x = d*q + m; m = min, d = (max-min)/15 ---------------------------------- */
static void q4_1_to_float(const void *src, float *y, int64_t n) {
    const block_q4_1 *b = src;
    for (int64_t i = 0; i < n / QK32; i++, y += QK32) {
        float d = R1_H2F(b[i].d), m = R1_H2F(b[i].m);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(b[i].qs[j] & 0xF) * d + m;
            y[j + 16] = (float)(b[i].qs[j] >> 4) * d + m;
        }
    }
}
static void q4_1_from_float(const float *x, void *dst, int64_t n) {
    block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / QK32; i++, x += QK32) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK32; j++) { if (x[j] < min) min = x[j]; if (x[j] > max) max = x[j]; }
        float d = (max - min) / 15, id = d ? 1.0f / d : 0.0f;
        b[i].d = R1_F2H(d);
        b[i].m = R1_F2H(min);
        for (int j = 0; j < 16; j++) {
            int a = (int8_t)((x[j] - min) * id + 0.5f), c = (int8_t)((x[j + 16] - min) * id + 0.5f);
            a = a > 15 ? 15 : a; c = c > 15 ? 15 : c;
            b[i].qs[j] = (uint8_t)(a | (c << 4));
        }
    }
}
static void vec_dot_q4_1_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q4_1 *x = vx;
    const block_q8_1 *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK32; i++) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += (x[i].qs[j] & 0xF) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        acc += (R1_H2F(x[i].d) * R1_H2F(y[i].d)) * (float)sum + R1_H2F(x[i].m) * R1_H2F(y[i].s);
    }
    *s = acc;
}

/* ---- Q5_0 / Q5_1: a 4-bit nibble plus qh bit j (element j) / bit j+16 (element j+16) --- */
static inline uint32_t qh_u32(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}
static inline void qh_store(uint8_t qh[4], uint32_t v) {
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(v >> (8 * k));
}
/* The 5-bit values q[0..32) of a Q5 block (0..31). */
static inline void q5_unpack(const uint8_t qs[16], const uint8_t qhb[4], int q[32]) {
    uint32_t qh = qh_u32(qhb);
    for (int j = 0; j < 16; j++) {
        q[j] = (qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10);
        q[j + 16] = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
    }
}
static void q5_0_to_float(const void *src, float *y, int64_t n) {
    const block_q5_0 *b = src;
    for (int64_t i = 0; i < n / QK32; i++, y += QK32) {
        float d = R1_H2F(b[i].d);
        int q[32];
        q5_unpack(b[i].qs, b[i].qh, q);
        for (int j = 0; j < 32; j++) y[j] = (float)(q[j] - 16) * d;
    }
}
static void q5_pack(const int q[32], uint8_t qs[16], uint8_t qhb[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
        qh |= (uint32_t)((q[j] & 0x10) >> 4) << j;
        qh |= (uint32_t)((q[j + 16] & 0x10) >> 4) << (j + 16);
    }
    qh_store(qhb, qh);
}
static void q5_0_from_float(const float *x, void *dst, int64_t n) {
    block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / QK32; i++, x += QK32) {
        float amax = 0, max = 0;
        for (int j = 0; j < QK32; j++)
            if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
        float d = max / -16, id = d ? 1.0f / d : 0.0f;
        b[i].d = R1_F2H(d);
        int q[32];
        for (int j = 0; j < 32; j++) {
            int v = (int8_t)(x[j] * id + 16.5f);
            q[j] = v > 31 ? 31 : v;
        }
        q5_pack(q, b[i].qs, b[i].qh);
    }
}
static void vec_dot_q5_0_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q5_0 *x = vx;
    const block_q8_0 *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK32; i++) {
        int q[32], sum = 0;
        q5_unpack(x[i].qs, x[i].qh, q);
        for (int j = 0; j < 32; j++) sum += (q[j] - 16) * y[i].qs[j];
        acc += (float)sum * (R1_H2F(x[i].d) * R1_H2F(y[i].d));
    }
    *s = acc;
}
static void q5_1_to_float(const void *src, float *y, int64_t n) {
    const block_q5_1 *b = src;
    for (int64_t i = 0; i < n / QK32; i++, y += QK32) {
        float d = R1_H2F(b[i].d), m = R1_H2F(b[i].m);
        int q[32];
        q5_unpack(b[i].qs, b[i].qh, q);
        for (int j = 0; j < 32; j++) y[j] = (float)q[j] * d + m;
    }
}
static void q5_1_from_float(const float *x, void *dst, int64_t n) {
    block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / QK32; i++, x += QK32) {
        float min = x[0], max = x[0];
        for (int j = 1; j < QK32; j++) { if (x[j] < min) min = x[j]; if (x[j] > max) max = x[j]; }
        float d = (max - min) / 31, id = d ? 1.0f / d : 0.0f;
        b[i].d = R1_F2H(d);
        b[i].m = R1_F2H(min);
        int q[32];
        for (int j = 0; j < 32; j++) q[j] = (uint8_t)((x[j] - min) * id + 0.5f);
        q5_pack(q, b[i].qs, b[i].qh);
    }
}
static void vec_dot_q5_1_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q5_1 *x = vx;
    const block_q8_1 *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK32; i++) {
        int q[32], sum = 0;
        q5_unpack(x[i].qs, x[i].qh, q);
        for (int j = 0; j < 32; j++) sum += q[j] * y[i].qs[j];
        acc += (R1_H2F(x[i].d) * R1_H2F(y[i].d)) * (float)sum + R1_H2F(x[i].m) * R1_H2F(y[i].s);
    }
    *s = acc;
}

/* ---- Q8_0 / Q8_1: d = amax/127, q = roundf(x/d) (half away from zero, as ggml) ------ */
static void q8_0_to_float(const void *src, float *y, int64_t n) {
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK32; i++, y += QK32) {
        float d = R1_H2F(b[i].d);
        for (int j = 0; j < QK32; j++) y[j] = (float)b[i].qs[j] * d;
    }
}
static void q8_0_from_float(const float *x, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK32; i++, x += QK32) {
        float amax = 0;
        for (int j = 0; j < QK32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = R1_F2H(d);
        for (int j = 0; j < QK32; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}
static void vec_dot_q8_0_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q8_0 *x = vx, *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK32; i++) {
        int sum = 0;
        for (int j = 0; j < QK32; j++) sum += x[i].qs[j] * y[i].qs[j];
        acc += (float)sum * (R1_H2F(x[i].d) * R1_H2F(y[i].d));
    }
    *s = acc;
}
static void q8_1_to_float(const void *src, float *y, int64_t n) {
    const block_q8_1 *b = src;
    for (int64_t i = 0; i < n / QK32; i++, y += QK32) {
        float d = R1_H2F(b[i].d);
        for (int j = 0; j < QK32; j++) y[j] = (float)b[i].qs[j] * d;
    }
}
static void q8_1_from_float(const float *x, void *dst, int64_t n) {
    block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / QK32; i++, x += QK32) {
        float amax = 0;
        for (int j = 0; j < QK32; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        b[i].d = R1_F2H(d);
        for (int j = 0; j < QK32; j++) { b[i].qs[j] = (int8_t)roundf(x[j] * id); sum += b[i].qs[j]; }
        b[i].s = R1_F2H((float)sum * d);
    }
}

/* ---- IQ4_NL: x = d * kvalues[nibble] ----------------------------------------------- */
static void iq4_nl_to_float(const void *src, float *y, int64_t n) {
    const block_iq4_nl *b = src;
    for (int64_t i = 0; i < n / QK32; i++, y += QK32) {
        float d = R1_H2F(b[i].d);
        for (int j = 0; j < 16; j++) {
            y[j] = d * r1_kvalues_iq4nl[b[i].qs[j] & 0xF];
            y[j + 16] = d * r1_kvalues_iq4nl[b[i].qs[j] >> 4];
        }
    }
}
static void iq4_nl_from_float(const float *x, void *dst, int64_t n) {
    block_iq4_nl *b = dst;
    for (int64_t i = 0; i < n / QK32; i++)
        r1_quantize_iq4(QK32, QK32, x + i * QK32, &b[i].d, b[i].qs, NULL, NULL);
}
static void vec_dot_iq4_nl_ref(int n, float *s, const void *vx, const void *vy) {
    const block_iq4_nl *x = vx;
    const block_q8_0 *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK32; i++) {
        int sum = 0;
        for (int j = 0; j < 16; j++)
            sum += r1_kvalues_iq4nl[x[i].qs[j] & 0xF] * y[i].qs[j] +
                   r1_kvalues_iq4nl[x[i].qs[j] >> 4] * y[i].qs[j + 16];
        acc += (float)sum * (R1_H2F(x[i].d) * R1_H2F(y[i].d));
    }
    *s = acc;
}

#define ENTRY(nm, blk, q, vd, vdt) \
    (r1_type_traits){nm, QK32, sizeof(blk), true, q##_to_float, q##_from_float, NULL, vd, vdt, NULL, NULL}

void r1_quant_register_legacy(r1_type_traits *tab) {
    tab[R1_TYPE_Q4_0] = ENTRY("q4_0", block_q4_0, q4_0, vec_dot_q4_0_ref, R1_TYPE_Q8_0);
    tab[R1_TYPE_Q4_1] = ENTRY("q4_1", block_q4_1, q4_1, vec_dot_q4_1_ref, R1_TYPE_Q8_1);
    tab[R1_TYPE_Q5_0] = ENTRY("q5_0", block_q5_0, q5_0, vec_dot_q5_0_ref, R1_TYPE_Q8_0);
    tab[R1_TYPE_Q5_1] = ENTRY("q5_1", block_q5_1, q5_1, vec_dot_q5_1_ref, R1_TYPE_Q8_1);
    tab[R1_TYPE_Q8_0] = ENTRY("q8_0", block_q8_0, q8_0, vec_dot_q8_0_ref, R1_TYPE_Q8_0);
    tab[R1_TYPE_Q8_1] = ENTRY("q8_1", block_q8_1, q8_1, NULL, R1_TYPE_Q8_1);
    tab[R1_TYPE_IQ4_NL] = ENTRY("iq4_nl", block_iq4_nl, iq4_nl, vec_dot_iq4_nl_ref, R1_TYPE_Q8_0);
}
