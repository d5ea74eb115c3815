/*
 * quant_mix.c — file types and llama.cpp's per-tensor quantization mixture rules
 * (contract in quantize.h). The rules reproduce current llama.cpp's llama_tensor_get_type
 * (tensor categories: attn_v, attn_qkv and attn_kv_b share the "attn_v" rules) for the
 * file types r1 produces; the IQ1/IQ2/IQ3 and Falcon-specific branches are absent because
 * r1 does not produce those types or run that architecture.
 */
#include "quantize.h"
#include <stdio.h>
#include <strings.h>

static const struct { r1_ftype f; const char *name; r1_type type; } k_ftypes[] = {
    {R1_FTYPE_Q8_0, "Q8_0", R1_TYPE_Q8_0},       {R1_FTYPE_Q4_0, "Q4_0", R1_TYPE_Q4_0},
    {R1_FTYPE_Q4_1, "Q4_1", R1_TYPE_Q4_1},       {R1_FTYPE_Q5_0, "Q5_0", R1_TYPE_Q5_0},
    {R1_FTYPE_Q5_1, "Q5_1", R1_TYPE_Q5_1},       {R1_FTYPE_Q2_K, "Q2_K", R1_TYPE_Q2_K},
    {R1_FTYPE_Q3_K_M, "Q3_K_M", R1_TYPE_Q3_K},   {R1_FTYPE_Q4_K_M, "Q4_K_M", R1_TYPE_Q4_K},
    {R1_FTYPE_Q4_K_S, "Q4_K_S", R1_TYPE_Q4_K},   {R1_FTYPE_Q5_K_M, "Q5_K_M", R1_TYPE_Q5_K},
    {R1_FTYPE_Q5_K_S, "Q5_K_S", R1_TYPE_Q5_K},   {R1_FTYPE_Q6_K, "Q6_K", R1_TYPE_Q6_K},
    {R1_FTYPE_IQ4_NL, "IQ4_NL", R1_TYPE_IQ4_NL}, {R1_FTYPE_IQ4_XS, "IQ4_XS", R1_TYPE_IQ4_XS},
    {R1_FTYPE_F16, "F16", R1_TYPE_F16},          {R1_FTYPE_BF16, "BF16", R1_TYPE_BF16},
    {R1_FTYPE_ALL_F32, "F32", R1_TYPE_F32},
};

bool r1_ftype_from_name(const char *name, r1_ftype *out) {
    for (size_t i = 0; i < R1_ARRAY_LEN(k_ftypes); i++)
        if (!strcasecmp(name, k_ftypes[i].name)) { *out = k_ftypes[i].f; return true; }
    return false;
}
const char *r1_ftype_name(r1_ftype f) {
    for (size_t i = 0; i < R1_ARRAY_LEN(k_ftypes); i++)
        if (k_ftypes[i].f == f) return k_ftypes[i].name;
    return "?";
}
const char *r1_ftype_valid_names(void) {
    return "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_M, Q4_K_M, Q4_K_S, Q5_K_M, Q5_K_S, Q6_K, "
           "IQ4_NL, IQ4_XS, F16, BF16, F32";
}
r1_type r1_ftype_default_type(r1_ftype f) {
    for (size_t i = 0; i < R1_ARRAY_LEN(k_ftypes); i++)
        if (k_ftypes[i].f == f) return k_ftypes[i].type;
    return R1_TYPE_COUNT_;
}

static bool has(const char *s, const char *sub) { return strstr(s, sub) != NULL; }
static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

