/*
 * test_act.c — act.h's softmax and silu(g)·u: every kernel set (scalar reference and the
 * AVX-512 one where the CPU runs it) against a double-precision evaluation, at lengths
 * 1..70 and 1000 (16-lane tails), over the argument range that occurs (scores down to
 * −100 below the max, gates ±30) and the special values (±inf, NaN, huge gates);
 * outputs that should be written are poisoned with NaN first where the input allows.
 */
#include "act.h"
#include "test.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static float frand(float a) {
    g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17;
    return a * (2.0f * (float)((g_rng >> 40) / 16777216.0) - 1.0f);
}

static void check_softmax(const r1_act_fns *k, const char *name) {
    static const int lens[] = {1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 47, 64, 70, 1000};
    float x[1000], in[1000];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int n = lens[li];
        for (int rep = 0; rep < 4; rep++) {
            const float spread = rep == 0 ? 1.0f : rep == 1 ? 10.0f : rep == 2 ? 50.0f : 100.0f;
            for (int i = 0; i < n; i++) in[i] = x[i] = frand(spread) + 3.0f;
            k->softmax(x, n);
            double mx = in[0], sum = 0;
            for (int i = 1; i < n; i++) mx = fmax(mx, in[i]);
            for (int i = 0; i < n; i++) sum += exp((double)in[i] - mx);
            double worst = 0, tot = 0;
            for (int i = 0; i < n; i++) {
                const double ref = exp((double)in[i] - mx) / sum;
                tot += x[i];
                /* relative error over what the float argument x - max allows: its rounding
                 * (|x - max| * 2^-24) plus a few ulp; tiny probabilities by absolute error */
                const double allow = 5e-7 + fabs((double)in[i] - mx) * 6e-8;
                const double e = (ref > 1e-30 ? fabs(x[i] - ref) / ref : fabs(x[i] - ref) * 1e30) / allow;
                if (!(e <= worst)) worst = e;
            }
            CHECK(worst <= 1.0, "%s softmax n %d spread %g: error %g x allowed", name, n, (double)spread, worst);
            CHECK(fabs(tot - 1.0) <= 1e-5, "%s softmax n %d: sum %g", name, n, tot);
        }
    }
    /* -inf scores get probability 0; a NaN score makes the row NaN, as expf would */
    float y[20];
    for (int i = 0; i < 20; i++) y[i] = i == 5 ? 1.0f : -INFINITY;
    k->softmax(y, 20);
    for (int i = 0; i < 20; i++) CHECK(y[i] == (i == 5 ? 1.0f : 0.0f), "%s -inf lane %d: %g", name, i, (double)y[i]);
    for (int i = 0; i < 20; i++) y[i] = (float)i;
    y[17] = NAN;
    k->softmax(y, 20);
    int nans = 0;
    for (int i = 0; i < 20; i++) nans += isnan(y[i]) != 0;
    CHECK(nans >= 1, "%s: a NaN score must not vanish", name);
}

static void check_silu_mul(const r1_act_fns *k, const char *name) {
    static const int lens[] = {0, 1, 5, 16, 17, 33, 70, 1000};
    float g[1000], u[1000], in[1000];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int n = lens[li];
        for (int i = 0; i < n; i++) { in[i] = g[i] = frand(30.0f); u[i] = frand(2.0f); }
        g[n < 1000 ? n : 999] = n < 1000 ? NAN : g[999];   /* past the end: must stay untouched */
        k->silu_mul(g, u, n);
        double worst = 0;
        for (int i = 0; i < n; i++) {
            const double ref = (double)in[i] / (1.0 + exp(-(double)in[i])) * u[i];
            const double e = fabs(g[i] - ref) / (fabs(ref) + 1e-30);
            if (!(e <= worst)) worst = e;
        }
        CHECK(worst <= 2e-6, "%s silu_mul n %d: rel err %g", name, n, worst);
        if (n < 1000) CHECK(isnan(g[n]), "%s silu_mul n %d wrote past the end", name, n);
    }
    float gs[6] = {INFINITY, -INFINITY, NAN, 200.0f, -200.0f, 0.0f}, us[6] = {1, 1, 1, 1, 1, 1};
    k->silu_mul(gs, us, 6);
    /* -inf: -inf / (1 + inf) is NaN in the formula (both kernels) */
    CHECK(gs[0] == INFINITY && isnan(gs[1]) && isnan(gs[2]) && gs[3] == 200.0f && gs[4] == 0.0f && gs[5] == 0.0f,
          "%s specials: %g %g %g %g %g %g", name, (double)gs[0], (double)gs[1], (double)gs[2], (double)gs[3],
          (double)gs[4], (double)gs[5]);
}

static void test_kernels(void) {
    const r1_isa isas[2] = {R1_ISA_SCALAR, R1_ISA_AVX512};
    int tested_simd = 0;
    for (int i = 0; i < 2; i++) {
        const r1_act_fns *k = r1_act_kernels(isas[i]);
        if (i == 1 && k == r1_act_kernels(R1_ISA_SCALAR)) break;
        tested_simd |= i == 1;
        check_softmax(k, r1_isa_name(isas[i]));
        check_silu_mul(k, r1_isa_name(isas[i]));
    }
    if (!tested_simd) printf("  (no AVX-512 here: only the scalar reference tested)\n");
}

int main(void) {
    RUN(test_kernels);
    return TEST_SUMMARY();
}
