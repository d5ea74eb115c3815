/*
 * quant_avx512.c — AVX-512 (F/BW/VL/DQ + VNNI) kernels; installed over the AVX2 ones
 * when src/cpu.c found AVX-512 with VNNI. Types without an entry here keep their AVX2
 * kernel (a 512-bit Q4_0 measured slower than the AVX2 one). Integer dots use VNNI
 * dpbusd (unsigned × signed bytes, no int16 saturation); signed × signed is done as
 * |x| × sign(y, x).
 */
#include "quant_impl.h"
#include <immintrin.h>

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }  /* F16C, exact */
/* Software prefetch of weights a few blocks ahead: on this class of machine the hardware
 * prefetcher alone leaves the block kernels far below memory bandwidth. */
static inline void prefetch(const void *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T0);
}

static inline __m512 load_f16x16(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }
static inline __m512 load_bf16x16(const uint16_t *p) {
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

#define DOT512(name, T, load, conv)                                                          \
    static void name(int n, float *s, const void *vx, const void *vy) {                     \
        const T *x = vx;                                                                     \
        const float *y = vy;                                                                 \
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                          \
        int i = 0;                                                                           \
        for (; i + 64 <= n; i += 64) {                                                       \
            _mm_prefetch((const char *)(x + i + 512), _MM_HINT_T0);                          \
            _mm_prefetch((const char *)(x + i + 512) + 64, _MM_HINT_T0);                     \
            a0 = _mm512_fmadd_ps(load(x + i), _mm512_loadu_ps(y + i), a0);                   \
            a1 = _mm512_fmadd_ps(load(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);         \
            a2 = _mm512_fmadd_ps(load(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);         \
            a3 = _mm512_fmadd_ps(load(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);         \
        }                                                                                    \
        for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(load(x + i), _mm512_loadu_ps(y + i), a0); \
        float sum = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))); \
        for (; i < n; i++) sum += conv(x[i]) * y[i];                                         \
        *s = sum;                                                                            \
    }
#define F32_ID(v) (v)
#define LOADF32(p) _mm512_loadu_ps(p)
DOT512(vec_dot_f32_avx512, float, LOADF32, F32_ID)
DOT512(vec_dot_f16_avx512, uint16_t, load_f16x16, r1_fp16_to_fp32)
DOT512(vec_dot_bf16_avx512, uint16_t, load_bf16x16, r1_bf16_to_fp32)

/* F32/F16/BF16 weights: each 16-element chunk is loaded/converted once for 4 activation rows. */
#define ROW(base, i, stride) ((const void *)((const char *)(base) + (size_t)(i) * (stride)))
#define GEMM512(name, T, load, vdot)                                                          \
    static void name(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as,  \
                     float *out, size_t ldo) {                                                 \
        for (int r = 0; r < nr; r++) {                                                         \
            const T *x = ROW(w, r, ws);                                                        \
            int c = 0;                                                                         \
            for (; c + 4 <= nc && n % 16 == 0; c += 4) {                                       \
                const float *y0 = ROW(a, c, as), *y1 = ROW(a, c + 1, as), *y2 = ROW(a, c + 2, as), \
                            *y3 = ROW(a, c + 3, as);                                           \
                __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                    \
                for (int i = 0; i < n; i += 16) {                                              \
                    __m512 xv = load(x + i);                                                   \
                    s0 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(y0 + i), s0);                     \
                    s1 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(y1 + i), s1);                     \
                    s2 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(y2 + i), s2);                     \
                    s3 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(y3 + i), s3);                     \
                }                                                                              \
                out[(size_t)c * ldo + r] = _mm512_reduce_add_ps(s0);                           \
                out[(size_t)(c + 1) * ldo + r] = _mm512_reduce_add_ps(s1);                     \
                out[(size_t)(c + 2) * ldo + r] = _mm512_reduce_add_ps(s2);                     \
                out[(size_t)(c + 3) * ldo + r] = _mm512_reduce_add_ps(s3);                     \
            }                                                                                  \
            for (; c < nc; c++) vdot(n, &out[(size_t)c * ldo + r], x, ROW(a, c, as));          \
        }                                                                                      \
    }
GEMM512(gemm_f32_avx512, float, LOADF32, vec_dot_f32_avx512)
GEMM512(gemm_f16_avx512, uint16_t, load_f16x16, vec_dot_f16_avx512)
GEMM512(gemm_bf16_avx512, uint16_t, load_bf16x16, vec_dot_bf16_avx512)

/* ---- matrix-vector (decode) and batched kernels for Q4_K / Q6_K ---------------------------
 * X_rows(nb, R, w0, ws, y, res): R (1..4) weight rows w0, w0 + ws, ... against one
 * activation row; the activation registers are loaded (and rearranged) once per block for
 * all R rows. Each row's stream is prefetched twice: PF_NEAR bytes ahead into L1 and PF_FAR
 * bytes ahead into L2 (prefetcht2). Without software prefetch these kernels read memory at
 * about half the bandwidth; with only the near prefetch (session 4: 2048 B ahead) at
 * 70-78 % of a plain read loop, with both at 88-90 % (session 5, 1 thread, 256 MiB of
 * weights in 2 MiB pages; docs/BENCHMARKS.md). */
