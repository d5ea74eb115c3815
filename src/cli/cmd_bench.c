/*
 * cmd_bench.c — `r1 bench`: llama-bench-style speed measurement of one model file.
 *
 *   pp P   prompt processing: P random valid token ids in ONE r1_eval from an empty cache
 *          (chunked internally by the context's n_batch, 512); tokens/s = P / time.
 *   tg N   generation: N tokens decoded one r1_eval at a time after DEPTH tokens already in
 *          the cache (filled once, untimed; each repetition truncates back to DEPTH), the next
 *          token being the argmax of the logits; tokens/s = N / time.
 * Each test runs one untimed warm-up (pp: a full P-token prompt; tg: min(N, 8) tokens) and
 * then REPS timed repetitions; the median and min/max/stdev are reported.
 * Derived figures: tg GB/s = weight bytes read per token (bench.h: all tensors but the
 * token_embd row gather; routed experts at n_used/n_expert) × tg tokens/s; peak RSS
 * (getrusage) taken before the bandwidth probe; the probe itself (bench.h: huge pages, the
 * CPU's read loops in turn) runs after the model is freed, with the same thread count, best
 * of BW_REPS passes.
 * Output: a human table, or with --json one object whose names "pp.n", "pp.tps_median",
 * "tg.n", "tg.tps_median", "tg.gbps", "threads", "peak_rss_mib", "bandwidth_gbps" are stable.
 * Exit status: 0 ok, 1 failure (one-line message), 2 usage error.
 */
#include "cli.h"
#include "bench.h"
#include "common.h"
#include "threadpool.h"
#include <errno.h>
#include <limits.h>

#define BW_REPS 10   /* bandwidth probe passes (~0.1 s each at 1920 MiB) */

static void usage(FILE *f) {
    fprintf(f,
            "usage: r1 bench [-m MODEL] [options]\n"
            "  prompt processing (pp) and generation (tg) speed, llama-bench style\n"
            "options:\n"
            "  -m, --model PATH     GGUF model (default: the built-in demo model)\n"
            "  -p, --prompt N       prompt tokens for pp, one batched eval (default 512; 0 = skip)\n"
            "  -n, --gen N          tokens decoded one at a time for tg (default 128; 0 = skip)\n"
            "  -d, --depth N        tokens already in the cache before tg (default 0)\n"
            "  -t, --threads N      threads (default: physical cores)\n"
            "  -r, --reps N         timed repetitions after one warm-up (default 3)\n"
            "  --kv-f16             F16 KV cache (default F32)\n"
            "  --mmap               weights in place from the file map (default: copied into\n"
            "                       huge pages at load; also R1_MMAP=1)\n"
            "  --bw-mib N           bandwidth probe buffer in MiB (default: max(1024, 4 x the\n"
            "                       largest CPU cache), at most 8192; 0 = skip the probe)\n"
            "  --json               one JSON object instead of the table\n"
            "  -h, --help           this help\n");
}

/* a non-negative int; false on garbage/overflow */
static bool parse_int(const char *s, int *out) { return cli_parse_int(s, 0, INT_MAX, out); }

/* xorshift64* → a token id in [0, n_vocab). */
static int32_t rand_token(uint64_t *s, int n_vocab) {
    *s ^= *s >> 12; *s ^= *s << 25; *s ^= *s >> 27;
    return (int32_t)((*s * 0x2545F4914F6CDD1Dull >> 33) % (uint64_t)n_vocab);
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++) if (x[i] > x[best]) best = i;
    return best;
}

typedef struct bench_cfg { int p, n, depth, threads, reps, bw_mib; bool kv_f16, json, mmap; double load_s; } bench_cfg;

/* One test's samples (tokens/s per repetition) and statistics. */
typedef struct bench_result { int n; double *tps; r1_bench_stat st; } bench_result;

/* One pp run: clear the cache, eval `p` tokens (logits of the last only); tokens/s in *tps. */
static r1_status run_pp(r1_context *ctx, const int32_t *toks, int p, float *logits, double *tps, r1_error *err) {
    r1_context_truncate(ctx, 0);
    const double t0 = r1_time_s();
    r1_status s = r1_eval(ctx, toks, p, logits, false, err);
    const double dt = r1_time_s() - t0;
    *tps = dt > 0 ? p / dt : 0;
    return s;
}

