/*
 * test_quant.c — quantized formats and kernels:
 *   - every SIMD kernel of every ISA level this CPU runs (called through
 *     r1_type_get_traits_isa, not only the dispatched one) equals the scalar reference
 *     to rounding, on 1, 3, 7 and 33 blocks, Gaussian / heavy-tailed / tiny / large
 *     data, with the output poisoned by NaN before each call;
 *   - SIMD activation quantizers produce bytes identical to the reference;
 *   - round-trip RMSE of every quantizer on N(0,1) data is within its format's bound
 *     (table printed);
 *   - fp16/bf16 conversions (exhaustive over all 65536 halves), traits sanity.
 * Bit-exactness against llama.cpp itself is tests/integration/quant_oracle.sh.
 */
#include "quant.h"
#include "quant_impl.h"
#include "test.h"
#include <stdint.h>
#include <stdlib.h>

static uint64_t rng = 0x243f6a8885a308d3ull;
static double urand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return ((rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static float nrand(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }
static void fill(float *x, int n, int pattern) {
    for (int i = 0; i < n; i++) {
        float v = nrand();
        if (pattern == 1) v = v * v * v;                 /* heavy tails */
        if (pattern == 2) v *= 1e-5f;                    /* tiny */
        if (pattern == 3) v *= 3e3f;                     /* large (fp16 scales still finite) */
        if (pattern == 4 && i % 97 == 5) v *= 100.0f;    /* outliers */
        x[i] = v;
    }
}

static const r1_type k_types[] = {R1_TYPE_F32, R1_TYPE_F16, R1_TYPE_BF16, R1_TYPE_Q4_0, R1_TYPE_Q4_1,
                                  R1_TYPE_Q5_0, R1_TYPE_Q5_1, R1_TYPE_Q8_0, R1_TYPE_Q2_K, R1_TYPE_Q3_K,
                                  R1_TYPE_Q4_K, R1_TYPE_Q5_K, R1_TYPE_Q6_K, R1_TYPE_IQ4_NL, R1_TYPE_IQ4_XS};
#define N_TYPES (int)(sizeof k_types / sizeof k_types[0])

/* Every ISA kernel vs the scalar reference on the same quantized inputs. */
static void test_simd_matches_scalar(void) {
    static const int blocks[] = {1, 3, 7, 33};
    int n_checked = 0;
    for (int isa = R1_ISA_AVX2; isa <= R1_ISA_NEON; isa++) {
        if (!r1_type_get_traits_isa(R1_TYPE_F32, (r1_isa)isa)) continue;
        for (int ti = 0; ti < N_TYPES; ti++) {
            const r1_type_traits *ref = r1_type_get_traits_isa(k_types[ti], R1_ISA_SCALAR);
            const r1_type_traits *simd = r1_type_get_traits_isa(k_types[ti], (r1_isa)isa);
            const r1_type_traits *act = r1_type_get_traits_isa(ref->vec_dot_type, R1_ISA_SCALAR);
            REQUIRE(ref && simd && act, "traits missing");
            int blk = ref->blck_size > act->blck_size ? ref->blck_size : act->blck_size;
            if (blk == 1) blk = 32;
            for (size_t bi = 0; bi < sizeof blocks / sizeof blocks[0]; bi++)
                for (int pattern = 0; pattern < 5; pattern++)
                    for (int extra = 0; extra < (ref->blck_size == 1 ? 2 : 1); extra++) {
                        int n = blocks[bi] * blk + extra * 13;   /* float types: odd tails too */
                        float *x = malloc(n * 4), *y = malloc(n * 4), *xd = malloc(n * 4), *yd = malloc(n * 4);
                        void *qx = malloc(r1_row_size(k_types[ti], n));   /* exact: ASan catches over-reads */
                        void *qy = malloc(r1_row_size(ref->vec_dot_type, n));
                        fill(x, n, pattern);
                        fill(y, n, pattern == 3 ? 0 : pattern);
                        ref->from_float_ref(x, qx, n);
                        act->from_float_ref(y, qy, n);
                        ref->to_float(qx, xd, n);
                        act->to_float(qy, yd, n);
                        double mag = 0;
                        for (int i = 0; i < n; i++) mag += fabs((double)xd[i] * yd[i]);
                        float r = NAN, s = NAN;
                        ref->vec_dot_ref(n, &r, qx, qy);
                        simd->vec_dot(n, &s, qx, qy);
                        CHECK(isfinite(s) && fabs((double)r - s) <= 2e-5 * mag + 1e-30,
                              "%s %s n=%d pattern %d: ref %.9g simd %.9g (mag %g)", r1_isa_name((r1_isa)isa),
                              ref->name, n, pattern, r, s, mag);
                        n_checked++;
                        free(x); free(y); free(xd); free(yd); free(qx); free(qy);
                    }
        }
    }
    printf("  simd vs scalar: %d kernel calls checked (active isa %s)\n", n_checked, r1_isa_name(r1_isa_active()));
}

/* r1_gemm (batched kernels where an ISA has them, else vec_dot) vs vec_dot_ref per pair. */
static void test_gemm(void) {
    enum { NR = 5, NB = 3 };
    for (int isa = R1_ISA_SCALAR; isa <= R1_ISA_NEON; isa++) {
        if (!r1_type_get_traits_isa(R1_TYPE_F32, (r1_isa)isa)) continue;
        for (int ti = 0; ti < N_TYPES; ti++) {
            const r1_type_traits *t = r1_type_get_traits_isa(k_types[ti], (r1_isa)isa);
            const r1_type_traits *act = r1_type_get_traits_isa(t->vec_dot_type, R1_ISA_SCALAR);
            int n = NB * (t->blck_size > act->blck_size ? t->blck_size : act->blck_size);
            if (n < 96) n = 96;
            static const int ncs[] = {1, 4, 6, 9};
            for (size_t ci = 0; ci < 4; ci++) {
                int nc = ncs[ci];
                size_t ws = r1_row_size(k_types[ti], n), as = r1_row_size(t->vec_dot_type, n);
                float *x = malloc((size_t)n * 4);
                char *w = malloc(ws * NR), *a = malloc(as * nc);
                float *out = malloc(sizeof(float) * nc * (NR + 2));
                for (int r = 0; r < NR; r++) { fill(x, n, r % 5); t->from_float_ref(x, w + r * ws, n); }
                for (int c = 0; c < nc; c++) { fill(x, n, c % 2); act->from_float_ref(x, a + c * as, n); }
                for (int i = 0; i < nc * (NR + 2); i++) out[i] = NAN;
                r1_gemm(t, n, NR, nc, w, ws, a, as, out, NR + 2);
                for (int c = 0; c < nc; c++)
                    for (int r = 0; r < NR; r++) {
                        float ref;
                        t->vec_dot_ref(n, &ref, w + r * ws, a + c * as);
                        float got = out[c * (NR + 2) + r], xd[4096], yd[4096];
                        t->to_float(w + r * ws, xd, n);
                        act->to_float(a + c * as, yd, n);
                        double mag = 0;
                        for (int i = 0; i < n; i++) mag += fabs((double)xd[i] * yd[i]);
                        CHECK(isfinite(got) && fabs((double)got - ref) <= 2e-5 * mag + 1e-30,
                              "%s %s nc=%d r=%d c=%d: %.9g vs %.9g", r1_isa_name((r1_isa)isa), t->name, nc, r, c, got, ref);
                    }
                CHECK(isnan(out[NR]) && isnan(out[NR + 1]), "gemm wrote outside ldo rows");
                free(x); free(w); free(a); free(out);
            }
        }
    }
}

/* SIMD activation quantizers must produce exactly the reference bytes. Patterns 5..12 aim at
 * the rounding and max-selection corners: values that land exactly on .5 after scaling
 * (several scales), the largest |x| occurring twice with opposite signs (first one wins
 * in Q8_K), a negative or positive max in the last lane of a block, all-equal blocks, a
 * single non-zero, subnormals beside a tiny max, huge values (fp16 scale overflows to
 * inf), integers, and the
 * heavy-tailed data at every block count 1..9 (n = 256 k). */
static void test_activation_quantizers(void) {
    static const r1_type acts[] = {R1_TYPE_Q8_0, R1_TYPE_Q8_1, R1_TYPE_Q8_K};
    for (int isa = R1_ISA_SCALAR; isa <= R1_ISA_NEON; isa++)
        for (size_t a = 0; a < 3; a++) {
            const r1_type_traits *t = r1_type_get_traits_isa(acts[a], (r1_isa)isa);
            if (!t) continue;
            for (int pattern = 0; pattern < 13 + 9; pattern++) {
                int n = pattern >= 13 ? 256 * (pattern - 12) : 7 * 256;
                float x[9 * 256];
                fill(x, n, pattern >= 13 ? 1 : pattern % 5);
                if (pattern == 0) for (int i = 0; i < 256; i++) x[i] = 0;          /* zero block */
                if (pattern == 1) { x[3] = 2.0f; x[9] = -2.0f; }                    /* ± tie */
                if (pattern == 2) for (int i = 0; i < 64; i++) x[i] = (float)(i % 5) * 0.25f; /* exact .5 */
                if (pattern == 5)   /* q = k + 0.5 exactly: amax 127 * 2^e, x = (k + 0.5) * 2^e */
                    for (int i = 0; i < n; i++) {
                        const float e = ldexpf(1.0f, (i / 32) % 9 - 4);
                        x[i] = (i % 32 == 0 ? 127.0f : (float)((int)(i * 37 % 253) - 126) + 0.5f) * e;
                    }
                if (pattern == 6)   /* largest |x| twice, the negative first / the positive first */
                    for (int blk = 0; blk < n / 32; blk++) { x[32 * blk + 7] = (blk % 2 ? 9.0f : -9.0f); x[32 * blk + 20] = (blk % 2 ? -9.0f : 9.0f); }
                if (pattern == 7)   /* max in the last lane of each 32 / 256 block, sign alternating */
                    for (int blk = 0; blk < n / 32; blk++) x[32 * blk + 31] = blk % 2 ? 50.0f : -50.0f;
                if (pattern == 8) for (int i = 0; i < n; i++) x[i] = (i / 256) % 2 ? -0.75f : 3.0f;   /* all equal */
                if (pattern == 9) for (int i = 0; i < n; i++) x[i] = i % 300 == 17 ? -1e-3f : 0.0f;  /* lone value */
                if (pattern == 10)  /* subnormal values beside a tiny normal max (an all-subnormal block
                                     * would make 1/d infinite: undefined int conversion in the reference) */
                    for (int i = 0; i < n; i++) x[i] = i % 32 == 9 ? 1e-30f * (i % 64 == 9 ? -1.0f : 1.0f) : x[i] * 1e-39f;
                if (pattern == 11) for (int i = 0; i < n; i++) x[i] *= 1e9f;                        /* d > fp16 max */
                if (pattern == 12) for (int i = 0; i < n; i++) x[i] = (float)((i * 7) % 255 - 127); /* integers */
                size_t bytes = r1_row_size(acts[a], n);
                unsigned char *p = malloc(bytes), *q = malloc(bytes);
                memset(p, 0xAA, bytes);
                memset(q, 0x55, bytes);
                t->from_float_ref(x, p, n);
                t->from_float(x, q, n);
                CHECK(!memcmp(p, q, bytes), "%s %s pattern %d", r1_isa_name((r1_isa)isa), t->name, pattern);
                free(p); free(q);
            }
        }
}

/* Round-trip RMSE per format on N(0,1) data; bounds are ~1.3x the values ggml's
 * reference quantizers reach (the oracle test compares with llama.cpp directly). */
static void test_roundtrip_rmse(void) {
    static const struct { r1_type t; double bound; } b[] = {
        {R1_TYPE_F16, 1e-3}, {R1_TYPE_BF16, 5e-3}, {R1_TYPE_Q4_0, 0.11}, {R1_TYPE_Q4_1, 0.10},
        {R1_TYPE_Q5_0, 0.055}, {R1_TYPE_Q5_1, 0.05}, {R1_TYPE_Q8_0, 0.007}, {R1_TYPE_Q8_1, 0.007},
        {R1_TYPE_Q2_K, 0.38}, {R1_TYPE_Q3_K, 0.2}, {R1_TYPE_Q4_K, 0.092}, {R1_TYPE_Q5_K, 0.047},
        {R1_TYPE_Q6_K, 0.023}, {R1_TYPE_Q8_K, 0.009}, {R1_TYPE_IQ4_NL, 0.099}, {R1_TYPE_IQ4_XS, 0.1}};
    const int n = 256 * 64;
    float *x = malloc(n * 4), *y = malloc(n * 4);
    fill(x, n, 0);
    printf("  %-8s %8s %10s %8s\n", "type", "bits/w", "rmse", "bound");
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        const r1_type_traits *t = r1_type_get_traits(b[i].t);
        REQUIRE(t && t->from_float && t->to_float, "traits missing");
        void *q = malloc(r1_row_size(b[i].t, n));
        t->from_float(x, q, n);
        for (int j = 0; j < n; j++) y[j] = NAN;
        t->to_float(q, y, n);
        double se = 0;
        for (int j = 0; j < n; j++) se += (double)(y[j] - x[j]) * (y[j] - x[j]);
        double rmse = sqrt(se / n);
        printf("  %-8s %8.4f %10.6f %8.4f\n", t->name, 8.0 * t->type_size / t->blck_size, rmse, b[i].bound);
        CHECK(rmse <= b[i].bound, "%s rmse %g > %g", t->name, rmse, b[i].bound);
        free(q);
    }
    free(x); free(y);
}

static void test_half_conversions(void) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = r1_fp16_to_fp32((uint16_t)h);
        if (isnan(f)) { bad += !isnan(r1_fp16_to_fp32(r1_fp32_to_fp16(f))); continue; }
        bad += r1_fp32_to_fp16(f) != h;
        bad += r1_fp32_to_bf16(r1_bf16_to_fp32((uint16_t)h)) != h && !isnan(r1_bf16_to_fp32((uint16_t)h));
    }
    CHECK(bad == 0, "%d half values do not round-trip", bad);
    CHECK(r1_fp32_to_fp16(65520.0f) == 0x7c00, "unexpected");          /* rounds to inf */
    CHECK(r1_fp32_to_fp16(65519.0f) == 0x7bff, "unexpected");
    CHECK(r1_fp32_to_fp16(1.0f + 1.0f / 2048) == 0x3c00, "unexpected"); /* tie to even */
    CHECK(r1_fp32_to_bf16(1.0f + 1.0f / 256) == 0x3f80, "unexpected");
}

