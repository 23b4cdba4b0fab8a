/*
 * Bad input: every call must refuse it with the exact status and a message (starting with
 * the function's name) that names the problem, and must not crash or write its outputs.
 */
#include "harness.h"

#include <limits.h>
#include <stdlib.h>
#include <time.h>

#define CHEAP "shockley-cu111-m100meV"

static qpik_model *fixture_model(void) {
    qpik_model *m = NULL;
    if (qpik_model_new_from_file(qt_data("tiny-one-step.safetensors"), NULL, &m) != QPIK_OK) {
        fprintf(stderr, "model: %s\n", qpik_last_error());
    }
    return m;
}

TEST(null_pointers_everywhere) {
    qpik_options *o = NULL;
    qpik_kernel *k = NULL;
    qpik_observation *obs = NULL;
    qpik_dataset *ds = NULL;
    qpik_model *m = fixture_model();
    qpik_kernel_info ki;
    qpik_model_info mi;
    qpik_dataset_info di;
    qpik_extract_info ei;
    static float img[64 * 64], out[64 * 64];
    static unsigned char mask[64 * 64];
    qpik_array a = qpik_array_2d(img, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array ka = qpik_array_2d(out, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array a3 = qpik_array_3d(img, QPIK_F32, 1, 64, 64, QPIK_ROW_MAJOR);
    qpik_array m3 = qpik_array_3d(mask, QPIK_U8, 1, 64, 64, QPIK_ROW_MAJOR);
    qpik_array nodata = qpik_array_2d(NULL, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    uint32_t kidx[1] = {0};
    size_t n = 0;
    char buf[64];
    REQUIRE(m != NULL);
    REQUIRE_OK(qpik_options_new(&o));
    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, NULL, &k));
    REQUIRE_OK(qpik_observation_new(k, 64, 64, NULL, &obs));
    REQUIRE_OK(qpik_dataset_open(qt_data("tiny-dataset.h5"), &ds));
    ki.struct_size = sizeof ki;
    mi.struct_size = sizeof mi;
    di.struct_size = sizeof di;
    ei.struct_size = sizeof ei;

    /* options */
    CHECK_STATUS(QPIK_ERR_NULL, "out is NULL", qpik_options_new(NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "opts is NULL", qpik_options_set(NULL, "seed", "1"));
    CHECK_STATUS(QPIK_ERR_NULL, "key is NULL", qpik_options_set(o, NULL, "1"));
    CHECK_STATUS(QPIK_ERR_NULL, "value is NULL", qpik_options_set(o, "seed", NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "opts is NULL", qpik_options_get(NULL, "seed", buf, 64, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "key is NULL", qpik_options_get(o, NULL, buf, 64, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "buf is NULL", qpik_options_get(o, "seed", NULL, 64, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "buf is NULL", qpik_options_describe(NULL, 1 << 20, NULL));
    /* catalog */
    CHECK_STATUS(QPIK_ERR_NULL, "count is NULL", qpik_catalog_count(NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "buf is NULL", qpik_catalog_name(0, NULL, 64, &n));
    CHECK_STATUS(QPIK_ERR_NULL, "name is NULL", qpik_catalog_spec(NULL, buf, 64, NULL));
    /* kernels */
    CHECK_STATUS(QPIK_ERR_NULL, "out is NULL", qpik_kernel_new(CHEAP, NULL, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "exactly one", qpik_kernel_new(NULL, NULL, o, &k));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "exactly one",
                 qpik_kernel_new(CHEAP, "name = \"x\"", o, &k));
    CHECK_STATUS(QPIK_ERR_NULL, "kernel is NULL", qpik_kernel_get_info(NULL, &ki));
    CHECK_STATUS(QPIK_ERR_NULL, "info is NULL", qpik_kernel_get_info(k, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "kernel is NULL", qpik_kernel_image(NULL, &a));
    CHECK_STATUS(QPIK_ERR_NULL, "image is NULL", qpik_kernel_image(k, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "image->data is NULL", qpik_kernel_image(k, &nodata));
    /* observations */
    CHECK_STATUS(QPIK_ERR_NULL, "kernel is NULL", qpik_observation_new(NULL, 8, 8, o, &obs));
    CHECK_STATUS(QPIK_ERR_NULL, "out is NULL", qpik_observation_new(k, 8, 8, o, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "observation is NULL", qpik_observation_image(NULL, &a, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "image is NULL", qpik_observation_image(obs, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "observation is NULL", qpik_observation_defect_count(NULL, &n));
    CHECK_STATUS(QPIK_ERR_NULL, "count is NULL", qpik_observation_defect_count(obs, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "observation is NULL", qpik_observation_defects(NULL, &a));
    CHECK_STATUS(QPIK_ERR_NULL, "defects is NULL", qpik_observation_defects(obs, NULL));
    /* models */
    CHECK_STATUS(QPIK_ERR_NULL, "out is NULL", qpik_model_new_default(NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "path is NULL", qpik_model_new_from_file(NULL, NULL, &m));
    CHECK_STATUS(QPIK_ERR_NULL, "out is NULL",
                 qpik_model_new_from_file(qt_data("tiny-one-step.safetensors"), NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "bytes is NULL", qpik_model_new_from_memory(NULL, 10, NULL, &m));
    CHECK_STATUS(QPIK_ERR_NULL, "model is NULL", qpik_model_get_info(NULL, &mi));
    CHECK_STATUS(QPIK_ERR_NULL, "info is NULL", qpik_model_get_info(m, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "observation is NULL", qpik_estimate_mask(NULL, &ka, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "mask is NULL", qpik_estimate_mask(&a, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "model is NULL", qpik_extract(NULL, &a, NULL, &ka, &ei));
    CHECK_STATUS(QPIK_ERR_NULL, "observation is NULL", qpik_extract(m, NULL, NULL, &ka, &ei));
    CHECK_STATUS(QPIK_ERR_NULL, "kernel is NULL", qpik_extract(m, &a, NULL, NULL, &ei));
    CHECK_STATUS(QPIK_ERR_NULL, "observation->data is NULL",
                 qpik_extract(m, &nodata, NULL, &ka, &ei));
    /* datasets */
    CHECK_STATUS(QPIK_ERR_NULL, "path is NULL", qpik_dataset_generate(NULL, o, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "path is NULL", qpik_dataset_open(NULL, &ds));
    CHECK_STATUS(QPIK_ERR_NULL, "out is NULL",
                 qpik_dataset_open(qt_data("tiny-dataset.h5"), NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "dataset is NULL", qpik_dataset_get_info(NULL, &di));
    CHECK_STATUS(QPIK_ERR_NULL, "info is NULL", qpik_dataset_get_info(ds, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "dataset is NULL", qpik_dataset_kernel(NULL, 0, &a, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "dataset is NULL",
                 qpik_dataset_kernel_name(NULL, 0, buf, 64, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "buf is NULL", qpik_dataset_kernel_name(ds, 0, NULL, 64, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "dataset is NULL", qpik_dataset_read(NULL, 0, &a3, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "observations is NULL",
                 qpik_dataset_read(ds, 0, NULL, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "path is NULL",
                 qpik_dataset_write(NULL, &a3, &a3, &m3, kidx, o));
    CHECK_OK(qpik_options_set(o, "pixel_size_a", "1"));
    CHECK_STATUS(QPIK_ERR_NULL, "kernels is NULL",
                 qpik_dataset_write("/nonexistent/x.h5", NULL, &a3, &m3, kidx, o));
    CHECK_STATUS(QPIK_ERR_NULL, "observations is NULL",
                 qpik_dataset_write("/nonexistent/x.h5", &a3, NULL, &m3, kidx, o));
    CHECK_STATUS(QPIK_ERR_NULL, "masks is NULL",
                 qpik_dataset_write("/nonexistent/x.h5", &a3, &a3, NULL, kidx, o));
    CHECK_STATUS(QPIK_ERR_NULL, "kernel_index is NULL",
                 qpik_dataset_write("/nonexistent/x.h5", &a3, &a3, &m3, NULL, o));

    qpik_options_free(o);
    qpik_kernel_free(k);
    qpik_observation_free(obs);
    qpik_dataset_free(ds);
    qpik_model_free(m);
}

TEST(free_functions_accept_null) {
    qpik_options_free(NULL);
    qpik_kernel_free(NULL);
    qpik_observation_free(NULL);
    qpik_model_free(NULL);
    qpik_dataset_free(NULL); /* a crash fails the test; valgrind checks these too */
}

/* A 16 x 16 observation descriptor for the array checks (qpik_estimate_mask needs no model). */
static float obs16[16 * 16 + 64];
static unsigned char mask16[16 * 16];

static void array_case(qpik_status want, const char *needle, qpik_array o, int line) {
    qpik_array m = qpik_array_2d(mask16, QPIK_U8, 16, 16, QPIK_ROW_MAJOR);
    qpik_status s;
    qt_poison();
    s = qpik_estimate_mask(&o, &m, NULL);
    qt_check_status(s, want, needle, "qpik_estimate_mask(&o, &m, NULL)", __FILE__, line);
}

TEST(bad_dimensions_strides_and_dtypes) {
    qpik_array base = qpik_array_2d(obs16, QPIK_F32, 16, 16, QPIK_ROW_MAJOR), o;
    int i;
    for (i = 0; i < 16 * 16; i++) {
        obs16[i] = (float)sin(i * 0.3);
    }
    array_case(QPIK_OK, NULL, base, __LINE__);

    o = base, o.shape[0] = 0;
    array_case(QPIK_ERR_SHAPE, "shape[0] = 0", o, __LINE__);
    o = base, o.shape[1] = -16;
    array_case(QPIK_ERR_SHAPE, "shape[1] = -16", o, __LINE__);
    o = base, o.shape[0] = (int64_t)1 << 40;
    array_case(QPIK_ERR_SHAPE, "1..=16777216", o, __LINE__);
    o = base, o.shape[0] = INT64_MIN;
    array_case(QPIK_ERR_SHAPE, "shape[0]", o, __LINE__);
    o = base, o.shape[0] = 1 << 20, o.shape[1] = 1 << 20, o.strides[0] = 1 << 20;
    o.len = UINT64_MAX;
    array_case(QPIK_ERR_SHAPE, "at most 2147483648", o, __LINE__);
    o = base, o.ndim = 0;
    array_case(QPIK_ERR_SHAPE, "0 dimensions", o, __LINE__);
    o = base, o.ndim = 5;
    array_case(QPIK_ERR_SHAPE, "5 dimensions", o, __LINE__);
    o = qpik_array_3d(obs16, QPIK_F32, 1, 16, 16, QPIK_ROW_MAJOR);
    array_case(QPIK_ERR_SHAPE, "3 dimensions but this call takes [2]", o, __LINE__);

    /* strides: zero, negative, overlapping, past len */
    o = base, o.strides[1] = 0;
    array_case(QPIK_ERR_SHAPE, "strides[1] = 0", o, __LINE__);
    o = base, o.strides[0] = -16;
    array_case(QPIK_ERR_SHAPE, "strides[0] = -16", o, __LINE__);
    o = base, o.strides[0] = 1, o.strides[1] = 1;
    array_case(QPIK_ERR_SHAPE, "overlap", o, __LINE__);
    o = base, o.strides[0] = 8; /* rows overlap half-way */
    array_case(QPIK_ERR_SHAPE, "overlap", o, __LINE__);
    o = base, o.strides[0] = 17; /* padded rows, but len is 256 */
    array_case(QPIK_ERR_SHAPE, "len is 256", o, __LINE__);
    o = base, o.len = 255;
    array_case(QPIK_ERR_SHAPE, "len is 255", o, __LINE__);
    o = base, o.len = 0;
    array_case(QPIK_ERR_SHAPE, "len is 0", o, __LINE__);
    o = base, o.strides[0] = INT64_MAX, o.len = UINT64_MAX; /* the span overflows 64 bits */
    array_case(QPIK_ERR_SHAPE, "reaches element 138350580552821637120", o, __LINE__);
    o = base, o.strides[0] = 17, o.len = 16 * 17; /* padded rows that fit */
    array_case(QPIK_OK, NULL, o, __LINE__);

    /* dtypes */
    o = base, o.dtype = 0;
    array_case(QPIK_ERR_DTYPE, "dtype 0 is not a qpik_dtype", o, __LINE__);
    o = base, o.dtype = 99;
    array_case(QPIK_ERR_DTYPE, "dtype 99", o, __LINE__);
    o = base, o.dtype = QPIK_U8;
    array_case(QPIK_ERR_DTYPE, "QPIK_U8 but this call takes QPIK_F32 or QPIK_F64", o, __LINE__);
    {
        /* ... and for outputs */
        qpik_array m = qpik_array_2d(mask16, 7, 16, 16, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_DTYPE, "mask->dtype 7", qpik_estimate_mask(&base, &m, NULL));
        m = qpik_array_2d(mask16, QPIK_U8, 16, 15, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "[16, 15]", qpik_estimate_mask(&base, &m, NULL));
    }
}

TEST(not_finite_data) {
    qpik_array o = qpik_array_2d(obs16, QPIK_F32, 16, 16, QPIK_ROW_MAJOR);
    qpik_array m = qpik_array_2d(mask16, QPIK_U8, 16, 16, QPIK_ROW_MAJOR);
    double d[16 * 16];
    qpik_array od = qpik_array_2d(d, QPIK_F64, 16, 16, QPIK_COL_MAJOR);
    int i;
    for (i = 0; i < 16 * 16; i++) {
        obs16[i] = (float)i;
        d[i] = i;
    }
    obs16[37] = NAN;
    CHECK_STATUS(QPIK_ERR_NOT_FINITE, "first at flat index 37", qpik_estimate_mask(&o, &m, NULL));
    obs16[37] = INFINITY;
    CHECK_STATUS(QPIK_ERR_NOT_FINITE, "NaN or infinite", qpik_estimate_mask(&o, &m, NULL));
    obs16[37] = -INFINITY;
    CHECK_STATUS(QPIK_ERR_NOT_FINITE, "observation", qpik_estimate_mask(&o, &m, NULL));
    /* Column-major: element (row 2, col 3) is d[3*16+2]; its row-major flat index is 35. */
    d[3 * 16 + 2] = NAN;
    CHECK_STATUS(QPIK_ERR_NOT_FINITE, "flat index 35", qpik_estimate_mask(&od, &m, NULL));
    /* A float64 beyond the float32 range qpik computes in is refused, not made infinite. */
    d[3 * 16 + 2] = -1e300;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "holds -1e300 at flat index 35, beyond the float32",
                 qpik_estimate_mask(&od, &m, NULL));
}

TEST(extract_bad_shapes_and_masks) {
    qpik_model *m = fixture_model();
    static float obs[2 * 64 * 64], out[2 * 64 * 64];
    static double maskd[64 * 64];
    static unsigned char masku[64 * 64];
    qpik_array o = qpik_array_2d(obs, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array k = qpik_array_2d(out, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    qpik_array mk, x;
    qpik_extract_info info;
    int i;
    REQUIRE(m != NULL);
    for (i = 0; i < 2 * 64 * 64; i++) {
        obs[i] = (float)cos(i * 0.01);
    }
    masku[100] = 1;
    maskd[100] = 1;
    mk = qpik_array_2d(masku, QPIK_U8, 64, 64, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extract(m, &o, &mk, &k, NULL));

    /* The model's size only. */
    x = qpik_array_2d(obs, QPIK_F32, 32, 32, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "takes 64 x 64", qpik_extract(m, &x, NULL, &k, NULL));
    x = qpik_array_2d(obs, QPIK_F32, 64, 32, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "[64, 32]", qpik_extract(m, &x, NULL, &k, NULL));
    x = qpik_array_2d(obs, QPIK_F32, 2, 64 * 64, QPIK_ROW_MAJOR);
    x.ndim = 4, x.shape[2] = 1, x.shape[3] = 1;
    CHECK_STATUS(QPIK_ERR_SHAPE, "4 dimensions", qpik_extract(m, &x, NULL, &k, NULL));
    /* Output shape and dtype. */
    x = qpik_array_2d(out, QPIK_F32, 63, 64, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "kernel has shape [63, 64]", qpik_extract(m, &o, NULL, &x, NULL));
    x = qpik_array_3d(out, QPIK_F32, 2, 64, 64, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "kernel has shape [2, 64, 64]",
                 qpik_extract(m, &o, NULL, &x, NULL));
    x = qpik_array_2d(out, QPIK_U8, 64, 64, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_DTYPE, "kernel is QPIK_U8", qpik_extract(m, &o, NULL, &x, NULL));
    /* Masks: wrong shape, non-binary values. */
    x = qpik_array_2d(masku, QPIK_U8, 64, 63, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "the mask must match", qpik_extract(m, &o, &x, &k, NULL));
    x = qpik_array_3d(obs, QPIK_F32, 2, 64, 64, QPIK_ROW_MAJOR);
    {
        qpik_array k3 = qpik_array_3d(out, QPIK_F32, 2, 64, 64, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "mask has shape [64, 64] but must be [2, 64, 64]",
                     qpik_extract(m, &x, &mk, &k3, NULL));
    }
    masku[7] = 2;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "binary (0 or 1) but holds 2 at flat index 7",
                 qpik_extract(m, &o, &mk, &k, NULL));
    masku[7] = 0;
    x = qpik_array_2d(maskd, QPIK_F64, 64, 64, QPIK_ROW_MAJOR);
    maskd[9] = 0.5;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "binary", qpik_extract(m, &o, &x, &k, NULL));
    maskd[9] = NAN;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "binary", qpik_extract(m, &o, &x, &k, NULL));
    maskd[9] = -1;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "binary", qpik_extract(m, &o, &x, &k, NULL));
    maskd[9] = 1;
    CHECK_OK(qpik_extract(m, &o, &x, &k, NULL));
    /* The output may be the input buffer: all input is read before anything is written. */
    CHECK_OK(qpik_extract(m, &o, &mk, &o, NULL));

    /* struct_size not set. */
    memset(&info, 0, sizeof info);
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "struct_size is 0",
                 qpik_extract(m, &k, &mk, &k, &info));
    info.struct_size = 4;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "struct_size is 4",
                 qpik_extract(m, &k, &mk, &k, &info));
    qpik_model_free(m);
}

TEST(struct_size_not_set) {
    qpik_kernel *k = NULL;
    qpik_model *m = fixture_model();
    qpik_dataset *ds = NULL;
    qpik_kernel_info ki;
    qpik_model_info mi;
    qpik_dataset_info di;
    qpik_dataset_kernel_info dki;
    REQUIRE(m != NULL);
    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, NULL, &k));
    REQUIRE_OK(qpik_dataset_open(qt_data("tiny-dataset.h5"), &ds));
    memset(&ki, 0, sizeof ki);
    memset(&mi, 0, sizeof mi);
    memset(&di, 0, sizeof di);
    memset(&dki, 0, sizeof dki);
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "info->struct_size is 0",
                 qpik_kernel_get_info(k, &ki));
    CHECK_EQ_INT(ki.rows, 0); /* nothing written */
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "struct_size", qpik_model_get_info(m, &mi));
    CHECK_EQ_INT(mi.size, 0);
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "struct_size", qpik_dataset_get_info(ds, &di));
    CHECK_EQ_INT(di.rows, 0);
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "struct_size",
                 qpik_dataset_kernel(ds, 0, NULL, &dki));
    dki.struct_size = 7;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "struct_size is 7",
                 qpik_dataset_kernel(ds, 0, NULL, &dki));
    /* A newer caller's larger struct is fine: qpik writes what it knows. */
    {
        unsigned char big[sizeof(qpik_kernel_info) + 32];
        qpik_kernel_info *p = (qpik_kernel_info *)(void *)big;
        size_t i;
        int tail = 1;
        memset(big, 0xEE, sizeof big);
        p->struct_size = sizeof big;
        CHECK_OK(qpik_kernel_get_info(k, p));
        CHECK_EQ_INT(p->rows, 64);
        for (i = sizeof(qpik_kernel_info); i < sizeof big; i++) {
            tail &= big[i] == 0xEE;
        }
        CHECK(tail);
    }
    qpik_kernel_free(k);
    qpik_model_free(m);
    qpik_dataset_free(ds);
}

TEST(options_unknown_keys_and_bad_values) {
    static const char *const bad[][3] = {
        /* key, value, text the message must contain */
        {"seed", "-1", "'seed' = '-1': expected a whole number"},
        {"seed", "abc", "'seed'"},
        {"seed", "18446744073709551616", "'seed'"},
        {"seed", "", "'seed'"},
        {"size", "0", "'size'"},
        {"size", "9000", "1..=8192"},
        {"size", "3x4x5", "ROWSxCOLS"},
        {"size", "x", "'size'"},
        {"pixel_size_a", "nan", "a finite number"},
        {"pixel_size_a", "inf", "a finite number"},
        {"pixel_size_a", "1e400", "a finite number"},
        {"pixel_size_m", "nan", "a finite number"},
        {"pixel_size_m", "-1e-10", "not positive"},
        {"pixel_size_m", "0.893", "did you mean 0.893 Angstrom (8.93e-11 m)?"},
        {"map.pixel_size_m", "2e-5", "not a plausible STM pixel"},
        {"map.pixel_size_a", "8.9e-11", "did you mean 8.9e-11 m"},
        {"device", "gpu", "one of cpu, cuda"},
        {"method", "three-step", "two-step"},
        {"train.augment", "maybe", "true or false"},
        {"defects.region", "central:0", "0 < FRACTION <= 1"},
        {"defects.region", "central:1.5", "0 < FRACTION <= 1"},
        {"defects.region", "middle", "full or central:FRACTION"},
        {"train.channels", "4,4", "three channel counts"},
        {"train.channels", "0,4,8", "1..=1024"},
        {"train.channels", "4,4,2000", "1..=1024"},
        {"train.vae", "", "a file path"},
        {"artefacts", "some", "none, realistic"},
    };
    qpik_options *o = NULL;
    size_t i;
    char buf[64];
    REQUIRE_OK(qpik_options_new(&o));
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qpik_status s;
        qt_poison();
        s = qpik_options_set(o, bad[i][0], bad[i][1]);
        CHECK_MSG(qt_check_status(s, QPIK_ERR_OPTION_VALUE, bad[i][2], "qpik_options_set()",
                                  __FILE__, __LINE__),
                  "(key '%s', value '%s')", bad[i][0], bad[i][1]);
    }
    CHECK_STATUS(QPIK_ERR_UNKNOWN_OPTION, "unknown option 'sed'; did you mean 'seed'?",
                 qpik_options_set(o, "sed", "1"));
    CHECK_STATUS(QPIK_ERR_UNKNOWN_OPTION, "did you mean 'defects.count_max'",
                 qpik_options_set(o, "defects.count_mx", "1"));
    CHECK_STATUS(QPIK_ERR_UNKNOWN_OPTION, "qpik_options_describe() lists every key",
                 qpik_options_set(o, "completely.unrelated.key", "1"));
    CHECK_STATUS(QPIK_ERR_UNKNOWN_OPTION, "unknown option ''", qpik_options_set(o, "", "1"));
    CHECK_STATUS(QPIK_ERR_UNKNOWN_OPTION, "'SEED'", qpik_options_set(o, "SEED", "1"));
    CHECK_STATUS(QPIK_ERR_UNKNOWN_OPTION, "unknown option 'sed'",
                 qpik_options_get(o, "sed", buf, sizeof buf, NULL));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "key is not valid UTF-8",
                 qpik_options_set(o, "se\xff" "d", "1"));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "value is not valid UTF-8",
                 qpik_options_set(o, "seed", "\xc3"));

    /* Limits across keys fail in the call that uses them. */
    {
        qpik_kernel *k = NULL;
        qpik_observation *obs = NULL;
        REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, NULL, &k));
        CHECK_OK(qpik_options_set(o, "defects.count_min", "9"));
        CHECK_OK(qpik_options_set(o, "defects.count_max", "3"));
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "defects.*", qpik_observation_new(k, 32, 32, o, &obs));
        CHECK(obs == NULL);
        CHECK_OK(qpik_options_set(o, "defects.count_max", "9"));
        CHECK_OK(qpik_options_set(o, "defects.amplitude_min", "2"));
        CHECK_OK(qpik_options_set(o, "defects.amplitude_max", "1"));
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "defects.*", qpik_observation_new(k, 32, 32, o, &obs));
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "defects.*",
                     qpik_dataset_generate("/nonexistent/x.h5", o, NULL, NULL));
        qpik_kernel_free(k);
    }
    {
        qpik_options *d = NULL;
        REQUIRE_OK(qpik_options_new(&d));
        CHECK_OK(qpik_options_set(d, "size", "32x48"));
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "square",
                     qpik_dataset_generate("/nonexistent/x.h5", d, NULL, NULL));
        CHECK_OK(qpik_options_set(d, "size", "32"));
        CHECK_OK(qpik_options_set(d, "dataset.kernels", "0"));
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "dataset.*",
                     qpik_dataset_generate("/nonexistent/x.h5", d, NULL, NULL));
        qpik_options_free(d);
    }
    qpik_options_free(o);
}

TEST(kernels_and_observations_bad_requests) {
    qpik_kernel *k = NULL;
    qpik_observation *obs = NULL;
    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, NULL, &k));
    CHECK_STATUS(QPIK_ERR_NOT_FOUND, "no catalog kernel is named 'no-such-kernel'",
                 qpik_kernel_new("no-such-kernel", NULL, NULL, &k));
    CHECK_STATUS(QPIK_ERR_NOT_FOUND, "'no-such-kernel'",
                 qpik_catalog_spec("no-such-kernel", NULL, 0, NULL));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "kernel spec",
                 qpik_kernel_new(NULL, "this is [not toml", NULL, &k));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "kernel spec",
                 qpik_kernel_new(NULL, "name = \"x\"\n", NULL, &k));
    CHECK_STATUS(QPIK_ERR_SHAPE, "0 x 32", qpik_observation_new(k, 0, 32, NULL, &obs));
    CHECK_STATUS(QPIK_ERR_SHAPE, "-5 x 32", qpik_observation_new(k, -5, 32, NULL, &obs));
    CHECK_STATUS(QPIK_ERR_SHAPE, "32 x 9000", qpik_observation_new(k, 32, 9000, NULL, &obs));
    CHECK_STATUS(QPIK_ERR_SHAPE, "within 1..=8192",
                 qpik_observation_new(k, INT64_MAX, INT64_MIN, NULL, &obs));
    CHECK(obs == NULL);
    REQUIRE_OK(qpik_observation_new(k, 32, 32, NULL, &obs));
    {
        float img[32 * 33];
        qpik_array a = qpik_array_2d(img, QPIK_F32, 33, 32, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "image has shape [33, 32] but must be [32, 32]",
                     qpik_observation_image(obs, &a, NULL));
        a = qpik_array_2d(img, QPIK_U8, 32, 32, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_DTYPE, "image is QPIK_U8", qpik_observation_image(obs, &a, NULL));
        a = qpik_array_2d(img, QPIK_F32, 32, 32, QPIK_ROW_MAJOR);
        {
            qpik_array mk = qpik_array_2d(img, QPIK_F32, 32, 31, QPIK_ROW_MAJOR);
            CHECK_STATUS(QPIK_ERR_SHAPE, "mask has shape [32, 31]",
                         qpik_observation_image(obs, &a, &mk));
        }
    }
    CHECK_STATUS(QPIK_ERR_NOT_FOUND, "past the catalog",
                 qpik_catalog_name(100000, NULL, 0, NULL));
    qpik_observation_free(obs);
    qpik_kernel_free(k);
}

