/*
 * gemm_kq_amx.c — batched (prefill) GEMM of the weight types with Q8_K activations (Q2_K,
 * Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS) on Intel AMX int8 tiles. Compiled like quant_amx.c (AVX-512 + AMX
 * flags) and only reached through r1_amx_gemm_kernel() when src/cpu.c found AMX usable.
 * Contract r1_gemm_fn: out[c*ldo + r] = dot(weight row r, activation row c), equal to the
 * scalar vec_dot_ref up to float rounding and summation order.
 *
 * Two schemes.
 *
 * Q4_K, Q5_K, Q6_K: the sub-block scales folded into int8 weight planes (sections below).
 * A scale times a quant does not fit a byte, so the scale is split into digits whose
 * products do: Q4_K/Q5_K sc = 8 (sc >> 3) + (sc & 7) (two unsigned planes, TDPBSUD),
 * Q6_K sc = 49 e2 + 7 e1 + e0 with e in -3..3 (three signed planes, TDPBSSD). Then a
 * whole super-block is K = 64 per tile product and 2-3 C tiles of exact int32 sums; the
 * float epilogue runs once per super-block (not per sub-block). Decode: per 16 weight rows
 * and super-block, the quants of the 16 rows are read into registers, transposed once to
 * the VNNI order (tile row kk = elements 4kk..4kk+3 of every row, a dword per row) and
 * multiplied per dword lane by the row's digit. Loop per call: 16 weight rows -> up to 256
 * tokens (float accumulators for all of K in an L1 buffer) -> chunks of K (decoded once)
 * -> items (super-block s, 16-token tile) in s-major order, so one super-block's planes
 * stay in L1 across the token tiles; item i+1's tile products are issued before item i's
 * epilogue (Q4_K/Q5_K: two C pairs; Q6_K: one C set, stored first), and the activation
 * rows of item i+2 are prefetched. One store of `out` per 16 rows x tokens.
 *
 * Q2_K, Q3_K, IQ4_XS (gemm_kq_amx below; per 16 weight rows x up to 8 super-blocks of K,
 * "a chunk"):
 *   1. decode each row's super-blocks to plain int8 values (Q2_K: 0..3; Q3_K: -4..3;
 *      IQ4_XS: the non-uniform level) and float sub-block factors: dsc[j] = d * scale_j
 *      (sub-blocks of 32 for IQ4_XS, 16 for Q2_K/Q3_K) and, for Q2_K,
 *      dmn[j] = dmin * min_j;
 *   2. transpose the int8 rows into the VNNI layout of an AMX B tile
 *      (B[k/4][4*r + k%4] = q_r[k]) with 16x16-dword AVX-512 transposes — once per call,
 *      reused for every token of the call;
 *   3. per 16 tokens: A tile = the activations' qs of one sub-block, loaded straight from
 *      the Q8_K rows (stride a_stride); one TDPBSSD per sub-block into its own int32 C
 *      tile (4 C tiles in flight); the C tiles are stored and each sub-block's exact int32
 *      sums are converted and scaled by dsc[j] in float; the min term
 *      sum_j dmn[j] * (sum of the sub-block's activations) comes from Q8_K's per-16 bsums;
 *      the super-block total is multiplied by the activation scale d and accumulated.
 * Chunks of K add into `out` (the first stores). Row tails are decoded as zero rows
 * (factors 0) and masked at the store; token tails configure tiles with fewer rows.
 */
#include "quant_impl.h"
#include "simd/amx_common.h"
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define KQ_MIN(a, b) ((a) < (b) ? (a) : (b))

/* ---- per-type super-block decoders of the generic scheme: q[256] int8, dsc[j*16]
 *      (sub-block factors, one 16-float row per sub-block), dmn[j*16] (min factors; Q2_K) */
static inline void dec_iq4_xs(const void *blk, int8_t *q, float *dsc, float *dmn) {
    (void)dmn;
    const block_iq4_xs *b = blk;
    const __m128i tab = _mm_loadu_si128((const __m128i *)r1_kvalues_iq4nl), m4 = _mm_set1_epi8(0x0F);
    const float d = _cvtsh_ss(b->d);
    for (int ib = 0; ib < 8; ib++) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(b->qs + 16 * ib));
        _mm_store_si128((__m128i *)(q + 32 * ib), _mm_shuffle_epi8(tab, _mm_and_si128(v, m4)));
        _mm_store_si128((__m128i *)(q + 32 * ib + 16), _mm_shuffle_epi8(tab, _mm_and_si128(_mm_srli_epi16(v, 4), m4)));
        const int ls = ((b->scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((b->scales_h >> 2 * ib) & 3) << 4);
        dsc[ib * 16] = d * (float)(ls - 32);
    }
}

/* Q2_K / Q3_K element 128h + 32s + l: bits 2s..2s+1 of qs[32h + l] (Q3_K: minus 4 unless
 * hmask[l] bit 4h+s is set); sub-block of 16 j = element / 16 */
static inline void dec_q2_K(const void *blk, int8_t *q, float *dsc, float *dmn) {
    const block_q2_K *b = blk;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; h++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * h));
        for (int sh = 0; sh < 4; sh++)
            _mm256_store_si256((__m256i *)(q + 128 * h + 32 * sh), _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * sh)), m3));
    }
    const float d = _cvtsh_ss(b->d), dm = _cvtsh_ss(b->dmin);
    for (int j = 0; j < 16; j++) { dsc[j * 16] = d * (float)(b->scales[j] & 0xF); dmn[j * 16] = dm * (float)(b->scales[j] >> 4); }
}

