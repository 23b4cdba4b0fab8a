/*
 * A small test harness for the qpik C ABI tests (one header, no dependencies).
 *
 * A test file defines cases with TEST(name) and ends with QT_MAIN(QT_CASE(a), QT_CASE(b)...).
 * `prog` runs every case; `prog NAME` runs one (ctest registers each TEST(name) line found
 * in the source, see tests/c/CMakeLists.txt). The exit status is 0 only when every check
 * passed. QPIK_TEST_LIGHT=1 (set for the valgrind runs) asks cases for smaller workloads;
 * QPIK_TEST_SKIP=a,b skips those cases when all run (known bugs, see tests/c/CMakeLists.txt).
 *
 * CHECK_STATUS(want, needle, call) is the heart of the error tests: it first leaves a known
 * "poison" message in qpik_last_error(), runs `call`, and requires the exact status; for a
 * failure it requires a fresh message that starts with the function's name and contains
 * `needle`; for success it requires the message untouched (successful calls leave it).
 */
#ifndef QPIK_TEST_HARNESS_H
#define QPIK_TEST_HARNESS_H

#include "qpik.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef QPIK_TEST_DATA_DIR
#error "define QPIK_TEST_DATA_DIR (the repository's tests/data)"
#endif

typedef struct qt_case {
    const char *name;
    void (*fn)(void);
} qt_case;

static int qt_failures;
static long qt_checks;
static const char *qt_current = "";

#define TEST(name) static void name(void)
#define QT_CASE(name) {#name, name}

static inline void qt_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    qt_failures++;
    fprintf(stderr, "%s:%d: [%s] FAILED: ", file, line, qt_current);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* A check that returns whether it passed, so a test can stop before using a bad result. */
#define CHECK(cond) qt_check((cond) ? 1 : 0, #cond, __FILE__, __LINE__)
static inline int qt_check(int ok, const char *what, const char *file, int line) {
    qt_checks++;
    if (!ok) {
        qt_fail(file, line, "%s", what);
    }
    return ok;
}

#define CHECK_MSG(cond, ...)                                                                 \
    do {                                                                                     \
        qt_checks++;                                                                         \
        if (!(cond)) {                                                                       \
            qt_fail(__FILE__, __LINE__, __VA_ARGS__);                                        \
        }                                                                                    \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                   \
    do {                                                                                     \
        long long qt_a_ = (long long)(a), qt_b_ = (long long)(b);                            \
        qt_checks++;                                                                         \
        if (qt_a_ != qt_b_) {                                                                \
            qt_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, qt_a_, qt_b_);     \
        }                                                                                    \
    } while (0)

#define CHECK_STR(a, b)                                                                      \
    do {                                                                                     \
        const char *qt_a_ = (a), *qt_b_ = (b);                                               \
        qt_checks++;                                                                         \
        if (qt_a_ == NULL || qt_b_ == NULL || strcmp(qt_a_, qt_b_) != 0) {                   \
            qt_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                \
                    qt_a_ ? qt_a_ : "(null)", qt_b_ ? qt_b_ : "(null)");                     \
        }                                                                                    \
    } while (0)

#define CHECK_CONTAINS(haystack, needle)                                                     \
    do {                                                                                     \
        const char *qt_h_ = (haystack), *qt_n_ = (needle);                                   \
        qt_checks++;                                                                         \
        if (qt_h_ == NULL || strstr(qt_h_, qt_n_) == NULL) {                                 \
            qt_fail(__FILE__, __LINE__, "\"%s\" does not contain \"%s\"",                    \
                    qt_h_ ? qt_h_ : "(null)", qt_n_);                                        \
        }                                                                                    \
    } while (0)

/* The message every CHECK_STATUS leaves before its call (a qpik error of a known kind). */
static char qt_poison_msg[512];
static inline void qt_poison(void) {
    qpik_status s = qpik_catalog_name((size_t)-1, NULL, 0, NULL);
    const char *m = qpik_last_error();
    if (s != QPIK_ERR_NOT_FOUND || strncmp(m, "qpik_catalog_name: ", 19) != 0) {
        qt_fail(__FILE__, __LINE__, "poison call gave %s \"%s\"", qpik_status_name(s), m);
    }
    snprintf(qt_poison_msg, sizeof qt_poison_msg, "%s", m);
}

static inline int qt_check_status(qpik_status got, qpik_status want, const char *needle,
                           const char *call, const char *file, int line) {
    const char *msg = qpik_last_error();
    char fn[128];
    size_t n = strcspn(call, "( ");
    qt_checks++;
    if (n >= sizeof fn) {
        n = sizeof fn - 1;
    }
    memcpy(fn, call, n);
    fn[n] = '\0';
    if (got != want) {
        qt_fail(file, line, "%s\n    gave %s, want %s; last error: \"%s\"", call,
                qpik_status_name((int32_t)got), qpik_status_name((int32_t)want), msg);
        return 0;
    }
    if (want == QPIK_OK) {
        if (strcmp(msg, qt_poison_msg) != 0) {
            qt_fail(file, line, "%s\n    succeeded but changed the last error to \"%s\"", call,
                    msg);
            return 0;
        }
        return 1;
    }
    if (strcmp(msg, qt_poison_msg) == 0) {
        qt_fail(file, line, "%s\n    failed with %s but left the previous last error", call,
                qpik_status_name((int32_t)got));
        return 0;
    }
    if (strncmp(msg, fn, n) != 0 || strncmp(msg + n, ": ", 2) != 0) {
        qt_fail(file, line, "%s\n    last error \"%s\" does not start with \"%s: \"", call, msg,
                fn);
        return 0;
    }
    if (needle != NULL && strstr(msg, needle) == NULL) {
        qt_fail(file, line, "%s\n    last error \"%s\" does not mention \"%s\"", call, msg,
                needle);
        return 0;
    }
    return 1;
}

