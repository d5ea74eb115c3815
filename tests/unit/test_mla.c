/*
 * test_mla.c — Multi-head Latent Attention against a naive double-precision reference
 * written from the definitions (expanded per-head keys/values, DeepSeek's YaRN):
 * both query paths (plain and low-rank), both GGUF up-projection layouts (attn_kv_b and
 * attn_k_b/attn_v_b), absorbed and expanded forms, prefill then decode past YaRN's
 * original context, a second multi-token chunk after a prefix, both attention kernel
 * variants (8-wide, AVX-512), F16 cache, RoPE pairing,
 * YaRN constants, context-full error.
 */
#include "mla.h"
#include "test.h"
#include <math.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>

/* A test runner for r1_par: one pthread per worker per call. g_par NULL = serial. */
typedef struct { r1_par_fn fn; void *arg; int i, n; } par_task;
static void *par_thread(void *p) { par_task *t = p; t->fn(t->arg, t->i, t->n); return NULL; }
static void par_run(void *pool, int n, r1_par_fn fn, void *arg) {
    (void)pool;
    pthread_t th[16];
    par_task tk[16];
    for (int i = 0; i < n; i++) { tk[i] = (par_task){fn, arg, i, n}; pthread_create(&th[i], NULL, par_thread, &tk[i]); }
    for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
}
static const r1_par g_par3 = {par_run, NULL, 3, NULL};
static const r1_par *g_par = NULL;
static int g_simd = -1;   /* >= 0: force r1_mla.simd (attention kernel variant) */

static uint64_t g_rng = 0x243F6A8885A308D3ull;
static float frand(float a) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return a * (2.0f * (float)((g_rng >> 40) / 16777216.0) - 1.0f);
}
static void fill(float *p, size_t n, float a) { for (size_t i = 0; i < n; i++) p[i] = frand(a); }

enum { E = 32, H = 4, DN = 16, DR = 8, DV = 12, R = 24, QR = 20, NPOS = 40 };

/* the model's matrices in their mathematical form (row-major out × in) */
typedef struct {
    int q_lora;
    float wq[H * (DN + DR) * E], wqa[QR * E], qnorm[QR], wqb[H * (DN + DR) * QR];
    float wkva[(R + DR) * E], kvnorm[R];
    float wuk[H][DN][R], wuv[H][DV][R];
    float wo[E * H * DV];
    /* the same up-projections in the two GGUF layouts */
    float kv_b[H * (DN + DV) * R], k_b[H * R * DN], v_b[H * DV * R];
} model_w;

static void model_init(model_w *m, int q_lora) {
    m->q_lora = q_lora;
    fill(m->wq, R1_ARRAY_LEN(m->wq), 0.3f);
    fill(m->wqa, R1_ARRAY_LEN(m->wqa), 0.3f);
    for (int i = 0; i < QR; i++) m->qnorm[i] = 1.0f + frand(0.2f);
    fill(m->wqb, R1_ARRAY_LEN(m->wqb), 0.3f);
    fill(m->wkva, R1_ARRAY_LEN(m->wkva), 0.3f);
    for (int i = 0; i < R; i++) m->kvnorm[i] = 1.0f + frand(0.2f);
    fill(&m->wuk[0][0][0], H * DN * R, 0.3f);
    fill(&m->wuv[0][0][0], H * DV * R, 0.3f);
    fill(m->wo, R1_ARRAY_LEN(m->wo), 0.3f);
    for (int h = 0; h < H; h++) {
        for (int d = 0; d < DN + DV; d++)
            for (int r = 0; r < R; r++)
                m->kv_b[(h * (DN + DV) + d) * R + r] = d < DN ? m->wuk[h][d][r] : m->wuv[h][d - DN][r];
        for (int r = 0; r < R; r++)
            for (int d = 0; d < DN; d++) m->k_b[(h * R + r) * DN + d] = m->wuk[h][d][r];
        for (int j = 0; j < DV; j++)
            for (int r = 0; r < R; r++) m->v_b[(h * DV + j) * R + r] = m->wuv[h][j][r];
    }
}

static r1_mla_config config(int q_lora, bool yarn) {
    r1_mla_config c = {E, H, q_lora, R, DN, DR, DV, 1e-6f, 10000.0f, yarn, 4.0f, 16, 32.0f, 1.0f, 0.0707f};
    return c;
}

