/*
 * test_amx.c — the AMX int8 batched kernels (src/simd/quant_amx.c) against the scalar
 * vec_dot reference, per (weight row, activation row) pair, on awkward shapes: weight rows
 * and tokens around the 16-wide tiles (1, 15, 16, 17, 32, 33, 48, 100: one to six full
 * 16-token groups, with and without a tail), 1..130 blocks (odd counts, fewer pairs than
 * the epilogue lag, across the kernel's 64-block packing chunks), a weight row stride and
 * an output stride larger than needed. Quants are random over the whole int8 range, scales random finite halves.
 * Outputs are poisoned with NaN before every call; cells outside the written ones must
 * stay NaN.
 * Tolerance: float summation order only. Each block's int8 products are exact int32 in
 * both kernels; the per-block float terms are summed in a different order / with FMA, so
 * |amx - ref| <= 1e-5 * sum_b |term_b| (+ a tiny absolute floor).
 * Without AMX (or with a build lacking it) the test prints that the AMX kernels were NOT
 * exercised and checks only that r1_amx_active() is false.
 */
#include "quant.h"
#include "quant_impl.h"
#include "test.h"
#include <stdint.h>
#include <stdlib.h>

#define T_RNG_SEED 0x243f6a8885a308d3ull
#include "test_rand.h"
static void fill_q8_0(char *row, int nb) {
    for (int i = 0; i < nb; i++) {
        block_q8_0 *b = (block_q8_0 *)row + i;
        for (int k = 0; k < 32; k++) b->qs[k] = (int8_t)(uint8_t)rnd();
        b->d = rnd_half();
    }
}
/* sum over blocks of |d_w * d_a * sum_k w_k a_k| */
static double mag_q8_0(const char *w, const char *a, int nb) {
    double s = 0;
    for (int i = 0; i < nb; i++) {
        const block_q8_0 *x = (const block_q8_0 *)w + i, *y = (const block_q8_0 *)a + i;
        int is = 0;
        for (int k = 0; k < 32; k++) is += x->qs[k] * y->qs[k];
        s += fabs((double)r1_fp16_to_fp32(x->d) * r1_fp16_to_fp32(y->d) * is);
    }
    return s;
}

static int n_cases = 0;

static void check_q8_0(r1_gemm_fn f, int nr, int nc, int nb) {
    const r1_type_traits *tr = r1_type_get_traits_isa(R1_TYPE_Q8_0, R1_ISA_SCALAR);
    const size_t row = (size_t)nb * sizeof(block_q8_0);
    const size_t ws = row + 34 * 3 + 6, as = row + 10;   /* strides larger than a row */
    const size_t ldo = (size_t)nr + 5;
    char *w = malloc(ws * nr), *a = malloc(as * nc);
    float *out = malloc(sizeof(float) * ldo * (nc + 1));
    if (!w || !a || !out) { CHECK(0, "out of memory"); free(w); free(a); free(out); return; }
    for (int r = 0; r < nr; r++) fill_q8_0(w + r * ws, nb);
    for (int c = 0; c < nc; c++) fill_q8_0(a + c * as, nb);
    for (size_t i = 0; i < ldo * (nc + 1); i++) out[i] = NAN;
    f(nb * 32, nr, nc, w, ws, a, as, out, ldo);
    int bad = 0;
    for (int c = 0; c <= nc; c++)
        for (size_t r = 0; r < ldo; r++) {
            const float got = out[(size_t)c * ldo + r];
            if (c == nc || (int)r >= nr) {
                if (!isnan(got) && bad++ < 5) CHECK(isnan(got), "nr %d nc %d nb %d: wrote outside (%d, %zu)", nr, nc, nb, c, r);
                continue;
            }
            float ref;
            tr->vec_dot_ref(nb * 32, &ref, w + r * ws, a + c * as);
            const double tol = 1e-5 * mag_q8_0(w + r * ws, a + c * as, nb) + 1e-6;
            if (!(fabs((double)got - ref) <= tol) && bad++ < 5)
                CHECK(fabs((double)got - ref) <= tol, "nr %d nc %d nb %d (r %zu c %d): %.9g vs ref %.9g (tol %g)",
                      nr, nc, nb, r, c, got, ref, tol);
        }
    n_cases++;
    free(w); free(a); free(out);
}

static void test_q8_0_shapes(void) {
    r1_gemm_fn f = r1_cpu_has_amx() ? r1_amx_gemm_kernel(R1_TYPE_Q8_0) : NULL;
    if (!f) {
        printf("NOTE: AMX not available on this CPU/OS/build: the AMX kernels were NOT exercised\n");
        CHECK(!r1_amx_active());
        return;
    }
    static const int rows[] = {1, 15, 16, 17, 33, 100};
    /* 16-token groups (the pipelined path) with and without a tail group; 1..5 blocks cover
     * pipelines shorter than the epilogue lag and odd block counts (a half-empty last pair) */
    static const int toks[] = {1, 8, 15, 16, 17, 32, 33, 48, 100};
    static const int blocks[] = {1, 2, 3, 5, 48, 64, 65, 130};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        for (size_t j = 0; j < sizeof toks / sizeof *toks; j++)
            for (size_t k = 0; k < sizeof blocks / sizeof *blocks; k++) check_q8_0(f, rows[i], toks[j], blocks[k]);
    printf("AMX Q8_0 kernel exercised on %d shapes\n", n_cases);
}

/* r1_gemm dispatch: with AMX active, the default Q8_0 traits' r1_gemm at >= R1_GEMM_BIG_MIN
 * tokens equals the reference as above (covers the table lookup in r1_gemm). */
static void test_dispatch(void) {
    if (!r1_amx_active()) {
        printf("NOTE: AMX not active (CPU/OS, R1_ISA or R1_AMX=0): r1_gemm dispatch to AMX NOT exercised\n");
        return;
    }
    CHECK(r1_isa_active() == R1_ISA_AVX512);
    const r1_type_traits *t = r1_type_get_traits(R1_TYPE_Q8_0);
    const int nb = 5, nr = 19, nc = R1_GEMM_BIG_MIN + 3;
    const size_t row = (size_t)nb * 34;
    char *w = malloc(row * nr), *a = malloc(row * nc);
    float *out = malloc(sizeof(float) * nr * nc);
    REQUIRE(w && a && out);
    for (int r = 0; r < nr; r++) fill_q8_0(w + r * row, nb);
    for (int c = 0; c < nc; c++) fill_q8_0(a + c * row, nb);
    for (int i = 0; i < nr * nc; i++) out[i] = NAN;
    r1_gemm(t, nb * 32, nr, nc, w, row, a, row, out, nr);
    for (int c = 0; c < nc; c++)
        for (int r = 0; r < nr; r++) {
            float ref;
            t->vec_dot_ref(nb * 32, &ref, w + r * row, a + c * row);
            CHECK_NEAR(out[c * nr + r], ref, 1e-5 * mag_q8_0(w + r * row, a + c * row, nb) + 1e-6);
        }
    free(w); free(a); free(out);
}

int main(void) {
    RUN(test_q8_0_shapes);
    RUN(test_dispatch);
    return TEST_SUMMARY();
}
