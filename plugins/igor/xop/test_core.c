/*
 * Unit tests of the Igor XOP's toolkit-free core (qpik_igor_core.c) against the real libqpik.
 * Igor waves are modelled as column-major buffers; every check compares with an independent
 * computation: values read back through the qpik_array strides against the formula that
 * filled the wave, and extractions through the core against qpik_extract_map on a plain
 * row-major copy with row-major outputs.
 */
#include "harness.h"
#include "qpik_igor_core.h"

/* The value of point (p, q, r) of a test wave: distinct, exact in every type used. */
static double value(int64_t p, int64_t q, int64_t r) { return (double)(p + 7 * q + 50 * r); }

/* A column-major wave of the given type and dims filled with value(). */
static void *make_wave(int type, const int64_t dims[3]) {
    int64_t P = dims[0], Q = dims[1], R = dims[2] > 0 ? dims[2] : 1;
    size_t size = qpik_igor_type_size(type);
    unsigned char *buf = calloc((size_t)(P * Q * R), size ? size : 1);
    for (int64_t r = 0; r < R; r++) {
        for (int64_t q = 0; q < Q; q++) {
            for (int64_t p = 0; p < P; p++) {
                int64_t i = p + P * (q + Q * r);
                double v = value(p, q, r);
                switch (type) {
                case QPIK_IGOR_NT_FP32: ((float *)buf)[i] = (float)v; break;
                case QPIK_IGOR_NT_FP64: ((double *)buf)[i] = v; break;
                case QPIK_IGOR_NT_I8: ((int8_t *)buf)[i] = (int8_t)(v - 100); break;
                case QPIK_IGOR_NT_I8 | QPIK_IGOR_NT_UNSIGNED: ((uint8_t *)buf)[i] = (uint8_t)v; break;
                case QPIK_IGOR_NT_I16: ((int16_t *)buf)[i] = (int16_t)(-v); break;
                case QPIK_IGOR_NT_I16 | QPIK_IGOR_NT_UNSIGNED: ((uint16_t *)buf)[i] = (uint16_t)v; break;
                case QPIK_IGOR_NT_I32: ((int32_t *)buf)[i] = (int32_t)(-v); break;
                case QPIK_IGOR_NT_I32 | QPIK_IGOR_NT_UNSIGNED: ((uint32_t *)buf)[i] = (uint32_t)v; break;
                case QPIK_IGOR_NT_I64: ((int64_t *)buf)[i] = (int64_t)(-v); break;
                default: ((uint64_t *)buf)[i] = (uint64_t)v; break;
                }
            }
        }
    }
    return buf;
}

/* What make_wave stored at (p, q, r), as the type holds it. */
static double stored(int type, int64_t p, int64_t q, int64_t r) {
    double v = value(p, q, r);
    switch (type) {
    case QPIK_IGOR_NT_I8: return v - 100;
    case QPIK_IGOR_NT_I16:
    case QPIK_IGOR_NT_I32:
    case QPIK_IGOR_NT_I64: return -v;
    default: return v;
    }
}

/* Element idx of a qpik_array through its strides. */
static double at(const qpik_array *a, const int64_t *idx) {
    int64_t off = 0;
    for (uint32_t i = 0; i < a->ndim; i++) {
        off += idx[i] * a->strides[i];
    }
    switch (a->dtype) {
    case QPIK_F32: return ((const float *)a->data)[off];
    case QPIK_F64: return ((const double *)a->data)[off];
    default: return ((const uint8_t *)a->data)[off];
    }
}

static const int kTypes[] = {
    QPIK_IGOR_NT_FP32, QPIK_IGOR_NT_FP64, QPIK_IGOR_NT_I8,
    QPIK_IGOR_NT_I8 | QPIK_IGOR_NT_UNSIGNED, QPIK_IGOR_NT_I16,
    QPIK_IGOR_NT_I16 | QPIK_IGOR_NT_UNSIGNED, QPIK_IGOR_NT_I32,
    QPIK_IGOR_NT_I32 | QPIK_IGOR_NT_UNSIGNED, QPIK_IGOR_NT_I64,
    QPIK_IGOR_NT_I64 | QPIK_IGOR_NT_UNSIGNED,
};