#define ROWP(base, i, stride) ((const char *)(base) + (size_t)(i) * (stride))
#define AINLINE static inline __attribute__((always_inline))

AINLINE void prefetch_span(const char *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
}
AINLINE void prefetch_span_far(const char *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T2);
}
#define PF_NEAR 512
#define PF_FAR 6144
AINLINE void prefetch_block(const char *p, size_t bytes) {
    prefetch_span(p + PF_NEAR, bytes);
    prefetch_span_far(p + PF_FAR, bytes);
}

/* Q4_K: qs bytes 0..63 as one register give groups [0 | 2] (low nibbles) and [1 | 3]
 * (high nibbles), bytes 64..127 groups [4 | 6] and [5 | 7]; the activations are arranged
 * the same way (256-bit halves c0 c2 / c1 c3 / c4 c6 / c5 c7). Products: VNNI dpbusd
 * (u4 x s8, 4 elements per int32: |sum| <= 4*15*128 < 2^15), two such results packed to
 * int16 words (packs_epi32, exact), then dpwssd with the group scales as int16 words —
 * 6 multiply uops per block instead of 8 with maddubs + dpwssd per 64 elements (+10 %
 * blocks/s from L2). */
/* The 8 scales (low 128 bits of *s16) and 8 mins of a Q4_K block as int16 words: what
 * r1_q4k_scales_mins computes, kept in registers (its byte arrays are stored as two words
 * and reloaded as one quadword: a failed store-to-load forward per block; measured +12%
 * blocks/s from L1 without it). */
AINLINE void q4k_scales16(const uint8_t q[12], __m512i *s16, __m128i *m16) {
    uint32_t u[3];
    memcpy(u, q, 12);
    const uint64_t scv = (uint64_t)(u[0] & 0x3f3f3f3f) |
                         (uint64_t)((u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4)) << 32;
    const uint64_t mnv = (uint64_t)(u[1] & 0x3f3f3f3f) |
                         (uint64_t)(((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4)) << 32;
    *s16 = _mm512_castsi128_si512(_mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)scv)));
    *m16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mnv));
}

/* Integer dot of one Q4_K block against activations y0..y3 (the block's 256 int8 in the
 * half order above), each 32-element group weighted by its scale from s16: 16 int32 partial
 * sums (the caller scales by d and subtracts the min term). */
AINLINE __m512i q4k_block_dot(const block_q4_K *x, __m512i s16, __m512i y0, __m512i y1, __m512i y2, __m512i y3) {
    const __m512i m4 = _mm512_set1_epi8(0xF);
    /* after packs_epi32 of [g_a | g_b] and [g_a+1 | g_b+1]: 128-bit lanes 0, 1 hold words
     * [a a a a a+1 a+1 a+1 a+1], lanes 2, 3 the same for b; ixA picks scales 0 1 / 2 3 */
    const __m512i ixA = _mm512_set_epi64(0x0003000300030003ll, 0x0002000200020002ll, 0x0003000300030003ll, 0x0002000200020002ll,
                                         0x0001000100010001ll, 0, 0x0001000100010001ll, 0);
    const __m512i ixB = _mm512_add_epi16(ixA, _mm512_set1_epi16(4));
    const __m512i qa = _mm512_loadu_si512((const void *)x->qs), qb = _mm512_loadu_si512((const void *)(x->qs + 64));
    const __m512i z = _mm512_setzero_si512();
    const __m512i d0 = _mm512_dpbusd_epi32(z, _mm512_and_si512(qa, m4), y0);
    const __m512i d1 = _mm512_dpbusd_epi32(z, _mm512_and_si512(_mm512_srli_epi16(qa, 4), m4), y1);
    const __m512i d2 = _mm512_dpbusd_epi32(z, _mm512_and_si512(qb, m4), y2);
    const __m512i d3 = _mm512_dpbusd_epi32(z, _mm512_and_si512(_mm512_srli_epi16(qb, 4), m4), y3);
    __m512i is = _mm512_dpwssd_epi32(z, _mm512_packs_epi32(d0, d1), _mm512_permutexvar_epi16(ixA, s16));
    return _mm512_dpwssd_epi32(is, _mm512_packs_epi32(d2, d3), _mm512_permutexvar_epi16(ixB, s16));
}
/* sum(acc) - sum(macc) */
AINLINE float q4k_finish(__m512 acc, __m128 macc) {
    macc = _mm_add_ps(macc, _mm_movehl_ps(macc, macc));
    macc = _mm_add_ss(macc, _mm_movehdup_ps(macc));
    return _mm512_reduce_add_ps(acc) - _mm_cvtss_f32(macc);
}

/* The lane sums of 4 vectors at once (lane k of the result: the 16 lanes of v_k added):
 * the decode kernels finish 4 rows together instead of one horizontal add each. */
