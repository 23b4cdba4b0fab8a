/*
 * Training through the C ABI on the fixture dataset with tiny settings (one step): the
 * output is a loadable model of the right kind; cancellation leaves no file.
 */
#include "harness.h"

#include <pthread.h>

static const char *const tiny[] = {"train.epochs",     "1", "train.steps_per_epoch", "1",
                                   "train.batch_size", "2", "train.channels",        "4,4,8",
                                   "seed",             "1", NULL};

typedef struct train_log {
    pthread_t owner;
    int calls, on_other_thread, cancel_at, bad;
    char last_stage[128];
    uint64_t last_done, last_total;
    /* Cancel at the first call showing this state (the callback also runs every 0.2 s with
     * the state repeated, so call numbers vary between runs; states do not). */
    int cancel_at_state;
    char cancel_stage[128];
    uint64_t cancel_done, cancel_total;
} train_log;

static int32_t on_progress(void *user, const char *stage, uint64_t done, uint64_t total,
                           const char *message) {
    train_log *log = (train_log *)user;
    log->calls++;
    if (!pthread_equal(pthread_self(), log->owner)) {
        log->on_other_thread++;
    }
    if (stage == NULL || message == NULL || done > total) {
        log->bad++;
    } else {
        snprintf(log->last_stage, sizeof log->last_stage, "%s", stage);
        log->last_done = done;
        log->last_total = total;
        if (log->cancel_at_state && strcmp(stage, log->cancel_stage) == 0 &&
            done == log->cancel_done && total == log->cancel_total) {
            return 1;
        }
    }
    return log->cancel_at > 0 && log->calls >= log->cancel_at ? 1 : 0;
}

static void check_model(const char *path, uint32_t method) {
    qpik_model *m = NULL;
    qpik_model_info info;
    static float obs[64 * 64], k[64 * 64];
    qpik_array o = qpik_array_2d(obs, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array ka = qpik_array_2d(k, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    int i;
    REQUIRE_OK(qpik_model_new_from_file(path, NULL, &m));
    info.struct_size = sizeof info;
    CHECK_OK(qpik_model_get_info(m, &info));
    CHECK_EQ_INT(info.method, method);
    CHECK_EQ_INT(info.size, 64);
    for (i = 0; i < 64 * 64; i++) {
        obs[i] = (float)sin(0.05 * i);
    }
    CHECK_OK(qpik_extract(m, &o, NULL, &ka, NULL));
    qpik_model_free(m);
}

TEST(train_one_step) {
    char *dir = qt_tempdir("train1");
    char out[1200];
    qpik_options *o = qt_options(tiny);
    train_log log;
    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    snprintf(out, sizeof out, "%s/one-step.safetensors", dir);
    REQUIRE_OK(qpik_train("one-step", qt_data("tiny-dataset.h5"), out, o, on_progress, &log));
    CHECK(log.calls >= 2);
    CHECK_EQ_INT(log.on_other_thread, 0);
    CHECK_EQ_INT(log.bad, 0);
    CHECK_EQ_INT(qt_dir_entries(dir), 1); /* the model, no temporary */
    check_model(out, 1);
    qpik_options_free(o);
    qt_rmdir(dir);
}

TEST(train_vae_then_align) {
    char *dir = qt_tempdir("train2");
    char vae[1200], two[1200];
    qpik_options *o = qt_options(tiny);
    qpik_model *m = NULL;
    snprintf(vae, sizeof vae, "%s/vae.safetensors", dir);
    snprintf(two, sizeof two, "%s/two-step.safetensors", dir);
    REQUIRE_OK(qpik_train("vae", qt_data("tiny-dataset.h5"), vae, o, NULL, NULL));
    /* A VAE alone cannot extract. */
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "VAE", qpik_model_new_from_file(vae, NULL, &m));
    CHECK(m == NULL);
    /* Alignment needs the VAE. */
    CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "train.vae",
                 qpik_train("align", qt_data("tiny-dataset.h5"), two, o, NULL, NULL));
    CHECK(!qt_exists(two));
    CHECK_OK(qpik_options_set(o, "train.vae", vae));
    REQUIRE_OK(qpik_train("align", qt_data("tiny-dataset.h5"), two, o, NULL, NULL));
    check_model(two, 0);
    qpik_options_free(o);
    qt_rmdir(dir);
}

