/* amx_common.h — pieces shared by the AMX kernels (the src/simd/ *_amx.c files only: needs the AMX and
 * AVX-512 target flags the Makefile gives those files).
 *
 * amx_tile_cfg: the 64-byte LDTILECFG operand (palette 1).
 * amx_cfg_c4a2b2(mt, ka): the layout of the k-quant and legacy-quant kernels — tiles 0-3 C
 *   (mt x 16 int32), 4-5 A (mt x ka int8), 6-7 B (ka/4 x 64 int8, VNNI); 1 <= mt <= 16,
 *   ka a multiple of 4, <= 64.
 * amx_transpose16(src, ss, dst): 16 rows of 64 bytes (src + r*ss) -> 16 rows of 64 bytes
 *   (dst + k*64, dst 64-byte aligned), a dword transpose: dst row k = [src row 0 dword k,
 *   src row 1 dword k, ..., src row 15 dword k] — the VNNI layout of a B tile
 *   (B[k/4][4*r + k%4] = q_r[k]) for 16 weight rows.
 * amx_store_acc(out, ldo, t0, mt, r0, rmask, acc, add): for t < mt, the rows of rmask of
 *   out[(t0+t)*ldo + r0 ...] = acc[t] (+ what is there when add: a later K chunk).
 * amx_store_acc16(out, ldo, t0, r0, rmask, acc, add): the same for mt == 16, unrolled so that
 *   an acc[16] the caller keeps in registers (constant indices only) is not spilled.
 * amx_prefetch_rows(base, stride, nrows, bytes, part, nparts): L2 prefetch of a slice of
 *   a block of weight rows (the next chunk, spread over the current chunk's token groups). */
#ifndef R1_SIMD_AMX_COMMON_H
#define R1_SIMD_AMX_COMMON_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t  palette, start_row;
    uint8_t  reserved[14];
    uint16_t colsb[16];
    uint8_t  rows[16];
} amx_tile_cfg;

static inline void amx_load_cfg(const amx_tile_cfg *c) {
    /* the compiler must not drop the stores: LDTILECFG reads the 64 bytes */
    __asm__ volatile("" : : "r"(c) : "memory");
    _tile_loadconfig(c);
}

static inline void amx_cfg_c4a2b2(int mt, int ka) {
    amx_tile_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 4; i++) { c.rows[i] = (uint8_t)mt; c.colsb[i] = 64; }
    for (int i = 4; i < 6; i++) { c.rows[i] = (uint8_t)mt; c.colsb[i] = (uint16_t)ka; }
    for (int i = 6; i < 8; i++) { c.rows[i] = (uint8_t)(ka / 4); c.colsb[i] = 64; }
    amx_load_cfg(&c);
}

static inline void amx_transpose16(const int8_t *src, size_t ss, int8_t *dst) {
    __m512i r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_si512(src + (size_t)i * ss);
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        r[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    /* r[4i+m], 128-bit lane L = column 4L+m of rows 4i..4i+3 */
    for (int m = 0; m < 4; m++) {
        const __m512i v = _mm512_shuffle_i32x4(r[m], r[4 + m], 0x88), w = _mm512_shuffle_i32x4(r[m], r[4 + m], 0xDD);
        const __m512i v2 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0x88), w2 = _mm512_shuffle_i32x4(r[8 + m], r[12 + m], 0xDD);
        _mm512_store_si512(dst + (size_t)(m + 0) * 64, _mm512_shuffle_i32x4(v, v2, 0x88));
        _mm512_store_si512(dst + (size_t)(m + 8) * 64, _mm512_shuffle_i32x4(v, v2, 0xDD));
        _mm512_store_si512(dst + (size_t)(m + 4) * 64, _mm512_shuffle_i32x4(w, w2, 0x88));
        _mm512_store_si512(dst + (size_t)(m + 12) * 64, _mm512_shuffle_i32x4(w, w2, 0xDD));
    }
}

static inline void amx_store_acc(float *out, size_t ldo, int t0, int mt, int r0, __mmask16 rmask, const __m512 *acc,
                                 int add) {
    for (int t = 0; t < mt; t++) {
        float *o = out + (size_t)(t0 + t) * ldo + r0;
        __m512 v = acc[t];
        if (add) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(rmask, o));
        _mm512_mask_storeu_ps(o, rmask, v);
    }
}

/* amx_store_acc for 16 tokens, unrolled (keeps a register-resident acc[16] in registers) */
static inline __attribute__((always_inline)) void amx_store_acc16(float *out, size_t ldo, int t0, int r0,
                                                                  __mmask16 rmask, const __m512 *acc, int add) {
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++) {
        float *o = out + (size_t)(t0 + t) * ldo + r0;
        __m512 v = acc[t];
        if (add) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(rmask, o));
        _mm512_mask_storeu_ps(o, rmask, v);
    }
}

/* The Q8_0 epilogue of one block for 16 tokens: acc[t] += float(cb[t]) * ws * as[t], where
 * cb is a stored 16x16 int32 C tile (token t's 16 row sums at cb + 16t), ws the 16 weight-row
 * scales and as[t] token t's activation scale (quant_amx.c on packed rows, q8r_amx.c on
 * repacked ones). */
static inline __attribute__((always_inline)) void amx_q8_epi16(__m512 *acc, const int32_t *cb, const float *wsc,
                                                               const float *as) {
    const __m512 ws = _mm512_load_ps(wsc);
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++) {
        const __m512 c = _mm512_cvtepi32_ps(_mm512_load_si512(cb + t * 16));
        acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(ws, _mm512_set1_ps(as[t])), acc[t]);
    }
}

/* Prefetch (into L2) part `part` of `nparts` of a block of weight rows: rows
 * [part*nrows/nparts, (part+1)*nrows/nparts) of nrows rows of `bytes` bytes at
 * base + r*stride. The kernels spread the next chunk's rows over the token groups of the
 * current one, so the packing finds them in cache. */
static inline void amx_prefetch_rows(const char *base, size_t stride, int nrows, size_t bytes, int part, int nparts) {
    const int r0 = part * nrows / nparts, r1 = (part + 1) * nrows / nparts;
    for (int r = r0; r < r1; r++) {
        const char *p = base + (size_t)r * stride;
        const uintptr_t a0 = (uintptr_t)p & ~(uintptr_t)63, a1 = (uintptr_t)p + bytes;
        for (uintptr_t a = a0; a < a1; a += 64) _mm_prefetch((const char *)a, _MM_HINT_T1);
    }
}

#endif
