/*
 * q8r_amx.c — r1_q8r_gemm_amx: the AMX int8 prefill GEMM on Q8_0 weights repacked by groups
 * of 16 rows (quant_q8r.h), activations Q8_0. Contract r1_gemm_fn as r1_q8r_gemm_ref:
 *   out[c*ldo + r] = dot(weight row r, activation row c),  nr a multiple of 16,
 * equal to the reference up to float summation order (the int sums of a block are exact).
 *
 * Compiled with the AVX-512 flags plus -mamx-tile -mamx-int8 (Makefile), called only when
 * src/cpu.c found AMX usable.
 *
 * Tiles (cfg_q8r(mt)):
 *   C (0, 1): int32 [mt tokens x 16 rows], alternating between consecutive blocks.
 *   N (2):    8 x 64 bytes, every byte -128 (int8): the correction operand, loaded once.
 *   A (4, 5): mt tokens x 32 bytes — the qs of one block, loaded straight from the Q8_0
 *             activation rows (stride a_stride).
 *   B (6, 7): 8 x 64 bytes — one block of the group's quants, already in the VNNI layout:
 *             loaded straight from the weights (stride 64), no packing.
 * Signed activations x unsigned (+128) weights: C = TDPBSUD(A, B) + TDPBSSD(A, N)
 *   = sum(u*a) - 128*sum(a) = the block's exact integer product,
 * so the vector epilogue is the plain Q8_0 kernel's: acc[t] += float(C[t]) * (d_w * d_a[t]).
 * Pipelining: iteration i issues the two products of block i, then stores the C tile of
 * block i-1 (its products issued an iteration earlier) and runs its epilogue, so the store
 * does not wait behind block i's products and the tile unit can work on block i while the
 * vector units finish block i-1 (on this machine the overlap measured small: tile and vector
 * work add up nearly in full).
 * Activation scales: per token slab and K chunk a table per 16-token group and block
 * (contiguous per group), gathered once per call.
 * B tiles come from the weights: L2 prefetch of the next group's chunk is spread over the
 * token groups of the current one, and the first token group of a group prefetches the B
 * tiles four blocks ahead into L1 (later token groups find them there).
 * K is processed in chunks of KCH blocks (table size); partial sums go through `out`
 * (chunk 0 stores, later chunks add). Token tails reconfigure the tiles with fewer rows.
 */
#include "quant_impl.h"
#include "quant_q8r.h"
#include "simd/amx_common.h"
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define Q8R_MIN(a, b) ((a) < (b) ? (a) : (b))

enum { KCH = 64 };    /* blocks per K chunk */
enum { TSLAB = 256 }; /* tokens per table slab: 16 token groups x KCH blocks x 64 bytes = 64 KiB */
enum { PF_BLOCKS = 4 }; /* L1 prefetch distance of the first token group's B tiles, in blocks */

/* the N tile: 8 x 64 bytes of -128 */
static const _Alignas(64) int8_t neg_tile[8 * 64] = {
#define M8 -128, -128, -128, -128, -128, -128, -128, -128
#define M64 M8, M8, M8, M8, M8, M8, M8, M8
    M64, M64, M64, M64, M64, M64, M64, M64
#undef M64
#undef M8
};

/* tiles 0, 1: C (mt x 64); 2: N (8 x 64); 4, 5: A (mt x 32); 6, 7: B (8 x 64) */
static inline void cfg_q8r(int mt) {
    amx_tile_cfg c;
    memset(&c, 0, sizeof c);
    c.palette = 1;
    for (int i = 0; i < 2; i++) { c.rows[i] = (uint8_t)mt; c.colsb[i] = 64; }
    c.rows[2] = 8; c.colsb[2] = 64;
    for (int i = 4; i < 6; i++) { c.rows[i] = (uint8_t)mt; c.colsb[i] = 32; }
    for (int i = 6; i < 8; i++) { c.rows[i] = 8; c.colsb[i] = 64; }
    amx_load_cfg(&c);
}

