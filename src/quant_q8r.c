/*
 * quant_q8r.c — the 16-row repacked Q8_0 layout (see quant_q8r.h): repacking, unpacking and
 * the scalar reference product every SIMD/AMX kernel of the layout is tested against.
 */
#include "quant_q8r.h"
#include "quant_impl.h"

#define R1_H2F r1_fp16_to_fp32

/* The three regions of a group of nb blocks. */
static inline const uint16_t *grp_scales(const void *g) { return (const uint16_t *)g; }
static inline const uint8_t *grp_quants(const void *g, int64_t nb) { return (const uint8_t *)g + 32 * (size_t)nb; }

size_t r1_q8r_group_bytes(int64_t n_cols) { return (size_t)R1_Q8R_ROWS * sizeof(block_q8_0) * (size_t)(n_cols / QK32); }

void r1_q8r_repack(void *dst, const void *src, size_t src_stride, int64_t n_cols) {
    const int64_t nb = n_cols / QK32;
    uint16_t *sc = dst;
    uint8_t *qs = (uint8_t *)dst + 32 * (size_t)nb;
    for (int r = 0; r < R1_Q8R_ROWS; r++) {
        const block_q8_0 *row = (const block_q8_0 *)((const char *)src + (size_t)r * src_stride);
        for (int64_t b = 0; b < nb; b++) {
            uint16_t d;
            memcpy(&d, &row[b].d, sizeof d);   /* rows of a GGUF need not be 2-aligned */
            sc[16 * b + r] = d;
            uint8_t *out = qs + 512 * (size_t)b + 4 * (size_t)r;
            for (int q = 0; q < 8; q++) {   /* elements 4q..4q+3: +128 = flip each top bit */
                uint32_t v;
                memcpy(&v, row[b].qs + 4 * q, 4);
                v ^= 0x80808080u;
                memcpy(out + 64 * q, &v, 4);
            }
        }
    }
}

void r1_q8r_repack_inplace(void *g, int64_t n_cols, void *scratch) {
    const size_t rb = (size_t)(n_cols / QK32) * sizeof(block_q8_0);
    memcpy(scratch, g, R1_Q8R_ROWS * rb);
    r1_q8r_repack(g, scratch, rb, n_cols);
}

void r1_q8r_unpack_row(void *dst, const void *g, int r, int64_t n_cols) {
    const int64_t nb = n_cols / QK32;
    const uint16_t *sc = grp_scales(g);
    const uint8_t *qs = grp_quants(g, nb);
    block_q8_0 *row = dst;
    for (int64_t b = 0; b < nb; b++) {
        row[b].d = sc[16 * b + r];
        for (int e = 0; e < QK32; e++) row[b].qs[e] = (int8_t)(qs[512 * b + 64 * (e / 4) + 4 * r + e % 4] - 128);
    }
}

void r1_q8r_to_float_row(const void *g, int r, float *y, int64_t n_cols) {
    const int64_t nb = n_cols / QK32;
    const uint16_t *sc = grp_scales(g);
    const uint8_t *qs = grp_quants(g, nb);
    for (int64_t b = 0; b < nb; b++) {
        const float d = R1_H2F(sc[16 * b + r]);
        for (int e = 0; e < QK32; e++) y[QK32 * b + e] = d * (float)((int)qs[512 * b + 64 * (e / 4) + 4 * r + e % 4] - 128);
    }
}

void r1_q8r_gemm_ref(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                     float *out, size_t ldo) {
    const int nb = n / QK32;
    for (int g0 = 0; g0 < nr; g0 += R1_Q8R_ROWS) {
        const void *g = (const char *)w + (size_t)g0 * w_stride;
        const uint16_t *sc = grp_scales(g);
        const uint8_t *qs = grp_quants(g, nb);
        for (int c = 0; c < nc; c++) {
            const block_q8_0 *y = (const block_q8_0 *)((const char *)a + (size_t)c * a_stride);
            for (int r = 0; r < R1_Q8R_ROWS; r++) {
                float acc = 0;
                for (int b = 0; b < nb; b++) {
                    int sum = 0, asum = 0;
                    for (int e = 0; e < QK32; e++) {
                        sum += qs[512 * b + 64 * (e / 4) + 4 * r + e % 4] * y[b].qs[e];
                        asum += y[b].qs[e];
                    }
                    acc += (float)(sum - 128 * asum) * (R1_H2F(sc[16 * b + r]) * R1_H2F(y[b].d));
                }
                out[(size_t)c * ldo + g0 + r] = acc;
            }
        }
    }
}
