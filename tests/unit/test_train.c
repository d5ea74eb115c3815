/* test_train.c — gradient checks of the trainer's backward pass against central finite
 * differences, for every parameter tensor of every layer (embedding, RMSNorm gains,
 * Wq/Wk/Wv with RoPE + GQA attention, Wo, SwiGLU gate/up/down, final norm, output head,
 * weighted cross-entropy), plus AdamW/clipping/schedule and checkpoint round trip. */
#include "test.h"
#include "train/tmodel.h"
#include "train/tasks.h"
#include "train/trainer.h"
#include "train/tgemm.h"
#include <math.h>
#include <stdlib.h>

static const tm_config TINY = {.dim = 8, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .hidden = 12,
                               .vocab = 11, .seq_len = 7, .rope_base = 100.0f, .eps = 1e-5f};

static void random_params(const tm_config *c, tm_params *p, uint64_t seed) {
    uint64_t r = seed;
    for (size_t i = 0; i < p->n; i++) p->data[i] = (float)(tm_rng_uniform(&r) * 1.2 - 0.6);
    (void)c;
}

/* Checks one tensor [base, base+n): every element (or a stride through big ones). */
static int check_range(const tm_config *c, tm_params *p, tm_scratch *s, const int32_t *tok, int T,
                       const float *w, float it, const tm_params *g, const float *base, size_t n, const char *name) {
    int bad = 0;
    size_t off = (size_t)(base - p->data);
    for (size_t i = 0; i < n; i++) {
        float *x = &p->data[off + i], x0 = *x;
        double h = 1e-2;
        *x = (float)(x0 + h);
        double lp = tm_forward_backward(c, p, s, tok, T, w, it, NULL, NULL);
        *x = (float)(x0 - h);
        double lm = tm_forward_backward(c, p, s, tok, T, w, it, NULL, NULL);
        *x = x0;
        double fd = (lp - lm) / (2 * h), an = g->data[off + i];
        if (fabs(fd - an) > 2e-3 + 2e-2 * fabs(fd)) {
            if (bad < 3) fprintf(stderr, "  %s[%zu]: analytic %.6g vs finite-diff %.6g\n", name, i, an, fd);
            bad++;
        }
    }
    return bad;
}

static void test_gradients_mode(bool loops, float it) {
    const tm_config *c = &TINY;
    size_t n = tm_n_params(c);
    float *pd = malloc(n * 4), *gd = calloc(n, 4);
    tm_params p, g;
    tm_params_view(c, pd, &p);
    tm_params_view(c, gd, &g);
    random_params(c, &p, 42);
    tm_scratch *s = tm_scratch_new(c);
    REQUIRE(s, " ");
    tm_scratch_use_loops(s, loops);
    int32_t tok[7] = {1, 5, 3, 9, 0, 10, 3};
    float w[6] = {0, 1.0f, 0.5f, -0.7f, 1.0f, 2.0f};
    double loss = tm_forward_backward(c, &p, s, tok, 7, w, it, &g, NULL);
    CHECK(isfinite(loss), " ");
    size_t D = c->dim, H = c->hidden, V = c->vocab, KV = 2 * (D / 4);
    int bad = 0;
    bad += check_range(c, &p, s, tok, 7, w, it, &g, p.embd, V * D, "token_embd");
    for (int l = 0; l < c->n_layers; l++) {
        tm_layer *L = &p.l[l];
        bad += check_range(c, &p, s, tok, 7, w, it, &g, L->attn_norm, D, "attn_norm");
        bad += check_range(c, &p, s, tok, 7, w, it, &g, L->wq, D * D, "attn_q");
        bad += check_range(c, &p, s, tok, 7, w, it, &g, L->wk, KV * D, "attn_k");
        bad += check_range(c, &p, s, tok, 7, w, it, &g, L->wv, KV * D, "attn_v");
        bad += check_range(c, &p, s, tok, 7, w, it, &g, L->wo, D * D, "attn_output");
        bad += check_range(c, &p, s, tok, 7, w, it, &g, L->ffn_norm, D, "ffn_norm");
        bad += check_range(c, &p, s, tok, 7, w, it, &g, L->wg, H * D, "ffn_gate");
        bad += check_range(c, &p, s, tok, 7, w, it, &g, L->wu, H * D, "ffn_up");
        bad += check_range(c, &p, s, tok, 7, w, it, &g, L->wd, D * H, "ffn_down");
    }
    bad += check_range(c, &p, s, tok, 7, w, it, &g, p.out_norm, D, "output_norm");
    bad += check_range(c, &p, s, tok, 7, w, it, &g, p.output, V * D, "output");
    CHECK(bad == 0, "%d gradient entries disagree with finite differences", bad);
    /* causality: changing the last token does not change earlier log-probs */
    float lp1[6], lp2[6];
    tm_forward_backward(c, &p, s, tok, 7, w, 1.0f, NULL, lp1);
    int32_t tok2[7];
    memcpy(tok2, tok, sizeof tok);
    tok2[6] = 4;
    tm_forward_backward(c, &p, s, tok2, 7, w, 1.0f, NULL, lp2);
    for (int t = 0; t < 5; t++) CHECK(lp1[t] == lp2[t], " ");
    tm_scratch_free(s);
    free(pd); free(gd);
}
static void test_gradients(void) { test_gradients_mode(false, 1.0f); }
static void test_gradients_loops(void) { test_gradients_mode(true, 1.0f); }