/* Model bytes: a safetensors file is an 8-byte little-endian header length, a JSON header,
 * then the data. */
TEST(corrupt_model_bytes) {
    size_t len = 0, i;
    unsigned char *good = qt_read_file(qt_data("tiny-two-step.safetensors"), &len);
    unsigned char *bad;
    qpik_model *m = NULL;
    static const char foreign_json[] =
        "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    unsigned char foreign[8 + sizeof foreign_json - 1 + 4];
    REQUIRE(good != NULL && len > 1000);
    bad = (unsigned char *)malloc(len);
    REQUIRE(bad != NULL);

    CHECK_STATUS(QPIK_ERR_FORMAT, "not a safetensors model file",
                 qpik_model_new_from_memory(good, 0, NULL, &m));
    CHECK_STATUS(QPIK_ERR_FORMAT, "model bytes", qpik_model_new_from_memory(good, 7, NULL, &m));
    /* Truncated at several places: the header, the tensors, the last byte. */
    {
        size_t cuts[] = {8, 100, len / 2, len - 1};
        for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            qpik_status s;
            qt_poison();
            s = qpik_model_new_from_memory(good, cuts[i], NULL, &m);
            qt_check_status(s, QPIK_ERR_FORMAT, "not a safetensors model file",
                            "qpik_model_new_from_memory(truncated)", __FILE__, __LINE__);
        }
    }
    /* An absurd header length. */
    memcpy(bad, good, len);
    memset(bad, 0xFF, 8);
    CHECK_STATUS(QPIK_ERR_FORMAT, "model bytes", qpik_model_new_from_memory(bad, len, NULL, &m));
    /* A corrupt JSON header. */
    memcpy(bad, good, len);
    bad[8] = '[';
    CHECK_STATUS(QPIK_ERR_FORMAT, "model bytes", qpik_model_new_from_memory(bad, len, NULL, &m));
    /* Random bytes. */
    for (i = 0; i < len; i++) {
        bad[i] = (unsigned char)((i * 2654435761u) >> 13);
    }
    CHECK_STATUS(QPIK_ERR_FORMAT, "model bytes", qpik_model_new_from_memory(bad, len, NULL, &m));
    /* A valid safetensors file that is not a qpik model. */
    {
        uint64_t hl = sizeof foreign_json - 1;
        for (i = 0; i < 8; i++) {
            foreign[i] = (unsigned char)(hl >> (8 * i));
        }
        memcpy(foreign + 8, foreign_json, (size_t)hl);
        memset(foreign + 8 + hl, 0, 4);
        CHECK_STATUS(QPIK_ERR_FORMAT, "missing metadata 'qpik.format'",
                     qpik_model_new_from_memory(foreign, sizeof foreign, NULL, &m));
    }
    CHECK(m == NULL);
    /* The intact bytes still load (the checks above did not depend on luck). */
    CHECK_OK(qpik_model_new_from_memory(good, len, NULL, &m));
    qpik_model_free(m);
    free(good);
    free(bad);
}

