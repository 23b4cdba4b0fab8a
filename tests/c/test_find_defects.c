/*
 * qpik_find_defects: Gaussian bumps (FWHM 4 px) at known subpixel positions on a tilted,
 * noisy topography must be found there; row- and column-major, float and double give the
 * same; dark defects of -Z are the bright ones of Z; the count-then-fill convention; bad
 * input with the exact status.
 */
#include "harness.h"

enum { H = 72, W = 80, NB = 6, CAP = 32 };

/* Bump centres (row, col): well apart (> 12 px) and off the pixel grid. */
static const double BUMPS[NB][2] = {{10.3, 12.7}, {14.6, 60.2}, {35.0, 35.5},
                                    {40.25, 8.8}, {58.7, 50.1}, {62.4, 70.6}};

static double lcg(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0;
}

/* Topography [H, W] row-major: bumps of height `sign`, a tilt and uniform noise. */
static void topography(double *z, double sign) {
    const double sigma = 4.0 / 2.354820045;
    uint64_t st = 99;
    int i, j, b;
    for (i = 0; i < H; i++) {
        for (j = 0; j < W; j++) {
            double v = 0.003 * i - 0.002 * j + 0.02 * (lcg(&st) - 0.5);
            for (b = 0; b < NB; b++) {
                double dr = i - BUMPS[b][0], dc = j - BUMPS[b][1];
                v += sign * exp(-(dr * dr + dc * dc) / (2.0 * sigma * sigma));
            }
            z[i * W + j] = v;
        }
    }
}

/* Largest distance from a bump to the nearest found position (positions [n, 2]). */
static double worst_distance(const double *pos, size_t n) {
    double worst = 0.0;
    int b;
    size_t k;
    for (b = 0; b < NB; b++) {
        double best = 1e300;
        for (k = 0; k < n; k++) {
            double dr = pos[2 * k] - BUMPS[b][0], dc = pos[2 * k + 1] - BUMPS[b][1];
            double d = sqrt(dr * dr + dc * dc);
            best = d < best ? d : best;
        }
        worst = best > worst ? best : worst;
    }
    return worst;
}

TEST(finds_bumps_in_every_layout) {
    static double z[H * W], zt[H * W], pos[CAP * 2], pos2[CAP * 2];
    static float z32[H * W];
    size_t n = 0, n2 = 0;
    int i, j;
    qpik_array a, p;
    topography(z, 1.0);
    a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    p = qpik_array_2d(pos, QPIK_F64, CAP, 2, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_find_defects(NULL, &a, 0, &p, &n));
    CHECK_EQ_INT((int)n, NB);
    CHECK_MSG(worst_distance(pos, n) < 0.1, "worst distance %g px", worst_distance(pos, n));
    /* The same image column-major (MATLAB) and as float32: the same positions. */
    for (i = 0; i < H; i++) {
        for (j = 0; j < W; j++) {
            zt[j * H + i] = z[i * W + j];
            z32[i * W + j] = (float)z[i * W + j];
        }
    }
    a = qpik_array_2d(zt, QPIK_F64, H, W, QPIK_COL_MAJOR);
    p = qpik_array_2d(pos2, QPIK_F64, CAP, 2, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_find_defects(NULL, &a, 0, &p, &n2));
    CHECK(n2 == n && memcmp(pos, pos2, n * 2 * sizeof(double)) == 0);
    a = qpik_array_2d(z32, QPIK_F32, H, W, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_find_defects(NULL, &a, 0, &p, &n2));
    CHECK(n2 == n && memcmp(pos, pos2, n * 2 * sizeof(double)) == 0);
}

TEST(dark_and_auto_polarity) {
    static double z[H * W], pos[CAP * 2];
    size_t n = 0;
    qpik_array a, p;
    topography(z, -1.0);
    a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    p = qpik_array_2d(pos, QPIK_F64, CAP, 2, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_find_defects(NULL, &a, 1, &p, &n));
    CHECK_EQ_INT((int)n, NB);
    CHECK(worst_distance(pos, n) < 0.1);
    REQUIRE_OK(qpik_find_defects(NULL, &a, 2, &p, &n));
    CHECK_EQ_INT((int)n, NB);
    CHECK(worst_distance(pos, n) < 0.1);
    /* Looking for bright defects in an image of dark ones finds none of them. */
    REQUIRE_OK(qpik_find_defects(NULL, &a, 0, &p, &n));
    CHECK(n == 0 || worst_distance(pos, n) > 2.0);
}

