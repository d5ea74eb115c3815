/*
 * test_kernels_dec.c — the matrix-vector / batched kernels of the decode path (Q8_0, Q5_0,
 * Q4_K, Q6_K gemm, vec_dot and to_float of every ISA level this CPU runs) against the scalar vec_dot
 * reference, on awkward shapes: 1..9 weight rows (multi-row groups plus remainders),
 * 1..5 activation columns, 1..9 blocks, a weight row stride larger than the row, an
 * output stride larger than the row count. Blocks are raw random bytes (every nibble /
 * 6-bit pattern; Q8_K activations including -128, Q8_0 values in [-127, 127] as every
 * quantizer writes them) with finite scales, so saturation or
 * sign mistakes in a SIMD kernel cannot hide behind well-behaved quantized data. Outputs
 * are poisoned with NaN before every call; cells outside the written ones must stay NaN.
 */
#include "quant.h"
#include "quant_impl.h"
#include "test.h"
#include <stdint.h>
#include <stdlib.h>

#include "test_rand.h"
/* Q8_0 values as every quantizer writes them: [-127, 127] (the SIMD kernels' |x|·sign(y, x)
 * relies on it, as ggml's do) */
static void rnd_q8(int8_t *q, size_t n) {
    for (size_t i = 0; i < n; i++) q[i] = (int8_t)((int)(rnd() % 255) - 127);
}

/* one weight row of nb blocks of type t, raw random quants, finite scales */
static void make_row(r1_type t, int nb, char *dst) {
    for (int i = 0; i < nb; i++) {
        if (t == R1_TYPE_Q8_0) {
            block_q8_0 *b = (block_q8_0 *)dst + i;
            rnd_q8(b->qs, sizeof b->qs);
            b->d = rnd_half();
        } else if (t == R1_TYPE_Q5_0) {
            block_q5_0 *b = (block_q5_0 *)dst + i;
            rnd_bytes(b->qs, sizeof b->qs);
            rnd_bytes(b->qh, sizeof b->qh);
            b->d = rnd_half();
        } else if (t == R1_TYPE_Q4_K) {
            block_q4_K *b = (block_q4_K *)dst + i;
            rnd_bytes(b->scales, sizeof b->scales);
            rnd_bytes(b->qs, sizeof b->qs);
            b->d = rnd_half();
            b->dmin = rnd_half();
        } else {
            block_q6_K *b = (block_q6_K *)dst + i;
            rnd_bytes(b->ql, sizeof b->ql);
            rnd_bytes(b->qh, sizeof b->qh);
            rnd_bytes(b->scales, sizeof b->scales);
            b->d = rnd_half();
        }
    }
}
/* one activation row (Q8_0 or Q8_K) with int8 values in [-128, 127] and consistent bsums */
static void make_act(r1_type at, int nb, char *dst) {
    for (int i = 0; i < nb; i++) {
        if (at == R1_TYPE_Q8_0) {
            block_q8_0 *b = (block_q8_0 *)dst + i;
            rnd_q8(b->qs, sizeof b->qs);
            b->d = rnd_half();
        } else {
            block_q8_K *b = (block_q8_K *)dst + i;
            rnd_bytes(b->qs, sizeof b->qs);
            b->d = (float)(1 + rnd() % 1000) / 8000.0f;
            for (int g = 0; g < 16; g++) {
                int s = 0;
                for (int k = 0; k < 16; k++) s += b->qs[16 * g + k];
                b->bsums[g] = (int16_t)s;
            }
        }
    }
}
/* |x|·|y| summed in float space: the scale of rounding differences */
static double magnitude(const r1_type_traits *t, const r1_type_traits *a, const char *w, const char *x, int n) {
    float *wd = malloc((size_t)n * 4), *xd = malloc((size_t)n * 4);
    t->to_float(w, wd, n);
    a->to_float(x, xd, n);
    double m = 0;
    for (int i = 0; i < n; i++) m += fabs((double)wd[i] * xd[i]);
    free(wd); free(xd);
    return m;
}

