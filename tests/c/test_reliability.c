/*
 * Issue 11 from C: no input may kill or hang the host. One case per class of the issue,
 * run by ctest and whole under valgrind (memcheck: no invalid access or leak on any of
 * these paths). Cases that could exhaust memory run in a forked child under an
 * address-space limit (setrlimit; not under valgrind, whose own mappings exceed it), and
 * cases that could hang run in a child the parent kills after a time limit, so that a
 * regression fails the case instead of taking the machine down.
 *
 * Under valgrind all cases run in one process, in QT_MAIN's order: fork_before_networks
 * must come before the first case that runs the networks.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

static const char *const tiny_training[] = {
    "train.epochs", "1", "train.steps_per_epoch", "1", "train.batch_size", "2",
    "train.channels", "4,4,8", "seed", "1", NULL};

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Wait for `pid` up to `limit_s` seconds; kills it then. Returns its exit code, 128 + the
 * signal that ended it, or -1 when it had to be killed (a hang). */
static int wait_child(pid_t pid, double limit_s) {
    double t0 = now_s();
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            break;
        }
        if (r < 0 && errno != EINTR) {
            return -2;
        }
        if (now_s() - t0 > limit_s) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        {
            struct timespec nap = {0, 20000000};
            nanosleep(&nap, NULL);
        }
    }
    if (WIFEXITED(st)) {
        return WEXITSTATUS(st);
    }
    return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -3;
}

/* A child's verdict travels on a pipe, not in its exit status: under valgrind a forked
 * child's exit status reports the leak check of a process that ends with _exit. */
static void child_done(int fd, int ok) {
    char b = ok ? '0' : '1';
    ssize_t n = write(fd, &b, 1);
    (void)n;
    _exit(ok ? 0 : 1);
}

/* Waits for the child (killed after `limit_s`): 0 when it reported success, -1 when it hung,
 * 1 otherwise. Closes `fd`. */
static int child_verdict(pid_t pid, int fd, double limit_s) {
    char b = 'x';
    int w = wait_child(pid, limit_s);
    ssize_t n = read(fd, &b, 1);
    close(fd);
    if (w == -1) {
        return -1;
    }
    return n == 1 && b == '0' ? 0 : 1;
}

/* In a child: limit the address space (not under valgrind). */
static void limit_memory(double bytes) {
    struct rlimit r;
    if (qt_light()) {
        return;
    }
    r.rlim_cur = r.rlim_max = (rlim_t)bytes;
    if (setrlimit(RLIMIT_AS, &r) != 0) {
        perror("setrlimit");
        _exit(90);
    }
}

/* Class 1: accepted sizes that allocated without bound (1e12 observations, 2^63, a product
 * that wraps to 0) are refused with QPIK_ERR_MEMORY_BUDGET before allocating, under a
 * 2 GiB address-space limit, and leave no file behind. */
TEST(budget_refused_before_allocating) {
    static const char *const counts[][2] = {
        {"1", "1000000000000"}, {"1", "9223372036854775808"}, {"2", "9223372036854775808"}};
    char *dir = qt_tempdir("rel-budget");
    char path[1200];
    pid_t pid;
    int fd[2];
    snprintf(path, sizeof path, "%s/d.h5", dir);
    REQUIRE(pipe(fd) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        size_t i;
        int bad = 0;
        close(fd[0]);
        limit_memory(2 * GIB);
        for (i = 0; i < 3; i++) {
            const char *kv[] = {"dataset.kernels", counts[i][0], "dataset.per_kernel",
                                counts[i][1], "size", "16", NULL};
            qpik_options *o = qt_options(kv);
            qpik_status s = qpik_dataset_generate(path, o, NULL, NULL);
            if (s != QPIK_ERR_MEMORY_BUDGET || strstr(qpik_last_error(), "budget") == NULL ||
                qt_dir_entries(dir) != 0) {
                fprintf(stderr, "%s x %s: %s, %s, %d entries\n", counts[i][0], counts[i][1],
                        qpik_status_name(s), qpik_last_error(), qt_dir_entries(dir));
                bad = 1;
            }
            qpik_options_free(o);
        }
        child_done(fd[1], !bad);
    }
    close(fd[1]);
    CHECK_EQ_INT(child_verdict(pid, fd[0], qt_light() ? 600 : 120), 0);
    CHECK_EQ_INT(qt_dir_entries(dir), 0);
    qt_rmdir(dir);
}

