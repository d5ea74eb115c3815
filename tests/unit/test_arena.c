/*
 * test_arena.c — the scratch stack of src/arena.h: alignment, last-in-first-out reuse,
 * the malloc fallback when a request does not fit (counted, and remembered in `want`),
 * r1_arena_fit growing the buffer so the same sequence then needs no malloc, arenas over
 * caller memory that never grow, and size overflow.
 */
#include "arena.h"
#include "test.h"
#include <stdint.h>
#include <stdlib.h>

static int aligned64(const void *p) { return ((uintptr_t)p & 63) == 0; }

/* the request pattern of one "forward call": nested gets, released in reverse */
static void one_call(r1_arena *a, size_t big) {
    r1_tmp t1, t2, t3;
    char *p1 = r1_tmp_get(a, 100, &t1);
    char *p2 = r1_tmp_get(a, big, &t2);
    CHECK(p1 && p2 && aligned64(p1) && aligned64(p2), "aligned");
    memset(p2, 0xAB, big);   /* writable (ASan checks the bounds) */
    r1_tmp_put(&t2);
    char *p3 = r1_tmp_get(a, 7, &t3);
    CHECK(p3 != NULL, "-");
    if (!t3.heap && !t1.heap) CHECK(p3 == p1 + 128, "reuses the popped space: %p vs %p", (void *)p3, (void *)(p1 + 128));
    r1_tmp_put(&t3);
    r1_tmp_put(&t1);
    r1_tmp_put(&t1);   /* idempotent */
    CHECK(a->used == 0 && a->depth == 0, "all popped: used %zu", a->used);
}

static void test_grow_then_no_heap(void) {
    r1_arena a = {0};
    one_call(&a, 5000);
    CHECK(a.n_heap == 3, "empty arena: every request from malloc (%llu)", (unsigned long long)a.n_heap);
    CHECK(a.want == 128 + 5056, "want = deepest stack: %zu", a.want);
    CHECK(r1_arena_fit(&a) && a.cap >= a.want, "fit: cap %zu", a.cap);
    a.n_heap = 0;
    for (int i = 0; i < 3; i++) one_call(&a, 5000);
    CHECK(a.n_heap == 0, "after fit: no malloc (%llu)", (unsigned long long)a.n_heap);
    one_call(&a, 9000);   /* a bigger call: the part that does not fit spills, then fits */
    CHECK(a.n_heap == 1, "bigger request spills once (%llu)", (unsigned long long)a.n_heap);
    CHECK(r1_arena_fit(&a), "-");
    a.n_heap = 0;
    one_call(&a, 9000);
    one_call(&a, 10);
    CHECK(a.n_heap == 0, "-");
    r1_tmp t;
    CHECK(r1_tmp_get(&a, 1, &t) != NULL, "-");
    CHECK(r1_arena_fit(&a), "fit with something pushed is a no-op");
    r1_tmp_put(&t);
    r1_arena_free(&a);
    CHECK(a.base == NULL && a.cap == 0, "-");
}

static void test_over_caller_memory(void) {
    static char buf[1000];
    r1_arena a;
    r1_arena_over(&a, buf + 3, 900);
    CHECK(aligned64(a.base) && a.cap <= 900 && a.cap >= 900 - 128 && a.cap % 64 == 0, "cap %zu", a.cap);
    r1_tmp t1, t2;
    char *p = r1_tmp_get(&a, 640, &t1);
    CHECK(p && p >= buf && p + 640 <= buf + 1000 && !t1.heap, "from the buffer");
    char *q = r1_tmp_get(&a, 640, &t2);
    CHECK(q && t2.heap && a.n_heap == 1, "does not fit: malloc");
    r1_tmp_put(&t2);
    r1_tmp_put(&t1);
    const char *base = a.base;
    CHECK(r1_arena_fit(&a) && a.base == base, "never replaced");
    r1_arena_free(&a);   /* does not free caller memory */
    r1_arena_over(&a, NULL, 100);
    CHECK(a.cap == 0, "-");
}

static void test_null_arena_and_overflow(void) {
    r1_tmp t;
    void *p = r1_tmp_get(NULL, 4096, &t);
    CHECK(p && aligned64(p) && t.heap && t.a == NULL, "NULL arena: malloc");
    r1_tmp_put(&t);
    r1_arena a = {0};
    CHECK(r1_tmp_get(&a, SIZE_MAX - 10, &t) == NULL, "size overflow is refused");
    r1_arena_free(&a);
}

int main(void) {
    RUN(test_grow_then_no_heap);
    RUN(test_over_caller_memory);
    RUN(test_null_arena_and_overflow);
    return TEST_SUMMARY();
}