/* GRPO's tempered policy softmax(logits/T): every gradient against finite differences at
 * 1/T = 1/0.6, and the loss equal to that of the same model with its output head scaled by
 * 1/T (logits = output·h, so the two differ only by float rounding); 1/T = 1 is exact. */
static void test_gradients_tempered(void) {
    test_gradients_mode(false, 1.0f / 0.6f);
    const tm_config *c = &TINY;
    size_t n = tm_n_params(c);
    float *pd = malloc(n * 4);
    tm_params p;
    tm_params_view(c, pd, &p);
    random_params(c, &p, 7);
    tm_scratch *s = tm_scratch_new(c);
    REQUIRE(s, " ");
    int32_t tok[7] = {2, 4, 6, 8, 1, 3, 5};
    float w[6] = {0, 1.0f, 1.0f, -0.5f, 1.0f, 0.25f};
    double l_t = tm_forward_backward(c, &p, s, tok, 7, w, 1.0f / 0.6f, NULL, NULL);
    double l_1 = tm_forward_backward(c, &p, s, tok, 7, w, 1.0f, NULL, NULL);
    for (size_t i = 0; i < (size_t)c->vocab * c->dim; i++) p.output[i] /= 0.6f;
    double l_s = tm_forward_backward(c, &p, s, tok, 7, w, 1.0f, NULL, NULL);
    CHECK_NEAR(l_t, l_s, 1e-5 * fabs(l_s));
    CHECK(fabs(l_t - l_1) > 1e-3, "tempering changed nothing: %g vs %g", l_t, l_1);
    tm_scratch_free(s);
    free(pd);
}

/* tg_gemm's AVX-512 kernel == its scalar reference, bit for bit, on awkward shapes (row
 * tails of 1..5, column tails with masks, K = 0), padded leading dimensions, outputs
 * poisoned with NaN (overwrite) or random (accumulate), padding sentinels untouched; the
 * reference against a float64 product. The two kernel families (loops vs gemm) give the
 * same loss and gradients up to float rounding. */
