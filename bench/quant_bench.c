/*
 * quant_bench.c — per weight type, the engine's own product path (ops_quantize_rows +
 * ops_matmul_q on a threadpool of T threads, activation conversion included) timed as
 *   matvec: one token against a matrix of `rows` x 4096 weights sized to ~MiB (well past
 *           the caches) → GB/s of weight bytes, against a measured memory read bandwidth;
 *   GEMM:   512 tokens against a 4096 x 4096 matrix → GOP/s = 2·rows·cols·tokens / time;
 * on 1 and 2 threads. Not a test: numbers depend on the machine. Built and run by
 * bench/quant.sh; bench/kernels.sh puts it beside ggml's (tests/oracle/ggml_kernels.c),
 * which follows the same protocol: one warm-up call, then the median of `repeats` calls.
 *
 *   quant_bench [MiB per matrix (default 256)] [repeats (default 5)] [gemm tokens (512)] [rows]
 *
 * Weights: 64 rows of uniform(-0.5, 0.5) data quantized by the type's from_float and
 * replicated. The bandwidth reference reads a buffer of the same size with 64-bit loads
 * (1 and 2 threads); where the F32 matvec streams faster than that loop, its rate is taken
 * as the bandwidth instead (%bw columns). "in-cache" repeats the 1-thread matvec on the
 * first 512 KiB of the matrix (cache-resident: compute-bound). Each type's result is also
 * printed as one "row TYPE bits mv1 mv2 gemm1 gemm2 bw1 bw2" line when the 4th argument is
 * "rows" (for bench/kernels.sh).
 */
#include "ops.h"
#include "quant.h"
#include "threadpool.h"
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bench_clock.h"

/* Memory read loop (bandwidth probe), split over 1 or 2 pthreads. */
typedef struct rd { const uint64_t *mem; size_t n; uint64_t sink; } rd;

static void *read_loop(void *arg) {
    rd *j = arg;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i + 4 <= j->n; i += 4) { a += j->mem[i]; b ^= j->mem[i + 1]; c += j->mem[i + 2]; d ^= j->mem[i + 3]; }
    j->sink = a + b + c + d;
    return NULL;
}

static double read_bw(const uint64_t *mem, size_t n, int nt, int reps) {
    double t[64];
    uint64_t sink = 0;
    if (reps > 64) reps = 64;
    for (int rep = -1; rep < reps; rep++) {
        rd j[2] = {{mem, n / nt, 0}, {mem + n / 2, n / 2, 0}};
        pthread_t th;
        double t0 = now_s();
        if (nt == 2) pthread_create(&th, NULL, read_loop, &j[1]);
        read_loop(&j[0]);
        if (nt == 2) pthread_join(th, NULL);
        if (rep >= 0) t[rep] = now_s() - t0;
        sink += j[0].sink + j[1].sink;
    }
    if (sink == 42) fputc(' ', stderr);
    return (double)(n / nt * nt) * 8 / median_d(t, reps) / 1e9;
}

/* Median seconds of `reps` calls (after one warm-up) of the engine's path:
 * X (n_tok x w->n_cols floats) converted by ops_quantize_rows, then ops_matmul_q. */