AINLINE __m128 reduce4_ps(__m512 a, __m512 b, __m512 c, __m512 d) {
    const __m512 t0 = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    const __m512 t1 = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44), _mm512_shuffle_f32x4(c, d, 0xEE));
    __m512 u = _mm512_add_ps(_mm512_shuffle_f32x4(t0, t1, 0x88), _mm512_shuffle_f32x4(t0, t1, 0xDD));
    u = _mm512_add_ps(u, _mm512_permute_ps(u, 0x4E));   /* 128-bit lane k: 4 partial sums of v_k */
    u = _mm512_add_ps(u, _mm512_permute_ps(u, 0xB1));
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0), u));
}

AINLINE void q4k_rows(int nb, int R, const char *w0, size_t ws, const block_q8_K *y, float *res) {
    __m512 acc[4];
    __m128 macc[4];
    for (int r = 0; r < R; r++) { acc[r] = _mm512_setzero_ps(); macc[r] = _mm_setzero_ps(); }
    const size_t bs = sizeof(block_q4_K);
    for (int i = 0; i < nb; i++) {
        for (int r = 0; r < R; r++) prefetch_block(ROWP(w0, r, ws) + (size_t)i * bs, bs);
        const __m512i l0 = _mm512_loadu_si512((const void *)y[i].qs), l1 = _mm512_loadu_si512((const void *)(y[i].qs + 64));
        const __m512i l2 = _mm512_loadu_si512((const void *)(y[i].qs + 128)), l3 = _mm512_loadu_si512((const void *)(y[i].qs + 192));
        const __m512i y0 = _mm512_shuffle_i64x2(l0, l1, 0x44), y1 = _mm512_shuffle_i64x2(l0, l1, 0xEE);
        const __m512i y2 = _mm512_shuffle_i64x2(l2, l3, 0x44), y3 = _mm512_shuffle_i64x2(l2, l3, 0xEE);
        /* group sums of the activations (16-element bsums paired) as 8 int16 */
        const __m128i gsum = _mm256_cvtepi32_epi16(
            _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums), _mm256_set1_epi16(1)));
        const float yd = y[i].d;
        for (int r = 0; r < R; r++) {
            const block_q4_K *x = (const block_q4_K *)(ROWP(w0, r, ws)) + i;
            __m512i s16;
            __m128i m16;
            q4k_scales16(x->scales, &s16, &m16);
            const __m512i is = q4k_block_dot(x, s16, y0, y1, y2, y3);
            const __m128i ms = _mm_madd_epi16(m16, gsum);
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(yd * h2f(x->d)), _mm512_cvtepi32_ps(is), acc[r]);
            macc[r] = _mm_fmadd_ps(_mm_set1_ps(yd * h2f(x->dmin)), _mm_cvtepi32_ps(ms), macc[r]);
        }
    }
    for (int r = 0; r < R; r++) res[r] = q4k_finish(acc[r], macc[r]);
}

/* Q4_K decode (one activation row against many weight rows): the activation side of
 * q4k_rows (the 256-bit half shuffles and the paired group sums) depends only on the
 * block, so gemm_q4_K_avx512 prepares it once per call (q4k_act) and q4k_row_pre streams
 * each weight row with the same weight-side operations as q4k_rows; it returns the row's
 * 16 partial sums (min term subtracted) so 4 rows are finished by one reduce4_ps (same
 * integer sums as q4k_rows, float sums in another order). */
typedef struct q4k_act { __m512i y[4]; __m128i gsum; __m128 d; } q4k_act;

/* [yd * d, yd * dmin, ...] of a Q4_K block: both halves converted by one VCVTPH2PS (the
 * products are the same float multiplications as yd * h2f(d), yd * h2f(dmin)) */
AINLINE __m128 q4k_dd(const block_q4_K *x, __m128 yd) {
    uint32_t h;
    memcpy(&h, &x->d, 4);
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)h)), yd);
}

AINLINE void q4k_prepare(int nb, const block_q8_K *y, q4k_act *p) {
    for (int i = 0; i < nb; i++) {
        const __m512i l0 = _mm512_loadu_si512((const void *)y[i].qs), l1 = _mm512_loadu_si512((const void *)(y[i].qs + 64));
        const __m512i l2 = _mm512_loadu_si512((const void *)(y[i].qs + 128)), l3 = _mm512_loadu_si512((const void *)(y[i].qs + 192));
        p[i].y[0] = _mm512_shuffle_i64x2(l0, l1, 0x44);
        p[i].y[1] = _mm512_shuffle_i64x2(l0, l1, 0xEE);
        p[i].y[2] = _mm512_shuffle_i64x2(l2, l3, 0x44);
        p[i].y[3] = _mm512_shuffle_i64x2(l2, l3, 0xEE);
        p[i].gsum = _mm256_cvtepi32_epi16(_mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)y[i].bsums), _mm256_set1_epi16(1)));
        p[i].d = _mm_set1_ps(y[i].d);
    }
}

