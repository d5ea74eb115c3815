/*
 * quant_q8r.h — Q8_0 weights repacked at load by groups of 16 rows ("q8_0x16").
 *
 * Why: a GGUF Q8_0 row is a run of 34-byte blocks { half d; i8 qs[32] }. Its kernels dot
 * one row at a time (a horizontal sum per row and block, 64-byte loads that straddle cache
 * lines), and the AMX GEMM has to pack 16 rows into a tile layout on every call. In the
 * repacked layout 16 rows are interleaved the way VNNI (vpdpbusd: 16 lanes × 4 bytes) and
 * AMX (a B tile of K/4 rows × 16 columns × 4 bytes) consume them, so decode runs 16 rows per
 * instruction with no horizontal sums and prefill loads B tiles straight from the weights.
 *
 * Layout. Rows 16g .. 16g+15 of a matrix with n_cols = 32·nb columns form group g, which
 * occupies exactly the bytes the 16 plain rows did (16 · 34 · nb), at the same offset
 * (16g · row_bytes): views of whole groups keep plain Q8_0 address arithmetic.
 *   group = [ scales: nb × 16 half ][ quants: nb × 512 bytes ]
 *   scales: half at index 16·b + r = d of row r's block b
 *   quants: byte at 512·b + 64·q + 4·r + j = (u8)(qs_r[b][4q + j] + 128),  q < 8, j < 4
 *           (row r's element 32b + 4q + j, offset by +128 so it is unsigned)
 * Value of row r, element 32b + e:  x = d(r, b) · ((int)byte − 128).
 * The scales come first so that, when nb is even, every block's 512 quant bytes start on a
 * 64-byte boundary relative to the group (32 · nb is a multiple of 64).
 *
 * Arithmetic with unsigned quants: for activations a (Q8_0, signed) of block b,
 *   Σ_e x_e·a_e = d(r,b) · d_a(b) · (Σ_e byte_e·a_e − 128 · Σ_e a_e)
 * so a kernel computes the byte·a products unsigned×signed (vpdpbusd; AMX tdpbsud with the
 * activations as the signed A tile) and subtracts 128 times the activation block's sum,
 * which is the same for all 16 rows (one subtraction per block and token).
 *
 * Invariants: the integer sum of a block equals the plain Q8_0 one exactly, so a kernel that
 * accumulates blocks in order as  acc += (float)isum · (d_w · d_a)  gives the bits of the
 * plain Q8_0 scalar reference (r1_q8r_gemm_ref does; tested).
 */
#ifndef R1_QUANT_Q8R_H
#define R1_QUANT_Q8R_H

#include <stddef.h>
#include <stdint.h>

enum { R1_Q8R_ROWS = 16 };

/* Bytes of one group of 16 rows of n_cols (a multiple of 32) elements. */
size_t r1_q8r_group_bytes(int64_t n_cols);

/* Repacks 16 plain Q8_0 rows (row i at src + i·src_stride) of n_cols elements into one group
 * at dst (r1_q8r_group_bytes(n_cols) bytes). dst must not overlap the source rows; to repack
 * in place, copy the 16 rows out first. */
void r1_q8r_repack(void *dst, const void *src, size_t src_stride, int64_t n_cols);

/* Repacks in place: the 16 plain rows of n_cols elements at g (contiguous, 34·n_cols/32
 * bytes apart) become one group at g. scratch: r1_q8r_group_bytes(n_cols) bytes (the rows
 * are copied there, then r1_q8r_repack). */
void r1_q8r_repack_inplace(void *g, int64_t n_cols, void *scratch);

/* The inverse: row r (< 16) of the group at g as a plain Q8_0 row at dst. */
void r1_q8r_unpack_row(void *dst, const void *g, int r, int64_t n_cols);

/* Row r of the group at g dequantized to n_cols floats. */
void r1_q8r_to_float_row(const void *g, int r, float *y, int64_t n_cols);

/* Scalar reference, in the shape of r1_gemm_fn: for r < nr, c < nc
 *   out[c·ldo + r] = dot(row r of the weights, activation row c)
 * w: the first row of a group; nr a multiple of 16; w_stride: bytes of a plain row
 * (34 · n / 32), so group k starts at w + 16k · w_stride. a: nc Q8_0 activation rows,
 * a_stride bytes apart. Bit-identical to Q8_0's vec_dot reference on the unpacked rows. */
void r1_q8r_gemm_ref(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                     float *out, size_t ldo);

/* SIMD kernels of the layout, same contract as r1_q8r_gemm_ref (x86-64 builds only;
 * src/simd/q8r_*.c; call only when the CPU has the ISA):
 *   r1_q8r_gemm_avx512  AVX-512 VNNI, any nc (the decode / small-batch kernel)
 *   r1_q8r_gemm_amx     AMX int8 tiles (prefill, nc >= R1_GEMM_BIG_MIN; AMX must be
 *                       granted by the OS: see amx_common.h) */
void r1_q8r_gemm_avx512(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                        float *out, size_t ldo);
void r1_q8r_gemm_amx(int n, int nr, int nc, const void *w, size_t w_stride, const void *a, size_t a_stride,
                     float *out, size_t ldo);

#endif