TEST(corrupt_model_files) {
    char *dir = qt_tempdir("badmodel");
    char path[1200];
    size_t len = 0;
    unsigned char *good = qt_read_file(qt_data("tiny-one-step.safetensors"), &len);
    qpik_model *m = NULL;
    REQUIRE(good != NULL);
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    CHECK_STATUS(QPIK_ERR_IO, "missing.safetensors", qpik_model_new_from_file(path, NULL, &m));
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    REQUIRE(qt_write_file(path, "", 0));
    CHECK_STATUS(QPIK_ERR_FORMAT, "empty.safetensors", qpik_model_new_from_file(path, NULL, &m));
    snprintf(path, sizeof path, "%s/truncated.safetensors", dir);
    REQUIRE(qt_write_file(path, good, len / 2));
    CHECK_STATUS(QPIK_ERR_FORMAT, "truncated.safetensors",
                 qpik_model_new_from_file(path, NULL, &m));
    snprintf(path, sizeof path, "%s/text.safetensors", dir);
    REQUIRE(qt_write_file(path, "hello, world\n", 13));
    CHECK_STATUS(QPIK_ERR_FORMAT, "text.safetensors", qpik_model_new_from_file(path, NULL, &m));
    /* A dataset is not a model. */
    CHECK_STATUS(QPIK_ERR_FORMAT, "tiny-dataset.h5",
                 qpik_model_new_from_file(qt_data("tiny-dataset.h5"), NULL, &m));
    CHECK(m == NULL);
    free(good);
    qt_rmdir(dir);
}