/* Every Igor number type, 2-D and 3-D: qpik's [row, col] / [E, row, col] are [p][q] / [p][q][r]. */
TEST(map_adapter_every_type) {
    for (size_t t = 0; t < sizeof(kTypes) / sizeof(kTypes[0]); t++) {
        for (int nd = 2; nd <= 3; nd++) {
            int64_t dims[3] = {5, 4, nd == 3 ? 3 : 0};
            void *buf = make_wave(kTypes[t], dims);
            qpik_igor_wave w = {buf, kTypes[t], {dims[0], dims[1], dims[2], 0}};
            qpik_igor_array a;
            char err[256] = "";
            qpik_igor_error e = qpik_igor_map_array(&w, &a, err, sizeof err);
            CHECK_MSG(e == QPIK_IGOR_OK, "type %#x: %s", kTypes[t], err);
            if (e != QPIK_IGOR_OK) {
                free(buf);
                continue;
            }
            int is_float = kTypes[t] == QPIK_IGOR_NT_FP32 || kTypes[t] == QPIK_IGOR_NT_FP64;
            CHECK_MSG(is_float ? (a.scratch == NULL && a.array.data == buf) : a.scratch != NULL,
                      "type %#x: float waves in place, integer waves converted", kTypes[t]);
            CHECK_EQ_INT(a.array.ndim, (uint32_t)nd);
            int bad = 0;
            for (int64_t r = 0; r < (nd == 3 ? 3 : 1); r++) {
                for (int64_t p = 0; p < 5; p++) {
                    for (int64_t q = 0; q < 4; q++) {
                        int64_t i2[2] = {p, q}, i3[3] = {r, p, q};
                        double got = at(&a.array, nd == 3 ? i3 : i2);
                        bad += got != stored(kTypes[t], p, q, r);
                    }
                }
            }
            CHECK_MSG(bad == 0, "type %#x %d-D: %d elements differ", kTypes[t], nd, bad);
            qpik_igor_array_free(&a);
            free(buf);
        }
    }
}

TEST(map_adapter_refusals) {
    float data[64] = {0};
    char err[256];
    qpik_igor_array a;
    qpik_igor_wave complex_wave = {data, QPIK_IGOR_NT_FP32 | QPIK_IGOR_NT_CMPLX, {4, 4, 0, 0}};
    CHECK_EQ_INT(qpik_igor_map_array(&complex_wave, &a, err, sizeof err), QPIK_IGOR_ERR_WAVE_TYPE);
    CHECK_CONTAINS(err, "complex");
    qpik_igor_wave text_wave = {data, 0, {4, 4, 0, 0}};
    CHECK_EQ_INT(qpik_igor_map_array(&text_wave, &a, err, sizeof err), QPIK_IGOR_ERR_WAVE_TYPE);
    qpik_igor_wave one_d = {data, QPIK_IGOR_NT_FP32, {64, 0, 0, 0}};
    CHECK_EQ_INT(qpik_igor_map_array(&one_d, &a, err, sizeof err), QPIK_IGOR_ERR_WAVE_DIMS);
    CHECK_CONTAINS(err, "1 dimensions");
    qpik_igor_wave four_d = {data, QPIK_IGOR_NT_FP32, {2, 2, 2, 2}};
    CHECK_EQ_INT(qpik_igor_map_array(&four_d, &a, err, sizeof err), QPIK_IGOR_ERR_WAVE_DIMS);
    qpik_igor_wave huge = {data, QPIK_IGOR_NT_I16, {1 << 20, 1 << 20, 0, 0}};
    CHECK_EQ_INT(qpik_igor_map_array(&huge, &a, err, sizeof err), QPIK_IGOR_ERR_TOO_LARGE);
    qpik_igor_wave missing = {NULL, QPIK_IGOR_NT_FP32, {4, 4, 0, 0}};
    CHECK_EQ_INT(qpik_igor_map_array(&missing, &a, err, sizeof err), QPIK_IGOR_ERR_WAVE_DIMS);
    /* defects of a third shape */
    qpik_igor_wave map = {data, QPIK_IGOR_NT_FP32, {8, 8, 0, 0}};
    qpik_igor_wave odd = {data, QPIK_IGOR_NT_FP32, {4, 3, 0, 0}};
    CHECK_EQ_INT(qpik_igor_defects_array(&odd, &map, &a, err, sizeof err), QPIK_IGOR_ERR_WAVE_DIMS);
    CHECK_CONTAINS(err, "positions [N][2]");
}