/* L2 prefetch of part `part` of `nparts` of bytes [base, base + bytes) */
static inline void prefetch_part(const char *base, size_t bytes, int part, int nparts) {
    const size_t lines = (bytes + 63) / 64, l0 = lines * (size_t)part / (size_t)nparts,
                 l1 = lines * (size_t)(part + 1) / (size_t)nparts;
    for (size_t l = l0; l < l1; l++) _mm_prefetch(base + 64 * l, _MM_HINT_T1);
}

/* Activation scales of kb blocks (abase = the chunk's block 0 in token row 0 of the slab)
 * for the slab's ncs tokens: dtab[((t / 16) * KCH + b) * 16 + t % 16]. */
static void scales(const char *abase, size_t a_stride, int ncs, int kb, float *dtab) {
    const bool gather_ok = a_stride <= (size_t)INT32_MAX / 16;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i vidx = _mm512_mullo_epi32(lane, _mm512_set1_epi32(gather_ok ? (int)a_stride : 0));
    for (int t0 = 0; t0 < ncs; t0 += 16) {
        const int mt = Q8R_MIN(16, ncs - t0);
        const __mmask16 tm = (__mmask16)((1u << mt) - 1);
        const char *ab0 = abase + (size_t)t0 * a_stride;
        float *dg = dtab + (size_t)(t0 / 16) * KCH * 16;
        for (int b = 0; b < kb; b++) {
            const char *ab = ab0 + (size_t)b * sizeof(block_q8_0);
            __m512 d;
            if (gather_ok) {
                d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), tm, vidx, ab, 1)));
            } else {
                _Alignas(32) uint16_t h[16] = {0};
                for (int t = 0; t < mt; t++) memcpy(&h[t], ab + (size_t)t * a_stride, 2);
                d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)h));
            }
            _mm512_store_ps(dg + (size_t)b * 16, d);
        }
    }
}

/* 16 tokens (A tiles: block b of the 16 rows at ab0 + b * 34, stride a_stride) x 16 weight
 * rows (quants of the chunk at q) x kb blocks, accumulators in registers (constant indices
 * only). dg: the token group's scales. pf: prefetch B tiles PF_BLOCKS blocks ahead into L1. */
static inline __attribute__((always_inline)) void tok16(const char *ab0, size_t a_stride, const uint8_t *q, int kb,
                                                        float (*wsc)[16], const float *dg, __m512 *acc,
                                                        const int pf) {
    _Alignas(64) int32_t cbuf[16 * 16];
    for (int i = 0; i <= kb; i++) {
        if (i < kb) {
            const char *ab = ab0 + (size_t)i * sizeof(block_q8_0);
            const uint8_t *qb = q + (size_t)i * 512;
            if (i & 1) {
                _tile_zero(1);
                _tile_loadd(5, ab, (long)a_stride);
                _tile_loadd(7, qb, 64);
                _tile_dpbsud(1, 5, 7);
                _tile_dpbssd(1, 5, 2);
            } else {
                _tile_zero(0);
                _tile_loadd(4, ab, (long)a_stride);
                _tile_loadd(6, qb, 64);
                _tile_dpbsud(0, 4, 6);
                _tile_dpbssd(0, 4, 2);
            }
            if (pf && i + PF_BLOCKS < kb) {
                const char *pb = (const char *)qb + (size_t)PF_BLOCKS * 512;
#pragma GCC unroll 8
                for (int l = 0; l < 8; l++) _mm_prefetch(pb + 64 * l, _MM_HINT_T0);
            }
        }
        if (i == 0) continue;
        const int j = i - 1;
        if (j & 1) _tile_stored(1, cbuf, 64);
        else _tile_stored(0, cbuf, 64);
        amx_q8_epi16(acc, cbuf, wsc[j], dg + (size_t)j * 16);
    }
}

