/*
 * q8r_amx.c — r1_q8r_gemm_amx: the AMX int8 prefill GEMM on Q8_0 weights repacked by groups
 * of 16 rows (quant_q8r.h), activations Q8_0. Contract r1_gemm_fn as r1_q8r_gemm_ref:
 *   out[c*ldo + r] = dot(weight row r, activation row c),  nr a multiple of 16,
 * equal to the reference up to float summation order (the int sums of a block are exact).
 *
 * Compiled with the AVX-512 flags plus -mamx-tile -mamx-int8 (Makefile), called only when
 * src/cpu.c found AMX usable.
 *
 * Tiles (amx_cfg_c4a2b2(mt, 32)):
 *   A (4, 5): mt tokens x 32 bytes — the qs of one block, loaded straight from the Q8_0
 *             activation rows (stride a_stride).
 *   B (6, 7): 8 x 64 bytes — one block of the group's quants, already in the VNNI layout:
 *             loaded straight from the weights (stride 64), no packing.
 *   C (0-3):  int32 [mt tokens x 16 rows]; two pairs of C tiles alternate.
 * Signed activations x unsigned (+128) weights: TDPBSUD gives S = sum(u*a); the block's
 * product is S - 128*sum(a), formed exactly in float in the epilogue:
 *   acc[t] += (float(S) - 128*sum(a_t)) * (d_w[16 rows] * d_a[t])
 * (|S| < 2^21 and |S - 128*sum(a)| <= 2^19: both exact in float).
 * Per token slab and K chunk a prologue fills a table per 16-token group and block (contiguous
 * per group, 128 bytes per block): d_a and 128*sum(a) of the 16 tokens — sum(a) from a
 * TDPBSSD of the A tile with a tile of ones.
 * Pipelining: iteration i of the block-pair loop issues the TDPBSUDs of pair i, then stores
 * the C tiles of pair i-1 (whose products are done by then) and runs their vector epilogue,
 * so the tile unit works on pair i while the vector units finish pair i-1.
 * B tiles come from the weights: L2 prefetch of the next group's chunk is spread over the
 * token groups of the current one, and the first token group of a group prefetches the B
 * tiles two pairs ahead into L1 (later token groups find them there).
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
enum { TSLAB = 256 }; /* tokens per table slab: 16 token groups x KCH blocks x 128 bytes = 128 KiB */
enum { PF_PAIRS = 2 }; /* L1 prefetch distance of the first token group's B tiles, in block pairs */

/* a B tile (8 x 64) of ones: C[t][*] = sum of A row t */
static const _Alignas(64) int8_t ones_tile[8 * 64] = {
#define O8 1, 1, 1, 1, 1, 1, 1, 1
#define O64 O8, O8, O8, O8, O8, O8, O8, O8
    O64, O64, O64, O64, O64, O64, O64, O64
#undef O64
#undef O8
};

/* One block of 16 tokens: activation scales and 128 * (sum of the block's quants) */
typedef struct {
    _Alignas(64) float d[16];
    float k[16];
} q8r_tab;

/* L2 prefetch of part `part` of `nparts` of bytes [base, base + bytes) */
static inline void prefetch_part(const char *base, size_t bytes, int part, int nparts) {
    const size_t lines = (bytes + 63) / 64, l0 = lines * (size_t)part / (size_t)nparts,
                 l1 = lines * (size_t)(part + 1) / (size_t)nparts;
    for (size_t l = l0; l < l1; l++) _mm_prefetch(base + 64 * l, _MM_HINT_T1);
}

/* The tables of kb blocks (abase = the chunk's block 0 in token row 0 of the slab) for the
 * slab's ncs tokens: tab[(t / 16) * KCH + b] holds token t's. The block loop is pipelined
 * like the product's (TDPBSSD of block b, then store and read out block b-1). Leaves the
 * tiles configured for *cur_mt rows. */