static void bind(const model_w *m, r1_mla_layout layout, r1_mla_weights *w) {
    memset(w, 0, sizeof *w);
    r1_wmat_init(&w->wq, R1_TYPE_F32, m->wq, E, H * (DN + DR), "wq", NULL);
    r1_wmat_init(&w->wq_a, R1_TYPE_F32, m->wqa, E, QR, "wqa", NULL);
    r1_wmat_init(&w->wq_b, R1_TYPE_F32, m->wqb, QR, H * (DN + DR), "wqb", NULL);
    w->q_a_norm = m->qnorm;
    r1_wmat_init(&w->wkv_a, R1_TYPE_F32, m->wkva, E, R + DR, "wkva", NULL);
    w->kv_a_norm = m->kvnorm;
    w->layout = layout;
    r1_wmat_init(&w->wkv_b, R1_TYPE_F32, m->kv_b, R, H * (DN + DV), "kv_b", NULL);
    r1_wmat_init(&w->wk_b, R1_TYPE_F32, m->k_b, DN, H * R, "k_b", NULL);
    r1_wmat_init(&w->wv_b, R1_TYPE_F32, m->v_b, R, H * DV, "v_b", NULL);
    r1_wmat_init(&w->wo, R1_TYPE_F32, m->wo, H * DV, E, "wo", NULL);
}

/* ---- naive reference (double) --------------------------------------------------------- */
static void matvec(const float *w, const double *x, int rows, int cols, double *y) {
    for (int r = 0; r < rows; r++) {
        double a = 0;
        for (int c = 0; c < cols; c++) a += (double)w[r * cols + c] * x[c];
        y[r] = a;
    }
}
static void rmsn(double *x, const float *w, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double s = 1 / sqrt(ss / n + 1e-6);
    for (int i = 0; i < n; i++) x[i] *= s * w[i];
}
/* DeepSeek's precompute_freqs_cis + apply_rotary_emb, written from the formulas */
static void ref_rope(double *x, int pos, const r1_mla_config *c) {
    for (int i = 0; i < DR / 2; i++) {
        double f = 1.0 / pow(c->freq_base, (2.0 * i) / DR);
        if (c->yarn) {
            double lo = floor(DR * log(c->yarn_orig_ctx / (c->yarn_beta_fast * 2 * M_PI)) / (2 * log(c->freq_base)));
            double hi = ceil(DR * log(c->yarn_orig_ctx / (c->yarn_beta_slow * 2 * M_PI)) / (2 * log(c->freq_base)));
            lo = fmax(lo, 0);
            hi = fmin(hi, DR - 1);
            if (lo == hi) hi += 0.001;
            double smooth = 1 - fmin(fmax((i - lo) / (hi - lo), 0), 1);
            f = f / c->yarn_factor * (1 - smooth) + f * smooth;
        }
        double a = x[2 * i], b = x[2 * i + 1], th = pos * f;
        x[2 * i] = a * cos(th) - b * sin(th);
        x[2 * i + 1] = a * sin(th) + b * cos(th);
    }
}

