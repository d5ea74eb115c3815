/* test_q8r_dec.c — the AVX-512 VNNI product of the 16-row repacked Q8_0 layout
 * (r1_q8r_gemm_avx512, src/simd/q8r_avx512.c) against the scalar reference r1_q8r_gemm_ref,
 * bit for bit: odd and even block counts, one to many groups, 1..17 tokens and token counts
 * past the kernel's activation-table slab, rows longer than that table, unaligned weights
 * and activation strides; outputs NaN-poisoned before each call and nothing written outside
 * [nr) × [nc) at stride ldo (x86-64 builds: the type exists there only). Also the type's traits (R1_TYPE_Q8_0_R16: the kernel in the
 * AVX-512 table, the reference elsewhere) through r1_gemm; r1_q8r_repack_inplace against
 * r1_q8r_repack; and the engine's row splits of a repacked matrix (r1_wmat_mul over several
 * workers, r1_ffn_swiglu / MoE-style SwiGLU) against plain Q8_0. On CPUs or builds without
 * AVX-512 the kernel cases are reported as not run (the traits cases still run). */
#include "moe.h"
#include "quant.h"
#include "quant_impl.h"
#include "quant_q8r.h"
#include "test.h"
#include "test_rand.h"
#include <stdlib.h>

#if defined(__x86_64__)
static void fill_q8_0(block_q8_0 *b, size_t n_blocks) {
    for (size_t i = 0; i < n_blocks; i++) {
        b[i].d = rnd_half();
        rnd_bytes(b[i].qs, sizeof b[i].qs);
    }
    if (n_blocks) { b[0].qs[0] = -128; b[0].qs[1] = 127; b[0].qs[2] = 0; }
}

typedef void (*gemm_fn)(int, int, int, const void *, size_t, const void *, size_t, float *, size_t);

/* One case: kernel f (or r1_gemm through traits tr when f is NULL) vs the reference.
 * woff / aextra: byte offset of the weights in their buffer / padding between activation
 * rows. Returns the number of differing outputs (writes outside count too). */
static int run_case(gemm_fn f, const r1_type_traits *tr, int n, int nr, int nc, size_t woff, size_t aextra) {
    const int nb = n / 32;
    const size_t rb = (size_t)nb * sizeof(block_q8_0), as = rb + aextra, ldo = (size_t)nr + 5;
    block_q8_0 *w = malloc((size_t)nr * rb);
    char *a = malloc((size_t)nc * as + 1);
    char *wbuf = malloc((size_t)nr * rb + woff);
    uint8_t *wp = (uint8_t *)wbuf + woff;
    float *want = malloc(sizeof(float) * ldo * (size_t)nc), *got = malloc(sizeof(float) * ldo * (size_t)nc);
    fill_q8_0(w, (size_t)nr * nb);
    for (int c = 0; c < nc; c++) fill_q8_0((block_q8_0 *)(a + (size_t)c * as), (size_t)nb);
    for (int g = 0; g < nr; g += 16) r1_q8r_repack(wp + (size_t)g * rb, (char *)w + (size_t)g * rb, rb, n);
    for (size_t i = 0; i < ldo * (size_t)nc; i++) want[i] = got[i] = NAN;
    r1_q8r_gemm_ref(n, nr, nc, wp, rb, a, as, want, ldo);
    if (f) f(n, nr, nc, wp, rb, a, as, got, ldo);
    else r1_gemm(tr, n, nr, nc, wp, rb, a, as, got, ldo);
    int bad = 0;
    for (int c = 0; c < nc; c++) {
        for (int r = 0; r < nr; r++) {
            const float x = got[(size_t)c * ldo + r], y = want[(size_t)c * ldo + r];
            if (isnan(y) || memcmp(&x, &y, sizeof x)) {
                if (bad < 3)
                    fprintf(stderr, "  n=%d nr=%d nc=%d r=%d c=%d: %.9g vs %.9g\n", n, nr, nc, r, c, (double)x, (double)y);
                bad++;
            }
        }
        for (size_t r = (size_t)nr; r < ldo; r++) bad += !isnan(got[(size_t)c * ldo + r]);
    }
    free(w); free(a); free(wbuf); free(want); free(got);
    return bad;
}

static bool have_avx512(void) { return r1_type_get_traits_isa(R1_TYPE_Q8_0, R1_ISA_AVX512) != NULL; }

static void test_kernel_sizes(void) {
    if (!have_avx512()) { printf("  (no AVX-512 on this CPU: kernel not run)\n"); return; }
    const int cols[] = {32, 64, 96, 32 * 7, 32 * 45, 1536, 2048, 8960};
    const int rows[] = {16, 32, 80};
    int cases = 0;
    for (size_t ci = 0; ci < sizeof cols / sizeof *cols; ci++)
        for (size_t ri = 0; ri < sizeof rows / sizeof *rows; ri++)
            for (int nc = 1; nc <= 17; nc++) {
                if (cols[ci] >= 2048 && nc > 3 && nc != 9 && nc != 17) continue;   /* big rows: fewer token counts */
                const size_t woff = (size_t)(nc % 3) * 2, aextra = (size_t)(nc % 2) * 6;
                const int bad = run_case(r1_q8r_gemm_avx512, NULL, cols[ci], rows[ri], nc, woff, aextra);
                CHECK(bad == 0, " n=%d nr=%d nc=%d: %d outputs differ", cols[ci], rows[ri], nc, bad);
                cases++;
            }
    printf("  %d kernel cases\n", cases);
}

