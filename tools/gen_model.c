/*
 * gen_model.c — writes a random-weight GGUF model for tests: the same metadata keys
 * and tensor names/shapes that llama.cpp's converter writes for llama, qwen2 and qwen3,
 * optionally with a real Hugging Face tokenizer (tokenizer.json + tokenizer_config.json).
 *
 *   gen_model --arch llama|qwen2|qwen3|deepseek2 [--preset r1-distill-qwen-1.5b|tiny|v2-lite|v3-tiny]
 *             [--layers N --embd N --heads N --kv-heads N --ff N --head-dim N --ctx N
 *              --vocab N --rope-theta F --eps F --tied --llama3-rope]
 *             [--tokenizer tokenizer.json [--tokenizer-config tokenizer_config.json]]
 *             [--pre NAME] [--name NAME] [--type f32|f16|bf16|q8_0] [--seed S]
 *             [--vocab-only] [--split N] -o out.gguf
 *   deepseek2 (MLA + MoE) also takes --q-lora N --kv-lora N --qk-nope N --qk-rope N
 *             --v-head N --experts N --experts-used N --experts-shared N --ff-exp N
 *             --dense-layers N --groups N --groups-used N --gating softmax|sigmoid|N
 *             --expert-scale F --expert-norm 0|1 --kv-layout kv_b|split
 *             --yarn-factor F --yarn-orig-ctx N --yarn-log-mul F   (see docs/deepseek2.md)
 *
 * Weights: each tensor has its own splitmix64 stream seeded from (seed, tensor name), so
 * a tensor's values do not depend on which other tensors exist. Matrices are uniform
 * with standard deviation 0.02, norm weights 1 + uniform noise (sd 0.05), biases sd 0.02.
 * 2-D tensors use --type; 1-D tensors (norms, biases, rope_freqs) are always F32.
 * Data is produced tensor by tensor at write time (gguf_add_tensor_lazy), so the 1.5B
 * preset never holds more than one tensor in memory.
 *
 * Shapes are GGUF order: ne[0] = input dim (row length), ne[1] = output dim.
 * The architecture description is a table (ARCHS + TENSORS below): adding an
 * architecture means adding an arch row, its feature flags, and any new tensor rows.
 */
#include "gguf.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- hyper-parameters ------------------------------------------------------------ */
typedef struct hparams {
    const char *arch, *name;
    int64_t n_layer, n_embd, n_head, n_head_kv, n_ff, head_dim, n_ctx, n_vocab;
    float rope_theta, eps;
    bool tied, llama3_rope;
    r1_type type;
    uint64_t seed;
    /* deepseek2: MLA (head_dim = qk_nope + qk_rope) and MoE */
    int64_t q_lora, kv_lora, qk_nope, qk_rope, v_head;
    int64_t n_expert, n_expert_used, n_expert_shared, n_ff_exp, n_dense_lead, n_group, n_group_used, gating;
    float expert_scale, yarn_factor, yarn_log_mul;
    int64_t yarn_orig_ctx, expert_norm;
    bool kv_split;
} hparams;

/* Features an architecture may have; tensor rows require some of them. */
enum {
    F_QKV_BIAS   = 1u << 0,   /* q/k/v projections have biases (qwen2)                 */
    F_QK_NORM    = 1u << 1,   /* per-head RMS norm of q and k (qwen3)                  */
    F_KV_LEN     = 1u << 2,   /* always write attention.key_length/value_length        */
    F_ROPE_DIM   = 1u << 3,   /* write rope.dimension_count and vocab_size (llama)     */
    F_UNTIED     = 1u << 4,   /* set at run time unless --tied: output.weight exists   */
    F_ROPE_FREQS = 1u << 5,   /* set at run time by --llama3-rope                      */
    F_GQA        = 1u << 6,   /* per-head q/k/v attention (every arch but deepseek2)   */
    F_MLA        = 1u << 7,   /* multi-head latent attention (deepseek2)               */
    F_Q_PLAIN    = 1u << 8,   /* run time: deepseek2 with q_lora_rank 0 (attn_q)        */
    F_Q_LORA     = 1u << 9,   /* run time: deepseek2 low-rank query                    */
    F_KV_B       = 1u << 10,  /* run time: one attn_kv_b tensor                        */
    F_KV_SPLIT   = 1u << 11,  /* run time: attn_k_b + attn_v_b                         */
    F_DENSE      = 1u << 12,  /* run time, per layer: dense FFN                        */
    F_MOE        = 1u << 13,  /* run time, per layer: routed experts                   */
    F_SHEXP      = 1u << 14,  /* run time: shared experts                              */
    F_EXP_BIAS   = 1u << 15,  /* run time: sigmoid gating's exp_probs_b                */
};

typedef struct arch_desc {
    const char *name;
    unsigned    features;
    const char *rope;         /* documentation: RoPE pairing convention in GGUF        */
} arch_desc;

static const arch_desc ARCHS[] = {
    { "llama", F_GQA | F_ROPE_DIM, "normal (consecutive pairs; the converter permutes q/k)" },
    { "qwen2", F_GQA | F_QKV_BIAS, "neox (first half / second half)" },
    { "qwen3", F_GQA | F_QK_NORM | F_KV_LEN, "neox (first half / second half)" },
    { "deepseek2", F_MLA, "normal (consecutive pairs of the rope part)" },
};

/* Symbolic dimensions used in the tensor table. */
typedef enum dim {
    D_1, D_EMBD, D_Q, D_KV, D_FF, D_HEAD, D_HALF_HEAD, D_VOCAB,
    /* deepseek2 */
    D_QLORA, D_KVA, D_KVLORA, D_KVB, D_NOPE, D_NHEAD, D_VHEAD, D_VO, D_NEXP, D_FFEXP, D_FFSH,
} dim;
typedef enum kind { K_MATRIX, K_NORM, K_BIAS, K_ROPE_FREQS, K_ROUTER } kind;   /* K_ROUTER: matrix kept F32 */

typedef struct tensor_desc {
    const char *name;         /* printf format with %d = layer for per-layer tensors   */
    bool        per_layer;
    unsigned    requires;     /* features that must all be present                     */
    kind        kind;
    int         n_dims;
    dim         ne[3];
} tensor_desc;