/* Runs tokens 0..n-1 (inputs xs) through the reference; out[t] for each. */
static void ref_mla(const model_w *m, const r1_mla_config *c, const float *xs, int n, double *out) {
    static double C[NPOS][R], KR[NPOS][DR];
    double ms = c->yarn ? 1 + c->yarn_log_mul * log(c->yarn_factor) : 1;
    double scale = ms * ms / sqrt(DN + DR);
    for (int t = 0; t < n; t++) {
        double x[E], q[H * (DN + DR)], qa[QR], kv[R + DR], o[H * DV];
        for (int i = 0; i < E; i++) x[i] = xs[t * E + i];
        if (m->q_lora) {
            matvec(m->wqa, x, QR, E, qa);
            rmsn(qa, m->qnorm, QR);
            matvec(m->wqb, qa, H * (DN + DR), QR, q);
        } else {
            matvec(m->wq, x, H * (DN + DR), E, q);
        }
        matvec(m->wkva, x, R + DR, E, kv);
        rmsn(kv, m->kvnorm, R);
        ref_rope(kv + R, t, c);
        memcpy(C[t], kv, sizeof(double) * R);
        memcpy(KR[t], kv + R, sizeof(double) * DR);
        for (int h = 0; h < H; h++) {
            double *qh = q + h * (DN + DR);
            ref_rope(qh + DN, t, c);
            double s[NPOS], mx = -1e300, z = 0;
            for (int j = 0; j <= t; j++) {
                double a = 0;
                for (int d = 0; d < DN; d++) {
                    double k = 0;
                    for (int r = 0; r < R; r++) k += (double)m->wuk[h][d][r] * C[j][r];
                    a += qh[d] * k;
                }
                for (int d = 0; d < DR; d++) a += qh[DN + d] * KR[j][d];
                s[j] = a * scale;
                mx = fmax(mx, s[j]);
            }
            for (int j = 0; j <= t; j++) z += (s[j] = exp(s[j] - mx));
            for (int d = 0; d < DV; d++) {
                double a = 0;
                for (int j = 0; j <= t; j++) {
                    double v = 0;
                    for (int r = 0; r < R; r++) v += (double)m->wuv[h][d][r] * C[j][r];
                    a += s[j] / z * v;
                }
                o[h * DV + d] = a;
            }
        }
        matvec(m->wo, o, E, H * DV, out + t * E);
    }
}

static double rel_err(const float *a, const double *b, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i]; }
    return sqrt(num / (den > 0 ? den : 1));
}

/* prefill n_pre tokens in one call, then n_mid tokens in a second call at position n_pre,
 * then decode the rest one by one; compare every output */
static double run_case2(int q_lora, r1_mla_layout layout, r1_mla_mode mode, r1_type ct, bool yarn, int n_pre,
                        int n_mid) {
    static model_w m;
    model_init(&m, q_lora);
    r1_mla_config c = config(q_lora, yarn);
    r1_mla mla;
    if (r1_mla_init(&mla, &c, "test", NULL) != R1_OK) return 1e9;
    if (g_simd >= 0) mla.simd = g_simd;
    r1_mla_weights w;
    bind(&m, layout, &w);
    float xs[NPOS * E], out[NPOS * E];
    fill(xs, NPOS * E, 1.0f);
    void *buf = calloc(NPOS, r1_mla_cache_row_bytes(&c, ct));
    r1_mla_cache cache = {ct, buf, NPOS};
    for (int i = 0; i < NPOS * E; i++) out[i] = NAN;
    r1_status st = r1_mla_forward(&mla, &w, &cache, xs, n_pre, 0, out, mode, g_par, NULL);
    if (!st && n_mid > 0)
        st = r1_mla_forward(&mla, &w, &cache, xs + n_pre * E, n_mid, n_pre, out + n_pre * E, mode, g_par, NULL);
    for (int t = n_pre + n_mid; t < NPOS && !st; t++)
        st = r1_mla_forward(&mla, &w, &cache, xs + t * E, 1, t, out + t * E, mode, g_par, NULL);
    free(buf);
    if (st) return 1e9;
    static double ref[NPOS * E];
    ref_mla(&m, &c, xs, NPOS, ref);
    double worst = 0;
    for (int t = 0; t < NPOS; t++) worst = fmax(worst, rel_err(out + t * E, ref + t * E, E));
    return worst;
}

static double run_case(int q_lora, r1_mla_layout layout, r1_mla_mode mode, r1_type ct, bool yarn, int n_pre) {
    return run_case2(q_lora, layout, mode, ct, yarn, n_pre, 0);
}

static void test_vs_reference(void) {
    const r1_mla_layout layouts[2] = {R1_MLA_LAYOUT_KV_B, R1_MLA_LAYOUT_SPLIT};
    const r1_mla_mode modes[3] = {R1_MLA_ABSORBED, R1_MLA_EXPANDED, R1_MLA_AUTO};
    for (int ql = 0; ql < 2; ql++)
        for (int li = 0; li < 2; li++)
            for (int mi = 0; mi < 3; mi++)
                for (int yarn = 0; yarn < 2; yarn++) {
                    double e = run_case(ql ? QR : 0, layouts[li], modes[mi], R1_TYPE_F32, yarn, 12);
                    CHECK(e <= 1e-5, "q_lora %d layout %d mode %d yarn %d: rel err %g", ql ? QR : 0, li,
                          (int)modes[mi], yarn, e);
                }
}

