/*
 * quant_impl.h — block layouts of the quantized types and the per-ISA kernel tables
 * (internal to src/quant*.c, src/cpu.c and src/simd/).
 *
 * Layouts are ggml's (GGUF stores them verbatim, little-endian). "half" = IEEE binary16.
 *   32-element blocks ("legacy" types), vec_dot against Q8_0 (Q8_1 for the _1 types):
 *     Q4_0   { half d; u8 qs[16] }                 x = d*(q-8),    q = nibble
 *     Q4_1   { half d, m; u8 qs[16] }              x = d*q + m
 *     Q5_0   { half d; u8 qh[4]; u8 qs[16] }       x = d*(q-16),   q = nibble | bit<<4
 *     Q5_1   { half d, m; u8 qh[4]; u8 qs[16] }    x = d*q + m
 *     Q8_0   { half d; i8 qs[32] }                 x = d*q
 *     Q8_1   { half d, s; i8 qs[32] }              x = d*q,  s = d*sum(q)
 *     IQ4_NL { half d; u8 qs[16] }                 x = d*kvalues_iq4nl[nibble]
 *   In every 4-bit type byte j holds element j (low nibble) and element j+16 (high);
 *   qh bit j is the 5th bit of element j (u32 little-endian).
 *   256-element super-blocks (k-quants), vec_dot against Q8_K:
 *     Q2_K  { u8 scales[16]; u8 qs[64]; half d, dmin }          84 bytes, 2.625 bpw
 *     Q3_K  { u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d }  110 bytes, 3.4375 bpw
 *     Q4_K  { half d, dmin; u8 scales[12]; u8 qs[128] }         144 bytes, 4.5 bpw
 *     Q5_K  { half d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] } 176 bytes, 5.5 bpw
 *     Q6_K  { u8 ql[128]; u8 qh[64]; i8 scales[16]; half d }    210 bytes, 6.5625 bpw
 *     Q8_K  { float d; i8 qs[256]; i16 bsums[16] }              292 bytes (activations)
 *     IQ4_XS { half d; u16 scales_h; u8 scales_l[4]; u8 qs[128] } 136 bytes, 4.25 bpw
 *   The bit packing of each is described next to its to_float in quant_legacy.c/quant_k.c.
 */
#ifndef R1_QUANT_IMPL_H
#define R1_QUANT_IMPL_H

#include "quant.h"
#include <string.h>

#define QK32 32
#define QK_K 256

typedef struct { uint16_t d; uint8_t qs[16]; } block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } block_q5_1;
typedef struct { uint16_t d; int8_t qs[32]; } block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[32]; } block_q8_1;
typedef struct { uint16_t d; uint8_t qs[16]; } block_iq4_nl;
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; } block_q2_K;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } block_q3_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } block_q4_K;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } block_q6_K;
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } block_q8_K;
typedef struct { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } block_iq4_xs;

_Static_assert(sizeof(block_q4_0) == 18, "q4_0");
_Static_assert(sizeof(block_q4_1) == 20, "q4_1");
_Static_assert(sizeof(block_q5_0) == 22, "q5_0");
_Static_assert(sizeof(block_q5_1) == 24, "q5_1");
_Static_assert(sizeof(block_q8_0) == 34, "q8_0");
_Static_assert(sizeof(block_q8_1) == 36, "q8_1");
_Static_assert(sizeof(block_iq4_nl) == 18, "iq4_nl");
_Static_assert(sizeof(block_q2_K) == 84, "q2_K");
_Static_assert(sizeof(block_q3_K) == 110, "q3_K");
_Static_assert(sizeof(block_q4_K) == 144, "q4_K");
_Static_assert(sizeof(block_q5_K) == 176, "q5_K");
_Static_assert(sizeof(block_q6_K) == 210, "q6_K");
_Static_assert(sizeof(block_q8_K) == 292, "q8_K");
_Static_assert(sizeof(block_iq4_xs) == 136, "iq4_xs");

/* The 16 non-uniform levels of IQ4_NL / IQ4_XS. */
extern const int8_t r1_kvalues_iq4nl[16];

/* Q4_K/Q5_K 6-bit scale/min j (0..7) from the 12-byte packed array. */
static inline void r1_get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) { *d = q[j] & 63; *m = q[j + 4] & 63; }
    else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Q4_K/Q5_K: all 8 scales and 8 mins at once (same values as r1_get_scale_min_k4),
 * with 32-bit word operations on the little-endian packed bytes. */