static const tensor_desc TENSORS[] = {
    { "token_embd.weight",         false, 0,            K_MATRIX, 2, { D_EMBD, D_VOCAB } },
    { "rope_freqs.weight",         false, F_ROPE_FREQS, K_ROPE_FREQS, 1, { D_HALF_HEAD, D_1 } },
    { "blk.%d.attn_norm.weight",   true,  0,            K_NORM,   1, { D_EMBD, D_1 } },
    { "blk.%d.attn_q.weight",      true,  F_GQA,        K_MATRIX, 2, { D_EMBD, D_Q } },
    { "blk.%d.attn_q.weight",      true,  F_Q_PLAIN,    K_MATRIX, 2, { D_EMBD, D_Q } },
    { "blk.%d.attn_q_a_norm.weight", true, F_Q_LORA,    K_NORM,   1, { D_QLORA, D_1 } },
    { "blk.%d.attn_kv_a_norm.weight", true, F_MLA,      K_NORM,   1, { D_KVLORA, D_1 } },
    { "blk.%d.attn_q_a.weight",    true,  F_Q_LORA,     K_MATRIX, 2, { D_EMBD, D_QLORA } },
    { "blk.%d.attn_q_b.weight",    true,  F_Q_LORA,     K_MATRIX, 2, { D_QLORA, D_Q } },
    { "blk.%d.attn_kv_a_mqa.weight", true, F_MLA,       K_MATRIX, 2, { D_EMBD, D_KVA } },
    { "blk.%d.attn_kv_b.weight",   true,  F_KV_B,       K_MATRIX, 2, { D_KVLORA, D_KVB } },
    { "blk.%d.attn_k_b.weight",    true,  F_KV_SPLIT,   K_MATRIX, 3, { D_NOPE, D_KVLORA, D_NHEAD } },
    { "blk.%d.attn_v_b.weight",    true,  F_KV_SPLIT,   K_MATRIX, 3, { D_KVLORA, D_VHEAD, D_NHEAD } },
    { "blk.%d.attn_output.weight", true,  F_MLA,        K_MATRIX, 2, { D_VO, D_EMBD } },
    { "blk.%d.attn_q.bias",        true,  F_QKV_BIAS,   K_BIAS,   1, { D_Q, D_1 } },
    { "blk.%d.attn_k.weight",      true,  F_GQA,        K_MATRIX, 2, { D_EMBD, D_KV } },
    { "blk.%d.attn_k.bias",        true,  F_QKV_BIAS,   K_BIAS,   1, { D_KV, D_1 } },
    { "blk.%d.attn_v.weight",      true,  F_GQA,        K_MATRIX, 2, { D_EMBD, D_KV } },
    { "blk.%d.attn_v.bias",        true,  F_QKV_BIAS,   K_BIAS,   1, { D_KV, D_1 } },
    { "blk.%d.attn_output.weight", true,  F_GQA,        K_MATRIX, 2, { D_Q, D_EMBD } },
    { "blk.%d.attn_q_norm.weight", true,  F_QK_NORM,    K_NORM,   1, { D_HEAD, D_1 } },
    { "blk.%d.attn_k_norm.weight", true,  F_QK_NORM,    K_NORM,   1, { D_HEAD, D_1 } },
    { "blk.%d.ffn_norm.weight",    true,  0,            K_NORM,   1, { D_EMBD, D_1 } },
    { "blk.%d.ffn_gate.weight",    true,  F_DENSE,      K_MATRIX, 2, { D_EMBD, D_FF } },
    { "blk.%d.ffn_up.weight",      true,  F_DENSE,      K_MATRIX, 2, { D_EMBD, D_FF } },
    { "blk.%d.ffn_down.weight",    true,  F_DENSE,      K_MATRIX, 2, { D_FF, D_EMBD } },
    { "blk.%d.ffn_gate_inp.weight", true, F_MOE,        K_ROUTER, 2, { D_EMBD, D_NEXP } },
    { "blk.%d.exp_probs_b.bias",   true,  F_MOE | F_EXP_BIAS, K_BIAS, 1, { D_NEXP, D_1 } },
    { "blk.%d.ffn_gate_exps.weight", true, F_MOE,       K_MATRIX, 3, { D_EMBD, D_FFEXP, D_NEXP } },
    { "blk.%d.ffn_down_exps.weight", true, F_MOE,       K_MATRIX, 3, { D_FFEXP, D_EMBD, D_NEXP } },
    { "blk.%d.ffn_up_exps.weight", true,  F_MOE,        K_MATRIX, 3, { D_EMBD, D_FFEXP, D_NEXP } },
    { "blk.%d.ffn_gate_shexp.weight", true, F_MOE | F_SHEXP, K_MATRIX, 2, { D_EMBD, D_FFSH } },
    { "blk.%d.ffn_down_shexp.weight", true, F_MOE | F_SHEXP, K_MATRIX, 2, { D_FFSH, D_EMBD } },
    { "blk.%d.ffn_up_shexp.weight", true, F_MOE | F_SHEXP, K_MATRIX, 2, { D_EMBD, D_FFSH } },
    { "output_norm.weight",        false, 0,            K_NORM,   1, { D_EMBD, D_1 } },
    { "output.weight",             false, F_UNTIED,     K_MATRIX, 2, { D_EMBD, D_VOCAB } },
};

static int64_t dim_value(const hparams *hp, dim d) {
    switch (d) {
    case D_1: return 1;
    case D_EMBD: return hp->n_embd;
    case D_Q: return hp->n_head * hp->head_dim;
    case D_KV: return hp->n_head_kv * hp->head_dim;
    case D_FF: return hp->n_ff;
    case D_HEAD: return hp->head_dim;
    case D_HALF_HEAD: return hp->head_dim / 2;
    case D_VOCAB: return hp->n_vocab;
    case D_QLORA: return hp->q_lora;
    case D_KVA: return hp->kv_lora + hp->qk_rope;
    case D_KVLORA: return hp->kv_lora;
    case D_KVB: return hp->n_head * (hp->qk_nope + hp->v_head);
    case D_NOPE: return hp->qk_nope;
    case D_NHEAD: return hp->n_head;
    case D_VHEAD: return hp->v_head;
    case D_VO: return hp->n_head * hp->v_head;
    case D_NEXP: return hp->n_expert;
    case D_FFEXP: return hp->n_ff_exp;
    case D_FFSH: return hp->n_ff_exp * hp->n_expert_shared;
    }
    return 0;
}

/* ---- deterministic random numbers ---------------------------------------------- */
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* uniform in [-1, 1) from 24 random bits */
static float unif(uint64_t *s) { return (float)(splitmix64(s) >> 40) * (2.0f / 16777216.0f) - 1.0f; }

/* ---- lazy tensor production -------------------------------------------------------- */
typedef struct gen_tensor {
    char     name[96];
    kind     kind;
    r1_type  type;
    int64_t  ne[3];
    int      n_dims;
    size_t   nbytes;
    const hparams *hp;
} gen_tensor;

/* llama3 rope frequency factors (as the converter computes them from rope_scaling
 * {factor 8, low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 8192}). */
static float llama3_factor(const hparams *hp, int64_t i) {
    const double factor = 8, lo = 1, hi = 4, old_ctx = 8192, pi = 3.14159265358979323846;
    double freq = 1.0 / pow(hp->rope_theta, (double)(2 * i) / (double)hp->head_dim);
    double wavelen = 2 * pi / freq;
    if (wavelen < old_ctx / hi) return 1.0f;
    if (wavelen > old_ctx / lo) return (float)factor;
    double smooth = (old_ctx / wavelen - lo) / (hi - lo);
    return (float)(1.0 / ((1 - smooth) / factor + smooth));
}

