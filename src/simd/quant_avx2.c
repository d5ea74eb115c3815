/*
 * quant_avx2.c — AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; only
 * installed when src/cpu.c found the CPU/OS support). Each kernel computes the same sum
 * as its scalar reference in quant.c / quant_legacy.c / quant_k.c: integer parts are
 * exact, float accumulation order differs (tests allow rounding). The activation
 * quantizers (F32 -> Q8_0, Q8_K) are bit-identical to the references.
 */
#include "quant_impl.h"
#include <immintrin.h>

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }  /* F16C, exact */
/* Software prefetch of weights a few blocks ahead: on this class of machine the hardware
 * prefetcher alone leaves the block kernels far below memory bandwidth. */
static inline void prefetch(const void *p, size_t bytes) {
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch((const char *)p + o, _MM_HINT_T0);
}
#include <math.h>

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}
/* 8 int32 partial sums of x·y for 32 signed bytes each (|x| <= 127 or y != -128). */
static inline __m256i dot_i8(__m256i x, __m256i y) {
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}
/* 8 int32 partial sums of u·y for unsigned u (0..127 safe) and signed y. */
static inline __m256i dot_u8i8(__m256i u, __m256i y) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, y), _mm256_set1_epi16(1));
}
static inline __m256i load_nibbles32(const uint8_t *qs) {   /* 16 bytes -> 32 nibbles (lo, hi) */
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(v, _mm256_set1_epi8(0xF));
}

/* ---- F32 / F16 / BF16 × F32 ---------------------------------------------------------- */
static void vec_dot_f32_avx2(int n, float *s, const void *vx, const void *vy) {
    const float *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
}
static inline __m256 load_f16x8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p)); }
static inline __m256 load_bf16x8(const uint16_t *p) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
#define HALF_DOT(name, load, conv)                                                           \
    static void name(int n, float *s, const void *vx, const void *vy) {                     \
        const uint16_t *x = vx;                                                              \
        const float *y = vy;                                                                 \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                          \
        int i = 0;                                                                           \
        for (; i + 32 <= n; i += 32) {                                                       \
            _mm_prefetch((const char *)(x + i + 512), _MM_HINT_T0);                          \
            a0 = _mm256_fmadd_ps(load(x + i), _mm256_loadu_ps(y + i), a0);                   \
            a1 = _mm256_fmadd_ps(load(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);           \
            a2 = _mm256_fmadd_ps(load(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);         \
            a3 = _mm256_fmadd_ps(load(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);         \
        }                                                                                    \
        for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load(x + i), _mm256_loadu_ps(y + i), a0); \
        float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));    \
        for (; i < n; i++) sum += conv(x[i]) * y[i];                                         \
        *s = sum;                                                                            \
    }
HALF_DOT(vec_dot_f16_avx2, load_f16x8, r1_fp16_to_fp32)
HALF_DOT(vec_dot_bf16_avx2, load_bf16x8, r1_bf16_to_fp32)

/* ---- F16 / BF16 <-> F32 conversion (bit-identical to the scalar r1_fp16/bf16 helpers,
 *      NaNs included: both quiet them like F16C) --------------------------------------- */
static void f16_to_float_avx2(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(x + i));
    for (; i < n; i++) dst[i] = r1_fp16_to_fp32(x[i]);
}
static void f16_from_float_avx2(const float *src, void *dstv, int64_t n) {
    uint16_t *dst = dstv;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = r1_fp32_to_fp16(src[i]);
}
static void bf16_to_float_avx2(const void *src, float *dst, int64_t n) {
    const uint16_t *x = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16x8(x + i));
    for (; i < n; i++) dst[i] = r1_bf16_to_fp32(x[i]);
}
/* round to nearest even on the bit pattern; NaN -> top half | 0x40 (quiet) */
static void bf16_from_float_avx2(const float *src, void *dstv, int64_t n) {
    uint16_t *dst = dstv;
    const __m256i absm = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i r[2];
        for (int k = 0; k < 2; k++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(src + i + 8 * k));
            __m256i odd = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
            __m256i rn = _mm256_srli_epi32(_mm256_add_epi32(x, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), odd)), 16);
            __m256i qn = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
            __m256i isnan = _mm256_cmpgt_epi32(_mm256_and_si256(x, absm), inf);
            r[k] = _mm256_blendv_epi8(rn, qn, isnan);
        }
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xd8);
        _mm256_storeu_si256((__m256i *)(dst + i), p);
    }
    for (; i < n; i++) dst[i] = r1_fp32_to_bf16(src[i]);
}

