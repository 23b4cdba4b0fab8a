/*
 * qpik_find_defects: defects in a topography image. A synthetic height map built here from
 * Gaussian bumps (FWHM 4 px) at known subpixel positions on a tilted plane with line offsets
 * and noise must give those positions back, each exactly once; row- and column-major input
 * and float32 input give bit-identical positions; dark defects, polarity and the other
 * topography.* options, NaN pixels, the count-then-fill convention and bad input each give
 * the documented result with the exact status.
 */
#include "harness.h"

enum { H = 72, W = 80, ND = 9, CAP = 32 };

/* Found positions must lie this close (pixels) to the true ones (measured: 0.03 px at worst). */
#define TOL 0.1

/* True positions (row, col), at least 18 pixels apart and 6 from the edges. */
static const double TRUE_POS[ND][2] = {
    {8.3, 9.6},   {10.7, 40.2}, {7.5, 70.1},  {36.2, 12.8}, {34.9, 41.4},
    {37.6, 68.3}, {63.1, 8.9},  {62.4, 39.7}, {64.8, 71.5},
};

static double lcg(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0;
}

/* Heights in metres: bumps of 4 pixel FWHM (sign +1 bright, -1 dark), 40 pm high, on a plane
 * with per-line offsets and 1 pm noise. Row-major H x W. */
static void make_topography(double sign, double *z) {
    const double sigma = 4.0 / 2.3548200450309493;
    uint64_t st = 7;
    int i, j, d;
    for (i = 0; i < H; i++) {
        double line = 3e-12 * (lcg(&st) - 0.5);
        for (j = 0; j < W; j++) {
            double v = 2e-12 * i + 1e-12 * j + line + 1e-12 * (lcg(&st) - 0.5);
            for (d = 0; d < ND; d++) {
                double dr = i - TRUE_POS[d][0], dc = j - TRUE_POS[d][1];
                v += sign * 40e-12 * exp(-(dr * dr + dc * dc) / (2.0 * sigma * sigma));
            }
            z[i * W + j] = v;
        }
    }
}

/* Each true position has exactly one found position within `tol` pixels. */
static void check_positions(const double *found, size_t n, double tol) {
    int d;
    size_t k;
    CHECK_EQ_INT(n, ND);
    for (d = 0; d < ND; d++) {
        int hits = 0;
        for (k = 0; k < n; k++) {
            double dr = found[2 * k] - TRUE_POS[d][0], dc = found[2 * k + 1] - TRUE_POS[d][1];
            if (sqrt(dr * dr + dc * dc) < tol) {
                hits++;
            }
        }
        CHECK_MSG(hits == 1, "defect %d at (%.1f, %.1f): %d found within %.2f px", d,
                  TRUE_POS[d][0], TRUE_POS[d][1], hits, tol);
    }
}

TEST(bumps_are_found_at_their_subpixel_positions) {
    static double z[H * W], pos[2 * CAP];
    qpik_array a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    qpik_array p = qpik_array_2d(pos, QPIK_F64, CAP, 2, QPIK_ROW_MAJOR);
    size_t n = 0, counted = 0;
    int k;
    make_topography(1.0, z);
    for (k = 0; k < 2 * CAP; k++) {
        pos[k] = -1.0;
    }
    REQUIRE_OK(qpik_find_defects(NULL, &a, NULL, &counted));
    REQUIRE_OK(qpik_find_defects(NULL, &a, &p, &n));
    CHECK_EQ_INT(n, counted);
    check_positions(pos, n, TOL);
    /* Rows past the defects found are untouched. */
    for (k = (int)(2 * n); k < 2 * CAP; k++) {
        CHECK_MSG(pos[k] == -1.0, "pos[%d] = %g was overwritten", k, pos[k]);
    }
}