/* absorbed == expanded on the same inputs, decode only and prefill only */
static void test_absorbed_equals_expanded(void) {
    for (int n_pre = 1; n_pre <= NPOS; n_pre += NPOS - 1) {
        double a = run_case(QR, R1_MLA_LAYOUT_SPLIT, R1_MLA_ABSORBED, R1_TYPE_F32, true, n_pre);
        double b = run_case(QR, R1_MLA_LAYOUT_SPLIT, R1_MLA_EXPANDED, R1_TYPE_F32, true, n_pre);
        CHECK(a <= 1e-5 && b <= 1e-5, "n_pre %d: absorbed %g expanded %g", n_pre, a, b);
    }
}

/* a second multi-token chunk after a prefix (pos0 > 0): the expanded form's causal blocks
 * start inside the cache; chunks shorter and longer than its 16-token block */
static void test_chunked_prefill(void) {
    const r1_mla_layout layouts[2] = {R1_MLA_LAYOUT_KV_B, R1_MLA_LAYOUT_SPLIT};
    const int split[3][2] = {{12, 21}, {3, 37}, {17, 9}};
    for (int li = 0; li < 2; li++)
        for (int s = 0; s < 3; s++)
            for (int mi = 0; mi < 2; mi++) {
                const r1_mla_mode mode = mi ? R1_MLA_EXPANDED : R1_MLA_ABSORBED;
                double e = run_case2(QR, layouts[li], mode, R1_TYPE_F32, true, split[s][0], split[s][1]);
                CHECK(e <= 1e-5, "layout %d chunks %d+%d mode %d: rel err %g", li, split[s][0], split[s][1], (int)mode, e);
            }
}

/* both attention kernel variants (8-wide clones; AVX-512 where the CPU runs it) on the
 * reference cases: dims 24/32/24/12 leave tails for the 16-wide masks and the 4-head tiles */
static void test_kernel_variants(void) {
    const int n = r1_isa_active() == R1_ISA_AVX512 ? 2 : 1;
    if (n == 1) printf("  (AVX-512 attention kernels not available here: only the 8-wide ones tested)\n");
    for (int v = 0; v < n; v++) {
        g_simd = v;
        test_vs_reference();
        test_chunked_prefill();
        g_par = &g_par3;
        test_chunked_prefill();
        g_par = NULL;
    }
    g_simd = -1;
}

static void test_f16_cache(void) {
    double e = run_case(0, R1_MLA_LAYOUT_KV_B, R1_MLA_ABSORBED, R1_TYPE_F16, true, 5);
    CHECK(e <= 5e-3, "f16 cache rel err %g", e);
    e = run_case(0, R1_MLA_LAYOUT_KV_B, R1_MLA_EXPANDED, R1_TYPE_F16, true, 5);
    CHECK(e <= 5e-3, "f16 cache (expanded) rel err %g", e);
}

static void test_rope_pairs_and_yarn(void) {
    r1_mla_config c = config(0, false);
    r1_mla m;
    REQUIRE(r1_mla_init(&m, &c, "t", NULL) == R1_OK, "init");
    float x[DR] = {1, 0, 1, 0, 1, 0, 1, 0};
    r1_mla_rope(&m, x, 3);   /* pair 0 has frequency 1: rotates by 3 rad */
    CHECK_NEAR(x[0], cos(3.0), 1e-6);
    CHECK_NEAR(x[1], sin(3.0), 1e-6);
    CHECK_NEAR(m.kq_scale, 1 / sqrt(24.0), 1e-7);
    c = config(0, true);   /* orig 16, base 1e4, Dr 8: low = 0, high = 1 */
    REQUIRE(r1_mla_init(&m, &c, "t", NULL) == R1_OK, "init yarn");
    CHECK_NEAR(m.freq[0], 1.0, 1e-12);                       /* ramp 0: extrapolated */
    CHECK_NEAR(m.freq[1], pow(10000, -2.0 / 8) / 4, 1e-12);  /* ramp 1: f / factor   */
    double ms = 1 + 0.0707 * log(4.0);
    CHECK_NEAR(m.kq_scale, ms * ms / sqrt(24.0), 1e-7);
    /* V3's numbers: Dr 64, base 10000, orig 4096, factor 40: low 10, high 23 */
    c.qk_rope = 64;
    c.yarn_orig_ctx = 4096;
    c.yarn_factor = 40;
    REQUIRE(r1_mla_init(&m, &c, "t", NULL) == R1_OK, "init v3");
    CHECK_NEAR(m.freq[5], pow(10000, -10.0 / 64), 1e-15);          /* i < low: untouched */
    CHECK_NEAR(m.freq[30], pow(10000, -60.0 / 64) / 40, 1e-15);    /* i > high: divided  */
    double r = (16 - 10) / 13.0;
    CHECK_NEAR(m.freq[16], pow(10000, -32.0 / 64) * (r / 40 + 1 - r), 1e-15);
}

