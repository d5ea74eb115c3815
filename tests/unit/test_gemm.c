/*
 * test_gemm.c — the batched (prefill) kernels of the quantized types other than Q8_0
 * (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS with Q8_K activations; Q4_0, Q4_1, Q5_0, Q5_1,
 * IQ4_NL with Q8_0/Q8_1) against the scalar vec_dot reference, per (weight row,
 * activation row) pair: their AMX kernels (src/simd/gemm_kq_amx.c, gemm_leg_amx.c) and, on every CPU, the active traits' r1_gemm for the same
 * types. Awkward shapes: weight rows and tokens around the 16-wide tiles (1, 15, 16, 17,
 * 33, 100), 1..17 super-blocks (across the AMX kernels' 8-super-block chunks) or 1..130
 * blocks of 32 (across the 64-block chunks and 4-block groups), weight row
 * and output strides larger than needed. Weight bytes are random (every nibble/bit
 * pattern, all scales and mins), d/dmin random finite halves; activations are real
 * Q8_K / Q8_0 / Q8_1 rows (the quantizer, so bsums / s match qs) of random floats.
 * Outputs are poisoned with NaN before every call; cells outside the written ones must
 * stay NaN.
 * Tolerance: float rounding only. Each sub-block's int8 products are exact int32 on both
 * sides; the float factors are applied in a different order, so
 * |got - ref| <= 2e-6 * M (+ a tiny floor), M = sum over elements of |activation| x
 * (|scale part| + |min part| of the weight) (see mag()).
 * Without AMX the AMX part prints that it was NOT exercised.
 */
#include "quant.h"
#include "quant_impl.h"
#include "test.h"
#include <stdint.h>
#include <stdlib.h>

#include "test_rand.h"

/* random bytes (every bit pattern of quants, scales, mins) with finite d / dmin halves */
static void fill_w(r1_type t, char *row, int nsb) {
    const size_t bs = r1_type_get_traits_isa(t, R1_ISA_SCALAR)->type_size;
    for (size_t k = 0; k < bs * (size_t)nsb; k++) ((uint8_t *)row)[k] = (uint8_t)rnd();
    for (int i = 0; i < nsb; i++) {
        char *b = row + bs * i;
        uint16_t h[2] = {rnd_half(), rnd_half()};
        switch (t) {
        case R1_TYPE_Q4_K: case R1_TYPE_Q5_K: memcpy(b, h, 4); break;
        case R1_TYPE_Q6_K: memcpy(b + offsetof(block_q6_K, d), h, 2); break;
        case R1_TYPE_Q2_K: memcpy(b + offsetof(block_q2_K, d), h, 4); break;
        case R1_TYPE_Q3_K: memcpy(b + offsetof(block_q3_K, d), h, 2); break;
        case R1_TYPE_IQ4_XS: case R1_TYPE_Q4_0: case R1_TYPE_Q5_0: case R1_TYPE_IQ4_NL: memcpy(b, h, 2); break;
        case R1_TYPE_Q4_1: case R1_TYPE_Q5_1: memcpy(b, h, 4); break;
        default: break;
        }
    }
}

/* an activation row of nblk weight blocks: the vec_dot_type quantizer (Q8_K / Q8_0 / Q8_1)
 * on random floats, so its sums (bsums, s) match its qs */
static void fill_a(r1_type t, char *row, int n) {
    const r1_type_traits *vt = r1_type_get_traits_isa(r1_type_get_traits_isa(t, R1_ISA_SCALAR)->vec_dot_type, R1_ISA_SCALAR);
    float *x = malloc(sizeof(float) * n);
    if (!x) return;
    for (int k = 0; k < n; k++) x[k] = ((float)(rnd() % 20001) - 10000.0f) / 1000.0f * (float)(1 + k % 7);
    vt->from_float(x, row, n);
    free(x);
}

/* The rounding scale: sum over elements of |activation| x (|scale part| + |min part|) of
 * the weight, from to_float of each block with dmin / m zeroed (d*sc*q) and with d zeroed
 * (the min part) — the terms the kernels and the reference sum in float. */