/* The word-operation scale unpackers used by the kernels vs the per-scale definitions. */
static void test_scale_unpack(void) {
    for (int trial = 0; trial < 2000; trial++) {
        uint8_t q[12], sc[8], mn[8];
        for (int k = 0; k < 12; k++) q[k] = (uint8_t)(urand() * 256);
        r1_q4k_scales_mins(q, sc, mn);
        for (int j = 0; j < 8; j++) {
            uint8_t d, m;
            r1_get_scale_min_k4(j, q, &d, &m);
            CHECK(sc[j] == d && mn[j] == m, "q4_K scale %d", j);
        }
        int8_t s3[16];
        r1_q3k_scales(q, s3);
        for (int j = 0; j < 16; j++) {
            int lo = j < 8 ? q[j] & 0xF : q[j - 8] >> 4, hi = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
            CHECK(s3[j] == (lo | hi << 4) - 32, "q3_K scale %d", j);
        }
    }
}

/* SIMD F16/BF16 conversions are bit-identical to the scalar helpers: every half/bfloat
 * value, and F32 inputs covering random bit patterns, rounding ties, overflow, denormals,
 * infinities and NaN payloads. */
static void test_half_simd(void) {
    enum { N = 65536 + 7 };
    static uint16_t h[N], ha[N], hb[N];
    static float fa[N], fb[N];
    for (int i = 0; i < N; i++) h[i] = (uint16_t)i;
    static const uint32_t special[] = {0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffbfffff, 0x477ff000,
                                       0x477fefff, 0x38800000, 0x387fffff, 0x33800000, 0x33000001, 0x00000001,
                                       0x80000000, 0x3f801000, 0x3f803000, 0x3f808000, 0x3f818000};
    static float f[N];
    for (int i = 0; i < N; i++) {
        uint32_t b = (uint32_t)(urand() * 4294967296.0);
        if (i < (int)(sizeof special / sizeof special[0])) b = special[i];
        memcpy(&f[i], &b, 4);
    }
    for (int isa = R1_ISA_SCALAR; isa <= R1_ISA_NEON; isa++) {
        for (int ti = 0; ti < 2; ti++) {
            r1_type ty = ti ? R1_TYPE_BF16 : R1_TYPE_F16;
            const r1_type_traits *t = r1_type_get_traits_isa(ty, (r1_isa)isa);
            if (!t) continue;
            const r1_type_traits *ref = r1_type_get_traits_isa(ty, R1_ISA_SCALAR);
            t->to_float(h, fa, N);
            ref->to_float(h, fb, N);
            CHECK(!memcmp(fa, fb, sizeof fa), "%s %s to_float", r1_isa_name((r1_isa)isa), t->name);
            t->from_float(f, ha, N);
            ref->from_float(f, hb, N);
            int bad = 0;
            for (int i = 0; i < N; i++) bad += ha[i] != hb[i];
            CHECK(bad == 0, "%s %s from_float: %d differ", r1_isa_name((r1_isa)isa), t->name, bad);
        }
    }
}

