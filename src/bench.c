/*
 * bench.c — measuring helpers for `r1 bench`: weight bytes per decoded token from the GGUF
 * tensor table, a STREAM-like read-bandwidth probe, sample statistics, peak RSS.
 * See bench.h for the contracts. The probe owns its threads (plain pthreads, joined before
 * returning) and its buffer; nothing here keeps state between calls.
 */
#include "bench.h"
#include "common.h"
#include "gguf.h"
#include "quant.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* True if `name` is a routed-expert tensor (blk.N.ffn_{gate,up,down}_exps.weight);
 * shared experts are "_shexp" and are read by every token. */
static bool is_routed_expert(const char *name) { return strstr(name, "_exps.") != NULL; }

r1_status r1_bench_weight_bytes(const char *path, r1_bench_weights *out, r1_error *err) {
    memset(out, 0, sizeof *out);
    gguf_file *f = NULL;
    r1_status s = gguf_open(path, &f, err);
    if (s != R1_OK) return s;
    char *arch = gguf_get_str_dup(f, "general.architecture");
    if (arch) {
        char key[128];
        uint32_t v;
        snprintf(key, sizeof key, "%s.expert_count", arch);
        if (gguf_get_u32(f, key, &v)) out->n_expert = (int)v;
        snprintf(key, sizeof key, "%s.expert_used_count", arch);
        if (gguf_get_u32(f, key, &v)) out->n_expert_used = (int)v;
        free(arch);
    }
    const bool tied = gguf_find_tensor(f, "output.weight") == NULL;
    uint64_t best = 0;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        uint64_t same = 0;   /* bytes of all tensors of t's type (quadratic, but tables are small) */
        for (int64_t k = 0; k < gguf_n_tensors(f); k++)
            if (gguf_tensor_at(f, k)->type == t->type) same += gguf_tensor_at(f, k)->nbytes;
        if (same > best) { best = same; out->main_type = r1_type_name(t->type); }
        if (!strcmp(t->name, "token_embd.weight") && !tied) continue;  /* row gather only */
        if (is_routed_expert(t->name)) out->expert_bytes += t->nbytes;
        else out->dense_bytes += t->nbytes;
    }
    out->bytes_per_token = out->dense_bytes;
    if (out->expert_bytes) {
        if (out->n_expert < 1 || out->n_expert_used < 1 || out->n_expert_used > out->n_expert) {
            gguf_close(f);
            return r1_set_error(err, R1_ERR_FORMAT, "%s: expert tensors but expert_count %d / expert_used_count %d",
                                path, out->n_expert, out->n_expert_used);
        }
        out->bytes_per_token += (uint64_t)((double)out->expert_bytes * out->n_expert_used / out->n_expert);
    }
    gguf_close(f);
    return R1_OK;
}

/* One probe thread: sums words [lo, hi) of the buffer with 4 independent accumulators
 * (so the adds do not serialise); the sum is stored so the compiler cannot drop the loop. */
typedef struct bw_job {
    const uint64_t *buf;
    size_t lo, hi;          /* word range */
    uint64_t sum;
} bw_job;

static void *bw_worker(void *arg) {
    bw_job *j = arg;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = j->lo; i < j->hi; i += 4) {
        a += j->buf[i]; b += j->buf[i + 1]; c += j->buf[i + 2]; d += j->buf[i + 3];
    }
    j->sum = a + b + c + d;
    return NULL;
}

r1_status r1_bench_bandwidth(size_t bytes, int n_threads, int reps, double *gbps, r1_error *err) {
    const size_t unit = 64 * 1024;
    bytes = bytes < unit ? unit : bytes / unit * unit;
    if (n_threads < 1 || n_threads > 1024 || reps < 1)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "bandwidth probe: bad threads %d / reps %d", n_threads, reps);
    uint64_t *buf = malloc(bytes);   /* bytes/8 words, a multiple of 8192 */
    bw_job *jobs = calloc((size_t)n_threads, sizeof *jobs);
    pthread_t *th = calloc((size_t)n_threads, sizeof *th);
    if (!buf || !jobs || !th) {
        free(buf); free(jobs); free(th);
        return r1_set_error(err, R1_ERR_NOMEM, "bandwidth probe: cannot allocate %zu MiB", bytes >> 20);
    }
    const size_t words = bytes / 8;
    for (size_t i = 0; i < words; i++) buf[i] = i * 0x9E3779B97F4A7C15ull;   /* fault pages in */
    const size_t per = (words / (size_t)n_threads) & ~(size_t)3;   /* multiple of 4 words */
    double best = 0;
    r1_status s = R1_OK;
    for (int r = 0; r < reps && s == R1_OK; r++) {
        const double t0 = r1_time_s();
        int started = 0;
        for (int t = 0; t < n_threads; t++) {
            jobs[t] = (bw_job){.buf = buf, .lo = (size_t)t * per, .hi = t == n_threads - 1 ? words : (size_t)(t + 1) * per};
            if (t > 0) {
                if (pthread_create(&th[t], NULL, bw_worker, &jobs[t])) {
                    s = r1_set_error(err, R1_ERR_INTERNAL, "bandwidth probe: cannot start thread %d", t);
                    break;
                }
                started++;
            }
        }
        if (s == R1_OK) bw_worker(&jobs[0]);
        for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
        const double dt = r1_time_s() - t0;
        if (s == R1_OK && dt > 0 && (double)bytes / dt / 1e9 > best) best = (double)bytes / dt / 1e9;
    }
    free(buf); free(jobs); free(th);
    if (s == R1_OK) *gbps = best;
    return s;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

r1_bench_stat r1_bench_stats(double *x, int n) {
    r1_bench_stat st = {0};
    if (n < 1) return st;
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    st.median = n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
    st.min = x[0];
    st.max = x[n - 1];
    double mean = 0, var = 0;
    for (int i = 0; i < n; i++) mean += x[i] / n;
    for (int i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
    st.stdev = n > 1 ? sqrt(var / (n - 1)) : 0;
    return st;
}

uint64_t r1_bench_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru)) return 0;
    return (uint64_t)ru.ru_maxrss * 1024;   /* Linux: KiB */
}

uint64_t r1_bench_llc_bytes(void) {
    uint64_t best = 0;
    for (int i = 0; i < 16; i++) {
        char path[96], buf[64];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            char *end;
            uint64_t v = strtoull(buf, &end, 10);
            if (*end == 'K') v <<= 10;
            else if (*end == 'M') v <<= 20;
            if (v > best) best = v;
        }
        fclose(f);
    }
    return best;
}
