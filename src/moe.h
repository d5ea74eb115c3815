/*
 * moe.h — DeepSeekMoE: expert routing and the routed + shared expert FFN (internal).
 *
 * Weight views. GGUF stores a matrix W (out × in) with ne = [in, out]: `out` rows, each
 * row `in` contiguous elements of the tensor's type. An r1_wmat is such a view; for the
 * 3-D expert tensors one expert is one r1_wmat:
 *   ffn_gate_exps, ffn_up_exps  ne = [n_embd,   n_ff_exp, n_expert]  expert e: n_ff_exp rows of n_embd
 *   ffn_down_exps               ne = [n_ff_exp, n_embd,   n_expert]  expert e: n_embd rows of n_ff_exp
 *   ffn_gate_inp (router)       ne = [n_embd, n_expert]              one row per expert
 *   exp_probs_b.bias            ne = [n_expert] (F32)                 selection-only bias (V3/R1)
 *   ffn_{gate,up}_shexp         ne = [n_embd, n_ff_exp * n_expert_shared]
 *   ffn_down_shexp              ne = [n_ff_exp * n_expert_shared, n_embd]
 * (llama.cpp, src/llama-model.cpp, LLM_ARCH_DEEPSEEK2.) Any type with traits works:
 * activations are converted to the type's vec_dot_type and dotted row by row.
 *
 * Routing, as DeepSeek defines it (DeepSeek-V3 inference code, `Gate.forward`):
 *   p      = softmax(logits)            (gating 1, V2/V2-Lite)   or sigmoid(logits) (gating 2, V3/R1)
 *   s      = p + bias                   (bias = exp_probs_b, absent → 0; used for SELECTION only)
 *   groups: if n_group > 1, experts are split into n_group equal consecutive groups; a group's
 *           score is max(s over the group) (V2, no bias) or the sum of its top-2 s (V3, bias);
 *           the topk_group best groups are kept, all other experts are excluded;
 *   ids    = the n_used largest s among the kept experts (ties: lower index wins);
 *   w      = p[ids]  (unbiased);  if norm: w /= sum(w);  w *= scale.
 * No GGUF key says which group-scoring rule a file uses; DeepSeek's code picks it by the
 * presence of the bias, and so does R1_GROUP_SCORE_AUTO. (llama.cpp always uses the top-2
 * sum; for a grouped softmax model such as DeepSeek-V2-236B it therefore differs.)
 */
#ifndef R1_MOE_H
#define R1_MOE_H

#include "arena.h"
#include "common.h"
#include "gguf.h"
#include "quant.h"
#include "quant_q8r.h"
#include <stdbool.h>
#include <stdint.h>

/* ---- parallelism ------------------------------------------------------------------
 * An optional runner supplied by the caller (the engine's thread pool): run(pool, n, fn,
 * arg) calls fn(arg, i, n) for every i < n, concurrently, and returns when all are done.
 * A NULL r1_par (or n <= 1) runs everything on the calling thread. Work is split so the
 * result does not depend on the number of workers. `arena` (may be NULL: then malloc) is
 * the calling thread's scratch stack (arena.h): every product, FFN, MoE and MLA call takes
 * its temporary buffers from it and gives them back before returning. */
typedef void (*r1_par_fn)(void *arg, int i, int n);
typedef struct r1_par {
    void (*run)(void *pool, int n, r1_par_fn fn, void *arg);
    void *pool;
    int   n;
    r1_arena *arena;
} r1_par;

/* Runs fn over par's workers (or once, serially, as fn(arg, 0, 1)). */
void r1_par_run(const r1_par *par, r1_par_fn fn, void *arg);

/* ---- weight views and the two products every layer needs ------------------------ */
typedef struct r1_wmat {
    r1_type     type;
    const void *data;       /* row r starts at data + r * row_bytes            */
    int64_t     n_cols;     /* ne[0]: elements per row (input width)           */
    int64_t     n_rows;     /* output width                                    */
    size_t      row_bytes;  /* r1_row_size(type, n_cols)                       */
} r1_wmat;

/* Rows a product over w takes in whole multiples of: R1_Q8R_ROWS (16) for the repacked Q8_0
 * layout (quant_q8r.h: a group of 16 rows is one unit), 1 for every file type. Every row
 * split of such a matrix (threads, row blocks, views, r1_gemm's nr and row offset) starts
 * and ends on a multiple of it; model.c repacks only matrices whose splits all can. */
static inline int r1_wmat_row_group(const r1_wmat *w) { return w->type == R1_TYPE_Q8_0_R16 ? R1_Q8R_ROWS : 1; }
/* First row of part i of n of R rows cut on multiples of g (R a multiple of g): parts
 * differ by at most g rows; part n starts at R. */
static inline int64_t r1_rows_part(int64_t R, int g, int64_t i, int64_t n) { return R / g * i / n * g; }

/* A view of n_rows rows of n_cols elements at data. Fails (R1_ERR_UNSUPPORTED /
 * R1_ERR_FORMAT) on a type without dot support or n_cols not a multiple of its block. */
r1_status r1_wmat_init(r1_wmat *w, r1_type type, const void *data, int64_t n_cols,
                       int64_t n_rows, const char *what, r1_error *err);
/* Rows [first, first + count) of w as a view (caller guarantees the range, and that first
 * and count are multiples of r1_wmat_row_group(w): asserted). */
r1_wmat r1_wmat_rows(const r1_wmat *w, int64_t first, int64_t count);

/* Y[t][r] = sum_c W[r][c] * X[t][c] for t < n_tok, r < n_rows.
 * X rows have n_cols floats, stride ldx; Y rows stride ldy (>= n_rows).
 * Every weight row is read once per call (row loop outside, token loop inside). */