/* Fills dst (nbytes = the tensor's size in its type) row by row. */
static r1_status produce(void *user, void *dst, size_t nbytes, r1_error *err) {
    const gen_tensor *g = user;
    uint64_t s = g->hp->seed;
    for (const char *c = g->name; *c; c++) s = (s ^ (unsigned char)*c) * 0x100000001b3ull;
    const r1_type_traits *tr = r1_type_get_traits(g->type);
    size_t row_bytes = r1_row_size(g->type, g->ne[0]);
    const int64_t n_rows = g->ne[1] * g->ne[2];
    if (!tr || row_bytes * (size_t)n_rows != nbytes)
        return r1_set_error(err, R1_ERR_INTERNAL, "gen_model: tensor '%s': size mismatch", g->name);
    float *row = malloc((size_t)g->ne[0] * sizeof *row);
    if (!row) return r1_set_error(err, R1_ERR_NOMEM, "gen_model: out of memory");
    const float sd_unif = 1.7320508f; /* uniform [-1,1) has sd 1/sqrt(3) */
    for (int64_t r = 0; r < n_rows; r++) {
        for (int64_t i = 0; i < g->ne[0]; i++) {
            switch (g->kind) {
            case K_MATRIX: case K_BIAS: case K_ROUTER: row[i] = 0.02f * sd_unif * unif(&s); break;
            case K_NORM: row[i] = 1.0f + 0.05f * sd_unif * unif(&s); break;
            case K_ROPE_FREQS: row[i] = llama3_factor(g->hp, i); break;
            }
        }
        uint8_t *out = (uint8_t *)dst + (size_t)r * row_bytes;
        if (g->type == R1_TYPE_F32) memcpy(out, row, row_bytes);
        else if (tr->from_float) tr->from_float(row, out, g->ne[0]);
        else { free(row); return r1_set_error(err, R1_ERR_UNSUPPORTED, "gen_model: cannot produce type %s", tr->name); }
    }
    free(row);
    return R1_OK;
}

/* ---- tokenizer --------------------------------------------------------------------- */
typedef struct vocab {
    char   **tok;      /* n strings (owned) */
    int32_t *type;     /* llama.cpp token types: 1 normal, 3 control, 4 user-defined, 5 unused */
    int64_t  n;
    char   **merges;   /* n_merges strings "a b" (owned) */
    int64_t  n_merges;
    int32_t  bos, eos, pad;
    int      add_bos, add_eos;   /* -1: unknown */
    char    *chat_template;
    const char *pre;   /* inferred pre-tokenizer name (static string) */
} vocab;

static void vocab_free(vocab *v) {
    for (int64_t i = 0; i < v->n; i++) free(v->tok[i]);
    for (int64_t i = 0; i < v->n_merges; i++) free(v->merges[i]);
    free(v->tok); free(v->type); free(v->merges); free(v->chat_template);
}

static char *read_file(const char *path, r1_error *err) {
    FILE *fp = fopen(path, "rb");
    if (!fp) { r1_set_error(err, R1_ERR_IO, "%s: cannot open", path); return NULL; }
    char *buf = NULL;
    size_t n = 0, cap = 0, k;
    do {
        if (cap - n < 65536) {
            char *nb = realloc(buf, cap = cap * 2 + 65536);
            if (!nb) { free(buf); fclose(fp); r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", path); return NULL; }
            buf = nb;
        }
        k = fread(buf + n, 1, cap - n - 1, fp);
        n += k;
    } while (k > 0);
    int bad = ferror(fp);
    fclose(fp);
    if (bad) { free(buf); r1_set_error(err, R1_ERR_IO, "%s: read error", path); return NULL; }
    buf[n] = 0;
    return buf;
}

/* Grows the token table to hold id (new entries are NULL / type 1). */
static r1_status vocab_reserve(vocab *v, int64_t n) {
    if (n <= v->n) return R1_OK;
    char **t = realloc(v->tok, (size_t)n * sizeof *t);
    if (!t) return R1_ERR_NOMEM;
    v->tok = t;
    int32_t *ty = realloc(v->type, (size_t)n * sizeof *ty);
    if (!ty) return R1_ERR_NOMEM;
    v->type = ty;
    for (int64_t i = v->n; i < n; i++) { v->tok[i] = NULL; v->type[i] = 1; }
    v->n = n;
    return R1_OK;
}

static r1_status vocab_set(vocab *v, int64_t id, const char *s, int32_t type) {
    if (vocab_reserve(v, id + 1)) return R1_ERR_NOMEM;
    free(v->tok[id]);
    if (!(v->tok[id] = strdup(s))) return R1_ERR_NOMEM;
    v->type[id] = type;
    return R1_OK;
}

/* llama.cpp's heuristic for added tokens that ought to be control tokens. */
static bool looks_special(const char *s) {
    size_t n = strlen(s);
    if (!strcmp(s, "<pad>") || !strcmp(s, "<mask>") || !strcmp(s, "<2mass>") || !strcmp(s, "[@BOS@]")) return true;
    if (n >= 4 && !strncmp(s, "<|", 2) && !strcmp(s + n - 2, "|>")) return true;
    const char *fl = "<\xef\xbd\x9c", *fr = "\xef\xbd\x9c>";   /* "<｜" and "｜>" */
    if (n >= 8 && !strncmp(s, fl, 4) && !strcmp(s + n - 4, fr)) return true;
    if (n >= 8 && !strncmp(s, "<unused", 7) && s[n - 1] == '>') return true;
    return false;
}

/* id of a token string given as a string or {"content": ...}; -1 if absent. */
static int32_t token_ref(const vocab *v, const cJSON *ref) {
    const cJSON *c = cJSON_IsObject(ref) ? cJSON_GetObjectItemCaseSensitive(ref, "content") : ref;
    if (!cJSON_IsString(c)) return -1;
    for (int64_t i = v->n - 1; i >= 0; i--)
        if (v->tok[i] && !strcmp(v->tok[i], c->valuestring)) return (int32_t)i;
    return -1;
}

/* True if a TemplateProcessing post-processor (possibly in a Sequence) starts "single"
 * with a special token, i.e. the HF tokenizer adds BOS. */
static int post_adds_bos(const cJSON *pp) {
    if (!cJSON_IsObject(pp)) return -1;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(pp, "type");
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "Sequence")) {
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(pp, "processors")) {
            int r = post_adds_bos(e);
            if (r >= 0) return r;
        }
        return -1;
    }
    if (!cJSON_IsString(type) || strcmp(type->valuestring, "TemplateProcessing")) return -1;
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
    const cJSON *first = cJSON_GetArrayItem(single, 0);
    return first && cJSON_GetObjectItemCaseSensitive(first, "SpecialToken") ? 1 : 0;
}

/* Appends the Split regexes of a pre_tokenizer (recursively through Sequences) to buf. */
static void collect_regex(const cJSON *pt, char *buf, size_t cap) {
    if (!cJSON_IsObject(pt)) return;
    const cJSON *rx = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pt, "pattern"), "Regex");
    if (cJSON_IsString(rx) && strlen(buf) + strlen(rx->valuestring) + 2 < cap) {
        strcat(buf, rx->valuestring);
        strcat(buf, "\n");
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers")) collect_regex(e, buf, cap);
}