static inline void dec_q3_K(const void *blk, int8_t *q, float *dsc, float *dmn) {
    (void)dmn;
    const block_q3_K *b = blk;
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4), one = _mm256_set1_epi8(1);
    const __m256i hm = _mm256_loadu_si256((const __m256i *)b->hmask);
    for (int h = 0; h < 2; h++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * h));
        for (int sh = 0; sh < 4; sh++) {
            const __m256i lo = _mm256_and_si256(_mm256_srl_epi16(v, _mm_cvtsi32_si128(2 * sh)), m3);
            const __m256i hb = _mm256_and_si256(_mm256_srl_epi16(hm, _mm_cvtsi32_si128(4 * h + sh)), one);
            /* q = lo - 4 + 4*bit */
            _mm256_store_si256((__m256i *)(q + 128 * h + 32 * sh),
                               _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(hb, 2)), m4));
        }
    }
    int8_t sc[16];
    r1_q3k_scales(b->scales, sc);
    const float d = _cvtsh_ss(b->d);
    for (int j = 0; j < 16; j++) dsc[j * 16] = d * (float)sc[j];
}

typedef void (*kq_dec_fn)(const void *blk, int8_t *q, float *dsc, float *dmn);

enum { KQ_KS = 8 };   /* super-blocks per chunk: 8 x 4 KiB of packed weights */

/* One sub-block group: tiles 0..3 get sub-blocks j0..j0+3 of super-block s. */
#define KQ_DP(c, at, bt, j)                                                                  \
    do {                                                                                     \
        _tile_zero(c);                                                                       \
        _tile_loadd(at, ab + 4 + (j) * SB, (long)a_stride);                                  \
        _tile_loadd(bt, bp + (size_t)(j) * (SB / 4) * 64, 64);                               \
        _tile_dpbssd(c, at, bt);                                                             \
    } while (0)

static inline __attribute__((always_inline)) void
gemm_kq_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride, float *out,
            size_t ldo, const int SB, const size_t wblk, const kq_dec_fn dec, const int has_min) {
    const int nsb = n / QK_K, NJ = QK_K / SB;
    _Alignas(64) int8_t wdec[16][QK_K];
    _Alignas(64) int8_t bpack[KQ_KS][QK_K / 4 * 64];
    _Alignas(64) float dsc[KQ_KS][16][16];       /* [s][j][row] */
    _Alignas(64) float dmn[KQ_KS][16][16];     /* [s][j][row], j < 256/SB */
    _Alignas(64) int32_t cbuf[4][16 * 16];
    _Alignas(64) float ad[16], bsf[16][16];
    int cur_mt = 16;
    amx_cfg_c4a2b2(16, SB);
    for (int r0 = 0; r0 < nr; r0 += 16) {
        const int mr = KQ_MIN(16, nr - r0);
        const __mmask16 rmask = (__mmask16)((1u << mr) - 1);
        for (int s0 = 0; s0 < nsb; s0 += KQ_KS) {
            const int ks = KQ_MIN(KQ_KS, nsb - s0);
            for (int s = 0; s < ks; s++) {
                for (int r = 0; r < 16; r++) {
                    if (r < mr) dec((const char *)w + (size_t)(r0 + r) * w_stride + (size_t)(s0 + s) * wblk, wdec[r],
                                    &dsc[s][0][r], &dmn[s][0][r]);
                    else {
                        memset(wdec[r], 0, QK_K);
                        for (int j = 0; j < NJ; j++) dsc[s][j][r] = 0.0f;
                        for (int j = 0; j < NJ; j++) dmn[s][j][r] = 0.0f;
                    }
                }
                for (int c = 0; c < QK_K / 64; c++) amx_transpose16(&wdec[0][64 * c], QK_K, &bpack[s][c * 16 * 64]);
            }
            for (int t0 = 0; t0 < nc; t0 += 16) {
                const int mt = KQ_MIN(16, nc - t0);
                if (mt != cur_mt) { amx_cfg_c4a2b2(mt, SB); cur_mt = mt; }
                const char *abase = (const char *)a + (size_t)t0 * a_stride;
                __m512 acc[16];
                for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
                for (int s = 0; s < ks; s++) {
                    const char *ab = abase + (size_t)(s0 + s) * sizeof(block_q8_K);
                    const int8_t *bp = bpack[s];
                    __m512 tmp[16];
                    for (int t = 0; t < 16; t++) tmp[t] = _mm512_setzero_ps();
                    for (int j0 = 0; j0 < NJ; j0 += 4) {
                        KQ_DP(0, 4, 6, j0 + 0);
                        KQ_DP(1, 5, 7, j0 + 1);
                        KQ_DP(2, 4, 6, j0 + 2);
                        KQ_DP(3, 5, 7, j0 + 3);
                        _tile_stored(0, cbuf[0], 64);
                        _tile_stored(1, cbuf[1], 64);
                        _tile_stored(2, cbuf[2], 64);
                        _tile_stored(3, cbuf[3], 64);
                        if (j0 == 0) {
                            for (int t = 0; t < mt; t++) {
                                const char *at = ab + (size_t)t * a_stride;
                                memcpy(&ad[t], at, 4);
                                if (has_min) {   /* per-sub-block activation sums (Q8_K bsums: per 16) */
                                    const __m256i bs = _mm256_loadu_si256((const __m256i *)(at + offsetof(block_q8_K, bsums)));
                                    if (SB == 32)
                                        _mm256_store_ps(bsf[t], _mm256_cvtepi32_ps(_mm256_madd_epi16(bs, _mm256_set1_epi16(1))));
                                    else
                                        _mm512_store_ps(bsf[t], _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(bs)));
                                }
                            }
                        }
                        const __m512 f0 = _mm512_load_ps(dsc[s][j0 + 0]), f1 = _mm512_load_ps(dsc[s][j0 + 1]);
                        const __m512 f2 = _mm512_load_ps(dsc[s][j0 + 2]), f3 = _mm512_load_ps(dsc[s][j0 + 3]);
                        for (int t = 0; t < mt; t++) {
                            __m512 x = tmp[t];
                            x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(&cbuf[0][t * 16])), f0, x);
                            x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(&cbuf[1][t * 16])), f1, x);
                            x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(&cbuf[2][t * 16])), f2, x);
                            x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(&cbuf[3][t * 16])), f3, x);
                            tmp[t] = x;
                        }
                    }
                    for (int t = 0; t < mt; t++) {
                        __m512 x = tmp[t];
                        if (has_min)
                            for (int j = 0; j < NJ; j++) x = _mm512_fnmadd_ps(_mm512_set1_ps(bsf[t][j]), _mm512_load_ps(dmn[s][j]), x);
                        acc[t] = _mm512_fmadd_ps(x, _mm512_set1_ps(ad[t]), acc[t]);
                    }
                }
                amx_store_acc(out, ldo, t0, mt, r0, rmask, acc, s0 > 0);
            }
        }
    }
    _tile_release();
}

