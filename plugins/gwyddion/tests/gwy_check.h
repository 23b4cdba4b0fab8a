/*
 * The check macros of the Gwyddion tests (gwy_headless.c, gwy_createc.c): a failed check
 * prints where and why and counts in `failures_in_case`, which each program defines; REQUIRE
 * also ends the case (a void function).
 */
#ifndef QPIK_GWY_CHECK_H
#define QPIK_GWY_CHECK_H

#include <stdio.h>

extern int failures_in_case;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #cond);               \
            failures_in_case++;                                                              \
        }                                                                                    \
    } while (0)
#define CHECK_MSG(cond, ...)                                                                 \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__);                          \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
            failures_in_case++;                                                              \
        }                                                                                    \
    } while (0)
#define REQUIRE(cond)                                                                        \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: FAILED (stops the case): %s\n", __FILE__, __LINE__,      \
                    #cond);                                                                  \
            failures_in_case++;                                                              \
            return;                                                                          \
        }                                                                                    \
    } while (0)

#endif