/* llama.cpp's name for the pre-tokenizer of a tokenizer.json (used when --pre is not
 * given), recognised from its Split regexes: deepseek-v3 (CJK run split), llama-bpe
 * (GPT-4 style with digit groups of 1-3), qwen2 (single digits), deepseek-r1-qwen (the
 * qwen2 regex with DeepSeek's special tokens); "default" otherwise. */
static const char *infer_pre(const cJSON *root, const vocab *v) {
    static const char *contraction = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
    char buf[4096] = "";
    collect_regex(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), buf, sizeof buf);
    if (strstr(buf, "[\xe4\xb8\x80-\xe9\xbe\xa5")) return "deepseek-v3";   /* [一-龥 */
    if (strstr(buf, contraction) && strstr(buf, "\\p{N}{1,3}")) return "llama-bpe";
    if (strstr(buf, contraction) && strstr(buf, "|\\p{N}|")) {
        for (int64_t i = 0; i < v->n; i++)
            if (v->tok[i] && !strcmp(v->tok[i], "<\xef\xbd\x9c" "begin\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>"))
                return "deepseek-r1-qwen";
        return "qwen2";
    }
    return "default";
}

static r1_status load_tokenizer(vocab *v, const char *json_path, const char *cfg_path, r1_error *err) {
    r1_status st = R1_OK;
    char *text = read_file(json_path, err), *cfg_text = NULL;
    if (!text) return err->status;
    cJSON *root = cJSON_Parse(text), *cfg = NULL;
    free(text);
    if (!root) return r1_set_error(err, R1_ERR_FORMAT, "%s: invalid JSON", json_path);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *vmap = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    if (!cJSON_IsString(mtype) || strcmp(mtype->valuestring, "BPE") || !cJSON_IsObject(vmap)) {
        st = r1_set_error(err, R1_ERR_UNSUPPORTED, "%s: only BPE tokenizers with a model.vocab object are supported", json_path);
        goto out;
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, vmap) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= (1 << 24)) {
            st = r1_set_error(err, R1_ERR_FORMAT, "%s: token '%s' has a bad id", json_path, e->string);
            goto out;
        }
        if ((st = vocab_set(v, (int64_t)e->valuedouble, e->string, 1))) goto oom;
    }
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(root, "added_tokens")) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        const cJSON *special = cJSON_GetObjectItemCaseSensitive(e, "special");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= (1 << 24) || !cJSON_IsString(content)) {
            st = r1_set_error(err, R1_ERR_FORMAT, "%s: malformed added_tokens entry", json_path);
            goto out;
        }
        bool ctl = cJSON_IsTrue(special) || looks_special(content->valuestring);
        if ((st = vocab_set(v, (int64_t)id->valuedouble, content->valuestring, ctl ? 3 : 4))) goto oom;
    }
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    int64_t nm = cJSON_GetArraySize(merges);
    v->merges = calloc(nm ? (size_t)nm : 1, sizeof *v->merges);
    if (!v->merges) goto oom;
    cJSON_ArrayForEach(e, merges) {
        const char *a = NULL, *b = NULL;
        char *m;
        if (cJSON_IsString(e)) {
            m = strdup(e->valuestring);
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
            a = cJSON_GetArrayItem(e, 0)->valuestring;
            b = cJSON_GetArrayItem(e, 1)->valuestring;
            m = malloc(strlen(a) + strlen(b) + 2);
            if (m) sprintf(m, "%s %s", a, b);
        } else {
            st = r1_set_error(err, R1_ERR_FORMAT, "%s: merge %lld is neither \"a b\" nor [\"a\", \"b\"]", json_path,
                              (long long)v->n_merges);
            goto out;
        }
        if (!m) goto oom;
        v->merges[v->n_merges++] = m;
    }
    v->add_bos = post_adds_bos(cJSON_GetObjectItemCaseSensitive(root, "post_processor"));
    v->pre = infer_pre(root, v);
    /* tokenizer_config.json: special token ids, add_bos/eos, chat template */
    if (cfg_path) {
        if (!(cfg_text = read_file(cfg_path, err))) { st = err->status; goto out; }
        if (!(cfg = cJSON_Parse(cfg_text))) { st = r1_set_error(err, R1_ERR_FORMAT, "%s: invalid JSON", cfg_path); goto out; }
        v->bos = token_ref(v, cJSON_GetObjectItemCaseSensitive(cfg, "bos_token"));
        v->eos = token_ref(v, cJSON_GetObjectItemCaseSensitive(cfg, "eos_token"));
        v->pad = token_ref(v, cJSON_GetObjectItemCaseSensitive(cfg, "pad_token"));
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
        const cJSON *ae = cJSON_GetObjectItemCaseSensitive(cfg, "add_eos_token");
        if (cJSON_IsBool(ab)) v->add_bos = cJSON_IsTrue(ab);
        if (cJSON_IsBool(ae)) v->add_eos = cJSON_IsTrue(ae);
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
        if (cJSON_IsArray(ct)) {   /* [{name, template}, ...]: take "default" */
            const cJSON *x, *pick = NULL;
            cJSON_ArrayForEach(x, ct) {
                const cJSON *nm2 = cJSON_GetObjectItemCaseSensitive(x, "name");
                if (cJSON_IsString(nm2) && !strcmp(nm2->valuestring, "default")) pick = x;
            }
            ct = pick ? cJSON_GetObjectItemCaseSensitive(pick, "template") : NULL;
        }
        if (cJSON_IsString(ct) && !(v->chat_template = strdup(ct->valuestring))) goto oom;
    }
    goto out;
oom:
    st = r1_set_error(err, R1_ERR_NOMEM, "%s: out of memory", json_path);
out:
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    free(cfg_text);
    return st;
}

/* The 256 GPT-2 byte-level tokens (bytes_to_unicode): printable Latin-1 bytes map to
 * themselves, the others to U+0100 + k in byte order. */
static r1_status byte_vocab(vocab *v) {
    int k = 0;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        unsigned cp = keep ? (unsigned)b : 256u + (unsigned)k++;
        char s[4];
        if (cp < 0x80) { s[0] = (char)cp; s[1] = 0; }
        else { s[0] = (char)(0xc0 | (cp >> 6)); s[1] = (char)(0x80 | (cp & 0x3f)); s[2] = 0; }
        if (vocab_set(v, b, s, 1)) return R1_ERR_NOMEM;
    }
    return R1_OK;
}

/* Fills holes (ids without a token, up to n) with "[PAD<id>]", type unused (5). */
static r1_status vocab_pad(vocab *v, int64_t n) {
    if (vocab_reserve(v, n)) return R1_ERR_NOMEM;
    for (int64_t i = 0; i < v->n; i++) {
        if (v->tok[i]) continue;
        char s[32];
        snprintf(s, sizeof s, "[PAD%lld]", (long long)i);
        if (vocab_set(v, i, s, 5)) return R1_ERR_NOMEM;
    }
    return R1_OK;
}

/* ---- main -------------------------------------------------------------------------- */
/* Writes the model: one file, or with n_split > 1 the parts "<out minus .gguf>-0000k-of-0000N.gguf"
 * as llama.cpp's gguf-split lays them out (part 1 holds all metadata; every part has
 * split.no (u16, 0-based), split.count (u16) and split.tensors.count (i32); tensors are
 * divided into contiguous runs of about n/N). On failure no part is left behind. */
