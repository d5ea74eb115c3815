/*
 * quant.c — the type-traits table and scalar reference kernels.
 *
 * Block layouts follow ggml (which defines GGUF's types):
 *   Q8_0: 32 elements = { f16 d; int8 qs[32] }      x[i] = d * qs[i]        (34 bytes)
 */
#include "quant.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- half precision --------------------------------------------------------- */
float r1_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal */
            float f = ldexpf((float)man, -24);
            return (h & 0x8000) ? -f : f;
        }
    } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t r1_fp32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00); /* NaN */
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* overflow → inf (RNE) */
    if (absx < 0x38800000u) { /* subnormal or zero in f16: round absx * 2^24 */
        float a;
        memcpy(&a, &absx, 4);
        float r = a * 16777216.0f; /* exact scaling */
        uint32_t m = (uint32_t)lrintf(r); /* RNE by default rounding mode */
        return (uint16_t)(sign | m);
    }
    uint32_t e = ((absx >> 23) - 112) << 10;
    uint32_t m = (absx >> 13) & 0x3ff;
    uint32_t rest = absx & 0x1fff;
    uint32_t h = e | m;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float r1_bf16_to_fp32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t r1_fp32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

/* ---- F32 / F16 / BF16 --------------------------------------------------------- */
static void f32_to_float(const void *src, float *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
static void f32_from_float(const float *src, void *dst, int64_t n) { memcpy(dst, src, (size_t)n * 4); }
static void f16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = r1_fp16_to_fp32(s[i]);
}
static void f16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = r1_fp32_to_fp16(src[i]);
}
static void bf16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *s = src;
    for (int64_t i = 0; i < n; i++) dst[i] = r1_bf16_to_fp32(s[i]);
}
static void bf16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *d = dst;
    for (int64_t i = 0; i < n; i++) d[i] = r1_fp32_to_bf16(src[i]);
}

static void vec_dot_f32_ref(int n, float *s, const void *x, const void *y) {
    const float *a = x, *b = y;
    double acc = 0;
    for (int i = 0; i < n; i++) acc += (double)a[i] * b[i];
    *s = (float)acc;
}
static void vec_dot_f16_ref(int n, float *s, const void *x, const void *y) {
    const uint16_t *a = x;
    const float *b = y;
    double acc = 0;
    for (int i = 0; i < n; i++) acc += (double)r1_fp16_to_fp32(a[i]) * b[i];
    *s = (float)acc;
}
static void vec_dot_bf16_ref(int n, float *s, const void *x, const void *y) {
    const uint16_t *a = x;
    const float *b = y;
    double acc = 0;
    for (int i = 0; i < n; i++) acc += (double)r1_bf16_to_fp32(a[i]) * b[i];
    *s = (float)acc;
}

/* ---- Q8_0 ------------------------------------------------------------------------ */
#define QK8_0 32
typedef struct { uint16_t d; int8_t qs[QK8_0]; } block_q8_0;
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");

static void q8_0_to_float(const void *src, float *dst, int64_t n) {
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        float d = r1_fp16_to_fp32(b[i].d);
        for (int j = 0; j < QK8_0; j++) dst[i * QK8_0 + j] = d * (float)b[i].qs[j];
    }
}
static void q8_0_from_float(const float *src, void *dst, int64_t n) {
    block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / QK8_0; i++) {
        const float *x = src + i * QK8_0;
        float amax = 0;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
        float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        b[i].d = r1_fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}
static void vec_dot_q8_0_ref(int n, float *s, const void *x, const void *y) {
    const block_q8_0 *a = x, *b = y;
    float acc = 0;
    for (int i = 0; i < n / QK8_0; i++) {
        int32_t sum = 0;
        for (int j = 0; j < QK8_0; j++) sum += (int32_t)a[i].qs[j] * b[i].qs[j];
        acc += r1_fp16_to_fp32(a[i].d) * r1_fp16_to_fp32(b[i].d) * (float)sum;
    }
    *s = acc;
}

/* ---- the table ------------------------------------------------------------------ */
static r1_type_traits g_traits[R1_TYPE_COUNT_] = {
    [R1_TYPE_F32] = {"f32", 1, 4, false, f32_to_float, f32_from_float, NULL, vec_dot_f32_ref, R1_TYPE_F32},
    [R1_TYPE_F16] = {"f16", 1, 2, false, f16_to_float, f16_from_float, NULL, vec_dot_f16_ref, R1_TYPE_F32},
    [R1_TYPE_BF16] = {"bf16", 1, 2, false, bf16_to_float, bf16_from_float, NULL, vec_dot_bf16_ref, R1_TYPE_F32},
    [R1_TYPE_Q8_0] = {"q8_0", QK8_0, sizeof(block_q8_0), true, q8_0_to_float, q8_0_from_float, NULL,
                      vec_dot_q8_0_ref, R1_TYPE_Q8_0},
};

static r1_isa g_isa = R1_ISA_SCALAR;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void traits_init(void) {
    /* SIMD kernels are installed here (cpuid); for now every kernel is the reference. */
    for (int t = 0; t < R1_TYPE_COUNT_; t++)
        if (g_traits[t].name && !g_traits[t].vec_dot) g_traits[t].vec_dot = g_traits[t].vec_dot_ref;
}

const r1_type_traits *r1_type_get_traits(r1_type t) {
    pthread_once(&g_once, traits_init);
    if ((unsigned)t >= R1_TYPE_COUNT_ || !g_traits[t].name) return NULL;
    return &g_traits[t];
}

const char *r1_type_name(r1_type t) {
    const r1_type_traits *tr = r1_type_get_traits(t);
    return tr ? tr->name : "unknown";
}

size_t r1_row_size(r1_type t, int64_t n) {
    const r1_type_traits *tr = r1_type_get_traits(t);
    if (!tr || n < 0 || n % tr->blck_size) return 0;
    return (size_t)(n / tr->blck_size) * tr->type_size;
}

r1_isa r1_isa_active(void) {
    pthread_once(&g_once, traits_init);
    return g_isa;
}

const char *r1_isa_name(r1_isa isa) {
    switch (isa) {
    case R1_ISA_SCALAR: return "scalar";
    case R1_ISA_AVX2: return "avx2";
    case R1_ISA_AVX512: return "avx512";
    case R1_ISA_NEON: return "neon";
    }
    return "unknown";
}