/* ---- activation quantizers --------------------------------------------------------- */
/* roundf (half away from zero) of integral-range floats, exactly: t = trunc(v), then
 * step away from zero when |v - t| >= 0.5 (v - t is exact). */
static inline __m256 roundf_ps(__m256 v) {
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 sgnmask = _mm256_set1_ps(-0.0f);
    __m256 frac = _mm256_andnot_ps(sgnmask, _mm256_sub_ps(v, t));
    __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, sgnmask));
    __m256 ge = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(ge, one));
}
/* 32 integral floats in [-128, 127] (four vectors) -> 32 int8 in order. */
static inline __m256i pack_i8(__m256 a, __m256 b, __m256 c, __m256 d) {
    __m256i i16ab = _mm256_packs_epi32(_mm256_cvtps_epi32(a), _mm256_cvtps_epi32(b));
    __m256i i16cd = _mm256_packs_epi32(_mm256_cvtps_epi32(c), _mm256_cvtps_epi32(d));
    __m256i i8 = _mm256_packs_epi16(i16ab, i16cd);
    return _mm256_permutevar8x32_epi32(i8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}
static void q8_0_from_float_avx2(const float *x, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t i = 0; i < n / QK32; i++, x += QK32) {
        __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8), v2 = _mm256_loadu_ps(x + 16),
               v3 = _mm256_loadu_ps(x + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absmask), _mm256_and_ps(v1, absmask)),
                                 _mm256_max_ps(_mm256_and_ps(v2, absmask), _mm256_and_ps(v3, absmask)));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float amax = _mm_cvtss_f32(h);
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = r1_fp32_to_fp16(d);
        __m256 vid = _mm256_set1_ps(id);
        __m256i q = pack_i8(roundf_ps(_mm256_mul_ps(v0, vid)), roundf_ps(_mm256_mul_ps(v1, vid)),
                            roundf_ps(_mm256_mul_ps(v2, vid)), roundf_ps(_mm256_mul_ps(v3, vid)));
        _mm256_storeu_si256((__m256i *)b[i].qs, q);
    }
}
static void q8_K_from_float_avx2(const float *x, void *dst, int64_t n) {
    block_q8_K *b = dst;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t i = 0; i < n / QK_K; i++, x += QK_K) {
        __m256 m = _mm256_setzero_ps();
        for (int j = 0; j < QK_K; j += 8) m = _mm256_max_ps(m, _mm256_and_ps(_mm256_loadu_ps(x + j), absmask));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_movehdup_ps(h));
        float amax = _mm_cvtss_f32(h);
        if (!amax) { memset(&b[i], 0, sizeof b[i]); continue; }
        float max = 0;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) == amax) { max = x[j]; break; }   /* first, as the reference */
        float iscale = -127.f / max;
        __m256 vs = _mm256_set1_ps(iscale), lim = _mm256_set1_ps(127.f);
        for (int j = 0; j < QK_K; j += 32) {
            __m256 r[4];
            for (int k = 0; k < 4; k++)
                r[k] = _mm256_min_ps(lim, _mm256_round_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(x + j + 8 * k)),
                                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            __m256i q = pack_i8(r[0], r[1], r[2], r[3]);
            _mm256_storeu_si256((__m256i *)(b[i].qs + j), q);
            /* bsums of the two groups of 16 */
            __m256i w = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), q), _mm256_set1_epi16(1));
            __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
            lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4e)); lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xb1));
            hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0x4e)); hi = _mm_add_epi32(hi, _mm_shuffle_epi32(hi, 0xb1));
            b[i].bsums[j / 16] = (int16_t)_mm_cvtsi128_si32(lo);
            b[i].bsums[j / 16 + 1] = (int16_t)_mm_cvtsi128_si32(hi);
        }
        b[i].d = 1 / iscale;
    }
}