static r1_status write_parts(gguf_writer *w, gen_tensor *gt, size_t n, int n_split, const char *out, r1_error *err) {
    if (n_split <= 1) {
        for (size_t i = 0; i < n; i++) {
            r1_status st = gguf_add_tensor_lazy(w, gt[i].name, gt[i].type, gt[i].n_dims, gt[i].ne, gt[i].nbytes, produce, &gt[i], err);
            if (st) return st;
        }
        return gguf_writer_write(w, out, err);
    }
    size_t len = strlen(out);
    if (len < 5 || strcmp(out + len - 5, ".gguf") || (size_t)n_split > n || n_split > 99999)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "--split %d: the output must end in .gguf and there must be at least as many tensors (%zu)",
                            n_split, n);
    char *path = malloc(len + 32);
    if (!path) return r1_set_error(err, R1_ERR_NOMEM, "out of memory");
    r1_status st = R1_OK;
    int k;
    for (k = 0; k < n_split && !st; k++) {
        gguf_writer *pw = k == 0 ? w : gguf_writer_create();
        if (!pw) { st = r1_set_error(err, R1_ERR_NOMEM, "out of memory"); break; }
        snprintf(path, len + 32, "%.*s-%05d-of-%05d.gguf", (int)(len - 5), out, k + 1, n_split);
        if ((st = gguf_set_u16(pw, "split.no", (uint16_t)k)) || (st = gguf_set_u16(pw, "split.count", (uint16_t)n_split)) ||
            (st = gguf_set_i32(pw, "split.tensors.count", (int32_t)n)))
            r1_set_error(err, st, "out of memory");
        for (size_t i = n * (size_t)k / (size_t)n_split; !st && i < n * (size_t)(k + 1) / (size_t)n_split; i++)
            st = gguf_add_tensor_lazy(pw, gt[i].name, gt[i].type, gt[i].n_dims, gt[i].ne, gt[i].nbytes, produce, &gt[i], err);
        if (!st) st = gguf_writer_write(pw, path, err);
        if (k > 0) gguf_writer_free(pw);
    }
    if (st) {   /* remove the parts already written */
        for (int j = 0; j < k; j++) {
            snprintf(path, len + 32, "%.*s-%05d-of-%05d.gguf", (int)(len - 5), out, j + 1, n_split);
            unlink(path);
        }
    }
    free(path);
    return st;
}

static void usage(void) {
    fprintf(stderr,
            "usage: gen_model --arch llama|qwen2|qwen3|deepseek2 [--preset r1-distill-qwen-1.5b|tiny|v2-lite|v2-tiny|v3-tiny]\n"
            "        [--layers N --embd N --heads N --kv-heads N --ff N --head-dim N --ctx N --vocab N\n"
            "         --rope-theta F --eps F --tied --llama3-rope] [--tokenizer tokenizer.json\n"
            "        [--tokenizer-config tokenizer_config.json]] [--pre NAME] [--name NAME]\n"
            "        [--type f32|f16|bf16|q8_0] [--seed S] [--vocab-only] [--split N] -o out.gguf\n"
            "  deepseek2: [--q-lora N --kv-lora N --qk-nope N --qk-rope N --v-head N --experts N --experts-used N\n"
            "         --experts-shared N --ff-exp N --dense-layers N --groups N --groups-used N\n"
            "         --gating softmax|sigmoid|N --expert-scale F --expert-norm 0|1 --kv-layout kv_b|split\n"
            "         --yarn-factor F --yarn-orig-ctx N --yarn-log-mul F]\n");
}

static int file_type_of(r1_type t) {   /* llama_ftype values */
    switch (t) {
    case R1_TYPE_F32: return 0;
    case R1_TYPE_F16: return 1;
    case R1_TYPE_Q8_0: return 7;
    case R1_TYPE_BF16: return 32;
    default: return 0;
    }
}

static bool parse_i64(const char *s, int64_t *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < 0) return false;
    *out = v;
    return true;
}

/* ---- deepseek2 ------------------------------------------------------------------------ */
/* Parses one deepseek2 option into ds (fields left negative when not given). Returns 1 if
 * consumed, 0 if a is not a deepseek2 option, -1 on a bad value. */
static int ds2_option(const char *a, const char *v, hparams *ds) {
    static const struct { const char *flag; size_t off; } ints[] = {
        {"--q-lora", offsetof(hparams, q_lora)}, {"--kv-lora", offsetof(hparams, kv_lora)},
        {"--qk-nope", offsetof(hparams, qk_nope)}, {"--qk-rope", offsetof(hparams, qk_rope)},
        {"--v-head", offsetof(hparams, v_head)}, {"--experts", offsetof(hparams, n_expert)},
        {"--experts-used", offsetof(hparams, n_expert_used)}, {"--experts-shared", offsetof(hparams, n_expert_shared)},
        {"--ff-exp", offsetof(hparams, n_ff_exp)}, {"--dense-layers", offsetof(hparams, n_dense_lead)},
        {"--groups", offsetof(hparams, n_group)}, {"--groups-used", offsetof(hparams, n_group_used)},
        {"--yarn-orig-ctx", offsetof(hparams, yarn_orig_ctx)}, {"--expert-norm", offsetof(hparams, expert_norm)},
    };
    static const struct { const char *flag; size_t off; } floats[] = {
        {"--expert-scale", offsetof(hparams, expert_scale)}, {"--yarn-factor", offsetof(hparams, yarn_factor)},
        {"--yarn-log-mul", offsetof(hparams, yarn_log_mul)},
    };
    for (size_t i = 0; i < R1_ARRAY_LEN(ints); i++)
        if (!strcmp(a, ints[i].flag)) return parse_i64(v, (int64_t *)((char *)ds + ints[i].off)) ? 1 : -1;
    for (size_t i = 0; i < R1_ARRAY_LEN(floats); i++)
        if (!strcmp(a, floats[i].flag)) {
            char *end;
            float f = strtof(v, &end);
            if (!*v || *end || f < 0) return -1;
            *(float *)((char *)ds + floats[i].off) = f;
            return 1;
        }
    if (!strcmp(a, "--gating")) {   /* GGUF expert_gating_func: 1 softmax, 2 sigmoid (others: bad files) */
        if (!strcmp(v, "softmax")) ds->gating = 1;
        else if (!strcmp(v, "sigmoid")) ds->gating = 2;
        else return parse_i64(v, &ds->gating) ? 1 : -1;
        return 1;
    }
    return 0;
}

