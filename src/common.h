/*
 * common.h — small helpers shared by every module (internal).
 */
#ifndef R1_COMMON_H
#define R1_COMMON_H

#include "r1.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define R1_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define R1_MIN(a, b) ((a) < (b) ? (a) : (b))
#define R1_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Fills *err (if non-NULL) with status s and a printf-style message; returns s.
 * Usage: return r1_set_error(err, R1_ERR_FORMAT, "%s: truncated", path); */
r1_status r1_set_error(r1_error *err, r1_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Overflow-checked size arithmetic: return false on overflow, leaving *out unspecified. */
static inline int r1_mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline int r1_add_ok(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }

/* 64-byte aligned allocation (free with r1_free_aligned). NULL on failure or size 0. */
void *r1_alloc_aligned(size_t size);
void  r1_free_aligned(void *p);
/* len bytes (a multiple of align; align a power of two >= the page size, e.g. 2 MiB for a
 * huge page) of zero-filled private anonymous memory starting at a multiple of align, or
 * NULL (errno from mmap). Release with munmap(p, len). */
void *r1_map_aligned(size_t len, size_t align);

/* Monotonic time in seconds. */
double r1_time_s(void);

#endif