/* Token counts past the slab of the activation tables (2048 / nb tokens), and rows longer
 * than the tables (nb > 2048: the heap path). */
static void test_kernel_slabs(void) {
    if (!have_avx512()) { printf("  (no AVX-512 on this CPU: kernel not run)\n"); return; }
    CHECK(run_case(r1_q8r_gemm_avx512, NULL, 1536, 32, 45, 0, 0) == 0, " 48 blocks, 45 tokens");
    CHECK(run_case(r1_q8r_gemm_avx512, NULL, 32 * 45, 16, 100, 0, 2) == 0, " 45 blocks, 100 tokens");
    CHECK(run_case(r1_q8r_gemm_avx512, NULL, 32 * 2049, 16, 3, 0, 0) == 0, " 2049 blocks");
    CHECK(run_case(r1_q8r_gemm_avx512, NULL, 32 * 4096, 32, 1, 0, 0) == 0, " 4096 blocks");
}

/* The traits of R1_TYPE_Q8_0_R16 at every ISA level this CPU runs: r1_gemm gives the
 * reference's bits (the level's kernel, or the reference itself), row size = plain Q8_0's,
 * and no per-row kernels. */
static void test_traits(void) {
    const r1_type_traits *p = r1_type_get_traits(R1_TYPE_Q8_0_R16);
    REQUIRE(p != NULL, " no traits for q8_0_r16");
    CHECK(!strcmp(p->name, "q8_0_r16"));
    CHECK(p->blck_size == 32 && p->type_size == 34 && p->vec_dot_type == R1_TYPE_Q8_0);
    CHECK(r1_row_size(R1_TYPE_Q8_0_R16, 1536) == r1_row_size(R1_TYPE_Q8_0, 1536));
    CHECK(p->vec_dot == NULL && p->to_float == NULL && p->gemm != NULL);
    for (int isa = 0; isa < 4; isa++) {
        const r1_type_traits *t = r1_type_get_traits_isa(R1_TYPE_Q8_0_R16, (r1_isa)isa);
        if (!t) continue;
        const int ns[] = {1, 2, 5, 7};   /* below R1_GEMM_BIG_MIN: the level's own kernel, not AMX */
        for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
            const int bad = run_case(NULL, t, 32 * 9, 48, ns[i], 0, 0);
            CHECK(bad == 0, " %s nc=%d: %d outputs differ", r1_isa_name((r1_isa)isa), ns[i], bad);
        }
        printf("  r1_gemm at %s checked\n", r1_isa_name((r1_isa)isa));
    }
}

static void test_repack_inplace(void) {
    const int cols[] = {32, 96, 32 * 45, 1536};
    for (size_t ci = 0; ci < sizeof cols / sizeof *cols; ci++) {
        const int n = cols[ci];
        const size_t gb = r1_q8r_group_bytes(n);
        block_q8_0 *w = malloc(gb);
        uint8_t *want = malloc(gb), *got = malloc(gb), *scratch = malloc(gb);
        fill_q8_0(w, (size_t)16 * (n / 32));
        r1_q8r_repack(want, w, gb / 16, n);
        memcpy(got, w, gb);
        r1_q8r_repack_inplace(got, n, scratch);
        CHECK(!memcmp(got, want, gb), " n=%d: in-place repack differs", n);
        free(w); free(want); free(got); free(scratch);
    }
}

/* A runner that calls the n workers one after another, in reverse order (any order must
 * give the same result: every worker owns its output rows). */
static void serial_run(void *pool, int n, r1_par_fn fn, void *arg) {
    (void)pool;
    for (int i = n - 1; i >= 0; i--) fn(arg, i, n);
}

/* Plain Q8_0 matrix of rows × n (random) and its repacked copy as r1_wmats. */
static void make_pair(int n, int rows, void **plain, void **packed, r1_wmat *wp, r1_wmat *wr) {
    const size_t rb = r1_row_size(R1_TYPE_Q8_0, n);
    *plain = malloc(rb * (size_t)rows);
    *packed = malloc(rb * (size_t)rows);
    fill_q8_0(*plain, (size_t)rows * (n / 32));
    for (int g = 0; g < rows; g += 16) r1_q8r_repack((char *)*packed + (size_t)g * rb, (char *)*plain + (size_t)g * rb, rb, n);
    r1_wmat_init(wp, R1_TYPE_Q8_0, *plain, n, rows, "plain", NULL);
    *wr = *wp;
    wr->type = R1_TYPE_Q8_0_R16;
    wr->data = *packed;
}

