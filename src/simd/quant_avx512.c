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
/* Q4_K: a block's 256 nibbles as 4 registers of 64 values (groups 2p, 2p+1). */
static void vec_dot_q4_K_avx512(int n, float *s, const void *vx, const void *vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    const __m512i m4 = _mm512_set1_epi8(0xF);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        uint8_t sc[8], mn[8];
        r1_q4k_scales_mins(x[i].scales, sc, mn);
        __m512i isum = _mm512_setzero_si512();
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
            __m512i qq = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
            qq = _mm512_and_si512(qq, m4);
            __m512i d = _mm512_dpbusd_epi32(_mm512_setzero_si512(), qq,
                                            _mm512_loadu_si512((const void *)(y[i].qs + 64 * p)));
            __m512i scv = _mm512_inserti64x4(_mm512_set1_epi32(sc[2 * p]), _mm256_set1_epi32(sc[2 * p + 1]), 1);
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(d, scv));
        }
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        acc += y[i].d * h2f(x[i].d) * _mm512_reduce_add_epi32(isum) -
               y[i].d * h2f(x[i].dmin) * summ;
    }
    *s = acc;
}

/* Q6_K: unsigned 6-bit q (0..63) with dpbusd over 64 values at a time; the -32 offset
 * is folded in once per block as 32 * sum_j sc_j * bsums_j. */
static void vec_dot_q6_K_avx512(int n, float *s, const void *vx, const void *vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
    const __m128i idx0 = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m128i idx1 = _mm_add_epi8(idx0, _mm_set1_epi8(4));
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs, *sc = x[i].scales;
        __m512i isum = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, q8 += 128, sc += 8) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q0 = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
            __m128i scv = _mm_loadl_epi64((const __m128i *)sc);
            __m512i s01 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(scv, idx0));
            __m512i s23 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(scv, idx1));
            __m512i pa = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_inserti64x4(_mm512_castsi256_si512(q0), q1, 1),
                                             _mm512_loadu_si512((const void *)q8));
            __m512i pb = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_inserti64x4(_mm512_castsi256_si512(q2), q3, 1),
                                             _mm512_loadu_si512((const void *)(q8 + 64)));
            isum = _mm512_add_epi32(isum, _mm512_add_epi32(_mm512_mullo_epi32(pa, s01), _mm512_mullo_epi32(pb, s23)));
        }
        int bias = 0;
        for (int j = 0; j < 16; j++) bias += x[i].scales[j] * y[i].bsums[j];
        acc += h2f(x[i].d) * y[i].d * (_mm512_reduce_add_epi32(isum) - 32 * bias);
    }
    *s = acc;
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
}
