/*
 * gemm_leg_amx.c — batched (prefill) GEMM of the 32-element-block weight types Q4_0, Q4_1,
 * Q5_0, Q5_1 and IQ4_NL against their Q8_0 / Q8_1 activations on Intel AMX int8 tiles.
 * Compiled like quant_amx.c (AVX-512 + AMX flags); only reached through
 * r1_amx_gemm_kernel() when src/cpu.c found AMX usable. Contract r1_gemm_fn:
 * out[c*ldo + r] = dot(weight row r, activation row c), equal to the scalar vec_dot_ref up
 * to float rounding and summation order.
 *
 * As the Q8_0 kernel (quant_amx.c), with a decode step: per 16 weight rows and 64 blocks
 * ("a chunk") each block is decoded to 32 int8 values (Q4_0: nibble - 8; Q5_0: 5-bit value
 * - 16; Q4_1 / Q5_1: the unsigned 4 / 5-bit value; IQ4_NL: the non-uniform level) plus its
 * float d (and m for the _1 types), pairs of blocks are transposed into the VNNI layout of
 * AMX B tiles (16x16-dword AVX-512 transposes) once per call; per 16 tokens each block is
 * one TDPBSSD (A tile = the activations' qs, loaded straight from the Q8_0/Q8_1 rows) into
 * one of 4 C tiles; its exact int32 sums are converted and scaled by d_w * d_a, and the _1
 * types add m_w * s_a (Q8_1's s = d_a * sum of the block's activations).
 * Chunks add into `out` (the first stores); row tails are zero rows (factors 0) masked at
 * the store; token tails configure the tiles with fewer rows.
 */
#include "quant_impl.h"
#include "simd/amx_common.h"
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define LG_MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- block decoders: q[32] int8, *d, *m (m only for the _1 types) ------------------------ */
static inline __m256i nibbles32(const uint8_t qs[16]) {   /* elements j: low nibble, j+16: high */
    const __m128i v = _mm_loadu_si128((const __m128i *)qs), m4 = _mm_set1_epi8(0x0F);
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_and_si128(v, m4)), _mm_and_si128(_mm_srli_epi16(v, 4), m4), 1);
}
static inline __m256i bit5_32(const uint8_t qh[4]) {       /* 0x10 where qh bit j is set */
    uint32_t h;
    memcpy(&h, qh, 4);
    return _mm256_maskz_mov_epi8((__mmask32)h, _mm256_set1_epi8(0x10));
}
static inline void dec_q4_0(const void *blk, int8_t *q, float *d, float *m) {
    (void)m;
    const block_q4_0 *b = blk;
    _mm256_storeu_si256((__m256i *)q, _mm256_sub_epi8(nibbles32(b->qs), _mm256_set1_epi8(8)));
    *d = _cvtsh_ss(b->d);
}
static inline void dec_q4_1(const void *blk, int8_t *q, float *d, float *m) {
    const block_q4_1 *b = blk;
    _mm256_storeu_si256((__m256i *)q, nibbles32(b->qs));
    *d = _cvtsh_ss(b->d);
    *m = _cvtsh_ss(b->m);
}
static inline void dec_q5_0(const void *blk, int8_t *q, float *d, float *m) {
    (void)m;
    const block_q5_0 *b = blk;
    _mm256_storeu_si256((__m256i *)q, _mm256_sub_epi8(_mm256_or_si256(nibbles32(b->qs), bit5_32(b->qh)), _mm256_set1_epi8(16)));
    *d = _cvtsh_ss(b->d);
}
static inline void dec_q5_1(const void *blk, int8_t *q, float *d, float *m) {
    const block_q5_1 *b = blk;
    _mm256_storeu_si256((__m256i *)q, _mm256_or_si256(nibbles32(b->qs), bit5_32(b->qh)));
    *d = _cvtsh_ss(b->d);
    *m = _cvtsh_ss(b->m);
}
static inline void dec_iq4_nl(const void *blk, int8_t *q, float *d, float *m) {
    (void)m;
    const block_iq4_nl *b = blk;
    const __m256i tab = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)r1_kvalues_iq4nl));
    _mm256_storeu_si256((__m256i *)q, _mm256_shuffle_epi8(tab, nibbles32(b->qs)));
    *d = _cvtsh_ss(b->d);
}