static __m512 q4k_row_pre(int nb, const block_q4_K *x, const q4k_act *p) {
    __m512 acc = _mm512_setzero_ps();
    __m128 macc = _mm_setzero_ps();
    for (int i = 0; i < nb; i++) {
        prefetch_block((const char *)(x + i), sizeof(block_q4_K));
        __m512i s16;
        __m128i m16;
        q4k_scales16(x[i].scales, &s16, &m16);
        const __m512i is = q4k_block_dot(x + i, s16, p[i].y[0], p[i].y[1], p[i].y[2], p[i].y[3]);
        const __m128i ms = _mm_madd_epi16(m16, p[i].gsum);
        const __m128 dd = q4k_dd(x + i, p[i].d);
        acc = _mm512_fmadd_ps(_mm512_broadcastss_ps(dd), _mm512_cvtepi32_ps(is), acc);
        macc = _mm_fmadd_ps(_mm_shuffle_ps(dd, dd, 0x55), _mm_cvtepi32_ps(ms), macc);
    }
    return _mm512_sub_ps(acc, _mm512_zextps128_ps512(macc));
}

/* Q6_K: per 128-element half, ql bytes 0..63 as one register: low nibbles = elements
 * [0..31 | 32..63], high nibbles = [64..95 | 96..127]; qh (32 bytes) with its copy >> 2 in
 * the upper 256 bits supplies bits 4,5 (masks 0x03 << 4 and 0x30). Unsigned q (0..63) with
 * maddubs (2*63*127 < 2^15), scales by dpwssd, the -32 offset once per block via bsums. */
AINLINE void q6k_rows_acc(int nb, int R, const char *w0, size_t ws, const block_q8_K *y, __m512 *acc) {
    const __m512i m4 = _mm512_set1_epi8(0xF), m3 = _mm512_set1_epi8(3), m30 = _mm512_set1_epi8(0x30);
    /* after packs_epi32 of the two dpbusd results of half h (dword k = elements 4k..4k+3 of
     * 64): 128-bit lane L holds words [scale 8h+L x4, scale 8h+4+L x4] */
    const __m512i ix0 = _mm512_set_epi64(0x0007000700070007ll, 0x0003000300030003ll, 0x0006000600060006ll, 0x0002000200020002ll,
                                         0x0005000500050005ll, 0x0001000100010001ll, 0x0004000400040004ll, 0);
    const __m512i ix1 = _mm512_add_epi16(ix0, _mm512_set1_epi16(8));
    for (int r = 0; r < R; r++) acc[r] = _mm512_setzero_ps();
    const size_t bs = sizeof(block_q6_K);
    for (int i = 0; i < nb; i++) {
        for (int r = 0; r < R; r++) prefetch_block(ROWP(w0, r, ws) + (size_t)i * bs, bs);
        const __m512i y0 = _mm512_loadu_si512((const void *)y[i].qs), y1 = _mm512_loadu_si512((const void *)(y[i].qs + 64));
        const __m512i y2 = _mm512_loadu_si512((const void *)(y[i].qs + 128)), y3 = _mm512_loadu_si512((const void *)(y[i].qs + 192));
        const __m256i bsum = _mm256_loadu_si256((const __m256i *)y[i].bsums);
        const float yd = y[i].d;
        for (int r = 0; r < R; r++) {
            const block_q6_K *x = (const block_q6_K *)(ROWP(w0, r, ws)) + i;
            const __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
            const __m512i s16 = _mm512_castsi256_si512(sc);
            const __m512i z = _mm512_setzero_si512();
            __m512i is = z;
            for (int h = 0; h < 2; h++) {
                /* two 256-bit loads: 2-6 % more GB/s from memory than one 512-bit load
                 * (1 thread, 256 MiB; 64-byte loads of 210-byte blocks mostly split lines) */
                const __m512i ql = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(x->ql + 64 * h))),
                                                      _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32)), 1);
                const __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
                const __m512i qh2 = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
                const __m512i qlo = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(_mm512_and_si512(qh2, m3), 4));
                const __m512i qhi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_and_si512(qh2, m30));
                const __m512i dlo = _mm512_dpbusd_epi32(z, qlo, h ? y2 : y0);
                const __m512i dhi = _mm512_dpbusd_epi32(z, qhi, h ? y3 : y1);
                is = _mm512_dpwssd_epi32(is, _mm512_packs_epi32(dlo, dhi), _mm512_permutexvar_epi16(h ? ix1 : ix0, s16));
            }
            const __m256i bias = _mm256_slli_epi32(_mm256_madd_epi16(sc, bsum), 5);
            is = _mm512_sub_epi32(is, _mm512_zextsi256_si512(bias));
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(yd * h2f(x->d)), _mm512_cvtepi32_ps(is), acc[r]);
        }
    }
}
AINLINE void q6k_rows(int nb, int R, const char *w0, size_t ws, const block_q8_K *y, float *res) {
    __m512 acc[4];
    q6k_rows_acc(nb, R, w0, ws, y, acc);
    for (int r = 0; r < R; r++) res[r] = _mm512_reduce_add_ps(acc[r]);
}

/* Q8_0: one 32-byte block per 256-bit VNNI dot (|x| · sign(y, x)), two accumulators;
 * measured faster than pairing blocks into 512-bit registers (scale assembly cost). */