static void tables(const char *abase, size_t a_stride, int ncs, int kb, q8r_tab *tab, int *cur_mt) {
    _Alignas(64) int32_t cs[2][16 * 16];
    const bool gather_ok = a_stride <= (size_t)INT32_MAX / 16;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i vidx = _mm512_mullo_epi32(lane, _mm512_set1_epi32(gather_ok ? (int)a_stride : 0));
    const __m512i ridx = _mm512_slli_epi32(lane, 4);   /* column 0 of C row t: cs[16 t] */
    for (int t0 = 0; t0 < ncs; t0 += 16) {
        const int mt = Q8R_MIN(16, ncs - t0);
        const __mmask16 tm = (__mmask16)((1u << mt) - 1);
        if (mt != *cur_mt) { amx_cfg_c4a2b2(mt, 32); *cur_mt = mt; }
        _tile_loadd(6, ones_tile, 64);
        const char *ab0 = abase + (size_t)t0 * a_stride;
        q8r_tab *tg = tab + (t0 / 16) * KCH;
        for (int b = 0; b <= kb; b++) {
            if (b < kb) {
                const char *ab = ab0 + (size_t)b * sizeof(block_q8_0);
                if (b & 1) {
                    _tile_zero(1);
                    _tile_loadd(5, ab + 2, (long)a_stride);
                    _tile_dpbssd(1, 5, 6);
                } else {
                    _tile_zero(0);
                    _tile_loadd(4, ab + 2, (long)a_stride);
                    _tile_dpbssd(0, 4, 6);
                }
            }
            if (b == 0) continue;
            const int p = b - 1;
            const char *ab = ab0 + (size_t)p * sizeof(block_q8_0);
            if (p & 1) _tile_stored(1, cs[1], 64);
            else _tile_stored(0, cs[0], 64);
            const __m512i s = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), tm, ridx, cs[p & 1], 4);
            _mm512_store_ps(tg[p].k, _mm512_cvtepi32_ps(_mm512_slli_epi32(s, 7)));
            __m512 d;
            if (gather_ok) {
                d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), tm, vidx, ab, 1)));
            } else {
                _Alignas(32) uint16_t h[16] = {0};
                for (int t = 0; t < mt; t++) memcpy(&h[t], ab + (size_t)t * a_stride, 2);
                d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)h));
            }
            _mm512_store_ps(tg[p].d, d);
        }
    }
}

/* acc[t] += (float(cb[t]) - k[t]) * ws * d[t] for the 16 tokens of one block */
static inline __attribute__((always_inline)) void epi16(__m512 *acc, const int32_t *cb, const float *wsc,
                                                        const q8r_tab *tb) {
    const __m512 ws = _mm512_load_ps(wsc);
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++) {
        const __m512 c = _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_load_si512(cb + t * 16)), _mm512_set1_ps(tb->k[t]));
        acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(ws, _mm512_set1_ps(tb->d[t])), acc[t]);
    }
}

/* Tile work of one pair of blocks (2i, 2i+1 when two) for 16 tokens into C tiles c0, c1 */
#define Q8R_TDP(c0, c1, a0, a1, b0, b1)                                   \
    do {                                                                  \
        _tile_zero(c0);                                                   \
        _tile_loadd(a0, ab + 2, (long)a_stride);                          \
        _tile_loadd(b0, qb, 64);                                          \
        _tile_dpbsud(c0, a0, b0);                                         \
        if (two) {                                                        \
            _tile_zero(c1);                                               \
            _tile_loadd(a1, ab + 2 + sizeof(block_q8_0), (long)a_stride); \
            _tile_loadd(b1, qb + 512, 64);                                \
            _tile_dpbsud(c1, a1, b1);                                     \
        }                                                                 \
    } while (0)

/* 16 tokens (rows of a from abase, block 0 = the chunk's first) x 16 weight rows (quants of
 * the chunk at q) x kb blocks, accumulators in registers (constant indices only). tb: the
 * token group's tables. pf: prefetch the B tiles PF_PAIRS pairs ahead into L1. */