TEST(train_cancelled_leaves_no_file) {
    char *dir = qt_tempdir("train-cancel");
    char out[1200];
    qpik_options *o = qt_options(tiny);
    train_log log;
    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    log.cancel_at = 1;
    snprintf(out, sizeof out, "%s/one-step.safetensors", dir);
    CHECK_STATUS(QPIK_ERR_CANCELLED, "cancel",
                 qpik_train("one-step", qt_data("tiny-dataset.h5"), out, o, on_progress, &log));
    CHECK_EQ_INT(log.calls, 1);
    CHECK_EQ_INT(qt_dir_entries(dir), 0);
    qpik_options_free(o);
    qt_rmdir(dir);
}

TEST(train_cancelled_at_the_last_call) {
    /* The last progress call asks to cancel: documented as QPIK_ERR_CANCELLED. */
    char *dir = qt_tempdir("train-cancel-last");
    char out[1200];
    qpik_options *o = qt_options(tiny);
    train_log log, first;
    snprintf(out, sizeof out, "%s/one-step.safetensors", dir);
    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    REQUIRE_OK(qpik_train("one-step", qt_data("tiny-dataset.h5"), out, o, on_progress, &log));
    first = log;
    unlink(out);
    memset(&log, 0, sizeof log);
    log.owner = pthread_self();
    log.cancel_at_state = 1;
    snprintf(log.cancel_stage, sizeof log.cancel_stage, "%s", first.last_stage);
    log.cancel_done = first.last_done;
    log.cancel_total = first.last_total;
    CHECK_STATUS(QPIK_ERR_CANCELLED, "cancel",
                 qpik_train("one-step", qt_data("tiny-dataset.h5"), out, o, on_progress, &log));
    qpik_options_free(o);
    qt_rmdir(dir);
}

TEST(train_bad_requests) {
    char *dir = qt_tempdir("train-bad");
    char out[1200], bogus[1200];
    qpik_options *o = qt_options(tiny);
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    snprintf(bogus, sizeof bogus, "%s/missing.h5", dir);
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "'two-step'",
                 qpik_train("two-step", qt_data("tiny-dataset.h5"), out, o, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_IO, "missing.h5", qpik_train("vae", bogus, out, o, NULL, NULL));
    /* A model file is not a dataset. */
    CHECK_STATUS(QPIK_ERR_FORMAT, "tiny-one-step.safetensors",
                 qpik_train("vae", qt_data("tiny-one-step.safetensors"), out, o, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "what", qpik_train(NULL, bogus, out, o, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "data_path", qpik_train("vae", NULL, out, o, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "out_path",
                 qpik_train("vae", qt_data("tiny-dataset.h5"), NULL, o, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_IO, "/nonexistent-dir/m.",
                 qpik_train("one-step", qt_data("tiny-dataset.h5"), "/nonexistent-dir/m.safetensors",
                            o, NULL, NULL));
    /* Settings checked when training starts. */
    CHECK_OK(qpik_options_set(o, "train.batch_size", "0"));
    CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "batch",
                 qpik_train("vae", qt_data("tiny-dataset.h5"), out, o, NULL, NULL));
    CHECK_EQ_INT(qt_dir_entries(dir), 0);
    qpik_options_free(o);
    qt_rmdir(dir);
}

QT_MAIN(QT_CASE(train_one_step), QT_CASE(train_vae_then_align),
        QT_CASE(train_cancelled_leaves_no_file), QT_CASE(train_cancelled_at_the_last_call),
        QT_CASE(train_bad_requests))