static void test_errors(void) {
    r1_mla_config c = config(0, false);
    r1_mla m;
    r1_error e;
    c.qk_rope = 7;
    CHECK(r1_mla_init(&m, &c, "x.gguf", &e) == R1_ERR_FORMAT, "odd rope dim");
    CHECK(strstr(e.msg, "x.gguf") != NULL, "%s", e.msg);
    c = config(0, false);
    REQUIRE(r1_mla_init(&m, &c, "x.gguf", NULL) == R1_OK, "init");
    static model_w mw;
    model_init(&mw, 0);
    r1_mla_weights w;
    bind(&mw, R1_MLA_LAYOUT_KV_B, &w);
    float buf[4 * (R + DR)], x[2 * E], out[2 * E];
    fill(x, 2 * E, 1);
    r1_mla_cache cache = {R1_TYPE_F32, buf, 4};
    CHECK(r1_mla_forward(&m, &w, &cache, x, 2, 3, out, R1_MLA_AUTO, g_par, &e) == R1_ERR_CONTEXT_FULL, "full");
    CHECK(r1_mla_forward(&m, &w, &cache, x, 2, 2, out, R1_MLA_AUTO, g_par, &e) == R1_OK, "fits");
    CHECK(r1_mla_cache_row_bytes(&c, R1_TYPE_F16) == 2 * (R + DR), "row bytes");
    /* DeepSeek-V3/R1: 61 layers x (512 + 64) x 2 bytes = 70272 bytes = 68.6 KiB per token at 16 bits */
    r1_mla_config v3 = c;
    v3.kv_lora_rank = 512;
    v3.qk_rope = 64;
    CHECK(61 * r1_mla_cache_row_bytes(&v3, R1_TYPE_F16) == 70272, "V3 F16 bytes/token");
    CHECK(61 * r1_mla_cache_row_bytes(&v3, R1_TYPE_F32) == 140544, "V3 F32 bytes/token");
}

/* reference checks with heads and rows split over 3 threads (4 heads: uneven split) */
static void test_threaded(void) {
    g_par = &g_par3;
    test_chunked_prefill();
    test_vs_reference();
    test_f16_cache();
    g_par = NULL;
}

/* With an arena in the runner (as the engine's context has), F16 up-projections (so the
 * attention workers' products convert activations in their own arenas): after a call and
 * r1_arena_fit, the same call (same position: the cache row is rewritten with the same
 * values) allocates nothing and gives the same bits; in AUTO mode a decode loop allocates
 * nothing after its first step. Both layouts and forms, serial and 3 workers. */
