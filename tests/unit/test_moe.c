/*
 * test_moe.c — DeepSeekMoE routing (hand-made cases: gating kinds, bias used for
 * selection only, group limits under both scoring rules, ties, normalisation/scale,
 * invalid routers) and the batched expert FFN against a naive double-precision
 * implementation (F32 and Q8_0 weights; per-token == batched; only chosen experts read),
 * and large batches (batched kernels, row-block tails, Q4_K with Q8_K activations, with and
 * without shared experts) against a double FFN over the dequantized weights.
 */
#include "moe.h"
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
#include <sys/mman.h>
#include <unistd.h>

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(float a) { /* uniform in [-a, a) */
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return a * (2.0f * (float)((g_rng >> 40) / 16777216.0) - 1.0f);
}
static float logit_of(double p) { return (float)log(p / (1 - p)); } /* sigmoid^-1 */

static r1_moe_router router(int ne, int k, r1_gating g) {
    r1_moe_router r = {ne, k, 1, 1, g, R1_GROUP_SCORE_AUTO, false, 1.0f, NULL};
    return r;
}

static void test_softmax_topk_ties(void) {
    r1_moe_router r = router(4, 2, R1_GATING_SOFTMAX);
    REQUIRE(r1_moe_router_check(&r, "t", NULL) == R1_OK, "-");
    float logits[4] = {1, 3, 2, 3}, sc[8], w[2];
    int32_t ids[2];
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK(ids[0] == 1 && ids[1] == 3, "ties: lower index first, got %d %d", ids[0], ids[1]);
    double z = exp(1) + 2 * exp(3) + exp(2);
    CHECK_NEAR(w[0], exp(3) / z, 1e-6);   /* not normalised, scale 1 (V2-Lite) */
    CHECK_NEAR(w[1], exp(3) / z, 1e-6);
    r.norm = true;
    r.scale = 2.0f;
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK_NEAR(w[0], 1.0, 1e-6);          /* 0.5 each, times 2 */
    CHECK_NEAR(w[1], 1.0, 1e-6);
}

static void test_sigmoid_bias_selects_only(void) {
    r1_moe_router r = router(4, 2, R1_GATING_SIGMOID);
    float bias[4] = {0, 0, 5, 0};
    r.bias = bias;
    r.norm = true;
    r.scale = 2.5f;
    float logits[4] = {2, 1, 0, -1}, sc[8], w[2];
    int32_t ids[2];
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK(ids[0] == 2 && ids[1] == 0, "bias picks expert 2 first: %d %d", ids[0], ids[1]);
    double p2 = 0.5, p0 = 1 / (1 + exp(-2.0));   /* weights: unbiased sigmoid scores */
    CHECK_NEAR(w[0], 2.5 * p2 / (p2 + p0), 1e-6);
    CHECK_NEAR(w[1], 2.5 * p0 / (p2 + p0), 1e-6);
}

/* 8 experts in 4 groups of 2, keep 2 groups, choose 2 experts. Scores (sigmoid):
 * g0 {.9,.1} max .9 sum 1.0 | g1 {.6,.6} max .6 sum 1.2 | g2 {.7,.05} max .7 sum .75 | g3 {.2,.2}
 * MAX keeps g0,g2 → experts 0 (.9), 4 (.7); TOP2_SUM keeps g1,g0 → 0 (.9), 2 (.6, tie with 3). */
