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
 *   C (0-3):  int32 [mt tokens x 16 rows]; two pairs of C tiles alternate so that the
 *             vector epilogue of one pair of blocks overlaps the tile work of the next.
 * Signed activations x unsigned (+128) weights: TDPBSUD gives S = sum(u*a) and the product
 * is S - 128*sum(a). The C tiles do not start at zero but at the float bit pattern of
 * 1.5*2^23 (loaded with stride 0 from one 64-byte row): |S| < 2^21, so the int32 result,
 * read as a float, is exactly 1.5*2^23 + S, and subtracting K = 1.5*2^23 + 128*sum(a) (exact,
 * in [2^23, 2^24)) gives S - 128*sum(a) exactly — the int to float conversion and the
 * correction cost one vector subtraction, as the plain Q8_0 kernel's conversion did.
 * Per token slab and K chunk a prologue fills two tables [block][token]: the activation
 * scale d_a and K (sum(a) from a TDPBSSD of the A tile with a tile of ones). The epilogue
 * then does, per token and block, acc += (C - K) * (d_w[16 rows] * d_a).
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

enum { KCH = 64 };     /* blocks per K chunk */
enum { TSLAB = 256 };  /* tokens per table slab: 2 tables of KCH x TSLAB floats (64 KiB each) */
enum { LAG = 1 };      /* pairs between a pair's TDPBSUDs and its vector epilogue */
enum { MAGIC_I = 0x4B400000 };         /* bits of 1.5 * 2^23 */
#define MAGIC_F 12582912.0f

/* 64 bytes: one C row of the magic (tileloadd stride 0 repeats it over the rows) */
static const _Alignas(64) int32_t magic_row[16] = {
    MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I,
    MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I, MAGIC_I};
/* a B tile (8 x 64) of ones: C[t][*] = sum of A row t */
static const _Alignas(64) int8_t ones_tile[8 * 64] = {
#define O8 1, 1, 1, 1, 1, 1, 1, 1
#define O64 O8, O8, O8, O8, O8, O8, O8, O8
    O64, O64, O64, O64, O64, O64, O64, O64
#undef O64
#undef O8
};

/* L2 prefetch of part `part` of `nparts` of bytes [base, base + bytes) */
static inline void prefetch_part(const char *base, size_t bytes, int part, int nparts) {
    const size_t lines = (bytes + 63) / 64, l0 = lines * (size_t)part / (size_t)nparts,
                 l1 = lines * (size_t)(part + 1) / (size_t)nparts;
    for (size_t l = l0; l < l1; l++) _mm_prefetch(base + 64 * l, _MM_HINT_T1);
}

/* Tables of kb blocks (from abase = block 0 of the chunk in token row 0 of the slab) for
 * the slab's ncs tokens: dsc[b*TSLAB + t] = d_a, ksc[b*TSLAB + t] = 1.5*2^23 + 128*sum(qs).
 * Leaves the tiles configured for *cur_mt rows. */
static void tables(const char *abase, size_t a_stride, int ncs, int kb, float *dsc, float *ksc, int *cur_mt) {
    _Alignas(64) int32_t cs[16 * 16];
    const bool gather_ok = a_stride <= (size_t)INT32_MAX / 16;
    const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(gather_ok ? (int)a_stride : 0));
    const __m512i ridx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(16));
    const __m512i mag = _mm512_set1_epi32((int)MAGIC_F);
    for (int t0 = 0; t0 < ncs; t0 += 16) {
        const int mt = Q8R_MIN(16, ncs - t0);
        const __mmask16 tm = (__mmask16)((1u << mt) - 1);
        if (mt != *cur_mt) { amx_cfg_c4a2b2(mt, 32); *cur_mt = mt; }
        _tile_loadd(6, ones_tile, 64);
        const char *ab0 = abase + (size_t)t0 * a_stride;
        for (int b = 0; b < kb; b++) {
            const char *ab = ab0 + (size_t)b * sizeof(block_q8_0);
            _tile_zero(0);
            _tile_loadd(4, ab + 2, (long)a_stride);
            _tile_dpbssd(0, 4, 6);
            _tile_stored(0, cs, 64);
            const __m512i s = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), tm, ridx, cs, 4);
            _mm512_store_ps(ksc + (size_t)b * TSLAB + t0, _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_slli_epi32(s, 7), mag)));
            __m512 d;
            if (gather_ok) {
                d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), tm, vidx, ab, 1)));
            } else {
                _Alignas(32) uint16_t h[16] = {0};
                for (int t = 0; t < mt; t++) memcpy(&h[t], ab + (size_t)t * a_stride, 2);
                d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)h));
            }
            _mm512_store_ps(dsc + (size_t)b * TSLAB + t0, d);
        }
    }
}

/* acc[t] += (float(cb[t]) - ks[t]) * ws * ds[t] for the 16 tokens of one block */
static inline __attribute__((always_inline)) void epi16(__m512 *acc, const int32_t *cb, const float *wsc,
                                                        const float *ds, const float *ks) {
    const __m512 ws = _mm512_load_ps(wsc);
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++) {
        const __m512 c = _mm512_sub_ps(_mm512_load_ps((const float *)(cb + t * 16)), _mm512_set1_ps(ks[t]));
        acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(ws, _mm512_set1_ps(ds[t])), acc[t]);
    }
}