static void test_gemm(void) {
    static const int Ms[] = {1, 2, 5, 6, 7, 13, 37}, Ns[] = {1, 15, 16, 17, 31, 32, 33, 47, 100, 262},
                     Ks[] = {0, 1, 3, 17, 130};
    tg_gemm_fn simd = tg_gemm_avx512_fn();
    if (!simd) fprintf(stderr, "  note: no AVX-512 here: only the scalar reference and tg_gemm's dispatch are checked\n");
    uint64_t r = 11;
    int cases = 0, bad_ref = 0, bad_simd = 0, bad_pad = 0;
    for (size_t im = 0; im < sizeof Ms / sizeof *Ms; im++)
        for (size_t in = 0; in < sizeof Ns / sizeof *Ns; in++)
            for (size_t ik = 0; ik < sizeof Ks / sizeof *Ks; ik++)
                for (int acc = 0; acc < 2; acc++) {
                    int M = Ms[im], N = Ns[in], K = Ks[ik], lda = K + 3, ldb = N + 5, ldc = N + 2;
                    float *A = malloc(sizeof(float) * (size_t)M * lda + 4), *B = malloc(sizeof(float) * ((size_t)K * ldb + 1));
                    float *C0 = malloc(sizeof(float) * (size_t)M * ldc), *C1 = malloc(sizeof(float) * (size_t)M * ldc),
                          *C2 = malloc(sizeof(float) * (size_t)M * ldc);
                    for (int i = 0; i < M * lda; i++) A[i] = (float)(tm_rng_uniform(&r) * 2 - 1);
                    for (int i = 0; i < K * ldb; i++) B[i] = (float)(tm_rng_uniform(&r) * 2 - 1);
                    for (int i = 0; i < M * ldc; i++)
                        C0[i] = (i % ldc) >= N ? 12345.0f : acc ? (float)(tm_rng_uniform(&r) * 2 - 1) : NAN;
                    memcpy(C1, C0, sizeof(float) * (size_t)M * ldc);
                    memcpy(C2, C0, sizeof(float) * (size_t)M * ldc);
                    tg_gemm_ref(M, N, K, A, lda, B, ldb, C1, ldc, acc);
                    if (simd) simd(M, N, K, A, lda, B, ldb, C2, ldc, acc);
                    else tg_gemm(M, N, K, A, lda, B, ldb, C2, ldc, acc);
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < ldc; n++) {
                            size_t i = (size_t)m * ldc + n;
                            if (n >= N) { bad_pad += C1[i] != 12345.0f || C2[i] != 12345.0f; continue; }
                            double want = acc ? C0[i] : 0;
                            for (int k = 0; k < K; k++) want += (double)A[(size_t)m * lda + k] * B[(size_t)k * ldb + n];
                            bad_ref += !(fabs(C1[i] - want) <= 1e-5 * (1 + K));
                            bad_simd += memcmp(&C1[i], &C2[i], sizeof(float)) != 0;
                        }
                    cases++;
                    free(A); free(B); free(C0); free(C1); free(C2);
                }
    CHECK(bad_ref == 0 && bad_simd == 0 && bad_pad == 0, "%d cases: %d ref errors, %d SIMD != ref, %d padding overwritten",
          cases, bad_ref, bad_simd, bad_pad);
    float T[6], U[6];
    const float S[6] = {1, 2, 3, 4, 5, 6};
    tg_transpose(T, S, 2, 3);
    tg_transpose(U, T, 3, 2);
    CHECK(T[0] == 1 && T[1] == 4 && T[2] == 2 && T[5] == 6 && !memcmp(U, S, sizeof S), " ");

    const tm_config *c = &TINY;
    size_t n = tm_n_params(c);
    float *pd = malloc(n * 4), *g1 = calloc(n, 4), *g2 = calloc(n, 4);
    tm_params p, ga, gb;
    tm_params_view(c, pd, &p); tm_params_view(c, g1, &ga); tm_params_view(c, g2, &gb);
    random_params(c, &p, 5);
    tm_scratch *s = tm_scratch_new(c);
    REQUIRE(s, " ");
    int32_t tok[7] = {2, 7, 7, 1, 10, 0, 4};
    float w[6] = {0, 1.0f, 1.0f, -0.3f, 1.0f, 0.5f};
    tm_scratch_use_loops(s, true);
    double l1 = tm_forward_backward(c, &p, s, tok, 7, w, 1.0f, &ga, NULL);
    tm_scratch_use_loops(s, false);
    double l2 = tm_forward_backward(c, &p, s, tok, 7, w, 1.0f, &gb, NULL);
    CHECK_NEAR(l1, l2, 1e-5 * fabs(l1));
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += !(fabsf(g1[i] - g2[i]) <= 1e-5f + 1e-4f * fabsf(g1[i]));
    CHECK(bad == 0, "%d gradient entries differ between loops and gemm", bad);
    tm_scratch_free(s);
    free(pd); free(g1); free(g2);
}

