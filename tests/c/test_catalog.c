/*
 * Catalog, kernel simulation, observation synthesis and options: the happy paths, checked
 * against independent computations (layouts against each other, the observation against
 * the kernel image it is built from).
 */
#include "harness.h"

/* A cheap catalog kernel (an exact continuum solution: milliseconds). */
#define CHEAP "shockley-cu111-m100meV"

TEST(catalog_lists_unique_names_with_specs) {
    size_t count = 0, i, j, needed = 0;
    char **names;
    char buf[256];
    REQUIRE_OK(qpik_catalog_count(&count));
    CHECK(count >= 100); /* "over 100 named kernels" */
    names = (char **)calloc(count, sizeof *names);
    REQUIRE(names != NULL);
    for (i = 0; i < count; i++) {
        CHECK_OK(qpik_catalog_name(i, buf, sizeof buf, &needed));
        CHECK_EQ_INT(needed, strlen(buf) + 1);
        CHECK(strlen(buf) > 0);
        names[i] = strdup(buf);
    }
    for (i = 0; i < count; i++) {
        for (j = i + 1; j < count; j++) {
            CHECK_MSG(strcmp(names[i], names[j]) != 0, "duplicate name %s", names[i]);
        }
    }
    /* Every name has a spec that names it; sample a few to keep the run short. */
    for (i = 0; i < count; i += count / 7) {
        char *spec;
        char line[300];
        CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "size query",
                     qpik_catalog_spec(names[i], NULL, 0, &needed));
        spec = (char *)malloc(needed);
        REQUIRE(spec != NULL);
        CHECK_OK(qpik_catalog_spec(names[i], spec, needed, NULL));
        CHECK_EQ_INT(strlen(spec) + 1, needed);
        snprintf(line, sizeof line, "name = \"%s\"", names[i]);
        CHECK_CONTAINS(spec, line);
        CHECK_CONTAINS(spec, "[render]");
        free(spec);
    }
    CHECK_STATUS(QPIK_ERR_NOT_FOUND, "past the catalog",
                 qpik_catalog_name(count, buf, sizeof buf, NULL));
    for (i = 0; i < count; i++) {
        free(names[i]);
    }
    free(names);
}

TEST(buffer_too_small_convention) {
    char buf[64];
    size_t needed = 0, len;
    REQUIRE_OK(qpik_catalog_name(0, buf, sizeof buf, &needed));
    len = strlen(buf);
    REQUIRE(len > 2 && needed == len + 1);

    /* Size query: NULL buffer, length 0. */
    needed = 0;
    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "needs", qpik_catalog_name(0, NULL, 0, &needed));
    CHECK_EQ_INT(needed, len + 1);

    /* One byte short: an error, `needed` set, and not a byte written. */
    memset(buf, 'X', sizeof buf);
    needed = 0;
    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "needs", qpik_catalog_name(0, buf, len, &needed));
    CHECK_EQ_INT(needed, len + 1);
    {
        size_t i;
        int untouched = 1;
        for (i = 0; i < sizeof buf; i++) {
            untouched &= buf[i] == 'X';
        }
        CHECK(untouched);
    }
    /* `needed` may be NULL. */
    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "needs", qpik_catalog_name(0, buf, 1, NULL));
    /* Exactly enough. */
    memset(buf, 'X', sizeof buf);
    CHECK_OK(qpik_catalog_name(0, buf, len + 1, NULL));
    CHECK_EQ_INT(strlen(buf), len);
    CHECK(buf[len + 1] == 'X');
}

static void kernel_image_f64(const qpik_kernel *k, int64_t rows, int64_t cols, double *out) {
    qpik_array a = qpik_array_2d(out, QPIK_F64, rows, cols, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_kernel_image(k, &a));
}

