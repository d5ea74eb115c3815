/* test_sampler.c — sampler chain: exact cut sets, greedy, penalty, RNG statistics. */
#include "test.h"
#include "sampler.h"
#include "common.h"
#include <math.h>
#include <stdlib.h>

static r1_sampler *mk(float temp, int k, float p, float minp, float pen, uint64_t seed, int n_vocab) {
    r1_sampler_params sp = r1_sampler_default_params();
    sp.temperature = temp; sp.top_k = k; sp.top_p = p; sp.min_p = minp; sp.repeat_penalty = pen; sp.seed = seed;
    r1_sampler *s = NULL;
    r1_error e;
    if (r1_sampler_create(&sp, n_vocab, &s, &e) != R1_OK) fprintf(stderr, "%s\n", e.msg);
    return s;
}

/* logits = log(probs) so that at temperature 1 the softmax gives the probs back */
static void logs_of(const double *pr, int n, float *out) { for (int i = 0; i < n; i++) out[i] = (float)log(pr[i]); }

static int has(const int32_t *ids, int n, int32_t id) { for (int i = 0; i < n; i++) if (ids[i] == id) return 1; return 0; }

static void test_defaults(void) {
    r1_sampler_params p = r1_sampler_default_params();
    CHECK_NEAR(p.temperature, 0.6, 1e-7);
    CHECK_NEAR(p.top_p, 0.95, 1e-7);
    CHECK(p.top_k == 0 && p.min_p == 0 && p.repeat_penalty == 1.0f);
}

static void test_bad_params(void) {
    r1_sampler_params p = r1_sampler_default_params();
    r1_sampler *s = NULL; r1_error e = {0};
    p.top_p = 0; CHECK(r1_sampler_create(&p, 10, &s, &e) == R1_ERR_INVALID_ARG && strstr(e.msg, "top_p"));
    p = r1_sampler_default_params(); p.temperature = -1;
    CHECK(r1_sampler_create(&p, 10, &s, &e) == R1_ERR_INVALID_ARG && strstr(e.msg, "temperature"));
    p = r1_sampler_default_params();
    CHECK(r1_sampler_create(&p, 0, &s, &e) == R1_ERR_INVALID_ARG && s == NULL);
    r1_sampler_free(NULL);
}

static void test_greedy(void) {
    enum { V = 5000 };
    static float lg[V];
    srand(7);
    for (int i = 0; i < V; i++) lg[i] = (float)((double)rand() / RAND_MAX * 10 - 5);
    lg[1234] = 9.5f;
    r1_sampler *s = mk(0, 0, 1, 0, 1, 1, V);
    REQUIRE(s);
    for (int i = 0; i < 10; i++) CHECK(r1_sampler_sample(s, lg) == 1234);
    r1_sampler_free(s);
    /* greedy ignores top-k/top-p but honours the penalty */
    s = mk(0, 3, 0.5f, 0, 100.0f, 1, V);
    r1_sampler_accept(s, 1234);
    int32_t got = r1_sampler_sample(s, lg);
    CHECK(got != 1234);
    int best = -1;
    for (int i = 0; i < V; i++) if (i != 1234 && (best < 0 || lg[i] > lg[best])) best = i;
    CHECK(got == best, "%d vs %d", got, best);
    r1_sampler_free(s);
}

static void test_top_k_exact(void) {
    float lg[8] = {0.5f, 3.0f, -1.0f, 2.0f, 2.5f, -4.0f, 1.0f, 0.0f};
    r1_sampler *s = mk(1, 3, 1, 0, 1, 1, 8);
    int32_t ids[8]; float pr[8];
    int n = r1_sampler_candidates(s, lg, ids, pr);
    CHECK(n == 3);
    CHECK(ids[0] == 1 && ids[1] == 4 && ids[2] == 3);
    CHECK(!has(ids, n, 0) && !has(ids, n, 6));
    double z = exp(3.0) + exp(2.5) + exp(2.0);
    CHECK_NEAR(pr[0], exp(3.0) / z, 1e-6);
    CHECK_NEAR(pr[2], exp(2.0) / z, 1e-6);
    r1_sampler_free(s);
    /* temperature 0.5 sharpens: probs ∝ exp(2*logit) */
    s = mk(0.5f, 2, 1, 0, 1, 1, 8);
    n = r1_sampler_candidates(s, lg, ids, pr);
    CHECK(n == 2);
    CHECK_NEAR(pr[0], 1.0 / (1.0 + exp(-1.0)), 1e-6);
    r1_sampler_free(s);
}