/* Class 4, the half that works: a process that used qpik (its thread pool) but not yet its
 * networks forks; the child trains normally. */
TEST(fork_before_networks) {
    qpik_kernel *k = NULL;
    char *dir = qt_tempdir("rel-fork1");
    char out[1200];
    pid_t pid;
    int fd[2];
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    REQUIRE_OK(qpik_kernel_new("graphene-500meV", NULL, NULL, &k));
    qpik_kernel_free(k);
    REQUIRE(pipe(fd) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        qpik_options *o = qt_options(tiny_training);
        qpik_status s = qpik_train("one-step", qt_data("tiny-dataset.h5"), out, o, NULL, NULL);
        if (s != QPIK_OK) {
            fprintf(stderr, "child: %s %s\n", qpik_status_name(s), qpik_last_error());
        }
        qpik_options_free(o);
        child_done(fd[1], s == QPIK_OK);
    }
    close(fd[1]);
    CHECK_EQ_INT(child_verdict(pid, fd[0], qt_light() ? 600 : 120), 0);
    CHECK(qt_exists(out));
    qt_rmdir(dir);
}

/* Class 4: after the networks ran here, a forked child's extraction finishes with the same
 * kernels, and its training is refused at once with what to do (or runs, where candle is
 * single-threaded) instead of waiting forever for threads that do not exist there. */
TEST(fork_after_networks) {
    enum { N = 8, PX = 64 * 64 };
    static float obs[N * PX], want[N * PX];
    qpik_model *m = NULL;
    qpik_array o = qpik_array_3d(obs, QPIK_F32, N, 64, 64, QPIK_ROW_MAJOR);
    qpik_array ka = qpik_array_3d(want, QPIK_F32, N, 64, 64, QPIK_ROW_MAJOR);
    char *dir = qt_tempdir("rel-fork2");
    char out[1200];
    int i, pipefd[2];
    pid_t pid;
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    for (i = 0; i < N * PX; i++) {
        obs[i] = (float)((i * 31) % 97);
    }
    REQUIRE_OK(qpik_model_new_default(NULL, &m));
    /* A stack of 8: large enough for candle's own worker pool to start here. */
    REQUIRE_OK(qpik_extract(m, &o, NULL, &ka, NULL));
    REQUIRE(pipe(pipefd) == 0);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        static float again[N * PX];
        qpik_array k2 = qpik_array_3d(again, QPIK_F32, N, 64, 64, QPIK_ROW_MAJOR);
        qpik_options *opts = qt_options(tiny_training);
        qpik_status s = qpik_extract(m, &o, NULL, &k2, NULL);
        int code = 0;
        char msg[1024];
        ssize_t wrote;
        if (s != QPIK_OK || qt_max_abs_diff_f(again, want, N * PX) != 0.0) {
            fprintf(stderr, "child extract: %s %s\n", qpik_status_name(s), qpik_last_error());
            code = 1;
        }
        s = qpik_train("one-step", qt_data("tiny-dataset.h5"), out, opts, NULL, NULL);
        snprintf(msg, sizeof msg, "%c%s %s", code == 0 ? '0' : '1', qpik_status_name(s),
                 s == QPIK_OK ? "" : qpik_last_error());
        wrote = write(pipefd[1], msg, strlen(msg));
        (void)wrote;
        qpik_options_free(opts);
        _exit(code);
    }
    close(pipefd[1]);
    CHECK(wait_child(pid, qt_light() ? 600 : 120) != -1);
    {
        char buf[1024] = {0};
        const char *msg = buf + 1;
        ssize_t n = read(pipefd[0], buf, sizeof buf - 1);
        CHECK(n > 1);
        CHECK(buf[0] == '0');
        if (strncmp(msg, "QPIK_OK", 7) != 0) {
            CHECK_CONTAINS(msg, "QPIK_ERR_UNAVAILABLE qpik_train: training cannot run");
            CHECK_CONTAINS(msg, "'spawn'");
            CHECK(!qt_exists(out));
        }
    }
    close(pipefd[0]);
    qpik_model_free(m);
    qt_rmdir(dir);
}

