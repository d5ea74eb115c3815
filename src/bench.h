/*
 * bench.h — measuring helpers for `r1 bench` (internal).
 *
 *   r1_bench_weight_bytes   bytes of weights one decoded token reads, from the GGUF tensor
 *                           table: every tensor except token_embd.weight (a row gather) —
 *                           unless the model has no output.weight, in which case the tied
 *                           embedding matrix is read whole by the output projection; routed
 *                           expert tensors ("*_exps.*") count n_expert_used / n_expert of their
 *                           size (the expected share one token touches).
 *   r1_bench_bandwidth      STREAM-like read probe: n threads each sum their slice of a
 *                           buffer (sized ≫ last-level cache) held in 2 MiB huge pages like
 *                           the weights, cycling through the read loops the CPU runs
 *                           (AVX-512, AVX2, 64-bit); best of `reps` timed passes, GB/s
 *                           (1e9 bytes/s).
 *   r1_bench_stats          median / min / max / stdev of a sample.
 *   r1_bench_peak_rss_bytes peak resident set size of this process (getrusage).
 */
#ifndef R1_BENCH_H
#define R1_BENCH_H
#include "r1.h"

typedef struct r1_bench_weights {
    uint64_t bytes_per_token;   /* expected weight bytes read per decoded token          */
    uint64_t dense_bytes;       /* non-expert tensors counted above                        */
    uint64_t expert_bytes;      /* all routed-expert tensors (before the n_used share)    */
    int      n_expert, n_expert_used;  /* 0 for dense models                               */
    const char *main_type;      /* static name of the type holding the most bytes ("q8_0") */
} r1_bench_weights;

/* Reads the tensor table of the GGUF file at `path` (all parts of a split file). */
r1_status r1_bench_weight_bytes(const char *path, r1_bench_weights *out, r1_error *err);

/* Result of the read probe. */
typedef struct r1_bench_bw {
    double      gbps;       /* best pass: bytes / time of the slowest thread, 1e9 bytes/s      */
    size_t      bytes;      /* bytes read per pass (the request rounded down to 64 KiB per thread) */
    const char *kernel;     /* static name of the fastest pass's read loop: "avx512", "avx2"
                             * or "portable" (64-bit loads)                                   */
    bool        hugepages;  /* madvise(MADV_HUGEPAGE) accepted on the buffer                  */
} r1_bench_bw;

/* Maps about `bytes` (n_threads slices of a multiple of 64 KiB, at least 64 KiB each) of
 * 2 MiB-aligned anonymous memory advised MADV_HUGEPAGE, writes it once (faulting it in),
 * starts n_threads - 1 threads (not pinned: the engine's pool does not pin either) and makes
 * `reps` passes in which every thread reads its slice once, all starting together at a
 * barrier; *out gets the fastest pass. Pass r uses read loop r % k of the k this CPU runs
 * (r1_isa_active: AVX-512 and AVX2 where available, always portable 64-bit loads; four
 * independent accumulators, no software prefetch): which is fastest depends on the machine.
 * Thread creation is outside the timed passes. */
r1_status r1_bench_bandwidth(size_t bytes, int n_threads, int reps, r1_bench_bw *out, r1_error *err);

typedef struct r1_bench_stat { double median, min, max, stdev; } r1_bench_stat;
/* Statistics of x[0..n) (n >= 1; x is reordered). */
r1_bench_stat r1_bench_stats(double *x, int n);

uint64_t r1_bench_peak_rss_bytes(void);

/* Size of the largest CPU cache cpu0 reports under /sys/devices/system/cpu/cpu0/cache
 * (normally the shared L3), 0 if unknown. */
uint64_t r1_bench_llc_bytes(void);
#endif
