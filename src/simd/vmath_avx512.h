/* vmath_avx512.h — vector math shared by the AVX-512 kernel files (src/simd/ *_avx512.c only:
 * needs the AVX-512 target flags the Makefile gives those files).
 *   tail_mask(left): the first min(left, 16) lanes.
 *   exp2_ps(x): 2^x (attention's softmax works in base 2).
 *   exp_ps(x):  e^x with a Cody–Waite reduction by ln 2 (exact for the softmax and SiLU
 *               arguments act.h sees; ≤ 2 ulp from expf).
 * Both saturate through VSCALEFPS: large arguments give +inf, very negative ones 0; NaN stays. */
#ifndef R1_SIMD_VMATH_AVX512_H
#define R1_SIMD_VMATH_AVX512_H

#include <immintrin.h>

#define AI static inline __attribute__((always_inline))

AI __mmask16 tail_mask(int left) { return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1u); }

/* 2^x for x <= ~128; x below -200 (and -inf) gives 0. Degree-7 Taylor polynomial of
 * 2^f on [-0.5, 0.5] (relative error < 1e-8 before rounding), then scalef by round(x). */
AI __m512 exp2_ps(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-200.0f));
    const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(x, n);
    __m512 p = _mm512_set1_ps(1.525273380405984e-05f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.5403530393381608e-04f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.3333558146428443e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618129107628477e-03f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550410866482158e-02f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402265069591007e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931471805599453e-01f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* e^x = 2^k · e^f, k = round(x·log2 e), f = x − k·ln 2 in two steps (ln 2 = ln2_hi + ln2_lo,
 * ln2_hi exact in 9 bits so k·ln2_hi is exact), |f| <= ln2/2; e^f by its Taylor polynomial to
 * degree 7 (truncation < 3e-9 relative). */
AI __m512 exp_ps(__m512 x) {
    const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
    const __m512 ln2_hi = _mm512_set1_ps(0.693359375f), ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
    /* clamp so k stays small (VSCALEFPS then gives 0 / inf as expf does) */
    /* (constant first: MINPS/MAXPS return the second operand when one is NaN, so NaN stays) */
    x = _mm512_max_ps(_mm512_set1_ps(-110.0f), _mm512_min_ps(_mm512_set1_ps(100.0f), x));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_fnmadd_ps(k, ln2_hi, x);
    f = _mm512_fnmadd_ps(k, ln2_lo, f);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, k);
}

#endif
