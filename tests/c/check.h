/*
 * A tiny test harness for the dxforge C tests: CHECK macros that count
 * passes and failures, and a summary line "N passed, N failed" that CI reads.
 */
#ifndef DXFORGE_TEST_CHECK_H
#define DXFORGE_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "dxforge.h"

static int checks_passed = 0;
static int checks_failed = 0;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        if (cond) {                                                                        \
            checks_passed++;                                                               \
        } else {                                                                           \
            checks_failed++;                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error %d: %s)\n", __FILE__,     \
                    __LINE__, #cond, dxforge_last_error_code(), dxforge_last_error_message()); \
        }                                                                                  \
    } while (0)

/* A call expected to succeed. */
#define CHECK_OK(call) CHECK((call) == DXFORGE_OK)

/* A call expected to fail with `code`, with a message containing `needle`. */
#define CHECK_ERR(call, code, needle)                                                      \
    do {                                                                                   \
        int rc_ = (call);                                                                  \
        CHECK(rc_ == (code));                                                              \
        CHECK(dxforge_last_error_code() == (code));                                        \
        if (strstr(dxforge_last_error_message(), (needle)) == NULL) {                      \
            checks_failed++;                                                               \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,    \
                    dxforge_last_error_message(), (needle));                               \
        } else {                                                                           \
            checks_passed++;                                                               \
        }                                                                                  \
    } while (0)

#define CHECK_STR(actual, expected)                                                        \
    do {                                                                                   \
        const char *a_ = (actual);                                                         \
        const char *e_ = (expected);                                                       \
        if (a_ != NULL && strcmp(a_, e_) == 0) {                                           \
            checks_passed++;                                                               \
        } else {                                                                           \
            checks_failed++;                                                               \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,               \
                    a_ ? a_ : "(null)", e_);                                               \
        }                                                                                  \
    } while (0)

/* Prints the summary and returns the process exit code. */
static inline int check_summary(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif
