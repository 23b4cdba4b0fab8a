/*
 * Extraction with the fixture models (untrained, tiny: shapes, layouts and bookkeeping are
 * tested here, not accuracy). Every layout is compared with the row-major float32 result.
 */
#include "harness.h"

enum { S = 64, PX = S * S, NB = 3 };

/* Observations 0..n-1 of the fixture dataset and their masks, row-major. */
static int load_fixture(int n, float *obs, unsigned char *masks) {
    qpik_dataset *ds = NULL;
    qpik_array oa = qpik_array_3d(obs, QPIK_F32, n, S, S, QPIK_ROW_MAJOR);
    qpik_array ma = qpik_array_3d(masks, QPIK_U8, n, S, S, QPIK_ROW_MAJOR);
    int ok = qpik_dataset_open(qt_data("tiny-dataset.h5"), &ds) == QPIK_OK &&
             qpik_dataset_read(ds, 0, &oa, &ma, NULL) == QPIK_OK;
    if (!ok) {
        fprintf(stderr, "fixture: %s\n", qpik_last_error());
    }
    qpik_dataset_free(ds);
    return ok;
}

static qpik_model *open_model(const char *file) {
    qpik_model *m = NULL;
    if (qpik_model_new_from_file(qt_data(file), NULL, &m) != QPIK_OK) {
        fprintf(stderr, "%s: %s\n", file, qpik_last_error());
    }
    return m;
}

TEST(model_info_of_the_fixtures) {
    static const char *const files[] = {"tiny-two-step.safetensors", "tiny-one-step.safetensors"};
    int i;
    for (i = 0; i < 2; i++) {
        qpik_model *m = NULL;
        qpik_model_info info;
        REQUIRE_OK(qpik_model_new_from_file(qt_data(files[i]), NULL, &m));
        memset(&info, 0xFF, sizeof info);
        info.struct_size = sizeof info;
        CHECK_OK(qpik_model_get_info(m, &info));
        CHECK_EQ_INT(info.method, (uint32_t)i); /* 0 two-step, 1 one-step */
        CHECK_EQ_INT(info.size, S);
        CHECK_EQ_INT(info.device, 0);
        CHECK_EQ_INT(info.fell_back_to_cpu, 0);
        qpik_model_free(m);
    }
}

/* The prediction on the training kernels' [0, 1] scale (not clamped): finite and varied. */
static void check_prediction(const float *k, size_t n) {
    float lo = INFINITY, hi = -INFINITY;
    size_t i;
    int finite = 1;
    for (i = 0; i < n; i++) {
        finite &= isfinite(k[i]) != 0;
        lo = k[i] < lo ? k[i] : lo;
        hi = k[i] > hi ? k[i] : hi;
    }
    CHECK(finite);
    CHECK_MSG(hi > lo && lo > -10.0f && hi < 10.0f, "kernel range [%g, %g]", lo, hi);
}