TEST(layouts_and_dtypes_agree) {
    static double z[H * W], zt[H * W], pos[2 * ND], pos2[2 * ND];
    static float zf[H * W], posf[2 * ND];
    qpik_array a, p;
    size_t n = 0, n2 = 0;
    int i, j;
    make_topography(1.0, z);
    for (i = 0; i < H; i++) {
        for (j = 0; j < W; j++) {
            zt[j * H + i] = z[i * W + j];
            zf[i * W + j] = (float)z[i * W + j];
        }
    }
    a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    p = qpik_array_2d(pos, QPIK_F64, ND, 2, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_find_defects(NULL, &a, &p, &n));
    REQUIRE(n == ND);
    /* Column-major (MATLAB's layout): the same positions, bit for bit. */
    a = qpik_array_2d(zt, QPIK_F64, H, W, QPIK_COL_MAJOR);
    p = qpik_array_2d(pos2, QPIK_F64, ND, 2, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_find_defects(NULL, &a, &p, &n2));
    CHECK(n2 == n && memcmp(pos, pos2, sizeof pos) == 0);
    /* float32 heights (the search runs in float32 anyway): the same positions, bit for bit. */
    memset(pos2, 0, sizeof pos2);
    a = qpik_array_2d(zf, QPIK_F32, H, W, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_find_defects(NULL, &a, &p, &n2));
    CHECK(n2 == n && memcmp(pos, pos2, sizeof pos) == 0);
    /* float32 output: the same positions to float precision. */
    p = qpik_array_2d(posf, QPIK_F32, ND, 2, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_find_defects(NULL, &a, &p, &n2));
    REQUIRE(n2 == ND);
    for (i = 0; i < 2 * ND; i++) {
        CHECK_MSG(fabs(pos[i] - posf[i]) < 1e-4, "f32 [%d]: %g vs %g", i, posf[i], pos[i]);
    }
}

TEST(dark_defects_and_options) {
    static double z[H * W], pos[2 * 256];
    qpik_array a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    qpik_array p = qpik_array_2d(pos, QPIK_F64, 256, 2, QPIK_ROW_MAJOR);
    qpik_options *o = NULL;
    size_t n = 99, k;
    int d;
    make_topography(-1.0, z);
    REQUIRE_OK(qpik_options_new(&o));
    /* Looking for bright defects (the default) in an image of pits finds none of the pits. */
    CHECK_OK(qpik_find_defects(o, &a, &p, &n));
    for (k = 0; k < n; k++) {
        for (d = 0; d < ND; d++) {
            double dr = pos[2 * k] - TRUE_POS[d][0], dc = pos[2 * k + 1] - TRUE_POS[d][1];
            CHECK_MSG(sqrt(dr * dr + dc * dc) > 2.0, "bright search found pit %d", d);
        }
    }
    CHECK_OK(qpik_options_set(o, "topography.polarity", "dark"));
    CHECK_OK(qpik_find_defects(o, &a, &p, &n));
    check_positions(pos, n, TOL);
    CHECK_OK(qpik_options_set(o, "topography.polarity", "auto"));
    CHECK_OK(qpik_find_defects(o, &a, &p, &n));
    check_positions(pos, n, TOL);
    /* The size in Angstrom over the pixel size: 6 A defects on 1.5 A pixels are 4 px wide,
     * the default; 6 A is also the default size, so the pixel size alone gives the same. */
    CHECK_OK(qpik_options_set(o, "map.pixel_size_a", "1.5"));
    CHECK_OK(qpik_find_defects(o, &a, &p, &n));
    check_positions(pos, n, TOL);
    CHECK_OK(qpik_options_set(o, "topography.defect_size_a", "6"));
    CHECK_OK(qpik_find_defects(o, &a, &p, &n));
    check_positions(pos, n, TOL);
    /* An absurd threshold finds nothing, which is a success. */
    CHECK_OK(qpik_options_set(o, "topography.threshold_sigma", "1000"));
    CHECK_OK(qpik_find_defects(o, &a, &p, &n));
    CHECK_EQ_INT(n, 0);
    CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "topography.polarity",
                 qpik_options_set(o, "topography.polarity", "sideways"));
    CHECK_OK(qpik_options_set(o, "topography.threshold_sigma", "0.1"));
    CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "threshold_sigma", qpik_find_defects(o, &a, &p, &n));
    qpik_options_free(o);
}