static double time_matmul(threadpool *pool, const r1_wmat *w, int n_tok, const float *x, void *act, float *y,
                          int reps) {
    double t[64];
    if (reps > 64) reps = 64;
    for (int rep = -1; rep < reps; rep++) {
        double t0 = now_s();
        size_t st = ops_quantize_rows(pool, w->type, x, n_tok, w->n_cols, (size_t)w->n_cols, act);
        ops_matmul_q(pool, w, n_tok, act, st, y, (size_t)w->n_rows);
        if (rep >= 0) t[rep] = now_s() - t0;
    }
    return median_d(t, reps);
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    int n_gemm = argc > 3 ? atoi(argv[3]) : 512;
    int rows_out = argc > 4 && strcmp(argv[4], "rows") == 0;
    const int n = 4096, g_rows = 4096;
    if (mib < 64 || reps < 1 || n_gemm < 1) { fprintf(stderr, "usage: quant_bench [MiB>=64] [repeats] [gemm tokens]\n"); return 2; }
    size_t bytes = mib << 20;
    static const r1_type types[] = {R1_TYPE_F32, R1_TYPE_F16, R1_TYPE_BF16, R1_TYPE_Q8_0, R1_TYPE_Q6_K,
                                    R1_TYPE_Q5_K, R1_TYPE_Q5_1, R1_TYPE_Q5_0, R1_TYPE_Q4_K, R1_TYPE_Q4_1,
                                    R1_TYPE_Q4_0, R1_TYPE_IQ4_NL, R1_TYPE_IQ4_XS, R1_TYPE_Q3_K, R1_TYPE_Q2_K};
    char *w = malloc(bytes);
    float *src = malloc(64 * (size_t)n * 4), *y = malloc((bytes / 64 + (size_t)g_rows * n_gemm) * 4);
    float *xg = malloc((size_t)n_gemm * n * 4);
    void *act = malloc(ops_act_bytes(R1_TYPE_F32, n, n_gemm) + 4096);
    threadpool *pool[3] = {NULL, NULL, NULL};
    r1_error err;
    if (!w || !src || !y || !xg || !act) { fprintf(stderr, "out of memory\n"); return 1; }
    for (int nt = 1; nt <= 2; nt++)
        if (threadpool_create(nt, &pool[nt], &err) != R1_OK) { fprintf(stderr, "threadpool: %s\n", err.msg); return 1; }
    uint64_t seed = 88172645463325252ull;
    for (size_t i = 0; i < 64 * (size_t)n; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        src[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5);
    }
    for (size_t i = 0; i < (size_t)n_gemm * n; i++) xg[i] = src[(i * 7919) % (64 * (size_t)n)];
    memset(w, 1, bytes);

    double m1 = read_bw((const uint64_t *)w, bytes / 8, 1, reps), m2 = read_bw((const uint64_t *)w, bytes / 8, 2, reps);
    double f1, f2;   /* F32 matvec throughput: the bandwidth if it beats the read loop */
    {
        size_t rb = r1_row_size(R1_TYPE_F32, n);
        int rows = (int)(bytes / rb);
        for (int r = 0; r < rows; r++) memcpy(w + (size_t)r * rb, src + (size_t)(r % 64) * n, rb); /* no denormals */
        r1_wmat m;
        if (r1_wmat_init(&m, R1_TYPE_F32, w, n, rows, "f32", &err) != R1_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
        f1 = (double)rows * rb / time_matmul(pool[1], &m, 1, src, act, y, reps) / 1e9;
        f2 = (double)rows * rb / time_matmul(pool[2], &m, 1, src, act, y, reps) / 1e9;
    }
    printf("isa %s, matvec %zu MiB x %d columns, GEMM %d x %d x %d tokens; 1 warm-up, median of %d\n",
           r1_isa_name(r1_isa_active()), mib, n, g_rows, n, n_gemm, reps);
    printf("memory read bandwidth: %.1f GB/s (1 thread), %.1f GB/s (2 threads) [read loop %.1f / %.1f, f32 matvec %.1f / %.1f]\n\n",
           m1 > f1 ? m1 : f1, m2 > f2 ? m2 : f2, m1, m2, f1, f2);
    if (f1 > m1) m1 = f1;
    if (f2 > m2) m2 = f2;
    printf("%-8s %7s %9s %5s %9s %5s %9s %11s %11s\n", "type", "bits/w", "mv 1T", "%bw", "mv 2T", "%bw", "in-cache",
           "GEMM 1T", "GEMM 2T");
    printf("%-8s %7s %9s %5s %9s %5s %9s %11s %11s\n", "", "", "GB/s", "", "GB/s", "", "GB/s", "GOP/s", "GOP/s");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const r1_type_traits *t = r1_type_get_traits(types[ti]);
        size_t rb = r1_row_size(types[ti], n);
        int rows = (int)(bytes / rb) / 256 * 256; /* as ggml_kernels.c (row tiles of AMX/repacked layouts) */
        for (int r = 0; r < 64 && r < rows; r++) t->from_float(src + (size_t)r * n, w + (size_t)r * rb, n);
        for (int r = 64; r < rows; r++) memcpy(w + (size_t)r * rb, w + (size_t)(r % 64) * rb, rb);
        r1_wmat m, mc, mg;
        if (r1_wmat_init(&m, types[ti], w, n, rows, t->name, &err) != R1_OK) { fprintf(stderr, "%s\n", err.msg); return 1; }
        size_t used = (size_t)rows * rb;
        double g1 = used / time_matmul(pool[1], &m, 1, src, act, y, reps) / 1e9;
        double g2 = used / time_matmul(pool[2], &m, 1, src, act, y, reps) / 1e9;
        mc = r1_wmat_rows(&m, 0, (int64_t)((512 << 10) / rb));
        double gc = (double)mc.n_rows * rb / time_matmul(pool[1], &mc, 1, src, act, y, reps * 4) / 1e9;
        mg = r1_wmat_rows(&m, 0, g_rows);
        double ops = 2.0 * g_rows * n * n_gemm;
        double q1 = ops / time_matmul(pool[1], &mg, n_gemm, xg, act, y, reps) / 1e9;
        double q2 = ops / time_matmul(pool[2], &mg, n_gemm, xg, act, y, reps) / 1e9;
        double bits = 8.0 * t->type_size / t->blck_size;
        printf("%-8s %7.3f %9.1f %4.0f%% %9.1f %4.0f%% %9.1f %11.1f %11.1f\n", t->name, bits, g1, 100 * g1 / m1, g2,
               100 * g2 / m2, gc, q1, q2);
        if (rows_out) printf("row %s %.3f %.2f %.2f %.2f %.2f %.2f %.2f\n", t->name, bits, g1, g2, q1, q2, m1, m2);
        fflush(stdout);
    }
    for (int nt = 1; nt <= 2; nt++) threadpool_free(pool[nt]);
    free(w); free(src); free(y); free(xg); free(act);
    return 0;
}
