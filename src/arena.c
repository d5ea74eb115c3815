/*
 * arena.c — the scratch stack of arena.h. See the contract there.
 */
#include "arena.h"
#include "common.h"
#include <stdlib.h>

enum { ARENA_ALIGN = 64 };

static size_t round_up(size_t n) { return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); }

void *r1_tmp_get(r1_arena *a, size_t bytes, r1_tmp *t) {
    const size_t n = round_up(bytes ? bytes : 1);
    *t = (r1_tmp){0};
    if (n < bytes) return NULL;   /* overflow */
    if (a && a->base && n <= a->cap - a->used) {
        t->p = a->base + a->used;
        t->mark = a->used;
        a->used += n;
    } else {
        if (!(t->p = r1_alloc_aligned(n))) return NULL;
        t->heap = true;
        if (a) a->n_heap++;
    }
    if (a) {
        t->a = a;
        t->n = n;
        a->depth += n;
        if (a->depth > a->want) a->want = a->depth;
    }
    return t->p;
}

void r1_tmp_put(r1_tmp *t) {
    if (!t->p) return;
    if (t->heap) r1_free_aligned(t->p);
    else t->a->used = t->mark;
    if (t->a) t->a->depth -= t->n;
    *t = (r1_tmp){0};
}

bool r1_arena_fit(r1_arena *a) {
    if (a->depth != 0 || a->want <= a->cap || (a->base && !a->owned)) return true;
    const size_t n = round_up(a->want);
    char *b = r1_alloc_aligned(n);
    if (!b) return false;
    if (a->owned) r1_free_aligned(a->base);
    a->base = b;
    a->cap = n;
    a->owned = true;
    return true;
}

void r1_arena_over(r1_arena *a, void *buf, size_t bytes) {
    /* the usable part starts at the first aligned byte of buf */
    const uintptr_t p = (uintptr_t)buf, q = (p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
    *a = (r1_arena){0};
    if (!buf || bytes < q - p) return;
    a->base = (char *)q;
    a->cap = (bytes - (q - p)) & ~(size_t)(ARENA_ALIGN - 1);
}

void r1_arena_free(r1_arena *a) {
    if (a->owned) r1_free_aligned(a->base);
    *a = (r1_arena){0};
}