TEST(corrupt_dataset_files) {
    char *dir = qt_tempdir("badds");
    char path[1200];
    size_t len = 0, i;
    unsigned char *good = qt_read_file(qt_data("tiny-dataset.h5"), &len);
    qpik_dataset *ds = NULL;
    REQUIRE(good != NULL && len > 10000);

    snprintf(path, sizeof path, "%s/missing.h5", dir);
    CHECK_STATUS(QPIK_ERR_IO, "missing.h5: no such file", qpik_dataset_open(path, &ds));
    CHECK_STATUS(QPIK_ERR_IO, "not a regular file", qpik_dataset_open(dir, &ds));
    snprintf(path, sizeof path, "%s/empty.h5", dir);
    REQUIRE(qt_write_file(path, "", 0));
    CHECK_STATUS(QPIK_ERR_FORMAT, "empty.h5", qpik_dataset_open(path, &ds));
    snprintf(path, sizeof path, "%s/text.h5", dir);
    REQUIRE(qt_write_file(path, "not an HDF5 file\n", 17));
    CHECK_STATUS(QPIK_ERR_FORMAT, "text.h5", qpik_dataset_open(path, &ds));
    /* A model file is not a dataset. */
    CHECK_STATUS(QPIK_ERR_FORMAT, "tiny-two-step.safetensors",
                 qpik_dataset_open(qt_data("tiny-two-step.safetensors"), &ds));
    /* Truncated copies. */
    {
        size_t cuts[] = {8, 512, len / 3, len / 2, len - 100};
        for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            qpik_status s;
            snprintf(path, sizeof path, "%s/cut-%zu.h5", dir, cuts[i]);
            REQUIRE(qt_write_file(path, good, cuts[i]));
            qt_poison();
            s = qpik_dataset_open(path, &ds);
            qt_check_status(s, QPIK_ERR_FORMAT, "cut-", "qpik_dataset_open(truncated)", __FILE__,
                            __LINE__);
        }
    }
    /* Bytes overwritten in the middle: opening or reading must say FORMAT, never crash. */
    {
        unsigned char *bad = (unsigned char *)malloc(len);
        REQUIRE(bad != NULL);
        memcpy(bad, good, len);
        memset(bad + len / 2, 0xA5, 4096);
        snprintf(path, sizeof path, "%s/scribbled.h5", dir);
        REQUIRE(qt_write_file(path, bad, len));
        free(bad);
        qt_poison();
        if (qpik_dataset_open(path, &ds) == QPIK_OK) {
            static float obs[30 * 64 * 64];
            static unsigned char masks[30 * 64 * 64];
            qpik_array oa = qpik_array_3d(obs, QPIK_F32, 30, 64, 64, QPIK_ROW_MAJOR);
            qpik_array ma = qpik_array_3d(masks, QPIK_U8, 30, 64, 64, QPIK_ROW_MAJOR);
            qpik_status s = qpik_dataset_read(ds, 0, &oa, &ma, NULL);
            /* Compressed chunks fail their decompression (or checksum); raw data may pass. */
            CHECK_MSG(s == QPIK_OK || s == QPIK_ERR_FORMAT, "read gave %s: %s",
                      qpik_status_name(s), qpik_last_error());
            qpik_dataset_free(ds);
            ds = NULL;
        } else {
            CHECK_CONTAINS(qpik_last_error(), "qpik_dataset_open: ");
        }
    }
    CHECK(ds == NULL);
    free(good);
    qt_rmdir(dir);
}

