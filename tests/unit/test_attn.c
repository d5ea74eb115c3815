/*
 * test_attn.c — causal GQA attention (attn.h) against a naive double-precision evaluation
 * written from the definition, for the scalar reference and the AVX2 and AVX-512 tile
 * kernels, on awkward shapes: head dims 32/40/64/128/200/300, groups 1/2/4/6/8, key
 * counts that are not multiples of the key block, chunks after a cached prefix (pos0 > 0),
 * decode (n = 1), row counts that are not multiples of the tile, F32 and F16 caches,
 * padded row strides, peaked and flat softmaxes; outputs poisoned with NaN before every
 * call and the padding between output rows checked untouched. Also the driver on a
 * thread pool, and the exact result of a single visible key.
 */
#include "attn.h"
#include "test.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(float a) {
    g_rng = g_rng * 6364136223846793005ull + 1442695040888963407ull;
    return a * (2.0f * (float)((g_rng >> 40) / 16777216.0) - 1.0f);
}

typedef struct {
    int hd, H, Hkv, n, pos0;
    r1_type type;
    float qamp;   /* query amplitude: larger = more peaked softmax */
} shape;

/* Element i of a cache row (F32 or F16) as float. */
static float cache_elem(const void *row, r1_type t, int i) {
    return t == R1_TYPE_F16 ? r1_fp16_to_fp32(((const uint16_t *)row)[i]) : ((const float *)row)[i];
}

/* Runs one shape with every kernel; returns the max error (relative to max |v|). */
static void run_shape(const shape *s, threadpool *pool) {
    const int hd = s->hd, H = s->H, Hkv = s->Hkv, n = s->n, nkv = s->pos0 + s->n;
    const size_t es = s->type == R1_TYPE_F16 ? 2 : 4;
    const size_t rowel = (size_t)Hkv * hd + 8;   /* padded cache rows */
    const size_t ldq = (size_t)H * hd + 5, ldo = (size_t)H * hd + 3;
    char *k = malloc(rowel * es * (size_t)nkv), *v = malloc(rowel * es * (size_t)nkv);
    float *q = malloc(sizeof(float) * ldq * (size_t)n), *out = malloc(sizeof(float) * ldo * (size_t)n);
    double *ref = malloc(sizeof(double) * (size_t)n * H * hd), *sc = malloc(sizeof(double) * (size_t)nkv);
    if (!k || !v || !q || !out || !ref || !sc) { CHECK(0, "out of memory"); goto done; }
    for (size_t i = 0; i < rowel * (size_t)nkv; i++) {
        const float kx = frand(1.0f), vx = frand(1.0f);
        if (s->type == R1_TYPE_F16) {
            ((uint16_t *)k)[i] = r1_fp32_to_fp16(kx);
            ((uint16_t *)v)[i] = r1_fp32_to_fp16(vx);
        } else {
            ((float *)k)[i] = kx;
            ((float *)v)[i] = vx;
        }
    }
    for (size_t i = 0; i < ldq * (size_t)n; i++) q[i] = frand(s->qamp);
    const double scale = 1.0 / sqrt((double)hd);
    /* naive reference */
    for (int t = 0; t < n; t++)
        for (int h = 0; h < H; h++) {
            const int g = h / (H / Hkv), nk = s->pos0 + t + 1;
            double mx = -INFINITY, sum = 0.0;
            for (int j = 0; j < nk; j++) {
                const char *kr = k + ((size_t)j * rowel + (size_t)g * hd) * es;
                double d = 0.0;
                for (int i = 0; i < hd; i++) d += (double)q[(size_t)t * ldq + (size_t)h * hd + i] * cache_elem(kr, s->type, i);
                sc[j] = d * scale;
                if (sc[j] > mx) mx = sc[j];
            }
            for (int j = 0; j < nk; j++) { sc[j] = exp(sc[j] - mx); sum += sc[j]; }
            double *o = ref + ((size_t)t * H + h) * hd;
            for (int i = 0; i < hd; i++) o[i] = 0.0;
            for (int j = 0; j < nk; j++) {
                const char *vr = v + ((size_t)j * rowel + (size_t)g * hd) * es;
                for (int i = 0; i < hd; i++) o[i] += sc[j] / sum * cache_elem(vr, s->type, i);
            }
        }
    const r1_attn_args a = {.n = n, .pos0 = s->pos0, .n_head = H, .n_head_kv = Hkv, .head_dim = hd,
                            .scale = (float)scale, .q = q, .ldq = ldq, .out = out, .ldo = ldo, .type = s->type,
                            .k = k, .v = v, .k_stride = rowel * es, .v_stride = rowel * es};
    const r1_isa isas[3] = {R1_ISA_SCALAR, R1_ISA_AVX2, R1_ISA_AVX512};
    const char *names[3] = {"scalar", "avx2", "avx512"};
    const r1_attn_tile_fn seen[3] = {r1_attn_tile_ref, r1_attn_tile_kernel(R1_ISA_AVX2, hd),
                                     r1_attn_tile_kernel(R1_ISA_AVX512, hd)};
    for (int ii = 0; ii < 3; ii++) {
        if (ii > 0 && (seen[ii] == r1_attn_tile_ref || seen[ii] == seen[ii - 1])) {
            printf("  note: no %s kernel for hd=%d on this build/CPU: not checked\n", names[ii], hd);
            continue;
        }
        for (size_t i = 0; i < ldo * (size_t)n; i++) out[i] = NAN;
        r1_attn(pool, &a, isas[ii]);
        double err = 0.0;
        int bad_pad = 0;
        for (int t = 0; t < n; t++) {
            for (int i = 0; i < H * hd; i++) {
                const double e = fabs((double)out[(size_t)t * ldo + i] - ref[(size_t)t * H * hd + i]);
                if (!(e <= err)) err = isnan(e) ? INFINITY : e;
            }
            for (size_t i = (size_t)H * hd; i < ldo; i++) bad_pad += !isnan(out[(size_t)t * ldo + i]);
        }
        CHECK(err <= 1e-5, "%s hd=%d H=%d Hkv=%d n=%d pos0=%d %s qamp=%g: max err %.3g", names[ii], hd, H, Hkv, n, s->pos0, s->type == R1_TYPE_F16 ? "f16" : "f32",
              (double)s->qamp, err);
        CHECK(bad_pad == 0, "%d padding floats written", bad_pad);
    }
done:
    free(k); free(v); free(q); free(out); free(ref); free(sc);
}