TEST(kernel_by_name_layouts_and_info) {
    qpik_kernel *k = NULL;
    qpik_kernel_info info;
    double *d, *dc;
    float *f;
    int64_t r, c, n;
    double lo = INFINITY, hi = -INFINITY;
    int finite = 1, layouts_agree = 1, f32_agrees = 1;

    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, NULL, &k));
    memset(&info, 0xAB, sizeof info);
    info.struct_size = sizeof info;
    REQUIRE_OK(qpik_kernel_get_info(k, &info));
    CHECK_EQ_INT(info.struct_size, sizeof info);
    CHECK_EQ_INT(info.rows, 64);
    CHECK_EQ_INT(info.cols, 64);
    CHECK_EQ_INT(info.symmetry, 1);
    CHECK(fabs(info.pixel_size_m - 1.6e-10) < 1e-16);
    CHECK(fabs(info.energy_ev - -0.1) < 1e-12);
    CHECK(info.rotation_deg == 0.0);
    CHECK(info.centre_row == 32.0 && info.centre_col == 32.0);

    n = info.rows * info.cols;
    d = (double *)malloc((size_t)n * sizeof *d);
    dc = (double *)malloc((size_t)n * sizeof *dc);
    f = (float *)malloc((size_t)n * sizeof *f);
    REQUIRE(d && dc && f);
    kernel_image_f64(k, info.rows, info.cols, d);
    {
        qpik_array a = qpik_array_2d(dc, QPIK_F64, info.rows, info.cols, QPIK_COL_MAJOR);
        qpik_array b = qpik_array_2d(f, QPIK_F32, info.rows, info.cols, QPIK_ROW_MAJOR);
        CHECK_OK(qpik_kernel_image(k, &a));
        CHECK_OK(qpik_kernel_image(k, &b));
    }
    for (r = 0; r < info.rows; r++) {
        for (c = 0; c < info.cols; c++) {
            double v = d[r * info.cols + c];
            finite &= isfinite(v) != 0;
            layouts_agree &= dc[c * info.rows + r] == v;
            f32_agrees &= f[r * info.cols + c] == (float)v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    CHECK(finite);
    CHECK(layouts_agree);
    CHECK(f32_agrees);
    CHECK(hi > lo);
    /* An isotropic kernel: the same value a distance 10 px away along both axes. */
    CHECK(fabs(d[32 * 64 + 42] - d[42 * 64 + 32]) <= 1e-9 * (hi - lo));
    CHECK(fabs(d[32 * 64 + 22] - d[22 * 64 + 32]) <= 1e-9 * (hi - lo));
    free(d);
    free(dc);
    free(f);
    qpik_kernel_free(k);
}

TEST(kernel_options_override_the_grid) {
    static const char *const kv[] = {"size", "16x24", "pixel_size_a", "0.8", "rotation_deg",
                                     "30", NULL};
    qpik_options *o = qt_options(kv);
    qpik_kernel *k = NULL;
    qpik_kernel_info info;
    double img[16 * 24];
    info.struct_size = sizeof info;
    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, o, &k));
    REQUIRE_OK(qpik_kernel_get_info(k, &info));
    CHECK_EQ_INT(info.rows, 16);
    CHECK_EQ_INT(info.cols, 24);
    CHECK(fabs(info.pixel_size_m - 0.8e-10) < 1e-16);
    CHECK(info.rotation_deg == 30.0);
    CHECK(info.centre_row == 8.0 && info.centre_col == 12.0);
    kernel_image_f64(k, 16, 24, img);
    {
        /* The old size is refused. */
        double big[64 * 64];
        qpik_array a = qpik_array_2d(big, QPIK_F64, 64, 64, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "[16, 24]", qpik_kernel_image(k, &a));
    }
    qpik_kernel_free(k);
    qpik_options_free(o);
}

/* Replace the first occurrence of `from` in `s` by `to` (new string). */
static char *replace(const char *s, const char *from, const char *to) {
    const char *p = strstr(s, from);
    size_t n;
    char *out;
    if (p == NULL) {
        return NULL;
    }
    n = strlen(s) - strlen(from) + strlen(to) + 1;
    out = (char *)malloc(n);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, s, (size_t)(p - s));
    strcpy(out + (p - s), to);
    strcat(out, p + strlen(from));
    return out;
}

