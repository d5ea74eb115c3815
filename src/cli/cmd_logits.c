/*
 * cmd_logits.c — `r1 logits`: runs a token sequence through a model and writes the logits
 * of every position as raw little-endian float32, n_tokens × n_vocab, row-major (row p =
 * the logits after token p). The three modes must agree (to float rounding):
 *   prefill  all tokens in one r1_eval (chunked by -b)
 *   decode   one r1_eval per token
 *   split:K  the first K tokens in one call, the rest in a second call
 * Exit status: 0 ok, 1 failure (one-line message), 2 usage error.
 */
#include "cli.h"
#include "common.h"
#include <errno.h>
#include <limits.h>
#include <sys/resource.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: r1 logits -m MODEL --tokens ID,ID,... --out FILE [options]\n"
            "  writes n_tokens x n_vocab little-endian float32 logits (row p = after token p)\n"
            "options:\n"
            "  -m, --model PATH     GGUF model (default: the built-in demo model)\n"
            "  --tokens LIST        comma-separated token ids\n"
            "  -o, --out FILE       output file\n"
            "  --mode MODE          prefill (default) | decode | split:K\n"
            "  -c, --ctx N          context size (default: the number of tokens)\n"
            "  -b, --batch N        tokens per forward chunk (default 512)\n"
            "  -t, --threads N      threads (default: physical cores)\n"
            "  --rss                print 'peak_rss_bytes N' to stderr at the end\n"
            "  --timing             print the evaluation time and tokens/s to stderr\n"
            "  --kv-f16             F16 KV cache (default F32)\n"
            "  --mmap               weights in place from the file map (default: huge-page copy;\n"
            "                       also R1_MMAP=1)\n"
            "  -h, --help           this help\n");
}

/* a non-negative int; false on garbage/overflow */
static bool parse_int(const char *s, int *out) { return cli_parse_int(s, 0, INT_MAX, out); }

/* "1,2,3" → malloc'd ids. false on a malformed list. */
static bool parse_tokens(const char *s, int32_t **ids, int *n) {
    int cap = 16, k = 0;
    int32_t *v = malloc(sizeof *v * (size_t)cap);
    if (!v) return false;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long t = strtol(p, &end, 10);
        if (errno || end == p || t < INT32_MIN || t > INT32_MAX || (*end && *end != ',')) { free(v); return false; }
        if (k == cap) {
            int32_t *nv = realloc(v, sizeof *v * (size_t)(cap *= 2));
            if (!nv) { free(v); return false; }
            v = nv;
        }
        v[k++] = (int32_t)t;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p) { free(v); return false; }   /* trailing comma */
    }
    if (k == 0) { free(v); return false; }
    *ids = v;
    *n = k;
    return true;
}

int cmd_logits(int argc, char **argv) {
    const char *model_path = NULL, *tokens_arg = NULL, *out_path = NULL, *mode = "prefill";
    int n_ctx = 0, n_batch = 0, n_threads = 0, split = -1;
    bool rss = false, timing = false, kv_f16 = false, use_mmap = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const bool has_val = i + 1 < argc;
#define VAL() (has_val ? argv[++i] : NULL)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--rss")) rss = true;
        else if (!strcmp(a, "--timing")) timing = true;
        else if (!strcmp(a, "--kv-f16")) kv_f16 = true;
        else if (!strcmp(a, "--mmap")) use_mmap = true;
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) { if (!(model_path = VAL())) goto missing; }
        else if (!strcmp(a, "--tokens")) { if (!(tokens_arg = VAL())) goto missing; }
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) { if (!(out_path = VAL())) goto missing; }
        else if (!strcmp(a, "--mode")) { if (!(mode = VAL())) goto missing; }
        else if (!strcmp(a, "-c") || !strcmp(a, "--ctx") || !strcmp(a, "-b") || !strcmp(a, "--batch") ||
                 !strcmp(a, "-t") || !strcmp(a, "--threads")) {
            const char *v = VAL();
            int *dst = a[1] == 'c' || !strcmp(a, "--ctx") ? &n_ctx : a[1] == 'b' || !strcmp(a, "--batch") ? &n_batch : &n_threads;
            if (!v) goto missing;
            if (!parse_int(v, dst)) { fprintf(stderr, "r1 logits: %s: invalid number '%s'\n", a, v); return 2; }
        } else {
            fprintf(stderr, "r1 logits: unknown option '%s' (see r1 logits --help)\n", a);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "r1 logits: option '%s' needs a value\n", a);
        return 2;
