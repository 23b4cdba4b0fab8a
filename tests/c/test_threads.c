/*
 * One model shared by many threads: every extraction equals the single-threaded reference
 * bit for bit, and each thread's last error is its own.
 */
#include "harness.h"

#include <pthread.h>
#include <sched.h>

enum { S = 64, PX = S * S, NOBS = 6, THREADS = 8 };

static float g_obs[NOBS * PX];
static unsigned char g_masks[NOBS * PX];
static float g_ref[2][NOBS * PX]; /* [0] with the mask, [1] mask estimated */
static const qpik_model *g_model;
static int g_iterations;

typedef struct worker {
    int id;
    int mismatches;
    int failures;
    int error_not_own;
    char first_error[256];
} worker;

static void *run_worker(void *arg) {
    worker *w = (worker *)arg;
    double *col = (double *)malloc(PX * sizeof(double));
    double *col_out = (double *)malloc(PX * sizeof(double));
    float *out = (float *)malloc(PX * sizeof(float));
    int it;
    char expect[128];
    if (col == NULL || col_out == NULL || out == NULL) {
        abort();
    }
    for (it = 0; it < g_iterations; it++) {
        int i = (w->id + it) % NOBS;
        int estimated = (w->id + it) % 3 == 0;
        int col_major = (w->id + it) % 4 == 1;
        const float *ref = g_ref[estimated] + i * PX;
        qpik_array mk = qpik_array_2d(g_masks + i * PX, QPIK_U8, S, S, QPIK_ROW_MAJOR);
        qpik_status s;
        int r, c;
        if (col_major) {
            /* The same image as float64, column-major: converts back to the same float32. */
            qpik_array o = qpik_array_2d(col, QPIK_F64, S, S, QPIK_COL_MAJOR);
            qpik_array k = qpik_array_2d(col_out, QPIK_F64, S, S, QPIK_COL_MAJOR);
            for (r = 0; r < S; r++) {
                for (c = 0; c < S; c++) {
                    col[c * S + r] = g_obs[i * PX + r * S + c];
                }
            }
            s = qpik_extract(g_model, &o, estimated ? NULL : &mk, &k, NULL);
            for (r = 0; s == QPIK_OK && r < S; r++) {
                for (c = 0; c < S; c++) {
                    if ((float)col_out[c * S + r] != ref[r * S + c]) {
                        w->mismatches++;
                        r = S;
                        break;
                    }
                }
            }
        } else {
            qpik_array o = qpik_array_2d(g_obs + i * PX, QPIK_F32, S, S, QPIK_ROW_MAJOR);
            qpik_array k = qpik_array_2d(out, QPIK_F32, S, S, QPIK_ROW_MAJOR);
            s = qpik_extract(g_model, &o, estimated ? NULL : &mk, &k, NULL);
            if (s == QPIK_OK && memcmp(out, ref, PX * sizeof(float)) != 0) {
                w->mismatches++;
            }
        }
        if (s != QPIK_OK) {
            if (w->failures++ == 0) {
                snprintf(w->first_error, sizeof w->first_error, "%s", qpik_last_error());
            }
        }
        /* A failure of this thread's own, with a message naming this thread's input. */
        {
            qpik_array bad = qpik_array_2d(out, QPIK_F32, S, w->id + 1, QPIK_ROW_MAJOR);
            qpik_array k = qpik_array_2d(out, QPIK_F32, S, S, QPIK_ROW_MAJOR);
            qpik_extract(g_model, &bad, NULL, &k, NULL);
            snprintf(expect, sizeof expect, "shape [%d, %d]", S, w->id + 1);
            sched_yield();
            if (strstr(qpik_last_error(), expect) == NULL) {
                w->error_not_own++;
            }
        }
    }
    free(col);
    free(col_out);
    free(out);
    return NULL;
}