/* ---- 32-element block types · Q8_0 / Q8_1 ----------------------------------------- */
/* byte j = 0xFF where bit j of bits is set (32 bytes). */
static inline __m256i bits_to_bytes(uint32_t bits) {
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits),
                                    _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    const __m256i m = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, m), m);
}
static inline uint32_t qh32(const uint8_t qh[4]) {
    uint32_t v;
    memcpy(&v, qh, 4);
    return v;
}
/* One accumulator chain of FMAs (4-cycle latency per block) bounds these kernels in
 * cache, so blocks alternate between two accumulators. step(x, y, acc) adds one block. */
#define TWO_ACC_DOT(name, TX, TY, step)                                                       \
    static void name(int n, float *s, const void *vx, const void *vy) {                      \
        const TX *x = vx;                                                                     \
        const TY *y = vy;                                                                     \
        const int nb = n / QK32;                                                              \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0;                                             \
        int i = 0;                                                                            \
        for (; i + 2 <= nb; i += 2) {                                                         \
            prefetch((const char *)(x + i) + 2048, 1);                                        \
            a0 = step(x + i, y + i, a0);                                                      \
            a1 = step(x + i + 1, y + i + 1, a1);                                              \
        }                                                                                     \
        if (i < nb) a0 = step(x + i, y + i, a0);                                              \
        *s = hsum_ps(_mm256_add_ps(a0, a1));                                                  \
    }
/* lane 0 = v, others 0 (adds a per-block scalar term to a vector accumulator) */
static inline __m256 lane0(float v) { return _mm256_set_m128(_mm_setzero_ps(), _mm_set_ss(v)); }

