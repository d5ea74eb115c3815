/*
 * arena.h — scratch memory for the forward pass without per-call allocation (internal).
 *
 * An r1_arena is one contiguous buffer used as a stack by ONE thread: the thread that
 * drives a forward call (mla.c, moe.c). Parallel workers get slices of what that thread
 * pushed, or an r1_arena of their own over such a slice (r1_arena_over).
 *
 * Contract:
 *   r1_tmp_get(a, bytes, &t)  returns `bytes` of 64-byte aligned memory. From the arena
 *       when a != NULL and it fits on top of what is pushed; otherwise from malloc (then
 *       a->n_heap counts it). Either way a->want grows to the stack depth this request
 *       needed, so r1_arena_fit can size the arena for next time. NULL only when malloc
 *       fails (the caller reports R1_ERR_NOMEM).
 *   r1_tmp_put(&t)            gives it back: pops the arena to where it was before the get
 *       (gets and puts must nest, last in first out), or frees heap memory. Idempotent.
 *   r1_arena_fit(a)           only when nothing is pushed: grows the buffer to `want`
 *       (contents are not kept). Returns false if that allocation failed; the arena stays
 *       as it was and keeps working (requests that do not fit go to malloc).
 *   r1_arena_over(a, buf, n)  an arena over caller memory that never grows (fit is a no-op).
 *   r1_arena_free(a)          frees an owned buffer; the arena is then empty and usable.
 * So a context that calls r1_arena_fit before each forward call allocates only when a
 * call needs more scratch than any call before it (the first prefill, the first decode
 * step, a longer context); a steady decode loop allocates nothing (tests/unit/test_arena.c,
 * test_moe.c, test_mla.c check n_heap).
 */
#ifndef R1_ARENA_H
#define R1_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct r1_arena {
    char    *base;     /* 64-byte aligned, cap bytes                                */
    size_t   cap;      /* bytes in base                                             */
    size_t   used;     /* bytes pushed (a multiple of 64)                           */
    size_t   depth;    /* bytes of all live requests, pushed or from malloc         */
    size_t   want;     /* largest depth so far: what r1_arena_fit allocates         */
    uint64_t n_heap;   /* requests served by malloc because the arena was too small */
    bool     owned;    /* base belongs to the arena (r1_arena_fit may replace it)   */
} r1_arena;

typedef struct r1_tmp {
    void     *p;
    r1_arena *a;       /* the arena of the request (NULL: none)                     */
    size_t    mark;    /* a->used before the push                                   */
    size_t    n;       /* rounded size, counted in a->depth                         */
    bool      heap;    /* p came from malloc                                        */
} r1_tmp;

void *r1_tmp_get(r1_arena *a, size_t bytes, r1_tmp *t);
void  r1_tmp_put(r1_tmp *t);
bool  r1_arena_fit(r1_arena *a);
void  r1_arena_over(r1_arena *a, void *buf, size_t bytes);
void  r1_arena_free(r1_arena *a);

#endif