typedef void (*lg_dec_fn)(const void *blk, int8_t *q, float *d, float *m);

enum { LG_KB = 64 };   /* blocks per chunk: 64 x 512 B of packed weights */

enum { LG_LAG = 1 };
enum { LG_TS = 256 };  /* tokens per activation-scale table (2 x 64 x 256 floats, 128 KiB) */

/* acc[t] += float(cb[t]) * wd * ad[t] (+ wm * as[t]) for the 16 tokens of one block */
static inline __attribute__((always_inline)) void lg_epi16(__m512 *acc, const int32_t *cb, const float *wd,
                                                           const float *wm, const float *ad, const float *as,
                                                           const int has_min) {
    const __m512 fd = _mm512_load_ps(wd);
    const __m512 fm = has_min ? _mm512_load_ps(wm) : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int t = 0; t < 16; t++) {
        const __m512 c = _mm512_cvtepi32_ps(_mm512_load_si512(cb + t * 16));
        acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(fd, _mm512_set1_ps(ad[t])), acc[t]);
        if (has_min) acc[t] = _mm512_fmadd_ps(fm, _mm512_set1_ps(as[t]), acc[t]);
    }
}

/* blocks 2p (and 2p+1 when two) of 16 tokens into C tiles c0, c1, stored to cb[0], cb[1] */
#define LG_PAIR(c0, c1)                                                                  \
    do {                                                                                 \
        _tile_zero(c0);                                                                  \
        _tile_loadd(4, ab + 2 + 2 * has_min, (long)a_stride);                            \
        _tile_loadd(6, bpack[p], 64);                                                    \
        _tile_dpbssd(c0, 4, 6);                                                          \
        if (two) {                                                                       \
            _tile_zero(c1);                                                              \
            _tile_loadd(5, ab + ablk + 2 + 2 * has_min, (long)a_stride);                 \
            _tile_loadd(7, bpack[p] + 8 * 64, 64);                                       \
            _tile_dpbssd(c1, 5, 7);                                                      \
        }                                                                                \
        _tile_stored(c0, cb[0], 64);                                                     \
        if (two) _tile_stored(c1, cb[1], 64);                                            \
    } while (0)

/* 16 tokens (rows of a from abase, block 0 = the chunk's first) x 16 weight rows x kb
 * blocks: two pairs of C tiles in flight, the float epilogue of pair p runs after the
 * TDPBSSDs of pair p + LG_LAG were issued; accumulators stay in registers.
 * ad/as[b*LG_TS + t]: activation d (s) of token t, block b — gathered here (among the tile
 * work) when `gather`, else read as an earlier row group of the call left them. */
static inline __attribute__((always_inline)) void lg_tok16(const char *abase, size_t a_stride, size_t ablk, int kb,
                                                           int8_t (*bpack)[16 * 64], float (*wd)[16], float (*wm)[16],
                                                           float *ad, float *as, const int gather, __m512i vidx,
                                                           __m512 *acc, const int has_min) {
    _Alignas(64) int32_t cbuf[LG_LAG + 1][2][16 * 16];
    const int np = (kb + 1) / 2;
    for (int p = 0; p < np + LG_LAG; p++) {
        if (p < np) {
            const bool two = 2 * p + 1 < kb;
            const char *ab = abase + (size_t)(2 * p) * ablk;
            int32_t (*cb)[16 * 16] = cbuf[p % (LG_LAG + 1)];
            if (p & 1) LG_PAIR(2, 3);
            else LG_PAIR(0, 1);
            if (gather)
                for (int h = 0; h < 1 + two; h++) {
                    const __m512i v = _mm512_i32gather_epi32(vidx, ab + (size_t)h * ablk, 1);
                    const size_t o = (size_t)(2 * p + h) * LG_TS;
                    _mm512_store_ps(ad + o, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)));
                    if (has_min) _mm512_store_ps(as + o, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16))));
                }
        }
        const int q = p - LG_LAG;
        if (q >= 0) {
            const int s = q % (LG_LAG + 1);
            const size_t o = (size_t)(2 * q) * LG_TS;
            lg_epi16(acc, cbuf[s][0], wd[2 * q], wm[2 * q], ad + o, as + o, has_min);
            if (2 * q + 1 < kb)
                lg_epi16(acc, cbuf[s][1], wd[2 * q + 1], wm[2 * q + 1], ad + o + LG_TS, as + o + LG_TS, has_min);
        }
    }
}