static inline __m256 q8_0_step(const block_q8_0 *x, const block_q8_0 *y, __m256 acc) {
    __m256i p = dot_i8(_mm256_loadu_si256((const __m256i *)x->qs), _mm256_loadu_si256((const __m256i *)y->qs));
    return _mm256_fmadd_ps(_mm256_set1_ps(h2f(x->d) * h2f(y->d)), _mm256_cvtepi32_ps(p), acc);
}
static inline __m256 q4_0_step(const block_q4_0 *x, const block_q8_0 *y, __m256 acc) {
    __m256i q = _mm256_sub_epi8(load_nibbles32(x->qs), _mm256_set1_epi8(8));
    __m256i p = dot_i8(q, _mm256_loadu_si256((const __m256i *)y->qs));
    return _mm256_fmadd_ps(_mm256_set1_ps(h2f(x->d) * h2f(y->d)), _mm256_cvtepi32_ps(p), acc);
}
static inline __m256 q4_1_step(const block_q4_1 *x, const block_q8_1 *y, __m256 acc) {
    __m256i p = dot_u8i8(load_nibbles32(x->qs), _mm256_loadu_si256((const __m256i *)y->qs));
    acc = _mm256_add_ps(acc, lane0(h2f(x->m) * h2f(y->s)));
    return _mm256_fmadd_ps(_mm256_set1_ps(h2f(x->d) * h2f(y->d)), _mm256_cvtepi32_ps(p), acc);
}
static inline __m256 q5_0_step(const block_q5_0 *x, const block_q8_0 *y, __m256 acc) {
    __m256i hi = _mm256_and_si256(bits_to_bytes(qh32(x->qh)), _mm256_set1_epi8(0x10));
    __m256i q = _mm256_sub_epi8(_mm256_or_si256(load_nibbles32(x->qs), hi), _mm256_set1_epi8(16));
    __m256i p = dot_i8(q, _mm256_loadu_si256((const __m256i *)y->qs));
    return _mm256_fmadd_ps(_mm256_set1_ps(h2f(x->d) * h2f(y->d)), _mm256_cvtepi32_ps(p), acc);
}
static inline __m256 q5_1_step(const block_q5_1 *x, const block_q8_1 *y, __m256 acc) {
    __m256i hi = _mm256_and_si256(bits_to_bytes(qh32(x->qh)), _mm256_set1_epi8(0x10));
    __m256i p = dot_u8i8(_mm256_or_si256(load_nibbles32(x->qs), hi), _mm256_loadu_si256((const __m256i *)y->qs));
    acc = _mm256_add_ps(acc, lane0(h2f(x->m) * h2f(y->s)));
    return _mm256_fmadd_ps(_mm256_set1_ps(h2f(x->d) * h2f(y->d)), _mm256_cvtepi32_ps(p), acc);
}
static inline __m256 iq4_nl_step(const block_iq4_nl *x, const block_q8_0 *y, __m256 acc) {
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)r1_kvalues_iq4nl));
    __m256i q = _mm256_shuffle_epi8(lut, load_nibbles32(x->qs));
    __m256i p = dot_i8(q, _mm256_loadu_si256((const __m256i *)y->qs));
    return _mm256_fmadd_ps(_mm256_set1_ps(h2f(x->d) * h2f(y->d)), _mm256_cvtepi32_ps(p), acc);
}
TWO_ACC_DOT(vec_dot_q8_0_avx2, block_q8_0, block_q8_0, q8_0_step)
TWO_ACC_DOT(vec_dot_q4_0_avx2, block_q4_0, block_q8_0, q4_0_step)
TWO_ACC_DOT(vec_dot_q4_1_avx2, block_q4_1, block_q8_1, q4_1_step)
TWO_ACC_DOT(vec_dot_q5_0_avx2, block_q5_0, block_q8_0, q5_0_step)
TWO_ACC_DOT(vec_dot_q5_1_avx2, block_q5_1, block_q8_1, q5_1_step)
TWO_ACC_DOT(vec_dot_iq4_nl_avx2, block_iq4_nl, block_q8_0, iq4_nl_step)


/* ---- k-quants · Q8_K ------------------------------------------------------------------ */
/* Q4_K: per 64 elements, 32 bytes of nibbles (low = group 2p, high = group 2p+1). */
static void vec_dot_q4_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        uint8_t sc[8], mn[8];
        r1_q4k_scales_mins(x[i].scales, sc, mn);
        __m256i isum = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
            __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
            __m256i plo = dot_u8i8(lo, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p)));
            __m256i phi = dot_u8i8(hi, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p + 32)));
            isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(plo, _mm256_set1_epi32(sc[2 * p])));
            isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(phi, _mm256_set1_epi32(sc[2 * p + 1])));
        }
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        acc += y[i].d * h2f(x[i].d) * hsum_i32(isum) - y[i].d * h2f(x[i].dmin) * summ;
    }
    *s = acc;
}
/* Q6_K: per 128 elements, ql[64] + qh[32] -> 4 vectors of 32 six-bit values (minus 32). */
static void vec_dot_q6_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs, *sc = x[i].scales;
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, q8 += 128, sc += 8) {
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
            for (int k = 0; k < 4; k++) {
                /* (q-32)·y = q·y - 32·sum(y): unsigned q (0..63) with maddubs, bias via 32·y */
                __m256i yv = _mm256_loadu_si256((const __m256i *)(q8 + 32 * k));
                __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], yv),
                                               _mm256_maddubs_epi16(_mm256_set1_epi8(32), yv));
                /* int16 pairs: elements 0..15 -> lanes 0..7 (scale sc[2k]), 16..31 (sc[2k+1]) */
                __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, scv));
            }
        }
        acc += h2f(x[i].d) * y[i].d * hsum_i32(isum);
    }
    *s = acc;
}