/* ---- Q4_K / Q5_K: the sub-block scales folded into the int8 weights (two planes) ------
 * q_k * sc_j = 8 * (q_k * (sc_j >> 3)) + q_k * (sc_j & 7), products <= 15 * 7 = 105 (Q4_K)
 * or 31 * 7 = 217 (Q5_K), so planes H = q * (sc >> 3) and L = q * (sc & 7) are unsigned
 * bytes and a whole super-block is two C tiles of exact int32 sums (K = 64 per TDPBSUD:
 * signed activations x unsigned planes): I = 8 * C_H + C_L = sum_k a_k q_k sc_j(k).
 * The min term M = sum_j m_j * (activation sum of sub-block j) is exact int32 too
 * (VPDPWSSD of Q8_K's bsums pairs with (m_j, m_j)); per super-block and token
 *   acc += d_a * (d * I - dmin * M).
 * The C tiles of super-block s are stored, then super-block s+1 is issued to the other C
 * pair, then s's float epilogue runs (it overlaps the tile unit). */
enum { K4_KS = 8 };   /* super-blocks per chunk: 8 x 8 KiB of packed planes */

typedef struct {
    _Alignas(64) int8_t bp[K4_KS][2][4][16 * 64];   /* [s][plane][K step] B tiles */
    _Alignas(64) float d[K4_KS][16], dm[K4_KS][16];  /* [s][row] */
    _Alignas(64) int32_t mdup[K4_KS][8][16];         /* [s][j][row] = (m_j, m_j) int16 pair */
    _Alignas(64) int32_t cb[2][2][16 * 16];          /* [parity][plane] stored C tiles */
} k4_work;

/* 16x16 dword transpose in registers: x[i] dword k -> x[k] dword i */
static inline __attribute__((always_inline)) void k4_transpose(__m512i *x) {
    __m512i t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 4; i++) {
        x[4 * i + 0] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        x[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        x[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        x[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    /* x[4i+m], 128-bit lane L = dword 4L+m of rows 4i..4i+3 */
#pragma GCC unroll 16
    for (int m = 0; m < 4; m++) {
        const __m512i v = _mm512_shuffle_i32x4(x[m], x[4 + m], 0x88), w = _mm512_shuffle_i32x4(x[m], x[4 + m], 0xDD);
        const __m512i v2 = _mm512_shuffle_i32x4(x[8 + m], x[12 + m], 0x88), w2 = _mm512_shuffle_i32x4(x[8 + m], x[12 + m], 0xDD);
        t[m + 0] = _mm512_shuffle_i32x4(v, v2, 0x88);
        t[m + 8] = _mm512_shuffle_i32x4(v, v2, 0xDD);
        t[m + 4] = _mm512_shuffle_i32x4(w, w2, 0x88);
        t[m + 12] = _mm512_shuffle_i32x4(w, w2, 0xDD);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) x[i] = t[i];
}

/* 16 weight rows (row r at w0 + r * w_stride; rows >= mr read as a zero block: all factors
 * 0) x super-block s of the chunk -> the two planes as B tiles, d, dmin, (m_j, m_j).
 * Per 64 elements (qs bytes 32p..32p+31: sub-block 2p in the low nibbles, 2p+1 in the high)
 * the 16 rows' nibbles are transposed once into the VNNI order (tile row kk: elements
 * 4kk..4kk+3 of every row, a dword per row), then multiplied per dword lane (row) by the
 * row's factor; a 16-bit multiply keeps the two bytes apart (products <= 217 < 256). */
static inline __attribute__((always_inline)) void
k4_decode(k4_work *wk, int s, const char *w0, size_t w_stride, int mr, const char *pf, const int q5) {
    static const block_q5_K zero;   /* also a zero Q4_K block (same d, dmin, scales prefix) */
    const size_t bsz = q5 ? sizeof(block_q5_K) : sizeof(block_q4_K);
    const size_t qs_off = q5 ? offsetof(block_q5_K, qs) : offsetof(block_q4_K, qs);
    const block_q4_K *b[16];
#pragma GCC unroll 16
    for (int r = 0; r < 16; r++) b[r] = r < mr ? (const block_q4_K *)(w0 + (size_t)r * w_stride) : (const block_q4_K *)&zero;
    if (pf)   /* a later super-block of the same rows: on its way from memory */
        for (int r = 0; r < mr; r++) {
            const char *q = pf + (size_t)r * w_stride;
            _mm_prefetch(q, _MM_HINT_T0); _mm_prefetch(q + 64, _MM_HINT_T0); _mm_prefetch(q + 128, _MM_HINT_T0);
            _mm_prefetch(q + bsz - 1, _MM_HINT_T0);
        }
    /* factors: row r's 8 scales and 8 mins as dwords, transposed to [j][row] */
    __m512i f[16];
    _Alignas(64) int32_t dd[16];
#pragma GCC unroll 16
    for (int r = 0; r < 16; r++) {
        uint8_t sm[16];
        r1_q4k_scales_mins(b[r]->scales, sm, sm + 8);
        f[r] = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)sm));
        memcpy(&dd[r], b[r], 4);   /* d | dmin << 16 */
    }
    k4_transpose(f);
    const __m512i dv = _mm512_load_si512(dd), two = _mm512_set1_epi32(0x10001);
    _mm512_store_ps(wk->d[s], _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dv)));
    _mm512_store_ps(wk->dm[s], _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dv, 16))));
    __m512i fh[8], fl[8];