static void vec_dot_q8_0_avx512(int n, float *s, const void *vx, const void *vy) {
    const block_q8_0 *x = vx, *y = vy;
    const int nb = n / QK32;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 2 <= nb; i += 2) {
        prefetch((const char *)(x + i) + 2048, 64);
        __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs), x1 = _mm256_loadu_si256((const __m256i *)x[i + 1].qs);
        __m256i p0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x0),
                                         _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[i].qs), x0));
        __m256i p1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x1),
                                         _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[i + 1].qs), x1));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)), _mm256_cvtepi32_ps(p0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i + 1].d) * h2f(y[i + 1].d)), _mm256_cvtepi32_ps(p1), acc1);
    }
    if (i < nb) {
        __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
        __m256i p0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x0),
                                         _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[i].qs), x0));
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)), _mm256_cvtepi32_ps(p0), acc0);
    }
    __m256 acc = _mm256_add_ps(acc0, acc1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    *s = _mm_cvtss_f32(h);
}

/* Q8_0 products. nc == 1 (decode): the activation row is split once per call into its
 * int8 values (contiguous, 64-byte aligned) and float scales, so each of the nr weight rows
 * needs per block one aligned load, one VNNI dot and one scale multiply-add, instead of
 * also converting the activation's f16 scale (~20% more blocks/s from L1 than
 * vec_dot_q8_0_avx2, measured; memory-bound decode leaves that much more slack for the
 * loads). nc > 1 (a few tokens without AMX): each weight block is loaded and its |x|
 * formed once for 4 activation rows. Calls of fewer than 4 rows, and rows of more than
 * Q8_SPLIT_MAX elements (the split copy lives on the stack), go row by row through
 * vec_dot_q8_0_avx512. Tried against this and not kept (docs/BENCHMARKS.md, session 4):
 * other prefetch distances (1024/1536/4096), both lines per 68 bytes, prefetcht1, and an
 * 8-blocks-per-step 512-bit kernel with half the instructions (faster from L2, slower from
 * memory) — none decoded faster in the whole model. */
#define Q8_SPLIT_MAX 32768
static void q8_0_row_split(int nb, float *s, const block_q8_0 *x, const int8_t *yq, const float *yd) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int i = 0;
    for (; i + 2 <= nb; i += 2) {
        _mm_prefetch((const char *)(x + i) + 2048, _MM_HINT_T0);
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs), x1 = _mm256_loadu_si256((const __m256i *)x[i + 1].qs);
        const __m256i p0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x0),
                                               _mm256_sign_epi8(_mm256_load_si256((const __m256i *)(yq + 32 * i)), x0));
        const __m256i p1 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x1),
                                               _mm256_sign_epi8(_mm256_load_si256((const __m256i *)(yq + 32 * i + 32)), x1));
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * yd[i]), _mm256_cvtepi32_ps(p0), a0);
        a1 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i + 1].d) * yd[i + 1]), _mm256_cvtepi32_ps(p1), a1);
    }
    if (i < nb) {
        const __m256i x0 = _mm256_loadu_si256((const __m256i *)x[i].qs);
        const __m256i p0 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x0),
                                               _mm256_sign_epi8(_mm256_load_si256((const __m256i *)(yq + 32 * i)), x0));
        a0 = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * yd[i]), _mm256_cvtepi32_ps(p0), a0);
    }
    const __m256 acc = _mm256_add_ps(a0, a1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    *s = _mm_cvtss_f32(h);
}

static void gemm_q8_0_avx512(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *out,
                             size_t ldo) {
    const int nb = n / QK32;
    if (nc == 1 && nr >= 4 && n <= Q8_SPLIT_MAX) {   /* the split pays off from a few rows on */
        _Alignas(64) int8_t yq[Q8_SPLIT_MAX];
        float yd[Q8_SPLIT_MAX / QK32];
        const block_q8_0 *y = a;
        for (int i = 0; i < nb; i++) {
            memcpy(yq + 32 * i, y[i].qs, 32);
            yd[i] = h2f(y[i].d);
        }
        for (int r = 0; r < nr; r++) q8_0_row_split(nb, out + r, (const block_q8_0 *)ROWP(w, r, ws), yq, yd);
        return;
    }
    for (int r = 0; r < nr; r++) {
        const block_q8_0 *x = (const block_q8_0 *)ROWP(w, r, ws);
        int c = 0;
        for (; c + 4 <= nc; c += 4) {
            const block_q8_0 *y[4];
            __m256 acc[4];
            for (int k = 0; k < 4; k++) { y[k] = (const block_q8_0 *)ROWP(a, c + k, as); acc[k] = _mm256_setzero_ps(); }
            for (int i = 0; i < nb; i++) {
                const __m256i xv = _mm256_loadu_si256((const __m256i *)x[i].qs), ax = _mm256_abs_epi8(xv);
                const float dx = h2f(x[i].d);
                for (int k = 0; k < 4; k++) {
                    const __m256i yv = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[k][i].qs), xv);
                    const __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, yv);
                    acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dx * h2f(y[k][i].d)), _mm256_cvtepi32_ps(p), acc[k]);
                }
            }
            for (int k = 0; k < 4; k++) {
                __m128 h = _mm_add_ps(_mm256_castps256_ps128(acc[k]), _mm256_extractf128_ps(acc[k], 1));
                h = _mm_add_ps(h, _mm_movehl_ps(h, h));
                h = _mm_add_ss(h, _mm_movehdup_ps(h));
                out[(size_t)(c + k) * ldo + r] = _mm_cvtss_f32(h);
            }
        }
        for (; c < nc; c++) vec_dot_q8_0_avx512(n, &out[(size_t)c * ldo + r], x, ROWP(a, c, as));
    }
}

