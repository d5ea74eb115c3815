/*
 * train_f32_avx512.c — AVX-512 kernel of the trainer's GEMM (src/train/tgemm.h):
 * C[M][N] (=|+=) A[M][K]·B[K][N], register tiles of up to 6 rows × 32 columns (12 zmm
 * accumulators), columns masked at the edge. Each element is accumulated in k order with
 * one FMA per term, exactly like tg_gemm_ref, so the results are bit-identical to it.
 * Only called after r1_isa_active() reported AVX-512.
 */
#include "train/tgemm.h"
#include <immintrin.h>
#include <stddef.h>

#define MR_MAX 6

static inline __attribute__((always_inline)) void tile(const int MR, int K, const float *A, int lda,
                                                       const float *B, int ldb, float *C, int ldc,
                                                       __mmask16 k0, __mmask16 k1, int accum) {
    __m512 c0[MR_MAX], c1[MR_MAX];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        if (accum) {
            c0[i] = _mm512_maskz_loadu_ps(k0, C + (size_t)i * ldc);
            c1[i] = _mm512_maskz_loadu_ps(k1, C + (size_t)i * ldc + 16);
        } else {
            c0[i] = _mm512_setzero_ps();
            c1[i] = _mm512_setzero_ps();
        }
    }
    for (int k = 0; k < K; k++) {
        const float *b = B + (size_t)k * ldb;
        __m512 b0 = _mm512_maskz_loadu_ps(k0, b), b1 = _mm512_maskz_loadu_ps(k1, b + 16);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            __m512 a = _mm512_set1_ps(A[(size_t)i * lda + k]);
            c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
        _mm512_mask_storeu_ps(C + (size_t)i * ldc, k0, c0[i]);
        _mm512_mask_storeu_ps(C + (size_t)i * ldc + 16, k1, c1[i]);
    }
}

/* Half-width tile (≤ 16 columns) for the column edge. */
static inline __attribute__((always_inline)) void tile16(const int MR, int K, const float *A, int lda,
                                                         const float *B, int ldb, float *C, int ldc,
                                                         __mmask16 k0, int accum) {
    __m512 c0[MR_MAX];
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) c0[i] = accum ? _mm512_maskz_loadu_ps(k0, C + (size_t)i * ldc) : _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m512 b0 = _mm512_maskz_loadu_ps(k0, B + (size_t)k * ldb);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) c0[i] = _mm512_fmadd_ps(_mm512_set1_ps(A[(size_t)i * lda + k]), b0, c0[i]);
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) _mm512_mask_storeu_ps(C + (size_t)i * ldc, k0, c0[i]);
}

#define DISPATCH(fn, mr, ...)                            \
    switch (mr) {                                        \
    case 6: fn(6, __VA_ARGS__); break;                   \
    case 5: fn(5, __VA_ARGS__); break;                   \
    case 4: fn(4, __VA_ARGS__); break;                   \
    case 3: fn(3, __VA_ARGS__); break;                   \
    case 2: fn(2, __VA_ARGS__); break;                   \
    default: fn(1, __VA_ARGS__); break;                  \
    }

void tg_gemm_avx512(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                    float *C, int ldc, int accum) {
    for (int n0 = 0; n0 < N; n0 += 32) {
        int nr = N - n0 < 32 ? N - n0 : 32;
        for (int m0 = 0; m0 < M; m0 += MR_MAX) {
            int mr = M - m0 < MR_MAX ? M - m0 : MR_MAX;
            const float *a = A + (size_t)m0 * lda;
            float *c = C + (size_t)m0 * ldc + n0;
            if (nr > 16) {
                __mmask16 k1 = nr == 32 ? (__mmask16)0xFFFF : (__mmask16)((1u << (nr - 16)) - 1);
                DISPATCH(tile, mr, K, a, lda, B + n0, ldb, c, ldc, (__mmask16)0xFFFF, k1, accum);
            } else {
                __mmask16 k0 = nr == 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << nr) - 1);
                DISPATCH(tile16, mr, K, a, lda, B + n0, ldb, c, ldc, k0, accum);
            }
        }
    }
}
