/*
 * tgemm.h — the trainer's float32 matrix product (forward and both backward matmuls):
 *
 *   C[M][N] (=|+=) A[M][K] · B[K][N]        all row-major, leading dimensions lda/ldb/ldc
 *
 * Every output element is accumulated in k order, one fused multiply-add per term,
 * starting from C (accum) or +0: c = fmaf(A[m][k], B[k][n], c) for k = 0..K-1. The SIMD
 * kernels vectorise over n only, so they are BIT-IDENTICAL to the scalar reference on
 * every CPU — which keeps `make train` reproducible across ISAs (and lets the unit test
 * demand exact equality).
 *
 * tg_gemm picks the kernel once per call from r1_isa_active() (so R1_ISA=scalar forces
 * the reference); no global state.
 */
#ifndef R1_TRAIN_TGEMM_H
#define R1_TRAIN_TGEMM_H

typedef void (*tg_gemm_fn)(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                           float *C, int ldc, int accum);

/* Scalar reference (plain C, fmaf). */
void tg_gemm_ref(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                 float *C, int ldc, int accum);
/* The best kernel for this CPU (respecting R1_ISA). */
void tg_gemm(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
             float *C, int ldc, int accum);
/* The AVX-512 kernel, or NULL when the build or the CPU lacks it (for tests/benchmarks). */
tg_gemm_fn tg_gemm_avx512_fn(void);
/* dst[c][r] = src[r][c] for a rows × cols matrix (src leading dim cols, dst rows). */
void tg_transpose(float *dst, const float *src, int rows, int cols);

#if defined(__x86_64__) || defined(_M_X64)
void tg_gemm_avx512(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                    float *C, int ldc, int accum);
#endif
#endif