#pragma GCC unroll 16
    for (int j = 0; j < 8; j++) {
        fh[j] = _mm512_mullo_epi32(_mm512_srli_epi32(f[j], 3), two);
        fl[j] = _mm512_mullo_epi32(_mm512_and_si512(f[j], _mm512_set1_epi32(7)), two);
        _mm512_store_si512(wk->mdup[s][j], _mm512_mullo_epi32(f[8 + j], two));
    }
    const __m256i m4 = _mm256_set1_epi8(0x0F);
#pragma GCC unroll 16
    for (int p = 0; p < 4; p++) {
        __m512i x[16];
#pragma GCC unroll 16
        for (int r = 0; r < 16; r++) {
            const char *blk = (const char *)b[r];
            const __m256i v = _mm256_loadu_si256((const __m256i *)(blk + qs_off + 32 * p));
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            if (q5) {   /* 5th bit of sub-block 2p (2p+1): qh bit 2p (2p+1), moved to bit 4 */
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(blk + offsetof(block_q5_K, qh)));
                const __m256i b4 = _mm256_set1_epi8(0x10);
                lo = _mm256_or_si256(lo, _mm256_and_si256(2 * p <= 4 ? _mm256_slli_epi16(qh, 4 - 2 * p)
                                                                     : _mm256_srli_epi16(qh, 2 * p - 4), b4));
                hi = _mm256_or_si256(hi, _mm256_and_si256(2 * p + 1 <= 4 ? _mm256_slli_epi16(qh, 3 - 2 * p)
                                                                         : _mm256_srli_epi16(qh, 2 * p - 3), b4));
            }
            x[r] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        }
        k4_transpose(x);
#pragma GCC unroll 16
        for (int kk = 0; kk < 16; kk++) {
            const int j = 2 * p + kk / 8;
            _mm512_store_si512(wk->bp[s][0][p] + 64 * kk, _mm512_mullo_epi16(x[kk], fh[j]));
            _mm512_store_si512(wk->bp[s][1][p] + 64 * kk, _mm512_mullo_epi16(x[kk], fl[j]));
        }
    }
}

/* TDPBSUDs (activations signed, planes unsigned) of one super-block (A rows at ab, planes at bp)
 * into C tiles CH, CL */
#define K4_ISSUE(CH, CL, ab, bp, as)                                                          \
    do {                                                                                     \
        _tile_zero(CH); _tile_zero(CL);                                                      \
        _tile_loadd(4, (ab) + 4, as);                                                        \
        _tile_loadd(6, (bp)[0][0], 64); _tile_dpbsud(CH, 4, 6);                              \
        _tile_loadd(7, (bp)[1][0], 64); _tile_dpbsud(CL, 4, 7);                              \
        _tile_loadd(5, (ab) + 4 + 64, as);                                                   \
        _tile_loadd(6, (bp)[0][1], 64); _tile_dpbsud(CH, 5, 6);                              \
        _tile_loadd(7, (bp)[1][1], 64); _tile_dpbsud(CL, 5, 7);                              \
        _tile_loadd(4, (ab) + 4 + 128, as);                                                  \
        _tile_loadd(6, (bp)[0][2], 64); _tile_dpbsud(CH, 4, 6);                              \
        _tile_loadd(7, (bp)[1][2], 64); _tile_dpbsud(CL, 4, 7);                              \
        _tile_loadd(5, (ab) + 4 + 192, as);                                                  \
        _tile_loadd(6, (bp)[0][3], 64); _tile_dpbsud(CH, 5, 6);                              \
        _tile_loadd(7, (bp)[1][3], 64); _tile_dpbsud(CL, 5, 7);                              \
    } while (0)