static void test_gemm_awkward(void) {
    static const r1_type types[] = {R1_TYPE_Q8_0, R1_TYPE_Q5_0, R1_TYPE_Q4_K, R1_TYPE_Q6_K};
    static const int nrs[] = {1, 2, 3, 4, 5, 7, 9}, ncs[] = {1, 2, 3, 5}, nbs[] = {1, 2, 3, 5, 8, 9, 17};
    int n_calls = 0;
    for (int isa = R1_ISA_SCALAR; isa <= R1_ISA_NEON; isa++) {
        if (!r1_type_get_traits_isa(R1_TYPE_F32, (r1_isa)isa)) continue;
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            const r1_type_traits *t = r1_type_get_traits_isa(types[ti], (r1_isa)isa);
            const r1_type_traits *ref = r1_type_get_traits_isa(types[ti], R1_ISA_SCALAR);
            REQUIRE(t && ref, "traits of %s", r1_type_name(types[ti]));
            const r1_type_traits *a = r1_type_get_traits_isa(t->vec_dot_type, R1_ISA_SCALAR);
            for (size_t bi = 0; bi < sizeof nbs / sizeof nbs[0]; bi++)
                for (size_t ri = 0; ri < sizeof nrs / sizeof nrs[0]; ri++)
                    for (size_t ci = 0; ci < sizeof ncs / sizeof ncs[0]; ci++) {
                        const int nb = nbs[bi], nr = nrs[ri], nc = ncs[ci];
                        const int n = nb * t->blck_size;
                        const size_t rb = r1_row_size(types[ti], n), ab = r1_row_size(t->vec_dot_type, n);
                        const size_t ws = rb + (ri % 2 ? 0 : 3 * t->type_size);   /* padded rows too */
                        const size_t as = ab + (ci % 2 ? 0 : a->type_size);
                        const size_t ldo = (size_t)nr + 3;
                        char *w = malloc(ws * (size_t)nr), *x = malloc(as * (size_t)nc);
                        float *out = malloc(sizeof(float) * ldo * (size_t)nc);
                        for (int r = 0; r < nr; r++) make_row(types[ti], nb, w + (size_t)r * ws);
                        for (int c = 0; c < nc; c++) make_act(t->vec_dot_type, nb, x + (size_t)c * as);
                        for (size_t i = 0; i < ldo * (size_t)nc; i++) out[i] = NAN;
                        r1_gemm(t, n, nr, nc, w, ws, x, as, out, ldo);
                        n_calls++;
                        for (int c = 0; c < nc; c++) {
                            for (int r = 0; r < nr; r++) {
                                const char *wr = w + (size_t)r * ws, *xc = x + (size_t)c * as;
                                float want, one = NAN;
                                ref->vec_dot_ref(n, &want, wr, xc);
                                t->vec_dot(n, &one, wr, xc);
                                const double tol = 1e-5 * magnitude(ref, a, wr, xc, n) + 1e-30;
                                const float got = out[(size_t)c * ldo + r];
                                CHECK(isfinite(got) && fabs((double)got - want) <= tol,
                                      "%s %s gemm nb=%d nr=%d nc=%d r=%d c=%d: %.9g vs %.9g", r1_isa_name((r1_isa)isa),
                                      t->name, nb, nr, nc, r, c, got, want);
                                CHECK(isfinite(one) && fabs((double)one - want) <= tol,
                                      "%s %s vec_dot nb=%d: %.9g vs %.9g", r1_isa_name((r1_isa)isa), t->name, nb, one, want);
                            }
                            for (size_t r = (size_t)nr; r < ldo; r++)
                                CHECK(isnan(out[(size_t)c * ldo + r]), "%s %s gemm wrote past nr (nr=%d nc=%d)",
                                      r1_isa_name((r1_isa)isa), t->name, nr, nc);
                        }
                        free(w); free(x); free(out);
                    }
        }
    }
    printf("  decode kernels: %d gemm calls checked (active isa %s)\n", n_calls, r1_isa_name(r1_isa_active()));
    CHECK(n_calls >= 4 * 7 * 4 * 5, "too few calls: %d", n_calls);
}