static const shape g_shapes[] = {
    /* hd   H  Hkv   n  pos0  type          qamp */
    {32, 4, 2, 7, 0, R1_TYPE_F32, 1.0f},       /* the demo model */
    {32, 4, 2, 1, 90, R1_TYPE_F16, 3.0f},
    {128, 12, 2, 37, 0, R1_TYPE_F32, 2.0f},    /* qwen 1.5B: group 6 */
    {128, 12, 2, 37, 0, R1_TYPE_F16, 2.0f},
    {128, 12, 2, 70, 29, R1_TYPE_F32, 4.0f},   /* several tiles per kv head, after a prefix */
    {128, 12, 2, 1, 100, R1_TYPE_F32, 2.0f},   /* decode */
    {128, 12, 2, 1, 100, R1_TYPE_F16, 2.0f},
    {128, 2, 2, 33, 3, R1_TYPE_F32, 1.0f},     /* group 1 */
    {128, 8, 1, 20, 45, R1_TYPE_F16, 2.0f},    /* group 8 */
    {128, 32, 8, 3, 61, R1_TYPE_F32, 2.0f},    /* group 4 (llama 8B) */
    {64, 4, 2, 5, 70, R1_TYPE_F32, 2.0f},      /* group 2 */
    {64, 16, 2, 9, 0, R1_TYPE_F16, 20.0f},     /* group 8, very peaked */
    {40, 8, 2, 9, 17, R1_TYPE_F32, 2.0f},      /* head dim not a multiple of 16 */
    {200, 6, 1, 4, 40, R1_TYPE_F16, 2.0f},     /* 16-key blocks, masked head-dim tail */
    {300, 4, 2, 3, 11, R1_TYPE_F32, 2.0f},     /* beyond the AVX-512 kernel: reference */
    {128, 12, 2, 1, 0, R1_TYPE_F32, 2.0f},     /* the very first token */
};

static void test_shapes_serial(void) {
    for (size_t i = 0; i < R1_ARRAY_LEN(g_shapes); i++) run_shape(&g_shapes[i], NULL);
}

static void test_shapes_pool(void) {
    threadpool *pool = NULL;
    r1_error err;
    REQUIRE(threadpool_create(3, &pool, &err) == R1_OK);
    for (size_t i = 0; i < R1_ARRAY_LEN(g_shapes); i++) run_shape(&g_shapes[i], pool);
    threadpool_free(pool);
}

/* A single visible key: the output is exactly that value row (softmax of one score). */
static void test_first_token_exact(void) {
    enum { HD = 48, HH = 6 };
    float k[2 * HD], v[2 * HD], q[HH * HD], out[HH * HD];
    for (int i = 0; i < 2 * HD; i++) { k[i] = frand(1.0f); v[i] = frand(1.0f); }
    for (int i = 0; i < HH * HD; i++) q[i] = frand(5.0f);
    const r1_attn_args a = {.n = 1, .pos0 = 0, .n_head = HH, .n_head_kv = 2, .head_dim = HD, .scale = 0.3f,
                            .q = q, .ldq = HH * HD, .out = out, .ldo = HH * HD, .type = R1_TYPE_F32,
                            .k = k, .v = v, .k_stride = sizeof k, .v_stride = sizeof v};
    const r1_isa isas[3] = {R1_ISA_SCALAR, R1_ISA_AVX2, R1_ISA_AVX512};
    for (int ii = 0; ii < 3; ii++) {
        for (int i = 0; i < HH * HD; i++) out[i] = NAN;
        r1_attn(NULL, &a, isas[ii]);
        for (int h = 0; h < HH; h++)
            for (int i = 0; i < HD; i++) CHECK(out[h * HD + i] == v[(h / 3) * HD + i], "isa %d h %d i %d", ii, h, i);
    }
}

int main(void) {
    RUN(test_shapes_serial);
    RUN(test_shapes_pool);
    RUN(test_first_token_exact);
    return TEST_SUMMARY();
}
