/* bench_clock.h — the timing protocol's pieces shared by r1's and llama.cpp's sides of the
 * benchmarks (bench/quant_bench.c, tests/oracle/ggml_kernels.c, tests/oracle/llama_bench.c),
 * so both measure the same way: a monotonic clock in seconds and the median of a sample. */
#ifndef R1_BENCH_CLOCK_H
#define R1_BENCH_CLOCK_H

#include <stdlib.h>
#include <time.h>

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* qsort comparator for doubles, ascending */
static inline int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of t[0..n) (n >= 1); sorts t in place */
static inline double median_d(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

#endif