/* One tg run: truncate to `depth` (already filled), decode n tokens greedily from `first`. */
static r1_status run_tg(r1_context *ctx, int depth, int32_t first, int n, float *logits, int n_vocab,
                        double *tps, r1_error *err) {
    r1_context_truncate(ctx, depth);
    int32_t tok = first;
    const double t0 = r1_time_s();
    for (int i = 0; i < n; i++) {
        r1_status s = r1_eval(ctx, &tok, 1, logits, false, err);
        if (s != R1_OK) return s;
        tok = argmax(logits, n_vocab);
    }
    const double dt = r1_time_s() - t0;
    *tps = dt > 0 ? n / dt : 0;
    return R1_OK;
}

/* Prints s as a JSON string (quotes, backslashes and control bytes escaped). */
static void print_json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", (unsigned char)*s);
        else putchar(*s);
    }
    putchar('"');
}

/* "name": {n, median, min, max, stdev, sorted samples, extra fields}. */
static void print_stat_json(const char *name, const bench_result *r, const char *extra) {
    printf("\"%s\": {\"n\": %d, \"tps_median\": %.4f, \"tps_min\": %.4f, \"tps_max\": %.4f, \"tps_stdev\": %.4f, \"tps\": [",
           name, r->n, r->st.median, r->st.min, r->st.max, r->st.stdev);
    for (int i = 0; i < r->n; i++) printf("%s%.4f", i ? ", " : "", r->tps[i]);
    printf("]%s}", extra);
}

/* Measures; fills pp/tg (n = 0 when skipped). */
static r1_status measure(const char *path, bench_cfg *c, bench_result *pp, bench_result *tg,
                         const r1_model_info **info_out, r1_model **model_out, r1_error *err) {
    r1_model_params mp = r1_model_default_params();
    mp.mmap_weights = c->mmap;
    const double t_load = r1_time_s();
    r1_status s = r1_model_load(path, &mp, model_out, err);
    c->load_s = r1_time_s() - t_load;
    if (s != R1_OK) return s;
    const r1_model_info *info = r1_model_get_info(*model_out);
    *info_out = info;
    r1_context_params cp = r1_context_default_params();
    const int need = c->p > c->depth + c->n ? c->p : c->depth + c->n;
    cp.n_ctx = need > 1 ? need : 1;
    cp.n_threads = c->threads;
    cp.kv_f16 = c->kv_f16;
    r1_context *ctx = NULL;
    if ((s = r1_context_create(*model_out, &cp, &ctx, err)) != R1_OK) return s;
    const int nt = c->p > c->depth ? c->p : c->depth;
    int32_t *toks = malloc(sizeof *toks * (size_t)(nt > 1 ? nt : 1));
    float *logits = malloc(sizeof *logits * (size_t)info->n_vocab);
    if (!toks || !logits) { s = r1_set_error(err, R1_ERR_NOMEM, "bench: out of memory"); goto done; }
    uint64_t rng = 0x5DEECE66Dull;
    for (int i = 0; i < nt; i++) toks[i] = rand_token(&rng, info->n_vocab);
    double dummy;
    if (c->p > 0) {
        if ((s = run_pp(ctx, toks, c->p, logits, &dummy, err)) != R1_OK) goto done;   /* warm-up */
        for (int r = 0; r < c->reps; r++)
            if ((s = run_pp(ctx, toks, c->p, logits, &pp->tps[r], err)) != R1_OK) goto done;
        pp->n = c->reps;
        pp->st = r1_bench_stats(pp->tps, pp->n);
    }
    if (c->n > 0) {
        r1_context_truncate(ctx, 0);
        if (c->depth > 0 && (s = r1_eval(ctx, toks, c->depth, NULL, false, err)) != R1_OK) goto done;
        const int32_t first = rand_token(&rng, info->n_vocab);
        if ((s = run_tg(ctx, c->depth, first, c->n < 8 ? c->n : 8, logits, info->n_vocab, &dummy, err)) != R1_OK)
            goto done;   /* warm-up */
        for (int r = 0; r < c->reps; r++)
            if ((s = run_tg(ctx, c->depth, first, c->n, logits, info->n_vocab, &tg->tps[r], err)) != R1_OK) goto done;
        tg->n = c->reps;
        tg->st = r1_bench_stats(tg->tps, tg->n);
    }
done:
    free(toks);
    free(logits);
    r1_context_free(ctx);
    return s;
}