static void vec_dot_q4_K_avx512(int n, float *s, const void *vx, const void *vy) {
    q4k_rows(n / QK_K, 1, vx, 0, vy, s);
}
static void vec_dot_q6_K_avx512(int n, float *s, const void *vx, const void *vy) {
    q6k_rows(n / QK_K, 1, vx, 0, vy, s);
}

/* nc == 1 (decode): one row at a time, a single linear weight stream (measured faster from
 * memory than 2 or 4 interleaved row streams); nc > 1: groups of 4 rows share the
 * activation blocks (weights are in cache then). */
#define ROWS_GEMM(name, rows_fn, one_row, TY, QK)                                               \
    static void name(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as,   \
                     float *out, size_t ldo) {                                                  \
        const int nb = n / (QK);                                                                \
        for (int c = 0; c < nc; c++) {                                                          \
            const TY *y = (const TY *)ROWP(a, c, as);                                           \
            float *o = out + (size_t)c * ldo;                                                   \
            int r = 0;                                                                          \
            if (nc > 1)                                                                         \
                for (; r + 4 <= nr; r += 4) rows_fn(nb, 4, ROWP(w, r, ws), ws, y, o + r);      \
            for (; r < nr; r++) one_row(n, o + r, ROWP(w, r, ws), y);                          \
        }                                                                                       \
    }
ROWS_GEMM(gemm_q4_K_rows_avx512, q4k_rows, vec_dot_q4_K_avx512, block_q8_K, QK_K)

/* Q4_K: nc == 1 with the activation prepared once per call (rows of up to Q4K_PRE_MAX
 * elements: the prepared copy, 272 bytes per 256 elements, lives on the stack). */
#define Q4K_PRE_MAX 32768
static void gemm_q4_K_avx512(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *out,
                             size_t ldo) {
    if (nc != 1 || nr < 2 || n > Q4K_PRE_MAX) { gemm_q4_K_rows_avx512(n, nr, nc, w, ws, a, as, out, ldo); return; }
    q4k_act pre[Q4K_PRE_MAX / QK_K];
    const int nb = n / QK_K;
    q4k_prepare(nb, a, pre);
    int r = 0;
    for (; r + 4 <= nr; r += 4) {
        const __m512 v0 = q4k_row_pre(nb, (const block_q4_K *)ROWP(w, r, ws), pre);
        const __m512 v1 = q4k_row_pre(nb, (const block_q4_K *)ROWP(w, r + 1, ws), pre);
        const __m512 v2 = q4k_row_pre(nb, (const block_q4_K *)ROWP(w, r + 2, ws), pre);
        const __m512 v3 = q4k_row_pre(nb, (const block_q4_K *)ROWP(w, r + 3, ws), pre);
        _mm_storeu_ps(out + r, reduce4_ps(v0, v1, v2, v3));
    }
    for (; r < nr; r++) out[r] = _mm512_reduce_add_ps(q4k_row_pre(nb, (const block_q4_K *)ROWP(w, r, ws), pre));
}
ROWS_GEMM(gemm_q6_K_rows_avx512, q6k_rows, vec_dot_q6_K_avx512, block_q8_K, QK_K)

/* Q6_K: nc == 1 streams the rows one after another (as vec_dot does) and finishes each 4
 * rows with one reduce4_ps. */
static void gemm_q6_K_avx512(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as, float *out,
                             size_t ldo) {
    if (nc != 1) { gemm_q6_K_rows_avx512(n, nr, nc, w, ws, a, as, out, ldo); return; }
    const int nb = n / QK_K;
    int r = 0;
    for (; r + 4 <= nr; r += 4) {
        __m512 v[4];
        for (int k = 0; k < 4; k++) q6k_rows_acc(nb, 1, ROWP(w, r + k, ws), 0, a, &v[k]);
        _mm_storeu_ps(out + r, reduce4_ps(v[0], v[1], v[2], v[3]));
    }
    for (; r < nr; r++) vec_dot_q6_K_avx512(n, out + r, ROWP(w, r, ws), a);
}

/* ---- dequantization (to_float): bit-identical to the scalar code (same float operations
 * in the same order, no FMA contraction); used by the transposed products of MLA ---------- */
static inline __m512 i8x16_ps(__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)); }