static double max_rel(const float *a, const float *b, size_t n) {
    double md = 0, mx = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        md = isnan(d) || d > md ? (isnan(d) ? INFINITY : d) : md;
        mx = fabs((double)b[i]) > mx ? fabs((double)b[i]) : mx;
    }
    return mx > 0 ? md / mx : md;
}

/* r1_wmat_mul on 1..7 workers (row parts cut on groups) and views of whole groups
 * (r1_wmat_rows): the repacked matrix gives the plain one's products. */
static void test_engine_splits(void) {
    const int n = 96, rows = 16 * 13, ntok[] = {1, 3, 12};
    void *plain, *packed;
    r1_wmat wp, wr;
    make_pair(n, rows, &plain, &packed, &wp, &wr);
    REQUIRE(r1_type_get_traits(R1_TYPE_Q8_0_R16) != NULL);
    for (size_t ti = 0; ti < sizeof ntok / sizeof *ntok; ti++) {
        const int nt = ntok[ti];
        float *x = malloc(sizeof(float) * (size_t)n * nt), *y0 = malloc(sizeof(float) * (size_t)rows * nt),
              *y1 = malloc(sizeof(float) * (size_t)rows * nt);
        for (int i = 0; i < n * nt; i++) x[i] = (float)((int)(rnd() % 2001) - 1000) / 1000.0f;
        for (int nw = 1; nw <= 7; nw++) {
            r1_par par = {serial_run, NULL, nw, NULL};
            for (int i = 0; i < rows * nt; i++) y0[i] = y1[i] = NAN;
            CHECK(r1_wmat_mul(&wp, nt, x, (size_t)n, y0, (size_t)rows, &par, NULL) == R1_OK);
            CHECK(r1_wmat_mul(&wr, nt, x, (size_t)n, y1, (size_t)rows, &par, NULL) == R1_OK);
            const double d = max_rel(y1, y0, (size_t)rows * nt);
            CHECK(d <= 1e-5, " %d tokens, %d workers: rel %g", nt, nw, d);
        }
        /* a view of groups 3..7 */
        const r1_wmat vp = r1_wmat_rows(&wp, 48, 80), vr = r1_wmat_rows(&wr, 48, 80);
        r1_par par = {serial_run, NULL, 3, NULL};
        CHECK(r1_wmat_mul(&vp, nt, x, (size_t)n, y0, 80, &par, NULL) == R1_OK);
        CHECK(r1_wmat_mul(&vr, nt, x, (size_t)n, y1, 80, &par, NULL) == R1_OK);
        CHECK(max_rel(y1, y0, (size_t)80 * nt) <= 1e-5, " view, %d tokens", nt);
        free(x); free(y0); free(y1);
    }
    free(plain); free(packed);
}

/* The SwiGLU FFN (the dense layers' and shared experts' path: phase A row blocks, phase B
 * column blocks) with repacked gate/up/down: rows 16·k not multiples of the 64-row blocks. */
static void test_engine_ffn(void) {
    const int E = 160, F = 224, ntok[] = {1, 5, 40};
    void *pg, *kg, *pu, *ku, *pd, *kd;
    r1_wmat gp, gr, up, ur, dp, dr;
    make_pair(E, F, &pg, &kg, &gp, &gr);
    make_pair(E, F, &pu, &ku, &up, &ur);
    make_pair(F, E, &pd, &kd, &dp, &dr);
    for (size_t ti = 0; ti < sizeof ntok / sizeof *ntok; ti++) {
        const int nt = ntok[ti];
        float *x = malloc(sizeof(float) * (size_t)E * nt), *y0 = malloc(sizeof(float) * (size_t)E * nt),
              *y1 = malloc(sizeof(float) * (size_t)E * nt);
        for (int i = 0; i < E * nt; i++) x[i] = (float)((int)(rnd() % 2001) - 1000) / 100.0f;
        for (int nw = 1; nw <= 3; nw += 2) {
            r1_par par = {serial_run, NULL, nw, NULL};
            CHECK(r1_ffn_swiglu(&gp, &up, &dp, x, nt, y0, &par, NULL) == R1_OK);
            CHECK(r1_ffn_swiglu(&gr, &ur, &dr, x, nt, y1, &par, NULL) == R1_OK);
            const double d = max_rel(y1, y0, (size_t)E * nt);
            CHECK(d <= 1e-4, " %d tokens, %d workers: rel %g", nt, nw, d);
        }
        free(x); free(y0); free(y1);
    }
    free(pg); free(kg); free(pu); free(ku); free(pd); free(kd);
}

#endif   /* __x86_64__ */

int main(void) {
#if defined(__x86_64__)
    RUN(test_kernel_sizes);
    RUN(test_kernel_slabs);
    RUN(test_traits);
    RUN(test_repack_inplace);
    RUN(test_engine_splits);
    RUN(test_engine_ffn);
#else
    /* the repacked type exists on x86-64 builds only (quant.c); nothing here is run */
    printf("q8_0_r16: x86-64 only, no case run on this architecture\n");
#endif
    return TEST_SUMMARY();
}
