/* common.c — error helpers, aligned allocation, clock. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

const char *r1_status_str(r1_status s) {
    switch (s) {
    case R1_OK: return "ok";
    case R1_ERR_IO: return "i/o error";
    case R1_ERR_FORMAT: return "invalid or corrupt data";
    case R1_ERR_UNSUPPORTED: return "unsupported";
    case R1_ERR_INVALID_ARG: return "invalid argument";
    case R1_ERR_NOMEM: return "out of memory";
    case R1_ERR_CONTEXT_FULL: return "context full";
    case R1_ERR_CANCELLED: return "cancelled";
    case R1_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

r1_status r1_set_error(r1_error *err, r1_status s, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = s;
    }
    return s;
}

void *r1_alloc_aligned(size_t size) {
    if (size == 0) return NULL;
    void *p = NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size) return NULL;
    if (posix_memalign(&p, 64, rounded) != 0) return NULL;
    return p;
}

void r1_free_aligned(void *p) { free(p); }

double r1_time_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void *r1_map_aligned(size_t len, size_t align) {
    if (len > SIZE_MAX - align) return NULL;
    /* map align more than asked, then trim the unaligned head and the tail */
    char *raw = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *base = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    if (base > raw) munmap(raw, (size_t)(base - raw));
    if (base + len < raw + len + align) munmap(base + len, (size_t)(raw + len + align - (base + len)));
    return base;
}
