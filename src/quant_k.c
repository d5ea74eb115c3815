/*
 * quant_k.c — the 256-element super-block formats ("k-quants"): Q2_K, Q3_K, Q4_K, Q5_K,
 * Q6_K, the activation type Q8_K, and IQ4_XS (layouts in quant_impl.h).
 *
 * Dequantization repeats ggml's float operations in ggml's order, so it is bit-exact.
 * The reference quantizers use ggml's scale fitting: per sub-block a least-squares scale
 * (and min) chosen by a small search over candidate scales (make_qx_quants for the
 * symmetric Q3_K/Q6_K, make_qkx2_quants with min for Q2_K/Q4_K/Q5_K), then the
 * sub-block scales are themselves quantized to 4/6/8 bits under fp16 super-scales.
 * The scalar vec_dots work on integers per sub-block and use Q8_K's bsums (sums of 16
 * activations) for the min terms.
 */
#include "quant_impl.h"
#include <math.h>

#define R1_H2F r1_fp16_to_fp32
#define R1_F2H r1_fp32_to_fp16
#define GROUP_MAX_EPS 1e-15f
#define CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))

/* ---- scale fitting -------------------------------------------------------------------
 * qx: symmetric levels L in [-nmax, nmax-1] (stored +nmax), weights w = x^2. Start from
 * the scale that maps the largest |x| to -nmax, then try 18 nearby scales
 * -(nmax + 0.1 is)/max and keep the one maximising (sum w x l)^2 / sum w l^2.
 * Returns the scale (0 for an all-zero group). */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < GROUP_MAX_EPS) { memset(L, 0, (size_t)n); return 0.f; }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = CLAMP(r1_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = CLAMP(r1_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + CLAMP(r1_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's variant: levels in [-nmax, nmax-1], then up to 5 rounds of coordinate descent
 * moving single levels while the weighted fit improves. */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < GROUP_MAX_EPS) { memset(L, 0, (size_t)n); return 0.f; }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = CLAMP(r1_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = CLAMP(r1_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l; sumlx = slx; suml2 = sl2; n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

/* Asymmetric fit x ~ scale*l - min, l in [0, nmax], weighted squared (or absolute, mad)
 * error; tries nstep+1 scales (rmin + rdelta*is + nmax)/(max-min), each refined by
 * weighted least squares for (scale, min). Returns scale, *the_min = -min >= 0. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                              bool use_mad) {
    float min = x[0], max = x[0], sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) { memset(L, 0, (size_t)n); *the_min = -min; return 0.f; }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = CLAMP(r1_nearest_int(iscale * (x[i] - min)), 0, nmax);
        L[i] = (uint8_t)l;
        float diff = scale * L[i] + min - x[i];
        best_error += weights[i] * (use_mad ? fabsf(diff) : diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = CLAMP(r1_nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l; sum_l2 += w * l * l; sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) { this_min = 0; this_scale = sum_xl / sum_l2; }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                cur_error += weights[i] * (use_mad ? fabsf(diff) : diff * diff);
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error; scale = this_scale; min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* ---- Q2_K: 16 groups of 16; scales[j] = 4-bit scale | 4-bit min << 4;
 *      x = d*sc*q - dmin*m, q = 2 bits; qs[32*h + l] holds groups h*8 + {0,2,4,6}(+1 for
 *      l >= 16) at bit shifts 0,2,4,6 ------------------------------------------------- */
static void q2_K_to_float(const void *src, float *y, int64_t n) {
    const block_q2_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        float d = R1_H2F(b[i].d), min = R1_H2F(b[i].dmin);
        const uint8_t *q = b[i].qs;
        int is = 0;
        for (int h = 0; h < QK_K; h += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2)
                for (int half = 0; half < 2; half++) {
                    uint8_t sc = b[i].scales[is++];
                    float dl = d * (sc & 0xF), ml = min * (sc >> 4);
                    for (int l = 0; l < 16; l++)
                        *y++ = dl * ((int8_t)((q[l + 16 * half] >> shift) & 3)) - ml;
                }
    }
}
static void q2_K_from_float(const float *x, void *dst, int64_t n) {
    block_q2_K *b = dst;
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[16], scales[16];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
                                         -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            float iscale = 15.f / max_scale;
            for (int j = 0; j < 16; j++) b[i].scales[j] = (uint8_t)r1_nearest_int(iscale * scales[j]);
            b[i].d = R1_F2H(max_scale / 15.f);
        } else {
            memset(b[i].scales, 0, 16);
            b[i].d = R1_F2H(0.f);
        }
        if (max_min > 0) {
            float iscale = 15.f / max_min;
            for (int j = 0; j < 16; j++) b[i].scales[j] |= (uint8_t)(r1_nearest_int(iscale * mins[j]) << 4);
            b[i].dmin = R1_F2H(max_min / 15.f);
        } else b[i].dmin = R1_F2H(0.f);
        for (int j = 0; j < 16; j++) {
            float d = R1_H2F(b[i].d) * (b[i].scales[j] & 0xF);
            if (!d) continue;
            float dm = R1_H2F(b[i].dmin) * (b[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (uint8_t)CLAMP(r1_nearest_int((x[16 * j + ii] + dm) / d), 0, 3);
        }
        for (int j = 0; j < QK_K; j += 128)
            for (int l = 0; l < 32; l++)
                b[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                               (L[j + l + 96] << 6));
    }
}
static void vec_dot_q2_K_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        const uint8_t *q2 = x[i].qs;
        const int8_t *q8 = y[i].qs;
        int summs = 0, isum = 0, is = 0;
        for (int j = 0; j < 16; j++) summs += y[i].bsums[j] * (x[i].scales[j] >> 4);
        for (int h = 0; h < QK_K / 128; h++, q2 += 32)
            for (int shift = 0; shift < 8; shift += 2)
                for (int half = 0; half < 2; half++, q8 += 16) {
                    int sum = 0;
                    for (int l = 0; l < 16; l++) sum += q8[l] * ((q2[l + 16 * half] >> shift) & 3);
                    isum += (x[i].scales[is++] & 0xF) * sum;
                }
        acc += y[i].d * R1_H2F(x[i].d) * isum - y[i].d * R1_H2F(x[i].dmin) * summs;
    }
    *s = acc;
}

/* ---- Q3_K: 16 groups of 16, 6-bit signed scales (bias 32) packed in 12 bytes
 *      (low nibbles in bytes 0..7, top 2 bits in bytes 8..11); q = 2 low bits (as Q2_K)
 *      minus 4 unless the hmask bit is set: x = d*(sc-32)*q, q in [-4, 3] -------------- */
static void q3_K_to_float(const void *src, float *y, int64_t n) {
    const block_q3_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        float d_all = R1_H2F(b[i].d);
        int8_t sc[16];
        r1_q3k_scales(b[i].scales, sc);
        const uint8_t *q = b[i].qs, *hm = b[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int h = 0; h < QK_K; h += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                for (int half = 0; half < 2; half++) {
                    float dl = d_all * sc[is++];
                    for (int l = 16 * half; l < 16 * half + 16; l++)
                        *y++ = dl * ((int8_t)((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
                }
    }
}
static void q3_K_from_float(const float *x, void *dst, int64_t n) {
    block_q3_K *b = dst;
    int8_t L[QK_K];
    float scales[16];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) { amax = fabsf(scales[j]); max_scale = scales[j]; }
        }
        memset(b[i].scales, 0, 12);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            b[i].d = R1_F2H(1 / iscale);
            for (int j = 0; j < 16; j++) {
                int l = CLAMP(r1_nearest_int(iscale * scales[j]), -32, 31) + 32;
                if (j < 8) b[i].scales[j] = (uint8_t)(l & 0xF);
                else b[i].scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
                b[i].scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
        } else b[i].d = R1_F2H(0.f);
        int8_t sc[16];
        r1_q3k_scales(b[i].scales, sc);
        for (int j = 0; j < 16; j++) {
            float d = R1_H2F(b[i].d) * sc[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (int8_t)(CLAMP(r1_nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
        }
        memset(b[i].hmask, 0, 32);
        int m = 0;
        uint8_t hm = 1;
        for (int j = 0; j < QK_K; j++) {
            if (L[j] > 3) { b[i].hmask[m] |= hm; L[j] = (int8_t)(L[j] - 4); }
            if (++m == 32) { m = 0; hm <<= 1; }
        }
        for (int j = 0; j < QK_K; j += 128)
            for (int l = 0; l < 32; l++)
                b[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                               (L[j + l + 96] << 6));
    }
}
static void vec_dot_q3_K_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        int8_t sc[16];
        r1_q3k_scales(x[i].scales, sc);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        const int8_t *q8 = y[i].qs;
        int isum = 0, is = 0;
        uint8_t m = 1;
        for (int h = 0; h < QK_K; h += 128, q += 32)
            for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                for (int half = 0; half < 2; half++, q8 += 16) {
                    int sum = 0;
                    for (int l = 0; l < 16; l++) {
                        int k = l + 16 * half;
                        sum += q8[l] * (((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
                    }
                    isum += sc[is++] * sum;
                }
        acc += R1_H2F(x[i].d) * y[i].d * isum;
    }
    *s = acc;
}

/* ---- Q4_K / Q5_K: 8 groups of 32, 6-bit scale and min each (r1_get_scale_min_k4);
 *      x = d*sc*q - dmin*m. qs[32*p + l]: group 2p in the low nibble, 2p+1 in the high.
 *      Q5_K: qh[l] bit 2p (group 2p) and bit 2p+1 (group 2p+1) add 16 ----------------- */
static void q4_K_to_float(const void *src, float *y, int64_t n) {
    const block_q4_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        float d = R1_H2F(b[i].d), min = R1_H2F(b[i].dmin);
        const uint8_t *q = b[i].qs;
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, m;
            r1_get_scale_min_k4(is, b[i].scales, &sc, &m);
            float d1 = d * sc, m1 = min * m;
            r1_get_scale_min_k4(is + 1, b[i].scales, &sc, &m);
            float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}
static void q5_K_to_float(const void *src, float *y, int64_t n) {
    const block_q5_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        float d = R1_H2F(b[i].d), min = R1_H2F(b[i].dmin);
        const uint8_t *ql = b[i].qs, *qh = b[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            r1_get_scale_min_k4(is, b[i].scales, &sc, &m);
            float d1 = d * sc, m1 = min * m;
            r1_get_scale_min_k4(is + 1, b[i].scales, &sc, &m);
            float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}
/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fits 8 (scale, min) pairs, packs them,
 * and returns the levels L[256] in [0, nmax] for the packed scales. */
static void qk_fit_8x32(const float *x, int nmax, uint16_t *dd, uint16_t *dmin, uint8_t scales[12],
                        uint8_t L[QK_K]) {
    uint8_t Laux[32];
    float weights[32], mins[8], sc[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        sc[j] = nmax == 15 ? make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                              -1.f, 0.1f, 20, false)
                           : make_qkx2_quants(32, 31, x + 32 * j, weights, L + 32 * j, &mins[j], Laux,
                                              -0.5f, 0.1f, 15, false);
        if (sc[j] > max_scale) max_scale = sc[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)r1_nearest_int(inv_scale * sc[j]), lm = (uint8_t)r1_nearest_int(inv_min * mins[j]);
        ls = ls > 63 ? 63 : ls;
        lm = lm > 63 ? 63 : lm;
        if (j < 4) { scales[j] = ls; scales[j + 4] = lm; }
        else {
            scales[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    *dd = R1_F2H(max_scale / 63.f);
    *dmin = R1_F2H(max_min / 63.f);
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        r1_get_scale_min_k4(j, scales, &s, &m);
        float d = R1_H2F(*dd) * s;
        if (!d) continue;
        float dm = R1_H2F(*dmin) * m;
        for (int ii = 0; ii < 32; ii++)
            L[32 * j + ii] = (uint8_t)CLAMP(r1_nearest_int((x[32 * j + ii] + dm) / d), 0, nmax);
    }
}
static void q4_K_from_float(const float *x, void *dst, int64_t n) {
    block_q4_K *b = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        qk_fit_8x32(x, 15, &b[i].d, &b[i].dmin, b[i].scales, L);
        for (int j = 0; j < QK_K; j += 64)
            for (int l = 0; l < 32; l++) b[i].qs[j / 2 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}
static void q5_K_from_float(const float *x, void *dst, int64_t n) {
    block_q5_K *b = dst;
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        qk_fit_8x32(x, 31, &b[i].d, &b[i].dmin, b[i].scales, L);
        memset(b[i].qh, 0, 32);
        uint8_t m1 = 1, m2 = 2;
        for (int j = 0; j < QK_K; j += 64, m1 <<= 2, m2 <<= 2)
            for (int l = 0; l < 32; l++) {
                int l1 = L[j + l], l2 = L[j + l + 32];
                if (l1 > 15) { l1 -= 16; b[i].qh[l] |= m1; }
                if (l2 > 15) { l2 -= 16; b[i].qh[l] |= m2; }
                b[i].qs[j / 2 + l] = (uint8_t)(l1 | (l2 << 4));
            }
    }
}
/* sum_j sc_j * <q_j, q8_j> - dmin/d-scaled mins via bsums, for Q4_K and Q5_K. */
static float qk_dot_8x32(const uint16_t d, const uint16_t dmin, const uint8_t scales[12],
                         const uint8_t q[QK_K], const block_q8_K *y) {
    int isum = 0, summ = 0;
    for (int j = 0; j < 8; j++) {
        uint8_t sc, m;
        r1_get_scale_min_k4(j, scales, &sc, &m);
        int sum = 0;
        for (int l = 0; l < 32; l++) sum += q[32 * j + l] * y->qs[32 * j + l];
        isum += sc * sum;
        summ += m * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    return y->d * R1_H2F(d) * isum - y->d * R1_H2F(dmin) * summ;
}
static void vec_dot_q4_K_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    float acc = 0;
    uint8_t q[QK_K];
    for (int i = 0; i < n / QK_K; i++) {
        for (int j = 0; j < QK_K; j += 64)
            for (int l = 0; l < 32; l++) { q[j + l] = x[i].qs[j / 2 + l] & 0xF; q[j + l + 32] = x[i].qs[j / 2 + l] >> 4; }
        acc += qk_dot_8x32(x[i].d, x[i].dmin, x[i].scales, q, &y[i]);
    }
    *s = acc;
}
static void vec_dot_q5_K_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    float acc = 0;
    uint8_t q[QK_K];
    for (int i = 0; i < n / QK_K; i++) {
        for (int j = 0, p = 0; j < QK_K; j += 64, p++)
            for (int l = 0; l < 32; l++) {
                uint8_t b = x[i].qs[j / 2 + l], h = x[i].qh[l];
                q[j + l] = (uint8_t)((b & 0xF) | (((h >> (2 * p)) & 1) << 4));
                q[j + l + 32] = (uint8_t)((b >> 4) | (((h >> (2 * p + 1)) & 1) << 4));
            }
        acc += qk_dot_8x32(x[i].d, x[i].dmin, x[i].scales, q, &y[i]);
    }
    *s = acc;
}

/* ---- Q6_K: 16 groups of 16 with int8 scales; q = 4 low bits (ql) | 2 high bits (qh),
 *      minus 32: x = d*sc*q. Per 128 elements: ql[l] low/high nibble = elements l / l+64,
 *      ql[l+32] = l+32 / l+96, qh[l] bits 0-1,2-3,4-5,6-7 = l, l+32, l+64, l+96 ------- */
static void q6_K_unpack(const block_q6_K *b, int8_t q[QK_K]) {
    const uint8_t *ql = b->ql, *qh = b->qh;
    for (int n = 0; n < QK_K; n += 128, ql += 64, qh += 32)
        for (int l = 0; l < 32; l++) {
            q[n + l] = (int8_t)(((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
            q[n + l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
            q[n + l + 64] = (int8_t)(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
            q[n + l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
}
static void q6_K_to_float(const void *src, float *y, int64_t n) {
    const block_q6_K *b = src;
    int8_t q[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
        float d = R1_H2F(b[i].d);
        q6_K_unpack(&b[i], q);
        for (int j = 0; j < QK_K; j++) y[j] = d * b[i].scales[j / 16] * q[j];
    }
}
static void q6_K_from_float(const float *x, void *dst, int64_t n) {
    block_q6_K *b = dst;
    int8_t L[QK_K];
    float scales[16];
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            if (fabsf(scales[ib]) > max_abs_scale) { max_abs_scale = fabsf(scales[ib]); max_scale = scales[ib]; }
        }
        if (max_abs_scale < GROUP_MAX_EPS) { memset(&b[i], 0, sizeof b[i]); continue; }
        float iscale = -128.f / max_scale;
        b[i].d = R1_F2H(1 / iscale);
        for (int ib = 0; ib < 16; ib++) {
            int v = r1_nearest_int(iscale * scales[ib]);
            b[i].scales[ib] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; j++) {
            float d = R1_H2F(b[i].d) * b[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (int8_t)(CLAMP(r1_nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
        }
        uint8_t *ql = b[i].ql, *qh = b[i].qh;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; l++) {
                int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = (uint8_t)((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
    }
}
static void vec_dot_q6_K_ref(int n, float *s, const void *vx, const void *vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    float acc = 0;
    int8_t q[QK_K];
    for (int i = 0; i < n / QK_K; i++) {
        q6_K_unpack(&x[i], q);
        int isum = 0;
        for (int j = 0; j < 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += q[16 * j + l] * y[i].qs[16 * j + l];
            isum += x[i].scales[j] * sum;
        }
        acc += R1_H2F(x[i].d) * y[i].d * isum;
    }
    *s = acc;
}

/* ---- Q8_K: float d; q = nearest(x * -127/max) (max = signed largest |x|), capped 127;
 *      bsums[j] = sum of q[16j..16j+16) ---------------------------------------------- */
static void q8_K_to_float(const void *src, float *y, int64_t n) {
    const block_q8_K *b = src;
    for (int64_t i = 0; i < n / QK_K; i++, y += QK_K)
        for (int j = 0; j < QK_K; j++) y[j] = b[i].d * b[i].qs[j];
}
static void q8_K_from_float(const float *x, void *dst, int64_t n) {
    block_q8_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
        if (!amax) { memset(&b[i], 0, sizeof b[i]); continue; }
        float iscale = -127.f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = r1_nearest_int(iscale * x[j]);
            b[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < 16; j++) {
            int sum = 0;
            for (int l = 0; l < 16; l++) sum += b[i].qs[16 * j + l];
            b[i].bsums[j] = (int16_t)sum;
        }
        b[i].d = 1 / iscale;
    }
}

/* ---- IQ4_XS: 8 groups of 32 with 6-bit scales (bias 32: low 4 bits in scales_l
 *      nibbles, high 2 bits in scales_h); x = d*(ls-32)*kvalues[nibble], nibbles as
 *      IQ4_NL per group of 32 ----------------------------------------------------------- */
static void iq4_xs_to_float(const void *src, float *y, int64_t n) {
    const block_iq4_xs *b = src;
    for (int64_t i = 0; i < n / QK_K; i++) {
        float d = R1_H2F(b[i].d);
        const uint8_t *qs = b[i].qs;
        for (int ib = 0; ib < 8; ib++, qs += 16, y += 32) {
            int ls = ((b[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((b[i].scales_h >> 2 * ib) & 3) << 4);
            float dl = d * (ls - 32);
            for (int j = 0; j < 16; j++) {
                y[j] = dl * r1_kvalues_iq4nl[qs[j] & 0xF];
                y[j + 16] = dl * r1_kvalues_iq4nl[qs[j] >> 4];
            }
        }
    }
}
void r1_quantize_iq4(int super, int block, const float *x, uint16_t *dh, uint8_t *q4,
                     uint16_t *scales_h, uint8_t *scales_l) {
    const int8_t *values = r1_kvalues_iq4nl;
    const int ntry = 7;
    uint8_t L[QK_K];
    float scales[QK_K / 32], weight[32];
    memset(q4, 0, (size_t)super / 2);
    *dh = R1_F2H(0.f);
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < super / block; ib++) {
        const float *xb = x + ib * block;
        uint8_t *Lb = L + ib * block;
        for (int j = 0; j < block; j++) weight[j] = xb[j] * xb[j];
        float amax = 0, max = 0;
        for (int j = 0; j < block; j++)
            if (fabsf(xb[j]) > amax) { amax = fabsf(xb[j]); max = xb[j]; }
        if (amax < GROUP_MAX_EPS) { scales[ib] = 0; memset(Lb, 0, (size_t)block); continue; }
        float d = -max / values[0], id = 1 / d, sumqx = 0, sumq2 = 0;
        for (int j = 0; j < block; j++) {
            int l = r1_best_index_int8(16, values, id * xb[j]);
            Lb[j] = (uint8_t)l;
            float q = values[l], w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        d = sumqx / sumq2;
        float best = d * sumqx;
        for (int itry = -ntry; itry <= ntry; itry++) {
            id = (itry + values[0]) / max;
            sumqx = sumq2 = 0;
            for (int j = 0; j < block; j++) {
                float q = values[r1_best_index_int8(16, values, id * xb[j])], w = weight[j];
                sumqx += w * q * xb[j];
                sumq2 += w * q * q;
            }
            if (sumq2 > 0 && sumqx * sumqx > best * sumq2) { d = sumqx / sumq2; best = d * sumqx; }
        }
        scales[ib] = d;
        if (fabsf(d) > amax_scale) { amax_scale = fabsf(d); max_scale = d; }
    }
    if (super / block > 1) {
        *scales_h = 0;
        float d = -max_scale / 32, id = d ? 1 / d : 0.f;
        *dh = R1_F2H(d);
        for (int ib = 0; ib < super / block; ib++) {
            int l = CLAMP(r1_nearest_int(id * scales[ib]), -32, 31);
            float dl = d * l, idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < block; j++)
                L[ib * block + j] = (uint8_t)r1_best_index_int8(16, values, idl * x[ib * block + j]);
            l += 32;
            if (ib % 2 == 0) scales_l[ib / 2] = (uint8_t)(l & 0xF);
            else scales_l[ib / 2] |= (uint8_t)((l & 0xF) << 4);
            *scales_h |= (uint16_t)((l >> 4) << 2 * ib);
        }
    } else {
        *dh = R1_F2H(scales[0]);
        float id = scales[0] ? 1 / scales[0] : 0;
        for (int j = 0; j < super; j++) L[j] = (uint8_t)r1_best_index_int8(16, values, id * x[j]);
    }
    for (int i = 0; i < super / 32; i++)
        for (int j = 0; j < 16; j++) q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}
static void iq4_xs_from_float(const float *x, void *dst, int64_t n) {
    block_iq4_xs *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++)
        r1_quantize_iq4(QK_K, 32, x + i * QK_K, &b[i].d, b[i].qs, &b[i].scales_h, b[i].scales_l);
}
static void vec_dot_iq4_xs_ref(int n, float *s, const void *vx, const void *vy) {
    const block_iq4_xs *x = vx;
    const block_q8_K *y = vy;
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        const uint8_t *qs = x[i].qs;
        const int8_t *q8 = y[i].qs;
        int isum = 0;
        for (int ib = 0; ib < 8; ib++, qs += 16, q8 += 32) {
            int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            int sum = 0;
            for (int j = 0; j < 16; j++)
                sum += r1_kvalues_iq4nl[qs[j] & 0xF] * q8[j] + r1_kvalues_iq4nl[qs[j] >> 4] * q8[j + 16];
            isum += (ls - 32) * sum;
        }
        acc += R1_H2F(x[i].d) * y[i].d * isum;
    }
    *s = acc;
}

#define ENTRY(nm, blk, q, vd) \
    (r1_type_traits){nm, QK_K, sizeof(blk), true, q##_to_float, q##_from_float, NULL, vd, R1_TYPE_Q8_K, NULL, NULL}

void r1_quant_register_k(r1_type_traits *tab) {
    tab[R1_TYPE_Q2_K] = ENTRY("q2_K", block_q2_K, q2_K, vec_dot_q2_K_ref);
    tab[R1_TYPE_Q3_K] = ENTRY("q3_K", block_q3_K, q3_K, vec_dot_q3_K_ref);
    tab[R1_TYPE_Q4_K] = ENTRY("q4_K", block_q4_K, q4_K, vec_dot_q4_K_ref);
    tab[R1_TYPE_Q5_K] = ENTRY("q5_K", block_q5_K, q5_K, vec_dot_q5_K_ref);
    tab[R1_TYPE_Q6_K] = ENTRY("q6_K", block_q6_K, q6_K, vec_dot_q6_K_ref);
    tab[R1_TYPE_Q8_K] = ENTRY("q8_K", block_q8_K, q8_K, NULL);
    tab[R1_TYPE_IQ4_XS] = ENTRY("iq4_xs", block_iq4_xs, iq4_xs, vec_dot_iq4_xs_ref);
}