static void q8_0_to_float_avx512(const void *src, float *y, int64_t n) {
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK32; i++, y += QK32) {
        const __m512 d = _mm512_set1_ps(h2f(b[i].d));
        _mm512_storeu_ps(y, _mm512_mul_ps(i8x16_ps(_mm_loadu_si128((const __m128i *)b[i].qs)), d));
        _mm512_storeu_ps(y + 16, _mm512_mul_ps(i8x16_ps(_mm_loadu_si128((const __m128i *)(b[i].qs + 16))), d));
    }
}
/* y = (d * sc) * q - dmin * m per 32-element group */
static void q4_K_to_float_avx512(const void *src, float *y, int64_t n) {
    const block_q4_K *b = src;
    const __m128i m4 = _mm_set1_epi8(0xF);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        uint8_t sc[8], mn[8];
        r1_q4k_scales_mins(b[i].scales, sc, mn);
        for (int p = 0; p < 4; p++) {
            const __m512 d1 = _mm512_set1_ps(d * sc[2 * p]), m1 = _mm512_set1_ps(dmin * mn[2 * p]);
            const __m512 d2 = _mm512_set1_ps(d * sc[2 * p + 1]), m2 = _mm512_set1_ps(dmin * mn[2 * p + 1]);
            for (int h = 0; h < 2; h++) {
                const __m128i q = _mm_loadu_si128((const __m128i *)(b[i].qs + 32 * p + 16 * h));
                const __m512 lo = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(q, m4)));
                const __m512 hi = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), m4)));
                _mm512_storeu_ps(y + 64 * p + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d1, lo), m1));
                _mm512_storeu_ps(y + 64 * p + 32 + 16 * h, _mm512_sub_ps(_mm512_mul_ps(d2, hi), m2));
            }
        }
        y += QK_K;
    }
}
/* y = (d * sc) * (q - 32) per 16-element group */
static void q6_K_to_float_avx512(const void *src, float *y, int64_t n) {
    const block_q6_K *b = src;
    const __m128i m4 = _mm_set1_epi8(0xF), m3 = _mm_set1_epi8(3), o32 = _mm_set1_epi8(32);
    for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
        const float d = h2f(b[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b[i].ql + 64 * h, *qh = b[i].qh + 32 * h;
            const int8_t *sc = b[i].scales + 8 * h;
            float *yh = y + 128 * h;
            for (int k = 0; k < 2; k++) {          /* l in [16k, 16k + 16) */
                const __m128i l0 = _mm_loadu_si128((const __m128i *)(ql + 16 * k));
                const __m128i l1 = _mm_loadu_si128((const __m128i *)(ql + 32 + 16 * k));
                const __m128i hb = _mm_loadu_si128((const __m128i *)(qh + 16 * k));
                const __m128i q0 = _mm_sub_epi8(_mm_or_si128(_mm_and_si128(l0, m4), _mm_slli_epi16(_mm_and_si128(hb, m3), 4)), o32);
                const __m128i q1 = _mm_sub_epi8(_mm_or_si128(_mm_and_si128(l1, m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 2), m3), 4)), o32);
                const __m128i q2 = _mm_sub_epi8(_mm_or_si128(_mm_and_si128(_mm_srli_epi16(l0, 4), m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 4), m3), 4)), o32);
                const __m128i q3 = _mm_sub_epi8(_mm_or_si128(_mm_and_si128(_mm_srli_epi16(l1, 4), m4), _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(hb, 6), m3), 4)), o32);
                /* element 32j + 16k + l' of the half has scale index 2j + k */
                _mm512_storeu_ps(yh + 16 * k, _mm512_mul_ps(_mm512_set1_ps(d * sc[k]), i8x16_ps(q0)));
                _mm512_storeu_ps(yh + 32 + 16 * k, _mm512_mul_ps(_mm512_set1_ps(d * sc[2 + k]), i8x16_ps(q1)));
                _mm512_storeu_ps(yh + 64 + 16 * k, _mm512_mul_ps(_mm512_set1_ps(d * sc[4 + k]), i8x16_ps(q2)));
                _mm512_storeu_ps(yh + 96 + 16 * k, _mm512_mul_ps(_mm512_set1_ps(d * sc[6 + k]), i8x16_ps(q3)));
            }
        }
    }
}

/* ---- activation quantizers: byte-identical to the scalar references (quant_legacy.c
 * q8_0_from_float, quant_k.c q8_K_from_float; test_quant checks it) ---------------------- */
/* roundf (half away from zero) of floats of integral range, exactly: t = trunc(v), then one
 * step away from zero where |v - t| >= 0.5 (v - t is exact) */
static inline __m512 roundf_ps512(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __mmask16 ge = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_mask_add_ps(t, ge, t, one);
}

/* Lane k of the result: the largest lane of v[k] (16 vectors, 4 shuffle-and-max stages). */
static inline __m512 max16_ps(const __m512 v[16]) {
    __m512 u[8], w[4];
    for (int j = 0; j < 8; j++)   /* 128-bit lane L: [a, b, a, b] partials of v[2j], v[2j+1] */
        u[j] = _mm512_max_ps(_mm512_unpacklo_ps(v[2 * j], v[2 * j + 1]), _mm512_unpackhi_ps(v[2 * j], v[2 * j + 1]));
    for (int j = 0; j < 4; j++)   /* 128-bit lane L: the lane-L maxima of v[4j..4j+3] */
        w[j] = _mm512_max_ps(_mm512_shuffle_ps(u[2 * j], u[2 * j + 1], 0x44), _mm512_shuffle_ps(u[2 * j], u[2 * j + 1], 0xEE));
    const __m512 x01 = _mm512_max_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x44), _mm512_shuffle_f32x4(w[0], w[1], 0xEE));
    const __m512 x23 = _mm512_max_ps(_mm512_shuffle_f32x4(w[2], w[3], 0x44), _mm512_shuffle_f32x4(w[2], w[3], 0xEE));
    return _mm512_max_ps(_mm512_shuffle_f32x4(x01, x23, 0x88), _mm512_shuffle_f32x4(x01, x23, 0xDD));
}

