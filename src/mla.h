/*
 * mla.h — Multi-head Latent Attention (DeepSeek-V2/V3, GGUF arch `deepseek2`) (internal).
 *
 * Shapes (per token; H = n_head, Dn = qk_nope, Dr = qk_rope, Dv = v_head, R = kv_lora_rank,
 * Q = q_lora_rank). Tensors as in llama.cpp (ne[0] first = row length):
 *   attn_q        [n_embd, H*(Dn+Dr)]             when Q == 0 (V2-Lite)
 *   attn_q_a      [n_embd, Q] → attn_q_a_norm [Q] → attn_q_b [Q, H*(Dn+Dr)]   when Q > 0
 *   attn_kv_a_mqa [n_embd, R+Dr]   output = [c_kv (R) | k_rope (Dr, shared by all heads)]
 *   attn_kv_a_norm [R]             RMSNorm of c_kv
 *   up-projection, one of two layouts:
 *     attn_kv_b   [R, H*(Dn+Dv)]   row h*(Dn+Dv)+d: d < Dn → W_uk[h][d][:], else W_uv[h][d-Dn][:]
 *     attn_k_b    [Dn, R, H]       row (h, r) = W_uk[h][:][r]   (the transpose, per head)
 *     attn_v_b    [R, Dv, H]       row (h, j) = W_uv[h][j][:]
 *   attn_output   [H*Dv, n_embd]
 * q for head h is q[h*(Dn+Dr) ..] = [q_nope (Dn) | q_rope (Dr)].
 *
 * Attention for query token at position p over cached tokens j <= p:
 *   k_h[j] = [W_uk[h] c[j] | k_rope[j]],  v_h[j] = W_uv[h] c[j]
 *   score  = kq_scale * (q_h · k_h[j]),  kq_scale = mscale² / sqrt(Dn + Dr)
 *   out    = attn_output · concat_h( sum_j softmax(score)_j v_h[j] )
 * Absorbed form (decode): q_lat = W_uk[h]^T q_nope, score = [q_lat | q_rope] · [c[j] | k_rope[j]],
 * o_lat = sum_j p_j c[j], v_out = W_uv[h] o_lat — attention runs over the R+Dr latent rows.
 * Expanded form (long prefill): k_nope and v are expanded per head from the latent.
 * Both give the same result (unit-tested); neither needs any derived weight tensor: the
 * layout that stores the transpose of a product is applied with r1_wmat_mul_t.
 *
 * Cache: per layer, n_ctx rows of R + Dr elements (F32 or F16): [normed c_kv | roped k_rope].
 *
 * RoPE: rotates consecutive pairs (x[2i], x[2i+1]) of the Dr rope part (llama.cpp's NORM
 * type, DeepSeek's view_as_complex), angle pos * f_i, f_i = base^(-2i/Dr).
 * YaRN (rope.scaling.type == yarn, factor s > 1), DeepSeek's definition:
 *   low  = max(0,    floor(Dr * ln(orig/(beta_fast*2π)) / (2 ln base)))
 *   high = min(Dr-1, ceil (Dr * ln(orig/(beta_slow*2π)) / (2 ln base)))
 *   ramp_i = clamp((i - low)/(high - low), 0, 1)   (high == low: high += 0.001)
 *   f_i' = f_i / s * ramp_i + f_i * (1 - ramp_i)
 *   mscale = 1 + yarn_log_multiplier * ln(s)   (GGUF stores 0.1 * mscale_all_dim)
 * The rotation itself is not scaled (DeepSeek applies mscale only to the softmax scale).
 */
#ifndef R1_MLA_H
#define R1_MLA_H

#include "moe.h"
#include "gguf.h"

#define R1_MLA_MAX_ROPE 512

typedef struct r1_mla_config {
    int   n_embd, n_head;
    int   q_lora_rank;        /* 0: plain attn_q                                   */
    int   kv_lora_rank;       /* R                                                 */
    int   qk_nope, qk_rope, v_head;
    float rms_eps;
    float freq_base;
    bool  yarn;               /* YaRN on (scaling type yarn and factor > 1)        */
    float yarn_factor;        /* s                                                 */
    int   yarn_orig_ctx;      /* rope.scaling.original_context_length              */
    float yarn_beta_fast, yarn_beta_slow;   /* 32, 1 unless the file says otherwise */
    float yarn_log_mul;       /* rope.scaling.yarn_log_multiplier (0.1*mscale_all_dim) */
} r1_mla_config;