TEST(kernel_by_toml_spec_matches_the_catalog) {
    size_t needed = 0;
    char *spec, *edited;
    qpik_kernel *by_name = NULL, *by_spec = NULL, *small = NULL;
    qpik_kernel_info info;
    static double a[64 * 64], b[64 * 64];
    static const char *const kv[] = {"size", "32", NULL};
    qpik_options *o = qt_options(kv);
    double small_a[32 * 32], small_b[32 * 32];

    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "needs", qpik_catalog_spec(CHEAP, NULL, 0, &needed));
    spec = (char *)malloc(needed);
    REQUIRE(spec != NULL);
    REQUIRE_OK(qpik_catalog_spec(CHEAP, spec, needed, NULL));

    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, NULL, &by_name));
    REQUIRE_OK(qpik_kernel_new(NULL, spec, NULL, &by_spec));
    kernel_image_f64(by_name, 64, 64, a);
    kernel_image_f64(by_spec, 64, 64, b);
    CHECK(memcmp(a, b, sizeof a) == 0); /* deterministic, same spec */

    /* An edited spec: a 32 x 32 grid, the same as the size option. */
    edited = replace(spec, "size = [64, 64]", "size = [32, 32]");
    REQUIRE(edited != NULL);
    qpik_kernel_free(by_spec);
    by_spec = NULL;
    REQUIRE_OK(qpik_kernel_new(NULL, edited, NULL, &by_spec));
    info.struct_size = sizeof info;
    REQUIRE_OK(qpik_kernel_get_info(by_spec, &info));
    CHECK_EQ_INT(info.rows, 32);
    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, o, &small));
    kernel_image_f64(by_spec, 32, 32, small_a);
    kernel_image_f64(small, 32, 32, small_b);
    CHECK(memcmp(small_a, small_b, sizeof small_a) == 0);

    /* The spec's symmetry label and energy come through. */
    free(edited);
    edited = replace(spec, "energy_ev = -0.1", "energy_ev = -0.05");
    REQUIRE(edited != NULL);
    qpik_kernel_free(small);
    small = NULL;
    REQUIRE_OK(qpik_kernel_new(NULL, edited, NULL, &small));
    REQUIRE_OK(qpik_kernel_get_info(small, &info));
    CHECK(fabs(info.energy_ev - -0.05) < 1e-12);

    free(edited);
    free(spec);
    qpik_kernel_free(by_name);
    qpik_kernel_free(by_spec);
    qpik_kernel_free(small);
    qpik_options_free(o);
}

TEST(info_structs_of_older_callers_are_not_overrun) {
    /* A caller built against a header whose qpik_kernel_info ended after `rows`. */
    qpik_kernel *k = NULL;
    qpik_kernel_info info;
    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, NULL, &k));
    memset(&info, 0x5A, sizeof info);
    info.struct_size = 16;
    REQUIRE_OK(qpik_kernel_get_info(k, &info));
    CHECK_EQ_INT(info.struct_size, 16);
    CHECK_EQ_INT(info.symmetry, 1);
    CHECK_EQ_INT(info.rows, 64);
    {
        const unsigned char *p = (const unsigned char *)&info;
        size_t i;
        int untouched = 1;
        for (i = 16; i < sizeof info; i++) {
            untouched &= p[i] == 0x5A;
        }
        CHECK(untouched);
    }
    qpik_kernel_free(k);
}