TEST(one_model_many_threads) {
    qpik_model *m = NULL;
    qpik_dataset *ds = NULL;
    pthread_t th[THREADS];
    worker w[THREADS];
    int t, total = 0;
    const char *main_error;
    g_iterations = qt_light() ? 2 : 25;
    REQUIRE_OK(qpik_model_new_from_file(qt_data("tiny-two-step.safetensors"), NULL, &m));
    g_model = m;
    REQUIRE_OK(qpik_dataset_open(qt_data("tiny-dataset.h5"), &ds));
    {
        qpik_array oa = qpik_array_3d(g_obs, QPIK_F32, NOBS, S, S, QPIK_ROW_MAJOR);
        qpik_array ma = qpik_array_3d(g_masks, QPIK_U8, NOBS, S, S, QPIK_ROW_MAJOR);
        REQUIRE_OK(qpik_dataset_read(ds, 0, &oa, &ma, NULL));
    }
    qpik_dataset_free(ds);
    /* Single-threaded references, one image at a time. */
    for (t = 0; t < NOBS; t++) {
        qpik_array o = qpik_array_2d(g_obs + t * PX, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        qpik_array mk = qpik_array_2d(g_masks + t * PX, QPIK_U8, S, S, QPIK_ROW_MAJOR);
        qpik_array k0 = qpik_array_2d(g_ref[0] + t * PX, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        qpik_array k1 = qpik_array_2d(g_ref[1] + t * PX, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        REQUIRE_OK(qpik_extract(m, &o, &mk, &k0, NULL));
        REQUIRE_OK(qpik_extract(m, &o, NULL, &k1, NULL));
    }
    /* The main thread's own last error, which no worker may change. */
    CHECK(qpik_catalog_count(NULL) == QPIK_ERR_NULL);

    for (t = 0; t < THREADS; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].id = t;
        REQUIRE(pthread_create(&th[t], NULL, run_worker, &w[t]) == 0);
    }
    for (t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
    }
    main_error = qpik_last_error();
    CHECK_STR(main_error, "qpik_catalog_count: count is NULL; pass a valid pointer");
    for (t = 0; t < THREADS; t++) {
        CHECK_MSG(w[t].failures == 0, "thread %d: %d failures, first: %s", t, w[t].failures,
                  w[t].first_error);
        CHECK_MSG(w[t].mismatches == 0, "thread %d: %d results differ from the reference", t,
                  w[t].mismatches);
        CHECK_MSG(w[t].error_not_own == 0, "thread %d saw another thread's error %d times", t,
                  w[t].error_not_own);
        total += g_iterations;
    }
    CHECK_EQ_INT(total, THREADS * g_iterations);
    qpik_model_free(m);
}

typedef struct maker {
    const char *name;
    qpik_kernel *kernel;
    qpik_status status;
    int64_t rows;
} maker;

static void *make_kernel(void *arg) {
    maker *m = (maker *)arg;
    qpik_kernel_info info;
    m->status = qpik_kernel_new(m->name, NULL, NULL, &m->kernel);
    info.struct_size = sizeof info;
    if (m->status == QPIK_OK) {
        m->status = qpik_kernel_get_info(m->kernel, &info);
        m->rows = info.rows;
    }
    return NULL;
}

static void *free_kernel(void *k) {
    qpik_kernel_free((qpik_kernel *)k);
    return NULL;
}

TEST(handles_cross_threads) {
    /* Kernels simulated on worker threads, used here, and freed on yet other threads. */
    enum { N = 8 };
    static const char *const names[2] = {"shockley-cu111-m100meV", "shockley-ag111-50meV"};
    maker m[N];
    pthread_t th[N];
    double a[64 * 64], b[64 * 64];
    int i;
    for (i = 0; i < N; i++) {
        memset(&m[i], 0, sizeof m[i]);
        m[i].name = names[i % 2];
        REQUIRE(pthread_create(&th[i], NULL, make_kernel, &m[i]) == 0);
    }
    for (i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(m[i].status == QPIK_OK, "thread %d: %s", i, qpik_status_name(m[i].status));
        CHECK_EQ_INT(m[i].rows, 64);
    }
    /* Same name, same image, whichever thread simulated it. */
    for (i = 2; i < N; i++) {
        qpik_array x = qpik_array_2d(a, QPIK_F64, 64, 64, QPIK_ROW_MAJOR);
        qpik_array y = qpik_array_2d(b, QPIK_F64, 64, 64, QPIK_ROW_MAJOR);
        REQUIRE(m[i].kernel != NULL && m[i % 2].kernel != NULL);
        CHECK_OK(qpik_kernel_image(m[i].kernel, &x));
        CHECK_OK(qpik_kernel_image(m[i % 2].kernel, &y));
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    for (i = 0; i < N; i++) {
        REQUIRE(pthread_create(&th[i], NULL, free_kernel, m[i].kernel) == 0);
    }
    for (i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
    }
}

QT_MAIN(QT_CASE(one_model_many_threads), QT_CASE(handles_cross_threads))
