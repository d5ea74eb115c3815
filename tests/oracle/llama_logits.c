/* llama_logits — oracle harness linked against the prebuilt llama.cpp CPU library
 * (node-llama-cpp 3.21.1). Independent of r1's code.
 *
 *   llama_logits -m MODEL --tokens 1,2,3 --out FILE [-t N_THREADS] [--kv-f16]
 *       evaluates the tokens as ONE batch (positions 0..n-1, logits for every position)
 *       and writes float32 little-endian rows, n_tokens x n_vocab (the `r1 logits` layout).
 *       KV cache F32 unless --kv-f16; flash attention off.
 *   llama_logits -m MODEL --tokenize [--no-special] [--no-parse-special]
 *       reads UTF-8 text from stdin, prints llama_tokenize ids comma-separated
 *       (add_special and parse_special default on, as llama.cpp's CLI).
 *
 * The library does not load its CPU backend by itself: ggml_backend_load_all_from_path()
 * is called with $R1_GGML_LIBDIR (or the directory compiled in as GGML_LIBDIR), where the
 * libggml-cpu-*.so variants sit; ggml picks the best variant for this CPU.
 * Exit status: 0 ok, 1 error (one line on stderr), 2 usage. */
#include "llama.h"
#include "ggml-backend.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GGML_LIBDIR
#define GGML_LIBDIR "."
#endif

static void quiet(enum ggml_log_level l, const char *t, void *u) {
    (void)u;
    if (l == GGML_LOG_LEVEL_ERROR) fputs(t, stderr);
}

static int usage(void) {
    fprintf(stderr, "usage: llama_logits -m MODEL (--tokens IDS --out FILE [-t N] [--kv-f16] | "
                    "--tokenize [--no-special] [--no-parse-special])\n");
    return 2;
}

/* Parses "1,2,3" into a malloc'd array; returns count or -1 on a bad id. */
static int parse_ids(const char *s, int32_t **out) {
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int32_t *v = malloc(sizeof *v * (size_t)cap);
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x > 0x7fffffff) { free(v); return -1; }
        v[n++] = (int32_t)x;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') { free(v); return -1; }
    }
    *out = v;
    return n;
}

int main(int argc, char **argv) {
    const char *model = NULL, *ids = NULL, *out = NULL;
    int threads = 2, tokenize = 0, add_special = 1, parse_special = 1, kv_f16 = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-m") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "--tokens") && i + 1 < argc) ids = argv[++i];
        else if (!strcmp(a, "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--tokenize")) tokenize = 1;
        else if (!strcmp(a, "--no-special")) add_special = 0;
        else if (!strcmp(a, "--no-parse-special")) parse_special = 0;
        else if (!strcmp(a, "--kv-f16")) kv_f16 = 1;
        else return usage();
    }
    if (!model || (!tokenize && (!ids || !out)) || threads < 1) return usage();
    llama_log_set(quiet, NULL);
    const char *libdir = getenv("R1_GGML_LIBDIR");
    ggml_backend_load_all_from_path(libdir ? libdir : GGML_LIBDIR);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.vocab_only = tokenize;
    struct llama_model *m = llama_model_load_from_file(model, mp);
    if (!m) { fprintf(stderr, "llama_logits: llama.cpp cannot load %s\n", model); return 1; }
    const struct llama_vocab *vocab = llama_model_get_vocab(m);
    int rc = 0;
    if (tokenize) {
        size_t cap = 1 << 16, len = 0, r;
        char *text = malloc(cap);
        while ((r = fread(text + len, 1, cap - len, stdin)) > 0)
            if ((len += r) == cap) text = realloc(text, cap *= 2);
        int nmax = (int)len + 16;
        int32_t *toks = malloc(sizeof *toks * (size_t)nmax);
        int n = llama_tokenize(vocab, text, (int32_t)len, toks, nmax, add_special, parse_special);
        if (n < 0) { fprintf(stderr, "llama_logits: llama_tokenize failed (%d)\n", n); rc = 1; }
        for (int i = 0; i < n; i++) printf("%s%d", i ? "," : "", toks[i]);
        if (n >= 0) printf("\n");
        free(toks);
        free(text);
        llama_model_free(m);
        return rc;
    }
    int32_t *toks;
    int n = parse_ids(ids, &toks);
    const int nv = llama_vocab_n_tokens(vocab);
    if (n <= 0) { fprintf(stderr, "llama_logits: bad --tokens '%s'\n", ids); llama_model_free(m); return 1; }
    for (int i = 0; i < n; i++)
        if (toks[i] >= nv) { fprintf(stderr, "llama_logits: token %d out of range (n_vocab %d)\n", toks[i], nv); llama_model_free(m); return 1; }
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = cp.n_batch = cp.n_ubatch = (uint32_t)(n < 64 ? 64 : n);
    cp.n_threads = cp.n_threads_batch = threads;
    cp.type_k = cp.type_v = kv_f16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *c = llama_init_from_model(m, cp);
    if (!c) { fprintf(stderr, "llama_logits: cannot create a context for %s\n", model); llama_model_free(m); return 1; }
    struct llama_batch b = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; i++) {
        b.token[i] = toks[i]; b.pos[i] = i; b.n_seq_id[i] = 1; b.seq_id[i][0] = 0; b.logits[i] = 1;
    }
    b.n_tokens = n;
    if (llama_decode(c, b)) { fprintf(stderr, "llama_logits: llama_decode failed on %s\n", model); rc = 1; }
    FILE *f = rc ? NULL : fopen(out, "wb");
    if (!rc && !f) { fprintf(stderr, "llama_logits: cannot write %s\n", out); rc = 1; }
    for (int i = 0; f && i < n; i++)
        if (fwrite(llama_get_logits_ith(c, i), sizeof(float), (size_t)nv, f) != (size_t)nv) rc = 1;
    if (f && fclose(f)) rc = 1;
    llama_batch_free(b);
    llama_free(c);
    llama_model_free(m);
    llama_backend_free();
    free(toks);
    return rc;
}