TEST(observation_is_the_kernel_at_its_defects) {
    /* One defect, whole-pixel positions, no artefacts: the observation is the kernel image
     * times the amplitude, shifted to the defect (where the kernel window reaches). */
    static const char *const kso[] = {"size", "32", NULL};
    static const char *const oo[] = {"seed",
                                     "7",
                                     "defects.count_min",
                                     "1",
                                     "defects.count_max",
                                     "1",
                                     "defects.subpixel_steps",
                                     "1",
                                     "defects.region",
                                     "central:0.3",
                                     NULL};
    qpik_options *ko = qt_options(kso), *o = qt_options(oo);
    qpik_kernel *k = NULL;
    qpik_observation *obs = NULL;
    double kimg[32 * 32], img[40 * 48], def[3], scale = 0, worst = 0;
    unsigned char mask[40 * 48];
    size_t count = 0, i, ones = 0;
    int64_t r, c, pr, pc;
    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, ko, &k));
    kernel_image_f64(k, 32, 32, kimg);
    REQUIRE_OK(qpik_observation_new(k, 40, 48, o, &obs));
    REQUIRE_OK(qpik_observation_defect_count(obs, &count));
    REQUIRE(count == 1);
    {
        qpik_array d = qpik_array_2d(def, QPIK_F64, 1, 3, QPIK_ROW_MAJOR);
        qpik_array a = qpik_array_2d(img, QPIK_F64, 40, 48, QPIK_ROW_MAJOR);
        qpik_array m = qpik_array_2d(mask, QPIK_U8, 40, 48, QPIK_ROW_MAJOR);
        REQUIRE_OK(qpik_observation_defects(obs, &d));
        REQUIRE_OK(qpik_observation_image(obs, &a, &m));
    }
    pr = (int64_t)def[0];
    pc = (int64_t)def[1];
    CHECK(def[0] == (double)pr && def[1] == (double)pc); /* whole pixels */
    CHECK(pr >= 0 && pr < 40 && pc >= 0 && pc < 48);
    CHECK(fabs(def[2]) >= 0.5 && fabs(def[2]) <= 1.5); /* default amplitude range */
    for (i = 0; i < 40 * 48; i++) {
        ones += mask[i];
    }
    CHECK_EQ_INT(ones, 1);
    CHECK_EQ_INT(mask[pr * 48 + pc], 1);
    for (i = 0; i < 32 * 32; i++) {
        scale = fabs(kimg[i]) > scale ? fabs(kimg[i]) : scale;
    }
    for (r = 0; r < 40; r++) {
        for (c = 0; c < 48; c++) {
            int64_t kr = r - pr + 16, kc = c - pc + 16;
            if (kr >= 0 && kr < 32 && kc >= 0 && kc < 32) {
                double d = fabs(img[r * 48 + c] - def[2] * kimg[kr * 32 + kc]);
                worst = d > worst ? d : worst;
            }
        }
    }
    CHECK_MSG(worst <= 1e-4 * fabs(def[2]) * scale, "observation differs from the kernel by %g of %g",
              worst, scale);
    qpik_observation_free(obs);
    qpik_kernel_free(k);
    qpik_options_free(ko);
    qpik_options_free(o);
}

