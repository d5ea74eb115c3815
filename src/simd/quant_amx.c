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
#include "quant_q8r.h"
#include "simd/amx_common.h"
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AMX_MIN(a, b) ((a) < (b) ? (a) : (b))

enum { KCH = 64 };  /* blocks per packed chunk: 64 x 512 B = 32 KiB of packed weights */
enum { TSLAB = 256 }; /* tokens per activation-scale table (KCH x TSLAB floats, 64 KiB) */
enum { Q8_LAG = 1 }; /* pairs between a pair's TDPBSSDs and its vector epilogue */

/* Blocks 0..kb-1 of 16 weight rows (w = row 0's first block; rows >= mr are zero, scale 0)
 * into VNNI B tiles, two blocks per 16x64 transpose: bpack[p] rows 0-7 = block 2p, rows
 * 8-15 = block 2p+1 (zero when kb is odd and 2p+1 == kb); wsc[b][j] = d of row j, block b. */
static void pack_q8_0(const char *w, size_t w_stride, int mr, int kb, int8_t (*bpack)[16 * 64], float (*wsc)[16]) {
    _Alignas(64) int8_t wq[16][64];
    for (int b = 0; b < kb; b += 2) {
        const bool two = b + 1 < kb;
        _Alignas(32) uint16_t dh[2][16];   /* fp16 scales (0 = zero rows), converted 16 at a time */
        for (int j = 0; j < 16; j++) {
            __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
            uint16_t d0 = 0, d1 = 0;
            if (j < mr) {
                const block_q8_0 *blk = (const block_q8_0 *)(w + (size_t)j * w_stride) + b;
                lo = _mm256_loadu_si256((const __m256i *)blk[0].qs);
                d0 = blk[0].d;
                if (two) {
                    hi = _mm256_loadu_si256((const __m256i *)blk[1].qs);
                    d1 = blk[1].d;
                }
            }
            _mm256_store_si256((__m256i *)wq[j], lo);
            _mm256_store_si256((__m256i *)(wq[j] + 32), hi);
            dh[0][j] = d0;
            dh[1][j] = d1;
        }
        _mm512_store_ps(wsc[b], _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)dh[0])));
        if (two) _mm512_store_ps(wsc[b + 1], _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)dh[1])));
        amx_transpose16(&wq[0][0], 64, bpack[b / 2]);
    }
}


/* One pair of blocks (2p, 2p+1 when two) for 16 tokens into C tiles c0, c1 -> cb[0], cb[1] */
#define Q8_PAIR(c0, c1, a0, a1, b0, b1)                              \
    do {                                                             \
        _tile_zero(c0);                                              \
        _tile_loadd(a0, ab + 2, (long)a_stride);                     \
        _tile_loadd(b0, bpack[p], 64);                               \
        _tile_dpbssd(c0, a0, b0);                                    \
        if (two) {                                                   \
            _tile_zero(c1);                                          \
            _tile_loadd(a1, ab + 2 + sizeof(block_q8_0), (long)a_stride); \
            _tile_loadd(b1, bpack[p] + 8 * 64, 64);                  \
            _tile_dpbssd(c1, a1, b1);                                \
        }                                                            \
        _tile_stored(c0, cb[0], 64);                                 \
        if (two) _tile_stored(c1, cb[1], 64);                        \
    } while (0)

/* 16 tokens (rows of a from abase, block 0 = the chunk's first) x 16 weight rows x kb blocks:
 * the pair loop keeps two pairs of C tiles in flight; the float epilogue of pair p runs
 * after the TDPBSSDs of pair p + Q8_LAG were issued, accumulators stay in registers.
 * asc[b*TSLAB + t]: activation scale of token t, block b — gathered here (among the tile
 * work) when `gather`, else read as an earlier row group of the call left it. */
static inline __attribute__((always_inline)) void q8_tok16(const char *abase, size_t a_stride, int kb,
                                                           int8_t (*bpack)[16 * 64], float (*wsc)[16], float *asc,
                                                           const int gather, __m512i vidx, __m512 *acc) {
    _Alignas(64) int32_t cbuf[Q8_LAG + 1][2][16 * 16];
    const int np = (kb + 1) / 2;
    for (int p = 0; p < np + Q8_LAG; p++) {
        if (p < np) {
            const bool two = 2 * p + 1 < kb;
            const char *ab = abase + (size_t)(2 * p) * sizeof(block_q8_0);
            int32_t (*cb)[16 * 16] = cbuf[p % (Q8_LAG + 1)];
            if (p & 1) Q8_PAIR(2, 3, 4, 5, 6, 7);
            else Q8_PAIR(0, 1, 4, 5, 6, 7);
            if (gather) {
                _mm512_store_ps(asc + (size_t)(2 * p) * TSLAB,
                                _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_i32gather_epi32(vidx, ab, 1))));
                if (two)
                    _mm512_store_ps(asc + (size_t)(2 * p + 1) * TSLAB,
                                    _mm512_cvtph_ps(_mm512_cvtepi32_epi16(
                                        _mm512_i32gather_epi32(vidx, ab + sizeof(block_q8_0), 1))));
            }
        }
        const int q = p - Q8_LAG;
        if (q >= 0) {
            const int s = q % (Q8_LAG + 1);
            amx_q8_epi16(acc, cbuf[s][0], wsc[2 * q], asc + (size_t)(2 * q) * TSLAB);
            if (2 * q + 1 < kb) amx_q8_epi16(acc, cbuf[s][1], wsc[2 * q + 1], asc + (size_t)(2 * q + 1) * TSLAB);
        }
    }
}

