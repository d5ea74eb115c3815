/*
 * quant_oracle.c — r1's quantized formats against llama.cpp's ggml (libggml-base.so).
 * Built and run by tests/integration/quant_oracle.sh, not by the Makefile.
 *
 * For every type r1 can produce, on random rows (N(0,1), a heavy-tailed mix, rows with
 * zero/constant blocks, tiny and huge magnitudes):
 *   1. ggml quantizes; ggml and r1 dequantize: the floats must be bit-identical.
 *   2. r1 quantizes; ggml and r1 dequantize: bit-identical (r1's blocks are valid ggml).
 *   3. round-trip RMSE of r1's quantizer vs ggml's: r1 must be within 1% (prints a table,
 *      and whether the quantized bytes are identical).
 * Activation types (Q8_0, Q8_1, Q8_K) must quantize byte-identically to ggml's reference.
 * Exit status 0 iff everything holds.
 */
#include "ggml.h"
#include "quant.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double urand(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return ((rng >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static float nrand(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

/* Fills rows×n floats; pattern chooses the distribution. */
static void fill(float *x, int64_t count, int pattern) {
    for (int64_t i = 0; i < count; i++) {
        float v = nrand();
        switch (pattern) {
        case 1: v = v * v * v; break;                                    /* heavy tails  */
        case 2: v = (i / 32) % 3 == 0 ? 0.0f : ((i / 32) % 3 == 1 ? 0.5f : v); break; /* zero/const */
        case 3: v *= 1e-6f; break;
        case 4: v *= 1e4f; break;                                        /* fp16-range */
        case 5: v = fabsf(v) + 0.1f; break;                              /* all positive */
        }
        x[i] = v;
    }
}

static int failures = 0;

static int bits_equal(const float *a, const float *b, int64_t n, int64_t *where) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4)) { *where = i; return 0; }
    return 1;
}

static void check_type(r1_type t) {
    const r1_type_traits *tr = r1_type_get_traits(t);
    const struct ggml_type_traits *gt = ggml_get_type_traits((enum ggml_type)t);
    const int64_t n = 4096, rows = 8, count = n * rows;
    size_t row_bytes = r1_row_size(t, n);
    float *x = malloc(count * 4), *ya = malloc(count * 4), *yb = malloc(count * 4);
    unsigned char *qg = malloc(row_bytes * rows), *qr = malloc(row_bytes * rows);
    double se_r1 = 0, se_gg = 0, sx = 0;
    int same_bytes = 1;
    for (int pattern = 0; pattern < 6; pattern++) {
        fill(x, count, pattern);
        ggml_quantize_chunk((enum ggml_type)t, x, qg, 0, rows, n, NULL);
        for (int64_t r = 0; r < rows; r++) tr->from_float(x + r * n, qr + r * row_bytes, n);
        if (memcmp(qg, qr, row_bytes * rows)) same_bytes = 0;
        int64_t w;
        gt->to_float(qg, ya, count);
        tr->to_float(qg, yb, count);
        if (!bits_equal(ya, yb, count, &w)) {
            printf("FAIL %s pattern %d: dequant of ggml blocks differs at %lld: ggml %.9g r1 %.9g\n",
                   tr->name, pattern, (long long)w, ya[w], yb[w]);
            failures++;
        }
        if (pattern == 0) for (int64_t i = 0; i < count; i++) { double d = ya[i] - x[i]; se_gg += d * d; sx += x[i] * (double)x[i]; }
        gt->to_float(qr, ya, count);
        tr->to_float(qr, yb, count);
        if (!bits_equal(ya, yb, count, &w)) {
            printf("FAIL %s pattern %d: dequant of r1 blocks differs at %lld\n", tr->name, pattern, (long long)w);
            failures++;
        }
        if (pattern == 0) for (int64_t i = 0; i < count; i++) { double d = yb[i] - x[i]; se_r1 += d * d; }
        for (int64_t i = 0; i < count; i++)
            if (!isfinite(yb[i])) { printf("FAIL %s pattern %d: non-finite output\n", tr->name, pattern); failures++; break; }
    }
    double rm_r1 = sqrt(se_r1 / count), rm_gg = sqrt(se_gg / count);
    int ok = rm_r1 <= rm_gg * 1.01 + 1e-12;
    printf("%-7s %6.3f bpw  rmse r1 %.6f  llama.cpp %.6f  ratio %.4f  bytes %s  %s\n", tr->name,
           8.0 * tr->type_size / tr->blck_size, rm_r1, rm_gg, rm_r1 / rm_gg,
           same_bytes ? "identical" : "differ", ok ? "ok" : "FAIL");
    (void)sx;
    if (!ok) failures++;
    free(x); free(ya); free(yb); free(qg); free(qr);
}

static void check_activation(r1_type t) {
    const r1_type_traits *tr = r1_type_get_traits(t);
    const struct ggml_type_traits *gt = ggml_get_type_traits((enum ggml_type)t);
    const int64_t n = 4096;
    size_t bytes = r1_row_size(t, n);
    float *x = malloc(n * 4);
    unsigned char *qg = malloc(bytes), *qr = malloc(bytes), *qs = malloc(bytes);
    int ok = 1;
    if (!gt->from_float_ref) { /* ggml-base has no reference quantizer for it: r1 SIMD vs r1 ref */
        for (int pattern = 0; pattern < 6; pattern++) {
            fill(x, n, pattern);
            tr->from_float_ref(x, qr, n);
            tr->from_float(x, qs, n);
            if (memcmp(qr, qs, bytes)) ok = 0;
        }
        printf("%-7s activation quantizer: ggml-base exports none; r1 %s vs r1 reference identical: %s\n",
               tr->name, r1_isa_name(r1_isa_active()), ok ? "ok" : "FAIL");
        if (!ok) failures++;
        free(x); free(qg); free(qr); free(qs);
        return;
    }
    for (int pattern = 0; pattern < 6; pattern++) {
        fill(x, n, pattern);
        gt->from_float_ref(x, qg, n);
        tr->from_float_ref(x, qr, n);
        tr->from_float(x, qs, n);
        if (memcmp(qg, qr, bytes) || memcmp(qg, qs, bytes)) ok = 0;
    }
    printf("%-7s activation quantizer (reference and %s) byte-identical to ggml: %s\n", tr->name,
           r1_isa_name(r1_isa_active()), ok ? "ok" : "FAIL");
    if (!ok) failures++;
    free(x); free(qg); free(qr); free(qs);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    static const r1_type types[] = {R1_TYPE_Q4_0, R1_TYPE_Q4_1, R1_TYPE_Q5_0, R1_TYPE_Q5_1, R1_TYPE_Q8_0,
                                    R1_TYPE_Q2_K, R1_TYPE_Q3_K, R1_TYPE_Q4_K, R1_TYPE_Q5_K, R1_TYPE_Q6_K,
                                    R1_TYPE_IQ4_NL, R1_TYPE_IQ4_XS};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) check_type(types[i]);
    check_activation(R1_TYPE_Q8_0);
    check_activation(R1_TYPE_Q8_1);
    check_activation(R1_TYPE_Q8_K);
    /* F16/BF16 conversion vs ggml */
    printf("quant_oracle: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