TEST(nan_pixels_are_missing_data) {
    static double z[H * W], pos[2 * CAP];
    qpik_array a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    qpik_array p = qpik_array_2d(pos, QPIK_F64, CAP, 2, QPIK_ROW_MAJOR);
    size_t n = 0;
    int j;
    make_topography(1.0, z);
    /* A bad scan line far from every defect. */
    for (j = 0; j < W; j++) {
        z[22 * W + j] = NAN;
    }
    REQUIRE_OK(qpik_find_defects(NULL, &a, &p, &n));
    check_positions(pos, n, TOL);
}

TEST(count_then_fill) {
    static double z[H * W], pos[2 * CAP];
    qpik_array a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR), p;
    size_t n = 12345;
    int k;
    make_topography(1.0, z);
    CHECK_OK(qpik_find_defects(NULL, &a, NULL, &n));
    CHECK_EQ_INT(n, ND);
    /* One row short: the count comes back, the buffer is untouched. */
    for (k = 0; k < 2 * CAP; k++) {
        pos[k] = -7.0;
    }
    n = 0;
    p = qpik_array_2d(pos, QPIK_F64, ND - 1, 2, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "9 defects", qpik_find_defects(NULL, &a, &p, &n));
    CHECK_EQ_INT(n, ND);
    for (k = 0; k < 2 * CAP; k++) {
        CHECK_MSG(pos[k] == -7.0, "pos[%d] = %g was written", k, pos[k]);
    }
    /* Exactly the count: filled. */
    p = qpik_array_2d(pos, QPIK_F64, ND, 2, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_find_defects(NULL, &a, &p, &n));
    check_positions(pos, n, TOL);
    /* A flat image: none found, not an error. */
    memset(z, 0, sizeof z);
    n = 12345;
    CHECK_OK(qpik_find_defects(NULL, &a, &p, &n));
    CHECK_EQ_INT(n, 0);
}

TEST(bad_input) {
    static double z[H * W], pos[3 * CAP];
    static uint8_t u8[H * W];
    qpik_array a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    qpik_array p = qpik_array_2d(pos, QPIK_F64, CAP, 2, QPIK_ROW_MAJOR);
    qpik_array b;
    size_t n = 0;
    int k;
    make_topography(1.0, z);
    CHECK_STATUS(QPIK_ERR_NULL, "count", qpik_find_defects(NULL, &a, &p, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "topography", qpik_find_defects(NULL, NULL, NULL, &n));
    b = qpik_array_2d(pos, QPIK_F64, CAP, 3, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "[M, 2]", qpik_find_defects(NULL, &a, &b, &n));
    b = qpik_array_2d(u8, QPIK_U8, H, W, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_DTYPE, "QPIK_U8", qpik_find_defects(NULL, &b, NULL, &n));
    b = qpik_array_3d(z, QPIK_F64, 2, H / 2, W, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "dimensions", qpik_find_defects(NULL, &b, NULL, &n));
    b = qpik_array_2d(z, QPIK_F64, 2, W, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "2 x 80", qpik_find_defects(NULL, &b, NULL, &n));
    z[5 * W + 5] = INFINITY;
    CHECK_STATUS(QPIK_ERR_NOT_FINITE, "infinite", qpik_find_defects(NULL, &a, NULL, &n));
    for (k = 0; k < H * W; k++) {
        z[k] = NAN;
    }
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "finite", qpik_find_defects(NULL, &a, NULL, &n));
}

QT_MAIN(QT_CASE(bumps_are_found_at_their_subpixel_positions), QT_CASE(layouts_and_dtypes_agree),
        QT_CASE(dark_defects_and_options), QT_CASE(nan_pixels_are_missing_data),
        QT_CASE(count_then_fill), QT_CASE(bad_input))