/* Class 5: a FIFO blocked forever, /dev/zero grew until the OOM killer, a directory was
 * read; each is refused before any byte is read (in a child killed after 30 s). */
TEST(paths_checked_before_reading) {
    char *dir = qt_tempdir("rel-paths");
    char fifo[1200];
    const char *paths[3];
    pid_t pid;
    int i, fd[2];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    REQUIRE(mkfifo(fifo, 0600) == 0);
    paths[0] = fifo;
    paths[1] = "/dev/zero";
    paths[2] = dir;
    for (i = 0; i < 3; i++) {
        qpik_model *m = NULL;
        qpik_dataset *d = NULL;
        CHECK_STATUS(QPIK_ERR_FORMAT, "regular", qpik_model_new_from_file(paths[i], NULL, &m));
        CHECK(m == NULL);
        REQUIRE(pipe(fd) == 0);
        pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(fd[0]);
            limit_memory(2 * GIB);
            child_done(fd[1], qpik_dataset_open(paths[i], &d) != QPIK_OK);
        }
        close(fd[1]);
        CHECK_MSG(child_verdict(pid, fd[0], qt_light() ? 120 : 30) == 0,
                  "qpik_dataset_open(%s) hung or succeeded", paths[i]);
    }
    qt_rmdir(dir);
}

/* Class 6: a device node was replaced by a regular file; a directory or an empty path left
 * a temporary file behind. */