/* int16 pair-sums of a 32-byte product (elements 0..15 | 16..31) weighted by two scales. */
static inline __m256i scale2_i16(__m256i p16, int sa, int sb) {
    return _mm256_madd_epi16(p16, _mm256_set_m128i(_mm_set1_epi16((short)sb), _mm_set1_epi16((short)sa)));
}
/* Q2_K: per 128 elements 32 bytes; shift 2k selects groups 2k, 2k+1 (16 each). */
static void vec_dot_q2_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m3 = _mm256_set1_epi8(3);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        __m256i isum = _mm256_setzero_si256();
        const uint8_t *sc = x[i].scales;
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            for (int k = 0; k < 4; k++, sc += 2) {
                __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3);
                __m256i p = _mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)(y[i].qs + 128 * h + 32 * k)));
                isum = _mm256_add_epi32(isum, scale2_i16(p, sc[0] & 0xF, sc[1] & 0xF));
            }
        }
        int summs = 0;
        for (int j = 0; j < 16; j++) summs += y[i].bsums[j] * (x[i].scales[j] >> 4);
        acc += y[i].d * h2f(x[i].d) * hsum_i32(isum) - y[i].d * h2f(x[i].dmin) * summs;
    }
    *s = acc;
}
/* Q3_K: q + 4 = 2 low bits | (hmask bit 4h+k) << 2 is unsigned (0..7), so each pair of
 * groups is one maddubs; the -4 offset is folded in per block as 4 * sum_j sc_j * bsums_j.
 */
static void vec_dot_q3_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        int8_t sc[16];
        r1_q3k_scales(x[i].scales, sc);
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)sc);
        /* bias: sum_j sc_j * bsums_j (int16 x int16 -> int32 pairs) */
        __m256i bs = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), _mm256_loadu_si256((const __m256i *)y[i].bsums));
        __m256i hm = _mm256_loadu_si256((const __m256i *)x[i].hmask);
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * h));
            for (int k = 0; k < 4; k++) {
                int g = 8 * h + 2 * k;                                   /* groups g, g+1 */
                __m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + k)));
                __m256i hi4 = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), four);
                __m256i v = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 2 * k), m3), hi4);
                __m256i p = _mm256_maddubs_epi16(v, _mm256_loadu_si256((const __m256i *)(y[i].qs + 16 * g)));
                __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[g + 1]), _mm_set1_epi16(sc[g]));
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scv));
            }
        }
        acc += h2f(x[i].d) * y[i].d * (hsum_i32(isum) - 4 * hsum_i32(bs));
    }
    *s = acc;
}
/* Q5_K: Q4_K plus qh bit 2p / 2p+1 as the 5th bit. */
static void vec_dot_q5_K_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        uint8_t sc[8], mn[8];
        r1_q4k_scales_mins(x[i].scales, sc, mn);
        __m256i qh = _mm256_loadu_si256((const __m256i *)x[i].qh);
        __m256i isum = _mm256_setzero_si256();
        for (int p = 0; p < 4; p++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
            __m256i blo = _mm256_set1_epi8((char)(1 << (2 * p))), bhi = _mm256_set1_epi8((char)(2 << (2 * p)));
            __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4),
                                         _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, blo), blo), b4));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                                         _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bhi), bhi), b4));
            __m256i plo = dot_u8i8(lo, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p)));
            __m256i phi = dot_u8i8(hi, _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * p + 32)));
            isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(plo, _mm256_set1_epi32(sc[2 * p])));
            isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(phi, _mm256_set1_epi32(sc[2 * p + 1])));
        }
        int summ = 0;
        for (int j = 0; j < 8; j++) summ += mn[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        acc += y[i].d * h2f(x[i].d) * hsum_i32(isum) - y[i].d * h2f(x[i].dmin) * summ;
    }
    *s = acc;
}
static void vec_dot_iq4_xs_avx2(int n, float *s, const void *vx, const void *vy) {
    const block_iq4_xs *x = vx;
    const block_q8_K *y = vy;
    const __m256i lut = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)r1_kvalues_iq4nl));
    float acc = 0;
    for (int i = 0; i < n / QK_K; i++) {
        prefetch(x + i + 8, sizeof *x);
        __m256i isum = _mm256_setzero_si256();
        for (int ib = 0; ib < 8; ib++) {
            int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            __m256i q = _mm256_shuffle_epi8(lut, load_nibbles32(x[i].qs + 16 * ib));
            __m256i p = dot_i8(q, _mm256_loadu_si256((const __m256i *)(y[i].qs + 32 * ib)));
            isum = _mm256_add_epi32(isum, _mm256_mullo_epi32(p, _mm256_set1_epi32(ls - 32)));
        }
        acc += h2f(x[i].d) * y[i].d * hsum_i32(isum);
    }
    *s = acc;
}

