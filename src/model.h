/*
 * model.h — the loaded model: hyper-parameters, weight views into the GGUF map, and the
 * per-layer description the forward pass is driven by (internal).
 *
 * Architectures (GGUF general.architecture) and what each implies:
 *   llama     RoPE "normal" (consecutive pairs), optional rope_freqs.weight per-pair
 *             frequency divisors (Llama 3.1 rope scaling), optional linear scaling
 *   qwen2     RoPE NEOX (half split), q/k/v biases
 *   qwen3     RoPE NEOX, per-head RMSNorm of q and k (attn_q_norm/attn_k_norm [head_dim]),
 *             head_dim from attention.key_length
 *   deepseek2 MLA attention + DeepSeekMoE FFN (first leading_dense_block_count layers dense)
 * Every layer is pre-norm:  h = x + Attn(RMSNorm(x));  x' = h + FFN(RMSNorm(h)),
 * and the attention and FFN *kinds* are per-layer fields, so one forward loop serves all.
 *
 * Weight layout (GGUF, ne[0] = row length): a matrix with ne = [in, out] is `out` rows of
 * `in` elements → an r1_wmat. Norm weights and biases are F32 vectors.
 *   token_embd [n_embd, n_vocab]   output [n_embd, n_vocab] (absent: tied to token_embd)
 *   attn_q [n_embd, n_head*hd]  attn_k/attn_v [n_embd, n_head_kv*hd]  attn_output [n_head*hd, n_embd]
 *   ffn_gate/ffn_up [n_embd, n_ff]  ffn_down [n_ff, n_embd]
 */
#ifndef R1_MODEL_H
#define R1_MODEL_H

#include "common.h"
#include "gguf.h"
#include "mla.h"
#include "moe.h"
#include <stdbool.h>

#define R1_MAX_HEAD_DIM 1024

typedef enum r1_arch { R1_ARCH_LLAMA, R1_ARCH_QWEN2, R1_ARCH_QWEN3, R1_ARCH_DEEPSEEK2 } r1_arch;
typedef enum r1_attn_kind { R1_ATTN_GQA, R1_ATTN_MLA } r1_attn_kind;
typedef enum r1_ffn_kind { R1_FFN_DENSE, R1_FFN_MOE } r1_ffn_kind;

/* One transformer block. Pointers are views into the map (never freed). */
typedef struct r1_layer {
    r1_attn_kind attn;
    r1_ffn_kind  ffn;
    const float *attn_norm;              /* [n_embd]                                   */
    /* GQA */
    r1_wmat      wq, wk, wv, wo;         /* see the header comment for the shapes      */
    const float *bq, *bk, *bv;           /* [n_head*hd], [n_head_kv*hd] ×2, or NULL    */
    const float *q_norm, *k_norm;        /* [hd] per-head RMSNorm (qwen3), or NULL     */
    /* MLA */
    r1_mla_weights mla;
    /* FFN */
    const float *ffn_norm;               /* [n_embd]                                   */
    r1_wmat      gate, up, down;         /* dense SwiGLU                               */
    r1_moe_layer moe;
    /* KV cache rows this layer needs, in floats per token: plane 0 (K, or MLA's latent
     * [c_kv | k_rope]) and plane 1 (V, 0 for MLA). */
    int          cache_width[2];
} r1_layer;

struct r1_model {
    char          *path;
    gguf_file     *gf;
    r1_arch        arch;
    r1_model_info  info;                 /* public view; strings below                 */
    char          *arch_name, *name;
    float          rms_eps;
    /* RoPE (GQA layers) */
    int            n_rot;                /* rotated dims per head (rope.dimension_count) */
    bool           rope_neox;
    double         rope_inv_freq[R1_MAX_HEAD_DIM / 2];  /* angle per position, pair i   */
    int            head_dim_v;           /* value head width                           */
    /* deepseek2 */
    r1_mla         mla;
    int            n_layer_dense_lead;
    /* weights */
    const gguf_tensor *tok_embd;         /* [n_embd, n_vocab] any type with to_float   */
    const float   *output_norm;          /* [n_embd]                                   */
    r1_wmat        output;               /* n_vocab rows of n_embd                     */
    r1_layer      *layers;               /* [n_layer]                                  */
    r1_tokenizer  *tok;                  /* NULL if the tokenizer could not be built   */
    char           tok_error[512];       /* why, when tok == NULL                      */
    char           hp_note[256];         /* info.hugepages_note                         */
    char         **meta_str;             /* [gguf_n_kv]: NUL-terminated copy of string
                                            value i, NULL for other types               */
};

/* The open GGUF file behind a model (for `r1 info`). */
const gguf_file *r1_model_gguf(const r1_model *m);

#endif