TEST(observation_seeds_masks_and_layouts) {
    static const char *const kso[] = {"size", "32", NULL};
    static const char *const o1[] = {"seed", "1", "defects.count_min", "3", "defects.count_max",
                                     "5", "artefacts", "realistic", NULL};
    static const char *const o2[] = {"seed", "2", "defects.count_min", "3", "defects.count_max",
                                     "5", "artefacts", "realistic", NULL};
    qpik_options *ko = qt_options(kso), *a1 = qt_options(o1), *a2 = qt_options(o2);
    qpik_kernel *k = NULL;
    qpik_observation *x = NULL, *y = NULL, *z = NULL;
    static float fx[48 * 40], fy[48 * 40], fz[48 * 40];
    static double dcol[48 * 40], mcol[48 * 40];
    static unsigned char mx[48 * 40];
    double *def;
    size_t n = 0, i, ones = 0;
    int64_t r, c;
    int same = 1;
    REQUIRE_OK(qpik_kernel_new(CHEAP, NULL, ko, &k));
    REQUIRE_OK(qpik_observation_new(k, 48, 40, a1, &x));
    REQUIRE_OK(qpik_observation_new(k, 48, 40, a1, &y));
    REQUIRE_OK(qpik_observation_new(k, 48, 40, a2, &z));
    {
        qpik_array ax = qpik_array_2d(fx, QPIK_F32, 48, 40, QPIK_ROW_MAJOR);
        qpik_array ay = qpik_array_2d(fy, QPIK_F32, 48, 40, QPIK_ROW_MAJOR);
        qpik_array az = qpik_array_2d(fz, QPIK_F32, 48, 40, QPIK_ROW_MAJOR);
        qpik_array am = qpik_array_2d(mx, QPIK_U8, 48, 40, QPIK_ROW_MAJOR);
        qpik_array dc = qpik_array_2d(dcol, QPIK_F64, 48, 40, QPIK_COL_MAJOR);
        qpik_array mc = qpik_array_2d(mcol, QPIK_F64, 48, 40, QPIK_COL_MAJOR);
        CHECK_OK(qpik_observation_image(x, &ax, &am));
        CHECK_OK(qpik_observation_image(y, &ay, NULL));
        CHECK_OK(qpik_observation_image(z, &az, NULL));
        CHECK_OK(qpik_observation_image(x, &dc, &mc));
    }
    CHECK(memcmp(fx, fy, sizeof fx) == 0); /* same seed, same map */
    CHECK(memcmp(fx, fz, sizeof fx) != 0); /* another seed, another map */
    for (r = 0; r < 48; r++) {
        for (c = 0; c < 40; c++) {
            same &= (double)fx[r * 40 + c] == dcol[c * 48 + r];
            same &= (double)mx[r * 40 + c] == mcol[c * 48 + r];
            same &= isfinite(fx[r * 40 + c]) != 0;
        }
    }
    CHECK(same);
    REQUIRE_OK(qpik_observation_defect_count(x, &n));
    CHECK(n >= 3 && n <= 5);
    def = (double *)malloc(n * 3 * sizeof *def);
    REQUIRE(def != NULL);
    {
        qpik_array d = qpik_array_2d(def, QPIK_F64, (int64_t)n, 3, QPIK_ROW_MAJOR);
        CHECK_OK(qpik_observation_defects(x, &d));
        /* A defects array of the wrong count is refused. */
        d = qpik_array_2d(def, QPIK_F64, (int64_t)n - 1, 3, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "defects", qpik_observation_defects(x, &d));
    }
    for (i = 0; i < n; i++) {
        int64_t pr = (int64_t)floor(def[i * 3] + 0.5), pc = (int64_t)floor(def[i * 3 + 1] + 0.5);
        CHECK(def[i * 3] >= 0 && def[i * 3] <= 47 && def[i * 3 + 1] >= 0 && def[i * 3 + 1] <= 39);
        CHECK(pr >= 0 && pr < 48 && pc >= 0 && pc < 40 && mx[pr * 40 + pc] == 1);
    }
    for (i = 0; i < 48 * 40; i++) {
        CHECK(mx[i] <= 1);
        ones += mx[i];
    }
    CHECK(ones >= 1 && ones <= n); /* two defects may share a pixel */
    free(def);
    qpik_observation_free(x);
    qpik_observation_free(y);
    qpik_observation_free(z);
    qpik_kernel_free(k);
    qpik_options_free(ko);
    qpik_options_free(a1);
    qpik_options_free(a2);
}