bool r1_qmix_should_quantize(const char *name, int n_dims) {
    if (!ends_with(name, "weight") || n_dims < 2) return false;
    if (has(name, "_norm.weight") || has(name, "ffn_gate_inp.weight")) return false;
    if (!strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight")) return false;
    return true;
}

/* llama.cpp's "more bits" layers: the first and last eighth, and every third between. */
static bool use_more_bits(int i_layer, int n_layer) {
    return i_layer < n_layer / 8 || i_layer >= 7 * n_layer / 8 || (i_layer - n_layer / 8) % 3 == 2;
}

r1_status r1_qmix_tensor_type(r1_ftype f, const r1_qmix_model *m, r1_qmix_state *st, const char *name,
                              int64_t ne0, r1_type *out, r1_error *err) {
    r1_type t = r1_ftype_default_type(f);
    if (t == R1_TYPE_COUNT_) return r1_set_error(err, R1_ERR_INVALID_ARG, "unknown file type %d", (int)f);
    const r1_type_traits *tr = r1_type_get_traits(t);
    if (!tr->is_quantized) { *out = t; return R1_OK; }
    const int n_expert = m->n_expert > 1 ? m->n_expert : 1;

    if (!strcmp(name, "output.weight") || (!m->has_output && !strcmp(name, "token_embd.weight"))) {
        if (ne0 % tr->blck_size != 0) t = R1_TYPE_Q8_0;
        else if (t != R1_TYPE_Q8_0) t = R1_TYPE_Q6_K;
    } else if (!strcmp(name, "token_embd.weight")) {
        /* kept at the file's default type for the types r1 produces */
    } else if (has(name, "attn_qkv.weight") || has(name, "attn_kv_b.weight") || has(name, "attn_v.weight")) {
        /* current llama.cpp treats attn_qkv and MLA's attn_kv_b like attn_v */
        if (f == R1_FTYPE_Q2_K) t = m->n_gqa >= 4 ? R1_TYPE_Q4_K : R1_TYPE_Q3_K;
        else if (f == R1_FTYPE_Q3_K_M) t = st->i_attention_wv < 2 ? R1_TYPE_Q5_K : R1_TYPE_Q4_K;
        else if (f == R1_FTYPE_Q3_K_L) t = R1_TYPE_Q5_K;
        else if ((f == R1_FTYPE_IQ4_NL || f == R1_FTYPE_IQ4_XS) && m->n_gqa >= 4) t = R1_TYPE_Q5_K;
        else if ((f == R1_FTYPE_Q4_K_M || f == R1_FTYPE_Q5_K_M) && use_more_bits(st->i_attention_wv, m->n_attention_wv))
            t = R1_TYPE_Q6_K;
        else if (f == R1_FTYPE_Q4_K_S && st->i_attention_wv < 4) t = R1_TYPE_Q5_K;
        if (m->llama_70b && (t == R1_TYPE_Q3_K || t == R1_TYPE_Q4_K)) t = R1_TYPE_Q5_K;
        if (m->n_expert == 8) t = R1_TYPE_Q8_0;
        st->i_attention_wv++;
    } else if (has(name, "attn_k.weight")) {
        if (m->n_expert == 8) t = R1_TYPE_Q8_0;
    } else if (has(name, "ffn_down")) {
        int i_layer = st->i_ffn_down, n_layer = m->n_layer;
        if (n_expert > 1) {   /* expert tensors are not consecutive: take the layer from the name */
            if (sscanf(name, "blk.%d.", &i_layer) != 1 || i_layer < 0 || i_layer >= n_layer)
                return r1_set_error(err, R1_ERR_FORMAT, "%s: cannot determine its layer (n_layer %d)", name, n_layer);
        }
        if (f == R1_FTYPE_Q2_K) t = R1_TYPE_Q3_K;
        else if (f == R1_FTYPE_Q3_K_M)
            t = i_layer < n_layer / 16 ? R1_TYPE_Q5_K : R1_TYPE_Q4_K;  /* non-Falcon: Q4_K */
        else if (f == R1_FTYPE_Q3_K_L) t = R1_TYPE_Q5_K;
        else if (f == R1_FTYPE_Q4_K_M) { if (use_more_bits(i_layer, n_layer)) t = R1_TYPE_Q6_K; }
        else if (i_layer < n_layer / 8 && (f == R1_FTYPE_IQ4_NL || f == R1_FTYPE_IQ4_XS)) t = R1_TYPE_Q5_K;
        else if (f == R1_FTYPE_Q5_K_M && use_more_bits(i_layer, n_layer)) t = R1_TYPE_Q6_K;
        else if (f == R1_FTYPE_Q4_K_S && i_layer < n_layer / 8) t = R1_TYPE_Q5_K;
        st->i_ffn_down++;
    } else if (has(name, "attn_output.weight")) {
        if (m->n_expert == 8) {
            if (f == R1_FTYPE_Q2_K || f == R1_FTYPE_Q3_K_S || f == R1_FTYPE_Q3_K_M || f == R1_FTYPE_IQ4_NL ||
                f == R1_FTYPE_Q4_K_S || f == R1_FTYPE_Q4_K_M || f == R1_FTYPE_IQ4_XS)
                t = R1_TYPE_Q5_K;
        } else {
            if (f == R1_FTYPE_Q2_K) t = R1_TYPE_Q3_K;
            else if (f == R1_FTYPE_Q3_K_M) t = R1_TYPE_Q4_K;
            else if (f == R1_FTYPE_Q3_K_L) t = R1_TYPE_Q5_K;
        }
    }

    /* Row length not a multiple of the block: llama.cpp's fallbacks. */
    if (ne0 % r1_type_get_traits(t)->blck_size != 0) {
        r1_type fb;
        switch (t) {
        case R1_TYPE_IQ4_XS: fb = R1_TYPE_IQ4_NL; break;
        case R1_TYPE_Q2_K: case R1_TYPE_Q3_K: fb = R1_TYPE_Q4_0; break;   /* current llama.cpp */
        case R1_TYPE_Q4_K: fb = R1_TYPE_Q5_0; break;
        case R1_TYPE_Q5_K: fb = R1_TYPE_Q5_1; break;
        case R1_TYPE_Q6_K: fb = R1_TYPE_Q8_0; break;
        default:
            return r1_set_error(err, R1_ERR_INVALID_ARG,
                                "%s: row length %lld is not a multiple of %s's block size %d; use a k-quant "
                                "file type (they fall back per tensor)",
                                name, (long long)ne0, r1_type_name(t), r1_type_get_traits(t)->blck_size);
        }
        if (ne0 % r1_type_get_traits(fb)->blck_size != 0) fb = R1_TYPE_F16;
        t = fb;
        st->n_fallback++;
    }
    *out = t;
    return R1_OK;
}