void r1_q8r_gemm_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                     float *out, size_t ldo) {
    const int nb = n / QK32;
    _Alignas(64) float dtab[TSLAB / 16 * KCH * 16];   /* [token group][block][16] of a slab and chunk */
    _Alignas(64) float wsc[KCH][16];
    _Alignas(64) int32_t cbuf[16 * 16];
    int cur_mt = 16;
    cfg_q8r(16);
    _tile_loadd(2, neg_tile, 64);
    for (int ts = 0; ts < nc; ts += TSLAB) {
        const int ncs = Q8R_MIN(TSLAB, nc - ts);
        const char *aslab = (const char *)a + (size_t)ts * a_stride;
        const int ntg = (ncs + 15) / 16;
        for (int k0 = 0; k0 < nb; k0 += KCH) {
            const int kb = Q8R_MIN(KCH, nb - k0);
            scales(aslab + (size_t)k0 * sizeof(block_q8_0), a_stride, ncs, kb, dtab);
            for (int r0 = 0; r0 < nr; r0 += 16) {
                const char *g = (const char *)w + (size_t)r0 * w_stride;
                const uint16_t *sc = (const uint16_t *)g + (size_t)16 * k0;
                const uint8_t *q = (const uint8_t *)g + (size_t)32 * nb + (size_t)512 * k0;
                for (int b = 0; b < kb; b++)
                    _mm512_store_ps(wsc[b], _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + 16 * b))));
                /* the next group's quants of this chunk, else the first group's of the next chunk */
                const uint8_t *nx = NULL;
                size_t nx_bytes = 0;
                if (r0 + 16 < nr) {
                    nx = q + (size_t)16 * w_stride;
                    nx_bytes = (size_t)512 * kb;
                } else if (k0 + KCH < nb) {
                    nx = (const uint8_t *)w + (size_t)32 * nb + (size_t)512 * (k0 + KCH);
                    nx_bytes = (size_t)512 * Q8R_MIN(KCH, nb - k0 - KCH);
                }
                for (int t0 = 0; t0 < ncs; t0 += 16) {
                    const int mt = Q8R_MIN(16, ncs - t0);
                    const float *dg = dtab + (size_t)(t0 / 16) * KCH * 16;
                    if (nx) prefetch_part((const char *)nx, nx_bytes, t0 / 16, ntg);
                    if (mt != cur_mt) {   /* a new configuration clears the tiles: reload N */
                        cfg_q8r(mt);
                        _tile_loadd(2, neg_tile, 64);
                        cur_mt = mt;
                    }
                    const char *ab0 = aslab + (size_t)t0 * a_stride + (size_t)k0 * sizeof(block_q8_0) + 2;
                    if (mt == 16) {
                        __m512 acc16[16];   /* constant indices only: kept in registers */
#pragma GCC unroll 16
                        for (int t = 0; t < 16; t++) acc16[t] = _mm512_setzero_ps();
                        if (t0 == 0) tok16(ab0, a_stride, q, kb, wsc, dg, acc16, 1);
                        else tok16(ab0, a_stride, q, kb, wsc, dg, acc16, 0);
                        amx_store_acc16(out, ldo, ts + t0, r0, 0xFFFF, acc16, k0 > 0);
                        continue;
                    }
                    /* token tail: one block at a time */
                    __m512 acc[16];
                    for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
                    for (int b = 0; b < kb; b++) {
                        _tile_zero(0);
                        _tile_loadd(4, ab0 + (size_t)b * sizeof(block_q8_0), (long)a_stride);
                        _tile_loadd(6, q + (size_t)512 * b, 64);
                        _tile_dpbsud(0, 4, 6);
                        _tile_dpbssd(0, 4, 2);
                        _tile_stored(0, cbuf, 64);
                        const __m512 ws = _mm512_load_ps(wsc[b]);
                        for (int t = 0; t < mt; t++) {
                            const __m512 c = _mm512_cvtepi32_ps(_mm512_load_si512(&cbuf[t * 16]));
                            acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(ws, _mm512_set1_ps(dg[(size_t)b * 16 + t])), acc[t]);
                        }
                    }
                    amx_store_acc(out, ldo, ts + t0, mt, r0, 0xFFFF, acc, k0 > 0);
                }
            }
        }
    }
    _tile_release();
}
