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
#include <sys/mman.h>
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

/* ---- read-bandwidth probe ----------------------------------------------------------------
 * Read loops: each sums the 64-bit lanes of [p, p + n) (p 64-byte aligned, n a multiple of
 * 256) with four independent accumulators, so neither the adds nor the loop limit the rate;
 * the sum is returned so the loads cannot be dropped. No software prefetch: a plain
 * sequential stream, as STREAM. Which loop reads fastest depends on the machine (on the
 * session-4 VM, per second of thread CPU time: 2 threads 38 GB/s with 64-bit or AVX2 loads,
 * 32 GB/s with AVX-512 loads), so the probe cycles through every loop this CPU runs
 * (r1_isa_active: AVX-512 and AVX2 on x86-64, always the portable one) and keeps the best. */
#define BW_HUGE ((size_t)2 << 20)   /* x86-64 / arm64 (4 KiB granule) PMD huge page */
#define BW_UNIT ((size_t)64 << 10)  /* buffer granule; every thread's slice a multiple of 256 B */

static uint64_t read_portable(const uint8_t *p, size_t n) {
    const uint64_t *w = (const uint64_t *)(const void *)p;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (size_t i = 0; i < n / 8; i += 8) {
        a += w[i] + w[i + 4]; b += w[i + 1] + w[i + 5]; c += w[i + 2] + w[i + 6]; d += w[i + 3] + w[i + 7];
    }
    return a + b + c + d;
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2"))) static uint64_t read_avx2(const uint8_t *p, size_t n) {
    __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
    for (size_t i = 0; i < n; i += 128) {
        a = _mm256_add_epi64(a, _mm256_load_si256((const __m256i *)(const void *)(p + i)));
        b = _mm256_add_epi64(b, _mm256_load_si256((const __m256i *)(const void *)(p + i + 32)));
        c = _mm256_add_epi64(c, _mm256_load_si256((const __m256i *)(const void *)(p + i + 64)));
        d = _mm256_add_epi64(d, _mm256_load_si256((const __m256i *)(const void *)(p + i + 96)));
    }
    uint64_t o[4];
    _mm256_storeu_si256((__m256i *)(void *)o, _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(c, d)));
    return o[0] + o[1] + o[2] + o[3];
}
__attribute__((target("avx512f"))) static uint64_t read_avx512(const uint8_t *p, size_t n) {
    __m512i a = _mm512_setzero_si512(), b = a, c = a, d = a;
    for (size_t i = 0; i < n; i += 256) {
        a = _mm512_add_epi64(a, _mm512_load_si512((const void *)(p + i)));
        b = _mm512_add_epi64(b, _mm512_load_si512((const void *)(p + i + 64)));
        c = _mm512_add_epi64(c, _mm512_load_si512((const void *)(p + i + 128)));
        d = _mm512_add_epi64(d, _mm512_load_si512((const void *)(p + i + 192)));
    }
    uint64_t o[8];
    _mm512_storeu_si512((void *)o, _mm512_add_epi64(_mm512_add_epi64(a, b), _mm512_add_epi64(c, d)));
    return o[0] + o[1] + o[2] + o[3] + o[4] + o[5] + o[6] + o[7];
}
#endif

typedef uint64_t (*read_fn)(const uint8_t *p, size_t n);

/* The read loops this CPU runs, widest first; returns how many (1..3). */
static int readers(read_fn *fn, const char **name) {
    int n = 0;
#if defined(__x86_64__)
    const r1_isa isa = r1_isa_active();
    if (isa == R1_ISA_AVX512) { fn[n] = read_avx512; name[n++] = "avx512"; }
    if (isa == R1_ISA_AVX512 || isa == R1_ISA_AVX2) { fn[n] = read_avx2; name[n++] = "avx2"; }
#endif
    fn[n] = read_portable;
    name[n++] = "portable";
    return n;
}

/* The probe's threads start only when all of them exist (state 1; 2 = one could not be
 * created: those started return at once), then make `reps` passes over their slices (pass r
 * with read loop r % n_read), each between two barrier waits so all start together and a
 * pass ends when the slowest thread is done; thread 0 times the passes. */
typedef struct bw_shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state;                  /* 0 wait, 1 go, 2 abort */
    pthread_barrier_t bar;
} bw_shared;

typedef struct bw_job {
    const uint8_t *p;
    size_t n;                   /* bytes of this thread's slice */
    const read_fn *read;
    int n_read, reps;
    bw_shared *sh;
    double *dt;                 /* thread 0: per-pass times, else NULL */
    uint64_t sum;
} bw_job;