static void test_top_p_exact(void) {
    const double P[6] = {0.05, 0.5, 0.15, 0.2, 0.07, 0.03};
    float lg[6]; logs_of(P, 6, lg);
    int32_t ids[6]; float pr[6];
    struct { float top_p; int n; } cases[] = {{0.45f, 1}, {0.69f, 2}, {0.8f, 3}, {0.9f, 4}, {0.96f, 5}, {0.99f, 6}, {1.0f, 6}};
    for (size_t c = 0; c < R1_ARRAY_LEN(cases); c++) {
        r1_sampler *s = mk(1, 0, cases[c].top_p, 0, 1, 1, 6);
        int n = r1_sampler_candidates(s, lg, ids, pr);
        CHECK(n == cases[c].n, "top_p %g: %d survivors, want %d", cases[c].top_p, n, cases[c].n);
        const int order[6] = {1, 3, 2, 4, 0, 5};
        for (int i = 0; i < n && i < cases[c].n; i++) CHECK(ids[i] == order[i]);
        double z = 0; for (int i = 0; i < n; i++) z += P[order[i]];
        CHECK_NEAR(pr[0], P[1] / z, 1e-6);
        r1_sampler_free(s);
    }
}

static void test_min_p_exact(void) {
    const double P[5] = {0.4, 0.3, 0.15, 0.1, 0.05};
    float lg[5]; logs_of(P, 5, lg);
    int32_t ids[5]; float pr[5];
    struct { float min_p; int n; } cases[] = {{0.8f, 1}, {0.7f, 2}, {0.3f, 3}, {0.2f, 4}, {0.1f, 5}};
    for (size_t c = 0; c < R1_ARRAY_LEN(cases); c++) {
        r1_sampler *s = mk(1, 0, 1, cases[c].min_p, 1, 1, 5);
        int n = r1_sampler_candidates(s, lg, ids, pr);
        CHECK(n == cases[c].n, "min_p %g: %d survivors, want %d", cases[c].min_p, n, cases[c].n);
        r1_sampler_free(s);
    }
}

static void test_penalty(void) {
    float lg[3] = {2.0f, -2.0f, 1.0f};
    r1_sampler *s = mk(1, 0, 1, 0, 2.0f, 1, 3);
    r1_sampler_accept(s, 0); r1_sampler_accept(s, 1); r1_sampler_accept(s, 0);  /* duplicates count once */
    int32_t ids[3]; float pr[3];
    int n = r1_sampler_candidates(s, lg, ids, pr);
    CHECK(n == 3);
    /* penalised logits: {1, -4, 1} */
    double z = 2 * exp(1.0) + exp(-4.0);
    CHECK(ids[2] == 1);
    CHECK_NEAR(pr[2], exp(-4.0) / z, 1e-6);
    CHECK_NEAR(pr[0], exp(1.0) / z, 1e-6);
    CHECK_NEAR(lg[0], 2.0, 0);  /* input not modified */
    r1_sampler_reset(s);       /* history cleared */
    n = r1_sampler_candidates(s, lg, ids, pr);
    CHECK(ids[0] == 0);
    r1_sampler_free(s);
}

static void test_penalty_window(void) {
    float lg[4] = {1, 1, 1, 1};
    r1_sampler_params sp = r1_sampler_default_params();
    sp.temperature = 1; sp.top_p = 1; sp.repeat_penalty = 4; sp.repeat_last_n = 2;
    r1_sampler *s; REQUIRE(r1_sampler_create(&sp, 4, &s, NULL) == R1_OK);
    r1_sampler_accept(s, 0); r1_sampler_accept(s, 1); r1_sampler_accept(s, 2);  /* 0 leaves the window */
    int32_t ids[4]; float pr[4];
    int n = r1_sampler_candidates(s, lg, ids, pr);
    CHECK(n == 4 && (ids[0] == 0 || ids[0] == 3) && (ids[1] == 0 || ids[1] == 3));
    CHECK_NEAR(pr[0], pr[1], 1e-7);
    r1_sampler_free(s);
}