/* deepseek2 presets: DeepSeek-V2-Lite's real shapes, and small V2-Lite-like / V3-like models. */
static bool ds2_preset(const char *name, hparams *hp) {
    const hparams given = *hp;   /* --type, --seed, --name, --arch given before the preset is applied */
    if (!strcmp(name, "v2-lite")) {
        *hp = (hparams){ .arch = "deepseek2", .name = "DeepSeek-V2-Lite shapes (random weights)", .n_layer = 27,
                         .n_embd = 2048, .n_head = 16, .n_ff = 10944, .n_ctx = 163840, .n_vocab = 102400,
                         .q_lora = 0, .kv_lora = 512, .qk_nope = 128, .qk_rope = 64, .v_head = 128,
                         .n_expert = 64, .n_expert_used = 6, .n_expert_shared = 2, .n_ff_exp = 1408, .n_dense_lead = 1,
                         .n_group = 1, .n_group_used = 1, .gating = 1, .expert_scale = 1.0f, .expert_norm = 0,
                         .yarn_factor = 40.0f, .yarn_orig_ctx = 4096, .yarn_log_mul = 0.0707f };
    } else if (!strcmp(name, "v2-tiny")) {   /* V2-Lite's structure at test size */
        *hp = (hparams){ .arch = "deepseek2", .name = "V2-Lite-like tiny (random weights)", .n_layer = 3,
                         .n_embd = 64, .n_head = 4, .n_ff = 96, .n_ctx = 512, .q_lora = 0, .kv_lora = 32, .qk_nope = 16,
                         .qk_rope = 8, .v_head = 16, .n_expert = 8, .n_expert_used = 3, .n_expert_shared = 2,
                         .n_ff_exp = 32, .n_dense_lead = 1, .n_group = 1, .n_group_used = 1, .gating = 1,
                         .expert_scale = 1.0f, .expert_norm = 0, .yarn_factor = 4.0f, .yarn_orig_ctx = 16,
                         .yarn_log_mul = 0.0707f };
    } else if (!strcmp(name, "v3-tiny")) {   /* V3's structure at test size: q-lora, sigmoid + bias, groups */
        *hp = (hparams){ .arch = "deepseek2", .name = "V3-like tiny (random weights)", .n_layer = 3, .n_embd = 64,
                         .n_head = 4, .n_ff = 96, .n_ctx = 512, .q_lora = 32, .kv_lora = 32, .qk_nope = 16, .qk_rope = 8,
                         .v_head = 16, .n_expert = 16, .n_expert_used = 4, .n_expert_shared = 1, .n_ff_exp = 32,
                         .n_dense_lead = 1, .n_group = 4, .n_group_used = 2, .gating = 2, .expert_scale = 2.5f,
                         .expert_norm = 1, .yarn_factor = 4.0f, .yarn_orig_ctx = 16, .yarn_log_mul = 0.1f };
    } else {
        return false;
    }
    hp->n_head_kv = hp->n_head;
    hp->rope_theta = 10000.0f;
    hp->eps = 1e-6f;
    hp->type = given.type;
    hp->seed = given.seed;
    if (given.name) hp->name = given.name;
    return true;
}

/* deepseek2 metadata (llama.cpp's keys). Split-layout files carry key/value_length of the
 * latent (kv_lora + rope, kv_lora) plus *_mla per-head widths, as the newer converter writes. */
static r1_status ds2_meta(gguf_writer *w, const hparams *hp) {
    char key[128];
    r1_status st = R1_OK;
#define KEY(suffix) (snprintf(key, sizeof key, "deepseek2.%s", suffix), key)
#define U32(suffix, v) (st = st ? st : gguf_set_u32(w, KEY(suffix), (uint32_t)(v)))
    if (hp->kv_split) {
        U32("attention.key_length", hp->kv_lora + hp->qk_rope);
        U32("attention.value_length", hp->kv_lora);
        U32("attention.key_length_mla", hp->qk_nope + hp->qk_rope);
        U32("attention.value_length_mla", hp->v_head);
    } else {
        U32("attention.key_length", hp->qk_nope + hp->qk_rope);
        U32("attention.value_length", hp->v_head);
    }
    U32("rope.dimension_count", hp->qk_rope);
    if (hp->q_lora > 0) U32("attention.q_lora_rank", hp->q_lora);
    U32("attention.kv_lora_rank", hp->kv_lora);
    U32("leading_dense_block_count", hp->n_dense_lead);
    U32("expert_feed_forward_length", hp->n_ff_exp);
    U32("expert_count", hp->n_expert);
    U32("expert_used_count", hp->n_expert_used);
    U32("expert_shared_count", hp->n_expert_shared);
    U32("expert_gating_func", hp->gating);
    U32("expert_group_count", hp->n_group);
    U32("expert_group_used_count", hp->n_group_used);
    st = st ? st : gguf_set_f32(w, KEY("expert_weights_scale"), hp->expert_scale);
    st = st ? st : gguf_set_bool(w, KEY("expert_weights_norm"), hp->expert_norm != 0);
    if (hp->yarn_factor > 1.0f) {
        st = st ? st : gguf_set_str(w, KEY("rope.scaling.type"), "yarn");
        st = st ? st : gguf_set_f32(w, KEY("rope.scaling.factor"), hp->yarn_factor);
        U32("rope.scaling.original_context_length", hp->yarn_orig_ctx);
        st = st ? st : gguf_set_f32(w, KEY("rope.scaling.yarn_log_multiplier"), hp->yarn_log_mul);
    }
#undef U32
#undef KEY
    return st;
}

