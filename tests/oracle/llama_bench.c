/* llama_bench — the `r1 bench` measurement done with the prebuilt llama.cpp CPU library
 * (node-llama-cpp 3.21.1, llama.cpp v0.4.0 ABI). Independent of r1's code.
 *
 *   llama_bench -m MODEL [-p 512] [-n 128] [-d 0] [-t 2] [-r 3] [--kv-f16] [--json]
 *
 * Same protocol as `r1 bench` (src/cli/cmd_bench.c):
 *   pp P  P random valid token ids in one llama_decode from an empty cache (n_batch =
 *         max(P, 512), n_ubatch 512 — r1 chunks by 512 too), logits of the last token only.
 *   tg N  N tokens decoded one llama_decode at a time after DEPTH tokens in the cache (filled
 *         once, untimed; each repetition removes positions >= DEPTH), next = argmax(logits).
 *   one untimed warm-up (pp: full prompt; tg: min(N, 8) tokens), then REPS timed runs.
 * KV cache F32 unless --kv-f16 (llama.cpp's own default is F16); flash attention off.
 * bytes_per_token / tg.gbps come from ggml's own gguf reader with r1's rule (all tensors but
 * token_embd.weight unless there is no output.weight; "_exps." tensors at
 * expert_used_count / expert_count). bandwidth_gbps is null: the probe is r1's (bench.h).
 * Output fields as `r1 bench --json`: pp.{n,tps_median,...}, tg.{n,tps_median,gbps,...},
 * threads, peak_rss_mib (getrusage), bandwidth_gbps.
 * Exit status: 0 ok, 1 error (one line on stderr), 2 usage. */
#include "llama.h"
#include "ggml-backend.h"
#include "gguf.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "../../bench/bench_clock.h"

#ifndef GGML_LIBDIR
#define GGML_LIBDIR "."
#endif

static void quiet(enum ggml_log_level l, const char *t, void *u) {
    (void)u;
    if (l == GGML_LOG_LEVEL_ERROR) fputs(t, stderr);
}

static int usage(void) {
    fprintf(stderr, "usage: llama_bench -m MODEL [-p 512] [-n 128] [-d 0] [-t 2] [-r 3] [--kv-f16] [--json]\n");
    return 2;
}

/* Weight bytes read per decoded token (rule in the header); 0 on a read failure. */
static unsigned long long weight_bytes(const char *path) {
    struct gguf_init_params ip = {.no_alloc = true, .ctx = NULL};
    struct gguf_context *g = gguf_init_from_file(path, ip);
    if (!g) return 0;
    int64_t k = gguf_find_key(g, "general.architecture");
    double n_exp = 0, n_used = 0;
    if (k >= 0) {
        char key[160];
        snprintf(key, sizeof key, "%s.expert_count", gguf_get_val_str(g, k));
        if ((k = gguf_find_key(g, key)) >= 0) n_exp = gguf_get_val_u32(g, k);
        snprintf(key, sizeof key, "%s.expert_used_count", gguf_get_val_str(g, gguf_find_key(g, "general.architecture")));
        if ((k = gguf_find_key(g, key)) >= 0) n_used = gguf_get_val_u32(g, k);
    }
    const int tied = gguf_find_tensor(g, "output.weight") < 0;
    double total = 0;
    for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
        const char *name = gguf_get_tensor_name(g, i);
        double b = (double)gguf_get_tensor_size(g, i);
        if (!tied && !strcmp(name, "token_embd.weight")) continue;
        if (strstr(name, "_exps.")) b = n_exp > 0 ? b * n_used / n_exp : b;
        total += b;
    }
    gguf_free(g);
    return (unsigned long long)total;
}

/* Prints "name": {n, tps_median, tps_min, tps_max, tps_stdev, tps[] <extra>} (x sorted). */
static double print_stat(const char *name, double *x, int n, const char *extra) {
    qsort(x, (size_t)n, sizeof *x, cmp_d);
    double med = n ? (n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2])) : 0, mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += x[i] / n;
    for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    printf("\"%s\": {\"n\": %d, \"tps_median\": %.4f, \"tps_min\": %.4f, \"tps_max\": %.4f, \"tps_stdev\": %.4f, \"tps\": [",
           name, n, med, n ? x[0] : 0, n ? x[n - 1] : 0, n > 1 ? sqrt(var / (n - 1)) : 0);
    for (int i = 0; i < n; i++) printf("%s%.4f", i ? ", " : "", x[i]);
    printf("]%s}", extra);
    return med;
}