TEST(pixel_size_sizes_the_filter) {
    /* 6 Angstrom defects on 1.5 Angstrom pixels are 4 px wide: the same as the default. */
    static double z[H * W], pos[CAP * 2];
    const char *kv[] = {"map.pixel_size_a", "1.5", NULL};
    qpik_options *o = qt_options(kv);
    size_t n = 0;
    qpik_array a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    qpik_array p = qpik_array_2d(pos, QPIK_F64, CAP, 2, QPIK_ROW_MAJOR);
    topography(z, 1.0);
    CHECK_OK(qpik_find_defects(o, &a, 0, &p, &n));
    CHECK_EQ_INT((int)n, NB);
    CHECK(worst_distance(pos, n) < 0.1);
    qpik_options_free(o);
}

TEST(count_then_fill) {
    static double z[H * W], pos[CAP * 2];
    size_t n = 0;
    int k;
    qpik_array a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR), p;
    topography(z, 1.0);
    CHECK_OK(qpik_find_defects(NULL, &a, 0, NULL, &n));
    CHECK_EQ_INT((int)n, NB);
    /* Too small a buffer: the count comes back, the buffer stays untouched. */
    for (k = 0; k < CAP * 2; k++) {
        pos[k] = -7.0;
    }
    n = 0;
    p = qpik_array_2d(pos, QPIK_F64, NB - 1, 2, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "found 6 defects", qpik_find_defects(NULL, &a, 0, &p, &n));
    CHECK_EQ_INT((int)n, NB);
    CHECK(pos[0] == -7.0 && pos[2 * NB - 1] == -7.0);
    /* Rows beyond the count are untouched. */
    p = qpik_array_2d(pos, QPIK_F64, CAP, 2, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_find_defects(NULL, &a, 0, &p, &n));
    CHECK(pos[2 * NB] == -7.0 && pos[2 * CAP - 1] == -7.0);
    /* A flat image: none found, not an error. */
    memset(z, 0, sizeof z);
    CHECK_OK(qpik_find_defects(NULL, &a, 0, &p, &n));
    CHECK_EQ_INT((int)n, 0);
}

TEST(bad_input) {
    static double z[H * W], pos[CAP * 3];
    static unsigned char z8[H * W];
    size_t n = 0;
    qpik_array a = qpik_array_2d(z, QPIK_F64, H, W, QPIK_ROW_MAJOR), b;
    qpik_array p = qpik_array_2d(pos, QPIK_F64, CAP, 2, QPIK_ROW_MAJOR);
    topography(z, 1.0);
    CHECK_STATUS(QPIK_ERR_NULL, "count", qpik_find_defects(NULL, &a, 0, &p, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "topography", qpik_find_defects(NULL, NULL, 0, &p, &n));
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "polarity", qpik_find_defects(NULL, &a, 3, &p, &n));
    b = qpik_array_2d(pos, QPIK_F64, CAP, 3, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "[capacity, 2]", qpik_find_defects(NULL, &a, 0, &b, &n));
    b = qpik_array_2d(z8, QPIK_U8, H, W, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_DTYPE, "topography", qpik_find_defects(NULL, &b, 0, &p, &n));
    b = qpik_array_3d(z, QPIK_F64, 2, H / 2, W, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "dimensions", qpik_find_defects(NULL, &b, 0, &p, &n));
    b = qpik_array_2d(z, QPIK_F64, 2, W, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "at least 3", qpik_find_defects(NULL, &b, 0, &p, &n));
}

QT_MAIN(QT_CASE(finds_bumps_in_every_layout), QT_CASE(dark_and_auto_polarity),
        QT_CASE(pixel_size_sizes_the_filter), QT_CASE(count_then_fill), QT_CASE(bad_input))
