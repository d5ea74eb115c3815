/*
 * gemm_kq_amx.c — batched (prefill) GEMM of the weight types with Q8_K activations (Q2_K,
 * Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS) on Intel AMX int8 tiles. Compiled like quant_amx.c (AVX-512 + AMX
 * flags) and only reached through r1_amx_gemm_kernel() when src/cpu.c found AMX usable.
 * Contract r1_gemm_fn: out[c*ldo + r] = dot(weight row r, activation row c), equal to the
 * scalar vec_dot_ref up to float rounding and summation order.
 *
 * Scheme (per 16 weight rows x up to 8 super-blocks of K, "a chunk"):
 *   1. decode each row's super-blocks to plain int8 values (Q4_K: the nibble 0..15; Q5_K:
 *      0..31; Q6_K: the 6-bit value minus 32; Q2_K: 0..3; Q3_K: -4..3; IQ4_XS: the
 *      non-uniform level) and float sub-block factors: dsc[j] = d * scale_j (sub-blocks
 *      of 32 for Q4_K/Q5_K/IQ4_XS, 16 for Q2_K/Q3_K/Q6_K) and, for the types with mins
 *      (Q2_K, Q4_K, Q5_K), dmn[j] = dmin * min_j;
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

/* ---- per-type super-block decoders: q[256] int8, dsc[j*16] (sub-block factors, one
 *      16-float row per sub-block), dmn[j*16] (min factors; Q4_K only) ------------------ */
static inline void dec_q4_K(const void *blk, int8_t *q, float *dsc, float *dmn) {
    const block_q4_K *b = blk;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int p = 0; p < 4; p++) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * p));
        _mm256_store_si256((__m256i *)(q + 64 * p), _mm256_and_si256(v, m4));
        _mm256_store_si256((__m256i *)(q + 64 * p + 32), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
    }
    uint8_t sc[8], mn[8];
    r1_q4k_scales_mins(b->scales, sc, mn);
    const float d = _cvtsh_ss(b->d), dm = _cvtsh_ss(b->dmin);
    for (int j = 0; j < 8; j++) { dsc[j * 16] = d * sc[j]; dmn[j * 16] = dm * mn[j]; }
}

static inline void dec_q6_K(const void *blk, int8_t *q, float *dsc, float *dmn) {
    (void)dmn;
    const block_q6_K *b = blk;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), o32 = _mm256_set1_epi8(32);
    for (int h = 0; h < 2; h++) {
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
        const __m256i hh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
        int8_t *o = q + 128 * h;
        _mm256_store_si256((__m256i *)(o + 0), _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(l0, m4),
            _mm256_and_si256(_mm256_slli_epi16(hh, 4), m30)), o32));
        _mm256_store_si256((__m256i *)(o + 32), _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(l1, m4),
            _mm256_and_si256(_mm256_slli_epi16(hh, 2), m30)), o32));
        _mm256_store_si256((__m256i *)(o + 64), _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
            _mm256_and_si256(hh, m30)), o32));
        _mm256_store_si256((__m256i *)(o + 96), _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
            _mm256_and_si256(_mm256_srli_epi16(hh, 2), m30)), o32));
    }
    const float d = _cvtsh_ss(b->d);
    for (int j = 0; j < 16; j++) dsc[j * 16] = d * b->scales[j];
}

static inline void dec_q5_K(const void *blk, int8_t *q, float *dsc, float *dmn) {
    const block_q5_K *b = blk;
    const __m256i m4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
    const __m256i h = _mm256_loadu_si256((const __m256i *)b->qh);
    for (int p = 0; p < 4; p++) {   /* sub-blocks 2p, 2p+1: 5th bit = qh bit 2p, 2p+1 */
        const __m256i v = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * p));
        const __m256i h0 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * p)), one), 4);
        const __m256i h1 = _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(h, _mm_cvtsi32_si128(2 * p + 1)), one), 4);
        _mm256_store_si256((__m256i *)(q + 64 * p), _mm256_or_si256(_mm256_and_si256(v, m4), h0));
        _mm256_store_si256((__m256i *)(q + 64 * p + 32), _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), h1));
    }
    uint8_t sc[8], mn[8];
    r1_q4k_scales_mins(b->scales, sc, mn);
    const float d = _cvtsh_ss(b->d), dm = _cvtsh_ss(b->dmin);
    for (int j = 0; j < 8; j++) { dsc[j * 16] = d * sc[j]; dmn[j * 16] = dm * mn[j]; }
}

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

static void gemm_q4_K_amx(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *out,
                          size_t ldo) {
    gemm_kq_amx(n, nr, nc, w, ws, a, as, out, ldo, 32, sizeof(block_q4_K), dec_q4_K, 1);
}
static void gemm_q6_K_amx(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *out,
                          size_t ldo) {
    gemm_kq_amx(n, nr, nc, w, ws, a, as, out, ldo, 16, sizeof(block_q6_K), dec_q6_K, 0);
}

static void gemm_q5_K_amx(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *out,
                          size_t ldo) {
    gemm_kq_amx(n, nr, nc, w, ws, a, as, out, ldo, 32, sizeof(block_q5_K), dec_q5_K, 1);
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
