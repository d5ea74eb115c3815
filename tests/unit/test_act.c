/*
 * test_act.c — act.h's softmax, silu(g)·u, RMSNorm and add: every kernel set (scalar
 * reference and the AVX-512 one where the CPU runs it) against a double-precision
 * evaluation (add: exactly), at lengths 1..70, 1000 and more (16-lane tails), over the
 * argument range that occurs (scores down to −100 below the max, gates ±30) and the
 * special values (±inf, NaN, huge gates); outputs that should be written are poisoned with
 * NaN first where the input allows, and the lane past the end must stay untouched.
 */
#include "act.h"
#include "test.h"
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* RMSNorm against a double evaluation: the scale within float rounding of the exact one
 * (the sum-of-squares order may differ: 2e-6 relative allows for it), each product as
 * (x·s)·w; in place (out == x) and w == NULL; lanes past n stay NaN. */
static void check_rmsnorm(const r1_act_fns *k, const char *name) {
    static const int lens[] = {1, 2, 15, 16, 17, 31, 63, 64, 65, 70, 128, 1000, 1536, 4096};
    static float x[4097], w[4097], out[4097];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int n = lens[li];
        for (int variant = 0; variant < 4; variant++) {
            const float spread = variant == 3 ? 1e-3f : variant == 2 ? 300.0f : 1.0f;
            for (int i = 0; i < n; i++) { x[i] = frand(spread) + (variant == 1 ? 5.0f : 0.0f); w[i] = frand(2.0f); }
            double ss = 0;
            for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
            const float eps = 1e-6f;
            const double s = 1.0 / sqrt(ss / n + eps);
            const bool in_place = variant % 2 == 1, no_w = variant == 2;
            float *dst = in_place ? x : out;
            float keep[4097];
            memcpy(keep, x, sizeof(float) * (size_t)n);
            for (int i = 0; i <= n; i++) out[i] = NAN;
            x[n] = NAN;
            k->rmsnorm(dst, x, no_w ? NULL : w, n, eps);
            double worst = 0;
            for (int i = 0; i < n; i++) {
                const double ref = (double)keep[i] * s * (no_w ? 1.0 : (double)w[i]);
                const double e = fabs(dst[i] - ref) / (fabs(ref) + 1e-30);
                if (!(e <= worst)) worst = e;
            }
            CHECK(worst <= 2e-6, "%s rmsnorm n %d variant %d: rel err %g", name, n, variant, worst);
            CHECK(isnan(dst[n]), "%s rmsnorm n %d variant %d wrote past the end", name, n, variant);
        }
    }
}

/* add: exact (a + b rounded once), in place on either operand, nothing past n */
static void check_add(const r1_act_fns *k, const char *name) {
    static const int lens[] = {0, 1, 15, 16, 17, 31, 32, 33, 70, 1000, 1536};
    static float a[1537], b[1537], out[1537], a0[1537];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int n = lens[li];
        for (int variant = 0; variant < 3; variant++) {
            for (int i = 0; i < n; i++) { a0[i] = a[i] = frand(100.0f); b[i] = frand(1e-3f); }
            if (n > 3) { a[1] = a0[1] = INFINITY; b[2] = -INFINITY; a[3] = a0[3] = NAN; }
            float *dst = variant == 0 ? out : variant == 1 ? a : b;
            float bsave[1537];
            memcpy(bsave, b, sizeof(float) * (size_t)n);
            out[n] = a[n] = b[n] = NAN;
            k->add(dst, a, b, n);
            int bad = 0;
            for (int i = 0; i < n; i++) {
                const float want = a0[i] + bsave[i];
                bad += !(dst[i] == want || (isnan(dst[i]) && isnan(want)));
            }
            CHECK(bad == 0, "%s add n %d variant %d: %d lanes differ", name, n, variant, bad);
            CHECK(isnan(dst[n]), "%s add n %d variant %d wrote past the end", name, n, variant);
        }
    }
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
        check_rmsnorm(k, r1_isa_name(isas[i]));
        check_add(k, r1_isa_name(isas[i]));
    }
    if (!tested_simd) printf("  (no AVX-512 here: only the scalar reference tested)\n");
}

int main(void) {
    RUN(test_kernels);
    return TEST_SUMMARY();
}