/* The weight bytes beyond the last row are never read as data: the kernels' prefetches
 * may point past the matrix (harmless), but loads may not — guarded by running on an
 * allocation of exactly nr rows (ASan builds catch an over-read). */
static void test_gemm_exact_allocation(void) {
    static const r1_type types[] = {R1_TYPE_Q8_0, R1_TYPE_Q5_0, R1_TYPE_Q4_K, R1_TYPE_Q6_K};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const r1_type_traits *t = r1_type_get_traits(types[ti]);
        const r1_type_traits *ref = r1_type_get_traits_isa(types[ti], R1_ISA_SCALAR);
        const r1_type_traits *a = r1_type_get_traits_isa(t->vec_dot_type, R1_ISA_SCALAR);
        const int nb = 9, n = nb * t->blck_size, nr = 6;   /* 9: a full 8-block step and a leftover */
        const size_t rb = r1_row_size(types[ti], n), ab = r1_row_size(t->vec_dot_type, n);
        char *w = malloc(rb * nr), *x = malloc(ab);
        float out[6];
        for (int r = 0; r < nr; r++) make_row(types[ti], nb, w + (size_t)r * rb);
        make_act(t->vec_dot_type, nb, x);
        for (int r = 0; r < nr; r++) out[r] = NAN;
        r1_gemm(t, n, nr, 1, w, rb, x, ab, out, nr);
        for (int r = 0; r < nr; r++) {
            float want;
            ref->vec_dot_ref(n, &want, w + (size_t)r * rb, x);
            const double tol = 1e-5 * magnitude(ref, a, w + (size_t)r * rb, x, n) + 1e-30;
            CHECK(isfinite(out[r]) && fabs((double)out[r] - want) <= tol,
                  "%s r=%d: %.9g vs %.9g", t->name, r, out[r], want);
        }
        free(w); free(x);
    }
}

/* SIMD dequantization (used by the transposed products) is bit-identical to the scalar. */
static void test_to_float_exact(void) {
    static const r1_type types[] = {R1_TYPE_Q8_0, R1_TYPE_Q4_K, R1_TYPE_Q6_K};
    int n_checked = 0;
    for (int isa = R1_ISA_AVX2; isa <= R1_ISA_NEON; isa++) {
        if (!r1_type_get_traits_isa(R1_TYPE_F32, (r1_isa)isa)) continue;
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            const r1_type_traits *t = r1_type_get_traits_isa(types[ti], (r1_isa)isa);
            const r1_type_traits *ref = r1_type_get_traits_isa(types[ti], R1_ISA_SCALAR);
            for (int nb = 1; nb <= 9; nb += 2) {
                const int n = nb * t->blck_size;
                char *w = malloc(r1_row_size(types[ti], n));
                float *a = malloc((size_t)(n + 1) * 4), *b = malloc((size_t)(n + 1) * 4);
                make_row(types[ti], nb, w);
                for (int i = 0; i <= n; i++) a[i] = b[i] = NAN;
                t->to_float(w, a, n);
                ref->to_float(w, b, n);
                CHECK(!memcmp(a, b, (size_t)n * 4), "%s %s to_float nb=%d", r1_isa_name((r1_isa)isa), t->name, nb);
                CHECK(isnan(a[n]), "%s %s to_float wrote past n", r1_isa_name((r1_isa)isa), t->name);
                for (int i = 0; i < n; i++) CHECK(isfinite(a[i]), "%s %s [%d]", r1_isa_name((r1_isa)isa), t->name, i);
                n_checked++;
                free(w); free(a); free(b);
            }
        }
    }
    CHECK(n_checked > 0 || r1_isa_active() == R1_ISA_SCALAR, "no SIMD level checked");
}

int main(void) {
    RUN(test_gemm_awkward);
    RUN(test_gemm_exact_allocation);
    RUN(test_to_float_exact);
    return TEST_SUMMARY();
}