/* Decodes toks[0..n) at positions pos.. (logits for the last one only); 0 ok. */
static int decode(struct llama_context *c, struct llama_batch *b, const int32_t *toks, int n, int pos) {
    for (int i = 0; i < n; i++) {
        b->token[i] = toks[i]; b->pos[i] = pos + i; b->n_seq_id[i] = 1; b->seq_id[i][0] = 0; b->logits[i] = i == n - 1;
    }
    b->n_tokens = n;
    return llama_decode(c, *b);
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

/* Times n greedy single-token decodes after `depth` cached tokens; tokens/s or -1. */
static double run_tg(struct llama_context *c, struct llama_batch *b, int depth, int32_t first, int n, int nv) {
    llama_memory_seq_rm(llama_get_memory(c), 0, depth, -1);
    int32_t tok = first;
    const double t0 = now_s();
    for (int i = 0; i < n; i++) {
        if (decode(c, b, &tok, 1, depth + i)) return -1;
        tok = argmax(llama_get_logits_ith(c, -1), nv);
    }
    return n / (now_s() - t0);
}

int main(int argc, char **argv) {
    const char *model = NULL;
    int p = 512, n = 128, depth = 0, threads = 2, reps = 3, kv_f16 = 0, json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-m") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(a, "-p") && i + 1 < argc) p = atoi(argv[++i]);
        else if (!strcmp(a, "-n") && i + 1 < argc) n = atoi(argv[++i]);
        else if (!strcmp(a, "-d") && i + 1 < argc) depth = atoi(argv[++i]);
        else if (!strcmp(a, "-t") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(a, "-r") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(a, "--kv-f16")) kv_f16 = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else return usage();
    }
    if (!model || p < 0 || n < 0 || depth < 0 || threads < 1 || reps < 1 || reps > 1000 || (p == 0 && n == 0))
        return usage();
    llama_log_set(quiet, NULL);
    const char *libdir = getenv("R1_GGML_LIBDIR");
    ggml_backend_load_all_from_path(libdir ? libdir : GGML_LIBDIR);
    llama_backend_init();
    const unsigned long long bpt = weight_bytes(model);
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *m = llama_model_load_from_file(model, mp);
    if (!m) { fprintf(stderr, "llama_bench: llama.cpp cannot load %s\n", model); return 1; }
    const int nv = llama_vocab_n_tokens(llama_model_get_vocab(m));
    const int need = p > depth + n ? p : depth + n;
    const int nbatch = p > 512 ? p : 512;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(need < 64 ? 64 : need);
    cp.n_batch = (uint32_t)nbatch;
    cp.n_ubatch = 512;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.type_k = cp.type_v = kv_f16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context *c = llama_init_from_model(m, cp);
    if (!c) { fprintf(stderr, "llama_bench: cannot create a context for %s\n", model); llama_model_free(m); return 1; }
    const int nt = (p > depth ? p : depth) + 1;
    int32_t *toks = malloc(sizeof *toks * (size_t)nt);
    double *pp = calloc((size_t)reps, sizeof *pp), *tg = calloc((size_t)reps, sizeof *tg);
    struct llama_batch b = llama_batch_init(nbatch, 0, 1);
    unsigned long long rng = 0x5DEECE66Dull;   /* xorshift64*: same ids as r1 bench */
    for (int i = 0; i < nt; i++) {
        rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
        toks[i] = (int32_t)((rng * 0x2545F4914F6CDD1Dull >> 33) % (unsigned long long)nv);
    }
    int rc = 0, npp = 0, ntg = 0;
    llama_memory_t mem = llama_get_memory(c);
    for (int r = -1; p > 0 && r < reps && !rc; r++) {   /* r = -1: warm-up */
        llama_memory_clear(mem, true);
        const double t0 = now_s();
        if (decode(c, &b, toks, p, 0)) { fprintf(stderr, "llama_bench: llama_decode failed (pp) on %s\n", model); rc = 1; break; }
        if (r >= 0) pp[npp++] = p / (now_s() - t0);
    }
    if (!rc && n > 0) {
        llama_memory_clear(mem, true);
        const int32_t first = toks[p > depth ? p : depth];
        for (int at = 0; at < depth && !rc; at += nbatch)   /* fill in n_batch-sized chunks */
            if (decode(c, &b, toks + at, depth - at < nbatch ? depth - at : nbatch, at)) rc = 1;
        for (int r = -1; r < reps && !rc; r++) {
            const double tps = run_tg(c, &b, depth, first, r < 0 ? (n < 8 ? n : 8) : n, nv);
            if (tps < 0) rc = 1;
            else if (r >= 0) tg[ntg++] = tps;
        }
        if (rc) fprintf(stderr, "llama_bench: llama_decode failed (tg) on %s\n", model);
    }
    if (!rc) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        const double rss = ru.ru_maxrss / 1024.0;
        if (json) printf("{\"engine\": \"llama.cpp\", \"bytes_per_token\": %llu, \"threads\": %d, \"reps\": %d, \"depth\": %d, "
                         "\"kv_cache\": \"%s\", ", bpt, threads, reps, depth, kv_f16 ? "f16" : "f32");
        else printf("llama.cpp %s: threads %d, %d reps, KV %s\n", model, threads, reps, kv_f16 ? "F16" : "F32");
        double tgm;
        if (json) {
            print_stat("pp", pp, npp, "");
            printf(", ");
            /* gbps needs the median: print tg into a buffer-free second pass */
            double tmp[1000];
            memcpy(tmp, tg, sizeof *tg * (size_t)ntg);
            qsort(tmp, (size_t)ntg, sizeof *tmp, cmp_d);
            tgm = ntg ? (ntg % 2 ? tmp[ntg / 2] : 0.5 * (tmp[ntg / 2 - 1] + tmp[ntg / 2])) : 0;
            char extra[64];
            snprintf(extra, sizeof extra, ", \"gbps\": %.4f", (double)bpt * tgm / 1e9);
            print_stat("tg", tg, ntg, extra);
            printf(", \"peak_rss_mib\": %.1f, \"bandwidth_gbps\": null}\n", rss);
        } else {
            qsort(pp, (size_t)npp, sizeof *pp, cmp_d);
            qsort(tg, (size_t)ntg, sizeof *tg, cmp_d);
            if (npp) printf("pp%d: %.2f t/s (median of %d)\n", p, pp[npp / 2], npp);
            if (ntg) printf("tg%d%s: %.2f t/s (median of %d), %.2f GB/s\n", n, depth ? " @depth" : "", tg[ntg / 2], ntg,
                            (double)bpt * tg[ntg / 2] / 1e9);
            printf("peak RSS %.1f MiB\n", rss);
        }
    }
    llama_batch_free(b);
    llama_free(c);
    llama_model_free(m);
    llama_backend_free();
    free(toks); free(pp); free(tg);
    return rc;
}