static void extract_layouts(const char *file) {
    static float obs[NB * PX], out[NB * PX], single[NB * PX];
    static unsigned char masks[NB * PX];
    static double obs_col[NB * PX], out_col[NB * PX], mask_col[PX];
    qpik_model *m = open_model(file);
    qpik_extract_info info;
    int i, r, c, defects = 0;
    double worst = 0;
    REQUIRE(m != NULL);
    REQUIRE(load_fixture(NB, obs, masks));

    /* Row-major float32, one image. */
    for (i = 0; i < NB; i++) {
        qpik_array o = qpik_array_2d(obs + i * PX, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        qpik_array mk = qpik_array_2d(masks + i * PX, QPIK_U8, S, S, QPIK_ROW_MAJOR);
        qpik_array k = qpik_array_2d(single + i * PX, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        memset(&info, 0xFF, sizeof info);
        info.struct_size = sizeof info;
        CHECK_OK(qpik_extract(m, &o, &mk, &k, &info));
        CHECK_EQ_INT(info.items, 1);
        CHECK_EQ_INT(info.mask_estimated, 0);
        defects = 0;
        for (r = 0; r < PX; r++) {
            defects += masks[i * PX + r];
        }
        CHECK_EQ_INT(info.defects, defects);
        check_prediction(single + i * PX, PX);
    }
    /* Different observations give different kernels (the model looks at its input). */
    CHECK(memcmp(single, single + PX, PX * sizeof(float)) != 0);

    /* Column-major float64 (MATLAB), image 0: the transpose of the same result. */
    for (r = 0; r < S; r++) {
        for (c = 0; c < S; c++) {
            obs_col[c * S + r] = obs[r * S + c];
            mask_col[c * S + r] = masks[r * S + c];
        }
    }
    {
        qpik_array o = qpik_array_2d(obs_col, QPIK_F64, S, S, QPIK_COL_MAJOR);
        qpik_array mk = qpik_array_2d(mask_col, QPIK_F64, S, S, QPIK_COL_MAJOR);
        qpik_array k = qpik_array_2d(out_col, QPIK_F64, S, S, QPIK_COL_MAJOR);
        CHECK_OK(qpik_extract(m, &o, &mk, &k, NULL));
    }
    for (r = 0; r < S; r++) {
        for (c = 0; c < S; c++) {
            double d = fabs(out_col[c * S + r] - (double)single[r * S + c]);
            worst = d > worst ? d : worst;
        }
    }
    CHECK_MSG(worst <= 1e-6, "column-major f64 differs by %g", worst);

    /* A 3-D stack, row-major float32: item i equals the single-image extraction. */
    {
        qpik_array o = qpik_array_3d(obs, QPIK_F32, NB, S, S, QPIK_ROW_MAJOR);
        qpik_array mk = qpik_array_3d(masks, QPIK_U8, NB, S, S, QPIK_ROW_MAJOR);
        qpik_array k = qpik_array_3d(out, QPIK_F32, NB, S, S, QPIK_ROW_MAJOR);
        info.struct_size = sizeof info;
        CHECK_OK(qpik_extract(m, &o, &mk, &k, &info));
        CHECK_EQ_INT(info.items, NB);
        worst = qt_max_abs_diff_f(out, single, NB * PX);
        CHECK_MSG(worst <= 1e-5, "batch differs from single images by %g", worst);
    }
    /* A 3-D stack, MATLAB layout (rows x cols x n), float64 in and out. */
    {
        static double stack_col[NB * PX], kout_col[NB * PX], mstack_col[NB * PX];
        qpik_array o = qpik_array_3d(stack_col, QPIK_F64, NB, S, S, QPIK_COL_MAJOR);
        qpik_array mk = qpik_array_3d(mstack_col, QPIK_F64, NB, S, S, QPIK_COL_MAJOR);
        qpik_array k = qpik_array_3d(kout_col, QPIK_F64, NB, S, S, QPIK_COL_MAJOR);
        for (i = 0; i < NB; i++) {
            for (r = 0; r < S; r++) {
                for (c = 0; c < S; c++) {
                    stack_col[i * PX + c * S + r] = obs[i * PX + r * S + c];
                    mstack_col[i * PX + c * S + r] = masks[i * PX + r * S + c];
                }
            }
        }
        CHECK_OK(qpik_extract(m, &o, &mk, &k, NULL));
        worst = 0;
        for (i = 0; i < NB; i++) {
            for (r = 0; r < S; r++) {
                for (c = 0; c < S; c++) {
                    double d = fabs(kout_col[i * PX + c * S + r] - single[i * PX + r * S + c]);
                    worst = d > worst ? d : worst;
                }
            }
        }
        CHECK_MSG(worst <= 1e-5, "MATLAB-layout stack differs by %g", worst);
    }
    qpik_model_free(m);
}

TEST(extract_two_step_layouts) { extract_layouts("tiny-two-step.safetensors"); }

TEST(extract_one_step_layouts) { extract_layouts("tiny-one-step.safetensors"); }

TEST(null_mask_is_estimated) {
    static float obs[2 * PX], a[2 * PX], b[2 * PX];
    static unsigned char masks[2 * PX], est[2 * PX];
    qpik_model *m = open_model("tiny-two-step.safetensors");
    qpik_extract_info info;
    size_t count0 = 0, count1 = 0;
    REQUIRE(m != NULL);
    REQUIRE(load_fixture(2, obs, masks));
    {
        qpik_array o0 = qpik_array_2d(obs, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        qpik_array o1 = qpik_array_2d(obs + PX, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        qpik_array e0 = qpik_array_2d(est, QPIK_U8, S, S, QPIK_ROW_MAJOR);
        qpik_array e1 = qpik_array_2d(est + PX, QPIK_U8, S, S, QPIK_ROW_MAJOR);
        REQUIRE_OK(qpik_estimate_mask(&o0, &e0, &count0));
        REQUIRE_OK(qpik_estimate_mask(&o1, &e1, NULL));
        REQUIRE_OK(qpik_estimate_mask(&o1, &e1, &count1));
    }
    CHECK(count0 >= 1 && count1 >= 1);
    {
        size_t i, ones = 0, binary = 1;
        for (i = 0; i < PX; i++) {
            ones += est[i];
            binary &= est[i] <= 1;
        }
        CHECK(binary);
        CHECK_EQ_INT(ones, count0);
    }
    {
        qpik_array o = qpik_array_3d(obs, QPIK_F32, 2, S, S, QPIK_ROW_MAJOR);
        qpik_array ka = qpik_array_3d(a, QPIK_F32, 2, S, S, QPIK_ROW_MAJOR);
        qpik_array kb = qpik_array_3d(b, QPIK_F32, 2, S, S, QPIK_ROW_MAJOR);
        qpik_array e = qpik_array_3d(est, QPIK_U8, 2, S, S, QPIK_ROW_MAJOR);
        info.struct_size = sizeof info;
        REQUIRE_OK(qpik_extract(m, &o, NULL, &ka, &info));
        CHECK_EQ_INT(info.mask_estimated, 1);
        CHECK_EQ_INT(info.items, 2);
        CHECK_EQ_INT(info.defects, (int64_t)(count0 + count1));
        /* The same as passing the estimated masks explicitly. */
        info.struct_size = sizeof info;
        REQUIRE_OK(qpik_extract(m, &o, &e, &kb, &info));
        CHECK_EQ_INT(info.mask_estimated, 0);
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    qpik_model_free(m);
}

TEST(model_from_memory_matches_file) {
    size_t len = 0;
    unsigned char *bytes = qt_read_file(qt_data("tiny-two-step.safetensors"), &len);
    qpik_model *mf = open_model("tiny-two-step.safetensors"), *mm = NULL;
    static float obs[PX], a[PX], b[PX];
    static unsigned char mask[PX];
    qpik_model_info info;
    REQUIRE(bytes != NULL && mf != NULL);
    REQUIRE_OK(qpik_model_new_from_memory(bytes, len, NULL, &mm));
    memset(bytes, 0, len); /* the model copied what it needs */
    free(bytes);
    info.struct_size = sizeof info;
    CHECK_OK(qpik_model_get_info(mm, &info));
    CHECK_EQ_INT(info.method, 0);
    CHECK_EQ_INT(info.size, S);
    REQUIRE(load_fixture(1, obs, mask));
    {
        qpik_array o = qpik_array_2d(obs, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        qpik_array mk = qpik_array_2d(mask, QPIK_U8, S, S, QPIK_ROW_MAJOR);
        qpik_array ka = qpik_array_2d(a, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        qpik_array kb = qpik_array_2d(b, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        CHECK_OK(qpik_extract(mf, &o, &mk, &ka, NULL));
        CHECK_OK(qpik_extract(mm, &o, &mk, &kb, NULL));
    }
    CHECK(memcmp(a, b, sizeof a) == 0);
    qpik_model_free(mf);
    qpik_model_free(mm);
}

TEST(unaligned_and_strided_buffers) {
    /* float32 data at an odd address, and a window of a larger image (row stride > cols). */
    static float obs[PX], ref[PX], big[(S + 9) * (S + 5)];
    static unsigned char mask[PX];
    static unsigned char raw_in[PX * sizeof(float) + 1], raw_out[PX * sizeof(float) + 1];
    qpik_model *m = open_model("tiny-one-step.safetensors");
    qpik_array o, mk, k;
    int r, c;
    REQUIRE(m != NULL);
    REQUIRE(load_fixture(1, obs, mask));
    o = qpik_array_2d(obs, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    mk = qpik_array_2d(mask, QPIK_U8, S, S, QPIK_ROW_MAJOR);
    k = qpik_array_2d(ref, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extract(m, &o, &mk, &k, NULL));

    memcpy(raw_in + 1, obs, sizeof obs);
    o = qpik_array_2d(raw_in + 1, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    k = qpik_array_2d(raw_out + 1, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extract(m, &o, &mk, &k, NULL));
    CHECK(memcmp(raw_out + 1, ref, sizeof ref) == 0);

    /* The image at rows 4.., cols 3.. of a (S+9) x (S+5) buffer. */
    for (r = 0; r < S; r++) {
        for (c = 0; c < S; c++) {
            big[(r + 4) * (S + 5) + c + 3] = obs[r * S + c];
        }
    }
    o = qpik_array_2d(big + 4 * (S + 5) + 3, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    o.strides[0] = S + 5;
    o.len = (uint64_t)((S + 9) * (S + 5) - 4 * (S + 5) - 3);
    memset(raw_out, 0, sizeof raw_out);
    CHECK_OK(qpik_extract(m, &o, &mk, &k, NULL));
    CHECK(memcmp(raw_out + 1, ref, sizeof ref) == 0);
    qpik_model_free(m);
}

TEST(outputs_untouched_on_failure) {
    static float obs[PX], out[PX];
    static unsigned char mask[PX];
    qpik_model *m = open_model("tiny-two-step.safetensors");
    qpik_extract_info info;
    qpik_array o, mk, k;
    size_t i;
    int untouched = 1;
    REQUIRE(m != NULL);
    REQUIRE(load_fixture(1, obs, mask));
    for (i = 0; i < PX; i++) {
        out[i] = -7.0f;
    }
    obs[PX - 1] = NAN;
    o = qpik_array_2d(obs, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    mk = qpik_array_2d(mask, QPIK_U8, S, S, QPIK_ROW_MAJOR);
    k = qpik_array_2d(out, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    memset(&info, 0x33, sizeof info);
    info.struct_size = sizeof info;
    CHECK_STATUS(QPIK_ERR_NOT_FINITE, "flat index 4095", qpik_extract(m, &o, &mk, &k, &info));
    for (i = 0; i < PX; i++) {
        untouched &= out[i] == -7.0f;
    }
    CHECK(untouched);
    CHECK_EQ_INT(info.items, 0x3333333333333333LL);
    qpik_model_free(m);
}

TEST(default_model) {
    /* This build may embed no model (no models/two-step.safetensors): then UNAVAILABLE. */
    qpik_model *m = NULL;
    qpik_status s = qpik_model_new_default(NULL, &m);
    if (s == QPIK_OK) {
        qpik_model_info info;
        info.struct_size = sizeof info;
        CHECK_OK(qpik_model_get_info(m, &info));
        CHECK_EQ_INT(info.method, 0);
        CHECK_EQ_INT(info.size, 64);
        qpik_model_free(m);
    } else {
        CHECK_EQ_INT(s, QPIK_ERR_UNAVAILABLE);
        CHECK_CONTAINS(qpik_last_error(), "qpik_model_new_default: ");
        CHECK(m == NULL); /* outputs untouched on failure */
    }
}

QT_MAIN(QT_CASE(model_info_of_the_fixtures), QT_CASE(extract_two_step_layouts),
        QT_CASE(extract_one_step_layouts), QT_CASE(null_mask_is_estimated),
        QT_CASE(model_from_memory_matches_file), QT_CASE(unaligned_and_strided_buffers),
        QT_CASE(outputs_untouched_on_failure), QT_CASE(default_model))
