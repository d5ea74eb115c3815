/*
 * quant_llamacpp.c — r1-quantized GGUF files against llama.cpp (libllama + libggml-base).
 * Built and run by tests/integration/quant_llamacpp.sh, not by the Makefile.
 *
 *   quant_llamacpp ref IN.gguf OUT.gguf FTYPE   llama.cpp's own quantization (llama_model_quantize)
 * Needs R1_GGML_LIBDIR = the folder of libggml-cpu-*.so.
 *   quant_llamacpp mix IN.gguf REF.gguf FTYPE   r1's mixture rules vs the types in REF
 *   quant_llamacpp check R1.gguf [REF.gguf]     1. llama.cpp loads R1.gguf (llama_model_load_from_file);
 *                                               2. every tensor dequantizes bit-identically with
 *                                                  ggml's to_float and r1's to_float;
 *                                               3. with REF: same tensor set, same types (the
 *                                                  mixture rules) and byte-identical data.
 * Exit 0 iff all checks pass; prints one summary line.
 */
#include "ggml-backend.h"
#include "ggml.h"
#include "gguf.h"
#include "llama.h"
#include "quant.h"
#include "quantize.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void quiet_log(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level >= GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

/* Reads the bytes of tensor i of a GGUF file into a malloc'd buffer. */
static void *read_tensor(const char *path, struct gguf_context *g, int64_t i) {
    size_t n = gguf_get_tensor_size(g, i);
    FILE *f = fopen(path, "rb");
    void *buf = malloc(n ? n : 1);
    if (!f || !buf || fseek(f, (long)(gguf_get_data_offset(g) + gguf_get_tensor_offset(g, i)), SEEK_SET) ||
        fread(buf, 1, n, f) != n) {
        fprintf(stderr, "%s: cannot read tensor %s\n", path, gguf_get_tensor_name(g, i));
        exit(1);
    }
    fclose(f);
    return buf;
}

/* The CPU backends are separate libraries next to libggml: load them from $R1_GGML_LIBDIR. */
static void load_backends(void) {
    const char *dir = getenv("R1_GGML_LIBDIR");
    if (dir) ggml_backend_load_all_from_path(dir);
    else ggml_backend_load_all();
}

static bool no_progress(float p, void *user) { (void)p; (void)user; return true; }

/* llama.cpp's tensor order (llama_model_loader's weight_name_comparer): the number in
 * "blk.N." (-1 when absent), then the name; the mixture counters advance in this order. */
static int layer_of(const char *name) {
    int layer = -1;
    if (sscanf(name, "blk.%d.", &layer) < 1) layer = -1;
    return layer;
}
static int cmp_str(const void *a, const void *b) {
    const char *x = *(char *const *)a, *y = *(char *const *)b;
    int lx = layer_of(x), ly = layer_of(y);
    if (lx != ly) return lx < ly ? -1 : 1;
    return strcmp(x, y);
}

/* r1's mixture rules (quant_mix.c) vs the types llama.cpp chose in REF (quantized from
 * the unquantized IN, whose tensors keep their type when r1 would not quantize them). */
static int mix(const char *in, const char *ref, int ftype) {
    struct ggml_context *ctx = NULL;
    struct gguf_init_params gp = {true, &ctx};
    struct gguf_context *gi = gguf_init_from_file(in, gp), *gr = gguf_init_from_file(ref, (struct gguf_init_params){true, NULL});
    if (!gi || !gr) { printf("FAIL: cannot open %s / %s\n", in, ref); return 1; }
    r1_qmix_model m = {0, 1, 0, 0, false, false};
    int64_t k = gguf_find_key(gi, "general.architecture");
    const char *arch = k >= 0 ? gguf_get_val_str(gi, k) : "llama";
    char key[256];
    snprintf(key, sizeof key, "%s.block_count", arch);
    if ((k = gguf_find_key(gi, key)) >= 0) m.n_layer = (int)gguf_get_val_u32(gi, k);
    snprintf(key, sizeof key, "%s.expert_count", arch);
    if ((k = gguf_find_key(gi, key)) >= 0) m.n_expert = (int)gguf_get_val_u32(gi, k);
    snprintf(key, sizeof key, "%s.attention.head_count", arch);
    int64_t kh = gguf_find_key(gi, key);
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    int64_t kk = gguf_find_key(gi, key);
    if (kh >= 0 && kk < 0) kk = kh;
    if (kh >= 0) m.n_gqa = (int)(gguf_get_val_u32(gi, kh) / gguf_get_val_u32(gi, kk));
    m.llama_70b = !strcmp(arch, "llama") && m.n_layer == 80 && m.n_gqa > 1;
    int64_t n = gguf_get_n_tensors(gi);
    char **names = malloc(n * sizeof *names);
    for (int64_t i = 0; i < n; i++) {
        names[i] = (char *)gguf_get_tensor_name(gi, i);
        if (strstr(names[i], "attn_v.weight") || strstr(names[i], "attn_qkv.weight") || strstr(names[i], "attn_kv_b.weight"))
            m.n_attention_wv++;
        if (!strcmp(names[i], "output.weight")) m.has_output = true;
    }
    qsort(names, n, sizeof *names, cmp_str);
    r1_qmix_state st = {0, 0, 0};
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        struct ggml_tensor *t = ggml_get_tensor(ctx, names[i]);
        r1_type want = (r1_type)t->type;
        r1_error err = {0};
        if (r1_qmix_should_quantize(names[i], ggml_n_dims(t)) &&
            r1_qmix_tensor_type((r1_ftype)ftype, &m, &st, names[i], t->ne[0], &want, &err) != R1_OK) {
            printf("FAIL: %s\n", err.msg);
            bad++;
            continue;
        }
        enum ggml_type got = gguf_get_tensor_type(gr, gguf_find_tensor(gr, names[i]));
        if ((int)got != (int)want) {
            printf("FAIL: %s: r1 rules say %s, llama.cpp chose %s\n", names[i], r1_type_name(want), ggml_type_name(got));
            bad++;
        }
    }
    printf("mixture rules for ftype %d (%s): %lld tensors, %d differ from llama.cpp; %s\n", ftype,
           r1_ftype_name((r1_ftype)ftype), (long long)n, bad, bad ? "FAIL" : "ok");
    free(names);
    gguf_free(gi);
    gguf_free(gr);
    ggml_free(ctx);
    return bad ? 1 : 0;
}