static inline __attribute__((always_inline)) void
gemm_lg_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride, float *out,
            size_t ldo, const size_t wblk, const lg_dec_fn dec, const int has_min) {
    const int nb = n / QK32;
    const size_t ablk = has_min ? sizeof(block_q8_1) : sizeof(block_q8_0);
    _Alignas(64) int8_t wdec[16][64];
    _Alignas(64) int8_t bpack[LG_KB / 2][16 * 64];
    _Alignas(64) float wd[LG_KB][16], wm[LG_KB][16];         /* [block][row] */
    _Alignas(64) float ad[LG_KB * LG_TS], as[LG_KB * LG_TS]; /* [block][token] of a chunk */
    _Alignas(64) int32_t cbuf[16 * 16];
    const bool gather_ok = a_stride <= (size_t)INT32_MAX / 16;
    const __m512i vidx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                            _mm512_set1_epi32(gather_ok ? (int)a_stride : 0));
    int cur_mt = 16;
    amx_cfg_c4a2b2(16, 32);
    for (int ts = 0; ts < nc; ts += LG_TS) {
        const int ncs = LG_MIN(LG_TS, nc - ts);
        const char *aslab = (const char *)a + (size_t)ts * a_stride;
        for (int k0 = 0; k0 < nb; k0 += LG_KB) {
            const int kb = LG_MIN(LG_KB, nb - k0);
            for (int r0 = 0; r0 < nr; r0 += 16) {
                const int mr = LG_MIN(16, nr - r0);
                const __mmask16 rmask = (__mmask16)((1u << mr) - 1);
                for (int b = 0; b < kb; b += 2) {
                    for (int r = 0; r < 16; r++) {
                        for (int h = 0; h < 2; h++) {
                            if (r < mr && b + h < kb) {
                                dec((const char *)w + (size_t)(r0 + r) * w_stride + (size_t)(k0 + b + h) * wblk,
                                    wdec[r] + 32 * h, &wd[b + h][r], &wm[b + h][r]);
                                if (!has_min) wm[b + h][r] = 0.0f;
                            } else {
                                memset(wdec[r] + 32 * h, 0, 32);
                                if (b + h < kb) {
                                    wd[b + h][r] = 0.0f;
                                    wm[b + h][r] = 0.0f;
                                }
                            }
                        }
                    }
                    amx_transpose16(&wdec[0][0], 64, bpack[b / 2]);
                }
                /* the next weights to decode (the next 16 rows, else the next K chunk's first) */
                const char *nx = NULL;
                int nx_rows = 0, nx_kb = 0;
                if (r0 + 16 < nr) {
                    nx = (const char *)w + (size_t)(r0 + 16) * w_stride + (size_t)k0 * wblk;
                    nx_rows = LG_MIN(16, nr - r0 - 16);
                    nx_kb = kb;
                } else if (k0 + LG_KB < nb) {
                    nx = (const char *)w + (size_t)(k0 + LG_KB) * wblk;
                    nx_rows = LG_MIN(16, nr);
                    nx_kb = LG_MIN(LG_KB, nb - k0 - LG_KB);
                }
                const int ntg = (ncs + 15) / 16;
                for (int t0 = 0; t0 < ncs; t0 += 16) {
                    const int mt = LG_MIN(16, ncs - t0);
                    if (nx) amx_prefetch_rows(nx, w_stride, nx_rows, (size_t)nx_kb * wblk, t0 / 16, ntg);
                    if (mt != cur_mt) { amx_cfg_c4a2b2(mt, 32); cur_mt = mt; }
                    const char *abase = aslab + (size_t)t0 * a_stride + (size_t)k0 * ablk;
                    if (mt == 16 && gather_ok) {
                        __m512 acc16[16];   /* constant indices only: kept in registers */
#pragma GCC unroll 16
                        for (int t = 0; t < 16; t++) acc16[t] = _mm512_setzero_ps();
                        if (r0 == 0) lg_tok16(abase, a_stride, ablk, kb, bpack, wd, wm, ad + t0, as + t0, 1, vidx, acc16, has_min);
                        else lg_tok16(abase, a_stride, ablk, kb, bpack, wd, wm, ad + t0, as + t0, 0, vidx, acc16, has_min);
                        amx_store_acc16(out, ldo, ts + t0, r0, rmask, acc16, k0 > 0);
                        continue;
                    }
                    /* token tail (or a stride too big to gather): one block at a time */
                    __m512 acc[16];
                    for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
                    for (int b = 0; b < kb; b++) {
                        const char *ab = abase + (size_t)b * ablk;
                        float *bd = ad + (size_t)b * LG_TS + t0, *bs = as + (size_t)b * LG_TS + t0;
                        _tile_zero(0);
                        _tile_loadd(4, ab + 2 + 2 * has_min, (long)a_stride);
                        _tile_loadd(6, bpack[b / 2] + (b % 2) * 8 * 64, 64);
                        _tile_dpbssd(0, 4, 6);
                        _tile_stored(0, cbuf, 64);
                        if (r0 == 0)
                            for (int t = 0; t < mt; t++) {
                                uint16_t h[2];
                                memcpy(h, ab + (size_t)t * a_stride, 4);
                                bd[t] = _cvtsh_ss(h[0]);
                                bs[t] = _cvtsh_ss(h[1]);
                            }
                        const __m512 fd = _mm512_load_ps(wd[b]), fm = _mm512_load_ps(wm[b]);
                        for (int t = 0; t < mt; t++) {
                            const __m512 c = _mm512_cvtepi32_ps(_mm512_load_si512(&cbuf[t * 16]));
                            acc[t] = _mm512_fmadd_ps(c, _mm512_mul_ps(fd, _mm512_set1_ps(bd[t])), acc[t]);
                            if (has_min) acc[t] = _mm512_fmadd_ps(fm, _mm512_set1_ps(bs[t]), acc[t]);
                        }
                    }
                    amx_store_acc(out, ldo, ts + t0, mt, r0, rmask, acc, k0 > 0);
                }
            }
        }
    }
    _tile_release();
}

