/*
 * test_quant_mix.c — file-type names and llama.cpp's per-tensor mixture rules
 * (src/quant_mix.c) on a synthetic 32-layer dense model and a DeepSeek-style MoE.
 * Expected counts follow llama_tensor_get_type: use_more_bits(i, 32) is true for 16 of
 * 32 layers (i < 4, i >= 28, (i-4) % 3 == 2). test_file_layer_order runs r1_quantize_file
 * on a 28-layer file and checks WHICH layers get more bits: the counters must advance in
 * llama.cpp's order (layer number, then name), where blk.2 comes before blk.10.
 */
#include "gguf.h"
#include "quantize.h"
#include "test.h"
#include <stdlib.h>
#include <unistd.h>

/* llama.cpp's visiting order: layer number from "blk.N." (-1 if none), then the name */
static int layer_of(const char *s) {
    int l = -1;
    if (sscanf(s, "blk.%d.", &l) < 1) l = -1;
    return l;
}
static int cmp(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int lx = layer_of(x), ly = layer_of(y);
    return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

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
    /* attn_v: first 4 visited (blk.0-3) Q5_K; ffn_down i_layer < 4 Q5_K */
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

/* llama.cpp's use_more_bits layers at 28 layers, written out: i < 3, i >= 24, (i - 3) % 3 == 2 */
static bool more_bits_28(int i) {
    static const int L[] = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27};
    for (size_t k = 0; k < sizeof L / sizeof L[0]; k++)
        if (L[k] == i) return true;
    return false;
}

/* A 28-layer llama file (F32; attn_v and ffn_down only, rows of 256) through
 * r1_quantize_file; returns false (after CHECK failures) if it could not be made. */
static bool quantize_28(const char *in, const char *out, r1_ftype f) {
    enum { NL = 28, NE0 = 256, ROWS = 4 };
    static float data[NE0 * ROWS];
    for (int i = 0; i < NE0 * ROWS; i++) data[i] = (float)((i * 37) % 101 - 50) / 50.0f;
    gguf_writer *w = gguf_writer_create();
    if (!w) { CHECK(w != NULL); return false; }
    r1_error err = {0};
    r1_status st = gguf_set_str(w, "general.architecture", "llama");
    st = st ? st : gguf_set_u32(w, "llama.block_count", NL);
    st = st ? st : gguf_set_u32(w, "llama.attention.head_count", 8);
    st = st ? st : gguf_set_u32(w, "llama.attention.head_count_kv", 2);
    const int64_t ne[2] = {NE0, ROWS};
    char name[64];
    for (int l = 0; l < NL && st == R1_OK; l++) {
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
        st = gguf_add_tensor(w, name, R1_TYPE_F32, 2, ne, data, sizeof data, &err);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        st = st ? st : gguf_add_tensor(w, name, R1_TYPE_F32, 2, ne, data, sizeof data, &err);
    }
    st = st ? st : gguf_writer_write(w, in, &err);
    gguf_writer_free(w);
    CHECK(st == R1_OK, "writing %s: %s", in, err.msg);
    if (st != R1_OK) return false;
    r1_quantize_params p = {0};
    p.ftype = f;
    p.n_threads = 1;
    st = r1_quantize_file(in, out, &p, &err);
    CHECK(st == R1_OK, "r1_quantize_file: %s", err.msg);
    return st == R1_OK;
}

static r1_type type_of(const gguf_file *g, const char *part, int layer) {
    char name[64];
    snprintf(name, sizeof name, "blk.%d.%s.weight", layer, part);
    const gguf_tensor *t = gguf_find_tensor(g, name);
    return t ? t->type : R1_TYPE_COUNT_;
}

static void test_file_layer_order(void) {
    const char *tmp = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/r1-test-quant-mix-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *d = mkdtemp(tmpl);
    REQUIRE(d != NULL, "mkdtemp");
    char in[600], out[600];
    snprintf(in, sizeof in, "%s/in.gguf", d);
    snprintf(out, sizeof out, "%s/out.gguf", d);
    static const r1_ftype fts[] = {R1_FTYPE_Q4_K_M, R1_FTYPE_Q5_K_M, R1_FTYPE_Q4_K_S};
    for (size_t k = 0; k < sizeof fts / sizeof fts[0]; k++) {
        r1_ftype f = fts[k];
        if (!quantize_28(in, out, f)) break;
        gguf_file *g = NULL;
        r1_error err = {0};
        CHECK(gguf_open(out, &g, &err) == R1_OK, "%s", err.msg);
        if (!g) break;
        for (int l = 0; l < 28; l++) {
            r1_type v = type_of(g, "attn_v", l), dn = type_of(g, "ffn_down", l), want_v, want_dn;
            if (f == R1_FTYPE_Q4_K_S) {   /* the first 4 attn_v visited; ffn_down i_layer < 28/8 */
                want_v = l < 4 ? R1_TYPE_Q5_K : R1_TYPE_Q4_K;
                want_dn = l < 3 ? R1_TYPE_Q5_K : R1_TYPE_Q4_K;
            } else {
                r1_type base = f == R1_FTYPE_Q4_K_M ? R1_TYPE_Q4_K : R1_TYPE_Q5_K;
                want_v = want_dn = more_bits_28(l) ? R1_TYPE_Q6_K : base;
            }
            CHECK(v == want_v, "%s: blk.%d.attn_v is %s, llama.cpp gives %s", r1_ftype_name(f), l, r1_type_name(v),
                  r1_type_name(want_v));
            CHECK(dn == want_dn, "%s: blk.%d.ffn_down is %s, llama.cpp gives %s", r1_ftype_name(f), l,
                  r1_type_name(dn), r1_type_name(want_dn));
        }
        gguf_close(g);
    }
    unlink(in);
    unlink(out);
    rmdir(d);
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
    RUN(test_file_layer_order);
    return TEST_SUMMARY();
}