static void test_group_rules(void) {
    const double p[8] = {.9, .1, .6, .6, .7, .05, .2, .2};
    float logits[8], sc[16], w[2];
    for (int i = 0; i < 8; i++) logits[i] = logit_of(p[i]);
    int32_t ids[2];
    r1_moe_router r = router(8, 2, R1_GATING_SIGMOID);
    r.n_group = 4;
    r.topk_group = 2;
    r.group_score = R1_GROUP_SCORE_MAX;
    REQUIRE(r1_moe_router_check(&r, "t", NULL) == R1_OK, "-");
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK(ids[0] == 0 && ids[1] == 4, "max rule: %d %d", ids[0], ids[1]);
    r.group_score = R1_GROUP_SCORE_TOP2_SUM;
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK(ids[0] == 0 && ids[1] == 2, "top2-sum rule: %d %d", ids[0], ids[1]);
    CHECK_NEAR(w[0], .9, 1e-6);
    CHECK_NEAR(w[1], .6, 1e-6);
    /* AUTO follows DeepSeek's code: no bias → max; bias → top-2 sum (on biased scores) */
    r.group_score = R1_GROUP_SCORE_AUTO;
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK(ids[0] == 0 && ids[1] == 4, "auto without bias = max: %d %d", ids[0], ids[1]);
    float zero[8] = {0};
    r.bias = zero;
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK(ids[0] == 0 && ids[1] == 2, "auto with bias = top2 sum: %d %d", ids[0], ids[1]);
    /* bias moves a group in: +0.5 on expert 7 makes g3 {.2,.7} sum .9 < 1.0, max .7 */
    float b7[8] = {0, 0, 0, 0, 0, 0, 0, 0.5f};
    r.bias = b7;
    r.group_score = R1_GROUP_SCORE_TOP2_SUM;
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK(ids[0] == 0 && ids[1] == 2, "g3 sum .9 not kept: %d %d", ids[0], ids[1]);
    b7[7] = 1.0f;   /* g3 {.2, 1.2}: sum 1.4 → kept with g1 (1.2); experts 7 (1.2), 2 (.6) */
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK(ids[0] == 7 && ids[1] == 2, "biased group: %d %d", ids[0], ids[1]);
    CHECK_NEAR(w[0], .2, 1e-6);   /* unbiased weight of expert 7 */
}

static void test_group_ties(void) {
    /* all groups equal: the lower groups win, so with 1 group kept experts come from g0 */
    float logits[8] = {0, 0, 0, 0, 0, 0, 0, 0}, sc[16], w[2];
    int32_t ids[2];
    r1_moe_router r = router(8, 2, R1_GATING_SOFTMAX);
    r.n_group = 4;
    r.topk_group = 1;
    REQUIRE(r1_moe_router_check(&r, "t", NULL) == R1_OK, "-");
    r1_moe_route(&r, logits, ids, w, sc);
    CHECK(ids[0] == 0 && ids[1] == 1, "ties: %d %d", ids[0], ids[1]);
    CHECK_NEAR(w[0], 1.0 / 8, 1e-7);
}

static void test_router_check(void) {
    r1_error e;
    r1_moe_router r = router(4, 5, R1_GATING_SOFTMAX);
    CHECK(r1_moe_router_check(&r, "m.gguf", &e) == R1_ERR_FORMAT, "-");
    CHECK(strstr(e.msg, "m.gguf") && strstr(e.msg, "expert_used_count"), "%s", e.msg);
    r = router(4, 2, (r1_gating)3);
    CHECK(r1_moe_router_check(&r, "m.gguf", &e) == R1_ERR_UNSUPPORTED, "-");
    CHECK(strstr(e.msg, "gating") != NULL, "%s", e.msg);
    r = router(6, 2, R1_GATING_SIGMOID);
    r.n_group = 4;
    r.topk_group = 1;
    CHECK(r1_moe_router_check(&r, "m.gguf", &e) == R1_ERR_FORMAT, "6 experts in 4 groups");
    r = router(8, 3, R1_GATING_SIGMOID);
    r.n_group = 4;
    r.topk_group = 1;
    CHECK(r1_moe_router_check(&r, "m.gguf", &e) == R1_ERR_FORMAT, "1 group of 2 cannot give 3");
    r.topk_group = 5;
    CHECK(r1_moe_router_check(&r, "m.gguf", &e) == R1_ERR_FORMAT, "topk_group > n_group");
    r = router(0, 0, R1_GATING_SIGMOID);
    CHECK(r1_moe_router_check(&r, "m.gguf", &e) == R1_ERR_FORMAT, "-");
}

/* ---- FFN against a naive double implementation ------------------------------------- */
enum { D = 64, F = 32, NE = 8, K = 2, NSH = 2, T = 5 };

typedef struct {
    float *gate_inp, *exps[3], *sh[3], bias[NE];
} moe_w;

static void fill(float *p, size_t n, float a) { for (size_t i = 0; i < n; i++) p[i] = frand(a); }