int main(int argc, char **argv) {
    hparams hp = { .arch = NULL, .n_layer = 2, .n_embd = 64, .n_head = 4, .n_head_kv = 2, .n_ff = 128,
                   .n_ctx = 4096, .rope_theta = 10000.0f, .eps = 1e-6f, .type = R1_TYPE_F32, .seed = 42 };
    const char *out = NULL, *tok_path = NULL, *cfg_path = NULL, *pre = NULL, *preset = NULL;
    bool vocab_only = false;
    int n_split = 1;
    int64_t set_layers = -1, set_embd = -1, set_heads = -1, set_kv = -1, set_ff = -1, set_hd = -1, set_ctx = -1, set_vocab = -1;
    float set_theta = -1, set_eps = -1;
    bool set_tied = false;
    /* deepseek2 options, applied over the preset: negative = not given */
    hparams ds = { .q_lora = -1, .kv_lora = -1, .qk_nope = -1, .qk_rope = -1, .v_head = -1, .n_expert = -1,
                   .n_expert_used = -1, .n_expert_shared = -1, .n_ff_exp = -1, .n_dense_lead = -1, .n_group = -1,
                   .n_group_used = -1, .gating = -1, .expert_scale = -1, .yarn_factor = -1, .yarn_log_mul = -1,
                   .yarn_orig_ctx = -1, .expert_norm = -1 };
    int kv_split = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t *iv = NULL;
        if (!strcmp(a, "--tied")) { set_tied = true; continue; }
        if (!strcmp(a, "--llama3-rope")) { hp.llama3_rope = true; continue; }
        if (!strcmp(a, "--vocab-only")) { vocab_only = true; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(); return 0; }
        if (!v) { fprintf(stderr, "gen_model: option %s needs a value\n", a); usage(); return 2; }
        i++;
        int dso = ds2_option(a, v, &ds);
        if (dso < 0) { fprintf(stderr, "gen_model: %s %s: bad value\n", a, v); return 2; }
        if (dso > 0) continue;
        if (!strcmp(a, "--kv-layout")) {
            if (strcmp(v, "kv_b") && strcmp(v, "split")) { fprintf(stderr, "gen_model: --kv-layout kv_b|split\n"); return 2; }
            kv_split = !strcmp(v, "split");
            continue;
        }
        if (!strcmp(a, "--arch")) hp.arch = v;
        else if (!strcmp(a, "--preset")) preset = v;
        else if (!strcmp(a, "-o")) out = v;
        else if (!strcmp(a, "--tokenizer")) tok_path = v;
        else if (!strcmp(a, "--tokenizer-config")) cfg_path = v;
        else if (!strcmp(a, "--pre")) pre = v;
        else if (!strcmp(a, "--name")) hp.name = v;
        else if (!strcmp(a, "--layers")) iv = &set_layers;
        else if (!strcmp(a, "--embd")) iv = &set_embd;
        else if (!strcmp(a, "--heads")) iv = &set_heads;
        else if (!strcmp(a, "--kv-heads")) iv = &set_kv;
        else if (!strcmp(a, "--ff")) iv = &set_ff;
        else if (!strcmp(a, "--head-dim")) iv = &set_hd;
        else if (!strcmp(a, "--ctx")) iv = &set_ctx;
        else if (!strcmp(a, "--vocab")) iv = &set_vocab;
        else if (!strcmp(a, "--rope-theta")) set_theta = strtof(v, NULL);
        else if (!strcmp(a, "--eps")) set_eps = strtof(v, NULL);
        else if (!strcmp(a, "--seed")) hp.seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--split")) {
            n_split = atoi(v);
            if (n_split < 1) { fprintf(stderr, "gen_model: --split %s: expected a count >= 1\n", v); return 2; }
        }
        else if (!strcmp(a, "--type")) {
            if (!strcmp(v, "f32")) hp.type = R1_TYPE_F32;
            else if (!strcmp(v, "f16")) hp.type = R1_TYPE_F16;
            else if (!strcmp(v, "bf16")) hp.type = R1_TYPE_BF16;
            else if (!strcmp(v, "q8_0")) hp.type = R1_TYPE_Q8_0;
            else { fprintf(stderr, "gen_model: --type %s: expected f32, f16, bf16 or q8_0\n", v); return 2; }
        } else { fprintf(stderr, "gen_model: unknown option %s\n", a); usage(); return 2; }
        if (iv && !parse_i64(v, iv)) { fprintf(stderr, "gen_model: %s %s: expected a non-negative integer\n", a, v); return 2; }
    }
    if (preset && !strcmp(preset, "r1-distill-qwen-1.5b")) {
        if (!hp.arch) hp.arch = "qwen2";
        hp.n_layer = 28; hp.n_embd = 1536; hp.n_head = 12; hp.n_head_kv = 2; hp.n_ff = 8960;
        hp.n_ctx = 131072; hp.rope_theta = 10000.0f; hp.eps = 1e-6f; hp.n_vocab = 151936;
        if (!hp.name) hp.name = "DeepSeek R1 Distill Qwen 1.5B (random weights)";
    } else if (preset && !strcmp(preset, "tiny")) {
        hp.n_layer = 2; hp.n_embd = 64; hp.n_head = 4; hp.n_head_kv = 2; hp.n_ff = 128;
    } else if (preset && ds2_preset(preset, &hp)) {
        /* deepseek2 preset: every field set */
    } else if (preset) { fprintf(stderr, "gen_model: unknown preset '%s'\n", preset); return 2; }
    {   /* deepseek2 options given on the command line win over the preset */
#define TAKE(f) if (ds.f >= 0) hp.f = ds.f
        TAKE(q_lora); TAKE(kv_lora); TAKE(qk_nope); TAKE(qk_rope); TAKE(v_head); TAKE(n_expert);
        TAKE(n_expert_used); TAKE(n_expert_shared); TAKE(n_ff_exp); TAKE(n_dense_lead); TAKE(n_group);
        TAKE(n_group_used); TAKE(gating); TAKE(yarn_orig_ctx); TAKE(expert_norm);
#undef TAKE
        if (ds.expert_scale >= 0) hp.expert_scale = ds.expert_scale;
        if (ds.yarn_factor >= 0) hp.yarn_factor = ds.yarn_factor;
        if (ds.yarn_log_mul >= 0) hp.yarn_log_mul = ds.yarn_log_mul;
        if (kv_split >= 0) hp.kv_split = kv_split;
    }
    if (set_layers >= 0) hp.n_layer = set_layers;
    if (set_embd >= 0) hp.n_embd = set_embd;
    if (set_heads >= 0) hp.n_head = set_heads;
    if (set_kv >= 0) hp.n_head_kv = set_kv;
    if (set_ff >= 0) hp.n_ff = set_ff;
    if (set_ctx >= 0) hp.n_ctx = set_ctx;
    if (set_vocab >= 0) hp.n_vocab = set_vocab;
    if (set_theta > 0) hp.rope_theta = set_theta;
    if (set_eps > 0) hp.eps = set_eps;
    hp.tied = set_tied;
    if (!hp.arch || !out) { usage(); return 2; }
    const arch_desc *arch = NULL;
    for (size_t i = 0; i < R1_ARRAY_LEN(ARCHS); i++) if (!strcmp(ARCHS[i].name, hp.arch)) arch = &ARCHS[i];
    if (!arch) { fprintf(stderr, "gen_model: unknown --arch '%s' (llama, qwen2, qwen3, deepseek2)\n", hp.arch); return 2; }
    if (arch->features & F_MLA) {   /* split-layout files describe MLA as MQA: one kv head (converter) */
        hp.n_head_kv = hp.kv_split ? 1 : hp.n_head;
        if (hp.kv_lora < 1 || hp.qk_nope < 1 || hp.qk_rope < 2 || hp.v_head < 1 || hp.n_expert < 1 || hp.n_ff_exp < 1) {
            fprintf(stderr, "gen_model: deepseek2 needs --kv-lora, --qk-nope, --qk-rope, --v-head, --experts, --ff-exp "
                            "(or a preset: v2-lite, v2-tiny, v3-tiny)\n");
            return 2;
        }
    }
    if (hp.n_layer < 1 || hp.n_embd < 1 || hp.n_head < 1 || hp.n_head_kv < 1 || hp.n_ff < 1 || hp.n_ctx < 1 ||
        hp.n_head % hp.n_head_kv) {
        fprintf(stderr, "gen_model: sizes must be >= 1 and heads a multiple of kv-heads\n");
        return 2;
    }
    if (arch->features & F_MLA) hp.head_dim = hp.qk_nope + hp.qk_rope;
    else if (set_hd > 0) hp.head_dim = set_hd;
    else if (hp.n_embd % hp.n_head == 0) hp.head_dim = hp.n_embd / hp.n_head;
    else { fprintf(stderr, "gen_model: --embd %lld is not a multiple of --heads %lld (give --head-dim)\n",
                   (long long)hp.n_embd, (long long)hp.n_head); return 2; }
    if (hp.head_dim % 2) { fprintf(stderr, "gen_model: head dim %lld must be even (RoPE)\n", (long long)hp.head_dim); return 2; }
    if (!hp.name) hp.name = "r1 test model (random weights)";

    r1_error err = {0};
    vocab voc = { .bos = -1, .eos = -1, .pad = -1, .add_bos = -1, .add_eos = -1 };
    r1_status st = tok_path ? load_tokenizer(&voc, tok_path, cfg_path, &err) : byte_vocab(&voc);
    if (st == R1_OK && (st = vocab_pad(&voc, R1_MAX(voc.n, hp.n_vocab))) != R1_OK) r1_set_error(&err, st, "out of memory");
    if (st) { fprintf(stderr, "gen_model: %s\n", err.msg); vocab_free(&voc); return 1; }
    hp.n_vocab = voc.n;

    unsigned feats = arch->features | (hp.tied ? 0 : F_UNTIED) | (hp.llama3_rope ? F_ROPE_FREQS : 0);
    if (arch->features & F_MLA)
        feats |= (hp.q_lora > 0 ? F_Q_LORA : F_Q_PLAIN) | (hp.kv_split ? F_KV_SPLIT : F_KV_B) |
                 (hp.n_expert_shared > 0 ? F_SHEXP : 0) | (hp.gating == 2 ? F_EXP_BIAS : 0);
    gguf_writer *w = gguf_writer_create();
    gen_tensor *gt = NULL;
    char key[128];
    if (!w) { fprintf(stderr, "gen_model: out of memory\n"); vocab_free(&voc); return 1; }
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", hp.arch, suffix), key)
    st = gguf_set_str(w, "general.architecture", hp.arch);
    st = st ? st : gguf_set_str(w, "general.name", hp.name);
    st = st ? st : gguf_set_u32(w, "general.alignment", 32);
    st = st ? st : gguf_set_u32(w, "general.file_type", (uint32_t)file_type_of(hp.type));
    st = st ? st : gguf_set_u32(w, KEY("context_length"), (uint32_t)hp.n_ctx);
    st = st ? st : gguf_set_u32(w, KEY("embedding_length"), (uint32_t)hp.n_embd);
    st = st ? st : gguf_set_u32(w, KEY("block_count"), (uint32_t)hp.n_layer);
    st = st ? st : gguf_set_u32(w, KEY("feed_forward_length"), (uint32_t)hp.n_ff);
    st = st ? st : gguf_set_u32(w, KEY("attention.head_count"), (uint32_t)hp.n_head);
    st = st ? st : gguf_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)hp.n_head_kv);
    st = st ? st : gguf_set_f32(w, KEY("rope.freq_base"), hp.rope_theta);
    st = st ? st : gguf_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), hp.eps);
    if (!st && ((arch->features & F_KV_LEN) || hp.head_dim * hp.n_head != hp.n_embd)) {
        st = gguf_set_u32(w, KEY("attention.key_length"), (uint32_t)hp.head_dim);
        st = st ? st : gguf_set_u32(w, KEY("attention.value_length"), (uint32_t)hp.head_dim);
    }
    if (!st && (arch->features & F_ROPE_DIM)) {
        st = gguf_set_u32(w, KEY("vocab_size"), (uint32_t)hp.n_vocab);
        st = st ? st : gguf_set_u32(w, KEY("rope.dimension_count"), (uint32_t)hp.head_dim);
    }
