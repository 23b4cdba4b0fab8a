/*
 * Dataset files: generation with progress and cancellation, open/info/kernels/read, and a
 * write/read round trip of caller data in several layouts.
 */
#include "harness.h"

#include <pthread.h>

/* What the progress callback saw; cancel_at = call number (1-based) that returns nonzero,
 * cancel_stage = stage name whose first call returns nonzero. */
typedef struct progress_log {
    pthread_t owner;
    int calls;
    int on_other_thread;
    int bad_counts;
    int cancel_at;
    const char *cancel_stage;
    char stages[8][64];
    int nstages;
    uint64_t last_done, last_total;
    /* Nonzero: cancel at the first call of stage `done_stage` showing `cancel_done` steps. */
    int cancel_at_done;
    const char *done_stage;
    uint64_t cancel_done;
} progress_log;

static int32_t on_progress(void *user, const char *stage, uint64_t done, uint64_t total,
                           const char *message) {
    progress_log *log = (progress_log *)user;
    int cancel = 0;
    log->calls++;
    if (!pthread_equal(pthread_self(), log->owner)) {
        log->on_other_thread++;
    }
    if (stage == NULL || message == NULL || done > total) {
        log->bad_counts++;
        return 0;
    }
    if (log->nstages == 0 || strcmp(log->stages[log->nstages - 1], stage) != 0) {
        if (log->nstages < 8) {
            snprintf(log->stages[log->nstages++], sizeof log->stages[0], "%s", stage);
        }
        cancel = log->cancel_stage != NULL && strcmp(stage, log->cancel_stage) == 0;
    } else if (done < log->last_done) {
        log->bad_counts++; /* progress went backwards within a stage */
    }
    log->last_done = done;
    log->last_total = total;
    if (log->cancel_at_done && strcmp(stage, log->done_stage) == 0 && done == log->cancel_done) {
        cancel = 1;
    }
    return cancel || (log->cancel_at > 0 && log->calls >= log->cancel_at) ? 1 : 0;
}

/* split_seed 3 picks three quick kernels (0.1 s; the default 0.3 s): valgrind runs this. */
static const char *const small_dataset[] = {"dataset.kernels", "3", "dataset.per_kernel", "4",
                                            "dataset.split_seed", "3", "seed", "5",
                                            "size", "32", NULL};

