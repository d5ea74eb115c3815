/*
 * quant.h — tensor element types (ggml's numbering, which GGUF uses) and the
 * type-traits table: one entry per type says how to convert and how to dot (internal).
 *
 * A row of n elements of type t occupies r1_row_size(t, n) bytes; n must be a multiple
 * of the type's block size. Quantized weights are dotted against activations that were
 * first converted to the type's vec_dot_type (Q8_0 weights · Q8_0 activations; F16 and
 * BF16 weights · F32 activations, which keeps r1 closer to exact than rounding them).
 */
#ifndef R1_QUANT_H
#define R1_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum r1_type {
    R1_TYPE_F32 = 0, R1_TYPE_F16 = 1, R1_TYPE_Q4_0 = 2, R1_TYPE_Q4_1 = 3,
    R1_TYPE_Q5_0 = 6, R1_TYPE_Q5_1 = 7, R1_TYPE_Q8_0 = 8, R1_TYPE_Q8_1 = 9,
    R1_TYPE_Q2_K = 10, R1_TYPE_Q3_K = 11, R1_TYPE_Q4_K = 12, R1_TYPE_Q5_K = 13,
    R1_TYPE_Q6_K = 14, R1_TYPE_Q8_K = 15, R1_TYPE_IQ2_XXS = 16, R1_TYPE_IQ2_XS = 17,
    R1_TYPE_IQ3_XXS = 18, R1_TYPE_IQ1_S = 19, R1_TYPE_IQ4_NL = 20, R1_TYPE_IQ3_S = 21,
    R1_TYPE_IQ2_S = 22, R1_TYPE_IQ4_XS = 23, R1_TYPE_I8 = 24, R1_TYPE_I16 = 25,
    R1_TYPE_I32 = 26, R1_TYPE_I64 = 27, R1_TYPE_F64 = 28, R1_TYPE_IQ1_M = 29,
    R1_TYPE_BF16 = 30,
    /* internal, never in a file: Q8_0 repacked at load by 16 rows (quant_q8r.h) */
    R1_TYPE_Q8_0_R16 = 40,
    R1_TYPE_COUNT_ = 41
} r1_type;

/* Dot product of n elements: *s = sum_i x[i]*y[i], where x is a row of the weight type
 * and y a row of the weight type's vec_dot_type. n is a multiple of both block sizes. */
typedef void (*r1_vec_dot_fn)(int n, float *s, const void *x, const void *y);
typedef void (*r1_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*r1_from_float_fn)(const float *src, void *dst, int64_t n);
/* Batched dot products (prefill): for r < nr, c < nc:
 *   out[c*ldo + r] = dot(row r of w, row c of a)
 * w: nr weight rows w_stride bytes apart; a: nc activation rows of the vec_dot_type,
 * a_stride bytes apart; n elements per row. Equal to vec_dot per pair up to float
 * summation order. */
typedef void (*r1_gemm_fn)(int n, int nr, int nc, const void *w, size_t w_stride, const void *a,
                           size_t a_stride, float *out, size_t ldo);

typedef struct r1_type_traits {
    const char      *name;         /* "f32", "q8_0", ... as in ggml                     */
    int              blck_size;    /* elements per block                                */
    size_t           type_size;    /* bytes per block                                   */
    bool             is_quantized;
    r1_to_float_fn   to_float;     /* dequantize (NULL: not convertible)                 */
    r1_from_float_fn from_float;   /* quantizer (NULL: cannot be produced); SIMD for
                                    * Q8_0/Q8_K, always byte-identical to from_float_ref */
    r1_vec_dot_fn    vec_dot;      /* best kernel for this CPU (NULL: no dot support,
                                    * e.g. the activation-only types Q8_1, Q8_K)        */
    r1_vec_dot_fn    vec_dot_ref;  /* scalar reference kernel                           */
    r1_type          vec_dot_type; /* type the activations are converted to             */
    r1_from_float_fn from_float_ref; /* scalar reference quantizer (ggml's algorithms)    */
    r1_gemm_fn       gemm;         /* batched kernel sharing weight decoding across
                                    * activation rows, or NULL: use r1_gemm()            */
} r1_type_traits;

/* r1_gemm() uses the AMX kernel (when active for the type) from this many activation
 * rows on (prefill); below it (decode, small expert groups) t->gemm / vec_dot. */
#define R1_GEMM_BIG_MIN 8

/* Traits of a supported type, or NULL (unknown id or a type r1 cannot use).
 * The first call picks kernels from cpuid (thread-safe, once). */
const r1_type_traits *r1_type_get_traits(r1_type t);
const char *r1_type_name(r1_type t);           /* "q4_K", or "unknown" */
/* Bytes of a row of n elements; 0 if t is unsupported or n not a multiple of the block. */
size_t r1_row_size(r1_type t, int64_t n);

/* ISA selection. R1_ISA environment variable ("scalar", "avx2", "avx512", "neon")
 * forces a lower path; the default is the best the CPU supports. On x86-64 with AMX
 * (AMX-TILE + AMX-INT8 granted by the OS) the AVX-512 level also uses the AMX
 * batched kernels in r1_gemm (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K..Q6_K, IQ4_XS
 * weights); R1_ISA=avx512 or lower, or R1_AMX=0, turns
 * them off. r1_amx_active() says whether they are in use. */
typedef enum r1_isa { R1_ISA_SCALAR = 0, R1_ISA_AVX2 = 1, R1_ISA_AVX512 = 2, R1_ISA_NEON = 3 } r1_isa;
r1_isa      r1_isa_active(void);
const char *r1_isa_name(r1_isa isa);
bool        r1_amx_active(void);
/* Whether r1_gemm uses an AMX kernel for weight type t (from R1_GEMM_BIG_MIN tokens on):
 * callers give such kernels bigger token blocks, since they pack weights once per call. */
bool        r1_amx_gemm_active(r1_type t);

/* Batched product through traits t (see r1_gemm_fn): the AMX kernel when nc >=
 * R1_GEMM_BIG_MIN, t is the active AVX-512 table's entry and AMX is active, else t->gemm when the ISA has one,
 * else vec_dot per pair, each weight row dotted with all nc activation rows while it is
 * in L1. Prefer this over nr*nc vec_dot calls for nc > 1. */
void r1_gemm(const r1_type_traits *t, int n, int nr, int nc, const void *w, size_t w_stride, const void *a,
             size_t a_stride, float *out, size_t ldo);

/* The traits as they would be with kernels of exactly `isa` (scalar, avx2, ...), for
 * tests and benchmarks that compare ISA levels. NULL if this CPU cannot run isa (or the
 * build lacks it) or t is unsupported. Unlike R1_ISA, this ignores the environment. */
const r1_type_traits *r1_type_get_traits_isa(r1_type t, r1_isa isa);

/* Half-precision helpers (IEEE binary16, round-to-nearest-even; bfloat16, RNE). */
float    r1_fp16_to_fp32(uint16_t h);
uint16_t r1_fp32_to_fp16(float f);
float    r1_bf16_to_fp32(uint16_t h);
uint16_t r1_fp32_to_bf16(float f);

#endif
