/*
 * q8r_avx512.c — the decode / small-batch product of the 16-row repacked Q8_0 layout
 * (quant_q8r.h) with AVX-512 VNNI. Same contract and the same bits as r1_q8r_gemm_ref.
 *
 * Per group of 16 rows and block b: the block's 512 quant bytes are 8 zmm loads (load q
 * holds, in 32-bit lane r, row r's elements 4q..4q+3 as unsigned bytes); for each token the
 * block's 32 activations are 8 dword broadcasts, and
 *   isum = -128·Σa  +  Σ_q vpdpbusd(wq[q], bcast(a[4q..4q+3]))      (16 lanes = 16 rows)
 * is the exact integer dot of the 16 plain rows (quant_q8r.h, "Arithmetic"). Then
 *   acc += (float)isum · (d_w[16] · d_a)
 * as a multiply and a separate add (no FMA), blocks in order: bit-identical to the scalar
 * reference, so the unit test compares bits. No horizontal sums anywhere: a group's 16
 * outputs leave in one store.
 *
 * The -128·Σa terms and d_a are per (token, block) and shared by every group: computed once
 * per call for a slab of tokens (ACT_TAB entries). Tokens are handled in tiles of up to 8,
 * which reuse the 8 quant registers; the integer sums of the 8 dword products run as two
 * independent chains per token.
 *
 * Decode (one token) runs two groups per pass (Q8R_G): two weight streams in flight, the
 * activation broadcasts shared. Every quant line is prefetched Q8R_PF bytes ahead into L1
 * (the hardware streamer stops at 4 KiB boundaries). Measured in the whole model (qwen-q8_0,
 * 1 thread, 24 decoded tokens, tokens per CPU-second, repacked vs R1_REPACK=0 in one
 * process alternating, medians of 7, load average 7-8.6): one group and no prefetch 0.86-0.89x
 * the plain Q8_0 kernel; one group + prefetch 1.0x; 2 groups + prefetch 1.06x; 4 groups 1.065x.
 */
#include "common.h"
#include "quant_impl.h"
#include "quant_q8r.h"
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

enum { ACT_TAB = 2048 };   /* (token, block) entries of the per-call activation tables */

#ifndef Q8R_PF
#define Q8R_PF 2048
#endif
/* software prefetch of the quant block Q8R_PF bytes ahead, every cache line (0: none) */
#if Q8R_PF
#define PREFETCH_BLOCK(p)                                                                   \
    do {                                                                                    \
        for (int l_ = 0; l_ < 8; l_++) _mm_prefetch((const char *)(p) + Q8R_PF + 64 * l_, _MM_HINT_T0); \
    } while (0)
#else
#define PREFETCH_BLOCK(p) ((void)(p))
#endif

static inline int32_t ld32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* One group (16 rows at g) × NT tokens. ab[t]: token t's block 0; corr/da: the tables
 * of the slab at the tile's first token (stride nb). */
static inline __attribute__((always_inline)) void group_tile(const int NT, int nb, const uint8_t *g,
                                                             const char *const *ab, const int32_t *corr,
                                                             const float *da, float *out, size_t ldo) {
    const uint16_t *sc = (const uint16_t *)g;
    const uint8_t *qs = g + 32 * (size_t)nb;
    __m512 acc[8];
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *qb = qs + 512 * (size_t)b;
        PREFETCH_BLOCK(qb);
        __m512i w[8];
        for (int q = 0; q < 8; q++) w[q] = _mm512_loadu_si512((const void *)(qb + 64 * q));
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(sc + 16 * (size_t)b)));
        for (int t = 0; t < NT; t++) {
            const char *y = ab[t] + (size_t)b * sizeof(block_q8_0) + 2;   /* qs of token t, block b */
            __m512i s0 = _mm512_set1_epi32(corr[(size_t)t * nb + b]), s1 = _mm512_setzero_si512();
            s0 = _mm512_dpbusd_epi32(s0, w[0], _mm512_set1_epi32(ld32(y + 0)));
            s1 = _mm512_dpbusd_epi32(s1, w[1], _mm512_set1_epi32(ld32(y + 4)));
            s0 = _mm512_dpbusd_epi32(s0, w[2], _mm512_set1_epi32(ld32(y + 8)));
            s1 = _mm512_dpbusd_epi32(s1, w[3], _mm512_set1_epi32(ld32(y + 12)));
            s0 = _mm512_dpbusd_epi32(s0, w[4], _mm512_set1_epi32(ld32(y + 16)));
            s1 = _mm512_dpbusd_epi32(s1, w[5], _mm512_set1_epi32(ld32(y + 20)));
            s0 = _mm512_dpbusd_epi32(s0, w[6], _mm512_set1_epi32(ld32(y + 24)));
            s1 = _mm512_dpbusd_epi32(s1, w[7], _mm512_set1_epi32(ld32(y + 28)));
            const __m512 p = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)),
                                           _mm512_mul_ps(dw, _mm512_set1_ps(da[(size_t)t * nb + b])));
            acc[t] = _mm512_add_ps(acc[t], p);
        }
    }
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + (size_t)t * ldo, acc[t]);
}

/* One token × G groups at once (decode): G weight streams in flight instead of one, the
 * activation dwords broadcast once for all. Same per-group arithmetic and order as
 * group_tile. g: the first group; the others follow gstride bytes apart. */