r1_status r1_wmat_mul(const r1_wmat *w, int n_tok, const float *x, size_t ldx,
                      float *y, size_t ldy, const r1_par *par, r1_error *err);
/* Transposed product: Y[t][c] = sum_r X[t][r] * W[r][c] for c < n_cols (overwrites Y).
 * X rows have n_rows floats (stride ldx); Y rows stride ldy. Each weight row is
 * dequantized once per call. Used where a GGUF layout stores the transpose of what
 * a product needs (MLA's W_uk in `attn_kv_b` files). */
r1_status r1_wmat_mul_t(const r1_wmat *w, int n_tok, const float *x, size_t ldx,
                        float *y, size_t ldy, const r1_par *par, r1_error *err);
/* Scratch bytes r1_wmat_mul (transposed: r1_wmat_mul_t) of w over n_tok tokens takes from
 * a serial (n <= 1) r1_par's arena — what an arena over a worker's slice must hold. */
size_t r1_wmat_mul_scratch(const r1_wmat *w, int n_tok, bool transposed);

/* ---- routing -------------------------------------------------------------------- */
typedef enum r1_gating { R1_GATING_SOFTMAX = 1, R1_GATING_SIGMOID = 2 } r1_gating; /* GGUF expert_gating_func */
typedef enum r1_group_score {
    R1_GROUP_SCORE_AUTO = 0,     /* TOP2_SUM when a bias is present, else MAX (DeepSeek's rule) */
    R1_GROUP_SCORE_MAX = 1,      /* DeepSeek-V2: max of the group's scores                     */
    R1_GROUP_SCORE_TOP2_SUM = 2, /* DeepSeek-V3/R1: sum of the group's two best biased scores  */
} r1_group_score;

#define R1_MOE_MAX_EXPERTS 4096

typedef struct r1_moe_router {
    int            n_expert;       /* expert_count                                     */
    int            n_used;         /* expert_used_count                                */
    int            n_group;        /* expert_group_count (0 or 1: no groups)           */
    int            topk_group;     /* expert_group_used_count                          */
    r1_gating      gating;         /* expert_gating_func                               */
    r1_group_score group_score;
    bool           norm;           /* expert_weights_norm                              */
    float          scale;          /* expert_weights_scale (routed_scaling_factor)     */
    const float   *bias;           /* [n_expert] exp_probs_b, or NULL                  */
} r1_moe_router;

/* Checks the router's numbers (counts, groups, gating); one-line error naming `file`. */
r1_status r1_moe_router_check(const r1_moe_router *r, const char *file, r1_error *err);

/* Routes one token: logits[n_expert] → ids[n_used] (by decreasing selection score) and
 * weights[n_used]. scratch: 2 * n_expert floats. The router must have passed the check. */
void r1_moe_route(const r1_moe_router *r, const float *logits, int32_t *ids, float *weights,
                  float *scratch);

/* ---- the MoE FFN of one layer ----------------------------------------------------- */
typedef struct r1_moe_layer {
    r1_moe_router router;
    int      n_embd, n_ff_exp, n_shared;
    r1_wmat  gate_inp;                 /* n_expert rows of n_embd                        */
    r1_type  exps_type[3];             /* gate, up, down                                 */
    const void *exps_data[3];          /* 3-D tensors' data                              */
    r1_wmat  gate_sh, up_sh, down_sh;  /* shared experts (ignored when n_shared == 0)    */
} r1_moe_layer;

/* One expert's gate (which = 0), up (1) or down (2) matrix as a view. */
r1_wmat r1_moe_expert(const r1_moe_layer *l, int which, int expert);

/* out[t] = sum_j w_tj * FFN_{e_tj}(x[t]) + FFN_shared(x[t]) for t < n_tok, where
 * FFN_e(x) = down_e( silu(gate_e x) * up_e x ). x, out: n_tok × n_embd (may not alias).
 * Tokens are grouped by expert, so each selected expert's weights are read once per call
 * and unselected experts are never touched. If ids_out is non-NULL it receives the
 * routing (n_tok × n_used ids) for inspection. */
r1_status r1_moe_forward(const r1_moe_layer *l, const float *x, int n_tok, float *out,
                         int32_t *ids_out, const r1_par *par, r1_error *err);

/* Reads the router from GGUF metadata "<arch>.expert_*" (count, used_count, gating_func —
 * absent means softmax as in older DeepSeek-V2 files —, weights_norm, weights_scale,
 * group_count, group_used_count); the bias pointer is left NULL (per layer). Checks it
 * with r1_moe_router_check. Also returns expert_shared_count and
 * expert_feed_forward_length. Errors name the file and the key. */
r1_status r1_moe_router_from_gguf(const gguf_file *f, const char *arch, const char *file,
                                  r1_moe_router *r, int *n_shared, int *n_ff_exp, r1_error *err);

/* Binds layer il's MoE tensors (blk.<il>.ffn_gate_inp, exp_probs_b.bias (optional; sets
 * the router's bias), ffn_{gate,up,down}_exps, ffn_{gate,up,down}_shexp when n_shared > 0),
 * checking every shape against the router and sizes. Errors name the file and tensor. */
r1_status r1_moe_layer_from_gguf(const gguf_file *f, int il, const r1_moe_router *r, int n_embd,
                                 int n_ff_exp, int n_shared, const char *file, r1_moe_layer *l,
                                 r1_error *err);

/* SwiGLU FFN with separate gate/up/down matrices: out = down(silu(gate x) * up x);
 * the dense leading layers and the shared experts. out is overwritten. */
r1_status r1_ffn_swiglu(const r1_wmat *gate, const r1_wmat *up, const r1_wmat *down,
                        const float *x, int n_tok, float *out, const r1_par *par, r1_error *err);

#endif
