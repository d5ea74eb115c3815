/*
 * quant_amx.c — batched (prefill) int8 GEMM on Intel AMX tiles (AMX-TILE + AMX-INT8).
 *
 * Compiled with the AVX-512 flags plus -mamx-tile -mamx-int8 (Makefile); only called
 * when src/cpu.c found AMX usable (cpuid, XCR0 tile state, and Linux granting the tile
 * data permission to the process). Kernels have the r1_gemm_fn contract:
 *   out[c*ldo + r] = dot(weight row r, activation row c)
 * equal to the scalar vec_dot_ref up to float summation order (int8 products of one
 * 32-element block are summed exactly in int32; blocks are scaled and summed in float
 * in block order, as the reference does, but with FMA rounding).
 *
 * Q8_0 · Q8_0 layout:
 *   A tile (tile 1): up to 16 tokens x 32 bytes — the qs of block b of 16 activation rows,
 *                    loaded straight from the Q8_0 activation rows (stride a_stride).
 *   B tile (tile 2): 8 x 64 bytes — block b of 16 weight rows in the VNNI layout
 *                    B[k/4][4*j + k%4] = w_j.qs[k], packed once per (16 rows, 64 blocks)
 *                    into a stack buffer and reused for every token of the call.
 *   C tile (tile 0): int32 [tokens x 16 rows] = A·B (TDPBSSD), stored, converted to float,
 *                    scaled by (weight scale of row j) x (activation scale of token t) and
 *                    accumulated with AVX-512 FMAs into 16 float rows.
 * K is processed in chunks of 64 blocks; partial sums go through `out` (chunk 0 stores,
 * later chunks add). Row tails are packed as zero rows (scale 0) and masked at the store;
 * token tails reconfigure the tiles with fewer rows.
 */
#include "quant_impl.h"
#include "simd/amx_common.h"
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AMX_MIN(a, b) ((a) < (b) ? (a) : (b))

/* tiles for the Q8_0 kernel with mt token rows (1..16) */
static void cfg_q8_0(int mt) {
    amx_tile_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    c.rows[0] = (uint8_t)mt; c.colsb[0] = 64;   /* C: mt x 16 int32 */
    c.rows[1] = (uint8_t)mt; c.colsb[1] = 32;   /* A: mt x 32 int8  */
    c.rows[2] = 8;           c.colsb[2] = 64;   /* B: 8 x (16 x 4) int8 */
    amx_load_cfg(&c);
}

enum { KCH = 64 };  /* blocks per packed chunk: 64 x 512 B = 32 KiB of packed weights */

static void gemm_q8_0_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a,
                          size_t a_stride, float *out, size_t ldo) {
    const int nb = n / 32;
    _Alignas(64) int8_t bpack[KCH][8 * 64];
    _Alignas(64) float wsc[KCH][16];
    _Alignas(64) int32_t cbuf[16 * 16];
    _Alignas(64) float asc[16];
    const bool gather_ok = a_stride <= (size_t)INT32_MAX / 16;
    const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(gather_ok ? (int)a_stride : 0));
    int cur_mt = 16;
    cfg_q8_0(16);
    for (int r0 = 0; r0 < nr; r0 += 16) {
        const int mr = AMX_MIN(16, nr - r0);
        const __mmask16 rmask = (__mmask16)((1u << mr) - 1);
        for (int k0 = 0; k0 < nb; k0 += KCH) {
            const int kb = AMX_MIN(KCH, nb - k0);
            /* pack blocks k0..k0+kb of rows r0..r0+mr */
            for (int b = 0; b < kb; b++) {
                uint32_t *dst = (uint32_t *)bpack[b];
                for (int j = 0; j < 16; j++) {
                    if (j < mr) {
                        const block_q8_0 *blk = (const block_q8_0 *)((const char *)w + (size_t)(r0 + j) * w_stride) + k0 + b;
                        uint32_t q[8];
                        memcpy(q, blk->qs, 32);
                        for (int k4 = 0; k4 < 8; k4++) dst[k4 * 16 + j] = q[k4];
                        wsc[b][j] = _cvtsh_ss(blk->d);
                    } else {
                        for (int k4 = 0; k4 < 8; k4++) dst[k4 * 16 + j] = 0;
                        wsc[b][j] = 0.0f;
                    }
                }
            }
            for (int t0 = 0; t0 < nc; t0 += 16) {
                const int mt = AMX_MIN(16, nc - t0);
                if (mt != cur_mt) { cfg_q8_0(mt); cur_mt = mt; }
                const char *abase = (const char *)a + (size_t)t0 * a_stride;
                __m512 acc[16];
                for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
                for (int b = 0; b < kb; b++) {
                    const char *ab = abase + (size_t)(k0 + b) * sizeof(block_q8_0);
                    _tile_zero(0);
                    _tile_loadd(1, ab + 2, (long)a_stride);
                    _tile_loadd(2, bpack[b], 64);
                    _tile_dpbssd(0, 1, 2);
                    _tile_stored(0, cbuf, 64);
                    if (gather_ok && mt == 16) {
                        __m512i d = _mm512_i32gather_epi32(vidx, ab, 1);
                        _mm512_store_ps(asc, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d)));
                    } else {
                        for (int t = 0; t < mt; t++) {
                            uint16_t h;
                            memcpy(&h, ab + (size_t)t * a_stride, 2);
                            asc[t] = _cvtsh_ss(h);
                        }
                    }
                    const __m512 ws = _mm512_load_ps(wsc[b]);
                    for (int t = 0; t < mt; t++) {
                        const __m512 c = _mm512_cvtepi32_ps(_mm512_load_si512(&cbuf[t * 16]));
                        acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(ws, _mm512_set1_ps(asc[t])), acc[t]);
                    }
                }
                amx_store_acc(out, ldo, t0, mt, r0, rmask, acc, k0 > 0);
            }
        }
    }
    _tile_release();
}

r1_gemm_fn r1_amx_gemm_kernel(r1_type t) {
    switch (t) {
    case R1_TYPE_Q8_0: return gemm_q8_0_amx;
    default: {
        const r1_gemm_fn f = r1_amx_gemm_kquant(t);
        return f ? f : r1_amx_gemm_legacy(t);
    }
    }
}