static void test_traits(void) {
    CHECK(r1_type_get_traits((r1_type)99) == NULL, "unexpected");
    CHECK(r1_type_get_traits(R1_TYPE_IQ2_XXS) == NULL, "unexpected");          /* not supported */
    CHECK(r1_row_size(R1_TYPE_Q4_K, 4096) == 16 * 144, "unexpected");
    CHECK(r1_row_size(R1_TYPE_Q4_K, 100) == 0, "unexpected");
    CHECK(r1_row_size(R1_TYPE_Q8_0, 64) == 68, "unexpected");
    CHECK(!strcmp(r1_type_name(R1_TYPE_Q6_K), "q6_K"), "name");
    CHECK(r1_type_get_traits_isa(R1_TYPE_F32, R1_ISA_SCALAR) != NULL, "unexpected");
#if defined(__x86_64__)
    CHECK(r1_type_get_traits_isa(R1_TYPE_F32, R1_ISA_NEON) == NULL, "unexpected");
#else
    CHECK(r1_type_get_traits_isa(R1_TYPE_F32, R1_ISA_AVX2) == NULL, "unexpected");
#endif
    const char *e = getenv("R1_ISA");
    if (!e || !*e) {  /* without R1_ISA the active level is the best available */
        int best = R1_ISA_SCALAR;
        for (int i = 1; i <= R1_ISA_NEON; i++) if (r1_type_get_traits_isa(R1_TYPE_F32, (r1_isa)i)) best = i;
        CHECK(r1_isa_active() == (r1_isa)best, "active %s", r1_isa_name(r1_isa_active()));
    } else {  /* R1_ISA names a level: it is active if this CPU has it, else a lower one */
        for (int i = 0; i <= R1_ISA_NEON; i++)
            if (!strcmp(e, r1_isa_name((r1_isa)i))) {
                if (r1_type_get_traits_isa(R1_TYPE_F32, (r1_isa)i))
                    CHECK(r1_isa_active() == (r1_isa)i, "R1_ISA=%s but active %s", e, r1_isa_name(r1_isa_active()));
                else CHECK(r1_isa_active() < (r1_isa)i || i == R1_ISA_NEON, "R1_ISA=%s gave %s", e, r1_isa_name(r1_isa_active()));
            }
    }
    for (int t = 0; t < 40; t++) {
        const r1_type_traits *tr = r1_type_get_traits((r1_type)t);
        if (!tr) continue;
        CHECK(tr->to_float && tr->blck_size > 0 && tr->type_size > 0, "%s", tr->name);
        if (tr->vec_dot_ref) CHECK(tr->vec_dot && r1_type_get_traits(tr->vec_dot_type)->from_float, "%s", tr->name);
    }
}

int main(void) {
    RUN(test_traits);
    RUN(test_scale_unpack);
    RUN(test_half_conversions);
    RUN(test_half_simd);
    RUN(test_roundtrip_rmse);
    RUN(test_activation_quantizers);
    RUN(test_simd_matches_scalar);
    RUN(test_gemm);
    return TEST_SUMMARY();
}