static void test_frequencies(void) {
    const double P[4] = {0.5, 0.3, 0.15, 0.05};
    float lg[4]; logs_of(P, 4, lg);
    enum { N = 40000 };
    int cnt[4] = {0};
    r1_sampler *s = mk(1, 0, 1, 0, 1, 42, 4);
    for (int i = 0; i < N; i++) cnt[r1_sampler_sample(s, lg)]++;
    for (int i = 0; i < 4; i++) {
        double sd = sqrt(N * P[i] * (1 - P[i]));
        CHECK(fabs(cnt[i] - N * P[i]) < 4.5 * sd, "token %d: %d draws, expected %.0f ± %.0f", i, cnt[i], N * P[i], sd);
    }
    r1_sampler_free(s);
    /* with temperature 0.5 the probabilities become ∝ P^2 */
    double q[4], z = 0;
    for (int i = 0; i < 4; i++) { q[i] = P[i] * P[i]; z += q[i]; }
    memset(cnt, 0, sizeof cnt);
    s = mk(0.5f, 0, 1, 0, 1, 43, 4);
    for (int i = 0; i < N; i++) cnt[r1_sampler_sample(s, lg)]++;
    for (int i = 0; i < 4; i++) {
        double p = q[i] / z, sd = sqrt(N * p * (1 - p));
        CHECK(fabs(cnt[i] - N * p) < 4.5 * sd + 1, "T=0.5 token %d: %d draws, expected %.0f", i, cnt[i], N * p);
    }
    r1_sampler_free(s);
    /* min-p without top-p (the unsorted draw path): 0.05 is cut, the rest renormalised */
    memset(cnt, 0, sizeof cnt);
    s = mk(1, 0, 1, 0.2f, 1, 44, 4);
    for (int i = 0; i < N; i++) cnt[r1_sampler_sample(s, lg)]++;
    CHECK(cnt[3] == 0, "min-p let a cut token through %d times", cnt[3]);
    for (int i = 0; i < 3; i++) {
        double p = P[i] / 0.95, sd = sqrt(N * p * (1 - p));
        CHECK(fabs(cnt[i] - N * p) < 4.5 * sd, "min-p token %d: %d draws, expected %.0f", i, cnt[i], N * p);
    }
    r1_sampler_free(s);
    /* over many seeds, the first draw also follows P (no seed-dependent bias) */
    memset(cnt, 0, sizeof cnt);
    for (int seed = 0; seed < 8000; seed++) {
        s = mk(1, 0, 1, 0, 1, (uint64_t)seed, 4);
        cnt[r1_sampler_sample(s, lg)]++;
        r1_sampler_free(s);
    }
    for (int i = 0; i < 4; i++) {
        double sd = sqrt(8000 * P[i] * (1 - P[i]));
        CHECK(fabs(cnt[i] - 8000 * P[i]) < 4.5 * sd, "seeds: token %d: %d", i, cnt[i]);
    }
}

static void test_determinism(void) {
    enum { V = 1000, T = 200 };
    static float lg[V];
    for (int i = 0; i < V; i++) lg[i] = sinf((float)i * 0.37f) * 3;
    int32_t a[T], b[T], c[T];
    r1_sampler *s1 = mk(0.8f, 40, 0.95f, 0.02f, 1.1f, 1234, V), *s2 = mk(0.8f, 40, 0.95f, 0.02f, 1.1f, 1234, V),
               *s3 = mk(0.8f, 40, 0.95f, 0.02f, 1.1f, 1235, V);
    for (int i = 0; i < T; i++) {
        a[i] = r1_sampler_sample(s1, lg); r1_sampler_accept(s1, a[i]);
        b[i] = r1_sampler_sample(s2, lg); r1_sampler_accept(s2, b[i]);
        c[i] = r1_sampler_sample(s3, lg); r1_sampler_accept(s3, c[i]);
    }
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c, sizeof a) != 0);
    r1_sampler_reset(s1);
    for (int i = 0; i < T; i++) { int32_t t = r1_sampler_sample(s1, lg); r1_sampler_accept(s1, t); CHECK(t == a[i]); if (t != a[i]) break; }
    r1_sampler_free(s1); r1_sampler_free(s2); r1_sampler_free(s3);
}

