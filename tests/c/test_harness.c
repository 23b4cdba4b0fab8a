/*
 * The harness must be able to fail: each case here breaks one rule on purpose, and ctest
 * expects it to fail (WILL_FAIL). If a check macro ever stops reporting, these turn red.
 */
#include "harness.h"

TEST(wrong_status_fails) {
    size_t count = 0;
    CHECK_STATUS(QPIK_ERR_NULL, "count", qpik_catalog_count(&count)); /* it succeeds */
}

TEST(wrong_message_fails) {
    CHECK_STATUS(QPIK_ERR_NULL, "a message qpik never writes", qpik_catalog_count(NULL));
}

TEST(false_check_fails) { CHECK(qpik_abi_version() == QPIK_ABI_VERSION + 1); }

/* Declared but not registered in QT_MAIN: running it by name must fail. */
TEST(unknown_case_fails) {}

QT_MAIN(QT_CASE(wrong_status_fails), QT_CASE(wrong_message_fails), QT_CASE(false_check_fails))