static inline __attribute__((always_inline)) void groups_1(const int G, int nb, const uint8_t *g, size_t gstride,
                                                           const char *ab, const int32_t *corr, const float *da,
                                                           float *out) {
    __m512 acc[4];
    for (int k = 0; k < G; k++) acc[k] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const char *y = ab + (size_t)b * sizeof(block_q8_0) + 2;
        __m512i a[8];
        for (int q = 0; q < 8; q++) a[q] = _mm512_set1_epi32(ld32(y + 4 * q));
        const __m512 d = _mm512_set1_ps(da[b]);
        for (int k = 0; k < G; k++) {
            const uint8_t *gk = g + (size_t)k * gstride;
            const uint8_t *qb = gk + 32 * (size_t)nb + 512 * (size_t)b;
            PREFETCH_BLOCK(qb);
            __m512i s0 = _mm512_set1_epi32(corr[b]), s1 = _mm512_setzero_si512();
            for (int q = 0; q < 8; q += 2) {
                s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512((const void *)(qb + 64 * q)), a[q]);
                s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512((const void *)(qb + 64 * q + 64)), a[q + 1]);
            }
            const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)gk + 16 * (size_t)b)));
            acc[k] = _mm512_add_ps(acc[k], _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), _mm512_mul_ps(dw, d)));
        }
    }
    for (int k = 0; k < G; k++) _mm512_storeu_ps(out + 16 * k, acc[k]);
}
#ifndef Q8R_G
#define Q8R_G 2
#endif

#define TILE_FN(NT)                                                                                          \
    static void group_tile_##NT(int nb, const uint8_t *g, const char *const *ab, const int32_t *corr,         \
                                const float *da, float *out, size_t ldo) {                                  \
        group_tile(NT, nb, g, ab, corr, da, out, ldo);                                                       \
    }
TILE_FN(1)
TILE_FN(2)
TILE_FN(3)
TILE_FN(4)
TILE_FN(5)
TILE_FN(6)
TILE_FN(7)
TILE_FN(8)
typedef void (*tile_fn)(int, const uint8_t *, const char *const *, const int32_t *, const float *, float *, size_t);
static const tile_fn k_tiles[9] = {NULL, group_tile_1, group_tile_2, group_tile_3, group_tile_4,
                                   group_tile_5, group_tile_6, group_tile_7, group_tile_8};

/* corr[t·nb + b] = -128 · Σ qs of token t's block b; da[...] = its scale as float. */
static void act_tables(int nb, int nt, const char *a, size_t a_stride, int32_t *corr, float *da) {
    const __m256i ones = _mm256_set1_epi8(1);
    for (int t = 0; t < nt; t++) {
        const block_q8_0 *y = (const block_q8_0 *)(a + (size_t)t * a_stride);
        for (int b = 0; b < nb; b++) {
            /* Σ of 32 int8: maddubs(1, x) gives pairwise i16 sums, madd(·, 1) i32 */
            const __m256i x = _mm256_loadu_si256((const __m256i *)y[b].qs);
            const __m256i s16 = _mm256_maddubs_epi16(ones, x);
            const __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
            __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
            corr[(size_t)t * nb + b] = -128 * _mm_cvtsi128_si32(h);
            uint16_t d;
            memcpy(&d, &y[b].d, 2);
            da[(size_t)t * nb + b] = _cvtsh_ss(d);
        }
    }
}

void r1_q8r_gemm_avx512(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                        float *out, size_t ldo) {
    const int nb = n / QK32;
    if (nb <= 0 || nr <= 0 || nc <= 0) return;
    _Alignas(64) int32_t corr[ACT_TAB];
    _Alignas(64) float da[ACT_TAB];
    /* tokens per slab: the tables hold slab × nb entries (at least one token) */
    int slab = ACT_TAB / nb;
    if (slab < 1) slab = 1;
    int32_t *corr_p = corr;
    float *da_p = da;
    int32_t *big = NULL;
    if (nb > ACT_TAB) {   /* rows longer than 65536 elements: one token's tables on the heap */
        big = r1_alloc_aligned((size_t)nb * 8);
        if (!big) { r1_q8r_gemm_ref(n, nr, nc, w, w_stride, a, a_stride, out, ldo); return; }
        corr_p = big;
        da_p = (float *)(big + nb);
    }
    for (int c0 = 0; c0 < nc; c0 += slab) {
        const int ns = nc - c0 < slab ? nc - c0 : slab;
        const char *as = (const char *)a + (size_t)c0 * a_stride;
        act_tables(nb, ns, as, a_stride, corr_p, da_p);
        for (int g0 = 0; g0 < nr; g0 += R1_Q8R_ROWS) {
            const uint8_t *g = (const uint8_t *)w + (size_t)g0 * w_stride;
            if (ns == 1 && g0 + Q8R_G * R1_Q8R_ROWS <= nr) {   /* decode: Q8R_G groups per pass */
                groups_1(Q8R_G, nb, g, R1_Q8R_ROWS * w_stride, as, corr_p, da_p, out + (size_t)c0 * ldo + g0);
                g0 += (Q8R_G - 1) * R1_Q8R_ROWS;
                continue;
            }
            for (int t0 = 0; t0 < ns; t0 += 8) {
                const int nt = ns - t0 < 8 ? ns - t0 : 8;
                const char *ab[8];
                for (int t = 0; t < nt; t++) ab[t] = as + (size_t)(t0 + t) * a_stride;
                k_tiles[nt](nb, g, ab, corr_p + (size_t)t0 * nb, da_p + (size_t)t0 * nb,
                            out + (size_t)(c0 + t0) * ldo + g0, ldo);
            }
        }
    }
    r1_free_aligned(big);
}