static void test_no_heap_after_fit(void) {
    static model_w m;
    model_init(&m, QR);
    r1_mla_config c = config(QR, true);
    r1_mla mla;
    REQUIRE(r1_mla_init(&mla, &c, "test", NULL) == R1_OK, "-");
    static uint16_t h_kv_b[R1_ARRAY_LEN(m.kv_b)], h_k_b[R1_ARRAY_LEN(m.k_b)], h_v_b[R1_ARRAY_LEN(m.v_b)];
    const r1_type_traits *f16 = r1_type_get_traits(R1_TYPE_F16);
    f16->from_float(m.kv_b, h_kv_b, R1_ARRAY_LEN(m.kv_b));
    f16->from_float(m.k_b, h_k_b, R1_ARRAY_LEN(m.k_b));
    f16->from_float(m.v_b, h_v_b, R1_ARRAY_LEN(m.v_b));
    float xs[NPOS * E], out1[NPOS * E], out2[E];
    fill(xs, NPOS * E, 1.0f);
    const r1_mla_layout layouts[2] = {R1_MLA_LAYOUT_KV_B, R1_MLA_LAYOUT_SPLIT};
    for (int li = 0; li < 2; li++)
        for (int mi = 0; mi < 3; mi++)
            for (int pi = 0; pi < 2; pi++) {
                const r1_mla_mode mode = mi == 0 ? R1_MLA_ABSORBED : mi == 1 ? R1_MLA_EXPANDED : R1_MLA_AUTO;
                r1_mla_weights w;
                bind(&m, layouts[li], &w);
                r1_wmat_init(&w.wkv_b, R1_TYPE_F16, h_kv_b, R, H * (DN + DV), "kv_b", NULL);
                r1_wmat_init(&w.wk_b, R1_TYPE_F16, h_k_b, DN, H * R, "k_b", NULL);
                r1_wmat_init(&w.wv_b, R1_TYPE_F16, h_v_b, R, H * DV, "v_b", NULL);
                r1_arena a = {0};
                const r1_par par = {pi ? par_run : NULL, NULL, pi ? 3 : 1, &a};
                void *buf = calloc(NPOS, r1_mla_cache_row_bytes(&c, R1_TYPE_F32));
                r1_mla_cache cache = {R1_TYPE_F32, buf, NPOS};
                /* prefill 12, twice at the same position */
                REQUIRE(r1_mla_forward(&mla, &w, &cache, xs, 12, 0, out1, mode, &par, NULL) == R1_OK, "-");
                CHECK(a.n_heap > 0 && a.used == 0 && a.depth == 0, "first call: malloc, all given back");
                REQUIRE(r1_arena_fit(&a), "-");
                a.n_heap = 0;
                static float out1b[12 * E];
                REQUIRE(r1_mla_forward(&mla, &w, &cache, xs, 12, 0, out1b, mode, &par, NULL) == R1_OK, "-");
                CHECK(a.n_heap == 0, "layout %d mode %d par %d: prefill again: %llu mallocs", li, mi, pi,
                      (unsigned long long)a.n_heap);
                CHECK(memcmp(out1, out1b, sizeof out1b) == 0, "same bits");
                /* decode: each step twice; the repeat allocates nothing */
                for (int t = 12; t < 20; t++) {
                    r1_arena_fit(&a);
                    a.n_heap = 0;
                    REQUIRE(r1_mla_forward(&mla, &w, &cache, xs + t * E, 1, t, out1 + t * E, mode, &par, NULL) == R1_OK, "-");
                    if (mode != R1_MLA_EXPANDED && t > 12)   /* expanded scratch grows with the cache */
                        CHECK(a.n_heap == 0, "layout %d mode %d par %d: decode step %d: %llu mallocs", li, mi, pi, t,
                              (unsigned long long)a.n_heap);
                    r1_arena_fit(&a);
                    a.n_heap = 0;
                    REQUIRE(r1_mla_forward(&mla, &w, &cache, xs + t * E, 1, t, out2, mode, &par, NULL) == R1_OK, "-");
                    CHECK(a.n_heap == 0, "layout %d mode %d par %d: step %d repeated: %llu mallocs", li, mi, pi, t,
                          (unsigned long long)a.n_heap);
                    CHECK(memcmp(out2, out1 + t * E, sizeof out2) == 0, "step %d: same bits", t);
                }
                static double ref[NPOS * E];
                ref_mla(&m, &c, xs, 20, ref);
                double worst = 0;
                for (int t = 0; t < 20; t++) worst = fmax(worst, rel_err(out1 + t * E, ref + t * E, E));
                CHECK(worst <= 5e-3, "layout %d mode %d par %d: F16 up-projections rel err %g", li, mi, pi, worst);
                free(buf);
                r1_arena_free(&a);
            }
}

int main(void) {
    RUN(test_rope_pairs_and_yarn);
    RUN(test_vs_reference);
    RUN(test_absorbed_equals_expanded);
    RUN(test_chunked_prefill);
    RUN(test_kernel_variants);
    RUN(test_f16_cache);
    RUN(test_errors);
    RUN(test_threaded);
    RUN(test_no_heap_after_fit);
    return TEST_SUMMARY();
}