/* acc[t] += d_a * (d * (8 C_H + C_L) - dmin * M) for the MT tokens (rows of ab) of super-block s */
static inline __attribute__((always_inline)) void
k4_epilogue(const k4_work *wk, int s, const int32_t *ch, const int32_t *cl, const char *ab, size_t as, const int MT,
            float *acc, const char *pf) {
    const __m512 d = _mm512_load_ps(wk->d[s]), dm = _mm512_load_ps(wk->dm[s]);
    __m512i mv[8];
#pragma GCC unroll 16
    for (int j = 0; j < 8; j++) mv[j] = _mm512_load_si512(wk->mdup[s][j]);
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) {
        const char *at = ab + (size_t)t * as;
        if (pf) {   /* a later item's activation row: in L1 before its tile loads */
            const char *p = pf + (size_t)t * as;
            _mm_prefetch(p, _MM_HINT_T0); _mm_prefetch(p + 64, _MM_HINT_T0); _mm_prefetch(p + 128, _MM_HINT_T0);
            _mm_prefetch(p + 192, _MM_HINT_T0); _mm_prefetch(p + 259, _MM_HINT_T0);
        }
        const __m512i i = _mm512_add_epi32(_mm512_slli_epi32(_mm512_load_si512(ch + 16 * t), 3),
                                           _mm512_load_si512(cl + 16 * t));
        const int32_t *bs = (const int32_t *)(const void *)(at + offsetof(block_q8_K, bsums));
        __m512i m0 = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_set1_epi32(bs[0]), mv[0]);
        __m512i m1 = _mm512_dpwssd_epi32(_mm512_setzero_si512(), _mm512_set1_epi32(bs[1]), mv[1]);
        m0 = _mm512_dpwssd_epi32(m0, _mm512_set1_epi32(bs[2]), mv[2]);
        m1 = _mm512_dpwssd_epi32(m1, _mm512_set1_epi32(bs[3]), mv[3]);
        m0 = _mm512_dpwssd_epi32(m0, _mm512_set1_epi32(bs[4]), mv[4]);
        m1 = _mm512_dpwssd_epi32(m1, _mm512_set1_epi32(bs[5]), mv[5]);
        m0 = _mm512_dpwssd_epi32(m0, _mm512_set1_epi32(bs[6]), mv[6]);
        m1 = _mm512_dpwssd_epi32(m1, _mm512_set1_epi32(bs[7]), mv[7]);
        float da;
        memcpy(&da, at, 4);
        const __m512 x = _mm512_fmsub_ps(_mm512_cvtepi32_ps(i), d,
                                         _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(m0, m1)), dm));
        _mm512_store_ps(acc + 16 * t, _mm512_fmadd_ps(x, _mm512_set1_ps(da), _mm512_load_ps(acc + 16 * t)));
    }
}

/* Items i = s * ntt + tt (super-block s of the chunk, token tile tt of MT rows at a + tt*16
 * rows) in order: item i+1 is issued to the other C pair before item i's epilogue; B (one
 * super-block's planes, 8 KiB) stays in L1 across the token tiles. acc[token][16]. */
static inline __attribute__((always_inline)) void
k4_run(k4_work *wk, int ks, const char *a, size_t as, int ntt, const int MT, float *acc) {
    const int ni = ks * ntt;
#define K4_ITEM_A(i) (a + (size_t)((i) % ntt) * 16 * as + (size_t)((i) / ntt) * sizeof(block_q8_K))
    K4_ISSUE(0, 1, K4_ITEM_A(0), wk->bp[0], (long)as);
    for (int i = 0; i < ni; i++) {
        const int par = i & 1, s = i / ntt, tt = i % ntt;
        if (par) { _tile_stored(2, wk->cb[1][0], 64); _tile_stored(3, wk->cb[1][1], 64); }
        else     { _tile_stored(0, wk->cb[0][0], 64); _tile_stored(1, wk->cb[0][1], 64); }
        if (i + 1 < ni) {
            if (par) K4_ISSUE(0, 1, K4_ITEM_A(i + 1), wk->bp[(i + 1) / ntt], (long)as);
            else     K4_ISSUE(2, 3, K4_ITEM_A(i + 1), wk->bp[(i + 1) / ntt], (long)as);
        }
        k4_epilogue(wk, s, wk->cb[par][0], wk->cb[par][1], K4_ITEM_A(i), as, MT, acc + (size_t)tt * 16 * 16,
                    i + 2 < ni ? K4_ITEM_A(i + 2) : NULL);
    }
#undef K4_ITEM_A
}


/* ---- Q6_K: the signed sub-block scale in three balanced base-7 digits ------------------
 * sc = 49 e2 + 7 e1 + e0 with e_i in -3..3 (covers -171..171), so the planes P_i = q * e_i
 * (q the 6-bit value minus 32, |P_i| <= 96) are int8 and a super-block is three C tiles
 * of exact int32 sums (K = 64 per TDPBSSD): sum_k a_k q_k sc_j(k) = 49 C_2 + 7 C_1 + C_0;
 * per super-block and token acc += d_a * (49 d C_2 + 7 d C_1 + d C_0). Same decode scheme
 * as Q4_K (16 rows transposed in registers, factors per dword lane, a 16-bit multiply per
 * byte half since q is signed); one C set (store, issue the next item, then the epilogue). */