TEST(defects_adapter) {
    /* a uint8 mask wave of the map's size goes as U8 in place; positions [N][2] column-major */
    uint8_t mask[6 * 5] = {0};
    mask[2 + 6 * 3] = 1; /* point p = 2, q = 3 */
    float data[30] = {0};
    qpik_igor_wave map = {data, QPIK_IGOR_NT_FP32, {6, 5, 0, 0}};
    qpik_igor_wave m = {mask, QPIK_IGOR_NT_I8 | QPIK_IGOR_NT_UNSIGNED, {6, 5, 0, 0}};
    qpik_igor_array a;
    REQUIRE(qpik_igor_defects_array(&m, &map, &a, NULL, 0) == QPIK_IGOR_OK);
    CHECK(a.array.dtype == QPIK_U8 && a.scratch == NULL);
    int64_t hit[2] = {2, 3}, miss[2] = {3, 2};
    CHECK(at(&a.array, hit) == 1 && at(&a.array, miss) == 0);
    double pos[3 * 2] = {1.5, 2.0, 3.25, /* p of 3 defects */ 4.0, 0.5, 1.0 /* their q */};
    qpik_igor_wave pw = {pos, QPIK_IGOR_NT_FP64, {3, 2, 0, 0}};
    REQUIRE(qpik_igor_defects_array(&pw, &map, &a, NULL, 0) == QPIK_IGOR_OK);
    int64_t i1[2] = {2, 0}, i2[2] = {2, 1};
    CHECK(a.array.shape[0] == 3 && a.array.shape[1] == 2);
    CHECK(at(&a.array, i1) == 3.25 && at(&a.array, i2) == 1.0);
}

/* An anisotropic kernel stamped at n defects into an H x W x E column-major float wave; the
 * mask wave (uint8) marks them. Layer e is scaled by 1 + 0.25 e. Seeded LCG noise. */
static void synthetic(int64_t H, int64_t W, int64_t E, float *wave, uint8_t *mask) {
    const int S = 15, c = S / 2, n = 14;
    uint64_t rng = 12345;
    memset(mask, 0, (size_t)(H * W));
    for (int64_t i = 0; i < H * W * E; i++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        wave[i] = 0.01f * (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5);
    }
    for (int d = 0; d < n; d++) {
        int64_t r0 = 4 + (d * 37) % (H - 8), c0 = 4 + (d * 53 + 11) % (W - 8);
        mask[r0 + H * c0] = 1;
        for (int64_t e = 0; e < E; e++) {
            for (int i = -c; i <= c; i++) {
                for (int j = -c; j <= c; j++) {
                    int64_t r = r0 + i, cc = c0 + j;
                    if (r < 0 || r >= H || cc < 0 || cc >= W) {
                        continue;
                    }
                    double k = exp(-(double)(j * j) / 8.0 - (double)(i * i) / 20.0) * cos(0.9 * j) +
                               0.5 * exp(-((i - 2) * (i - 2) + (j + 3) * (j + 3)) / 3.0);
                    wave[r + H * (cc + W * e)] += (float)(k * (1.0 + 0.25 * (double)e));
                }
            }
        }
    }
}

static qpik_options *test_options(void) {
    qpik_options *o = NULL;
    if (qpik_options_new(&o) != QPIK_OK) {
        return NULL;
    }
    qpik_options_set(o, "map.kernel_size", "15");
    qpik_options_set(o, "map.symmetry", "none");
    qpik_options_set(o, "map.bootstrap", "0");
    qpik_options_set(o, "map.smoothness", "0.01");
    return o;
}

/* The core on an Igor wave against qpik_extract_map on a row-major copy: every result wave
 * equals the row-major result at the transposed index. */