#define CHECK_STATUS(want, needle, call)                                                     \
    do {                                                                                     \
        qpik_status qt_s_;                                                                   \
        qt_poison();                                                                         \
        qt_s_ = (call);                                                                      \
        qt_check_status(qt_s_, (want), (needle), #call, __FILE__, __LINE__);                 \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(QPIK_OK, NULL, call)

/* Like CHECK_OK but stops the test case (returns) on failure. */
#define REQUIRE_OK(call)                                                                     \
    do {                                                                                     \
        qpik_status qt_s_;                                                                   \
        qt_poison();                                                                         \
        qt_s_ = (call);                                                                      \
        if (!qt_check_status(qt_s_, QPIK_OK, NULL, #call, __FILE__, __LINE__)) {             \
            return;                                                                          \
        }                                                                                    \
    } while (0)

#define REQUIRE(cond)                                                                        \
    do {                                                                                     \
        if (!CHECK(cond)) {                                                                  \
            return;                                                                          \
        }                                                                                    \
    } while (0)

/* ---- helpers ------------------------------------------------------------------------ */

static inline int qt_light(void) {
    const char *v = getenv("QPIK_TEST_LIGHT");
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

/* Path of a file in tests/data (static buffer per call site is enough for the tests). */
static inline const char *qt_data(const char *name) {
    static char buf[4][1024];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", QPIK_TEST_DATA_DIR, name);
    return p;
}

/* A fresh temporary directory (caller frees the string and calls qt_rmdir). */
static inline char *qt_tempdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    char *p = (char *)malloc(1024);
    if (p == NULL) {
        abort();
    }
    snprintf(p, 1024, "%s/qpik-c-%s-XXXXXX", base && base[0] ? base : "/tmp", tag);
    if (mkdtemp(p) == NULL) {
        perror("mkdtemp");
        abort();
    }
    return p;
}

/* Number of entries in a directory (not counting . and ..), -1 if it cannot be read. */
static inline int qt_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Remove a flat temporary directory and free its name. */
static inline void qt_rmdir(char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[2048];
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

static inline int qt_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Read a whole file; *len receives its size. NULL on failure. Free with free(). */
static inline unsigned char *qt_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char *)malloc(n > 0 ? (size_t)n : 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static inline int qt_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    int ok;
    if (f == NULL) {
        return 0;
    }
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static inline qpik_options *qt_options(const char *const *kv) {
    qpik_options *o = NULL;
    if (qpik_options_new(&o) != QPIK_OK) {
        abort();
    }
    for (; kv != NULL && kv[0] != NULL; kv += 2) {
        if (qpik_options_set(o, kv[0], kv[1]) != QPIK_OK) {
            fprintf(stderr, "qt_options: %s = %s: %s\n", kv[0], kv[1], qpik_last_error());
            abort();
        }
    }
    return o;
}

static inline double qt_max_abs_diff_f(const float *a, const float *b, size_t n) {
    double m = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) {
            m = d; /* also catches NaN */
        }
    }
    return m;
}

static inline int qt_all_finite_f(const float *a, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        if (!isfinite(a[i])) {
            return 0;
        }
    }
    return 1;
}

/* ---- main ----------------------------------------------------------------------------- */

/* Whether `name` is in the comma-separated list `list`. */
static inline int qt_listed(const char *list, const char *name) {
    size_t n = strlen(name);
    while (list != NULL && *list != '\0') {
        size_t len = strcspn(list, ",");
        if (len == n && strncmp(list, name, n) == 0) {
            return 1;
        }
        list += len + (list[len] == ',');
    }
    return 0;
}

static inline int qt_run(const qt_case *cases, size_t n, int argc, char **argv) {
    size_t i;
    int ran = 0;
    setvbuf(stdout, NULL, _IONBF, 0);
    for (i = 0; i < n; i++) {
        int before = qt_failures;
        if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) {
            continue;
        }
        if (argc <= 1 && qt_listed(getenv("QPIK_TEST_SKIP"), cases[i].name)) {
            printf("skip %s (QPIK_TEST_SKIP)\n", cases[i].name);
            ran++;
            continue;
        }
        qt_current = cases[i].name;
        cases[i].fn();
        ran++;
        printf("%s %s\n", qt_failures == before ? "ok  " : "FAIL", cases[i].name);
    }
    if (ran == 0) {
        fprintf(stderr, "no test named '%s'\n", argc > 1 ? argv[1] : "");
        return 2;
    }
    printf("%d case(s), %ld check(s), %d failure(s)\n", ran, qt_checks, qt_failures);
    return qt_failures == 0 ? 0 : 1;
}

#define QT_MAIN(...)                                                                         \
    int main(int argc, char **argv) {                                                        \
        static const qt_case qt_cases_[] = {__VA_ARGS__};                                    \
        return qt_run(qt_cases_, sizeof qt_cases_ / sizeof qt_cases_[0], argc, argv);        \
    }

#endif /* QPIK_TEST_HARNESS_H */
