/* test_ops.c — ops vs naive double-precision references: rmsnorm, swiglu, rope
 * (normal and neox pairs), and the threaded matmul (F32, F16, Q8_0
 * weights; row counts that are not a multiple of the thread count; 1 and many tokens). */
#include "test.h"
#include "ops.h"
#include <math.h>

static unsigned rng_state = 12345;
static float frand(void) {   /* uniform in [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) / 8388608.0 - 1.0);
}

static void test_rmsnorm_swiglu(void) {
    enum { N = 67 };
    float x[N], w[N], out[N];
    for (int i = 0; i < N; i++) { x[i] = frand() * 3; w[i] = frand(); }
    ops_rmsnorm(out, x, w, N, 1e-6f);
    double ss = 0; for (int i = 0; i < N; i++) ss += (double)x[i] * x[i];
    double s = 1.0 / sqrt(ss / N + 1e-6);
    for (int i = 0; i < N; i++) CHECK_NEAR(out[i], x[i] * s * w[i], 1e-5);
    ops_swiglu(out, x, w, N);
    for (int i = 0; i < N; i++) CHECK_NEAR(out[i], x[i] / (1 + exp(-(double)x[i])) * w[i], 1e-5);
}

static void test_rope(void) {
    enum { H = 3, D = 16, ROT = 12 };
    double inv[ROT / 2];
    for (int i = 0; i < ROT / 2; i++) inv[i] = pow(10000.0, -2.0 * i / ROT);
    for (int neox = 0; neox <= 1; neox++) {
        float x[H * D], y[H * D];
        for (int i = 0; i < H * D; i++) x[i] = y[i] = frand();
        const int pos = 37;
        ops_rope(y, H, D, ROT, pos, inv, neox);
        for (int h = 0; h < H; h++) {
            const float *xh = x + h * D, *yh = y + h * D;
            for (int i = 0; i < ROT / 2; i++) {
                int a = neox ? i : 2 * i, b = neox ? i + ROT / 2 : 2 * i + 1;
                double th = pos * inv[i];
                CHECK_NEAR(yh[a], xh[a] * cos(th) - xh[b] * sin(th), 1e-5);
                CHECK_NEAR(yh[b], xh[a] * sin(th) + xh[b] * cos(th), 1e-5);
            }
            for (int i = ROT; i < D; i++) CHECK(yh[i] == xh[i], "dims past n_rot untouched");
        }
    }
}

/* y = W x for weights of type t built from random floats; compare with double math on
 * the dequantized weights (activations rounded as the vec_dot_type rounds them). */
static void check_matmul(r1_type t, int rows, int cols, int n_tok, int nth, double tol) {
    const r1_type_traits *tr = r1_type_get_traits(t);
    REQUIRE(tr && tr->from_float, "type %d", (int)t);
    const size_t rb = r1_row_size(t, cols);
    float *wf = malloc(sizeof(float) * rows * cols), *wd = malloc(sizeof(float) * rows * cols);
    char *wq = malloc(rb * rows);
    float *x = malloc(sizeof(float) * n_tok * cols), *y = malloc(sizeof(float) * n_tok * rows);
    void *act = malloc(ops_act_bytes(t, cols, n_tok));
    for (int i = 0; i < rows * cols; i++) wf[i] = frand();
    for (int i = 0; i < n_tok * cols; i++) x[i] = frand();
    for (int r = 0; r < rows; r++) {
        tr->from_float(wf + (size_t)r * cols, wq + r * rb, cols);
        tr->to_float(wq + r * rb, wd + (size_t)r * cols, cols);
    }
    r1_wmat w;
    REQUIRE(r1_wmat_init(&w, t, wq, cols, rows, "w", NULL) == R1_OK, "wmat");
    threadpool *p = NULL;
    REQUIRE(threadpool_create(nth, &p, NULL) == R1_OK, "pool");
    ops_matmul(p, &w, n_tok, x, cols, act, y, rows);
    double maxerr = 0;
    for (int tk = 0; tk < n_tok; tk++)
        for (int r = 0; r < rows; r++) {
            double d = 0;
            for (int c = 0; c < cols; c++) d += (double)wd[(size_t)r * cols + c] * x[(size_t)tk * cols + c];
            maxerr = fmax(maxerr, fabs(d - y[(size_t)tk * rows + r]));
        }
    CHECK(maxerr <= tol, "%s %dx%d tokens %d threads %d: max error %g", tr->name, rows, cols, n_tok, nth, maxerr);
    threadpool_free(p);
    free(wf); free(wd); free(wq); free(x); free(y); free(act);
}

static void test_matmul(void) {
    const int toks[] = {1, 5};
    for (int ti = 0; ti < 2; ti++)
        for (int nth = 1; nth <= 3; nth++) {
            check_matmul(R1_TYPE_F32, 67, 64, toks[ti], nth, 1e-4);
            check_matmul(R1_TYPE_F16, 131, 96, toks[ti], nth, 1e-4);
            check_matmul(R1_TYPE_Q8_0, 35, 128, toks[ti], nth, 0.1);  /* activations rounded to 8 bits */
        }
}

int main(void) {
    RUN(test_rmsnorm_swiglu);
    RUN(test_rope);
    RUN(test_matmul);
    return TEST_SUMMARY();
}