#define LG_KERNEL(name, blk, decf, has_min)                                                                   \
    static void name(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as_, float *out, \
                     size_t ldo) {                                                                            \
        gemm_lg_amx(n, nr, nc, w, ws, a, as_, out, ldo, sizeof(blk), decf, has_min);                         \
    }
LG_KERNEL(gemm_q4_0_amx, block_q4_0, dec_q4_0, 0)
LG_KERNEL(gemm_q4_1_amx, block_q4_1, dec_q4_1, 1)
LG_KERNEL(gemm_q5_0_amx, block_q5_0, dec_q5_0, 0)
LG_KERNEL(gemm_q5_1_amx, block_q5_1, dec_q5_1, 1)
LG_KERNEL(gemm_iq4_nl_amx, block_iq4_nl, dec_iq4_nl, 0)

r1_gemm_fn r1_amx_gemm_legacy(r1_type t) {
    switch (t) {
    case R1_TYPE_Q4_0: return gemm_q4_0_amx;
    case R1_TYPE_Q4_1: return gemm_q4_1_amx;
    case R1_TYPE_Q5_0: return gemm_q5_0_amx;
    case R1_TYPE_Q5_1: return gemm_q5_1_amx;
    case R1_TYPE_IQ4_NL: return gemm_iq4_nl_amx;
    default: return NULL;
    }
}