/* Q8_0: d = amax / 127, q = roundf(x / d) — 2 vectors per block, the int8 by VPMOVSDB; 16
 * blocks at a time share one vector of maxima, divisions and fp16 conversions (VCVTPS2PH
 * rounds to nearest even as r1_fp32_to_fp16 does: test_quant's half tests) */
static void q8_0_from_float_avx512(const float *x, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    int64_t i = 0;
    for (; i + 16 <= n / QK32; i += 16, x += 16 * QK32) {
        __m512 m[16];
        for (int k = 0; k < 16; k++)
            m[k] = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + 32 * k)), _mm512_abs_ps(_mm512_loadu_ps(x + 32 * k + 16)));
        const __m512 d = _mm512_div_ps(max16_ps(m), _mm512_set1_ps(127.0f));
        const __m512 id = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ), _mm512_set1_ps(1.0f), d);
        _Alignas(32) uint16_t dh[16];
        _mm256_store_si256((__m256i *)dh, _mm512_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        for (int k = 0; k < 16; k++) {
            const __m512 vid = _mm512_permutexvar_ps(_mm512_set1_epi32(k), id);
            b[i + k].d = dh[k];
            _mm_storeu_si128((__m128i *)b[i + k].qs,
                             _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(roundf_ps512(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * k), vid)))));
            _mm_storeu_si128((__m128i *)(b[i + k].qs + 16),
                             _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(roundf_ps512(_mm512_mul_ps(_mm512_loadu_ps(x + 32 * k + 16), vid)))));
        }
    }
    for (; i < n / QK32; i++, x += QK32) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = r1_fp32_to_fp16(d);
        const __m512 vid = _mm512_set1_ps(id);
        _mm_storeu_si128((__m128i *)b[i].qs, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(roundf_ps512(_mm512_mul_ps(v0, vid)))));
        _mm_storeu_si128((__m128i *)(b[i].qs + 16),
                         _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(roundf_ps512(_mm512_mul_ps(v1, vid)))));
    }
}

/* Q8_K: max = the first x of largest |x|; q = min(127, nearest(x * -127 / max)) (ties to
 * even, as r1_nearest_int); one 16-element bsum per vector */
static void q8_K_from_float_avx512(const float *x, void *dst, int64_t n) {
    block_q8_K *b = dst;
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m512 m = _mm512_setzero_ps();
        for (int j = 0; j < QK_K; j += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
        const float amax = _mm512_reduce_max_ps(m);
        if (!amax) { memset(&b[i], 0, sizeof b[i]); continue; }
        float max = amax;
        const __m512 va = _mm512_set1_ps(amax);
        for (int j = 0; j < QK_K; j += 16) {
            const __mmask16 k = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), va, _CMP_EQ_OQ);
            if (k) { max = x[j + __builtin_ctz(k)]; break; }
        }
        const float iscale = -127.f / max;
        const __m512 vs = _mm512_set1_ps(iscale), lim = _mm512_set1_ps(127.f);
        for (int j = 0; j < QK_K; j += 16) {
            const __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(vs, _mm512_loadu_ps(x + j)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            const __m512i q = _mm512_cvtps_epi32(_mm512_min_ps(lim, r));
            _mm_storeu_si128((__m128i *)(b[i].qs + j), _mm512_cvtepi32_epi8(q));
            b[i].bsums[j / 16] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        b[i].d = 1 / iscale;
    }
}

void r1_quant_install_avx512(r1_type_traits *t) {
    t[R1_TYPE_F32].vec_dot = vec_dot_f32_avx512;
    t[R1_TYPE_F16].vec_dot = vec_dot_f16_avx512;
    t[R1_TYPE_BF16].vec_dot = vec_dot_bf16_avx512;
    t[R1_TYPE_Q8_0].vec_dot = vec_dot_q8_0_avx512;
    t[R1_TYPE_Q4_K].vec_dot = vec_dot_q4_K_avx512;
    t[R1_TYPE_Q6_K].vec_dot = vec_dot_q6_K_avx512;
    t[R1_TYPE_F32].gemm = gemm_f32_avx512;
    t[R1_TYPE_F16].gemm = gemm_f16_avx512;
    t[R1_TYPE_BF16].gemm = gemm_bf16_avx512;
    t[R1_TYPE_Q4_K].gemm = gemm_q4_K_avx512;
    t[R1_TYPE_Q6_K].gemm = gemm_q6_K_avx512;
    t[R1_TYPE_Q8_0].gemm = gemm_q8_0_avx512;
    t[R1_TYPE_Q8_0].to_float = q8_0_to_float_avx512;
    t[R1_TYPE_Q4_K].to_float = q4_K_to_float_avx512;
    t[R1_TYPE_Q6_K].to_float = q6_K_to_float_avx512;
    t[R1_TYPE_Q8_0].from_float = q8_0_from_float_avx512;
    t[R1_TYPE_Q8_K].from_float = q8_K_from_float_avx512;
}
