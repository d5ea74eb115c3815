/*
 * tmodel.h — the trainable decoder (float32), exactly the `llama` GGUF architecture the
 * engine runs: token embedding → n_layers × { x += Wo·attn(rope(Wq·n1(x)), rope(Wk·n1(x)),
 * Wv·n1(x)) ; x += Wd·(silu(Wg·n2(x)) ⊙ Wu·n2(x)) } → RMSNorm → output head.
 *
 *   n(x)   = x / sqrt(mean(x²) + eps) ⊙ g            (RMSNorm, per-channel gain g)
 *   rope   = llama.cpp "NORM" mode: consecutive pairs (x[2i], x[2i+1]) of every head are
 *            rotated by angle pos · base^(-2i/head_dim)
 *   attn   = causal softmax(q·k / sqrt(head_dim)); GQA: query head h reads kv head
 *            h / (n_heads / n_kv_heads)
 *
 * Parameters live in ONE flat float array (tm_params.data) so that AdamW, gradient
 * clipping, checkpoints and gradient buffers are plain loops over n floats. Every matrix
 * is stored row-major as W[out][in] — i.e. GGUF ne[0] = in, ne[1] = out — so the export
 * writes each tensor as-is.
 *
 * Invariants: n_heads % n_kv_heads == 0, dim % n_heads == 0, head_dim even.
 */
#ifndef R1_TRAIN_TMODEL_H
#define R1_TRAIN_TMODEL_H
#include "common.h"
#include <stdint.h>

typedef struct tm_config {
    int dim, n_layers, n_heads, n_kv_heads, hidden, vocab, seq_len;
    float rope_base, eps;
} tm_config;

typedef struct tm_layer {
    float *attn_norm;            /* [dim]                   */
    float *wq;                   /* [dim][dim]              */
    float *wk, *wv;              /* [kv_dim][dim]           */
    float *wo;                   /* [dim][dim]              */
    float *ffn_norm;             /* [dim]                   */
    float *wg, *wu;              /* [hidden][dim]           */
    float *wd;                   /* [dim][hidden]           */
} tm_layer;

#define TM_MAX_LAYERS 32
/* A view of a flat float array as the model's tensors (params, grads, Adam moments). */
typedef struct tm_params {
    float   *data;               /* n floats, owned by whoever allocated it */
    size_t   n;
    float   *embd;               /* [vocab][dim]            */
    tm_layer l[TM_MAX_LAYERS];
    float   *out_norm;           /* [dim]                   */
    float   *output;             /* [vocab][dim]            */
} tm_params;

/* Checks the config's invariants; R1_ERR_INVALID_ARG naming the bad field otherwise. */
r1_status tm_config_check(const tm_config *c, r1_error *err);
/* Number of floats of all parameters. */
size_t tm_n_params(const tm_config *c);
/* Points p's tensors into data (n = tm_n_params floats). */
void tm_params_view(const tm_config *c, float *data, tm_params *p);
/* Initialises weights: norms = 1, matrices ~ N(0, 0.02), residual outputs (wo, wd)
 * scaled by 1/sqrt(2·n_layers). Deterministic in seed. */
void tm_params_init(const tm_config *c, tm_params *p, uint64_t seed);

/* Per-thread scratch for one sequence of up to c->seq_len tokens (activations kept for
 * the backward pass). */
typedef struct tm_scratch tm_scratch;
tm_scratch *tm_scratch_new(const tm_config *c);
void        tm_scratch_free(tm_scratch *s);
/* loops = true: the plain-loop matmuls of sessions 1-2 (reproduces models trained with
 * them bit for bit); false (default): tg_gemm (src/train/tgemm.h), SIMD where available,
 * identical results on every ISA. The two differ in float summation order. */
void        tm_scratch_use_loops(tm_scratch *s, bool loops);

/* Forward (and, if g != NULL, backward) over tokens[0..n-1], 2 <= n <= seq_len.
 * p = softmax(inv_temp · logits): inv_temp 1 is the model itself; GRPO with rollouts
 * sampled at temperature T passes 1/T so that the loss is on the distribution actually
 * sampled (1.0f multiplies exactly, so inv_temp 1 gives the same bits as no scaling).
 * Loss = Σ_t w[t] · (−log p(tokens[t+1] | tokens[0..t])) for t < n−1 (w has n−1
 * entries; w[t] = 0 skips a position — prompt tokens; a negative weight pushes the
 * probability down, which GRPO uses with w = −advantage/normaliser).
 * Gradients are ADDED to g. Returns the loss. logp_out (optional, n−1 entries) receives
 * log p(tokens[t+1]) for every t. */
double tm_forward_backward(const tm_config *c, const tm_params *p, tm_scratch *s,
                           const int32_t *tokens, int n, const float *w, float inv_temp,
                           tm_params *g, float *logp_out);

/* Next-token logits after tokens[0..n-1] (full recompute; fine for the short sequences
 * of the demo tasks). out has vocab entries. */
void tm_logits_last(const tm_config *c, const tm_params *p, tm_scratch *s,
                    const int32_t *tokens, int n, float *out);

/* AdamW over the flat arrays; decay applies to matrices (not to norm gains). */
typedef struct tm_adamw { float lr, beta1, beta2, eps, wd; } tm_adamw;
void tm_adamw_step(const tm_config *c, const tm_adamw *h, tm_params *p, const tm_params *g,
                   float *m, float *v, int64_t step /* 1-based */);
/* Global L2 norm of g; scales g to norm max_norm if larger. Returns the norm before. */
double tm_clip_grad(tm_params *g, double max_norm);
/* lr at step (0-based) of total: linear warm-up over `warmup`, then cosine to lr·min_frac. */
float tm_lr_at(float lr, int64_t step, int64_t warmup, int64_t total, float min_frac);

/* Checkpoint: "R1TC" | u32 version 1 | tm_config | i64 step | u64 rng | params | m | v.
 * Resuming with the same thread count reproduces the run bit for bit. */
r1_status tm_checkpoint_save(const char *path, const tm_config *c, int64_t step, uint64_t rng,
                             const float *params, const float *m, const float *v, r1_error *err);
/* Loads into freshly malloc'd arrays (*params, *m, *v: tm_n_params floats each). */
r1_status tm_checkpoint_load(const char *path, tm_config *c, int64_t *step, uint64_t *rng,
                             float **params, float **m, float **v, r1_error *err);

/* splitmix64 / uniform / normal helpers (deterministic, no global state). */
uint64_t tm_rng_next(uint64_t *state);
double   tm_rng_uniform(uint64_t *state);          /* [0, 1) */
int      tm_rng_int(uint64_t *state, int lo, int hi); /* [lo, hi] */
#endif