static void test_optim_and_checkpoint(void) {
    CHECK_NEAR(tm_lr_at(1.0f, 0, 10, 110, 0.1f), 0.1, 1e-6);
    CHECK_NEAR(tm_lr_at(1.0f, 9, 10, 110, 0.1f), 1.0, 1e-6);
    CHECK_NEAR(tm_lr_at(1.0f, 60, 10, 110, 0.1f), 0.55, 1e-5);
    CHECK_NEAR(tm_lr_at(1.0f, 110, 10, 110, 0.1f), 0.1, 1e-6);
    const tm_config *c = &TINY;
    size_t n = tm_n_params(c);
    float *pd = malloc(n * 4), *gd = malloc(n * 4), *m = calloc(n, 4), *v = calloc(n, 4);
    tm_params p, g;
    tm_params_view(c, pd, &p);
    tm_params_view(c, gd, &g);
    tm_params_init(c, &p, 7);
    for (size_t i = 0; i < n; i++) gd[i] = 3.0f;
    double nrm = tm_clip_grad(&g, 1.0);
    CHECK_NEAR(nrm, 3.0 * sqrt((double)n), 1e-2);
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)gd[i] * gd[i];
    CHECK_NEAR(sqrt(ss), 1.0, 1e-4);
    tm_adamw h = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .wd = 0.1f};
    float before = p.l[0].attn_norm[0];
    tm_adamw_step(c, &h, &p, &g, m, v, 1);
    CHECK_NEAR(p.l[0].attn_norm[0], before - 0.01, 1e-5); /* first Adam step = lr·sign, no decay */
    r1_error err = {0};
    const char *path = "/tmp/r1_test_train.ckpt";
    REQUIRE(tm_checkpoint_save(path, c, 5, 99, pd, m, v, &err) == R1_OK, "%s", err.msg);
    tm_config c2; int64_t st; uint64_t rng; float *p2, *m2, *v2;
    REQUIRE(tm_checkpoint_load(path, &c2, &st, &rng, &p2, &m2, &v2, &err) == R1_OK, "%s", err.msg);
    CHECK(st == 5 && rng == 99 && !memcmp(&c2, c, sizeof c2), " ");
    CHECK(!memcmp(p2, pd, n * 4) && !memcmp(m2, m, n * 4) && !memcmp(v2, v, n * 4), " ");
    free(p2); free(m2); free(v2);
    FILE *f = fopen(path, "r+b");
    if (f) { fwrite("XXXX", 1, 4, f); fclose(f); }
    CHECK(tm_checkpoint_load(path, &c2, &st, &rng, &p2, &m2, &v2, &err) == R1_ERR_FORMAT, " ");
    CHECK(tm_checkpoint_load("/nonexistent/x.ckpt", &c2, &st, &rng, &p2, &m2, &v2, &err) == R1_ERR_IO, " ");
    remove(path);
    free(pd); free(gd); free(m); free(v);
}

/* Clean traces verify; slips are caught; reward hacking gets no accuracy reward. */
static void test_tasks_and_reward(void) {
    uint64_t rng = 3;
    char buf[2048];
    for (int k = 0; k < TASK_KINDS; k++) {
        int n_slip_caught = 0, n_slip = 0;
        for (int i = 0; i < 300; i++) {
            task t;
            task_make(&t, (task_kind)k, 4, i % 2, &rng);
            task_trace(&t, 0.0f, 0, 192, &rng, buf, sizeof buf);
            task_verdict v = task_check(&t, buf);
            CHECK(v.format_ok && v.correct && v.trace_valid && v.reward > 1.05f, "%s: %s -> %s", task_kind_name[k], t.prompt, buf);
            task_trace(&t, 1.0f, 0, 192, &rng, buf, sizeof buf);
            v = task_check(&t, buf);
            if (strstr(buf, "no\n") || k != TASK_COUNTDOWN) { n_slip++; n_slip_caught += !v.trace_valid; }
            CHECK(v.reward < 1.0f || k == TASK_COUNTDOWN, "slip rewarded: %s", buf);
        }
        CHECK(n_slip_caught > 0 && (k == TASK_COUNTDOWN || n_slip_caught == n_slip), "%s %d/%d", task_kind_name[k], n_slip_caught, n_slip);
    }
    task t = {.kind = TASK_ADD, .a = 347, .b = 589};
    snprintf(t.prompt, sizeof t.prompt, "What is 347+589?");
    const char *good = "<think>\n7+9+0=16\n4+8+1=13\n3+5+1=9\nso 936\n</think>\n\n936";
    task_verdict v = task_check(&t, good);
    CHECK(v.correct && v.trace_valid && v.format_ok, " ");
    v = task_check(&t, "<think>\n7+9+0=16\n4+8+1=13\n3+5+1=9\nso 936\n</think>\n\n937");
    CHECK(!v.correct && v.reward < 0.5f, " ");                       /* right format, wrong answer */
    v = task_check(&t, "<think>\nhmm\n</think>\n\n936");
    CHECK(v.correct && !v.trace_valid && v.reward < 0.5f, " ");      /* right answer, fake trace   */
    v = task_check(&t, "936<think>\n</think>\n\nx");
    CHECK(!v.format_ok && v.reward == 0.0f, " ");                    /* answer outside the tags    */
    v = task_check(&t, "<think>\n7+9+0=16\n4+8+1=13\n3+5+1=9\nso 936\n</think>\n\n936\n936");
    CHECK(!v.format_ok && v.reward == 0.0f, " ");
    v = task_check(&t, "<think>\n7+9+0=16\n4+8+1=13\n3+5+1=9\nso 936 936");
    CHECK(!v.format_ok, " ");                                        /* no closing tag             */
    int32_t ids[64];
    int n = task_encode("<think>\nab</think>", ids, 64);
    CHECK(n == 5 && ids[0] == TOK_THINK && ids[1] == 10 && ids[4] == TOK_END_THINK, " ");
    CHECK(task_encode("abc", ids, 2) == -1, " ");
}

