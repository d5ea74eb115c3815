/*
 * threadpool.h — a persistent pool of worker threads with a low-latency parallel-for
 * (internal).
 *
 * A pool of n threads = n-1 workers + the calling thread. threadpool_run(pool, fn, arg,
 * n_tasks) calls fn(arg, i) exactly once for every i in [0, n_tasks), spread over all n
 * threads (tasks are claimed from a shared atomic counter, so uneven tasks balance), and
 * returns when every call has finished. A decode step issues hundreds of small jobs, so
 * idle workers spin briefly on the job counter before sleeping on a condition variable.
 *
 * Invariants: one threadpool_run at a time per pool (the pool belongs to one context,
 * which is used by one thread at a time); fn must not call threadpool_run on the same
 * pool. No global state: every pool is independent.
 */
#ifndef R1_THREADPOOL_H
#define R1_THREADPOOL_H

#include "common.h"

typedef struct threadpool threadpool;
typedef void (*threadpool_fn)(void *arg, int task);

/* Creates a pool of n_threads (>= 1) threads counting the caller, i.e. n_threads-1
 * workers. Returns R1_ERR_NOMEM / R1_ERR_INTERNAL (thread creation) on failure. */
r1_status threadpool_create(int n_threads, threadpool **out, r1_error *err);
/* Stops and joins the workers. Accepts NULL. */
void threadpool_free(threadpool *pool);
int  threadpool_n_threads(const threadpool *pool);
/* Runs fn(arg, i) for i in [0, n_tasks) on all threads; returns when all are done.
 * n_tasks <= 0 does nothing; pool == NULL runs the tasks on the caller. */
void threadpool_run(threadpool *pool, threadpool_fn fn, void *arg, int n_tasks);

/* Default thread count: physical cores (distinct (package, core) pairs under
 * /sys/devices/system/cpu/cpuN/topology), else the online CPU count, else 1. */
int threadpool_default_threads(void);

#endif