#undef KEY
    if (!st && (arch->features & F_MLA)) st = ds2_meta(w, &hp);
    st = st ? st : gguf_set_str(w, "tokenizer.ggml.model", "gpt2");
    st = st ? st : gguf_set_str(w, "tokenizer.ggml.pre", pre ? pre : voc.pre ? voc.pre : "default");
    st = st ? st : gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)voc.tok, (uint64_t)voc.n);
    st = st ? st : gguf_set_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, voc.type, (uint64_t)voc.n);
    st = st ? st : gguf_set_arr_str(w, "tokenizer.ggml.merges", (const char *const *)voc.merges, (uint64_t)voc.n_merges);
    if (!st && voc.bos >= 0) st = gguf_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)voc.bos);
    if (!st && voc.eos >= 0) st = gguf_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)voc.eos);
    if (!st && voc.pad >= 0) st = gguf_set_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)voc.pad);
    if (!st && voc.add_bos >= 0) st = gguf_set_bool(w, "tokenizer.ggml.add_bos_token", voc.add_bos);
    if (!st && voc.add_eos >= 0) st = gguf_set_bool(w, "tokenizer.ggml.add_eos_token", voc.add_eos);
    if (!st && voc.chat_template) st = gguf_set_str(w, "tokenizer.chat_template", voc.chat_template);
    if (st) r1_set_error(&err, st, "out of memory");

    /* tensors from the table, in the converter's order: leading globals (table rows
     * before the first per-layer row), then layer by layer, then trailing globals */
    size_t n_gt = 0, cap_gt = R1_ARRAY_LEN(TENSORS) * (size_t)(hp.n_layer + 2);
    if (!st && !vocab_only && !(gt = calloc(cap_gt, sizeof *gt))) st = r1_set_error(&err, R1_ERR_NOMEM, "out of memory");
    for (int64_t l = -1; !st && !vocab_only && l <= hp.n_layer; l++) {
        bool seen_layer = false;
        for (size_t d = 0; !st && d < R1_ARRAY_LEN(TENSORS); d++) {
            const tensor_desc *td = &TENSORS[d];
            seen_layer |= td->per_layer;
            bool want = l < 0 ? !td->per_layer && !seen_layer : l == hp.n_layer ? !td->per_layer && seen_layer
                                                                                : td->per_layer;
            /* per layer: a dense FFN, or routed experts (deepseek2 after its leading dense layers) */
            unsigned lf = feats;
            if (td->per_layer) lf |= (arch->features & F_MLA) && l >= hp.n_dense_lead ? F_MOE : F_DENSE;
            if (!want || (td->requires & lf) != td->requires) continue;
            gen_tensor *g = &gt[n_gt++];
            snprintf(g->name, sizeof g->name, td->name, (int)l);
            g->kind = td->kind;
            g->type = td->n_dims >= 2 && td->kind != K_ROUTER ? hp.type : R1_TYPE_F32;
            g->ne[0] = dim_value(&hp, td->ne[0]);
            g->ne[1] = dim_value(&hp, td->ne[1]);
            g->ne[2] = dim_value(&hp, td->ne[2]);
            g->hp = &hp;
            size_t row = r1_row_size(g->type, g->ne[0]);
            if (!row) {
                st = r1_set_error(&err, R1_ERR_INVALID_ARG, "tensor '%s': row length %lld is not a multiple of the %s block size",
                                  g->name, (long long)g->ne[0], r1_type_name(g->type));
                break;
            }
            g->n_dims = td->n_dims;
            g->nbytes = row * (size_t)(g->ne[1] * g->ne[2]);
        }
    }
    if (!st) st = write_parts(w, gt, n_gt, n_split, out, &err);
    if (st) fprintf(stderr, "gen_model: %s\n", err.msg);
    gguf_writer_free(w);
    free(gt);
    vocab_free(&voc);
    return st ? 1 : 0;
}