/* The Countdown process reward (task_reward with a verdict weight): a share of right
 * attempt lines (true arithmetic, right yes/no verdict, no repeat), only for a well-formed
 * completion; it never stands in for the accuracy reward. */
#define RW(vw) ((task_reward_w){.format_w = 0.1f, .verdict_w = (vw)})
static void test_verdict_reward(void) {
    task t = {.kind = TASK_COUNTDOWN, .nums = {3, 7, 25}, .target = 46};
    snprintf(t.prompt, sizeof t.prompt, "Using 3, 7 and 25, make 46 with + - *.");
    const float w = 0.5f;
    /* a clean trace: one right "no", one right "yes" -> accuracy + format + full process reward */
    const char *good = "<think>\n3+7=10, 10+25=35 no\n3*7=21, 21+25=46 yes\nso (3*7)+25\n</think>\n\n(3*7)+25";
    task_verdict v = task_check(&t, good);
    CHECK(v.correct && v.trace_valid && v.n_steps == 2 && v.n_steps_ok == 2, "%d/%d", v.n_steps_ok, v.n_steps);
    CHECK(fabsf(task_reward(&v, RW(w)) - (1.1f + w)) < 1e-6f && task_reward(&v, RW(0.0f)) == v.reward, " ");
    CHECK(!v.wrong_yes, " ");
    /* right arithmetic, wrong verdict ("yes" on 35): that line earns nothing, and the
     * answer it states is not the target -> no accuracy reward either */
    v = task_check(&t, "<think>\n3+7=10, 10+25=35 yes\nso (3+7)+25\n</think>\n\n(3+7)+25");
    CHECK(v.format_ok && !v.correct && !v.trace_valid && v.n_steps == 1 && v.n_steps_ok == 0, " ");
    CHECK(fabsf(task_reward(&v, RW(w)) - 0.1f) < 1e-6f, "wrong yes rewarded: %g", task_reward(&v, RW(w)));
    CHECK(v.wrong_yes, " ");
    /* --format-reward 0: a failed search ended with a well-formed wrong answer earns nothing;
     * the right answer derived by a valid trace earns exactly 1 */
    task_reward_w acc_only = {.format_w = 0.0f, .verdict_w = 0.0f};
    CHECK(task_reward(&v, acc_only) == 0.0f, "%g", task_reward(&v, acc_only));
    task_verdict vok = task_check(&t, good);
    CHECK(task_reward(&vok, acc_only) == 1.0f && task_reward(&vok, TASK_REWARD_DEFAULT) == vok.reward, " ");
    /* "no" on an attempt that does reach the target is a wrong verdict too */
    v = task_check(&t, "<think>\n3*7=21, 21+25=46 no\n3+7=10, 10+25=35 no\nso (3+7)+25\n</think>\n\n(3+7)+25");
    CHECK(v.n_steps == 2 && v.n_steps_ok == 1 && fabsf(task_reward(&v, RW(w)) - (0.1f + 0.5f * w)) < 1e-6f, " ");
    /* a right answer after a right-looking trace with a false step: no accuracy reward,
     * the false step earns no process reward (wrong arithmetic, verdict consistent with it) */
    v = task_check(&t, "<think>\n3+7=11, 11+25=36 no\n3*7=21, 21+25=46 yes\nso (3*7)+25\n</think>\n\n(3*7)+25");
    CHECK(v.correct && !v.trace_valid && v.n_steps_ok == 1 && v.n_steps == 2, " ");
    CHECK(task_reward(&v, RW(w)) < 1.0f, "accuracy reward without a valid trace");
    /* repeating a right "no" earns nothing more: the share falls */
    v = task_check(&t, "<think>\n3+7=10, 10+25=35 no\n3+7=10, 10+25=35 no\n3+7=10, 10+25=35 no\n"
                       "3*7=21, 21+25=46 yes\nso (3*7)+25\n</think>\n\n(3*7)+25");
    CHECK(v.trace_valid && v.n_steps == 4 && v.n_steps_ok == 2, "%d/%d", v.n_steps_ok, v.n_steps);
    task_verdict vg = task_check(&t, good);
    CHECK(task_reward(&v, RW(w)) < task_reward(&vg, RW(w)), " ");
    /* numbers not the problem's, garbage lines, attempts after the hit: not right */
    v = task_check(&t, "<think>\n4+7=11, 11+25=36 no\nhmm\n3*7=21, 21+25=46 yes\n3+7=10, 10+25=35 no\n"
                       "so (3*7)+25\n</think>\n\n(3*7)+25");
    CHECK(!v.trace_valid && v.n_steps == 4 && v.n_steps_ok == 1, "%d/%d", v.n_steps_ok, v.n_steps);
    /* no process reward without the format (answer outside the tags, missing </think>) */
    v = task_check(&t, "<think>\n3+7=10, 10+25=35 no\n3*7=21, 21+25=46 yes\nso (3*7)+25\n(3*7)+25");
    CHECK(!v.format_ok && task_reward(&v, RW(w)) == 0.0f, " ");
    /* the arithmetic tasks have no process term */
    task a = {.kind = TASK_ADD, .a = 347, .b = 589};
    v = task_check(&a, "<think>\n7+9+0=16\n4+8+1=13\n3+5+1=9\nso 936\n</think>\n\n936");
    CHECK(v.n_steps == 0 && task_reward(&v, RW(w)) == v.reward, " ");
    /* every synthetic trace without a slip scores the full share; validity is unchanged */
    uint64_t rng = 11;
    char buf[2048];
    for (int i = 0; i < 200; i++) {
        task c;
        task_make(&c, TASK_COUNTDOWN, 3, i % 2, &rng);
        task_trace(&c, 0.0f, 0, 192, &rng, buf, sizeof buf);
        v = task_check(&c, buf);
        CHECK(v.trace_valid && v.n_steps >= 1 && v.n_steps_ok == v.n_steps, "%d/%d: %s", v.n_steps_ok, v.n_steps, buf);
    }
}