/* Constants derived once from a config. */
typedef struct r1_mla {
    r1_mla_config c;
    float  kq_scale;                      /* mscale² / sqrt(Dn + Dr)          */
    double freq[R1_MLA_MAX_ROPE / 2];     /* per-pair angular frequency (YaRN applied) */
    int    simd;                          /* attention kernels: 1 AVX-512 (set by r1_mla_init
                                           * when r1_isa_active() is avx512), 0 the 8-wide ones */
} r1_mla;

typedef enum r1_mla_layout { R1_MLA_LAYOUT_KV_B = 0, R1_MLA_LAYOUT_SPLIT = 1 } r1_mla_layout;

/* One layer's weights (views into the mapped file). */
typedef struct r1_mla_weights {
    r1_wmat wq;                          /* Q == 0: H*(Dn+Dr) rows of n_embd   */
    r1_wmat wq_a, wq_b;                  /* Q > 0: Q rows of n_embd; H*(Dn+Dr) rows of Q */
    const float *q_a_norm;               /* [Q]                                */
    r1_wmat wkv_a;                       /* R+Dr rows of n_embd                */
    const float *kv_a_norm;              /* [R]                                */
    r1_mla_layout layout;
    r1_wmat wkv_b;                       /* KV_B: H*(Dn+Dv) rows of R          */
    r1_wmat wk_b;                        /* SPLIT: H*R rows of Dn              */
    r1_wmat wv_b;                        /* SPLIT: H*Dv rows of R              */
    r1_wmat wo;                          /* n_embd rows of H*Dv                */
} r1_mla_weights;

/* One layer's latent cache: n_ctx rows of (R + Dr) elements of type F32 or F16. */
typedef struct r1_mla_cache {
    r1_type type;
    void   *data;
    int     n_ctx;
} r1_mla_cache;

typedef enum r1_mla_mode {
    R1_MLA_AUTO = 0,       /* absorbed unless the expanded form costs fewer operations */
    R1_MLA_ABSORBED = 1,
    R1_MLA_EXPANDED = 2,
} r1_mla_mode;

/* Checks a config and derives the constants; errors name `file`. */
r1_status r1_mla_init(r1_mla *m, const r1_mla_config *c, const char *file, r1_error *err);

/* Reads a deepseek2 config from GGUF metadata (keys "<arch>.attention.*", "<arch>.rope.*";
 * n_embd/n_head/rms_eps/freq_base too). Key/value lengths: `key_length_mla` and
 * `value_length_mla` when present (split-layout files, where key_length is R+Dr),
 * else key_length/value_length. Errors name the file and key. */
r1_status r1_mla_config_from_gguf(const gguf_file *f, const char *arch, const char *file,
                                  r1_mla_config *c, r1_error *err);

/* Binds layer `il`'s tensors (blk.<il>.attn_*), checking every shape against the config;
 * either layout is accepted. Errors name the file and the tensor. */
r1_status r1_mla_weights_from_gguf(const gguf_file *f, int il, const r1_mla_config *c,
                                   const char *file, r1_mla_weights *w, r1_error *err);

/* Bytes of one cache row (one token, one layer) for cache element type t. */
size_t r1_mla_cache_row_bytes(const r1_mla_config *c, r1_type t);

/* Rotates n/2 consecutive pairs of x (n = Dr) to position pos. */
void r1_mla_rope(const r1_mla *m, float *x, int pos);

/* One attention block for n_tok tokens at positions pos0 .. pos0+n_tok-1.
 * x: n_tok × n_embd (already RMS-normed); out: n_tok × n_embd (overwritten; no residual).
 * Writes the tokens' latent rows into cache rows pos0.. and attends causally over rows
 * 0 .. pos0+t. Requires pos0 + n_tok <= cache->n_ctx (else R1_ERR_CONTEXT_FULL).
 * par (may be NULL): matrix rows and attention heads are split over its workers. */
r1_status r1_mla_forward(const r1_mla *m, const r1_mla_weights *w, r1_mla_cache *cache,
                         const float *x, int n_tok, int pos0, float *out, r1_mla_mode mode,
                         const r1_par *par, r1_error *err);

#endif