static void compare_with_row_major(int64_t E) {
    const int64_t H = 48, W = 40;
    float *wave = malloc(sizeof(float) * (size_t)(H * W * E));
    double *rm = malloc(sizeof(double) * (size_t)(H * W * E));
    uint8_t mask[48 * 40];
    synthetic(H, W, E, wave, mask);
    for (int64_t e = 0; e < E; e++) {
        for (int64_t r = 0; r < H; r++) {
            for (int64_t c = 0; c < W; c++) {
                rm[(e * H + r) * W + c] = wave[r + H * (c + W * e)];
            }
        }
    }
    uint8_t mask_rm[48 * 40];
    for (int64_t r = 0; r < H; r++) {
        for (int64_t c = 0; c < W; c++) {
            mask_rm[r * W + c] = mask[r + H * c];
        }
    }
    qpik_options *o = test_options();
    qpik_igor_wave map = {wave, QPIK_IGOR_NT_FP32, {H, W, E > 1 ? E : 0, 0}};
    qpik_igor_wave mw = {mask, QPIK_IGOR_NT_I8 | QPIK_IGOR_NT_UNSIGNED, {H, W, 0, 0}};
    qpik_extraction *ex = NULL, *ref = NULL;
    char err[512] = "";
    qpik_status st = qpik_igor_extract(o, &map, &mw, &ex, err, sizeof err);
    CHECK_MSG(st == QPIK_OK, "qpik_igor_extract: %s", err);
    qpik_array rm_map = E > 1 ? qpik_array_3d(rm, QPIK_F64, E, H, W, QPIK_ROW_MAJOR)
                              : qpik_array_2d(rm, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    qpik_array rm_mask = qpik_array_2d(mask_rm, QPIK_U8, H, W, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extract_map(o, &rm_map, &rm_mask, &ref));
    if (st == QPIK_OK && ref != NULL) {
        qpik_extraction_info info = {.struct_size = sizeof info};
        CHECK_OK(qpik_extraction_get_info(ex, &info));
        int64_t S = info.kernel_size;
        CHECK_EQ_INT(S, 15);
        int64_t dims[4];
        CHECK_EQ_INT(qpik_igor_result_dims(&info, QPIK_IGOR_KERNELS, dims), E > 1 ? 3 : 2);
        CHECK(dims[0] == S && dims[1] == S && dims[2] == (E > 1 ? E : 0));
        /* kernels: Igor wave [i][j][e] (float64) vs row-major [E][S][S] */
        double *k_igor = malloc(sizeof(double) * (size_t)(S * S * E));
        float *k_rm = malloc(sizeof(float) * (size_t)(S * S * E));
        CHECK_OK(qpik_igor_fill_result(ex, &info, QPIK_IGOR_KERNELS, k_igor, QPIK_IGOR_NT_FP64));
        qpik_array kr = E > 1 ? qpik_array_3d(k_rm, QPIK_F32, E, S, S, QPIK_ROW_MAJOR)
                              : qpik_array_2d(k_rm, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        CHECK_OK(qpik_extraction_kernels(ref, &kr));
        double maxabs = 0, maxdiff = 0, kernel_vs_transpose = 0;
        for (int64_t e = 0; e < E; e++) {
            for (int64_t i = 0; i < S; i++) {
                for (int64_t j = 0; j < S; j++) {
                    double a = k_igor[i + S * (j + S * e)], b = k_rm[(e * S + i) * S + j];
                    maxabs = fmax(maxabs, fabs(b));
                    maxdiff = fmax(maxdiff, fabs(a - b));
                    kernel_vs_transpose += fabs(b - k_rm[(e * S + j) * S + i]);
                }
            }
        }
        CHECK_MSG(maxdiff <= 1e-4 * maxabs, "kernel wave vs row-major: %g of %g", maxdiff, maxabs);
        CHECK_MSG(kernel_vs_transpose > 0.1 * maxabs, "the test kernel is not symmetric");
        /* the impurity's neighbourhood: the true kernel's bump at (i, j) = (c + 2, c - 3) */
        int64_t c = S / 2;
        CHECK(k_igor[(c + 2) + S * (c - 3)] > k_igor[(c - 3) + S * (c + 2)]);
        /* residual: Igor [p][q][e] vs row-major [E][H][W]; positions [n][2]; heldout */
        float *res_igor = malloc(sizeof(float) * (size_t)(H * W * E));
        double *res_rm = malloc(sizeof(double) * (size_t)(H * W * E));
        CHECK_OK(qpik_igor_fill_result(ex, &info, QPIK_IGOR_RESIDUAL, res_igor, QPIK_IGOR_NT_FP32));
        qpik_array rr = E > 1 ? qpik_array_3d(res_rm, QPIK_F64, E, H, W, QPIK_ROW_MAJOR)
                              : qpik_array_2d(res_rm, QPIK_F64, H, W, QPIK_ROW_MAJOR);
        CHECK_OK(qpik_extraction_residual(ref, &rr));
        double rdiff = 0;
        for (int64_t e = 0; e < E; e++) {
            for (int64_t p = 0; p < H; p++) {
                for (int64_t q = 0; q < W; q++) {
                    rdiff = fmax(rdiff, fabs(res_igor[p + H * (q + W * e)] -
                                             res_rm[(e * H + p) * W + q]));
                }
            }
        }
        CHECK_MSG(rdiff < 1e-4, "residual wave vs row-major: %g", rdiff);
        int64_t n = info.defects;
        CHECK_EQ_INT(n, 14);
        double *pos_igor = malloc(sizeof(double) * (size_t)(2 * n));
        double *pos_rm = malloc(sizeof(double) * (size_t)(2 * n));
        CHECK_OK(qpik_igor_fill_result(ex, &info, QPIK_IGOR_POSITIONS, pos_igor, QPIK_IGOR_NT_FP64));
        qpik_array pr = qpik_array_2d(pos_rm, QPIK_F64, n, 2, QPIK_ROW_MAJOR);
        CHECK_OK(qpik_extraction_positions(ref, &pr));
        double pdiff = 0;
        for (int64_t i = 0; i < n; i++) {
            pdiff = fmax(pdiff, fabs(pos_igor[i] - pos_rm[2 * i]));
            pdiff = fmax(pdiff, fabs(pos_igor[i + n] - pos_rm[2 * i + 1]));
        }
        CHECK_MSG(pdiff < 1e-3, "positions wave [n][2] vs row-major: %g", pdiff);
        double *amp = malloc(sizeof(double) * (size_t)(n * E));
        CHECK_OK(qpik_igor_fill_result(ex, &info, QPIK_IGOR_AMPLITUDES, amp, QPIK_IGOR_NT_FP64));
        double mean = 0;
        for (int64_t i = 0; i < n; i++) {
            mean += amp[i + n * (E - 1)] / (double)n;
        }
        CHECK_MSG(fabs(mean - 1) < 1e-3, "amplitudes[n][e]: mean %g (1 per energy)", mean);
        double h[8];
        CHECK_OK(qpik_igor_fill_result(ex, &info, QPIK_IGOR_HELDOUT_R2, h, QPIK_IGOR_NT_FP64));
        CHECK_MSG(h[0] > 0.5, "held-out R^2 %g", h[0]);
        free(k_igor), free(k_rm), free(res_igor), free(res_rm), free(pos_igor), free(pos_rm);
        free(amp);
    }
    qpik_extraction_free(ex);
    qpik_extraction_free(ref);
    qpik_options_free(o);
    free(wave), free(rm);
}

TEST(extract_2d_matches_row_major) { compare_with_row_major(1); }

TEST(extract_3d_matches_row_major) { compare_with_row_major(3); }

TEST(result_layout_four_types) {
    /* [i][j][e][t] <- qpik [T, E, S, S]: strides are the Igor wave's, outer axes first */
    qpik_extraction_info info = {.struct_size = sizeof info, .types = 2, .energies = 3,
                                 .kernel_size = 9, .rows = 20, .cols = 30, .defects = 5};
    int64_t dims[4];
    CHECK_EQ_INT(qpik_igor_result_dims(&info, QPIK_IGOR_KERNELS, dims), 4);
    CHECK(dims[0] == 9 && dims[1] == 9 && dims[2] == 3 && dims[3] == 2);
    float buf[9 * 9 * 3 * 2];
    qpik_array a;
    REQUIRE(qpik_igor_result_array(&info, QPIK_IGOR_KERNELS, buf, QPIK_IGOR_NT_FP32, &a) == QPIK_IGOR_OK);
    CHECK(a.ndim == 4 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 9 && a.shape[3] == 9);
    /* element (t, e, i, j) must land on point i + 9 (j + 9 (e + 3 t)) */
    int bad = 0;
    for (int64_t t = 0; t < 2; t++)
        for (int64_t e = 0; e < 3; e++)
            for (int64_t i = 0; i < 9; i++)
                for (int64_t j = 0; j < 9; j++) {
                    int64_t off = t * a.strides[0] + e * a.strides[1] + i * a.strides[2] +
                                  j * a.strides[3];
                    bad += off != i + 9 * (j + 9 * (e + 3 * t));
                }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(qpik_igor_result_array(&info, QPIK_IGOR_KERNELS, buf, QPIK_IGOR_NT_I16, &a),
                 QPIK_IGOR_ERR_WAVE_TYPE);
    CHECK(qpik_igor_kernel_offset(9, 0.5) == -2.0 && qpik_igor_kernel_offset(8, 1.0) == -4.0);
}

TEST(error_mapping) {
    CHECK_EQ_INT(qpik_igor_error_code(QPIK_OK), 0);
    CHECK_EQ_INT(qpik_igor_error_count(), (int)QPIK_ERR_INTERNAL);
    for (int s = 1; s <= (int)QPIK_ERR_INTERNAL; s++) {
        int code = qpik_igor_error_code((qpik_status)s);
        CHECK_EQ_INT(code, QPIK_IGOR_FIRST_XOP_ERR + s);
        const char *t = qpik_igor_error_template(code);
        CHECK(t != NULL && strncmp(t, "qpik: ", 6) == 0 && strlen(t) > 8);
        for (int u = 1; u < s; u++) {
            CHECK(strcmp(t, qpik_igor_error_template(QPIK_IGOR_FIRST_XOP_ERR + u)) != 0);
        }
    }
    CHECK_EQ_INT(qpik_igor_error_code((qpik_status)99), QPIK_IGOR_FIRST_XOP_ERR + QPIK_ERR_INTERNAL);
    CHECK(qpik_igor_error_template(QPIK_IGOR_FIRST_XOP_ERR) == NULL);
    CHECK(qpik_igor_error_template(QPIK_IGOR_FIRST_XOP_ERR + 15) == NULL);
    char buf[64];
    qpik_igor_format_error(QPIK_ERR_SHAPE, "the map is 3 x 3 but the kernel is 9 x 9", buf, sizeof buf);
    CHECK_CONTAINS(buf, "qpik: wrong wave shape: the map is 3 x 3");
    CHECK(strlen(buf) == sizeof buf - 1); /* truncated, terminated */
}

TEST(errors_from_real_calls) {
    /* a constant map: qpik refuses it, the core passes status and message on */
    float flat[32 * 32];
    for (int i = 0; i < 32 * 32; i++) {
        flat[i] = 1.0f;
    }
    uint8_t mask[32 * 32] = {0};
    mask[16 + 32 * 16] = 1;
    qpik_igor_wave map = {flat, QPIK_IGOR_NT_FP32, {32, 32, 0, 0}};
    qpik_igor_wave mw = {mask, QPIK_IGOR_NT_I8 | QPIK_IGOR_NT_UNSIGNED, {32, 32, 0, 0}};
    qpik_extraction *ex = NULL;
    char err[512] = "";
    qpik_status st = qpik_igor_extract(NULL, &map, &mw, &ex, err, sizeof err);
    CHECK(st == QPIK_ERR_INVALID_ARGUMENT && ex == NULL);
    CHECK_CONTAINS(err, "constant");
    /* a complex wave never reaches qpik */
    qpik_igor_wave cw = {flat, QPIK_IGOR_NT_FP32 | QPIK_IGOR_NT_CMPLX, {16, 32, 0, 0}};
    CHECK_EQ_INT(qpik_igor_extract(NULL, &cw, NULL, &ex, err, sizeof err), QPIK_ERR_DTYPE);
    /* a mask of another size */
    qpik_igor_wave small = {mask, QPIK_IGOR_NT_I8 | QPIK_IGOR_NT_UNSIGNED, {16, 16, 0, 0}};
    CHECK_EQ_INT(qpik_igor_extract(NULL, &map, &small, &ex, err, sizeof err), QPIK_ERR_SHAPE);
    CHECK(ex == NULL);
}

QT_MAIN(QT_CASE(map_adapter_every_type), QT_CASE(map_adapter_refusals), QT_CASE(defects_adapter),
        QT_CASE(extract_2d_matches_row_major), QT_CASE(extract_3d_matches_row_major),
        QT_CASE(result_layout_four_types), QT_CASE(error_mapping), QT_CASE(errors_from_real_calls))
