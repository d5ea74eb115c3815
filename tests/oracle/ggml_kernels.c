/*
 * ggml_kernels.c — ggml's own mul_mat timed per weight type on 1 and 2 threads, the
 * counterpart of bench/quant_bench.c (same shapes, same protocol: one warm-up, median of
 * `repeats`), for bench/kernels.sh. Not a test; links node-llama-cpp's prebuilt ggml
 * (tests/oracle/build_kernels.sh).
 *
 *   ggml_kernels [MiB per matvec matrix (256)] [repeats (5)] [gemm tokens (512)] [rows]
 *
 * The CPU backend is used as llama.cpp uses it: the best libggml-cpu-*.so variant is loaded
 * from R1_GGML_LIBDIR (default: the build-time GGML_LIBDIR) through ggml_backend_load_all_
 * from_path, and each weight matrix goes into the first of the CPU device's extra buffer
 * types (ggml_backend_dev_get_extra_bufts: AMX, repacked layouts) that accepts a
 * mul_mat(W, X[512 tokens]) on it — the test llama.cpp applies to model weights — else the
 * plain CPU buffer. Weights: 64 rows of uniform(-0.5, 0.5) data quantized by
 * ggml_quantize_chunk and replicated (the same generator as quant_bench.c), written with
 * ggml_backend_tensor_set (which repacks for the extra buffer types).
 *   matvec: W = rows x 4096 (~MiB), X = 1 token → GB/s of W's ggml_nbytes per call;
 *   GEMM:   W = 4096 x 4096, X = 512 tokens      → GOP/s = 2·4096·4096·512 / time.
 * The activation conversion to the vec_dot type happens inside mul_mat and is timed.
 */
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../../bench/bench_clock.h"

#ifndef GGML_LIBDIR
#define GGML_LIBDIR "."
#endif

typedef struct env {
    ggml_backend_dev_t dev;
    ggml_backend_t backend;
    ggml_backend_set_n_threads_t set_threads;
    ggml_backend_buffer_type_t *extra; /* NULL-terminated, may be NULL */
    const float *src;                  /* 64 rows x n_cols */
    int n_cols;
} env;

/* The buffer type llama.cpp would give weight matrix W (type t, rows x cols): the first
 * extra buffer type on which the CPU device supports mul_mat(W, X[512]); else the CPU's. */
static ggml_backend_buffer_type_t pick_buft(const env *e, enum ggml_type t, int64_t rows) {
    struct ggml_init_params ip = {ggml_tensor_overhead() * 4 + ggml_graph_overhead(), NULL, true};
    for (int i = 0; e->extra && e->extra[i]; i++) {
        struct ggml_context *ctx = ggml_init(ip);
        if (!ctx) break;
        struct ggml_tensor *w = ggml_new_tensor_2d(ctx, t, e->n_cols, rows);
        struct ggml_tensor *x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, e->n_cols, 512);
        struct ggml_tensor *op = ggml_mul_mat(ctx, w, x);
        ggml_backend_buffer_t buf = ggml_backend_buft_alloc_buffer(e->extra[i], 0);
        bool ok = false;
        if (buf) {
            w->buffer = buf;
            ok = ggml_backend_dev_supports_op(e->dev, op);
            w->buffer = NULL;
            ggml_backend_buffer_free(buf);
        }
        ggml_free(ctx);
        if (ok) return e->extra[i];
    }
    return ggml_backend_dev_buffer_type(e->dev);
}

/* Median seconds of one mul_mat(W, X) over n_tok tokens with W = rows x n_cols of type t,
 * for 1 and 2 threads (sec[0], sec[1]). Returns the weight bytes, 0 on failure. */