TEST(generate_with_progress_then_read) {
    char *dir = qt_tempdir("gen");
    char path[1200];
    qpik_options *o = qt_options(small_dataset);
    progress_log log;
    qpik_dataset *ds = NULL;
    qpik_dataset_info info;
    static float obs[12 * 32 * 32];
    static double obs_col[12 * 32 * 32];
    static unsigned char masks[12 * 32 * 32];
    uint32_t kidx[12];
    int64_t i, r, c;
    int same = 1;
    char names[3][128];

    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    snprintf(path, sizeof path, "%s/small.h5", dir);
    REQUIRE_OK(qpik_dataset_generate(path, o, on_progress, &log));
    CHECK(qt_exists(path));
    CHECK_EQ_INT(qt_dir_entries(dir), 1); /* no temporary file left */
    CHECK(log.calls >= 2);
    CHECK_EQ_INT(log.on_other_thread, 0);
    CHECK_EQ_INT(log.bad_counts, 0);
    CHECK_EQ_INT(log.nstages, 2);
    CHECK_STR(log.stages[0], "simulating kernels");
    CHECK_STR(log.stages[1], "synthesising observations");
    CHECK_EQ_INT(log.last_total, 12);
    CHECK_EQ_INT(log.last_done, 12);

    REQUIRE_OK(qpik_dataset_open(path, &ds));
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    REQUIRE_OK(qpik_dataset_get_info(ds, &info));
    CHECK_EQ_INT(info.observations, 12);
    CHECK_EQ_INT(info.kernels, 3);
    CHECK_EQ_INT(info.rows, 32);
    CHECK_EQ_INT(info.cols, 32);
    CHECK_EQ_INT(info.max_defects, 20); /* defects.count_max default */
    CHECK(isnan(info.pixel_size_m) || (info.pixel_size_m > 1e-11 && info.pixel_size_m < 1e-9));

    for (i = 0; i < 3; i++) {
        qpik_dataset_kernel_info ki;
        float kimg[32 * 32];
        qpik_array ka = qpik_array_2d(kimg, QPIK_F32, 32, 32, QPIK_ROW_MAJOR);
        size_t needed = 0;
        ki.struct_size = sizeof ki;
        CHECK_OK(qpik_dataset_kernel_name(ds, (size_t)i, names[i], sizeof names[i], &needed));
        CHECK(needed > 1 && needed == strlen(names[i]) + 1);
        CHECK_OK(qpik_dataset_kernel(ds, (size_t)i, &ka, &ki));
        CHECK(ki.split <= 1);
        CHECK(ki.symmetry == 1 || ki.symmetry == 2 || ki.symmetry == 3 || ki.symmetry == 4 ||
              ki.symmetry == 6);
        CHECK(ki.pixel_size_m > 1e-11 && ki.pixel_size_m < 1e-9);
        CHECK(qt_all_finite_f(kimg, 32 * 32));
        /* The kernel is a catalog kernel: its spec exists under that name. */
        CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "needs",
                     qpik_catalog_spec(names[i], NULL, 0, NULL));
        /* NULL image and info are skipped. */
        CHECK_OK(qpik_dataset_kernel(ds, (size_t)i, NULL, NULL));
    }
    CHECK(strcmp(names[0], names[1]) != 0 && strcmp(names[1], names[2]) != 0 &&
          strcmp(names[0], names[2]) != 0);
    CHECK_STATUS(QPIK_ERR_NOT_FOUND, "kernel 3", qpik_dataset_kernel(ds, 3, NULL, NULL));

    {
        qpik_array oa = qpik_array_3d(obs, QPIK_F32, 12, 32, 32, QPIK_ROW_MAJOR);
        qpik_array oc = qpik_array_3d(obs_col, QPIK_F64, 12, 32, 32, QPIK_COL_MAJOR);
        qpik_array ma = qpik_array_3d(masks, QPIK_U8, 12, 32, 32, QPIK_ROW_MAJOR);
        REQUIRE_OK(qpik_dataset_read(ds, 0, &oa, &ma, kidx));
        REQUIRE_OK(qpik_dataset_read(ds, 0, &oc, NULL, NULL));
    }
    for (i = 0; i < 12; i++) {
        int ones = 0;
        CHECK_EQ_INT(kidx[i], i / 4); /* per_kernel observations of each kernel in turn */
        for (r = 0; r < 32; r++) {
            for (c = 0; c < 32; c++) {
                float v = obs[(i * 32 + r) * 32 + c];
                same &= (double)v == obs_col[i * 1024 + c * 32 + r];
                same &= isfinite(v) != 0;
                ones += masks[(i * 32 + r) * 32 + c];
            }
        }
        CHECK(ones >= 1 && ones <= 20);
    }
    CHECK(same);
    {
        /* A part from the middle: observations 5..7. */
        float part[3 * 32 * 32];
        qpik_array pa = qpik_array_3d(part, QPIK_F32, 3, 32, 32, QPIK_ROW_MAJOR);
        uint32_t pk[3];
        CHECK_OK(qpik_dataset_read(ds, 5, &pa, NULL, pk));
        CHECK(memcmp(part, obs + 5 * 1024, sizeof part) == 0);
        CHECK(pk[0] == kidx[5] && pk[2] == kidx[7]);
        /* Past the end. */
        CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "dataset has 12",
                     qpik_dataset_read(ds, 10, &pa, NULL, NULL));
    }
    qpik_dataset_free(ds);

    /* Same options, same file content (seeded); skipped under valgrind (slow there). */
    if (!qt_light()) {
        char path2[1300];
        qpik_dataset *ds2 = NULL;
        static float obs2[12 * 32 * 32];
        qpik_array oa = qpik_array_3d(obs2, QPIK_F32, 12, 32, 32, QPIK_ROW_MAJOR);
        snprintf(path2, sizeof path2, "%s/again.h5", dir);
        REQUIRE_OK(qpik_dataset_generate(path2, o, NULL, NULL));
        REQUIRE_OK(qpik_dataset_open(path2, &ds2));
        CHECK_OK(qpik_dataset_read(ds2, 0, &oa, NULL, NULL));
        CHECK(memcmp(obs, obs2, sizeof obs2) == 0);
        qpik_dataset_free(ds2);
    }
    qpik_options_free(o);
    qt_rmdir(dir);
}

