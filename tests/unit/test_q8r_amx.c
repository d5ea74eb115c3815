/*
 * test_q8r_amx.c — r1_q8r_gemm_amx (src/simd/q8r_amx.c, AMX tiles on Q8_0 weights repacked by
 * 16-row groups) against the scalar reference r1_q8r_gemm_ref, per (weight row, token), on
 * awkward shapes: 1..130 blocks (odd and even, a single pair, across the kernel's 64-block K
 * chunks), 16..2048 weight rows, 8..17, 33, 64 and 257 tokens (16-token groups with and
 * without a tail, every tail length of a single group, and across the 256-token slab), a
 * weight row stride of a plain Q8_0 row (the layout's), an activation stride and an output
 * stride larger than needed. Weight and activation quants are random over the whole int8 range (the weights'
 * -128 and 127 included, the extremes of the +128 offset), scales random finite halves.
 * Outputs are poisoned with NaN before every call; cells outside [nr) x [nc) must stay NaN.
 * Tolerance: float summation order only. Both kernels form each block's integer sum
 * exactly; the per-block float terms are added with FMA in the AMX kernel, so
 * |amx - ref| <= 1e-5 * sum_b |term_b| (+ a tiny absolute floor), as test_amx.c.
 * Without AMX (CPU/OS, or a non-x86-64 build) the test says that the kernel was NOT
 * exercised.
 */
#include "quant.h"
#include "quant_impl.h"
#include "quant_q8r.h"
#include "test.h"
#include <stdint.h>
#include <stdlib.h>

#define T_RNG_SEED 0x13198a2e03707344ull
#include "test_rand.h"

#if defined(__x86_64__)   /* the AMX file is compiled on x86-64 only */

static void fill_q8_0(block_q8_0 *b, size_t n_blocks) {
    for (size_t i = 0; i < n_blocks; i++) {
        b[i].d = rnd_half();
        rnd_bytes(b[i].qs, sizeof b[i].qs);
    }
    if (n_blocks) { b[0].qs[0] = -128; b[0].qs[1] = 127; b[0].qs[2] = 0; }
}

/* sum over blocks of |d_w * d_a * sum_k w_k a_k| of plain rows w and a */
static double mag_q8_0(const block_q8_0 *x, const block_q8_0 *y, int nb) {
    double s = 0;
    for (int i = 0; i < nb; i++) {
        int is = 0;
        for (int k = 0; k < 32; k++) is += x[i].qs[k] * y[i].qs[k];
        s += fabs((double)r1_fp16_to_fp32(x[i].d) * r1_fp16_to_fp32(y[i].d) * is);
    }
    return s;
}

static int n_cases = 0;

static void check(int nr, int nc, int nb) {
    const int n = nb * 32;
    const size_t rb = (size_t)nb * sizeof(block_q8_0), as = rb + 10, ldo = (size_t)nr + 5;
    block_q8_0 *w = malloc((size_t)nr * rb);
    uint8_t *wp = malloc((size_t)nr * rb), *a = malloc(as * (size_t)nc);
    float *out = malloc(sizeof(float) * ldo * (size_t)(nc + 1)), *ref = malloc(sizeof(float) * ldo * (size_t)nc);
    if (!w || !wp || !a || !out || !ref) {
        CHECK(0, "out of memory");
        free(w); free(wp); free(a); free(out); free(ref);
        return;
    }
    fill_q8_0(w, (size_t)nr * nb);
    for (int c = 0; c < nc; c++) fill_q8_0((block_q8_0 *)(a + (size_t)c * as), (size_t)nb);
    for (int g = 0; g < nr; g += 16) r1_q8r_repack(wp + (size_t)g * rb, (char *)w + (size_t)g * rb, rb, n);
    for (size_t i = 0; i < ldo * (size_t)nc; i++) ref[i] = NAN;
    r1_q8r_gemm_ref(n, nr, nc, wp, rb, a, as, ref, ldo);
    for (size_t i = 0; i < ldo * (size_t)(nc + 1); i++) out[i] = NAN;
    r1_q8r_gemm_amx(n, nr, nc, wp, rb, a, as, out, ldo);
    int bad = 0;
    for (int c = 0; c <= nc; c++)
        for (size_t r = 0; r < ldo; r++) {
            const float got = out[(size_t)c * ldo + r];
            if (c == nc || (int)r >= nr) {
                if (!isnan(got) && bad++ < 5) CHECK(isnan(got), " nr %d nc %d nb %d: wrote outside (%d, %zu)", nr, nc, nb, c, r);
                continue;
            }
            const float want = ref[(size_t)c * ldo + r];
            const double tol = 1e-5 * mag_q8_0(w + r * (size_t)nb, (const block_q8_0 *)(a + (size_t)c * as), nb) + 1e-6;
            if (!(fabs((double)got - want) <= tol) && bad++ < 5)
                CHECK(fabs((double)got - want) <= tol, " nr %d nc %d nb %d (r %zu c %d): %.9g vs ref %.9g (tol %g)", nr, nc,
                      nb, r, c, got, want, tol);
        }
    n_cases++;
    free(w); free(wp); free(a); free(out); free(ref);
}

static void test_shapes(void) {
    if (!r1_cpu_has_amx()) {
        printf("NOTE: AMX not available on this CPU/OS/build: r1_q8r_gemm_amx was NOT exercised\n");
        return;
    }
    static const int blocks[] = {1, 2, 3, 5, 48, 64, 65, 130};
    static const int rows[] = {16, 48};
    static const int toks[] = {8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 33, 64, 257};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        for (size_t j = 0; j < sizeof toks / sizeof *toks; j++)
            for (size_t k = 0; k < sizeof blocks / sizeof *blocks; k++) check(rows[i], toks[j], blocks[k]);
    /* ds2 expert-like: 1408 rows (88 groups) x 2048 columns, and 2048 x 1408 (44 blocks) */
    check(1408, 48, 64);
    check(1408, 17, 3);
    check(2048 / 16 * 16, 33, 44);
    printf("r1_q8r_gemm_amx exercised on %d shapes\n", n_cases);
}
#endif

int main(void) {
#if defined(__x86_64__)
    RUN(test_shapes);
#else
    printf("NOTE: not an x86-64 build: r1_q8r_gemm_amx was NOT exercised\n");
#endif
    return TEST_SUMMARY();
}