/* One pair of blocks (2p, 2p+1 when two) for 16 tokens into C tiles c0, c1 -> cb[0], cb[1] */
#define Q8R_PAIR(c0, c1, a0, a1, b0, b1)                                  \
    do {                                                                  \
        _tile_loadd(c0, magic_row, 0);                                    \
        _tile_loadd(a0, ab + 2, (long)a_stride);                          \
        _tile_loadd(b0, qb, 64);                                          \
        _tile_dpbsud(c0, a0, b0);                                         \
        if (two) {                                                        \
            _tile_loadd(c1, magic_row, 0);                                \
            _tile_loadd(a1, ab + 2 + sizeof(block_q8_0), (long)a_stride); \
            _tile_loadd(b1, qb + 512, 64);                                \
            _tile_dpbsud(c1, a1, b1);                                     \
        }                                                                 \
        _tile_stored(c0, cb[0], 64);                                      \
        if (two) _tile_stored(c1, cb[1], 64);                             \
    } while (0)

/* 16 tokens (rows of a from abase, block 0 = the chunk's first) x 16 weight rows (quants
 * of the chunk at q) x kb blocks, accumulators in registers */
static inline __attribute__((always_inline)) void tok16(const char *abase, size_t a_stride, const uint8_t *q, int kb,
                                                        float (*wsc)[16], const float *dsc, const float *ksc,
                                                        __m512 *acc) {
    _Alignas(64) int32_t cbuf[LAG + 1][2][16 * 16];
    const int np = (kb + 1) / 2;
    for (int p = 0; p < np + LAG; p++) {
        if (p < np) {
            const bool two = 2 * p + 1 < kb;
            const char *ab = abase + (size_t)(2 * p) * sizeof(block_q8_0);
            const uint8_t *qb = q + (size_t)(2 * p) * 512;
            int32_t (*cb)[16 * 16] = cbuf[p % (LAG + 1)];
            if (p & 1) Q8R_PAIR(2, 3, 4, 5, 6, 7);
            else Q8R_PAIR(0, 1, 4, 5, 6, 7);
        }
        const int pq = p - LAG;
        if (pq >= 0) {
            const int s = pq % (LAG + 1), b = 2 * pq;
            epi16(acc, cbuf[s][0], wsc[b], dsc + (size_t)b * TSLAB, ksc + (size_t)b * TSLAB);
            if (b + 1 < kb)
                epi16(acc, cbuf[s][1], wsc[b + 1], dsc + (size_t)(b + 1) * TSLAB, ksc + (size_t)(b + 1) * TSLAB);
        }
    }
}

void r1_q8r_gemm_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                     float *out, size_t ldo) {
    const int nb = n / QK32;
    _Alignas(64) float dsc[KCH * TSLAB], ksc[KCH * TSLAB];   /* [block][token] of a slab and chunk */
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
            tables(aslab + (size_t)k0 * sizeof(block_q8_0), a_stride, ncs, kb, dsc, ksc, &cur_mt);
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
                    if (nx) prefetch_part((const char *)nx, nx_bytes, t0 / 16, ntg);
                    if (mt != cur_mt) { amx_cfg_c4a2b2(mt, 32); cur_mt = mt; }
                    const char *abase = aslab + (size_t)t0 * a_stride + (size_t)k0 * sizeof(block_q8_0);
                    if (mt == 16) {
                        __m512 acc16[16];   /* constant indices only: kept in registers */
#pragma GCC unroll 16
                        for (int t = 0; t < 16; t++) acc16[t] = _mm512_setzero_ps();
                        tok16(abase, a_stride, q, kb, wsc, dsc + t0, ksc + t0, acc16);
                        amx_store_acc16(out, ldo, ts + t0, r0, 0xFFFF, acc16, k0 > 0);
                        continue;
                    }
                    /* token tail: one block at a time */
                    __m512 acc[16];
                    for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
                    for (int b = 0; b < kb; b++) {
                        const char *ab = abase + (size_t)b * sizeof(block_q8_0);
                        const float *ds = dsc + (size_t)b * TSLAB + t0, *ks = ksc + (size_t)b * TSLAB + t0;
                        _tile_loadd(0, magic_row, 0);
                        _tile_loadd(4, ab + 2, (long)a_stride);
                        _tile_loadd(6, q + (size_t)512 * b, 64);
                        _tile_dpbsud(0, 4, 6);
                        _tile_stored(0, cbuf, 64);
                        const __m512 ws = _mm512_load_ps(wsc[b]);
                        for (int t = 0; t < mt; t++) {
                            const __m512 c = _mm512_sub_ps(_mm512_load_ps((const float *)&cbuf[t * 16]), _mm512_set1_ps(ks[t]));
                            acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(ws, _mm512_set1_ps(ds[t])), acc[t]);
                        }
                    }
                    amx_store_acc(out, ldo, ts + t0, mt, r0, 0xFFFF, acc, k0 > 0);
                }
            }
        }
    }
    _tile_release();
}
