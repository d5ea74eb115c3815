/*
 * test_gemm_kq.c — the AMX k-quant GEMM kernels (src/simd/gemm_kq_amx.c) on the call
 * shapes their fast paths depend on, against the scalar vec_dot reference per (weight row,
 * activation row) pair, outputs poisoned with NaN before every call (cells outside the
 * written ones must stay NaN). test_gemm.c covers the awkward small shapes; this file adds:
 *   - token counts across the kernels' 16-token tiles and 256-token passes (16, 32, 48,
 *     127, 128, 129, 144, 257: full tiles only, full tiles + a tail, odd tile counts, two passes) and
 *     weight rows 7, 16, 32, 48, with 1, 2, 8, 9, 16 and 35 super-blocks (K chunks of 8:
 *     one item, odd item counts, several chunks, the 1.5B model's 8960 columns);
 *   - extreme blocks: every weight byte 0x00, 0xFF, 0x80, 0x7F or 0xAA (largest quants,
 *     scales and mins at once) with finite d / dmin, against activations that quantize to
 *     all -128, all +127 or alternating signs — where an int8 plane or an int32 sum of a
 *     kernel that folds scales into the weights would overflow.
 * Tolerance: float rounding only, |got - ref| <= 2e-6 * M + 1e-6, M = sum over elements of
 * |activation| x (|scale part| + |min part|) of the dequantized weight.
 * Without AMX the file prints that the kernels were NOT exercised (and checks nothing).
 */
#include "quant.h"
#include "quant_impl.h"
#include "test.h"
#include <stdint.h>
#include <stdlib.h>

#define T_RNG_SEED 0x243f6a8885a308d3ull
#include "test_rand.h"

static const r1_type kq_types[] = {R1_TYPE_Q4_K, R1_TYPE_Q6_K, R1_TYPE_Q5_K, R1_TYPE_IQ4_XS, R1_TYPE_Q2_K, R1_TYPE_Q3_K};

static bool has_min(r1_type t) { return t == R1_TYPE_Q4_K || t == R1_TYPE_Q5_K || t == R1_TYPE_Q2_K; }

/* byte offsets of d (and dmin) in a block */
static size_t d_off(r1_type t) {
    switch (t) {
    case R1_TYPE_Q6_K: return offsetof(block_q6_K, d);
    case R1_TYPE_Q2_K: return offsetof(block_q2_K, d);
    case R1_TYPE_Q3_K: return offsetof(block_q3_K, d);
    default: return 0;
    }
}
static size_t dmin_off(r1_type t) { return t == R1_TYPE_Q2_K ? offsetof(block_q2_K, dmin) : 2; }

/* one weight row of nsb super-blocks: random bytes (pattern < 0) or every byte `pattern`,
 * then finite random d (and dmin) */
static void fill_w(r1_type t, char *row, int nsb, int pattern) {
    const size_t bs = r1_type_get_traits_isa(t, R1_ISA_SCALAR)->type_size;
    for (size_t k = 0; k < bs * (size_t)nsb; k++) ((uint8_t *)row)[k] = (uint8_t)(pattern < 0 ? (int)rnd() : pattern);
    for (int i = 0; i < nsb; i++) {
        uint16_t h = rnd_half();
        memcpy(row + bs * i + d_off(t), &h, 2);
        if (has_min(t)) { h = rnd_half(); memcpy(row + bs * i + dmin_off(t), &h, 2); }
    }
}

/* a Q8_K activation row: kind 0 random floats, 1 all positive (qs -128: Q8_K scales by
 * -128 / max), 2 all negative (qs +127), 3 alternating +-1 */
static void fill_a(char *row, int n, int kind) {
    float *x = malloc(sizeof(float) * n);
    if (!x) return;
    for (int k = 0; k < n; k++)
        x[k] = kind == 0 ? ((float)(rnd() % 20001) - 10000.0f) / 1000.0f * (float)(1 + k % 7)
             : kind == 1 ? 1.0f : kind == 2 ? -1.0f : (k & 1 ? 1.0f : -1.0f);
    r1_type_get_traits_isa(R1_TYPE_Q8_K, R1_ISA_SCALAR)->from_float(x, row, n);
    free(x);
}

/* |scale part| + |min part| of the dequantized row (to_float with dmin zeroed, with d zeroed) */
static void weight_mag(r1_type t, const char *w, int nsb, float *wm) {
    const r1_type_traits *tr = r1_type_get_traits_isa(t, R1_ISA_SCALAR);
    for (int i = 0; i < nsb; i++) {
        char blk[sizeof(block_q6_K)];
        float xs[QK_K], xm[QK_K];
        memcpy(blk, w + tr->type_size * i, tr->type_size);
        if (has_min(t)) memset(blk + dmin_off(t), 0, 2);
        tr->to_float(blk, xs, QK_K);
        for (int k = 0; k < QK_K; k++) xm[k] = 0;
        if (has_min(t)) {
            memcpy(blk, w + tr->type_size * i, tr->type_size);
            memset(blk + d_off(t), 0, 2);
            tr->to_float(blk, xm, QK_K);
        }
        for (int k = 0; k < QK_K; k++) wm[i * QK_K + k] = fabsf(xs[k]) + fabsf(xm[k]);
    }
}

