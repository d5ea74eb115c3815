/*
 * quant.c — the type-traits tables, ISA dispatch, half-precision conversions and the
 * F32/F16/BF16 scalar kernels. Quantized formats live in quant_legacy.c (32-element
 * blocks) and quant_k.c (256-element super-blocks); layouts in quant_impl.h.
 *
 * Dispatch: one table per ISA level (scalar, avx2, avx512, neon) is built once
 * (pthread_once): the scalar table from the format files, then each SIMD level the CPU
 * supports copies the level below it and lets src/simd/<isa>.c overwrite the kernels it
 * accelerates. r1_type_get_traits returns entries of the active level: the best the CPU
 * has, or lower if the R1_ISA environment variable asks for it. After initialisation the
 * tables are immutable (the one allowed piece of global state).
 */
#include "quant_impl.h"
#include "quant_q8r.h"
#include <strings.h>
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
    } else if (exp == 31) bits = sign | 0x7f800000u | (man << 13) | (man ? 0x00400000u : 0); /* NaNs quiet, as F16C */
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
    if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((absx >> 13) & 0x3ff)); /* NaN: quiet, top payload (as F16C) */
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

/* ---- the tables -------------------------------------------------------------- */
#define N_ISA 4
static r1_type_traits g_tab[N_ISA][R1_TYPE_COUNT_];
static bool g_isa_ok[N_ISA];
static r1_isa g_isa = R1_ISA_SCALAR;
static bool g_amx;   /* AMX kernels in use for the AVX-512 table's types (g_amx_gemm) */
static r1_gemm_fn g_amx_gemm[R1_TYPE_COUNT_];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* The Makefile compiles the src/simd AVX2/AVX-512 files only on x86-64 and NEON ones only on
 * aarch64; the other architectures get empty installers (never called: cpu.c says no). */
#if !defined(__x86_64__)
void r1_quant_install_avx2(r1_type_traits *tab) { (void)tab; }
void r1_quant_install_avx512(r1_type_traits *tab) { (void)tab; }
#endif
#if !defined(__x86_64__)
r1_gemm_fn r1_amx_gemm_kernel(r1_type t) { (void)t; return NULL; }
#endif
#if !defined(__aarch64__)
void r1_quant_install_neon(r1_type_traits *tab) { (void)tab; }
#endif

static r1_isa isa_from_env(r1_isa best) {
    const char *e = getenv("R1_ISA");
    if (!e || !*e) return best;
    r1_isa want;
    if (!strcasecmp(e, "scalar")) want = R1_ISA_SCALAR;
    else if (!strcasecmp(e, "avx2")) want = R1_ISA_AVX2;
    else if (!strcasecmp(e, "avx512")) want = R1_ISA_AVX512;
    else if (!strcasecmp(e, "neon")) want = R1_ISA_NEON;
    else return best;                                 /* unknown name: ignore */
    if (g_isa_ok[want]) return want;
    /* Never higher than the CPU: an x86 level above the best becomes the best. */
    if (want != R1_ISA_NEON && best != R1_ISA_NEON && want > best) return best;
    return R1_ISA_SCALAR;
}