/* 150k vocab: the fast top-p path keeps exactly the set a naive full sort keeps. */
static int cmp_desc_d(const void *x, const void *y) { double a = *(const double *)x, b = *(const double *)y; return a > b ? -1 : a < b; }
static void test_large_vocab_top_p(void) {
    enum { V = 151936 };
    float *lg = malloc(V * sizeof *lg);
    double *pr = malloc(V * sizeof *pr);
    int32_t *ids = malloc(V * sizeof *ids);
    float *pp = malloc(V * sizeof *pp);
    REQUIRE(lg && pr && ids && pp);
    uint64_t x = 99;
    for (int i = 0; i < V; i++) { x = x * 6364136223846793005ull + 1442695040888963407ull; lg[i] = (float)((x >> 40) % 10000) / 1000.0f; }
    r1_sampler *s = mk(0.6f, 0, 0.95f, 0, 1, 5, V);
    double t0 = r1_time_s();
    int n = r1_sampler_candidates(s, lg, ids, pp);
    double dt = r1_time_s() - t0;
    /* naive reference */
    double mx = -1e30, z = 0;
    for (int i = 0; i < V; i++) if (lg[i] > mx) mx = lg[i];
    for (int i = 0; i < V; i++) { pr[i] = exp((lg[i] - mx) / 0.6); z += pr[i]; }
    for (int i = 0; i < V; i++) pr[i] /= z;
    qsort(pr, V, sizeof *pr, cmp_desc_d);
    double cum = 0; int want = V;
    for (int i = 0; i < V; i++) { cum += pr[i]; if (cum >= 0.95) { want = i + 1; break; } }
    CHECK(abs(n - want) <= 1, "%d vs %d survivors", n, want);  /* float vs double rounding at the edge */
    for (int i = 1; i < n; i++) CHECK(pp[i] <= pp[i - 1]);
    printf("  150k-vocab top-p chain: %d survivors in %.2f ms\n", n, dt * 1e3);
    /* timing on a peaked (Gaussian, sigma 3) 151,936-logit row with R1's defaults */
    for (int i = 0; i < V; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((x >> 11) + 1.0) / 9007199254740993.0;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = (double)(x >> 11) / 9007199254740992.0;
        lg[i] = (float)(3.0 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
    }
    r1_sampler_free(s);
    s = mk(0.6f, 0, 0.95f, 0, 1, 5, V);
    t0 = r1_time_s();
    for (int i = 0; i < 20; i++) r1_sampler_sample(s, lg);
    printf("  150k-vocab Gaussian logits, T 0.6 top-p 0.95: %.2f ms per sample (%d in the nucleus)\n",
           (r1_time_s() - t0) / 20 * 1e3, r1_sampler_candidates(s, lg, ids, pp));
    r1_sampler_free(s);
    free(lg); free(pr); free(ids); free(pp);
}

static void test_nonfinite(void) {
    float lg[3] = {-INFINITY, -INFINITY, -INFINITY};
    r1_sampler *s = mk(1, 0, 0.9f, 0, 1, 1, 3);
    int32_t t = r1_sampler_sample(s, lg);
    CHECK(t >= 0 && t < 3);
    float lg2[3] = {NAN, 1.0f, 0.0f};
    t = r1_sampler_sample(s, lg2);
    CHECK(t == 1 || t == 2);
    r1_sampler_free(s);
    s = mk(0, 0, 1, 0, 1, 1, 3);
    CHECK(r1_sampler_sample(s, lg2) == 1);
    r1_sampler_free(s);
}

int main(void) {
    RUN(test_defaults);
    RUN(test_bad_params);
    RUN(test_greedy);
    RUN(test_top_k_exact);
    RUN(test_top_p_exact);
    RUN(test_min_p_exact);
    RUN(test_penalty);
    RUN(test_penalty_window);
    RUN(test_frequencies);
    RUN(test_determinism);
    RUN(test_large_vocab_top_p);
    RUN(test_nonfinite);
    return TEST_SUMMARY();
}