TEST(device_directory_and_empty_targets) {
    static const char *const kv[] = {"dataset.kernels", "1", "dataset.per_kernel", "1",
                                     "size", "16", NULL};
    qpik_options *o = qt_options(kv);
    char *dir = qt_tempdir("rel-targets");
    struct stat st;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "regular", qpik_dataset_generate("/dev/null", o, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "directory", qpik_dataset_generate(dir, o, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "empty", qpik_dataset_generate("", o, NULL, NULL));
    CHECK_EQ_INT(qt_dir_entries(dir), 0);
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    qpik_options_free(o);
    qt_rmdir(dir);
}

typedef struct writer {
    const char *path;
    const char *seed;
    qpik_status status;
} writer;

static void *write_dataset(void *arg) {
    writer *w = (writer *)arg;
    const char *kv[] = {"dataset.kernels", "2", "dataset.per_kernel", "3", "size", "16",
                        "seed", w->seed, NULL};
    qpik_options *o = qt_options(kv);
    w->status = qpik_dataset_generate(w->path, o, NULL, NULL);
    qpik_options_free(o);
    return NULL;
}

/* Class 6: two writers of one path shared a temporary name; one truncated the other's file
 * and the second returned QPIK_OK for a file that did not open. */
TEST(two_writers_one_path) {
    char *dir = qt_tempdir("rel-writers");
    char path[1200];
    pthread_t t[4];
    writer w[4];
    qpik_dataset *d = NULL;
    qpik_dataset_info info;
    int i;
    snprintf(path, sizeof path, "%s/d.h5", dir);
    for (i = 0; i < 4; i++) {
        w[i].path = path;
        w[i].seed = i % 2 ? "1" : "2";
        REQUIRE(pthread_create(&t[i], NULL, write_dataset, &w[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(w[i].status, QPIK_OK);
    }
    CHECK_EQ_INT(qt_dir_entries(dir), 1); /* the file, no temporary */
    REQUIRE_OK(qpik_dataset_open(path, &d));
    info.struct_size = sizeof info;
    CHECK_OK(qpik_dataset_get_info(d, &info));
    CHECK_EQ_INT(info.observations, 6);
    qpik_dataset_free(d);
    qt_rmdir(dir);
}

static pthread_key_t hook_key;
static volatile int hook_ran, hook_ok;

static void exit_hook(void *value) {
    const char *m = qpik_last_error();
    qpik_status s = qpik_options_set(NULL, NULL, NULL);
    (void)value;
    hook_ran = 1;
    hook_ok = m != NULL && s == QPIK_ERR_NULL && qpik_last_error() != NULL;
}

static void *thread_with_hook(void *arg) {
    qpik_options *o = NULL;
    (void)arg;
    /* qpik's thread-local state exists now, and is destroyed before or after the hook. */
    if (qpik_options_new(NULL) != QPIK_ERR_NULL || qpik_options_new(&o) != QPIK_OK) {
        return NULL;
    }
    qpik_options_free(o);
    pthread_setspecific(hook_key, &hook_key);
    return NULL;
}

/* Class 7: qpik_last_error() or a failing call from a pthread key destructor aborted. */
TEST(calls_from_a_thread_exit_hook) {
    pthread_t t;
    REQUIRE(pthread_key_create(&hook_key, exit_hook) == 0);
    REQUIRE(pthread_create(&t, NULL, thread_with_hook, NULL) == 0);
    pthread_join(t, NULL);
    CHECK(hook_ran);
    CHECK(hook_ok);
    pthread_key_delete(hook_key);
}

/* Messages: a 1 MB unknown key or bad value is cut in the message. */
TEST(huge_keys_and_values_are_cut) {
    size_t n = 1u << 20;
    char *big = (char *)malloc(n + 1);
    qpik_options *o = qt_options(NULL);
    REQUIRE(big != NULL);
    memset(big, 'k', n);
    big[n] = '\0';
    CHECK_STATUS(QPIK_ERR_UNKNOWN_OPTION, "kkk", qpik_options_set(o, big, "1"));
    CHECK(strlen(qpik_last_error()) < 1000);
    CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "seed", qpik_options_set(o, "seed", big));
    CHECK(strlen(qpik_last_error()) < 1000);
    free(big);
    qpik_options_free(o);
}

/* NaN training: a learning rate that can only diverge (or NaN) is refused before training,
 * and no file is written. */
TEST(learning_rates_out_of_range) {
    static const char *const rates[] = {"1e30", "nan", "-1", "0"};
    char *dir = qt_tempdir("rel-lr");
    char out[1200];
    size_t i;
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    for (i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        qpik_options *o = qt_options(tiny_training);
        qpik_status s = qpik_options_set(o, "train.learning_rate", rates[i]);
        if (s == QPIK_OK) {
            CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "learning rate",
                         qpik_train("one-step", qt_data("tiny-dataset.h5"), out, o, NULL, NULL));
        } else {
            CHECK_EQ_INT(s, QPIK_ERR_OPTION_VALUE);
        }
        qpik_options_free(o);
    }
    CHECK_EQ_INT(qt_dir_entries(dir), 0);
    qt_rmdir(dir);
}

/* NaN training: a model file with a non-finite weight loaded with QPIK_OK and extracted
 * all-NaN kernels; it is refused at load. */
TEST(non_finite_weights_refused) {
    size_t len = 0, header;
    unsigned char *bytes = qt_read_file(qt_data("tiny-one-step.safetensors"), &len);
    qpik_model *m = NULL;
    float nan_value = NAN;
    int i;
    REQUIRE(bytes != NULL && len > 64);
    header = 0;
    for (i = 7; i >= 0; i--) {
        header = header * 256 + bytes[i];
    }
    REQUIRE(8 + header + 64 < len);
    REQUIRE_OK(qpik_model_new_from_memory(bytes, len, NULL, &m));
    qpik_model_free(m);
    m = NULL;
    memcpy(bytes + 8 + header + 4 * 5, &nan_value, 4);
    CHECK_STATUS(QPIK_ERR_FORMAT, "non-finite", qpik_model_new_from_memory(bytes, len, NULL, &m));
    CHECK(m == NULL);
    free(bytes);
}

/* Extreme inputs: finite values near +-3e38 and subnormals gave all-NaN kernels with
 * QPIK_OK. Now every success is finite (both engines). */
TEST(extreme_inputs_never_give_nan_with_ok) {
    static const float scales[] = {3e38f, -3e38f, 1e-40f, 1e-45f};
    static float obs[64 * 64], mask[64 * 64], out[64 * 64];
    qpik_model *m = NULL;
    qpik_array o = qpik_array_2d(obs, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array ma = qpik_array_2d(mask, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array ka = qpik_array_2d(out, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    static const char *const map_kv[] = {"map.kernel_size", "11", "map.bootstrap", "0", NULL};
    qpik_options *mo = qt_options(map_kv);
    size_t s;
    int i;
    REQUIRE_OK(qpik_model_new_default(NULL, &m));
    for (s = 0; s < sizeof scales / sizeof scales[0]; s++) {
        qpik_extraction *ex = NULL;
        qpik_status st;
        for (i = 0; i < 64 * 64; i++) {
            obs[i] = scales[s] * (float)(0.5 + 0.5 * sin(0.37 * i));
            mask[i] = (i == 20 * 64 + 20 || i == 40 * 64 + 44) ? 1.0f : 0.0f;
        }
        st = qpik_extract(m, &o, &ma, &ka, NULL);
        CHECK_MSG(st != QPIK_OK || qt_all_finite_f(out, 64 * 64),
                  "qpik_extract at scale %g: QPIK_OK with a non-finite kernel", (double)scales[s]);
        st = qpik_extract_map(mo, &o, &ma, &ex);
        if (st == QPIK_OK) {
            qpik_extraction_info info;
            float *k;
            qpik_array kk;
            info.struct_size = sizeof info;
            CHECK_OK(qpik_extraction_get_info(ex, &info));
            k = (float *)malloc((size_t)(info.kernel_size * info.kernel_size) * sizeof *k);
            kk = qpik_array_2d(k, QPIK_F32, info.kernel_size, info.kernel_size, QPIK_ROW_MAJOR);
            CHECK_OK(qpik_extraction_kernels(ex, &kk));
            CHECK_MSG(qt_all_finite_f(k, (size_t)(info.kernel_size * info.kernel_size)),
                      "qpik_extract_map at scale %g: QPIK_OK with a non-finite kernel",
                      (double)scales[s]);
            free(k);
            qpik_extraction_free(ex);
        }
    }
    qpik_options_free(mo);
    qpik_model_free(m);
}

/* Masks: the same values are refused by the CLI and the C API. A network mask is 0 or 1;
 * the map engine's mask (above 0.5 = a defect) refuses infinity as it refuses NaN. */
TEST(masks_with_other_values) {
    static float obs[64 * 64], mask[64 * 64], out[64 * 64];
    qpik_model *m = NULL;
    qpik_extraction *ex = NULL;
    qpik_array o = qpik_array_2d(obs, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array ma = qpik_array_2d(mask, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array ka = qpik_array_2d(out, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    int i;
    for (i = 0; i < 64 * 64; i++) {
        obs[i] = (float)sin(0.05 * i);
        mask[i] = 0.0f;
    }
    mask[100] = 0.7f;
    REQUIRE_OK(qpik_model_new_default(NULL, &m));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "0 or 1", qpik_extract(m, &o, &ma, &ka, NULL));
    mask[100] = INFINITY;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "0 or 1", qpik_extract(m, &o, &ma, &ka, NULL));
    CHECK_STATUS(QPIK_ERR_NOT_FINITE, "inf", qpik_extract_map(NULL, &o, &ma, &ex));
    CHECK(ex == NULL);
    qpik_model_free(m);
}

QT_MAIN(QT_CASE(budget_refused_before_allocating), QT_CASE(fork_before_networks),
        QT_CASE(paths_checked_before_reading), QT_CASE(device_directory_and_empty_targets),
        QT_CASE(two_writers_one_path), QT_CASE(calls_from_a_thread_exit_hook),
        QT_CASE(huge_keys_and_values_are_cut), QT_CASE(learning_rates_out_of_range),
        QT_CASE(non_finite_weights_refused), QT_CASE(masks_with_other_values),
        QT_CASE(extreme_inputs_never_give_nan_with_ok), QT_CASE(fork_after_networks))