enum { K6_KS = 4 };   /* super-blocks per chunk: 4 x 12 KiB of packed planes */

typedef struct {
    _Alignas(64) int8_t bp[K6_KS][3][4][16 * 64];   /* [s][plane][K step] B tiles */
    _Alignas(64) float d[K6_KS][3][16];              /* [s][i][row] = 7^i d */
    _Alignas(64) int32_t cb[3][16 * 16];             /* stored C tiles */
} k6_work;

/* rows x super-block s -> planes; rows >= mr read as a zero block */
static inline void k6_decode(k6_work *wk, int s, const char *w0, size_t w_stride, int mr, const char *pf) {
    static const block_q6_K zero;
    const block_q6_K *b[16];
#pragma GCC unroll 16
    for (int r = 0; r < 16; r++) b[r] = r < mr ? (const block_q6_K *)(w0 + (size_t)r * w_stride) : &zero;
    if (pf)
        for (int r = 0; r < mr; r++) {
            const char *q = pf + (size_t)r * w_stride;
            _mm_prefetch(q, _MM_HINT_T0); _mm_prefetch(q + 64, _MM_HINT_T0); _mm_prefetch(q + 128, _MM_HINT_T0);
            _mm_prefetch(q + sizeof(block_q6_K) - 1, _MM_HINT_T0);
        }
    /* digits of the 16 scales per row (int16; round(x/7) by a rounding high multiply, exact
     * here: x/7 is never within 1e-3 of a half), as (e, e) int16 pairs, transposed to [j][row] */
    __m512i e[3][16];
    _Alignas(64) int32_t dd[16];
    const __m256i k7 = _mm256_set1_epi16(4681), seven = _mm256_set1_epi16(7);
#pragma GCC unroll 16
    for (int r = 0; r < 16; r++) {
        const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b[r]->scales));
        const __m256i t1 = _mm256_mulhrs_epi16(sc, k7), t2 = _mm256_mulhrs_epi16(t1, k7);
        const __m256i e0 = _mm256_sub_epi16(sc, _mm256_mullo_epi16(t1, seven));
        const __m256i e1 = _mm256_sub_epi16(t1, _mm256_mullo_epi16(t2, seven));
        e[0][r] = _mm512_cvtepu16_epi32(e0);
        e[1][r] = _mm512_cvtepu16_epi32(e1);
        e[2][r] = _mm512_cvtepu16_epi32(t2);
        uint16_t h;
        memcpy(&h, &b[r]->d, 2);
        dd[r] = h;
    }
#pragma GCC unroll 16
    for (int i = 0; i < 3; i++) {
        k4_transpose(e[i]);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) e[i][j] = _mm512_or_si512(e[i][j], _mm512_slli_epi32(e[i][j], 16));
    }
    const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_load_si512(dd)));
    _mm512_store_ps(wk->d[s][0], d);
    _mm512_store_ps(wk->d[s][1], _mm512_mul_ps(d, _mm512_set1_ps(7.0f)));
    _mm512_store_ps(wk->d[s][2], _mm512_mul_ps(d, _mm512_set1_ps(49.0f)));
    /* K step c = 2h + u: elements 128h + 64u .. +63 = ql[64h..64h+63] nibble u, with qh[32h..]
     * bits 4u + (0,1) for the first 32 and 4u + (2,3) for the second */
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30), o32 = _mm512_set1_epi8(32);
    const __mmask64 odd = 0xAAAAAAAAAAAAAAAAull;
#pragma GCC unroll 16
    for (int c = 0; c < 4; c++) {
        const int h = c / 2, u = c % 2;
        const __m512i hs = u ? _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1)
                             : _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
        __m512i x[16];
#pragma GCC unroll 16
        for (int r = 0; r < 16; r++) {
            const __m512i l = _mm512_loadu_si512(b[r]->ql + 64 * h);
            const __m512i hh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b[r]->qh + 32 * h)));
            const __m512i hb = u ? _mm512_srlv_epi16(hh, hs) : _mm512_sllv_epi16(hh, hs);
            const __m512i lo = u ? _mm512_srli_epi16(l, 4) : l;
            x[r] = _mm512_sub_epi8(_mm512_ternarylogic_epi32(_mm512_and_si512(lo, m4), hb, m30, 0xF8), o32);
        }
        k4_transpose(x);
#pragma GCC unroll 16
        for (int kk = 0; kk < 16; kk++) {
            const int j = 4 * c + kk / 4;
            const __m512i ev = _mm512_srai_epi16(_mm512_slli_epi16(x[kk], 8), 8), od = _mm512_srai_epi16(x[kk], 8);
#pragma GCC unroll 16
            for (int i = 0; i < 3; i++) {
                const __m512i pe = _mm512_mullo_epi16(ev, e[i][j]), po = _mm512_mullo_epi16(od, e[i][j]);
                _mm512_store_si512(wk->bp[s][i][c] + 64 * kk, _mm512_mask_blend_epi8(odd, pe, _mm512_slli_epi16(po, 8)));
            }
        }
    }
}