static double mag(r1_type t, const char *w, const char *a, int n) {
    const r1_type_traits *tr = r1_type_get_traits_isa(t, R1_ISA_SCALAR);
    const r1_type_traits *vt = r1_type_get_traits_isa(tr->vec_dot_type, R1_ISA_SCALAR);
    const bool has_min = t == R1_TYPE_Q4_K || t == R1_TYPE_Q5_K || t == R1_TYPE_Q2_K || t == R1_TYPE_Q4_1 ||
                         t == R1_TYPE_Q5_1;
    const size_t min_off = t == R1_TYPE_Q2_K ? offsetof(block_q2_K, dmin) : 2;
    const size_t d_off = t == R1_TYPE_Q2_K ? offsetof(block_q2_K, d) : 0;
    const int bs = tr->blck_size;
    float *af = malloc(sizeof(float) * n);
    if (!af) return INFINITY;
    vt->to_float(a, af, n);
    double m = 0;
    for (int i = 0; i < n / bs; i++) {
        char blk[sizeof(block_q6_K)];
        float xs[QK_K], xm[QK_K];
        memcpy(blk, w + tr->type_size * i, tr->type_size);
        if (has_min) memset(blk + min_off, 0, 2);
        tr->to_float(blk, xs, bs);
        for (int k = 0; k < bs; k++) xm[k] = 0;
        if (has_min) {
            memcpy(blk, w + tr->type_size * i, tr->type_size);
            memset(blk + d_off, 0, 2);
            tr->to_float(blk, xm, bs);
        }
        for (int k = 0; k < bs; k++) m += fabs((double)af[i * bs + k]) * (fabs(xs[k]) + fabs(xm[k]));
    }
    free(af);
    return m;
}

static int n_cases = 0;

/* nsb: weight blocks per row (256 elements for the k-quants, 32 for the others) */
static void check(r1_type t, r1_gemm_fn f, const r1_type_traits *tr, int nr, int nc, int nsb) {
    const r1_type_traits *ref = r1_type_get_traits_isa(t, R1_ISA_SCALAR);
    const int n = nsb * ref->blck_size;
    const size_t row = r1_row_size(t, n), arow = r1_row_size(ref->vec_dot_type, n);
    const size_t ws = row + 176 + 6, as = arow + 12;   /* strides larger than a row */
    const size_t ldo = (size_t)nr + 5;
    char *w = malloc(ws * nr), *a = malloc(as * nc);
    float *out = malloc(sizeof(float) * ldo * (nc + 1));
    if (!w || !a || !out) { CHECK(0, "out of memory"); free(w); free(a); free(out); return; }
    for (int r = 0; r < nr; r++) fill_w(t, w + r * ws, nsb);
    for (int c = 0; c < nc; c++) fill_a(t, a + c * as, n);
    for (size_t i = 0; i < ldo * (nc + 1); i++) out[i] = NAN;
    if (f) f(n, nr, nc, w, ws, a, as, out, ldo);
    else r1_gemm(tr, n, nr, nc, w, ws, a, as, out, ldo);
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
            const double tol = 2e-6 * mag(t, w + r * ws, a + c * as, n) + 1e-6;
            if (!(fabs((double)got - want) <= tol) && bad++ < 5)
                CHECK(fabs((double)got - want) <= tol, "%s nr %d nc %d nsb %d (r %zu c %d): %.9g vs ref %.9g (tol %g)",
                      ref->name, nr, nc, nsb, r, c, got, want, tol);
        }
    n_cases++;
    free(w); free(a); free(out);
}

static const int rows[] = {1, 15, 16, 17, 33, 100};
static const int toks[] = {1, 8, 15, 16, 17, 33, 100};
static const int sbs[] = {1, 3, 8, 9, 17};           /* super-blocks (chunks of 8) */
static const int lbs[] = {1, 2, 3, 5, 64, 65, 130};  /* 32-blocks (chunks of 64, groups of 4) */
static const r1_type types[] = {R1_TYPE_Q4_K, R1_TYPE_Q6_K, R1_TYPE_Q5_K, R1_TYPE_IQ4_XS, R1_TYPE_Q2_K, R1_TYPE_Q3_K,
                                R1_TYPE_Q4_0, R1_TYPE_Q4_1, R1_TYPE_Q5_0, R1_TYPE_Q5_1, R1_TYPE_IQ4_NL};

static void test_amx_kernels(void) {
    if (!r1_cpu_has_amx()) {
        printf("NOTE: AMX not available on this CPU/OS: the AMX k-quant kernels were NOT exercised\n");
        return;
    }
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        r1_gemm_fn f = r1_amx_gemm_kernel(types[ti]);
        REQUIRE(f != NULL, "no AMX kernel for %s", r1_type_name(types[ti]));
        n_cases = 0;
        for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
            for (size_t j = 0; j < sizeof toks / sizeof *toks; j++)
                if (r1_type_get_traits_isa(types[ti], R1_ISA_SCALAR)->blck_size == QK_K)
                    for (size_t k = 0; k < sizeof sbs / sizeof *sbs; k++) check(types[ti], f, NULL, rows[i], toks[j], sbs[k]);
                else
                    for (size_t k = 0; k < sizeof lbs / sizeof *lbs; k++) check(types[ti], f, NULL, rows[i], toks[j], lbs[k]);
        printf("AMX %s kernel exercised on %d shapes\n", r1_type_name(types[ti]), n_cases);
    }
}

/* r1_gemm through the active traits (AMX when active and nc >= R1_GEMM_BIG_MIN, else the
 * ISA's batched kernel / vec_dot), and each ISA table's own gemm. */
