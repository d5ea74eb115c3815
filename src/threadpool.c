/*
 * threadpool.c — see threadpool.h.
 *
 * Dispatch protocol (all shared fields are atomics):
 *   caller: fn/arg/n_tasks ← job; next ← 0; pending ← n_workers; generation++ (release);
 *           wake sleepers (under the mutex); run tasks itself; wait until pending == 0.
 *   worker: wait until generation changes (spin, then sleep on the condvar); claim task
 *           indices with fetch_add(next) until >= n_tasks; pending-- (release).
 * Because the caller waits for pending == 0, no worker can still be reading the previous
 * job when the next one is published.
 */
#include "threadpool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#define TP_SPIN 20000   /* polls of the generation counter before sleeping */

struct threadpool {
    int              n_threads;   /* workers + caller                          */
    pthread_t       *threads;     /* [n_threads - 1]                           */
    int              n_started;   /* workers actually created                  */
    pthread_mutex_t  mu;
    pthread_cond_t   cv;
    int              sleepers;    /* workers waiting on cv (under mu)          */
    atomic_uint      generation;  /* bumped once per job                       */
    atomic_int       next;        /* next unclaimed task index                 */
    atomic_int       pending;     /* workers not yet done with the current job */
    atomic_bool      stop;
    threadpool_fn    fn;          /* current job (valid while pending > 0)     */
    void            *arg;
    int              n_tasks;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Claims and runs tasks of the current job until none are left. */
static void run_tasks(threadpool *p) {
    for (;;) {
        int i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->n_tasks) break;
        p->fn(p->arg, i);
    }
}

static void *worker_main(void *vp) {
    threadpool *p = vp;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        for (int s = 0; g == seen && s < TP_SPIN && !atomic_load(&p->stop); s++) {
            cpu_relax();
            g = atomic_load_explicit(&p->generation, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            p->sleepers++;
            while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
                   !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            p->sleepers--;
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = g;
        run_tasks(p);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
    return NULL;
}

r1_status threadpool_create(int n_threads, threadpool **out, r1_error *err) {
    *out = NULL;
    if (n_threads < 1) return r1_set_error(err, R1_ERR_INVALID_ARG, "threads: %d (must be >= 1)", n_threads);
    threadpool *p = calloc(1, sizeof *p);
    if (!p) return r1_set_error(err, R1_ERR_NOMEM, "thread pool: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->stop, false);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) { threadpool_free(p); return r1_set_error(err, R1_ERR_NOMEM, "thread pool: out of memory"); }
        for (int i = 0; i < n_threads - 1; i++) {
            if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
                threadpool_free(p);
                return r1_set_error(err, R1_ERR_INTERNAL, "thread pool: cannot create thread %d of %d", i + 1, n_threads);
            }
            p->n_started++;
        }
    }
    *out = p;
    return R1_OK;
}

void threadpool_free(threadpool *p) {
    if (!p) return;
    atomic_store(&p->stop, true);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

int threadpool_n_threads(const threadpool *p) { return p ? p->n_threads : 1; }

void threadpool_run(threadpool *p, threadpool_fn fn, void *arg, int n_tasks) {
    if (n_tasks <= 0) return;
    if (!p || p->n_started == 0 || n_tasks == 1) {
        for (int i = 0; i < n_tasks; i++) fn(arg, i);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->n_started, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_mutex_lock(&p->mu);
    if (p->sleepers > 0) pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p);
    for (int s = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; s++) {
        if (s < TP_SPIN) cpu_relax(); else sched_yield();
    }
}

int threadpool_default_threads(void) {
    /* Count distinct (package, core) pairs among the CPUs this process may run on. */
    cpu_set_t set;
    int have_set = sched_getaffinity(0, sizeof set, &set) == 0;
    enum { MAXC = 1024 };
    static const int max_cpus = MAXC;
    long pairs[MAXC];
    int n_pairs = 0;
    for (int c = 0; c < max_cpus && c < CPU_SETSIZE; c++) {
        if (have_set && !CPU_ISSET(c, &set)) continue;
        char path[128];
        long core = -1, pkg = -1;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", c);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fscanf(f, "%ld", &core) != 1) core = -1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", c);
        f = fopen(path, "r");
        if (f) { if (fscanf(f, "%ld", &pkg) != 1) pkg = 0; fclose(f); }
        if (core < 0) continue;
        long key = pkg * 1000003L + core;
        int dup = 0;
        for (int i = 0; i < n_pairs; i++) if (pairs[i] == key) { dup = 1; break; }
        if (!dup) pairs[n_pairs++] = key;
    }
    if (n_pairs > 0) return n_pairs;
    if (have_set && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}