/* ---- batched (prefill) kernels: each weight block is decoded once for 4 activation rows */
#define ROW(base, i, stride) ((const void *)((const char *)(base) + (size_t)(i) * (stride)))
static void gemm_q8_0_avx2(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as,
                           float *out, size_t ldo) {
    const int nb = n / QK32;
    for (int r = 0; r < nr; r++) {
        const block_q8_0 *x = ROW(w, r, ws);
        int c = 0;
        for (; c + 4 <= nc; c += 4) {
            const block_q8_0 *y[4];
            __m256 acc[4];
            for (int k = 0; k < 4; k++) { y[k] = ROW(a, c + k, as); acc[k] = _mm256_setzero_ps(); }
            for (int i = 0; i < nb; i++) {
                __m256i xv = _mm256_loadu_si256((const __m256i *)x[i].qs), ax = _mm256_sign_epi8(xv, xv);
                float dx = h2f(x[i].d);
                for (int k = 0; k < 4; k++) {
                    __m256i yv = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[k][i].qs), xv);
                    __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, yv), _mm256_set1_epi16(1));
                    acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dx * h2f(y[k][i].d)), _mm256_cvtepi32_ps(p), acc[k]);
                }
            }
            for (int k = 0; k < 4; k++) out[(size_t)(c + k) * ldo + r] = hsum_ps(acc[k]);
        }
        for (; c < nc; c++) vec_dot_q8_0_avx2(n, &out[(size_t)c * ldo + r], x, ROW(a, c, as));
    }
}
static void gemm_q4_K_avx2(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as,
                           float *out, size_t ldo) {
    const int nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    for (int r = 0; r < nr; r++) {
        const block_q4_K *x = ROW(w, r, ws);
        int c = 0;
        for (; c + 4 <= nc; c += 4) {
            const block_q8_K *y[4];
            float acc[4] = {0, 0, 0, 0};
            for (int k = 0; k < 4; k++) y[k] = ROW(a, c + k, as);
            for (int i = 0; i < nb; i++) {
                uint8_t sc[8], mn[8];
                r1_q4k_scales_mins(x[i].scales, sc, mn);
                __m256i isum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                   _mm256_setzero_si256()};
                for (int p = 0; p < 4; p++) {
                    __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * p));
                    __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                    __m256i slo = _mm256_set1_epi32(sc[2 * p]), shi = _mm256_set1_epi32(sc[2 * p + 1]);
                    for (int k = 0; k < 4; k++) {
                        __m256i plo = dot_u8i8(lo, _mm256_loadu_si256((const __m256i *)(y[k][i].qs + 64 * p)));
                        __m256i phi = dot_u8i8(hi, _mm256_loadu_si256((const __m256i *)(y[k][i].qs + 64 * p + 32)));
                        isum[k] = _mm256_add_epi32(isum[k], _mm256_add_epi32(_mm256_mullo_epi32(plo, slo),
                                                                             _mm256_mullo_epi32(phi, shi)));
                    }
                }
                float d = h2f(x[i].d), dmin = h2f(x[i].dmin);
                for (int k = 0; k < 4; k++) {
                    int summ = 0;
                    for (int j = 0; j < 8; j++) summ += mn[j] * (y[k][i].bsums[2 * j] + y[k][i].bsums[2 * j + 1]);
                    acc[k] += y[k][i].d * d * hsum_i32(isum[k]) - y[k][i].d * dmin * summ;
                }
            }
            for (int k = 0; k < 4; k++) out[(size_t)(c + k) * ldo + r] = acc[k];
        }
        for (; c < nc; c++) vec_dot_q4_K_avx2(n, &out[(size_t)c * ldo + r], x, ROW(a, c, as));
    }
}

