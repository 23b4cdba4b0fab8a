/*
 * The ABI itself: enum values, struct layouts, versions, status names, array helpers.
 * Layouts are asserted at compile time: a change to src/capi that moves a field fails the
 * build of this file (and the header drift check catches a header that was not regenerated).
 */
#include "harness.h"

#include <stddef.h>

/* ---- enum values are fixed forever ---- */
_Static_assert(QPIK_OK == 0, "QPIK_OK");
_Static_assert(QPIK_ERR_NULL == 1, "QPIK_ERR_NULL");
_Static_assert(QPIK_ERR_INVALID_ARGUMENT == 2, "QPIK_ERR_INVALID_ARGUMENT");
_Static_assert(QPIK_ERR_SHAPE == 3, "QPIK_ERR_SHAPE");
_Static_assert(QPIK_ERR_DTYPE == 4, "QPIK_ERR_DTYPE");
_Static_assert(QPIK_ERR_NOT_FINITE == 5, "QPIK_ERR_NOT_FINITE");
_Static_assert(QPIK_ERR_UNKNOWN_OPTION == 6, "QPIK_ERR_UNKNOWN_OPTION");
_Static_assert(QPIK_ERR_OPTION_VALUE == 7, "QPIK_ERR_OPTION_VALUE");
_Static_assert(QPIK_ERR_BUFFER_TOO_SMALL == 8, "QPIK_ERR_BUFFER_TOO_SMALL");
_Static_assert(QPIK_ERR_IO == 9, "QPIK_ERR_IO");
_Static_assert(QPIK_ERR_FORMAT == 10, "QPIK_ERR_FORMAT");
_Static_assert(QPIK_ERR_NOT_FOUND == 11, "QPIK_ERR_NOT_FOUND");
_Static_assert(QPIK_ERR_UNAVAILABLE == 12, "QPIK_ERR_UNAVAILABLE");
_Static_assert(QPIK_ERR_CANCELLED == 13, "QPIK_ERR_CANCELLED");
_Static_assert(QPIK_ERR_INTERNAL == 14, "QPIK_ERR_INTERNAL");
_Static_assert(sizeof(qpik_status) == 4, "qpik_status is returned as a 32-bit int");

_Static_assert(QPIK_F32 == 1, "QPIK_F32");
_Static_assert(QPIK_F64 == 2, "QPIK_F64");
_Static_assert(QPIK_U8 == 3, "QPIK_U8");
_Static_assert(QPIK_ROW_MAJOR == 0, "QPIK_ROW_MAJOR");
_Static_assert(QPIK_COL_MAJOR == 1, "QPIK_COL_MAJOR");
_Static_assert(QPIK_METHOD_FORWARD == 0, "QPIK_METHOD_FORWARD");
_Static_assert(QPIK_METHOD_BLIND == 1, "QPIK_METHOD_BLIND");
_Static_assert(QPIK_MAX_DIMS == 4, "QPIK_MAX_DIMS");

/* ---- struct layouts (x86_64 / aarch64 LP64) ---- */
/* 8 + 8 + 4 + 4 + 4*8 + 4*8 = 88 bytes, no padding. */
_Static_assert(sizeof(qpik_array) == 88, "qpik_array size");
_Static_assert(offsetof(qpik_array, data) == 0, "qpik_array.data");
_Static_assert(offsetof(qpik_array, len) == 8, "qpik_array.len");
_Static_assert(offsetof(qpik_array, dtype) == 16, "qpik_array.dtype");
_Static_assert(offsetof(qpik_array, ndim) == 20, "qpik_array.ndim");
_Static_assert(offsetof(qpik_array, shape) == 24, "qpik_array.shape");
_Static_assert(offsetof(qpik_array, strides) == 56, "qpik_array.strides");

