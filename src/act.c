/*
 * act.c — scalar references and dispatch of act.h's elementwise kernels.
 */
#include "act.h"
#include "quant_impl.h"
#include <math.h>

void r1_softmax_ref(float *x, int n) {
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = fmaxf(mx, x[i]);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (x[i] = expf(x[i] - mx));
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void r1_silu_mul_ref(float *g, const float *u, int n) {
    for (int i = 0; i < n; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void r1_rmsnorm_ref(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    const float s = (float)(1.0 / sqrt(ss / n + eps));
    if (w) for (int i = 0; i < n; i++) out[i] = x[i] * s * w[i];
    else   for (int i = 0; i < n; i++) out[i] = x[i] * s;
}

void r1_add_ref(float *out, const float *a, const float *b, int n) {
    for (int i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static const r1_act_fns k_ref = {r1_softmax_ref, r1_silu_mul_ref, r1_rmsnorm_ref, r1_add_ref};
#if defined(__x86_64__)
static const r1_act_fns k_avx512 = {r1_softmax_avx512, r1_silu_mul_avx512, r1_rmsnorm_avx512, r1_add_avx512};
#endif

const r1_act_fns *r1_act_kernels(r1_isa isa) {
#if defined(__x86_64__)
    if (isa == R1_ISA_AVX512 && r1_cpu_best_isa() == R1_ISA_AVX512) return &k_avx512;
#endif
    (void)isa;
    return &k_ref;
}

/* r1_isa_active() is cached and never above what the CPU runs (r1_cpu_best_isa runs cpuid:
 * too slow per call) */
static const r1_act_fns *active(void) {
#if defined(__x86_64__)
    if (r1_isa_active() == R1_ISA_AVX512) return &k_avx512;
#endif
    return &k_ref;
}

void r1_softmax(float *x, int n) { active()->softmax(x, n); }
void r1_silu_mul(float *g, const float *u, int n) { active()->silu_mul(g, u, n); }
void r1_rmsnorm(float *out, const float *x, const float *w, int n, float eps) { active()->rmsnorm(out, x, w, n, eps); }
void r1_add(float *out, const float *a, const float *b, int n) { active()->add(out, a, b, n); }