static int check(const char *path, const char *ref) {
    int failures = 0;
    load_backends();
    struct llama_model_params mp = llama_model_default_params();
    mp.progress_callback = no_progress;
    struct llama_model *model = llama_model_load_from_file(path, mp);
    if (!model) { printf("FAIL: llama.cpp cannot load %s\n", path); return 1; }
    llama_model_free(model);

    struct gguf_init_params gp = {true, NULL};
    struct gguf_context *g = gguf_init_from_file(path, gp), *gr = ref ? gguf_init_from_file(ref, gp) : NULL;
    if (!g || (ref && !gr)) { printf("FAIL: gguf_init_from_file\n"); return 1; }
    int64_t n = gguf_get_n_tensors(g), n_same = 0, n_quant = 0;
    if (gr && gguf_get_n_tensors(gr) != n) { printf("FAIL: %lld tensors vs %lld in llama.cpp's file\n", (long long)n, (long long)gguf_get_n_tensors(gr)); failures++; }
    for (int64_t i = 0; i < n; i++) {
        const char *name = gguf_get_tensor_name(g, i);
        enum ggml_type t = gguf_get_tensor_type(g, i);
        size_t bytes = gguf_get_tensor_size(g, i);
        const r1_type_traits *rt = r1_type_get_traits((r1_type)t);
        const struct ggml_type_traits *gt = ggml_get_type_traits(t);
        void *data = read_tensor(path, g, i);
        if (!rt) { printf("FAIL: %s: type %d unknown to r1\n", name, (int)t); failures++; free(data); continue; }
        int64_t nel = (int64_t)(bytes / rt->type_size) * rt->blck_size;
        if (rt->is_quantized) n_quant++;
        if (gt->to_float || t == GGML_TYPE_F32) {
            float *a = malloc(nel * 4), *b = malloc(nel * 4);
            if (t == GGML_TYPE_F32) memcpy(a, data, bytes); else gt->to_float(data, a, nel);
            rt->to_float(data, b, nel);
            if (memcmp(a, b, nel * 4)) { printf("FAIL: %s (%s): dequantization differs from ggml\n", name, rt->name); failures++; }
            free(a); free(b);
        }
        if (gr) {
            int64_t j = gguf_find_tensor(gr, name);
            if (j < 0) { printf("FAIL: %s missing from llama.cpp's file\n", name); failures++; }
            else if (gguf_get_tensor_type(gr, j) != t) {
                printf("FAIL: %s: r1 chose %s, llama.cpp %s\n", name, rt->name, ggml_type_name(gguf_get_tensor_type(gr, j)));
                failures++;
            } else {
                void *rd = read_tensor(ref, gr, j);
                if (gguf_get_tensor_size(gr, j) == bytes && !memcmp(rd, data, bytes)) n_same++;
                else { printf("FAIL: %s (%s): bytes differ from llama.cpp's quantization\n", name, rt->name); failures++; }
                free(rd);
            }
        }
        free(data);
    }
    int64_t kf = gguf_find_key(g, "general.file_type"), kq = gguf_find_key(g, "general.quantization_version");
    if (kf < 0 || kq < 0 || gguf_get_val_u32(g, kq) != 2) { printf("FAIL: general.file_type / quantization_version\n"); failures++; }
    if (gr && kf >= 0 && gguf_find_key(gr, "general.file_type") >= 0 &&
        gguf_get_val_u32(g, kf) != gguf_get_val_u32(gr, gguf_find_key(gr, "general.file_type"))) {
        printf("FAIL: general.file_type differs\n"); failures++;
    }
    printf("%s: llama.cpp loads it; %lld tensors (%lld quantized) dequantize bit-identically", path,
           (long long)n, (long long)n_quant);
    if (gr) printf("; byte-identical to llama.cpp's quantization: %lld tensors", (long long)n_same);
    printf("; %s\n", failures ? "FAIL" : "ok");
    gguf_free(g);
    if (gr) gguf_free(gr);
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    llama_log_set(quiet_log, NULL);
    ggml_log_set(quiet_log, NULL);
    if (argc == 5 && !strcmp(argv[1], "ref")) {
        load_backends();
        struct llama_model_quantize_params p = llama_model_quantize_default_params();
        p.ftype = (enum llama_ftype)atoi(argv[4]);
        p.nthread = 2;
        return llama_model_quantize(argv[2], argv[3], &p) ? 1 : 0;
    }
    if (argc == 5 && !strcmp(argv[1], "mix")) return mix(argv[2], argv[3], atoi(argv[4]));
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "check")) return check(argv[2], argc == 4 ? argv[3] : NULL);
    fprintf(stderr, "usage: quant_llamacpp ref IN OUT FTYPE | mix IN REF FTYPE | check R1.gguf [REF.gguf]\n");
    return 2;
}