static inline __attribute__((always_inline)) void tok16(const char *abase, size_t a_stride, const uint8_t *q, int kb,
                                                        float (*wsc)[16], const q8r_tab *tb, __m512 *acc,
                                                        const int pf) {
    _Alignas(64) int32_t cbuf[2][16 * 16];
    const int np = (kb + 1) / 2;
    for (int i = 0; i <= np; i++) {
        if (i < np) {
            const bool two = 2 * i + 1 < kb;
            const char *ab = abase + (size_t)(2 * i) * sizeof(block_q8_0);
            const uint8_t *qb = q + (size_t)(2 * i) * 512;
            if (i & 1) Q8R_TDP(2, 3, 4, 5, 6, 7);
            else Q8R_TDP(0, 1, 4, 5, 6, 7);
            if (pf && i + PF_PAIRS < np) {
                const char *pb = (const char *)qb + (size_t)PF_PAIRS * 1024;
#pragma GCC unroll 16
                for (int l = 0; l < 16; l++) _mm_prefetch(pb + 64 * l, _MM_HINT_T0);
            }
        }
        if (i == 0) continue;
        const int j = i - 1, b = 2 * j;
        const bool two = b + 1 < kb;
        if (j & 1) {
            _tile_stored(2, cbuf[0], 64);
            if (two) _tile_stored(3, cbuf[1], 64);
        } else {
            _tile_stored(0, cbuf[0], 64);
            if (two) _tile_stored(1, cbuf[1], 64);
        }
        epi16(acc, cbuf[0], wsc[b], &tb[b]);
        if (two) epi16(acc, cbuf[1], wsc[b + 1], &tb[b + 1]);
    }
}

void r1_q8r_gemm_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                     float *out, size_t ldo) {
    const int nb = n / QK32;
    q8r_tab tab[TSLAB / 16 * KCH];   /* [token group][block] of a slab and chunk */
    _Alignas(64) float wsc[KCH][16];
    _Alignas(64) int32_t cbuf[16 * 16];
    int cur_mt = 16;
    amx_cfg_c4a2b2(16, 32);
    for (int ts = 0; ts < nc; ts += TSLAB) {
        const int ncs = Q8R_MIN(TSLAB, nc - ts);
        const char *aslab = (const char *)a + (size_t)ts * a_stride;
        const int ntg = (ncs + 15) / 16;
        for (int k0 = 0; k0 < nb; k0 += KCH) {
            const int kb = Q8R_MIN(KCH, nb - k0);
            tables(aslab + (size_t)k0 * sizeof(block_q8_0), a_stride, ncs, kb, tab, &cur_mt);
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
                    const q8r_tab *tb = tab + (t0 / 16) * KCH;
                    if (nx) prefetch_part((const char *)nx, nx_bytes, t0 / 16, ntg);
                    if (mt != cur_mt) { amx_cfg_c4a2b2(mt, 32); cur_mt = mt; }
                    const char *abase = aslab + (size_t)t0 * a_stride + (size_t)k0 * sizeof(block_q8_0);
                    if (mt == 16) {
                        __m512 acc16[16];   /* constant indices only: kept in registers */
#pragma GCC unroll 16
                        for (int t = 0; t < 16; t++) acc16[t] = _mm512_setzero_ps();
                        if (t0 == 0) tok16(abase, a_stride, q, kb, wsc, tb, acc16, 1);
                        else tok16(abase, a_stride, q, kb, wsc, tb, acc16, 0);
                        amx_store_acc16(out, ldo, ts + t0, r0, 0xFFFF, acc16, k0 > 0);
                        continue;
                    }
                    /* token tail: one block at a time */
                    __m512 acc[16];
                    for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
                    for (int b = 0; b < kb; b++) {
                        const char *ab = abase + (size_t)b * sizeof(block_q8_0);
                        _tile_zero(0);
                        _tile_loadd(4, ab + 2, (long)a_stride);
                        _tile_loadd(6, q + (size_t)512 * b, 64);
                        _tile_dpbsud(0, 4, 6);
                        _tile_stored(0, cbuf, 64);
                        const __m512 ws = _mm512_load_ps(wsc[b]);
                        for (int t = 0; t < mt; t++) {
                            const __m512 c = _mm512_sub_ps(_mm512_cvtepi32_ps(_mm512_load_si512(&cbuf[t * 16])),
                                                           _mm512_set1_ps(tb[b].k[t]));
                            acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(ws, _mm512_set1_ps(tb[b].d[t])), acc[t]);
                        }
                    }
                    amx_store_acc(out, ldo, ts + t0, mt, r0, 0xFFFF, acc, k0 > 0);
                }
            }
        }
    }
    _tile_release();
}
