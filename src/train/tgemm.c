/*
 * tgemm.c — scalar reference of the trainer's GEMM and the ISA dispatch (see tgemm.h).
 */
#include "train/tgemm.h"
#include "quant.h"
#include <math.h>
#include <stddef.h>

void tg_gemm_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                 float *C, int ldc, int accum) {
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float c = accum ? C[(size_t)m * ldc + n] : 0.0f;
            for (int k = 0; k < K; k++) c = fmaf(A[(size_t)m * lda + k], B[(size_t)k * ldb + n], c);
            C[(size_t)m * ldc + n] = c;
        }
}

tg_gemm_fn tg_gemm_avx512_fn(void) {
#if defined(__x86_64__) || defined(_M_X64)
    if (r1_type_get_traits_isa(R1_TYPE_F32, R1_ISA_AVX512)) return tg_gemm_avx512;
#endif
    return NULL;
}

void tg_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float *C, int ldc, int accum) {
    if (M <= 0 || N <= 0) return;
#if defined(__x86_64__) || defined(_M_X64)
    if (r1_isa_active() == R1_ISA_AVX512) { tg_gemm_avx512(M, N, K, A, lda, B, ldb, C, ldc, accum); return; }
#endif
    tg_gemm_ref(M, N, K, A, lda, B, ldb, C, ldc, accum);
}

void tg_transpose(float *dst, const float *src, int rows, int cols) {
    enum { BS = 16 };
    for (int r0 = 0; r0 < rows; r0 += BS)
        for (int c0 = 0; c0 < cols; c0 += BS)
            for (int r = r0; r < rows && r < r0 + BS; r++)
                for (int c = c0; c < cols && c < c0 + BS; c++) dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
}
