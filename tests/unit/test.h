/*
 * test.h — a minimal unit-test harness. A test file defines test functions, calls
 * RUN(fn) for each from main, and returns TEST_SUMMARY(). CHECK records a failure with
 * file:line and keeps going; REQUIRE returns from the current test function.
 * The summary prints "<name>: N passed, N failed" and the exit status is non-zero
 * if anything failed.
 */
#ifndef R1_TEST_H
#define R1_TEST_H
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <stdarg.h>
/* Prints the optional detail of a failed CHECK (format always starts with a space, so a
 * CHECK without a message is not a zero-length format). */
static void t_note_(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void t_note_(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static int t_checks_failed_ = 0, t_tests_passed_ = 0, t_tests_failed_ = 0, t_cur_failed_ = 0;

#define CHECK(cond, ...)                                                           \
    do {                                                                           \
        if (!(cond)) {                                                             \
            t_checks_failed_++; t_cur_failed_ = 1;                                  \
            fprintf(stderr, "  FAIL %s:%d: %s ", __FILE__, __LINE__, #cond);       \
            t_note_(" " __VA_ARGS__);                                              \
            fputc('\n', stderr);                                                   \
        }                                                                          \
    } while (0)
#define REQUIRE(cond, ...)                                                         \
    do {                                                                           \
        if (!(cond)) { CHECK(cond, __VA_ARGS__); return; }                         \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                      \
    CHECK(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g (tol %g)",       \
          (double)(a), (double)(b), (double)(tol))

#define RUN(fn)                                                                    \
    do {                                                                           \
        t_cur_failed_ = 0;                                                         \
        fn();                                                                      \
        if (t_cur_failed_) { t_tests_failed_++; fprintf(stderr, "not ok - %s\n", #fn); } \
        else { t_tests_passed_++; printf("ok - %s\n", #fn); }                      \
    } while (0)

#define TEST_SUMMARY()                                                             \
    (printf("%s: %d passed, %d failed\n", __FILE__, t_tests_passed_, t_tests_failed_), \
     t_tests_failed_ ? 1 : 0)
#endif