static size_t time_mul_mat(const env *e, enum ggml_type t, int64_t rows, int n_tok, int reps, double sec[2],
                           const char **buft_name) {
    size_t rb = ggml_row_size(t, e->n_cols), bytes = (size_t)rows * rb;
    ggml_backend_buffer_type_t buft = pick_buft(e, t, rows);
    *buft_name = ggml_backend_buft_name(buft);
    struct ggml_init_params ip = {ggml_tensor_overhead() * 4 + ggml_graph_overhead(), NULL, true};
    struct ggml_context *cw = ggml_init(ip), *ca = ggml_init(ip);
    if (!cw || !ca) return 0;
    struct ggml_tensor *w = ggml_new_tensor_2d(cw, t, e->n_cols, rows);
    struct ggml_tensor *x = ggml_new_tensor_2d(ca, GGML_TYPE_F32, e->n_cols, n_tok);
    struct ggml_tensor *y = ggml_mul_mat(ca, w, x);
    struct ggml_cgraph *gf = ggml_new_graph(ca);
    ggml_build_forward_expand(gf, y);
    ggml_backend_buffer_t bw = ggml_backend_alloc_ctx_tensors_from_buft(cw, buft);
    ggml_backend_buffer_t ba = ggml_backend_alloc_ctx_tensors_from_buft(ca, ggml_backend_dev_buffer_type(e->dev));
    char *host = malloc(bytes);
    float *xh = malloc((size_t)n_tok * e->n_cols * sizeof(float));
    size_t ret = 0;
    if (!bw || !ba || !host || !xh) { fprintf(stderr, "ggml_kernels: allocation failed for %s\n", ggml_type_name(t)); goto done; }
    ggml_backend_buffer_set_usage(bw, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    ggml_quantize_chunk(t, e->src, host, 0, 64 < rows ? 64 : rows, e->n_cols, NULL);
    for (int64_t r = 64; r < rows; r++) memcpy(host + (size_t)r * rb, host + (size_t)(r % 64) * rb, rb);
    ggml_backend_tensor_set(w, host, 0, bytes);
    for (size_t i = 0; i < (size_t)n_tok * e->n_cols; i++) xh[i] = e->src[(i * 7919) % (64 * (size_t)e->n_cols)];
    ggml_backend_tensor_set(x, xh, 0, ggml_nbytes(x));
    for (int nt = 1; nt <= 2; nt++) {
        double ts[64];
        e->set_threads(e->backend, nt);
        for (int rep = -1; rep < reps; rep++) {
            double t0 = now_s();
            if (ggml_backend_graph_compute(e->backend, gf) != GGML_STATUS_SUCCESS) {
                fprintf(stderr, "ggml_kernels: compute failed for %s\n", ggml_type_name(t));
                goto done;
            }
            if (rep >= 0) ts[rep] = now_s() - t0;
        }
        sec[nt - 1] = median_d(ts, reps);
    }
    ret = bytes;
done:
    free(host); free(xh);
    if (bw) ggml_backend_buffer_free(bw);
    if (ba) ggml_backend_buffer_free(ba);
    ggml_free(cw); ggml_free(ca);
    return ret;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? (size_t)atoi(argv[1]) : 256;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    int n_gemm = argc > 3 ? atoi(argv[3]) : 512;
    int rows_out = argc > 4 && strcmp(argv[4], "rows") == 0;
    const int n = 4096, g_rows = 4096;
    if (mib < 64 || reps < 1 || reps > 64 || n_gemm < 1) {
        fprintf(stderr, "usage: ggml_kernels [MiB>=64] [repeats 1..64] [gemm tokens] [rows]\n");
        return 2;
    }
    const char *libdir = getenv("R1_GGML_LIBDIR");
    ggml_backend_load_all_from_path(libdir ? libdir : GGML_LIBDIR);
    env e = {0};
    e.dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (!e.dev) { fprintf(stderr, "ggml_kernels: no CPU backend\n"); return 1; }
    ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(e.dev);
    e.backend = ggml_backend_dev_init(e.dev, NULL);
    e.set_threads = (ggml_backend_set_n_threads_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads");
    ggml_backend_dev_get_extra_bufts_t get_extra =
        (ggml_backend_dev_get_extra_bufts_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_dev_get_extra_bufts");
    if (!e.backend || !e.set_threads) { fprintf(stderr, "ggml_kernels: CPU backend init failed\n"); return 1; }
    e.extra = get_extra ? get_extra(e.dev) : NULL;
    e.n_cols = n;
    float *src = malloc(64 * (size_t)n * sizeof(float));
    if (!src) return 1;
    uint64_t seed = 88172645463325252ull;
    for (size_t i = 0; i < 64 * (size_t)n; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        src[i] = (float)((double)(seed >> 11) / 9007199254740992.0 - 0.5);
    }
    e.src = src;
    printf("ggml %s (%s), extra buffer types:", ggml_backend_reg_name(reg), ggml_backend_dev_name(e.dev));
    for (int i = 0; e.extra && e.extra[i]; i++) printf(" %s", ggml_backend_buft_name(e.extra[i]));
    printf("\nmatvec %zu MiB x %d columns, GEMM %d x %d x %d tokens; 1 warm-up, median of %d\n\n", mib, n, g_rows, n,
           n_gemm, reps);
    static const enum ggml_type types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q8_0,
                                           GGML_TYPE_Q6_K, GGML_TYPE_Q5_K, GGML_TYPE_Q5_1, GGML_TYPE_Q5_0,
                                           GGML_TYPE_Q4_K, GGML_TYPE_Q4_1, GGML_TYPE_Q4_0, GGML_TYPE_IQ4_NL,
                                           GGML_TYPE_IQ4_XS, GGML_TYPE_Q3_K, GGML_TYPE_Q2_K};
    printf("%-8s %7s %9s %9s %11s %11s  %-14s %s\n", "type", "bits/w", "mv 1T", "mv 2T", "GEMM 1T", "GEMM 2T",
           "matvec buffer", "GEMM buffer");
    printf("%-8s %7s %9s %9s %11s %11s\n", "", "", "GB/s", "GB/s", "GOP/s", "GOP/s");
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        enum ggml_type t = types[ti];
        size_t rb = ggml_row_size(t, n);
        int64_t rows = (int64_t)((mib << 20) / rb);
        rows -= rows % 256; /* row counts the AMX and repacked layouts tile */
        double mv[2] = {0, 0}, gm[2] = {0, 0};
        const char *bmv = "-", *bgm = "-";
        size_t used = time_mul_mat(&e, t, rows, 1, reps, mv, &bmv);
        size_t gused = time_mul_mat(&e, t, g_rows, n_gemm, reps, gm, &bgm);
        if (!used || !gused) return 1;
        double ops = 2.0 * g_rows * n * n_gemm, bits = 8.0 * ggml_type_size(t) / ggml_blck_size(t);
        printf("%-8s %7.3f %9.1f %9.1f %11.1f %11.1f  %-14s %s\n", ggml_type_name(t), bits, used / mv[0] / 1e9,
               used / mv[1] / 1e9, ops / gm[0] / 1e9, ops / gm[1] / 1e9, bmv, bgm);
        if (rows_out)
            printf("row %s %.3f %.2f %.2f %.2f %.2f %s %s\n", ggml_type_name(t), bits, used / mv[0] / 1e9,
                   used / mv[1] / 1e9, ops / gm[0] / 1e9, ops / gm[1] / 1e9, bmv, bgm);
        fflush(stdout);
    }
    ggml_backend_free(e.backend);
    free(src);
    return 0;
}