TEST(options_set_get_describe) {
    qpik_options *o = NULL;
    char buf[16384]; /* describe() grows with every key */
    size_t needed = 0;
    REQUIRE_OK(qpik_options_new(&o));
    /* Unset keys read as their documented defaults. */
    CHECK_OK(qpik_options_get(o, "size", buf, sizeof buf, NULL));
    CHECK_STR(buf, "64");
    CHECK_OK(qpik_options_get(o, "train.channels", buf, sizeof buf, NULL));
    CHECK_STR(buf, "8,16,32");
    /* Set values read back as set. */
    CHECK_OK(qpik_options_set(o, "seed", "42"));
    CHECK_OK(qpik_options_get(o, "seed", buf, sizeof buf, &needed));
    CHECK_STR(buf, "42");
    CHECK_EQ_INT(needed, 3);
    CHECK_OK(qpik_options_set(o, "device", "CPU"));
    CHECK_OK(qpik_options_set(o, "train.augment", "off"));
    CHECK_OK(qpik_options_set(o, "defects.region", "central:0.5"));
    CHECK_OK(qpik_options_set(o, "size", "32x48"));
    CHECK_OK(qpik_options_get(o, "size", buf, sizeof buf, NULL));
    CHECK_STR(buf, "32x48");
    /* A refused value changes nothing. */
    CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "'seed'", qpik_options_set(o, "seed", "-3"));
    CHECK_OK(qpik_options_get(o, "seed", buf, sizeof buf, NULL));
    CHECK_STR(buf, "42");
    /* The artefacts preset resets the artefacts.* keys set before it. */
    CHECK_OK(qpik_options_set(o, "artefacts.snr", "5"));
    CHECK_OK(qpik_options_get(o, "artefacts.snr", buf, sizeof buf, NULL));
    CHECK_STR(buf, "5");
    CHECK_OK(qpik_options_set(o, "artefacts", "realistic"));
    CHECK_OK(qpik_options_get(o, "artefacts.snr", buf, sizeof buf, NULL));
    CHECK_STR(buf, "(off)");
    /* describe: one line per key, key<TAB>default<TAB>description. */
    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "needs", qpik_options_describe(NULL, 0, &needed));
    REQUIRE(needed > 100 && needed < sizeof buf);
    CHECK_OK(qpik_options_describe(buf, sizeof buf, NULL));
    CHECK_EQ_INT(strlen(buf) + 1, needed);
    CHECK_CONTAINS(buf, "\ntrain.channels\t8,16,32\t");
    CHECK_CONTAINS(buf, "\ndataset.per_kernel\t500\t");
    CHECK(strncmp(buf, "device\tcpu\t", 11) == 0);
    qpik_options_free(o);
}

static int32_t cancel_at_once(void *user, const char *stage, uint64_t done, uint64_t total,
                              const char *message) {
    (void)stage, (void)done, (void)total, (void)message;
    ++*(int *)user;
    return 1;
}

static int32_t count_calls(void *user, const char *stage, uint64_t done, uint64_t total,
                           const char *message) {
    (void)done, (void)total, (void)message;
    if (stage == NULL) {
        return 1;
    }
    ++*(int *)user;
    return 0;
}

/* A lattice kernel with a progress callback: cancelled at the first call (out untouched), or
 * the same image as qpik_kernel_new with the callback called; a NULL callback is allowed. */
TEST(kernel_with_progress_cancels_and_matches) {
    const char *lattice = "square-tp-3-0meV";
    static const char *const kv[] = {"size", "32", NULL};
    qpik_options *o = qt_options(kv);
    qpik_kernel *k = (qpik_kernel *)&kv, *plain = NULL;
    static double a[32 * 32], b[32 * 32];
    int calls = 0;

    CHECK_STATUS(QPIK_ERR_CANCELLED, "cancel",
                 qpik_kernel_new_progress(lattice, NULL, o, &k, cancel_at_once, &calls));
    CHECK_EQ_INT(calls, 1);
    CHECK(k == (qpik_kernel *)&kv);

    k = NULL;
    calls = 0;
    REQUIRE_OK(qpik_kernel_new_progress(lattice, NULL, o, &k, count_calls, &calls));
    CHECK_MSG(calls >= 1, "%d progress calls", calls);
    REQUIRE_OK(qpik_kernel_new(lattice, NULL, o, &plain));
    kernel_image_f64(k, 32, 32, a);
    kernel_image_f64(plain, 32, 32, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    qpik_kernel_free(k);
    k = NULL;
    CHECK_OK(qpik_kernel_new_progress(lattice, NULL, o, &k, NULL, NULL));
    qpik_kernel_free(k);
    qpik_kernel_free(plain);
    qpik_options_free(o);
}

QT_MAIN(QT_CASE(catalog_lists_unique_names_with_specs), QT_CASE(buffer_too_small_convention),
        QT_CASE(kernel_by_name_layouts_and_info), QT_CASE(kernel_options_override_the_grid),
        QT_CASE(kernel_by_toml_spec_matches_the_catalog),
        QT_CASE(info_structs_of_older_callers_are_not_overrun),
        QT_CASE(observation_is_the_kernel_at_its_defects),
        QT_CASE(observation_seeds_masks_and_layouts), QT_CASE(options_set_get_describe),
        QT_CASE(kernel_with_progress_cancels_and_matches))