/* Q6_K: the 6-bit values of each 128-element half are rebuilt once for 4 activation rows;
 * unsigned q (0..63) with maddubs, the -32 offset folded in via bsums per row. */
static void gemm_q6_K_avx2(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as,
                           float *out, size_t ldo) {
    const int nb = n / QK_K;
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3);
    for (int r = 0; r < nr; r++) {
        const block_q6_K *x = ROW(w, r, ws);
        int c = 0;
        for (; c + 4 <= nc; c += 4) {
            const block_q8_K *y[4];
            float acc[4] = {0, 0, 0, 0};
            for (int k = 0; k < 4; k++) y[k] = ROW(a, c + k, as);
            for (int i = 0; i < nb; i++) {
                const int8_t *sc = x[i].scales;
                __m256i isum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                                   _mm256_setzero_si256()};
                for (int h = 0; h < 2; h++) {
                    const uint8_t *ql = x[i].ql + 64 * h, *qh = x[i].qh + 32 * h;
                    __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
                    __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
                    __m256i q[4];
                    q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, m2), 4));
                    q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2), m2), 4));
                    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 4), m2), 4));
                    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 6), m2), 4));
                    for (int g = 0; g < 4; g++) {
                        __m256i scv = _mm256_set_m128i(_mm_set1_epi16(sc[8 * h + 2 * g + 1]), _mm_set1_epi16(sc[8 * h + 2 * g]));
                        for (int k = 0; k < 4; k++) {
                            __m256i yv = _mm256_loadu_si256((const __m256i *)(y[k][i].qs + 128 * h + 32 * g));
                            isum[k] = _mm256_add_epi32(isum[k], _mm256_madd_epi16(_mm256_maddubs_epi16(q[g], yv), scv));
                        }
                    }
                }
                float d = h2f(x[i].d);
                for (int k = 0; k < 4; k++) {
                    int bias = 0;
                    for (int j = 0; j < 16; j++) bias += sc[j] * y[k][i].bsums[j];
                    acc[k] += d * y[k][i].d * (hsum_i32(isum[k]) - 32 * bias);
                }
            }
            for (int k = 0; k < 4; k++) out[(size_t)(c + k) * ldo + r] = acc[k];
        }
        for (; c < nc; c++) vec_dot_q6_K_avx2(n, &out[(size_t)c * ldo + r], x, ROW(a, c, as));
    }
}

