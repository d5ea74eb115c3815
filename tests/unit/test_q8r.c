/* test_q8r.c — the 16-row repacked Q8_0 layout (quant_q8r.h): repack/unpack round trip,
 * dequantization, and the scalar reference product against Q8_0's vec_dot reference
 * (bit for bit) on awkward sizes. SIMD/AMX kernels of the layout are tested against
 * r1_q8r_gemm_ref in their own tests. */
#include "quant.h"
#include "quant_impl.h"
#include "quant_q8r.h"
#include "test.h"
#include "test_rand.h"
#include <stdlib.h>

static void fill_q8_0(block_q8_0 *b, size_t n_blocks) {
    for (size_t i = 0; i < n_blocks; i++) {
        b[i].d = rnd_half();
        rnd_bytes(b[i].qs, sizeof b[i].qs);
    }
    /* the extremes of the int8 range must survive the +128 offset */
    if (n_blocks) { b[0].qs[0] = -128; b[0].qs[1] = 127; b[0].qs[2] = 0; }
}

static void test_round_trip(void) {
    const int cols[] = {32, 64, 96, 1536, 32 * 13};
    for (size_t ci = 0; ci < sizeof cols / sizeof *cols; ci++) {
        const int n = cols[ci], nb = n / 32;
        const size_t rb = (size_t)nb * sizeof(block_q8_0);
        CHECK(r1_q8r_group_bytes(n) == 16 * rb, " n=%d", n);
        block_q8_0 *src = malloc(16 * rb), *row = malloc(rb);
        uint8_t *g = malloc(16 * rb);
        float *y = malloc(sizeof(float) * (size_t)n), *yr = malloc(sizeof(float) * (size_t)n);
        fill_q8_0(src, (size_t)16 * nb);
        r1_q8r_repack(g, src, rb, n);
        const r1_type_traits *t = r1_type_get_traits_isa(R1_TYPE_Q8_0, R1_ISA_SCALAR);
        for (int r = 0; r < 16; r++) {
            r1_q8r_unpack_row(row, g, r, n);
            CHECK(!memcmp(row, (char *)src + r * rb, rb), " n=%d row %d: unpack differs", n, r);
            r1_q8r_to_float_row(g, r, y, n);
            t->to_float((char *)src + r * rb, yr, n);
            CHECK(!memcmp(y, yr, sizeof(float) * (size_t)n), " n=%d row %d: to_float differs", n, r);
        }
        free(src); free(row); free(g); free(y); free(yr);
    }
}

/* r1_q8r_gemm_ref on repacked groups == Q8_0's vec_dot_ref on the plain rows, bit for bit,
 * with outputs NaN-poisoned and nothing written outside [nr) × [nc) at stride ldo. */
static void test_gemm_ref(void) {
    const int cols[] = {32, 96, 1536, 32 * 7};
    const int rows[] = {16, 48};
    const int toks[] = {1, 3, 17};
    const r1_type_traits *t = r1_type_get_traits_isa(R1_TYPE_Q8_0, R1_ISA_SCALAR);
    for (size_t ci = 0; ci < sizeof cols / sizeof *cols; ci++)
        for (size_t ri = 0; ri < sizeof rows / sizeof *rows; ri++)
            for (size_t ti = 0; ti < sizeof toks / sizeof *toks; ti++) {
                const int n = cols[ci], nr = rows[ri], nc = toks[ti], nb = n / 32;
                const size_t rb = (size_t)nb * sizeof(block_q8_0), ldo = (size_t)nr + 5;
                block_q8_0 *w = malloc((size_t)nr * rb), *a = malloc((size_t)nc * rb);
                uint8_t *wp = malloc((size_t)nr * rb);
                float *out = malloc(sizeof(float) * ldo * (size_t)nc);
                fill_q8_0(w, (size_t)nr * nb);
                fill_q8_0(a, (size_t)nc * nb);
                for (int g = 0; g < nr; g += 16) r1_q8r_repack(wp + (size_t)g * rb, (char *)w + (size_t)g * rb, rb, n);
                for (size_t i = 0; i < ldo * (size_t)nc; i++) out[i] = NAN;
                r1_q8r_gemm_ref(n, nr, nc, wp, rb, a, rb, out, ldo);
                int bad = 0, outside = 0;
                for (int c = 0; c < nc; c++) {
                    for (int r = 0; r < nr; r++) {
                        float want;
                        t->vec_dot_ref(n, &want, (char *)w + (size_t)r * rb, (char *)a + (size_t)c * rb);
                        const float got = out[(size_t)c * ldo + r];
                        if (memcmp(&got, &want, sizeof got)) bad++;
                    }
                    for (size_t r = (size_t)nr; r < ldo; r++) outside += !isnan(out[(size_t)c * ldo + r]);
                }
                CHECK(bad == 0, " n=%d nr=%d nc=%d: %d outputs differ from vec_dot_ref", n, nr, nc, bad);
                CHECK(outside == 0, " n=%d nr=%d nc=%d: %d writes outside", n, nr, nc, outside);
                free(w); free(a); free(wp); free(out);
            }
}

int main(void) {
    RUN(test_round_trip);
    RUN(test_gemm_ref);
    return TEST_SUMMARY();
}