static void traits_init(void) {
    r1_type_traits *s = g_tab[R1_ISA_SCALAR];
    s[R1_TYPE_F32] = (r1_type_traits){"f32", 1, 4, false, f32_to_float, f32_from_float, NULL,
                                      vec_dot_f32_ref, R1_TYPE_F32, NULL, NULL};
    s[R1_TYPE_F16] = (r1_type_traits){"f16", 1, 2, false, f16_to_float, f16_from_float, NULL,
                                      vec_dot_f16_ref, R1_TYPE_F32, NULL, NULL};
    s[R1_TYPE_BF16] = (r1_type_traits){"bf16", 1, 2, false, bf16_to_float, bf16_from_float, NULL,
                                       vec_dot_bf16_ref, R1_TYPE_F32, NULL, NULL};
    r1_quant_register_legacy(s);
    r1_quant_register_k(s);
#if defined(__x86_64__)
    /* Q8_0 repacked at load by 16 rows (quant_q8r.h): products of whole groups only
     * (gemm), no per-row kernels (vec_dot, to_float NULL); rows keep plain Q8_0's size.
     * x86-64 builds only: only the AVX-512 level repacks (model.c), so other builds keep
     * the type unknown and need no quant_q8r.c (tests/integration/neon_qemu.sh links the
     * quant files alone). */
    s[R1_TYPE_Q8_0_R16] = (r1_type_traits){"q8_0_r16", QK32, sizeof(block_q8_0), true, NULL, NULL, NULL, NULL,
                                           R1_TYPE_Q8_0, NULL, r1_q8r_gemm_ref};
#endif
    for (int t = 0; t < R1_TYPE_COUNT_; t++) {
        if (!s[t].name) continue;
        s[t].vec_dot = s[t].vec_dot_ref;
        s[t].from_float_ref = s[t].from_float;
    }
    g_isa_ok[R1_ISA_SCALAR] = true;
    r1_isa best = r1_cpu_best_isa();
    if (best == R1_ISA_AVX2 || best == R1_ISA_AVX512) {
        memcpy(g_tab[R1_ISA_AVX2], s, sizeof g_tab[0]);
        r1_quant_install_avx2(g_tab[R1_ISA_AVX2]);
        g_isa_ok[R1_ISA_AVX2] = true;
    }
    if (best == R1_ISA_AVX512) {
        memcpy(g_tab[R1_ISA_AVX512], g_tab[R1_ISA_AVX2], sizeof g_tab[0]);
        r1_quant_install_avx512(g_tab[R1_ISA_AVX512]);
#if defined(__x86_64__)
        g_tab[R1_ISA_AVX512][R1_TYPE_Q8_0_R16].gemm = r1_q8r_gemm_avx512;
#endif
        g_isa_ok[R1_ISA_AVX512] = true;
    }
    if (best == R1_ISA_NEON) {
        memcpy(g_tab[R1_ISA_NEON], s, sizeof g_tab[0]);
        r1_quant_install_neon(g_tab[R1_ISA_NEON]);
        g_isa_ok[R1_ISA_NEON] = true;
    }
    g_isa = isa_from_env(best);
    /* AMX: only on top of the AVX-512 level (its kernels use AVX-512 too), not when
     * R1_ISA forces a lower level or R1_AMX=0. */
    const char *amx_env = getenv("R1_AMX");
    if (g_isa == R1_ISA_AVX512 && !(amx_env && !strcmp(amx_env, "0")) && r1_cpu_has_amx()) {
        for (int t = 0; t < R1_TYPE_COUNT_; t++) {
            if (!g_tab[R1_ISA_AVX512][t].name) continue;
            g_amx_gemm[t] = r1_amx_gemm_kernel((r1_type)t);
            if (g_amx_gemm[t]) g_amx = true;
        }
    }
}

const r1_type_traits *r1_type_get_traits(r1_type t) {
    pthread_once(&g_once, traits_init);
    if ((unsigned)t >= R1_TYPE_COUNT_ || !g_tab[g_isa][t].name) return NULL;
    return &g_tab[g_isa][t];
}

const r1_type_traits *r1_type_get_traits_isa(r1_type t, r1_isa isa) {
    pthread_once(&g_once, traits_init);
    if ((unsigned)isa >= N_ISA || !g_isa_ok[isa]) return NULL;
    if ((unsigned)t >= R1_TYPE_COUNT_ || !g_tab[isa][t].name) return NULL;
    return &g_tab[isa][t];
}

void r1_gemm(const r1_type_traits *t, int n, int nr, int nc, const void *w, size_t w_stride, const void *a,
             size_t a_stride, float *out, size_t ldo) {
    if (g_amx && nc >= R1_GEMM_BIG_MIN) {
        /* traits of the AVX-512 table (the active one when g_amx): its type index */
        const uintptr_t p = (uintptr_t)t, lo = (uintptr_t)&g_tab[R1_ISA_AVX512][0];
        if (p >= lo && p < lo + sizeof g_tab[0]) {
            const r1_gemm_fn f = g_amx_gemm[(p - lo) / sizeof *t];
            if (f) { f(n, nr, nc, w, w_stride, a, a_stride, out, ldo); return; }
        }
    }
    if (t->gemm) { t->gemm(n, nr, nc, w, w_stride, a, a_stride, out, ldo); return; }
    for (int r = 0; r < nr; r++) {
        const char *wr = (const char *)w + (size_t)r * w_stride;
        for (int c = 0; c < nc; c++) t->vec_dot(n, &out[(size_t)c * ldo + r], wr, (const char *)a + (size_t)c * a_stride);
    }
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

bool r1_amx_active(void) {
    pthread_once(&g_once, traits_init);
    return g_amx;
}

bool r1_amx_gemm_active(r1_type t) {
    pthread_once(&g_once, traits_init);
    return g_amx && (unsigned)t < R1_TYPE_COUNT_ && g_amx_gemm[t] != NULL;
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