/* Session 5's Countdown search traces (task_trace with cd_misses K > 0): no repeated attempt,
 * the hit at a position that varies (0..K misses before it, about uniformly), "yes" exactly
 * when the written result equals the target, every sequence within the context; slips are
 * checked like any result and caught by task_check. */
typedef struct cd_line_p { int x, y, z, tgt; char o1, o2, cmp; long long r, r2, s; char verdict[4]; } cd_line_p;
static int parse_cd_lines(const char *trace, cd_line_p *l, int max) {
    int n = 0;
    const char *p = strstr(trace, "<think>\n");
    if (!p) return -1;
    p += 8;
    while (*p && strncmp(p, "so ", 3) && n < max) {
        int used = 0;
        if (sscanf(p, "%d%c%d=%lld, %lld%c%d=%lld%c%d %3s%n", &l[n].x, &l[n].o1, &l[n].y, &l[n].r, &l[n].r2, &l[n].o2,
                   &l[n].z, &l[n].s, &l[n].cmp, &l[n].tgt, l[n].verdict, &used) != 11 || p[used] != '\n') return -1;
        p += used + 1;
        n++;
    }
    return n;
}
static long long cd_eval(long long x, char op, long long y) { return op == '+' ? x + y : op == '-' ? x - y : x * y; }
static void test_cd_search_traces(void) {
    enum { K = 4, CTX = 192, N = 3000 };
    uint64_t rng = 21;
    char buf[2048];
    int32_t tok[1024];
    cd_line_p l[64];
    int pos_hist[K + 2] = {0}, longest = 0, n_slipped = 0, n_slip_caught = 0, n_slip_yes = 0;
    for (int i = 0; i < N; i++) {
        task t;
        task_make(&t, TASK_COUNTDOWN, 3, i % 2, &rng);
        bool slipped_run = i % 3 == 2;
        uint64_t r0 = rng;
        task_trace(&t, slipped_run ? 1.0f : 0.0f, K, CTX, &rng, buf, sizeof buf);
        /* deterministic in the RNG */
        char again[2048];
        task_trace(&t, slipped_run ? 1.0f : 0.0f, K, CTX, &r0, again, sizeof again);
        CHECK(!strcmp(buf, again) && r0 == rng, "not deterministic: %s", t.prompt);
        int np = task_encode_prompt(&t, tok, 1024), nc = task_encode(buf, tok + np, 1024 - np);
        CHECK(np > 0 && nc > 0 && np + nc + 1 <= CTX, "%d tokens > ctx %d: %s", np + nc + 1, CTX, buf);
        longest = np + nc + 1 > longest ? np + nc + 1 : longest;
        int n = parse_cd_lines(buf, l, 64);
        CHECK(n >= 1 && n <= K + 1, "%d attempt lines: %s", n, buf);
        if (n < 1) continue;
        bool any_slip = false;
        for (int a = 0; a < n; a++) {
            int nums[3] = {l[a].x, l[a].y, l[a].z}, want[3] = {t.nums[0], t.nums[1], t.nums[2]}, hit = 0;
            for (int u = 0; u < 3; u++)   /* the problem's numbers, each once */
                for (int w = 0; w < 3; w++) if (want[w] == nums[u] && want[w] >= 0) { want[w] = -1; hit++; break; }
            CHECK(hit == 3, "numbers: %s", buf);
            long long truth = cd_eval(cd_eval(l[a].x, l[a].o1, l[a].y), l[a].o2, l[a].z);
            CHECK(l[a].r == cd_eval(l[a].x, l[a].o1, l[a].y) && l[a].r2 == l[a].r, "first step: %s", buf);
            any_slip |= l[a].s != truth;
            if (!slipped_run) CHECK(l[a].s == truth, "slip without err_rate: %s", buf);
            /* the verdict is decided by the written result only, compared with the target in the line */
            CHECK(l[a].tgt == t.target && l[a].cmp == (l[a].s < t.target ? '<' : l[a].s > t.target ? '>' : '='), "compare: %s", buf);
            CHECK(!strcmp(l[a].verdict, l[a].s == t.target ? "yes" : "no"), "verdict: %s", buf);
            CHECK((a == n - 1) == !strcmp(l[a].verdict, "yes"), "yes not (only) on the last line: %s", buf);
            for (int b = 0; b < a; b++)
                CHECK(!(l[b].x == l[a].x && l[b].y == l[a].y && l[b].z == l[a].z && l[b].o1 == l[a].o1 && l[b].o2 == l[a].o2),
                      "repeated attempt: %s", buf);
        }
        task_verdict v = task_check(&t, buf);
        CHECK(v.format_ok && v.n_steps == n, "%s", buf);
        if (!slipped_run) {
            CHECK(v.correct && v.trace_valid && v.n_steps_ok == n && !v.wrong_yes, "%s", buf);
            pos_hist[n - 1]++;
        } else if (any_slip) {
            n_slipped++;
            n_slip_caught += !v.trace_valid && v.reward < 1.0f;
            n_slip_yes += v.wrong_yes;   /* a slip can land on the target: a (consistent) yes on a miss */
        } else CHECK(v.correct && v.trace_valid, "%s", buf);
    }
    /* hit position: 0..K misses before it, each about 1/(K+1) of the clean traces */
    int clean = 0;
    for (int p = 0; p <= K; p++) clean += pos_hist[p];
    for (int p = 0; p <= K; p++)
        CHECK(pos_hist[p] > clean / (K + 1) * 3 / 4 && pos_hist[p] < clean / (K + 1) * 5 / 4,
              "hit after %d misses in %d of %d traces", p, pos_hist[p], clean);
    CHECK(n_slipped > 100 && n_slip_caught == n_slipped, "slips caught %d/%d", n_slip_caught, n_slipped);
    printf("  search traces: longest %d tokens (ctx %d), hit after 0..%d misses:", longest, CTX, K);
    for (int p = 0; p <= K; p++) printf(" %d", pos_hist[p]);
    printf("; %d slipped traces caught, %d with a slipped yes\n", n_slip_caught, n_slip_yes);
    /* a small context lowers the number of misses instead of cutting the sequence */
    for (int i = 0; i < 300; i++) {
        task t;
        task_make(&t, TASK_COUNTDOWN, 3, false, &rng);
        task_trace(&t, 0.1f, 50, 110, &rng, buf, sizeof buf);
        int np = task_encode_prompt(&t, tok, 1024), nc = task_encode(buf, tok + np, 1024 - np);
        CHECK(np + nc + 1 <= 110, "%d tokens > ctx 110: %s", np + nc + 1, buf);
    }
    /* cd_misses 0 keeps session 3's traces (at most 3 misses, then the hit, no comparison) */
    for (int i = 0; i < 300; i++) {
        task t;
        task_make(&t, TASK_COUNTDOWN, 3, false, &rng);
        task_trace(&t, 0.0f, 0, CTX, &rng, buf, sizeof buf);
        task_verdict v = task_check(&t, buf);
        CHECK(parse_cd_lines(buf, l, 64) == -1 && v.trace_valid && v.n_steps >= 1 && v.n_steps <= 4, "session-3 trace: %s", buf);
    }
    /* the comparison is checked: a wrong sign or a target that is not the problem's is a wrong line */
    task t = {.kind = TASK_COUNTDOWN, .nums = {3, 7, 25}, .target = 46};
    const char *ans = "so (3*7)+25\n</think>\n\n(3*7)+25";
    snprintf(buf, sizeof buf, "<think>\n3+7=10, 10+25=35<46 no\n3*7=21, 21+25=46=46 yes\n%s", ans);
    task_verdict v = task_check(&t, buf);
    CHECK(v.correct && v.trace_valid && v.n_steps == 2 && v.n_steps_ok == 2 && !v.wrong_yes, "%s", buf);
    snprintf(buf, sizeof buf, "<think>\n3+7=10, 10+25=35>46 no\n3*7=21, 21+25=46=46 yes\n%s", ans);
    v = task_check(&t, buf);
    CHECK(v.correct && !v.trace_valid && v.n_steps_ok == 1 && v.reward < 1.0f, "wrong sign accepted: %s", buf);
    snprintf(buf, sizeof buf, "<think>\n3+7=10, 10+25=35<45 no\n3*7=21, 21+25=46=46 yes\n%s", ans);
    v = task_check(&t, buf);
    CHECK(!v.trace_valid && v.n_steps_ok == 1, "wrong target accepted: %s", buf);
    snprintf(buf, sizeof buf, "<think>\n3+7=10, 10+25=35=35 yes\nso (3+7)+25\n</think>\n\n(3+7)+25");
    v = task_check(&t, buf);
    CHECK(!v.correct && !v.trace_valid && v.wrong_yes && v.n_steps_ok == 0, "%s", buf);
}

