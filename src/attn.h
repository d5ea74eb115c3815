/*
 * attn.h — causal grouped-query attention of a chunk of query tokens over a KV cache
 * (internal).
 *
 * For one layer: n query tokens at positions pos0..pos0+n-1, n_head query heads sharing
 * n_head_kv key/value heads (group G = n_head / n_head_kv; q head h reads kv head h / G):
 *
 *   out[t][h] = Σ_{j <= pos0+t} softmax_j(scale · q[t][h]·K[j][g]) V[j][g],   g = h / G
 *
 * Flash-attention style: the work is split into tiles of up to 32 "rows" of one kv head,
 * a row being one (token, q head of the group) pair, in the order t*G + (h mod G) — so
 * the group's heads of a few consecutive tokens, which all read the same K/V rows. A tile
 * walks over the keys its rows may see in blocks (16..64 keys; an F16 block is converted
 * to F32 once per tile), computes the block's scores for all rows, masks the causal
 * triangle, keeps a running maximum and sum per row (online softmax: earlier partial
 * outputs are rescaled when the maximum grows) and accumulates P·V into the output rows,
 * which are divided by the sums at the end. No n_kv-sized scratch: only fixed-size stack
 * buffers (about 70 KiB at most). Tiles are the tasks of the thread pool, the longest
 * (latest tokens) first, so the causal triangle's uneven work balances.
 *
 * Kernels: a scalar reference in plain C (attn.c), an AVX-512 one (simd/attn_avx512.c,
 * head_dim <= 256) and an AVX2 one (simd/attn_avx2.c, head_dim a multiple of 8 <= 256);
 * r1_attn picks by the isa argument (forward.c
 * passes r1_isa_active(), so R1_ISA=scalar selects the reference). Results agree with a
 * double-precision evaluation to float rounding (softmax via exp2 of log2e-scaled scores).
 */
#ifndef R1_ATTN_H
#define R1_ATTN_H

#include "quant.h"
#include "threadpool.h"
#include <stdbool.h>
#include <stddef.h>

typedef struct r1_attn_args {
    int n, pos0;                  /* query tokens; token t is at position pos0 + t          */
    int n_head, n_head_kv, head_dim;
    float scale;                  /* usually 1/sqrt(head_dim)                               */
    const float *q;               /* query of token t, head h at q + t*ldq + h*head_dim     */
    size_t ldq;                   /* floats between tokens (>= n_head*head_dim)             */
    float *out;                   /* output, same layout as q with ldo (written, not read)  */
    size_t ldo;
    r1_type type;                 /* element type of K and V: R1_TYPE_F32 or R1_TYPE_F16    */
    const void *k, *v;            /* position 0, kv head 0; kv head g starts g*head_dim
                                     elements further; positions 0..pos0+n-1 are read      */
    size_t k_stride, v_stride;    /* bytes between consecutive positions                    */
} r1_attn_args;

/* Row idx (= t*G + (h mod G)) of kv head g: its query, its output and how many keys it
 * sees (positions 0..pos0+t). Shared by every tile kernel. */
typedef struct r1_attn_row {
    const float *q;
    float *out;
    int n_keys;
} r1_attn_row;
static inline r1_attn_row r1_attn_row_at(const r1_attn_args *a, int g, int idx) {
    const int G = a->n_head / a->n_head_kv, t = idx / G, h = g * G + idx % G;
    return (r1_attn_row){a->q + (size_t)t * a->ldq + (size_t)h * a->head_dim,
                         a->out + (size_t)t * a->ldo + (size_t)h * a->head_dim, a->pos0 + t + 1};
}

/* One tile: rows r0..r0+nr-1 (1 <= nr <= 32, row = t*G + (h mod G)) of kv head g.
 * Writes exactly those rows' outputs. */
typedef void (*r1_attn_tile_fn)(const r1_attn_args *a, int g, int r0, int nr);

/* Scalar reference (plain C; any head_dim). */
void r1_attn_tile_ref(const r1_attn_args *a, int g, int r0, int nr);

/* The tile kernel r1_attn uses for isa: the AVX-512 one when isa is R1_ISA_AVX512, the
 * build and the CPU have it and head_dim <= 256; else the AVX2 one when isa is AVX2 (or
 * AVX-512), the CPU has it and head_dim is a multiple of 8 <= 256; else the reference. */
r1_attn_tile_fn r1_attn_tile_kernel(r1_isa isa, int head_dim);

/* The whole chunk, parallel over tiles on pool (NULL: on the caller), with the kernel of
 * r1_attn_tile_kernel(isa, head_dim). a->type must be F32 or F16, n >= 1, n_head a
 * multiple of n_head_kv. */
void r1_attn(threadpool *pool, const r1_attn_args *a, r1_isa isa);

#if defined(__x86_64__) || defined(_M_X64)
/* simd/attn_avx512.c; only valid on a CPU with AVX-512 (F, VL, BW, DQ) and head_dim <= 256. */
void r1_attn_tile_avx512(const r1_attn_args *a, int g, int r0, int nr);
/* simd/attn_avx2.c; only valid on a CPU with AVX2, FMA and F16C, head_dim % 8 == 0, <= 256. */
void r1_attn_tile_avx2(const r1_attn_args *a, int g, int r0, int nr);
#endif

#endif