#undef VAL
    }
    if (!tokens_arg || !out_path) {
        fprintf(stderr, "r1 logits: --tokens and --out are required (see r1 logits --help)\n");
        return 2;
    }
    if (!strncmp(mode, "split:", 6)) {
        if (!parse_int(mode + 6, &split)) { fprintf(stderr, "r1 logits: --mode split:K needs a number K\n"); return 2; }
    } else if (strcmp(mode, "prefill") && strcmp(mode, "decode")) {
        fprintf(stderr, "r1 logits: unknown --mode '%s' (prefill, decode, split:K)\n", mode);
        return 2;
    }
    int32_t *ids;
    int n;
    if (!parse_tokens(tokens_arg, &ids, &n)) {
        fprintf(stderr, "r1 logits: --tokens: expected comma-separated integers, got '%s'\n", tokens_arg);
        return 2;
    }
    if (split > n) split = n;
    if (!model_path) model_path = cli_default_model();

    r1_error err = {0};
    r1_model *model = NULL;
    r1_context *ctx = NULL;
    float *logits = NULL;
    FILE *f = NULL;
    int rc = 1;
    r1_model_params mp = r1_model_default_params();
    mp.mmap_weights = use_mmap;
    if (r1_model_load(model_path, &mp, &model, &err) != R1_OK) goto done;
    r1_context_params cp = r1_context_default_params();
    cp.n_ctx = n_ctx ? n_ctx : n;
    cp.n_batch = n_batch;
    cp.n_threads = n_threads;
    cp.kv_f16 = kv_f16;
    if (r1_context_create(model, &cp, &ctx, &err) != R1_OK) goto done;
    const size_t nv = (size_t)r1_model_get_info(model)->n_vocab;
    if (!(logits = malloc(sizeof(float) * nv * (size_t)n))) {
        r1_set_error(&err, R1_ERR_NOMEM, "out of memory for %d x %zu logits", n, nv);
        goto done;
    }
    const double t0 = r1_time_s();
    if (!strcmp(mode, "decode")) {
        for (int p = 0; p < n; p++)
            if (r1_eval(ctx, ids + p, 1, logits + (size_t)p * nv, false, &err) != R1_OK) goto done;
    } else if (split > 0 && split < n) {
        if (r1_eval(ctx, ids, split, logits, true, &err) != R1_OK) goto done;
        if (r1_eval(ctx, ids + split, n - split, logits + (size_t)split * nv, true, &err) != R1_OK) goto done;
    } else {
        if (r1_eval(ctx, ids, n, logits, true, &err) != R1_OK) goto done;
    }
    if (timing) {
        const double dt = r1_time_s() - t0;
        fprintf(stderr, "eval: %d tokens (%s) in %.3f s, %.2f tokens/s\n", n, mode, dt, dt > 0 ? n / dt : 0.0);
    }
    if (!(f = fopen(out_path, "wb"))) {
        r1_set_error(&err, R1_ERR_IO, "%s: cannot open for writing: %s", out_path, strerror(errno));
        goto done;
    }
    if (fwrite(logits, sizeof(float), nv * (size_t)n, f) != nv * (size_t)n || fclose(f) != 0) {
        f = NULL;
        r1_set_error(&err, R1_ERR_IO, "%s: write failed: %s", out_path, strerror(errno));
        goto done;
    }
    f = NULL;
    rc = 0;
done:
    if (f) fclose(f);
    if (rss) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0) fprintf(stderr, "peak_rss_bytes %lld\n", (long long)ru.ru_maxrss * 1024);
    }
    free(logits);
    free(ids);
    r1_context_free(ctx);
    r1_model_free(model);
    return rc ? cli_fail("logits", &err) : 0;
}