static void *bw_worker(void *arg) {
    bw_job *j = arg;
    pthread_mutex_lock(&j->sh->mu);
    while (j->sh->state == 0) pthread_cond_wait(&j->sh->cv, &j->sh->mu);
    const int state = j->sh->state;
    pthread_mutex_unlock(&j->sh->mu);
    if (state != 1) return NULL;
    for (int r = 0; r < j->reps; r++) {
        pthread_barrier_wait(&j->sh->bar);
        const double t0 = r1_time_s();
        j->sum += j->read[r % j->n_read](j->p, j->n);
        pthread_barrier_wait(&j->sh->bar);
        if (j->dt) j->dt[r] = r1_time_s() - t0;
    }
    return NULL;
}

r1_status r1_bench_bandwidth(size_t bytes, int n_threads, int reps, r1_bench_bw *out, r1_error *err) {
    memset(out, 0, sizeof *out);
    if (n_threads < 1 || n_threads > 1024 || reps < 1 || reps > 1000)
        return r1_set_error(err, R1_ERR_INVALID_ARG, "bandwidth probe: bad threads %d / reps %d", n_threads, reps);
    const size_t slice = bytes / (size_t)n_threads / BW_UNIT * BW_UNIT;
    const size_t per = slice ? slice : BW_UNIT;
    bytes = per * (size_t)n_threads;
    /* 2 MiB-aligned anonymous memory advised MADV_HUGEPAGE, as the weights are held
     * (gguf_load_anon), so the probe and the decode have the same TLB reach */
    const size_t len = (bytes + BW_HUGE - 1) & ~(BW_HUGE - 1);
    uint8_t *buf = r1_map_aligned(len, BW_HUGE);
    if (!buf) return r1_set_error(err, R1_ERR_NOMEM, "bandwidth probe: cannot map %zu MiB", bytes >> 20);
#ifdef MADV_HUGEPAGE
    out->hugepages = madvise(buf, len, MADV_HUGEPAGE) == 0;
#endif
    bw_job *jobs = calloc((size_t)n_threads, sizeof *jobs);
    pthread_t *th = calloc((size_t)n_threads, sizeof *th);
    double *dt = calloc((size_t)reps, sizeof *dt);
    bw_shared sh = {.state = 0};
    bool sync_ok = false;
    r1_status s = R1_OK;
    if (!jobs || !th || !dt) { s = r1_set_error(err, R1_ERR_NOMEM, "bandwidth probe: out of memory"); goto done; }
    if (pthread_mutex_init(&sh.mu, NULL) || pthread_cond_init(&sh.cv, NULL) ||
        pthread_barrier_init(&sh.bar, NULL, (unsigned)n_threads)) {
        s = r1_set_error(err, R1_ERR_INTERNAL, "bandwidth probe: cannot create its locks");
        goto done;   /* (with glibc a partial init holds nothing to release) */
    }
    sync_ok = true;
    for (size_t i = 0; i < len; i += 4096) memset(buf + i, (int)(i >> 12), 4096);   /* fault pages in */
    read_fn rfn[3];
    const char *rname[3];
    const int n_read = readers(rfn, rname);
    int started = 0;
    for (int t = 0; t < n_threads; t++) {
        jobs[t] = (bw_job){.p = buf + (size_t)t * per, .n = per, .read = rfn, .n_read = n_read, .reps = reps, .sh = &sh,
                           .dt = t ? NULL : dt};
        if (t > 0) {
            if (pthread_create(&th[t], NULL, bw_worker, &jobs[t])) break;
            started++;
        }
    }
    pthread_mutex_lock(&sh.mu);
    sh.state = started == n_threads - 1 ? 1 : 2;
    pthread_cond_broadcast(&sh.cv);
    pthread_mutex_unlock(&sh.mu);
    if (sh.state == 1) bw_worker(&jobs[0]);
    for (int t = 1; t <= started; t++) pthread_join(th[t], NULL);
    if (sh.state != 1) {
        s = r1_set_error(err, R1_ERR_INTERNAL, "bandwidth probe: cannot start thread %d", started + 1);
        goto done;
    }
    int best = 0;
    for (int r = 1; r < reps; r++) if (dt[r] < dt[best]) best = r;
    out->gbps = dt[best] > 0 ? (double)bytes / dt[best] / 1e9 : 0;
    out->kernel = rname[best % n_read];
    out->bytes = bytes;
done:
    if (sync_ok) {
        pthread_barrier_destroy(&sh.bar);
        pthread_cond_destroy(&sh.cv);
        pthread_mutex_destroy(&sh.mu);
    }
    free(jobs); free(th); free(dt);
    munmap(buf, len);
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