/* Naive reference for one token: route in double (same definition), experts in double. */
static void naive_moe(const moe_w *w, const r1_moe_router *r, const float *x, double *out, int32_t *ids) {
    double lg[NE], p[NE], s[NE];
    for (int e = 0; e < NE; e++) {
        lg[e] = 0;
        for (int d = 0; d < D; d++) lg[e] += (double)w->gate_inp[e * D + d] * x[d];
    }
    double mx = lg[0], z = 0;
    for (int e = 1; e < NE; e++) mx = lg[e] > mx ? lg[e] : mx;
    for (int e = 0; e < NE; e++) {
        p[e] = r->gating == R1_GATING_SOFTMAX ? exp(lg[e] - mx) : 1 / (1 + exp(-lg[e]));
        z += exp(lg[e] - mx);
    }
    for (int e = 0; e < NE; e++) {
        if (r->gating == R1_GATING_SOFTMAX) p[e] /= z;
        s[e] = p[e] + (r->bias ? r->bias[e] : 0);
    }
    int used[NE] = {0};
    double ws = 0, wk[K];
    for (int k = 0; k < K; k++) {
        int b = -1;
        for (int e = 0; e < NE; e++) if (!used[e] && (b < 0 || s[e] > s[b])) b = e;
        used[b] = 1;
        ids[k] = b;
        wk[k] = p[b];
        ws += p[b];
    }
    for (int d = 0; d < D; d++) out[d] = 0;
    for (int k = 0; k <= K; k++) {   /* k == K: the shared experts */
        int nf = k == K ? F * NSH : F;
        const float *g = k == K ? w->sh[0] : w->exps[0] + (size_t)ids[k] * F * D;
        const float *u = k == K ? w->sh[1] : w->exps[1] + (size_t)ids[k] * F * D;
        const float *dn = k == K ? w->sh[2] : w->exps[2] + (size_t)ids[k] * D * F;
        double wt = k == K ? 1.0 : wk[k] * (r->norm ? 1 / ws : 1) * r->scale;
        double h[F * NSH];
        for (int i = 0; i < nf; i++) {
            double a = 0, b = 0;
            for (int d = 0; d < D; d++) { a += (double)g[i * D + d] * x[d]; b += (double)u[i * D + d] * x[d]; }
            h[i] = a / (1 + exp(-a)) * b;
        }
        for (int d = 0; d < D; d++) {
            double a = 0;
            for (int i = 0; i < nf; i++) a += (double)dn[d * nf + i] * h[i];
            out[d] += wt * a;
        }
    }
}

static void make_layer(r1_moe_layer *l, const moe_w *w, r1_gating g, r1_type t, void *q[7]) {
    memset(l, 0, sizeof *l);
    l->router = router(NE, K, g);
    l->router.norm = g == R1_GATING_SIGMOID;
    l->router.scale = g == R1_GATING_SIGMOID ? 2.5f : 1.0f;
    l->router.bias = g == R1_GATING_SIGMOID ? w->bias : NULL;
    l->n_embd = D;
    l->n_ff_exp = F;
    l->n_shared = NSH;
    /* weights converted to type t (the router stays F32, as in GGUF files) */
    const float *src[6] = {w->exps[0], w->exps[1], w->exps[2], w->sh[0], w->sh[1], w->sh[2]};
    size_t n[6] = {(size_t)NE * F * D, (size_t)NE * F * D, (size_t)NE * D * F, (size_t)NSH * F * D,
                   (size_t)NSH * F * D, (size_t)D * NSH * F};
    const r1_type_traits *tr = r1_type_get_traits(t);
    for (int i = 0; i < 6; i++) {
        q[i] = malloc(r1_row_size(t, (int64_t)n[i]));
        tr->from_float(src[i], q[i], (int64_t)n[i]);
    }
    q[6] = NULL;
    for (int i = 0; i < 3; i++) { l->exps_type[i] = t; l->exps_data[i] = q[i]; }
    r1_wmat_init(&l->gate_inp, R1_TYPE_F32, w->gate_inp, D, NE, "gate_inp", NULL);
    r1_wmat_init(&l->gate_sh, t, q[3], D, NSH * F, "gate_sh", NULL);
    r1_wmat_init(&l->up_sh, t, q[4], D, NSH * F, "up_sh", NULL);
    r1_wmat_init(&l->down_sh, t, q[5], NSH * F, D, "down_sh", NULL);
}