/* F32/F16/BF16 weights: each 8-element chunk is loaded/converted once for 4 activation rows. */
#define HALF_GEMM(name, T, load, vdot)                                                        \
    static void name(int n, int nr, int nc, const void *w, size_t ws, const void *a, size_t as,  \
                     float *out, size_t ldo) {                                                 \
        for (int r = 0; r < nr; r++) {                                                         \
            const T *x = ROW(w, r, ws);                                                        \
            int c = 0;                                                                         \
            for (; c + 4 <= nc && n % 8 == 0; c += 4) {                                        \
                const float *y0 = ROW(a, c, as), *y1 = ROW(a, c + 1, as), *y2 = ROW(a, c + 2, as), \
                            *y3 = ROW(a, c + 3, as);                                           \
                __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;                    \
                for (int i = 0; i < n; i += 8) {                                               \
                    __m256 xv = load(x + i);                                                   \
                    s0 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(y0 + i), s0);                     \
                    s1 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(y1 + i), s1);                     \
                    s2 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(y2 + i), s2);                     \
                    s3 = _mm256_fmadd_ps(xv, _mm256_loadu_ps(y3 + i), s3);                     \
                }                                                                              \
                out[(size_t)c * ldo + r] = hsum_ps(s0);                                        \
                out[(size_t)(c + 1) * ldo + r] = hsum_ps(s1);                                  \
                out[(size_t)(c + 2) * ldo + r] = hsum_ps(s2);                                  \
                out[(size_t)(c + 3) * ldo + r] = hsum_ps(s3);                                  \
            }                                                                                  \
            for (; c < nc; c++) vdot(n, &out[(size_t)c * ldo + r], x, ROW(a, c, as));          \
        }                                                                                      \
    }
HALF_GEMM(gemm_f32_avx2, float, _mm256_loadu_ps, vec_dot_f32_avx2)
HALF_GEMM(gemm_f16_avx2, uint16_t, load_f16x8, vec_dot_f16_avx2)
HALF_GEMM(gemm_bf16_avx2, uint16_t, load_bf16x8, vec_dot_bf16_avx2)

void r1_quant_install_avx2(r1_type_traits *t) {
    t[R1_TYPE_F32].vec_dot = vec_dot_f32_avx2;
    t[R1_TYPE_F16].vec_dot = vec_dot_f16_avx2;
    t[R1_TYPE_BF16].vec_dot = vec_dot_bf16_avx2;
    t[R1_TYPE_F16].to_float = f16_to_float_avx2;
    t[R1_TYPE_F16].from_float = f16_from_float_avx2;
    t[R1_TYPE_BF16].to_float = bf16_to_float_avx2;
    t[R1_TYPE_BF16].from_float = bf16_from_float_avx2;
    t[R1_TYPE_Q8_0].from_float = q8_0_from_float_avx2;
    t[R1_TYPE_Q8_K].from_float = q8_K_from_float_avx2;
    t[R1_TYPE_Q8_0].vec_dot = vec_dot_q8_0_avx2;
    t[R1_TYPE_Q4_0].vec_dot = vec_dot_q4_0_avx2;
    t[R1_TYPE_Q4_1].vec_dot = vec_dot_q4_1_avx2;
    t[R1_TYPE_IQ4_NL].vec_dot = vec_dot_iq4_nl_avx2;
    t[R1_TYPE_Q4_K].vec_dot = vec_dot_q4_K_avx2;
    t[R1_TYPE_Q6_K].vec_dot = vec_dot_q6_K_avx2;
    t[R1_TYPE_Q5_0].vec_dot = vec_dot_q5_0_avx2;
    t[R1_TYPE_Q5_1].vec_dot = vec_dot_q5_1_avx2;
    t[R1_TYPE_Q2_K].vec_dot = vec_dot_q2_K_avx2;
    t[R1_TYPE_Q3_K].vec_dot = vec_dot_q3_K_avx2;
    t[R1_TYPE_Q5_K].vec_dot = vec_dot_q5_K_avx2;
    t[R1_TYPE_IQ4_XS].vec_dot = vec_dot_iq4_xs_avx2;
    t[R1_TYPE_Q8_0].gemm = gemm_q8_0_avx2;
    t[R1_TYPE_Q4_K].gemm = gemm_q4_K_avx2;
    t[R1_TYPE_Q6_K].gemm = gemm_q6_K_avx2;
    t[R1_TYPE_F32].gemm = gemm_f32_avx2;
    t[R1_TYPE_F16].gemm = gemm_f16_avx2;
    t[R1_TYPE_BF16].gemm = gemm_bf16_avx2;
}