/*
 * Files on which Debian 12's libhdf5 1.10.8 crashes (SIGSEGV) or loops forever, found by
 * fuzzing (fuzz/findings). qpik reads dataset files in a child process, so this process gets
 * a status and a message, and goes on.
 */
TEST(files_that_crash_or_hang_libhdf5) {
    qpik_dataset *ds = NULL;
    const char *crash = qt_data("../../fuzz/findings/hdf5-chunk-dims-divide-by-zero.h5");
    const char *hang = qt_data("../../fuzz/findings/hdf5-vlen-attribute-hang.h5");
    time_t start;
    CHECK_STATUS(QPIK_ERR_FORMAT, "libhdf5 crashed with SIGFPE", qpik_dataset_open(crash, &ds));
    CHECK_CONTAINS(qpik_last_error(), "hdf5-chunk-dims-divide-by-zero.h5");
    CHECK(ds == NULL);
    REQUIRE(setenv("QPIK_DATASET_CHECK_TIMEOUT_S", "2", 1) == 0);
    start = time(NULL);
    CHECK_STATUS(QPIK_ERR_FORMAT, "did not finish reading this file within 2 s",
                 qpik_dataset_open(hang, &ds));
    CHECK_MSG(time(NULL) - start < 30, "took %ld s", (long)(time(NULL) - start));
    REQUIRE(unsetenv("QPIK_DATASET_CHECK_TIMEOUT_S") == 0);
    CHECK(ds == NULL);
    /* Still alive and working. */
    REQUIRE_OK(qpik_dataset_open(qt_data("tiny-dataset.h5"), &ds));
    qpik_dataset_free(ds);
}