static void moe_w_init(moe_w *w) {
    w->gate_inp = malloc(sizeof(float) * NE * D);
    fill(w->gate_inp, NE * D, 0.5f);
    for (int i = 0; i < 3; i++) {
        w->exps[i] = malloc(sizeof(float) * NE * F * D);
        fill(w->exps[i], (size_t)NE * F * D, 0.3f);
        w->sh[i] = malloc(sizeof(float) * NSH * F * D);
        fill(w->sh[i], (size_t)NSH * F * D, 0.3f);
    }
    fill(w->bias, NE, 0.2f);
}
static void moe_w_free(moe_w *w) {
    free(w->gate_inp);
    for (int i = 0; i < 3; i++) { free(w->exps[i]); free(w->sh[i]); }
}

static double rel_err(const float *a, const double *b, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) { num += (a[i] - b[i]) * (a[i] - b[i]); den += b[i] * b[i]; }
    return sqrt(num / (den > 0 ? den : 1));
}

static void check_ffn(r1_gating g, r1_type t, double tol) {
    moe_w w;
    moe_w_init(&w);
    r1_moe_layer l;
    void *q[7];
    make_layer(&l, &w, g, t, q);
    float x[T * D], out[T * D], one[D];
    fill(x, T * D, 1.0f);
    int32_t ids[T * K];
    REQUIRE(r1_moe_forward(&l, x, T, out, ids, g_par, NULL) == R1_OK, "-");
    for (int tk = 0; tk < T; tk++) {
        double ref[D];
        int32_t rid[K];
        naive_moe(&w, &l.router, x + tk * D, ref, rid);
        if (t == R1_TYPE_F32)
            for (int k = 0; k < K; k++) CHECK(ids[tk * K + k] == rid[k], "token %d slot %d: %d vs %d", tk, k, ids[tk * K + k], rid[k]);
        double e = rel_err(out + tk * D, ref, D);
        CHECK(e <= tol, "%s gating %d token %d: rel err %g > %g", r1_type_name(t), (int)g, tk, e, tol);
        /* the batched call equals a call per token */
        REQUIRE(r1_moe_forward(&l, x + tk * D, 1, one, NULL, g_par, NULL) == R1_OK, "-");
        for (int d = 0; d < D; d++) CHECK_NEAR(one[d], out[tk * D + d], 1e-6 * (1 + fabs(one[d])));
    }
    for (int i = 0; i < 6; i++) free(q[i]);
    moe_w_free(&w);
}

static void test_ffn_f32_softmax(void) { check_ffn(R1_GATING_SOFTMAX, R1_TYPE_F32, 1e-5); }
static void test_ffn_f32_sigmoid(void) { check_ffn(R1_GATING_SIGMOID, R1_TYPE_F32, 1e-5); }
static void test_ffn_q8_0(void) { check_ffn(R1_GATING_SIGMOID, R1_TYPE_Q8_0, 3e-2); }

