/*
 * C tests of the physics fits' entry points (qpik_fit_file, qpik_gap_sign_file and their
 * results): every required pointer, a missing file and a file that is not an extraction
 * result are refused with the status and a message that names them, and the output handle
 * is left untouched; the frees accept NULL. (The fits themselves are tested in Rust,
 * tests/fit.rs and tests/gap_sign.rs, and through Python.)
 */
#include "harness.h"

#define DATASET QPIK_TEST_DATA_DIR "/tiny-dataset.h5"
#define MISSING QPIK_TEST_DATA_DIR "/no-such-result.h5"

TEST(fit_file_refuses_bad_arguments_and_files) {
    qpik_fit_result *r = (qpik_fit_result *)0x1;
    CHECK_STATUS(QPIK_ERR_NULL, "result_path", qpik_fit_file(NULL, DATASET, NULL, &r, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "spec_path", qpik_fit_file(DATASET, NULL, NULL, &r, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "out", qpik_fit_file(DATASET, DATASET, NULL, NULL, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_IO, "no-such-result.h5",
                 qpik_fit_file(MISSING, DATASET, NULL, &r, NULL, NULL));
    CHECK(r == (qpik_fit_result *)0x1);
    qpik_fit_result_free(NULL);
}

TEST(gap_sign_file_refuses_bad_arguments_and_files) {
    qpik_gap_sign_result *r = (qpik_gap_sign_result *)0x1;
    qpik_gap_verdict v;
    double c;
    char buf[16];
    size_t needed;
    CHECK_STATUS(QPIK_ERR_NULL, "result_path",
                 qpik_gap_sign_file(NULL, NULL, NULL, &r, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "out", qpik_gap_sign_file(DATASET, NULL, NULL, NULL, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_IO, "no-such-result.h5",
                 qpik_gap_sign_file(MISSING, NULL, NULL, &r, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_FORMAT, "tiny-dataset.h5",
                 qpik_gap_sign_file(DATASET, NULL, NULL, &r, NULL, NULL));
    CHECK(r == (qpik_gap_sign_result *)0x1);
    CHECK_STATUS(QPIK_ERR_NULL, "NULL", qpik_gap_sign_result_verdict(NULL, &v, &c));
    CHECK_STATUS(QPIK_ERR_NULL, "NULL", qpik_gap_sign_result_json(NULL, buf, sizeof buf, &needed));
    qpik_gap_sign_result_free(NULL);
}

QT_MAIN(QT_CASE(fit_file_refuses_bad_arguments_and_files),
        QT_CASE(gap_sign_file_refuses_bad_arguments_and_files))