TEST(generate_cancelled_leaves_no_file) {
    char *dir = qt_tempdir("cancel");
    char path[1200];
    qpik_options *o = qt_options(small_dataset);
    progress_log log;

    snprintf(path, sizeof path, "%s/cancelled.h5", dir);
    /* Cancelled at the first call (kernel simulation). */
    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    log.cancel_at = 1;
    CHECK_STATUS(QPIK_ERR_CANCELLED, "cancel", qpik_dataset_generate(path, o, on_progress, &log));
    CHECK_EQ_INT(log.calls, 1);
    CHECK_EQ_INT(qt_dir_entries(dir), 0);

    /* Cancelled when synthesis starts (the HDF5 file has been created by then). */
    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    log.cancel_stage = "synthesising observations";
    CHECK_STATUS(QPIK_ERR_CANCELLED, "cancel", qpik_dataset_generate(path, o, on_progress, &log));
    CHECK_EQ_INT(log.nstages, 2);
    CHECK_EQ_INT(log.last_done, 0);
    CHECK_EQ_INT(log.last_total, 12);
    CHECK_EQ_INT(qt_dir_entries(dir), 0);

    /* An existing file is left as it was. */
    REQUIRE(qt_write_file(path, "precious", 8));
    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    log.cancel_stage = "synthesising observations";
    CHECK_STATUS(QPIK_ERR_CANCELLED, "cancel", qpik_dataset_generate(path, o, on_progress, &log));
    {
        size_t len = 0;
        unsigned char *back = qt_read_file(path, &len);
        CHECK(back != NULL && len == 8 && memcmp(back, "precious", 8) == 0);
        free(back);
    }
    CHECK_EQ_INT(qt_dir_entries(dir), 1);
    qpik_options_free(o);
    qt_rmdir(dir);
}

TEST(generate_cancelled_at_the_last_call) {
    /* The callback's last call (all observations done) asks to cancel: the documented
     * contract is QPIK_ERR_CANCELLED and no new file. */
    char *dir = qt_tempdir("cancel-last");
    char path[1200];
    qpik_options *o = qt_options(small_dataset);
    progress_log log;
    uint64_t last_done;
    snprintf(path, sizeof path, "%s/x.h5", dir);
    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    REQUIRE_OK(qpik_dataset_generate(path, o, on_progress, &log));
    /* The last step: all observations done (call numbers vary between runs, since the
     * callback also runs every 0.2 s with the state repeated). */
    last_done = log.last_done;
    unlink(path);
    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    log.cancel_done = last_done;
    log.done_stage = "synthesising observations";
    log.cancel_at_done = 1;
    CHECK_STATUS(QPIK_ERR_CANCELLED, "cancel", qpik_dataset_generate(path, o, on_progress, &log));
    CHECK_EQ_INT(qt_dir_entries(dir), 0);
    qpik_options_free(o);
    qt_rmdir(dir);
}