/* Experts that no token chooses are never read: they live in PROT_NONE pages. */
static void test_only_chosen_experts_read(void) {
    const long pg = sysconf(_SC_PAGESIZE);
    const size_t eb = sizeof(float) * F * D;   /* 8192 bytes per expert matrix */
    REQUIRE(pg > 0 && eb % (size_t)pg == 0, "page size %ld", pg);
    moe_w w;
    moe_w_init(&w);
    /* router: only experts 1 and 6 can win (others' router rows are strongly negative) */
    for (int e = 0; e < NE; e++)
        for (int d = 0; d < D; d++) w.gate_inp[e * D + d] = (e == 1 || e == 6) ? 0.0f : -100.0f;
    r1_moe_layer l;
    void *q[7];
    make_layer(&l, &w, R1_GATING_SOFTMAX, R1_TYPE_F32, q);
    float *pages[3];
    for (int i = 0; i < 3; i++) {
        pages[i] = mmap(NULL, eb * NE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(pages[i] != MAP_FAILED, "-");
        memcpy(pages[i], q[i], eb * NE);
        for (int e = 0; e < NE; e++)
            if (e != 1 && e != 6) mprotect((char *)pages[i] + eb * e, eb, PROT_NONE);
        l.exps_data[i] = pages[i];
    }
    float x[T * D], out[T * D];
    for (int i = 0; i < T * D; i++) x[i] = 1.0f;   /* all logits of others: -6400 */
    int32_t ids[T * K];
    CHECK(r1_moe_forward(&l, x, T, out, ids, g_par, NULL) == R1_OK, "-");
    for (int i = 0; i < T * K; i++) CHECK(ids[i] == 1 || ids[i] == 6, "id %d", ids[i]);
    for (int i = 0; i < 3; i++) munmap(pages[i], eb * NE);
    for (int i = 0; i < 6; i++) free(q[i]);
    moe_w_free(&w);
}

static void test_wmat_mul_t(void) {
    float wv[3 * 4], x[2 * 3], y[2 * 4];
    fill(wv, 12, 1.0f);
    fill(x, 6, 1.0f);
    r1_wmat w;
    REQUIRE(r1_wmat_init(&w, R1_TYPE_F32, wv, 4, 3, "w", NULL) == R1_OK, "-");
    REQUIRE(r1_wmat_mul_t(&w, 2, x, 3, y, 4, g_par, NULL) == R1_OK, "-");
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < 4; c++) {
            double a = 0;
            for (int r = 0; r < 3; r++) a += (double)x[t * 3 + r] * wv[r * 4 + c];
            CHECK_NEAR(y[t * 4 + c], a, 1e-6);
        }
    r1_error e;
    CHECK(r1_wmat_init(&w, R1_TYPE_Q8_0, wv, 4, 3, "blk.0.x", &e) == R1_ERR_FORMAT, "-");   /* 4 % 32 != 0 */
    CHECK(strstr(e.msg, "blk.0.x") != NULL, "%s", e.msg);
    CHECK(r1_wmat_init(&w, (r1_type)5, wv, 4, 3, "blk.0.y", &e) == R1_ERR_UNSUPPORTED, "-");
}

/* Large batches at other widths: enough tokens per expert for the batched (AMX) kernels,
 * row blocks with tails (F not a multiple of 64), a Q4_K case whose down product takes Q8_K
 * activations (256-column blocks of h), with and without shared experts. The batched
 * result is checked against a double-precision FFN over the dequantized weights (same
 * routing) and against one call per token; outputs are NaN-poisoned before each call. */
typedef struct big_case { int d, f, ne, k, nsh, t; r1_type type; double tol, tol1; } big_case; /* tol1: vs per token */