TEST(dataset_bad_reads_and_writes) {
    qpik_dataset *ds = NULL;
    static float obs[2 * 64 * 64];
    static unsigned char masks[2 * 64 * 64];
    qpik_array oa = qpik_array_3d(obs, QPIK_F32, 2, 64, 64, QPIK_ROW_MAJOR), x;
    char buf[8];
    REQUIRE_OK(qpik_dataset_open(qt_data("tiny-dataset.h5"), &ds));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "observations 29..29+2",
                 qpik_dataset_read(ds, 29, &oa, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "dataset has 30",
                 qpik_dataset_read(ds, SIZE_MAX, &oa, NULL, NULL));
    x = qpik_array_3d(obs, QPIK_F32, 2, 64, 32, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "observations has shape [2, 64, 32] but must be [2, 64, 64]",
                 qpik_dataset_read(ds, 0, &x, NULL, NULL));
    x = qpik_array_2d(obs, QPIK_F32, 64, 64, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "2 dimensions", qpik_dataset_read(ds, 0, &x, NULL, NULL));
    x = qpik_array_3d(masks, QPIK_U8, 1, 64, 64, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "masks has shape [1, 64, 64]",
                 qpik_dataset_read(ds, 0, &oa, &x, NULL));
    x = qpik_array_3d(masks, QPIK_U8, 2, 64, 64, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_DTYPE, "observations is QPIK_U8",
                 qpik_dataset_read(ds, 0, &x, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NOT_FOUND, "kernel 5 requested but the dataset has 5",
                 qpik_dataset_kernel_name(ds, 5, buf, sizeof buf, NULL));
    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "buffer holds 8 bytes",
                 qpik_dataset_kernel_name(ds, 0, buf, sizeof buf, NULL));
    {
        float small[8 * 8];
        qpik_array k = qpik_array_2d(small, QPIK_F32, 8, 8, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "image has shape [8, 8] but must be [64, 64]",
                     qpik_dataset_kernel(ds, 0, &k, NULL));
    }
    qpik_dataset_free(ds);

    /* Writes. */
    {
        enum { K = 2, N = 3, H = 8, W = 8 };
        float kern[K * H * W], ob[N * H * W], mk[N * H * W];
        uint32_t kidx[N] = {0, 1, 0};
        static const char *const kv[] = {"pixel_size_a", "2", NULL};
        qpik_options *o = qt_options(kv);
        qpik_array ka = qpik_array_3d(kern, QPIK_F32, K, H, W, QPIK_ROW_MAJOR);
        qpik_array obsa = qpik_array_3d(ob, QPIK_F32, N, H, W, QPIK_ROW_MAJOR);
        qpik_array ma = qpik_array_3d(mk, QPIK_F32, N, H, W, QPIK_ROW_MAJOR);
        char *dir = qt_tempdir("badwrite");
        char path[1200];
        int i;
        for (i = 0; i < K * H * W; i++) {
            kern[i] = (float)i;
        }
        for (i = 0; i < N * H * W; i++) {
            ob[i] = (float)(i % 5);
            mk[i] = (float)(i % 9 == 0);
        }
        snprintf(path, sizeof path, "%s/d.h5", dir);
        CHECK_OK(qpik_dataset_write(path, &ka, &obsa, &ma, kidx, o));
        unlink(path);
        kidx[1] = 2;
        CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "kernel_index[1] = 2 but there are 2 kernels",
                     qpik_dataset_write(path, &ka, &obsa, &ma, kidx, o));
        kidx[1] = 1;
        mk[5] = 0.25f;
        CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "masks must be binary",
                     qpik_dataset_write(path, &ka, &obsa, &ma, kidx, o));
        mk[5] = 0;
        kern[3] = NAN;
        CHECK_STATUS(QPIK_ERR_NOT_FINITE, "kernels contains NaN",
                     qpik_dataset_write(path, &ka, &obsa, &ma, kidx, o));
        kern[3] = 0;
        ob[4] = -INFINITY;
        CHECK_STATUS(QPIK_ERR_NOT_FINITE, "observations contains NaN or infinite",
                     qpik_dataset_write(path, &ka, &obsa, &ma, kidx, o));
        ob[4] = 0;
        x = qpik_array_3d(ob, QPIK_F32, N, H, W - 1, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "observations has shape [3, 8, 7] but must be [3, 8, 8]",
                     qpik_dataset_write(path, &ka, &x, &ma, kidx, o));
        x = qpik_array_3d(mk, QPIK_F32, N - 1, H, W, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "masks has shape [2, 8, 8]",
                     qpik_dataset_write(path, &ka, &obsa, &x, kidx, o));
        /* Refused when set; the value set before stays. */
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "'pixel_size_a' = '-1': pixel size -1 Angstrom",
                     qpik_options_set(o, "pixel_size_a", "-1"));
        CHECK_OK(qpik_dataset_write(path, &ka, &obsa, &ma, kidx, o));
        unlink(path);
        CHECK_EQ_INT(qt_dir_entries(dir), 0);
        qpik_options_free(o);
        qt_rmdir(dir);
    }
}