#define K6_ISSUE(ab, bp, as)                                                                  \
    do {                                                                                     \
        _tile_zero(0); _tile_zero(1); _tile_zero(2);                                          \
        _tile_loadd(4, (ab) + 4, as);                                                        \
        _tile_loadd(6, (bp)[0][0], 64); _tile_dpbssd(0, 4, 6);                               \
        _tile_loadd(7, (bp)[1][0], 64); _tile_dpbssd(1, 4, 7);                               \
        _tile_loadd(6, (bp)[2][0], 64); _tile_dpbssd(2, 4, 6);                               \
        _tile_loadd(5, (ab) + 4 + 64, as);                                                   \
        _tile_loadd(7, (bp)[0][1], 64); _tile_dpbssd(0, 5, 7);                               \
        _tile_loadd(6, (bp)[1][1], 64); _tile_dpbssd(1, 5, 6);                               \
        _tile_loadd(7, (bp)[2][1], 64); _tile_dpbssd(2, 5, 7);                               \
        _tile_loadd(4, (ab) + 4 + 128, as);                                                  \
        _tile_loadd(6, (bp)[0][2], 64); _tile_dpbssd(0, 4, 6);                               \
        _tile_loadd(7, (bp)[1][2], 64); _tile_dpbssd(1, 4, 7);                               \
        _tile_loadd(6, (bp)[2][2], 64); _tile_dpbssd(2, 4, 6);                               \
        _tile_loadd(5, (ab) + 4 + 192, as);                                                  \
        _tile_loadd(7, (bp)[0][3], 64); _tile_dpbssd(0, 5, 7);                               \
        _tile_loadd(6, (bp)[1][3], 64); _tile_dpbssd(1, 5, 6);                               \
        _tile_loadd(7, (bp)[2][3], 64); _tile_dpbssd(2, 5, 7);                               \
    } while (0)

static inline __attribute__((always_inline)) void
k6_epilogue(const k6_work *wk, int s, const char *ab, size_t as, const int MT, float *acc, const char *pf) {
    const __m512 d0 = _mm512_load_ps(wk->d[s][0]), d1 = _mm512_load_ps(wk->d[s][1]), d2 = _mm512_load_ps(wk->d[s][2]);
#pragma GCC unroll 16
    for (int t = 0; t < MT; t++) {
        const char *at = ab + (size_t)t * as;
        if (pf) {
            const char *p = pf + (size_t)t * as;
            _mm_prefetch(p, _MM_HINT_T0); _mm_prefetch(p + 64, _MM_HINT_T0); _mm_prefetch(p + 128, _MM_HINT_T0);
            _mm_prefetch(p + 192, _MM_HINT_T0); _mm_prefetch(p + 259, _MM_HINT_T0);
        }
        __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_load_si512(wk->cb[0] + 16 * t)), d0);
        x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(wk->cb[1] + 16 * t)), d1, x);
        x = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(wk->cb[2] + 16 * t)), d2, x);
        float da;
        memcpy(&da, at, 4);
        _mm512_store_ps(acc + 16 * t, _mm512_fmadd_ps(x, _mm512_set1_ps(da), _mm512_load_ps(acc + 16 * t)));
    }
}

static inline __attribute__((always_inline)) void
k6_run(k6_work *wk, int ks, const char *a, size_t as, int ntt, const int MT, float *acc) {
    const int ni = ks * ntt;
#define K6_ITEM_A(i) (a + (size_t)((i) % ntt) * 16 * as + (size_t)((i) / ntt) * sizeof(block_q8_K))
    K6_ISSUE(K6_ITEM_A(0), wk->bp[0], (long)as);
    for (int i = 0; i < ni; i++) {
        _tile_stored(0, wk->cb[0], 64); _tile_stored(1, wk->cb[1], 64); _tile_stored(2, wk->cb[2], 64);
        if (i + 1 < ni) K6_ISSUE(K6_ITEM_A(i + 1), wk->bp[(i + 1) / ntt], (long)as);
        k6_epilogue(wk, i / ntt, K6_ITEM_A(i), as, MT, acc + (size_t)(i % ntt) * 16 * 16,
                    i + 2 < ni ? K6_ITEM_A(i + 2) : NULL);
    }
#undef K6_ITEM_A
}

enum { K4_TB = 256 };   /* tokens per pass (float accumulators for all K: 16 KiB); a call of more re-decodes per pass */

/* The k-quant plane kernels of one type: decode super-block s of up to 16 weight rows into
 * the work area (pf: a block to prefetch, or NULL); run ks decoded super-blocks over ntt
 * 16-token tiles (run16) or one tile of mt < 16 tokens (run_tail), adding into acc. */
typedef struct kq_plane_ops {
    void (*decode)(void *wk, int s, const char *w0, size_t w_stride, int mr, const char *pf);
    void (*run16)(void *wk, int ks, const char *a, size_t as, int ntt, float *acc);
    void (*run_tail)(void *wk, int ks, const char *a, size_t as, int mt, float *acc);
    int ks_max;        /* super-blocks decoded per K chunk (fits the work area) */
    size_t bsz;        /* bytes per super-block */
} kq_plane_ops;

/* out = W·A for the plane kernels: 16-row groups, passes of up to K4_TB tokens (each block
 * decoded once per pass), K chunks of ks_max super-blocks; accumulators stored once. */