static void check_big(const big_case *bc) {
    const int Db = bc->d, Fb = bc->f, NEb = bc->ne, Kb = bc->k, Sb = bc->nsh, Tb = bc->t;
    const size_t ne_w = (size_t)NEb * Fb * Db, ns_w = (size_t)(Sb > 0 ? Sb : 1) * Fb * Db;
    float *gi = malloc(sizeof(float) * (size_t)NEb * Db), *x = malloc(sizeof(float) * (size_t)Tb * Db);
    float *wf[6], *wq[6];
    void *q[6];
    const size_t n[6] = {ne_w, ne_w, ne_w, ns_w, ns_w, ns_w};
    const r1_type_traits *tr = r1_type_get_traits(bc->type);
    for (int i = 0; i < 6; i++) {
        wf[i] = malloc(sizeof(float) * n[i]);
        fill(wf[i], n[i], 0.3f);
        q[i] = malloc(r1_row_size(bc->type, (int64_t)n[i]));
        tr->from_float(wf[i], q[i], (int64_t)n[i]);
        wq[i] = malloc(sizeof(float) * n[i]);   /* the weights as the engine sees them */
        tr->to_float(q[i], wq[i], (int64_t)n[i]);
    }
    fill(gi, (size_t)NEb * Db, 0.5f);
    fill(x, (size_t)Tb * Db, 1.0f);
    r1_moe_layer l;
    memset(&l, 0, sizeof l);
    l.router = router(NEb, Kb, R1_GATING_SOFTMAX);
    l.n_embd = Db;
    l.n_ff_exp = Fb;
    l.n_shared = Sb;
    for (int i = 0; i < 3; i++) { l.exps_type[i] = bc->type; l.exps_data[i] = q[i]; }
    REQUIRE(r1_wmat_init(&l.gate_inp, R1_TYPE_F32, gi, Db, NEb, "gate_inp", NULL) == R1_OK, "-");
    if (Sb > 0) {
        REQUIRE(r1_wmat_init(&l.gate_sh, bc->type, q[3], Db, (int64_t)Sb * Fb, "gate_sh", NULL) == R1_OK, "-");
        REQUIRE(r1_wmat_init(&l.up_sh, bc->type, q[4], Db, (int64_t)Sb * Fb, "up_sh", NULL) == R1_OK, "-");
        REQUIRE(r1_wmat_init(&l.down_sh, bc->type, q[5], (int64_t)Sb * Fb, Db, "down_sh", NULL) == R1_OK, "-");
    }
    float *out = malloc(sizeof(float) * (size_t)Tb * Db), *one = malloc(sizeof(float) * (size_t)Db);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)Tb * Kb);
    double *ref = malloc(sizeof(double) * (size_t)Db), *h = malloc(sizeof(double) * (size_t)(Sb > 1 ? Sb : 1) * Fb);
    for (size_t i = 0; i < (size_t)Tb * Db; i++) out[i] = NAN;
    REQUIRE(r1_moe_forward(&l, x, Tb, out, ids, g_par, NULL) == R1_OK, "-");
    int cnt[64] = {0};
    for (int i = 0; i < Tb * Kb; i++) cnt[ids[i]]++;
    int big = 0;
    for (int e = 0; e < NEb; e++) big += cnt[e] >= 8;
    CHECK(big >= NEb / 2, "only %d experts have >= 8 tokens", big);
    double worst = 0, worst1 = 0;
    for (int tk = 0; tk < Tb; tk++) {
        /* routing weights as r1 computes them (softmax, no norm, scale 1) */
        float lg[64], sc[128], wts[16];
        int32_t rid[16];
        for (int e = 0; e < NEb; e++) {
            double a = 0;
            for (int d = 0; d < Db; d++) a += (double)gi[e * Db + d] * x[tk * Db + d];
            lg[e] = (float)a;
        }
        r1_moe_route(&l.router, lg, rid, wts, sc);
        for (int d = 0; d < Db; d++) ref[d] = 0;
        for (int k = 0; k <= Kb; k++) {
            if (k == Kb && Sb == 0) break;
            const int nf = k == Kb ? Sb * Fb : Fb;
            const size_t o = k == Kb ? 0 : (size_t)rid[k] * Fb * Db;
            const float *g = (k == Kb ? wq[3] : wq[0]) + o, *u = (k == Kb ? wq[4] : wq[1]) + o;
            const float *dn = (k == Kb ? wq[5] : wq[2]) + o;
            for (int i = 0; i < nf; i++) {
                double a = 0, b = 0;
                for (int d = 0; d < Db; d++) {
                    a += (double)g[(size_t)i * Db + d] * x[tk * Db + d];
                    b += (double)u[(size_t)i * Db + d] * x[tk * Db + d];
                }
                h[i] = a / (1 + exp(-a)) * b;
            }
            for (int d = 0; d < Db; d++) {
                double a = 0;
                for (int i = 0; i < nf; i++) a += (double)dn[(size_t)d * nf + i] * h[i];
                ref[d] += (k == Kb ? 1.0 : wts[k]) * a;
            }
        }
        double e = rel_err(out + (size_t)tk * Db, ref, Db);
        worst = e > worst ? e : worst;
        for (int d = 0; d < Db; d++) one[d] = NAN;
        REQUIRE(r1_moe_forward(&l, x + (size_t)tk * Db, 1, one, NULL, g_par, NULL) == R1_OK, "-");
        double num = 0, den = 0;
        for (int d = 0; d < Db; d++) {
            num += ((double)one[d] - out[(size_t)tk * Db + d]) * ((double)one[d] - out[(size_t)tk * Db + d]);
            den += (double)one[d] * one[d];
        }
        const double e1 = sqrt(num / (den > 0 ? den : 1));
        worst1 = e1 > worst1 ? e1 : worst1;
    }
    CHECK(worst <= bc->tol, "%s d%d f%d sh%d: rel err vs double %g > %g", r1_type_name(bc->type), Db, Fb, Sb, worst, bc->tol);
    CHECK(worst1 <= bc->tol1, "%s d%d f%d sh%d: batched vs per token %g > %g", r1_type_name(bc->type), Db, Fb, Sb, worst1, bc->tol1);
    for (int i = 0; i < 6; i++) { free(wf[i]); free(wq[i]); free(q[i]); }
    free(gi); free(x); free(out); free(one); free(ids); free(ref); free(h);
}