static int n_cases = 0;

static void check(r1_type t, r1_gemm_fn f, int nr, int nc, int nsb, int wpat, int akind) {
    const r1_type_traits *ref = r1_type_get_traits_isa(t, R1_ISA_SCALAR);
    const r1_type_traits *q8 = r1_type_get_traits_isa(R1_TYPE_Q8_K, R1_ISA_SCALAR);
    const int n = nsb * QK_K;
    const size_t ws = r1_row_size(t, n) + 40, as = r1_row_size(R1_TYPE_Q8_K, n) + 20, ldo = (size_t)nr + 3;
    char *w = malloc(ws * nr), *a = malloc(as * nc);
    float *out = malloc(sizeof(float) * ldo * (nc + 1)), *wm = malloc(sizeof(float) * n * nr),
          *af = malloc(sizeof(float) * n * nc);
    if (!w || !a || !out || !wm || !af) {
        CHECK(0, "out of memory");
        free(w); free(a); free(out); free(wm); free(af);
        return;
    }
    for (int r = 0; r < nr; r++) {
        fill_w(t, w + r * ws, nsb, wpat);
        weight_mag(t, w + r * ws, nsb, wm + (size_t)r * n);
    }
    for (int c = 0; c < nc; c++) {
        fill_a(a + c * as, n, akind);
        q8->to_float(a + c * as, af + (size_t)c * n, n);
    }
    for (size_t i = 0; i < ldo * (nc + 1); i++) out[i] = NAN;
    f(n, nr, nc, w, ws, a, as, out, ldo);
    int bad = 0;
    for (int c = 0; c <= nc; c++)
        for (size_t r = 0; r < ldo; r++) {
            const float got = out[(size_t)c * ldo + r];
            if (c == nc || (int)r >= nr) {
                if (!isnan(got) && bad++ < 5)
                    CHECK(isnan(got), "%s nr %d nc %d nsb %d: wrote outside (%d, %zu)", ref->name, nr, nc, nsb, c, r);
                continue;
            }
            float want;
            ref->vec_dot_ref(n, &want, w + r * ws, a + c * as);
            double m = 0;
            for (int k = 0; k < n; k++) m += fabs((double)af[(size_t)c * n + k]) * wm[r * (size_t)n + k];
            const double tol = 2e-6 * m + 1e-6;
            if (!(fabs((double)got - want) <= tol) && bad++ < 5)
                CHECK(fabs((double)got - want) <= tol,
                      "%s nr %d nc %d nsb %d w %d a %d (r %zu c %d): %.9g vs ref %.9g (tol %g)", ref->name, nr, nc,
                      nsb, wpat, akind, r, c, got, want, tol);
        }
    n_cases++;
    free(w); free(a); free(out); free(wm); free(af);
}

/* token tiles, 256-token passes, K chunks */
static void test_call_shapes(void) {
    static const int rows[] = {7, 16, 32, 48};
    static const int toks[] = {16, 32, 48, 127, 128, 129, 144, 257};
    static const int sbs[] = {1, 2, 8, 9, 16, 35};
    for (size_t ti = 0; ti < sizeof kq_types / sizeof *kq_types; ti++) {
        const r1_gemm_fn f = r1_amx_gemm_kernel(kq_types[ti]);
        REQUIRE(f != NULL, "no AMX kernel for %s", r1_type_name(kq_types[ti]));
        n_cases = 0;
        for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
            for (size_t j = 0; j < sizeof toks / sizeof *toks; j++)
                for (size_t k = 0; k < sizeof sbs / sizeof *sbs; k++) {
                    /* the big corner once per type, not with every row count */
                    if (toks[j] > 144 && sbs[k] > 9 && rows[i] != 32) continue;
                    check(kq_types[ti], f, rows[i], toks[j], sbs[k], -1, 0);
                }
        printf("AMX %s kernel: %d call shapes\n", r1_type_name(kq_types[ti]), n_cases);
    }
}

/* every byte the same (largest / smallest quants, scales, mins) x saturated activations */
static void test_extremes(void) {
    static const int pats[] = {0x00, 0xFF, 0x80, 0x7F, 0xAA};
    for (size_t ti = 0; ti < sizeof kq_types / sizeof *kq_types; ti++) {
        const r1_gemm_fn f = r1_amx_gemm_kernel(kq_types[ti]);
        REQUIRE(f != NULL, "no AMX kernel for %s", r1_type_name(kq_types[ti]));
        n_cases = 0;
        for (size_t p = 0; p < sizeof pats / sizeof *pats; p++)
            for (int ak = 1; ak <= 3; ak++) {
                check(kq_types[ti], f, 17, 33, 9, pats[p], ak);
                check(kq_types[ti], f, 16, 16, 1, pats[p], ak);
            }
        printf("AMX %s kernel: %d extreme-block cases\n", r1_type_name(kq_types[ti]), n_cases);
    }
}

int main(void) {
    if (!r1_cpu_has_amx()) {
        printf("NOTE: AMX not available on this CPU/OS: the AMX k-quant kernels were NOT exercised\n");
        return TEST_SUMMARY();
    }
    RUN(test_call_shapes);
    RUN(test_extremes);
    return TEST_SUMMARY();
}
