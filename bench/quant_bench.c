/*
 * quant_bench.c — matrix-vector throughput of every weight type's vec_dot, in GB/s of
 * weight bytes streamed, against a measured memory read bandwidth. Not a test: numbers
 * depend on the machine. Built and run by bench/quant.sh.
 *
 *   quant_bench [MiB per matrix (default 256)] [repeats (default 5)]
 *
 * For each type: a matrix of `rows` x 4096 weights sized to ~MiB (well past the caches),
 * filled by quantizing 64 rows of N(0,1) data and replicating them; one activation row
 * converted to the vec_dot type; y[r] = vec_dot(row r, x) for all rows, on 1 and 2
 * threads (rows split in halves); best of `repeats`. The bandwidth reference reads a
 * buffer of the same size with 64-bit loads (1 and 2 threads); where the F32 dot kernel
 * streams faster than that loop, its rate is taken as the bandwidth instead (%bw columns). The last column repeats
 * the 1-thread run on the first 512 KiB of the matrix (cache-resident: compute-bound).
 */
#include "quant.h"
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct job {
    const r1_type_traits *t;
    const char *w;
    size_t row_bytes;
    const void *x;
    float *y;
    int n, r0, r1;
    const uint64_t *mem;   /* bandwidth mode when non-NULL */
    size_t mem_n;
    uint64_t sink;
} job;

static void *run(void *arg) {
    job *j = arg;
    if (j->mem) {
        uint64_t a = 0, b = 0, c = 0, d = 0;
        for (size_t i = 0; i + 4 <= j->mem_n; i += 4) { a += j->mem[i]; b ^= j->mem[i + 1]; c += j->mem[i + 2]; d ^= j->mem[i + 3]; }
        j->sink = a + b + c + d;
        return NULL;
    }
    for (int r = j->r0; r < j->r1; r++) j->t->vec_dot(j->n, &j->y[r], j->w + (size_t)r * j->row_bytes, j->x);
    return NULL;
}

/* Best time of `reps` runs of jobs split over nt threads. */
static double timed(job *base, int nt, int reps, int rows, size_t mem_n) {
    double best = 1e30;
    for (int rep = 0; rep < reps; rep++) {
        job jobs[2];
        pthread_t th;
        for (int i = 0; i < nt; i++) {
            jobs[i] = *base;
            jobs[i].r0 = rows * i / nt;
            jobs[i].r1 = rows * (i + 1) / nt;
            if (base->mem) { jobs[i].mem = base->mem + mem_n * i / nt; jobs[i].mem_n = mem_n / nt; }
        }
        double t0 = now();
        if (nt == 2) pthread_create(&th, NULL, run, &jobs[1]);
        run(&jobs[0]);
        if (nt == 2) pthread_join(th, NULL);
        double dt = now() - t0;
        if (dt < best) best = dt;
        base->sink += jobs[0].sink;
    }
    return best;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    const int n = 4096;
    size_t bytes = mib << 20;
    static const r1_type types[] = {R1_TYPE_F32, R1_TYPE_F16, R1_TYPE_BF16, R1_TYPE_Q8_0, R1_TYPE_Q6_K,
                                    R1_TYPE_Q5_K, R1_TYPE_Q5_1, R1_TYPE_Q5_0, R1_TYPE_Q4_K, R1_TYPE_Q4_1,
                                    R1_TYPE_Q4_0, R1_TYPE_IQ4_NL, R1_TYPE_IQ4_XS, R1_TYPE_Q3_K, R1_TYPE_Q2_K};
    char *w = malloc(bytes);
    float *src = malloc(64 * (size_t)n * 4), *y = malloc((bytes / 64 + 1) * 4), *xf = malloc((size_t)n * 4);
    void *xq = malloc((size_t)n * 4 + 1024);
    if (!w || !src || !y || !xf || !xq) { fprintf(stderr, "out of memory\n"); return 1; }
    uint64_t seed = 88172645463325252ull;
    for (size_t i = 0; i < 64 * (size_t)n; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        src[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5);
    }
    memcpy(xf, src, (size_t)n * 4);
    memset(w, 1, bytes);

    job bw = {0};
    bw.mem = (const uint64_t *)w;
    double m1 = bytes / timed(&bw, 1, reps, 0, bytes / 8) / 1e9;
    double m2 = bytes / timed(&bw, 2, reps, 0, bytes / 8) / 1e9;
    double f1 = 0, f2 = 0;   /* F32 dot throughput: the bandwidth if it beats the read loop */
    {
        const r1_type_traits *t = r1_type_get_traits(R1_TYPE_F32);
        size_t rb = r1_row_size(R1_TYPE_F32, n);
        int rows = (int)(bytes / rb);
        for (int r = 0; r < rows; r++) memcpy(w + (size_t)r * rb, src + (size_t)(r % 64) * n, rb); /* no denormals */
        job j = {t, w, rb, xf, y, n, 0, rows, NULL, 0, 0};
        f1 = (double)rows * rb / timed(&j, 1, reps, rows, 0) / 1e9;
        f2 = (double)rows * rb / timed(&j, 2, reps, rows, 0) / 1e9;
    }
    printf("isa %s, matrix %zu MiB x %d columns, best of %d\n", r1_isa_name(r1_isa_active()), mib, n, reps);
    printf("memory read bandwidth: %.1f GB/s (1 thread), %.1f GB/s (2 threads) [read loop %.1f / %.1f, f32 dot %.1f / %.1f]\n\n",
           m1 > f1 ? m1 : f1, m2 > f2 ? m2 : f2, m1, m2, f1, f2);
    if (f1 > m1) m1 = f1;
    if (f2 > m2) m2 = f2;
    printf("%-8s %8s %12s %8s %12s %8s %14s\n", "type", "bits/w", "1T GB/s", "%bw", "2T GB/s", "%bw", "in-cache GB/s");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const r1_type_traits *t = r1_type_get_traits(types[ti]);
        const r1_type_traits *a = r1_type_get_traits(t->vec_dot_type);
        size_t rb = r1_row_size(types[ti], n);
        int rows = (int)(bytes / rb);
        for (int r = 0; r < 64 && r < rows; r++) t->from_float(src + (size_t)r * n, w + (size_t)r * rb, n);
        for (int r = 64; r < rows; r++) memcpy(w + (size_t)r * rb, w + (size_t)(r % 64) * rb, rb);
        a->from_float(xf, xq, n);
        job j = {t, w, rb, xq, y, n, 0, rows, NULL, 0, 0};
        size_t used = (size_t)rows * rb;
        double g1 = used / timed(&j, 1, reps, rows, 0) / 1e9;
        double g2 = used / timed(&j, 2, reps, rows, 0) / 1e9;
        int crows = (int)((512 << 10) / rb);
        double gc = (double)crows * rb / timed(&j, 1, reps * 4, crows, 0) / 1e9;
        printf("%-8s %8.3f %12.1f %7.0f%% %12.1f %7.0f%% %14.1f\n", t->name, 8.0 * t->type_size / t->blck_size, g1,
               100 * g1 / m1, g2, 100 * g2 / m2, gc);
    }
    free(w); free(src); free(y); free(xf); free(xq);
    return 0;
}
