/*
 * act.h — elementwise kernels of the forward pass: softmax, SwiGLU's silu(g)·u, RMSNorm
 * and the residual add (internal).
 *
 *   r1_softmax(x, n):      x[i] = e^(x[i] - max) / Σ_j e^(x[j] - max)   (n >= 1; the sum is
 *                          accumulated in double)
 *   r1_silu_mul(g, u, n):  g[i] = g[i] / (1 + e^(-g[i])) · u[i]          (n >= 0)
 *   r1_rmsnorm(out, x, w, n, eps): s = 1 / sqrt(Σ x[i]² / n + eps) (the sum in double in the
 *                          reference, in float over 64 lanes in the AVX-512 variant: within
 *                          float rounding of each other), out[i] = (x[i] · s) · w[i], or
 *                          x[i] · s when w is NULL (n >= 1; out may be x)
 *   r1_add(out, a, b, n):  out[i] = a[i] + b[i]   (exact; out may be a or b; n >= 0)
 *
 * Each has a scalar reference (libm expf) and an AVX-512 variant (simd/act_avx512.c: e^x
 * as 2^n · p(f) with a Cody–Waite reduction and a degree-7 polynomial, ≤ 2 ulp from expf
 * for the arguments that occur; ±inf, NaN and underflow to 0 behave as expf's).
 * r1_softmax / r1_silu_mul / r1_rmsnorm / r1_add use the kernels of r1_isa_active()
 * (R1_ISA=scalar: the reference); r1_act_kernels(isa) gives a specific set (tests; it asks
 * the CPU with cpuid, so it is not for hot paths).
 */
#ifndef R1_ACT_H
#define R1_ACT_H

#include "quant.h"

typedef struct r1_act_fns {
    void (*softmax)(float *x, int n);
    void (*silu_mul)(float *g, const float *u, int n);
    void (*rmsnorm)(float *out, const float *x, const float *w, int n, float eps);
    void (*add)(float *out, const float *a, const float *b, int n);
} r1_act_fns;

void r1_softmax_ref(float *x, int n);
void r1_silu_mul_ref(float *g, const float *u, int n);
void r1_rmsnorm_ref(float *out, const float *x, const float *w, int n, float eps);
void r1_add_ref(float *out, const float *a, const float *b, int n);

/* The kernels for isa (the reference where the build or CPU lacks that variant). */
const r1_act_fns *r1_act_kernels(r1_isa isa);

void r1_softmax(float *x, int n);
void r1_silu_mul(float *g, const float *u, int n);
void r1_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
void r1_add(float *out, const float *a, const float *b, int n);

#if defined(__x86_64__)
void r1_softmax_avx512(float *x, int n);
void r1_silu_mul_avx512(float *g, const float *u, int n);
void r1_rmsnorm_avx512(float *out, const float *x, const float *w, int n, float eps);
void r1_add_avx512(float *out, const float *a, const float *b, int n);
#endif

#endif