TEST(files_in_a_missing_directory) {
    /* A file that cannot be created is QPIK_ERR_IO ("could not be read or written"). */
    static const char *const kv[] = {"dataset.kernels", "1", "dataset.per_kernel", "1",
                                     "size", "8", "pixel_size_a", "1", NULL};
    qpik_options *o = qt_options(kv);
    float data[8 * 8] = {0};
    qpik_array a = qpik_array_3d(data, QPIK_F32, 1, 8, 8, QPIK_ROW_MAJOR);
    uint32_t kidx[1] = {0};
    CHECK_STATUS(QPIK_ERR_IO, "/nonexistent-dir/x.h5",
                 qpik_dataset_generate("/nonexistent-dir/x.h5", o, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_IO, "/nonexistent-dir/d.h5",
                 qpik_dataset_write("/nonexistent-dir/d.h5", &a, &a, &a, kidx, o));
    qpik_options_free(o);
}

QT_MAIN(QT_CASE(null_pointers_everywhere), QT_CASE(free_functions_accept_null),
        QT_CASE(bad_dimensions_strides_and_dtypes), QT_CASE(not_finite_data),
        QT_CASE(extract_bad_shapes_and_masks), QT_CASE(struct_size_not_set),
        QT_CASE(options_unknown_keys_and_bad_values),
        QT_CASE(kernels_and_observations_bad_requests), QT_CASE(corrupt_model_bytes),
        QT_CASE(corrupt_model_files), QT_CASE(corrupt_dataset_files),
        QT_CASE(files_that_crash_or_hang_libhdf5),
        QT_CASE(dataset_bad_reads_and_writes), QT_CASE(files_in_a_missing_directory))
