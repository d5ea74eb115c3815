/* test_threadpool.c — the pool runs every task exactly once, for many jobs of odd sizes,
 * with 1..5 threads; the default thread count is sane. */
#include "test.h"
#include "threadpool.h"
#include <stdatomic.h>

typedef struct { atomic_int *hits; int n; } hit_job;
static void hit_task(void *arg, int i) {
    hit_job *j = arg;
    if (i >= 0 && i < j->n) atomic_fetch_add(&j->hits[i], 1);
}

static void test_every_task_once(void) {
    for (int nth = 1; nth <= 5; nth++) {
        threadpool *p = NULL;
        REQUIRE(threadpool_create(nth, &p, NULL) == R1_OK, "create %d", nth);
        CHECK(threadpool_n_threads(p) == nth, "n_threads");
        static atomic_int hits[1000];
        int bad = 0;
        for (int job = 0; job < 600; job++) {
            int n = (job * 37) % 997 + (job % 3 == 0 ? 0 : 1);   /* includes 0 and 1 */
            for (int i = 0; i < n; i++) atomic_store(&hits[i], 0);
            hit_job j = {hits, n};
            threadpool_run(p, hit_task, &j, n);
            for (int i = 0; i < n; i++) if (atomic_load(&hits[i]) != 1) bad++;
        }
        CHECK(bad == 0, "threads %d: %d tasks lost or duplicated", nth, bad);
        threadpool_free(p);
    }
}

typedef struct { double *out; int n_tasks; } sum_job;
static void sum_task(void *arg, int i) {
    sum_job *j = arg;
    double s = 0;
    for (int k = 0; k < 1000 + i * 10; k++) s += k * 0.5;   /* uneven work */
    j->out[i] = s;
}

static void test_uneven_and_null_pool(void) {
    double a[77], b[77];
    sum_job ja = {a, 77}, jb = {b, 77};
    threadpool *p = NULL;
    REQUIRE(threadpool_create(3, &p, NULL) == R1_OK, "create");
    threadpool_run(p, sum_task, &ja, 77);
    threadpool_run(NULL, sum_task, &jb, 77);   /* NULL pool: serial */
    int diff = 0;
    for (int i = 0; i < 77; i++) diff += a[i] != b[i];
    CHECK(diff == 0, "%d results differ", diff);
    threadpool_free(p);
    threadpool_free(NULL);
}

static void test_errors_and_default(void) {
    threadpool *p = (threadpool *)1;
    r1_error e = {0};
    CHECK(threadpool_create(0, &p, &e) == R1_ERR_INVALID_ARG, "0 threads");
    CHECK(p == NULL, "out cleared");
    CHECK(strstr(e.msg, "threads") != NULL, "%s", e.msg);
    int d = threadpool_default_threads();
    CHECK(d >= 1 && d <= 4096, "%d", d);
}

int main(void) {
    RUN(test_every_task_once);
    RUN(test_uneven_and_null_pool);
    RUN(test_errors_and_default);
    return TEST_SUMMARY();
}