static void gemm_q8_0_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a,
                          size_t a_stride, float *out, size_t ldo) {
    const int nb = n / 32;
    _Alignas(64) int8_t bpack[KCH / 2][16 * 64];
    _Alignas(64) float wsc[KCH][16];
    _Alignas(64) float asc[KCH * TSLAB];   /* [block][token] activation scales of a chunk */
    _Alignas(64) int32_t cbuf[16 * 16];
    const bool gather_ok = a_stride <= (size_t)INT32_MAX / 16;
    const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(gather_ok ? (int)a_stride : 0));
    int cur_mt = 16;
    amx_cfg_c4a2b2(16, 32);
    for (int ts = 0; ts < nc; ts += TSLAB) {
        const int ncs = AMX_MIN(TSLAB, nc - ts);
        const char *aslab = (const char *)a + (size_t)ts * a_stride;
        for (int k0 = 0; k0 < nb; k0 += KCH) {
            const int kb = AMX_MIN(KCH, nb - k0);
            for (int r0 = 0; r0 < nr; r0 += 16) {
                const int mr = AMX_MIN(16, nr - r0);
                const __mmask16 rmask = (__mmask16)((1u << mr) - 1);
                pack_q8_0((const char *)w + (size_t)r0 * w_stride + (size_t)k0 * sizeof(block_q8_0), w_stride, mr, kb,
                          bpack, wsc);
                /* the next weights to pack (the next 16 rows, else the next K chunk's first) */
                const char *nx = NULL;
                int nx_rows = 0, nx_kb = 0;
                if (r0 + 16 < nr) {
                    nx = (const char *)w + (size_t)(r0 + 16) * w_stride + (size_t)k0 * sizeof(block_q8_0);
                    nx_rows = AMX_MIN(16, nr - r0 - 16);
                    nx_kb = kb;
                } else if (k0 + KCH < nb) {
                    nx = (const char *)w + (size_t)(k0 + KCH) * sizeof(block_q8_0);
                    nx_rows = AMX_MIN(16, nr);
                    nx_kb = AMX_MIN(KCH, nb - k0 - KCH);
                }
                const int ntg = (ncs + 15) / 16;
                for (int t0 = 0; t0 < ncs; t0 += 16) {
                    const int mt = AMX_MIN(16, ncs - t0);
                    if (nx) amx_prefetch_rows(nx, w_stride, nx_rows, (size_t)nx_kb * sizeof(block_q8_0), t0 / 16, ntg);
                    if (mt != cur_mt) { amx_cfg_c4a2b2(mt, 32); cur_mt = mt; }
                    const char *abase = aslab + (size_t)t0 * a_stride + (size_t)k0 * sizeof(block_q8_0);
                    if (mt == 16 && gather_ok) {
                        __m512 acc16[16];   /* constant indices only: kept in registers */
#pragma GCC unroll 16
                        for (int t = 0; t < 16; t++) acc16[t] = _mm512_setzero_ps();
                        if (r0 == 0) q8_tok16(abase, a_stride, kb, bpack, wsc, asc + t0, 1, vidx, acc16);
                        else q8_tok16(abase, a_stride, kb, bpack, wsc, asc + t0, 0, vidx, acc16);
                        amx_store_acc16(out, ldo, ts + t0, r0, rmask, acc16, k0 > 0);
                        continue;
                    }
                    /* token tail (or a stride too big to gather): one block at a time */
                    __m512 acc[16];
                    for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
                    for (int b = 0; b < kb; b++) {
                        const char *ab = abase + (size_t)b * sizeof(block_q8_0);
                        float *as = asc + (size_t)b * TSLAB + t0;
                        _tile_zero(0);
                        _tile_loadd(4, ab + 2, (long)a_stride);
                        _tile_loadd(6, bpack[b / 2] + (b % 2) * 8 * 64, 64);
                        _tile_dpbssd(0, 4, 6);
                        _tile_stored(0, cbuf, 64);
                        if (r0 == 0)
                            for (int t = 0; t < mt; t++) {
                                uint16_t h;
                                memcpy(&h, ab + (size_t)t * a_stride, 2);
                                as[t] = _cvtsh_ss(h);
                            }
                        const __m512 ws = _mm512_load_ps(wsc[b]);
                        for (int t = 0; t < mt; t++) {
                            const __m512 c = _mm512_cvtepi32_ps(_mm512_load_si512(&cbuf[t * 16]));
                            acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(ws, _mm512_set1_ps(as[t])), acc[t]);
                        }
                    }
                    amx_store_acc(out, ldo, ts + t0, mt, r0, rmask, acc, k0 > 0);
                }
            }
        }
    }
    _tile_release();
}

r1_gemm_fn r1_amx_gemm_kernel(r1_type t) {
    switch (t) {
    case R1_TYPE_Q8_0: return gemm_q8_0_amx;
    case R1_TYPE_Q8_0_R16: return r1_q8r_gemm_amx;   /* src/simd/q8r_amx.c */
    default: {
        const r1_gemm_fn f = r1_amx_gemm_kquant(t);
        return f ? f : r1_amx_gemm_legacy(t);
    }
    }
}
