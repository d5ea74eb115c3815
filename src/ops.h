/*
 * ops.h — the numeric building blocks of the forward pass (internal).
 *
 * All vectors are float32, contiguous. Matrices follow GGUF's layout (see r1_wmat in
 * moe.h): W (out × in) is stored as `out` rows of `in` elements of the weight type, and
 * y = W x means y[r] = dot(row r, x). Activations are converted once per product to the
 * weight type's vec_dot_type (ops_quantize_rows) and then dotted with the traits' kernel.
 */
#ifndef R1_OPS_H
#define R1_OPS_H

#include "common.h"
#include "moe.h"
#include "quant.h"
#include "threadpool.h"
#include <stdbool.h>

/* out[i] = x[i] / sqrt(mean(x²) + eps) * w[i]   (w NULL: no weight). out may alias x. */
void ops_rmsnorm(float *out, const float *x, const float *w, int n, float eps);

/* out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + e^-g). out may alias either input. */
void ops_swiglu(float *out, const float *gate, const float *up, int n);

/* out[i] = a[i] + b[i]. */
void ops_add(float *out, const float *a, const float *b, int n);

/* RoPE of n_head heads of head_dim floats each (x = n_head × head_dim, head h at
 * x + h*head_dim), rotating the first n_rot dims of each head to position pos.
 * Pair i (i < n_rot/2) has angle pos * inv_freq[i] and is
 *   neox == false ("normal", llama):   (x[2i], x[2i+1])
 *   neox == true  (qwen2, qwen3):      (x[i],  x[i + n_rot/2])
 * rotated as (a, b) → (a cos − b sin, a sin + b cos). */
void ops_rope(float *x, int n_head, int head_dim, int n_rot, int pos, const double *inv_freq, bool neox);

/* Bytes needed to hold n_tok activation rows of n_cols converted for weight type t. */
size_t ops_act_bytes(r1_type t, int64_t n_cols, int n_tok);

/* Converts n_tok rows of x (n_cols floats each, stride ldx floats) to the vec_dot_type of
 * weight type t, into dst (rows r1_row_size(vec_dot_type, n_cols) bytes apart).
 * Parallel over rows. Returns the row stride in bytes. */
size_t ops_quantize_rows(threadpool *pool, r1_type t, const float *x, int n_tok, int64_t n_cols,
                         size_t ldx, void *dst);

/* Y[t][r] = dot(W row r, X[t]) for t < n_tok, r < w->n_rows, with X already converted by
 * ops_quantize_rows (xq, stride xq_stride bytes); Y rows ldy floats apart.
 * Parallel over blocks of output rows (balanced for any row count); each weight row is
 * read once for all n_tok tokens (r1_gemm). */
void ops_matmul_q(threadpool *pool, const r1_wmat *w, int n_tok, const void *xq, size_t xq_stride,
                  float *y, size_t ldy);

/* Convenience: converts X (n_tok × w->n_cols floats, stride ldx) into scratch `act`
 * (at least ops_act_bytes(w->type, w->n_cols, n_tok) bytes) and runs ops_matmul_q. */
void ops_matmul(threadpool *pool, const r1_wmat *w, int n_tok, const float *x, size_t ldx,
                void *act, float *y, size_t ldy);

/* Adds bias b[r] to every row of Y (n_tok rows, n floats, stride ldy). */
void ops_add_bias(float *y, int n_tok, int n, size_t ldy, const float *b);

#endif