static void test_ffn_big_batch(void) {
    static const big_case cases[] = {
        {96, 96, 8, 2, 2, 70, R1_TYPE_Q8_0, 3e-2, 5e-3},    /* F = 1.5 row blocks */
        {64, 160, 6, 3, 0, 41, R1_TYPE_Q8_0, 3e-2, 5e-3},   /* no shared experts: out starts at 0 */
        {256, 512, 8, 2, 1, 60, R1_TYPE_Q4_K, 4e-2, 5e-3},  /* Q8_K activations, 256-column h blocks */
        {64, 96, 4, 2, 1, 37, R1_TYPE_F32, 1e-5, 1e-5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_big(&cases[i]);
}

/* the same FFN checks with the work split over 3 threads */
static void test_ffn_threaded(void) {
    g_par = &g_par3;
    test_ffn_f32_sigmoid();
    test_ffn_q8_0();
    test_only_chosen_experts_read();
    test_ffn_big_batch();
    g_par = NULL;
}

/* With an arena in the runner (as the engine's context has): the first call takes its
 * scratch from malloc, r1_arena_fit sizes the arena, and the same call then allocates
 * nothing and gives the same bits; a decode-sized call after it allocates nothing either.
 * Serial and 3 workers; the MoE layer and the dense SwiGLU FFN, Q8_0 (activations converted). */
static void test_no_heap_after_fit(void) {
    moe_w w;
    moe_w_init(&w);
    r1_moe_layer l;
    void *q[7];
    make_layer(&l, &w, R1_GATING_SIGMOID, R1_TYPE_Q8_0, q);
    float x[T * D], out1[T * D], out2[T * D], one[D];
    fill(x, T * D, 1.0f);
    for (int pi = 0; pi < 2; pi++) {
        r1_arena a = {0};
        const r1_par par = {pi ? par_run : NULL, NULL, pi ? 3 : 1, &a};
        REQUIRE(r1_moe_forward(&l, x, T, out1, NULL, &par, NULL) == R1_OK, "-");
        CHECK(a.n_heap > 0 && a.used == 0 && a.depth == 0, "first call: malloc, all given back");
        REQUIRE(r1_arena_fit(&a), "-");
        a.n_heap = 0;
        REQUIRE(r1_moe_forward(&l, x, T, out2, NULL, &par, NULL) == R1_OK, "-");
        CHECK(a.n_heap == 0, "par %d: %llu mallocs after fit", pi, (unsigned long long)a.n_heap);
        CHECK(memcmp(out1, out2, sizeof out1) == 0, "same bits from the arena");
        for (int t = 0; t < 3; t++) REQUIRE(r1_moe_forward(&l, x + t * D, 1, one, NULL, &par, NULL) == R1_OK, "-");
        REQUIRE(r1_ffn_swiglu(&l.gate_sh, &l.up_sh, &l.down_sh, x, T, out1, &par, NULL) == R1_OK, "-");
        CHECK(a.n_heap == 0 && a.used == 0, "par %d: decode + dense FFN: %llu mallocs", pi, (unsigned long long)a.n_heap);
        REQUIRE(r1_ffn_swiglu(&l.gate_sh, &l.up_sh, &l.down_sh, x, T, out2, NULL, NULL) == R1_OK, "-");
        CHECK(memcmp(out1, out2, sizeof out1) == 0, "dense FFN: arena == plain malloc");
        r1_arena_free(&a);
    }
    for (int i = 0; i < 6; i++) free(q[i]);
    moe_w_free(&w);
}

int main(void) {
    RUN(test_softmax_topk_ties);
    RUN(test_sigmoid_bias_selects_only);
    RUN(test_group_rules);
    RUN(test_group_ties);
    RUN(test_router_check);
    RUN(test_wmat_mul_t);
    RUN(test_no_heap_after_fit);
    RUN(test_ffn_f32_softmax);
    RUN(test_ffn_f32_sigmoid);
    RUN(test_ffn_q8_0);
    RUN(test_only_chosen_experts_read);
    RUN(test_ffn_big_batch);
    RUN(test_ffn_threaded);
    return TEST_SUMMARY();
}