TEST(write_read_round_trip) {
    /* Caller data in three layouts: kernels row-major f32, observations column-major f64
     * (MATLAB's rows x cols x n), masks as u8 with padded strides. */
    enum { K = 2, N = 5, H = 16, W = 12 };
    static float kern[K * H * W];
    static double obs_col[N * H * W];
    static unsigned char mask_pad[N * H * (W + 3)];
    static float back_obs[N * H * W];
    static unsigned char back_mask[N * H * W];
    static float back_kern[H * W];
    uint32_t kidx[N] = {0, 1, 1, 0, 1}, back_kidx[N];
    char *dir = qt_tempdir("write");
    char path[1200];
    static const char *const kv[] = {"pixel_size_a", "1.5", NULL};
    qpik_options *o = qt_options(kv);
    qpik_array ka, oa, ma;
    qpik_dataset *ds = NULL;
    qpik_dataset_info info;
    int i, r, c, max_defects = 0, same_obs = 1, same_mask = 1;

    for (i = 0; i < K * H * W; i++) {
        kern[i] = (float)sin(0.37 * i) * 0.25f;
    }
    memset(mask_pad, 7, sizeof mask_pad); /* padding holds non-binary junk: never read */
    for (i = 0; i < N; i++) {
        int defects = 0;
        for (r = 0; r < H; r++) {
            for (c = 0; c < W; c++) {
                unsigned char m = (unsigned char)(((r * 7 + c * 3 + i) % 23) == 0);
                obs_col[i * H * W + c * H + r] = (float)(0.1 * i + cos(0.11 * (r * W + c)));
                mask_pad[(i * H + r) * (W + 3) + c] = m;
                defects += m;
            }
        }
        max_defects = defects > max_defects ? defects : max_defects;
    }
    ka = qpik_array_3d(kern, QPIK_F32, K, H, W, QPIK_ROW_MAJOR);
    oa = qpik_array_3d(obs_col, QPIK_F64, N, H, W, QPIK_COL_MAJOR);
    ma = qpik_array_3d(mask_pad, QPIK_U8, N, H, W, QPIK_ROW_MAJOR);
    ma.strides[0] = H * (W + 3);
    ma.strides[1] = W + 3;
    ma.len = sizeof mask_pad;
    snprintf(path, sizeof path, "%s/mine.h5", dir);
    REQUIRE_OK(qpik_dataset_write(path, &ka, &oa, &ma, kidx, o));
    CHECK_EQ_INT(qt_dir_entries(dir), 1);

    REQUIRE_OK(qpik_dataset_open(path, &ds));
    info.struct_size = sizeof info;
    REQUIRE_OK(qpik_dataset_get_info(ds, &info));
    CHECK_EQ_INT(info.observations, N);
    CHECK_EQ_INT(info.kernels, K);
    CHECK_EQ_INT(info.rows, H);
    CHECK_EQ_INT(info.cols, W);
    CHECK_EQ_INT(info.max_defects, max_defects);
    CHECK(fabs(info.pixel_size_m - 1.5e-10) < 1e-20);
    for (i = 0; i < K; i++) {
        char name[64];
        qpik_dataset_kernel_info ki;
        qpik_array b = qpik_array_2d(back_kern, QPIK_F32, H, W, QPIK_ROW_MAJOR);
        ki.struct_size = sizeof ki;
        CHECK_OK(qpik_dataset_kernel_name(ds, (size_t)i, name, sizeof name, NULL));
        CHECK_STR(name, i == 0 ? "kernel-0" : "kernel-1");
        CHECK_OK(qpik_dataset_kernel(ds, (size_t)i, &b, &ki));
        CHECK(memcmp(back_kern, kern + i * H * W, sizeof back_kern) == 0);
        CHECK_EQ_INT(ki.split, 0);
        CHECK_EQ_INT(ki.symmetry, 0);
        CHECK(fabs(ki.pixel_size_m - 1.5e-10) < 1e-20);
    }
    {
        qpik_array bo = qpik_array_3d(back_obs, QPIK_F32, N, H, W, QPIK_ROW_MAJOR);
        qpik_array bm = qpik_array_3d(back_mask, QPIK_U8, N, H, W, QPIK_ROW_MAJOR);
        REQUIRE_OK(qpik_dataset_read(ds, 0, &bo, &bm, back_kidx));
    }
    for (i = 0; i < N; i++) {
        CHECK_EQ_INT(back_kidx[i], kidx[i]);
        for (r = 0; r < H; r++) {
            for (c = 0; c < W; c++) {
                same_obs &= back_obs[(i * H + r) * W + c] == (float)obs_col[i * H * W + c * H + r];
                same_mask &= back_mask[(i * H + r) * W + c] == mask_pad[(i * H + r) * (W + 3) + c];
            }
        }
    }
    CHECK(same_obs);
    CHECK(same_mask);
    qpik_dataset_free(ds);

    /* Without pixel_size_m there is no pixel size to record. */
    CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "pixel_size_m",
                 qpik_dataset_write(path, &ka, &oa, &ma, kidx, NULL));
    qpik_options_free(o);
    qt_rmdir(dir);
}

TEST(fixture_dataset_opens) {
    qpik_dataset *ds = NULL;
    qpik_dataset_info info;
    REQUIRE_OK(qpik_dataset_open(qt_data("tiny-dataset.h5"), &ds));
    info.struct_size = sizeof info;
    REQUIRE_OK(qpik_dataset_get_info(ds, &info));
    CHECK_EQ_INT(info.kernels, 5);
    CHECK_EQ_INT(info.observations, 30);
    CHECK_EQ_INT(info.rows, 64);
    CHECK_EQ_INT(info.cols, 64);
    qpik_dataset_free(ds);
}

QT_MAIN(QT_CASE(generate_with_progress_then_read), QT_CASE(generate_cancelled_leaves_no_file),
        QT_CASE(generate_cancelled_at_the_last_call), QT_CASE(write_read_round_trip),
        QT_CASE(fixture_dataset_opens))
