/*
 * test_quant_mix.c — file-type names and llama.cpp's per-tensor mixture rules
 * (src/quant_mix.c) on a synthetic 32-layer dense model and a DeepSeek-style MoE.
 * Expected counts follow llama_tensor_get_type: use_more_bits(i, 32) is true for 16 of
 * 32 layers (i < 4, i >= 28, (i-4) % 3 == 2).
 */
#include "quantize.h"
#include "test.h"
#include <stdlib.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Decides all 2-D tensors of a 32-layer llama-like model under f; counts types. */
static void plan_dense(r1_ftype f, int counts[R1_TYPE_COUNT_], r1_type *out_type, r1_type *embd_type) {
    static const char *parts[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
    char *names[32 * 7 + 2];
    int n = 0;
    for (int l = 0; l < 32; l++)
        for (int k = 0; k < 7; k++) {
            names[n] = malloc(64);
            snprintf(names[n++], 64, "blk.%d.%s.weight", l, parts[k]);
        }
    names[n++] = strdup("output.weight");
    names[n++] = strdup("token_embd.weight");
    qsort(names, (size_t)n, sizeof names[0], cmp);
    r1_qmix_model m = {32, 4, 0, 32, true, false};
    r1_qmix_state st = {0, 0, 0};
    memset(counts, 0, sizeof(int) * R1_TYPE_COUNT_);
    for (int i = 0; i < n; i++) {
        r1_type t = R1_TYPE_COUNT_;
        r1_error err = {0};
        CHECK(r1_qmix_tensor_type(f, &m, &st, names[i], 4096, &t, &err) == R1_OK, "%s", err.msg);
        if (!strcmp(names[i], "output.weight")) *out_type = t;
        else if (!strcmp(names[i], "token_embd.weight")) *embd_type = t;
        else if (strstr(names[i], "attn_v") || strstr(names[i], "ffn_down")) counts[t]++;
        free(names[i]);
    }
}

static void test_q4_k_m(void) {
    int c[R1_TYPE_COUNT_];
    r1_type out, embd;
    plan_dense(R1_FTYPE_Q4_K_M, c, &out, &embd);
    CHECK(out == R1_TYPE_Q6_K, "output %s", r1_type_name(out));
    CHECK(embd == R1_TYPE_Q4_K, "token_embd %s", r1_type_name(embd));
    CHECK(c[R1_TYPE_Q6_K] == 32 && c[R1_TYPE_Q4_K] == 32, "attn_v+ffn_down: %d q6_K, %d q4_K",
          c[R1_TYPE_Q6_K], c[R1_TYPE_Q4_K]);
}

static void test_other_mixes(void) {
    int c[R1_TYPE_COUNT_];
    r1_type out, embd;
    plan_dense(R1_FTYPE_Q4_K_S, c, &out, &embd);
    /* attn_v: first 4 visited (sorted: blk.0, blk.1, blk.10, blk.11) Q5_K; ffn_down i_layer < 4 Q5_K */
    CHECK(c[R1_TYPE_Q5_K] == 8 && c[R1_TYPE_Q4_K] == 56, "q4_K_S: %d q5_K %d q4_K", c[R1_TYPE_Q5_K], c[R1_TYPE_Q4_K]);
    plan_dense(R1_FTYPE_Q3_K_M, c, &out, &embd);
    /* attn_v: 2 Q5_K + 30 Q4_K; ffn_down: 2 (i < 32/16) Q5_K + 30 Q4_K */
    CHECK(c[R1_TYPE_Q5_K] == 4 && c[R1_TYPE_Q4_K] == 60, "q3_K_M: %d q5_K %d q4_K", c[R1_TYPE_Q5_K], c[R1_TYPE_Q4_K]);
    plan_dense(R1_FTYPE_Q8_0, c, &out, &embd);
    CHECK(out == R1_TYPE_Q8_0 && c[R1_TYPE_Q8_0] == 64, "q8_0 mix");
    plan_dense(R1_FTYPE_Q2_K, c, &out, &embd);
    CHECK(c[R1_TYPE_Q4_K] == 32 && c[R1_TYPE_Q3_K] == 32, "q2_K: attn_v Q4_K (gqa 4), ffn_down Q3_K");
}

static void test_fallbacks_and_errors(void) {
    r1_qmix_model m = {4, 1, 0, 4, true, false};
    r1_qmix_state st = {0, 0, 0};
    r1_type t;
    r1_error err = {0};
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q4_K_M, &m, &st, "blk.0.attn_q.weight", 96, &t, &err) == R1_OK &&
          t == R1_TYPE_Q5_0, "q4_K row 96 -> q5_0, got %s", r1_type_name(t));
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q4_K_M, &m, &st, "blk.0.attn_q.weight", 100, &t, &err) == R1_OK &&
          t == R1_TYPE_F16, "row 100 -> f16, got %s", r1_type_name(t));
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q6_K, &m, &st, "blk.0.attn_q.weight", 64, &t, &err) == R1_OK &&
          t == R1_TYPE_Q8_0, "q6_K row 64 -> q8_0");
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q3_K_M, &m, &st, "blk.0.attn_q.weight", 544, &t, &err) == R1_OK &&
          t == R1_TYPE_Q4_0, "q3_K row 544 -> q4_0 (as current llama.cpp), got %s", r1_type_name(t));
    CHECK(r1_qmix_tensor_type(R1_FTYPE_IQ4_XS, &m, &st, "blk.0.attn_q.weight", 544, &t, &err) == R1_OK &&
          t == R1_TYPE_IQ4_NL, "iq4_xs row 544 -> iq4_nl, got %s", r1_type_name(t));
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q4_0, &m, &st, "blk.0.attn_q.weight", 100, &t, &err) == R1_ERR_INVALID_ARG,
          "q4_0 cannot hold row 100");
    CHECK(strstr(err.msg, "blk.0.attn_q.weight") != NULL, "message names the tensor: %s", err.msg);
    r1_qmix_model moe = {4, 1, 64, 4, true, false};
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q4_K_M, &moe, &st, "ffn_down_exps.weight", 256, &t, &err) == R1_ERR_FORMAT,
          "expert tensor without a layer");
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q4_K_M, &moe, &st, "blk.3.ffn_down_exps.weight", 256, &t, &err) == R1_OK &&
          t == R1_TYPE_Q6_K, "last layer of 4 uses more bits");
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q4_K_M, &moe, &st, "blk.1.ffn_down_exps.weight", 256, &t, &err) == R1_OK &&
          t == R1_TYPE_Q4_K, "layer 1 of 4 does not");
    /* MLA's attn_kv_b follows the attn_v rules (counter shared) */
    r1_qmix_state s2 = {3, 0, 0};   /* 4th attn_v-like tensor of 4: use_more_bits */
    r1_qmix_model mla = {4, 1, 64, 4, true, false};
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q4_K_M, &mla, &s2, "blk.0.attn_kv_b.weight", 512, &t, &err) == R1_OK &&
          t == R1_TYPE_Q6_K && s2.i_attention_wv == 4, "attn_kv_b like attn_v");
    /* llama 70B: attn_v Q4_K -> Q5_K */
    r1_qmix_state s3 = {0, 5, 0};
    r1_qmix_model l70 = {80, 8, 0, 80, true, true};
    s3.i_attention_wv = 11;   /* a layer where use_more_bits is false */
    CHECK(r1_qmix_tensor_type(R1_FTYPE_Q4_K_M, &l70, &s3, "blk.11.attn_v.weight", 8192, &t, &err) == R1_OK &&
          t == R1_TYPE_Q5_K, "70B attn_v bump, got %s", r1_type_name(t));
}

static void test_names(void) {
    r1_ftype f;
    CHECK(r1_ftype_from_name("q4_k_m", &f) && f == R1_FTYPE_Q4_K_M, "case-insensitive");
    CHECK(r1_ftype_from_name("IQ4_XS", &f) && f == 30, "llama.cpp numbering");
    CHECK(!r1_ftype_from_name("Q4_K_X", &f), "unknown name");
    CHECK(r1_qmix_should_quantize("blk.0.attn_q.weight", 2), "2-D weight");
    CHECK(!r1_qmix_should_quantize("blk.0.attn_norm.weight", 1), "norm");
    CHECK(!r1_qmix_should_quantize("blk.0.ffn_gate_inp.weight", 2), "router");
    CHECK(!r1_qmix_should_quantize("blk.0.attn_q.bias", 2), "bias");
    CHECK(r1_qmix_should_quantize("blk.0.ffn_up_exps.weight", 3), "experts");
}

int main(void) {
    RUN(test_names);
    RUN(test_q4_k_m);
    RUN(test_other_mixes);
    RUN(test_fallbacks_and_errors);
    return TEST_SUMMARY();
}