/* The held-out set the engine evaluation (--heldout-prompts / --score) and --eval share:
 * deterministic, ordered by task kind, n per task, and disjoint from the training split. */
static bool same_problem(const task *x, const task *y) {
    return x->kind == y->kind && x->a == y->a && x->b == y->b && x->target == y->target &&
           !memcmp(x->nums, y->nums, sizeof x->nums);
}
static void test_heldout_set(void) {
    enum { N = 40 };
    unsigned mask = 1u << TASK_ADD | 1u << TASK_MUL | 1u << TASK_COUNTDOWN;
    task a[3 * N], b[3 * N];
    CHECK(tr_heldout_set(mask, 2, N, a) == 3 * N && tr_heldout_set(mask, 2, N, b) == 3 * N, " ");
    for (int i = 0; i < 3 * N; i++) {
        CHECK(same_problem(&a[i], &b[i]) && !strcmp(a[i].prompt, b[i].prompt), "not deterministic at %d", i);
        CHECK(a[i].kind == (i < N ? TASK_ADD : i < 2 * N ? TASK_MUL : TASK_COUNTDOWN), "order at %d", i);
    }
    uint64_t rng = 5;
    int clash = 0;
    for (int j = 0; j < 3000; j++) {
        task t;
        task_make(&t, j % 3 == 0 ? TASK_ADD : j % 3 == 1 ? TASK_MUL : TASK_COUNTDOWN, 2, false, &rng);
        for (int i = 0; i < 3 * N; i++) clash += same_problem(&t, &a[i]);
    }
    CHECK(clash == 0, "%d training problems are in the held-out set", clash);
}

int main(void) {
    RUN(test_heldout_set);
    RUN(test_tasks_and_reward);
    RUN(test_verdict_reward);
    RUN(test_cd_search_traces);
    RUN(test_gemm);
    RUN(test_gradients);
    RUN(test_gradients_loops);
    RUN(test_gradients_tempered);
    RUN(test_optim_and_checkpoint);
    return TEST_SUMMARY();
}