static void test_r1_gemm(void) {
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const r1_type_traits *tr = r1_type_get_traits(types[ti]);
        REQUIRE(tr != NULL);
        for (size_t i = 0; i < sizeof rows / sizeof *rows; i += 2)
            for (size_t j = 0; j < sizeof toks / sizeof *toks; j++) check(types[ti], NULL, tr, rows[i], toks[j], tr->blck_size == QK_K ? 9 : 67);
        for (int isa = 0; isa <= R1_ISA_NEON; isa++) {
            const r1_type_traits *ti2 = r1_type_get_traits_isa(types[ti], (r1_isa)isa);
            if (!ti2) continue;
            check(types[ti], NULL, ti2, 17, 33, ti2->blck_size == QK_K ? 3 : 5);
        }
    }
    printf("r1_gemm (%s%s) checked\n", r1_isa_name(r1_isa_active()), r1_amx_active() ? " + AMX" : "");
}

/* F32/F16/BF16 weights through every ISA table's r1_gemm (batched kernels of 1 weight row
 * x 4 tokens, vec_dot tails): K around the 16-lane vectors and 1024,
 * rows and tokens around 4, strides larger than a row, NaN-poisoned outputs.
 * Bound: float accumulation, 2e-5 * sum |w_k a_k|. */
static void test_float_weights(void) {
    static const r1_type ft[] = {R1_TYPE_F32, R1_TYPE_F16, R1_TYPE_BF16};
    static const int ns[] = {1, 15, 16, 17, 1023, 1024, 1025, 2100};
    static const int nrs[] = {1, 3, 4, 5, 9}, ncs[] = {1, 3, 4, 5, 9};
    int cases = 0;
    for (int isa = 0; isa <= R1_ISA_NEON; isa++)
        for (size_t ti = 0; ti < 3; ti++) {
            const r1_type_traits *tr = r1_type_get_traits_isa(ft[ti], (r1_isa)isa);
            if (!tr) continue;
            for (size_t in = 0; in < sizeof ns / sizeof *ns; in++)
                for (size_t ir = 0; ir < 5; ir++)
                    for (size_t ic = 0; ic < 5; ic++) {
                        const int n = ns[in], nr = nrs[ir], nc = ncs[ic];
                        const size_t ws = r1_row_size(ft[ti], n) + 8, as = (size_t)n * 4 + 12, ldo = (size_t)nr + 3;   /* aligned to the element */
                        char *w = malloc(ws * nr), *a = malloc(as * nc);
                        float *x = malloc(sizeof(float) * n), *out = malloc(sizeof(float) * ldo * (nc + 1));
                        REQUIRE(w && a && x && out);
                        for (int r = 0; r < nr; r++) {
                            for (int k = 0; k < n; k++) x[k] = ((float)(rnd() % 20001) - 10000.0f) / 4000.0f;
                            tr->from_float(x, w + r * ws, n);
                        }
                        for (int c = 0; c < nc; c++)
                            for (int k = 0; k < n; k++) ((float *)(a + c * as))[k] = ((float)(rnd() % 20001) - 10000.0f) / 4000.0f;
                        for (size_t i = 0; i < ldo * (nc + 1); i++) out[i] = NAN;
                        r1_gemm(tr, n, nr, nc, w, ws, a, as, out, ldo);
                        int bad = 0;
                        for (int c = 0; c <= nc; c++)
                            for (size_t r = 0; r < ldo; r++) {
                                const float got = out[(size_t)c * ldo + r];
                                if (c == nc || (int)r >= nr) {
                                    if (!isnan(got) && bad++ < 3) CHECK(isnan(got), "%s %s: wrote outside", r1_isa_name((r1_isa)isa), tr->name);
                                    continue;
                                }
                                float want, wf[2100];
                                tr->vec_dot_ref(n, &want, w + r * ws, a + c * as);
                                tr->to_float(w + r * ws, wf, n);
                                double m = 0;
                                for (int k = 0; k < n; k++) m += fabs((double)wf[k] * ((const float *)(a + c * as))[k]);
                                if (!(fabs((double)got - want) <= 2e-5 * m + 1e-30) && bad++ < 3)
                                    CHECK(0, "%s %s n %d nr %d nc %d (r %zu c %d): %.9g vs %.9g", r1_isa_name((r1_isa)isa),
                                          tr->name, n, nr, nc, r, c, got, want);
                            }
                        cases++;
                        free(w); free(a); free(x); free(out);
                    }
        }
    printf("float-weight r1_gemm checked on %d shapes (all ISA tables this CPU has)\n", cases);
}

int main(void) {
    RUN(test_amx_kernels);
    RUN(test_r1_gemm);
    RUN(test_float_weights);
    return TEST_SUMMARY();
}