static void gemm_planes(const kq_plane_ops *op, void *wk, int n, int nr, int nc, const void *w, size_t w_stride,
                        const void *a, size_t a_stride, float *out, size_t ldo) {
    const int nsb = n / QK_K;
    _Alignas(64) float acc[K4_TB][16];
    int cur_mt = 0;
    for (int r0 = 0; r0 < nr; r0 += 16) {
        const int mr = KQ_MIN(16, nr - r0);
        const __mmask16 rmask = (__mmask16)((1u << mr) - 1);
        for (int t0 = 0; t0 < nc; t0 += K4_TB) {   /* one pass for nc <= K4_TB: each block decoded once */
            const int nt = KQ_MIN(K4_TB, nc - t0), nfull = nt / 16, tail = nt % 16;
            memset(acc, 0, sizeof(float) * 16 * (size_t)nt);
            for (int s0 = 0; s0 < nsb; s0 += op->ks_max) {
                const int ks = KQ_MIN(op->ks_max, nsb - s0);
                for (int s = 0; s < ks; s++) {
                    const char *ws = (const char *)w + (size_t)r0 * w_stride + (size_t)(s0 + s) * op->bsz;
                    op->decode(wk, s, ws, w_stride, mr, s0 + s + 2 < nsb ? ws + 2 * op->bsz : NULL);
                }
                const char *ab = (const char *)a + (size_t)t0 * a_stride + (size_t)s0 * sizeof(block_q8_K);
                if (nfull) {
                    if (cur_mt != 16) { amx_cfg_c4a2b2(16, 64); cur_mt = 16; }
                    op->run16(wk, ks, ab, a_stride, nfull, acc[0]);
                }
                if (tail) {
                    if (cur_mt != tail) { amx_cfg_c4a2b2(tail, 64); cur_mt = tail; }
                    op->run_tail(wk, ks, ab + (size_t)nfull * 16 * a_stride, a_stride, tail, acc[nfull * 16]);
                }
            }
            for (int t = 0; t < nt; t++) _mm512_mask_storeu_ps(out + (size_t)(t0 + t) * ldo + r0, rmask, _mm512_load_ps(acc[t]));
        }
    }
    if (cur_mt) _tile_release();
}

/* the plane kernels behind plain calls (each keeps its inlined, specialised body) */
static void k4_dec_q4(void *wk, int s, const char *w0, size_t ws, int mr, const char *pf) { k4_decode(wk, s, w0, ws, mr, pf, 0); }
static void k4_dec_q5(void *wk, int s, const char *w0, size_t ws, int mr, const char *pf) { k4_decode(wk, s, w0, ws, mr, pf, 1); }
static void k4_run16(void *wk, int ks, const char *a, size_t as, int ntt, float *acc) { k4_run(wk, ks, a, as, ntt, 16, acc); }
static void k4_run_tail(void *wk, int ks, const char *a, size_t as, int mt, float *acc) { k4_run(wk, ks, a, as, 1, mt, acc); }
static void k6_dec(void *wk, int s, const char *w0, size_t ws, int mr, const char *pf) { k6_decode(wk, s, w0, ws, mr, pf); }
static void k6_run16(void *wk, int ks, const char *a, size_t as, int ntt, float *acc) { k6_run(wk, ks, a, as, ntt, 16, acc); }
static void k6_run_tail(void *wk, int ks, const char *a, size_t as, int mt, float *acc) { k6_run(wk, ks, a, as, 1, mt, acc); }

static void gemm_q4_K_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                          float *out, size_t ldo) {
    static const kq_plane_ops op = {k4_dec_q4, k4_run16, k4_run_tail, K4_KS, sizeof(block_q4_K)};
    k4_work wk;
    gemm_planes(&op, &wk, n, nr, nc, w, w_stride, a, a_stride, out, ldo);
}
static void gemm_q5_K_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                          float *out, size_t ldo) {
    static const kq_plane_ops op = {k4_dec_q5, k4_run16, k4_run_tail, K4_KS, sizeof(block_q5_K)};
    k4_work wk;
    gemm_planes(&op, &wk, n, nr, nc, w, w_stride, a, a_stride, out, ldo);
}
static void gemm_q6_K_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                          float *out, size_t ldo) {
    static const kq_plane_ops op = {k6_dec, k6_run16, k6_run_tail, K6_KS, sizeof(block_q6_K)};
    k6_work wk;
    gemm_planes(&op, &wk, n, nr, nc, w, w_stride, a, a_stride, out, ldo);
}

static void gemm_iq4_xs_amx(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *out,
                            size_t ldo) {
    gemm_kq_amx(n, nr, nc, w, ws, a, as, out, ldo, 32, sizeof(block_iq4_xs), dec_iq4_xs, 0);
}
static void gemm_q2_K_amx(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *out,
                          size_t ldo) {
    gemm_kq_amx(n, nr, nc, w, ws, a, as, out, ldo, 16, sizeof(block_q2_K), dec_q2_K, 1);
}
static void gemm_q3_K_amx(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *out,
                          size_t ldo) {
    gemm_kq_amx(n, nr, nc, w, ws, a, as, out, ldo, 16, sizeof(block_q3_K), dec_q3_K, 0);
}

r1_gemm_fn r1_amx_gemm_kquant(r1_type t) {
    switch (t) {
    case R1_TYPE_Q4_K: return gemm_q4_K_amx;
    case R1_TYPE_Q6_K: return gemm_q6_K_amx;
    case R1_TYPE_Q5_K: return gemm_q5_K_amx;
    case R1_TYPE_IQ4_XS: return gemm_iq4_xs_amx;
    case R1_TYPE_Q2_K: return gemm_q2_K_amx;
    case R1_TYPE_Q3_K: return gemm_q3_K_amx;
    default: return NULL;
    }
}