_Static_assert(sizeof(qpik_dataset_info) == 48, "qpik_dataset_info size");
_Static_assert(offsetof(qpik_dataset_info, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(qpik_dataset_info, max_defects) == 4, "max_defects");
_Static_assert(offsetof(qpik_dataset_info, observations) == 8, "observations");
_Static_assert(offsetof(qpik_dataset_info, kernels) == 16, "kernels");
_Static_assert(offsetof(qpik_dataset_info, rows) == 24, "rows");
_Static_assert(offsetof(qpik_dataset_info, cols) == 32, "cols");
_Static_assert(offsetof(qpik_dataset_info, pixel_size_m) == 40, "pixel_size_m");

_Static_assert(sizeof(qpik_dataset_kernel_info) == 24, "qpik_dataset_kernel_info size");
_Static_assert(offsetof(qpik_dataset_kernel_info, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(qpik_dataset_kernel_info, symmetry) == 4, "symmetry");
_Static_assert(offsetof(qpik_dataset_kernel_info, split) == 8, "split");
_Static_assert(offsetof(qpik_dataset_kernel_info, reserved) == 12, "reserved");
_Static_assert(offsetof(qpik_dataset_kernel_info, pixel_size_m) == 16, "pixel_size_m");

_Static_assert(sizeof(qpik_kernel_info) == 64, "qpik_kernel_info size");
_Static_assert(offsetof(qpik_kernel_info, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(qpik_kernel_info, symmetry) == 4, "symmetry");
_Static_assert(offsetof(qpik_kernel_info, rows) == 8, "rows");
_Static_assert(offsetof(qpik_kernel_info, cols) == 16, "cols");
_Static_assert(offsetof(qpik_kernel_info, pixel_size_m) == 24, "pixel_size_m");
_Static_assert(offsetof(qpik_kernel_info, rotation_deg) == 32, "rotation_deg");
_Static_assert(offsetof(qpik_kernel_info, energy_ev) == 40, "energy_ev");
_Static_assert(offsetof(qpik_kernel_info, centre_row) == 48, "centre_row");
_Static_assert(offsetof(qpik_kernel_info, centre_col) == 56, "centre_col");

_Static_assert(sizeof(qpik_model_info) == 24, "qpik_model_info size");
_Static_assert(offsetof(qpik_model_info, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(qpik_model_info, method) == 4, "method");
_Static_assert(offsetof(qpik_model_info, size) == 8, "size");
_Static_assert(offsetof(qpik_model_info, device) == 16, "device");
_Static_assert(offsetof(qpik_model_info, fell_back_to_cpu) == 20, "fell_back_to_cpu");

_Static_assert(sizeof(qpik_extract_info) == 24, "qpik_extract_info size");
_Static_assert(offsetof(qpik_extract_info, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(qpik_extract_info, mask_estimated) == 4, "mask_estimated");
_Static_assert(offsetof(qpik_extract_info, items) == 8, "items");
_Static_assert(offsetof(qpik_extract_info, defects) == 16, "defects");

/* 8 + 6*8 + 3*8 + 4 + 4 + 8 + 4 + 4 + 8 + 8 = 120 bytes, no padding. mirror_axis_deg was
 * appended after reserved, then method, explains_little and excluded_pixels, then
 * control_heldout_r2: a caller built against the 88-, 96- or 112-byte struct sets
 * struct_size to it and gets the fields it knows (qpik copies min(struct_size, its size)). */
_Static_assert(sizeof(qpik_extraction_info) == 120, "qpik_extraction_info size");
_Static_assert(offsetof(qpik_extraction_info, struct_size) == 0, "struct_size first");
_Static_assert(offsetof(qpik_extraction_info, symmetry) == 4, "symmetry");
_Static_assert(offsetof(qpik_extraction_info, types) == 8, "types");
_Static_assert(offsetof(qpik_extraction_info, energies) == 16, "energies");
_Static_assert(offsetof(qpik_extraction_info, kernel_size) == 24, "kernel_size");
_Static_assert(offsetof(qpik_extraction_info, rows) == 32, "rows");
_Static_assert(offsetof(qpik_extraction_info, cols) == 40, "cols");
_Static_assert(offsetof(qpik_extraction_info, defects) == 48, "defects");
_Static_assert(offsetof(qpik_extraction_info, heldout_r2) == 56, "heldout_r2");
_Static_assert(offsetof(qpik_extraction_info, fit_r2) == 64, "fit_r2");
_Static_assert(offsetof(qpik_extraction_info, pixel_size_m) == 72, "pixel_size_m");
_Static_assert(offsetof(qpik_extraction_info, positions_estimated) == 80, "positions_estimated");
_Static_assert(offsetof(qpik_extraction_info, reserved) == 84, "reserved");
_Static_assert(offsetof(qpik_extraction_info, mirror_axis_deg) == 88, "mirror_axis_deg");
_Static_assert(offsetof(qpik_extraction_info, method) == 96, "method");
_Static_assert(offsetof(qpik_extraction_info, explains_little) == 100, "explains_little");
_Static_assert(offsetof(qpik_extraction_info, excluded_pixels) == 104, "excluded_pixels");
_Static_assert(offsetof(qpik_extraction_info, control_heldout_r2) == 112, "control_heldout_r2");

TEST(versions) {
    char want[64];
    CHECK_EQ_INT(qpik_abi_version(), QPIK_ABI_VERSION);
    CHECK_STR(qpik_version(), QPIK_VERSION_STRING);
    snprintf(want, sizeof want, "%d.%d.%d", QPIK_VERSION_MAJOR, QPIK_VERSION_MINOR,
             QPIK_VERSION_PATCH);
    CHECK_STR(QPIK_VERSION_STRING, want);
    /* Static storage: the same pointer every time. */
    CHECK(qpik_version() == qpik_version());
}

TEST(status_names) {
    static const char *const names[] = {
        "QPIK_OK",
        "QPIK_ERR_NULL",
        "QPIK_ERR_INVALID_ARGUMENT",
        "QPIK_ERR_SHAPE",
        "QPIK_ERR_DTYPE",
        "QPIK_ERR_NOT_FINITE",
        "QPIK_ERR_UNKNOWN_OPTION",
        "QPIK_ERR_OPTION_VALUE",
        "QPIK_ERR_BUFFER_TOO_SMALL",
        "QPIK_ERR_IO",
        "QPIK_ERR_FORMAT",
        "QPIK_ERR_NOT_FOUND",
        "QPIK_ERR_UNAVAILABLE",
        "QPIK_ERR_CANCELLED",
        "QPIK_ERR_INTERNAL",
        "QPIK_ERR_MEMORY_BUDGET",
    };
    int32_t s;
    for (s = 0; s <= QPIK_ERR_MEMORY_BUDGET; s++) {
        CHECK_STR(qpik_status_name(s), names[s]);
    }
    CHECK_STR(qpik_status_name(QPIK_ERR_MEMORY_BUDGET + 1), "unknown status");
    CHECK_STR(qpik_status_name(-1), "unknown status");
    CHECK_STR(qpik_status_name(INT32_MAX), "unknown status");
    CHECK_STR(qpik_status_name(INT32_MIN), "unknown status");
}

TEST(last_error_starts_empty_and_is_kept_by_successes) {
    size_t count = 0;
    /* First thing this process does in this case (ctest runs each case on its own). */
    const char *e = qpik_last_error();
    REQUIRE(e != NULL);
    CHECK_STR(e, "");
    CHECK(qpik_catalog_count(NULL) == QPIK_ERR_NULL);
    CHECK_STR(qpik_last_error(), "qpik_catalog_count: count is NULL; pass a valid pointer");
    CHECK(qpik_catalog_count(&count) == QPIK_OK);
    CHECK(count > 0);
    CHECK_STR(qpik_last_error(), "qpik_catalog_count: count is NULL; pass a valid pointer");
}

TEST(array_helpers) {
    float buf[1];
    qpik_array a = qpik_array_2d(buf, QPIK_F32, 3, 5, QPIK_ROW_MAJOR);
    CHECK(a.data == buf);
    CHECK_EQ_INT(a.len, 15);
    CHECK_EQ_INT(a.dtype, QPIK_F32);
    CHECK_EQ_INT(a.ndim, 2);
    CHECK_EQ_INT(a.shape[0], 3);
    CHECK_EQ_INT(a.shape[1], 5);
    CHECK_EQ_INT(a.strides[0], 5);
    CHECK_EQ_INT(a.strides[1], 1);

    a = qpik_array_2d(buf, QPIK_F64, 3, 5, QPIK_COL_MAJOR);
    CHECK_EQ_INT(a.dtype, QPIK_F64);
    CHECK_EQ_INT(a.strides[0], 1);
    CHECK_EQ_INT(a.strides[1], 3);
    CHECK_EQ_INT(a.len, 15);

    a = qpik_array_3d(buf, QPIK_U8, 2, 3, 5, QPIK_ROW_MAJOR);
    CHECK_EQ_INT(a.ndim, 3);
    CHECK_EQ_INT(a.len, 30);
    CHECK_EQ_INT(a.shape[0], 2);
    CHECK_EQ_INT(a.shape[1], 3);
    CHECK_EQ_INT(a.shape[2], 5);
    CHECK_EQ_INT(a.strides[0], 15);
    CHECK_EQ_INT(a.strides[1], 5);
    CHECK_EQ_INT(a.strides[2], 1);

    /* MATLAB's rows x cols x n seen as (image, row, column). */
    a = qpik_array_3d(buf, QPIK_F64, 2, 3, 5, QPIK_COL_MAJOR);
    CHECK_EQ_INT(a.strides[0], 15);
    CHECK_EQ_INT(a.strides[1], 1);
    CHECK_EQ_INT(a.strides[2], 3);

    /* Pure: nonsense sizes give an empty descriptor, checked when used. */
    a = qpik_array_2d(NULL, 99, -3, 5, 7);
    CHECK_EQ_INT(a.len, 0);
    CHECK(a.data == NULL);
    CHECK_EQ_INT(a.dtype, 99);
    a = qpik_array_3d(buf, QPIK_F32, INT64_MAX, INT64_MAX, 2, QPIK_ROW_MAJOR);
    CHECK(a.len == UINT64_MAX); /* saturates instead of wrapping */
}

/* last_error_... first: it needs a thread on which no qpik call has failed yet. */
QT_MAIN(QT_CASE(last_error_starts_empty_and_is_kept_by_successes), QT_CASE(versions),
        QT_CASE(status_names), QT_CASE(array_helpers))