int cmd_bench(int argc, char **argv) {
    const char *model_path = NULL;
    bench_cfg c = {.p = 512, .n = 128, .depth = 0, .threads = 0, .reps = 3, .bw_mib = -1};   /* -1: auto */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int *dst = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--json")) { c.json = true; continue; }
        else if (!strcmp(a, "--kv-f16")) { c.kv_f16 = true; continue; }
        else if (!strcmp(a, "--mmap")) { c.mmap = true; continue; }
        else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (i + 1 >= argc) goto missing;
            model_path = argv[++i];
            continue;
        }
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) dst = &c.p;
        else if (!strcmp(a, "-n") || !strcmp(a, "--gen")) dst = &c.n;
        else if (!strcmp(a, "-d") || !strcmp(a, "--depth")) dst = &c.depth;
        else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) dst = &c.threads;
        else if (!strcmp(a, "-r") || !strcmp(a, "--reps")) dst = &c.reps;
        else if (!strcmp(a, "--bw-mib")) dst = &c.bw_mib;
        else {
            fprintf(stderr, "r1 bench: unknown option '%s' (see r1 bench --help)\n", a);
            return 2;
        }
        if (i + 1 >= argc) goto missing;
        if (!parse_int(argv[i + 1], dst)) {
            fprintf(stderr, "r1 bench: %s: invalid number '%s'\n", a, argv[i + 1]);
            return 2;
        }
        i++;
        continue;
    missing:
        fprintf(stderr, "r1 bench: option '%s' needs a value\n", a);
        return 2;
    }
    if (c.reps < 1 || c.reps > 1000) { fprintf(stderr, "r1 bench: -r must be in 1..1000\n"); return 2; }
    if (c.p == 0 && c.n == 0) { fprintf(stderr, "r1 bench: nothing to do (-p 0 and -n 0)\n"); return 2; }
    if (c.depth > INT_MAX / 2 || c.n > INT_MAX / 2 || c.bw_mib > 1 << 20) {
        fprintf(stderr, "r1 bench: -d/-n/--bw-mib too large\n");
        return 2;
    }
    if (c.bw_mib < 0) {
        const uint64_t mib = 4 * (r1_bench_llc_bytes() >> 20);
        c.bw_mib = mib < 1024 ? 1024 : mib > 8192 ? 8192 : (int)mib;
    }
    if (!model_path) model_path = cli_default_model();
    const int threads = c.threads ? c.threads : threadpool_default_threads();
    c.threads = threads;

    r1_error err = {0};
    r1_bench_weights w;
    if (r1_bench_weight_bytes(model_path, &w, &err) != R1_OK) return cli_fail("bench", &err);
    bench_result pp = {0}, tg = {0};
    pp.tps = calloc((size_t)c.reps, sizeof(double));
    tg.tps = calloc((size_t)c.reps, sizeof(double));
    r1_model *model = NULL;
    const r1_model_info *info = NULL;
    int rc = 1;
    if (!pp.tps || !tg.tps) { r1_set_error(&err, R1_ERR_NOMEM, "bench: out of memory"); goto fail; }
    if (measure(model_path, &c, &pp, &tg, &info, &model, &err) != R1_OK) goto fail;
    const double rss_mib = (double)r1_bench_peak_rss_bytes() / (1024.0 * 1024.0);
    char arch[32], name[128];
    snprintf(arch, sizeof arch, "%s", info->arch);
    snprintf(name, sizeof name, "%s", info->name);
    const int64_t n_params = info->n_params;
    const uint64_t file_bytes = info->file_bytes;
    const bool hp = info->hugepages;
    char hp_note[256];
    snprintf(hp_note, sizeof hp_note, "%s", info->hugepages_note);
    r1_model_free(model);
    model = NULL;
    r1_bench_bw probe = {0};
    if (c.bw_mib > 0 && r1_bench_bandwidth((size_t)c.bw_mib << 20, threads, BW_REPS, &probe, &err) != R1_OK) goto fail;
    const double bw = probe.gbps;
    const double gbps = (double)w.bytes_per_token * tg.st.median / 1e9;
    const double frac = bw > 0 ? gbps / bw : 0;
    if (c.json) {
        printf("{\"model\": ");
        print_json_str(model_path);
        printf(", \"name\": ");
        print_json_str(name);
        printf(", \"arch\": \"%s\", \"type\": \"%s\", \"n_params\": %lld, "
               "\"file_bytes\": %llu, \"bytes_per_token\": %llu, \"threads\": %d, \"reps\": %d, \"depth\": %d, "
               "\"kv_cache\": \"%s\", ",
               arch, w.main_type ? w.main_type : "unknown", (long long)n_params,
               (unsigned long long)file_bytes, (unsigned long long)w.bytes_per_token, threads, c.reps, c.depth,
               c.kv_f16 ? "f16" : "f32");
        char extra[64];
        print_stat_json("pp", &pp, "");
        printf(", ");
        snprintf(extra, sizeof extra, ", \"gbps\": %.4f", gbps);
        print_stat_json("tg", &tg, extra);
        printf(", \"peak_rss_mib\": %.1f, \"bandwidth_gbps\": %.4f, \"bw_probe_mib\": %d, \"bw_fraction\": %.4f, "
               "\"bw_probe_kernel\": \"%s\", \"bw_probe_hugepages\": %s, \"load_s\": %.3f, \"weights\": \"%s\", "
               "\"weights_note\": ",
               rss_mib, bw, c.bw_mib, frac, probe.kernel ? probe.kernel : "none", probe.hugepages ? "true" : "false",
               c.load_s, hp ? "hugepages" : "mmap");
        print_json_str(hp_note);
        printf("}\n");
    } else {
        printf("model: %s (%s %s, %.2f B params, %.1f MiB file, %.1f MiB weights read per token)\n", model_path, arch,
               w.main_type ? w.main_type : "?", (double)n_params / 1e9, (double)file_bytes / 1048576.0,
               (double)w.bytes_per_token / 1048576.0);
        printf("threads %d, %d reps after one warm-up, KV cache %s; weights %s%s%s%s, loaded in %.2f s\n\n", threads,
               c.reps, c.kv_f16 ? "F16" : "F32", hp ? "in huge pages" : "mmapped", *hp_note ? " (" : "", hp_note,
               *hp_note ? ")" : "", c.load_s);
        printf("| %-12s | %10s | %10s | %10s | %8s | %9s |\n", "test", "t/s median", "min", "max", "GB/s", "% of BW");
        printf("|--------------|------------|------------|------------|----------|-----------|\n");
        if (pp.n) printf("| pp%-10d | %10.2f | %10.2f | %10.2f | %8s | %9s |\n", c.p, pp.st.median, pp.st.min, pp.st.max, "", "");
        if (tg.n) {
            char test[32];
            if (c.depth) snprintf(test, sizeof test, "tg%d@d%d", c.n, c.depth);
            else snprintf(test, sizeof test, "tg%d", c.n);
            char pct[16] = "-";
            if (bw > 0) snprintf(pct, sizeof pct, "%.1f%%", 100 * frac);
            printf("| %-12s | %10.2f | %10.2f | %10.2f | %8.2f | %9s |\n", test, tg.st.median, tg.st.min, tg.st.max,
                   gbps, pct);
        }
        if (c.bw_mib > 0)
            printf("\npeak RSS %.1f MiB; memory read bandwidth %.2f GB/s (%d threads, %d MiB buffer%s, best of %d "
                   "passes: %s loads)\n", rss_mib, bw, threads, c.bw_mib, probe.hugepages ? " in huge pages" : "",
                   BW_REPS, probe.kernel);
        else
            printf("\npeak RSS %.1f MiB; memory read bandwidth probe skipped\n", rss_mib);
    }
    rc = 0;
fail:
    r1_model_free(model);
    free(pp.tps);
    free(tg.tps);
    return rc ? cli_fail("bench", &err) : 0;
}