static inline void r1_q4k_scales_mins(const uint8_t q[12], uint8_t sc[8], uint8_t mn[8]) {
    uint32_t u[3], o[4];
    memcpy(u, q, 12);
    o[0] = u[0] & 0x3f3f3f3f;                                                  /* sc 0..3 */
    o[1] = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);            /* sc 4..7 */
    o[2] = u[1] & 0x3f3f3f3f;                                                  /* mn 0..3 */
    o[3] = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);     /* mn 4..7 */
    memcpy(sc, o, 8);
    memcpy(mn, o + 2, 8);
}

/* Q3_K: the 16 6-bit scales (biased by 32, returned signed) from the 12-byte array:
 * low nibbles of bytes 0..7 are scales 0..7, high nibbles scales 8..15; byte 8 + j%4
 * holds the top 2 bits of scale j at bit 2*(j/4). Word operations, little-endian. */
static inline void r1_q3k_scales(const uint8_t packed[12], int8_t out[16]) {
    uint32_t a[3], o[4];
    memcpy(a, packed, 12);
    o[0] = (a[0] & 0x0f0f0f0f) | (((a[2] >> 0) & 0x03030303) << 4);
    o[1] = (a[1] & 0x0f0f0f0f) | (((a[2] >> 2) & 0x03030303) << 4);
    o[2] = ((a[0] >> 4) & 0x0f0f0f0f) | (((a[2] >> 4) & 0x03030303) << 4);
    o[3] = ((a[1] >> 4) & 0x0f0f0f0f) | (((a[2] >> 6) & 0x03030303) << 4);
    uint8_t b[16];
    memcpy(b, o, 16);
    for (int j = 0; j < 16; j++) out[j] = (int8_t)(b[j] - 32);
}

/* Round to nearest (ties to even) for |x| < 2^22, as ggml's nearest_int. */
static inline int r1_nearest_int(float x) {
    float v = x + 12582912.f;
    int i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* Index of the value in the sorted table val[0..n) nearest to x (ties: the upper). */
static inline int r1_best_index_int8(int n, const int8_t *val, float x) {
    if (x <= val[0]) return 0;
    if (x >= val[n - 1]) return n - 1;
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (x < val[mid]) hi = mid; else lo = mid;
    }
    return x - val[hi - 1] < val[hi] - x ? hi - 1 : hi;
}

/* The IQ4 quantizer shared by IQ4_NL (super = block = 32) and IQ4_XS (super 256, block 32):
 * fits per-block scales by a search over ntry candidate scales (weights x^2), then (XS)
 * 6-bit block scales under one fp16 super-scale. Writes *dh, q4[super/2], and for XS
 * *scales_h / scales_l[super/64]. */
void r1_quantize_iq4(int super, int block, const float *x, uint16_t *dh, uint8_t *q4,
                     uint16_t *scales_h, uint8_t *scales_l);

/* Registration of the format families into a traits table (quant_legacy.c, quant_k.c). */
void r1_quant_register_legacy(r1_type_traits *tab);
void r1_quant_register_k(r1_type_traits *tab);

/* Per-ISA installers: overwrite vec_dot / from_float of the types they accelerate.
 * Only called when the CPU supports the ISA (src/cpu.c decided). */
void r1_quant_install_avx2(r1_type_traits *tab);
void r1_quant_install_avx512(r1_type_traits *tab);
void r1_quant_install_neon(r1_type_traits *tab);

/* src/cpu.c: the best ISA this CPU and OS support (x86: cpuid + XGETBV; aarch64: hwcaps). */
r1_isa r1_cpu_best_isa(void);
/* src/cpu.c: AMX-TILE + AMX-INT8 usable (cpuid, XCR0 tile state, Linux permission granted
 * to the process by arch_prctl). Also requires the AVX-512 level. */
bool r1_cpu_has_amx(void);
/* src/simd/quant_amx.c: the AMX batched kernel for weight type t, or NULL (type without
 * one, or a build without the AMX file). Only valid to call when r1_cpu_has_amx(). */
r1_gemm_fn r1_amx_gemm_kernel(r1_type t);
/* src/simd/gemm_kq_amx.c: the AMX kernels of the k-quant weight types (Q4_K, Q6_K), or
 * NULL; r1_amx_gemm_kernel falls back to it. Same validity rule. */
r1_gemm_fn r1_amx_gemm_kquant(r1_type t);
/* src/simd/gemm_leg_amx.c: the AMX kernels of the 32-element-block types with Q8_0 / Q8_1
 * activations (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL), or NULL. Same validity rule. */
r1_gemm_fn r1_amx_gemm_legacy(r1_type t);

#endif
