/*
 * Headless tests of the qpik Gwyddion modules with the real libgwyddion: Gwyddion's own
 * non-GUI start-up, the built modules registered from their files, the FeSe scan loaded by
 * Gwyddion's Nanonis file module, the functions run as Gwyddion runs them
 * (gwy_process_func_run / gwy_volume_func_run, GWY_RUN_IMMEDIATE with settings written the
 * way the dialog saves them). Every result is compared with a direct qpik call on the same
 * data. Bad input must add nothing and leave the host running.
 *
 * Usage: gwy_headless PROCESS_MODULE.so VOLUME_MODULE.so FeSe.sxm [CASE]
 * Run with HOME set to an empty temporary folder (Gwyddion writes its settings there).
 * Prints "ok NAME"/"FAIL NAME" per case and "N passed, M failed" at the end.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <app/gwyapp.h>
#include <libgwyddion/gwyddion.h>
#include <libgwymodule/gwymodule.h>
#include <libprocess/gwyprocess.h>

#include "gwy_support.h"

/* Check the four new channels against a direct extraction `ex` of `map` (id `liy`). */
static void
check_results(GwyContainer *data, gint liy, gint before, qpik_extraction *ex)
{
    GwyDataField *map = channel(data, liy), *k, *res, *def, *amp;
    qpik_extraction_info info;
    gint kid, rid, did, aid, s, n, i, j, marked = 0;
    double *want, *pos, dx = gwy_data_field_get_dx(map);
    qpik_array a;

    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    REQUIRE(qpik_extraction_get_info(ex, &info) == QPIK_OK);
    s = (gint)info.kernel_size;
    n = (gint)info.defects;
    REQUIRE(count_channels(data) == before + 4);
    kid = find_channel(data, "QPI kernel", "");
    rid = find_channel(data, "QPI residual", "");
    did = find_channel(data, "QPI defects", "");
    aid = find_channel(data, "QPI kernel |FFT|", "");
    REQUIRE(kid >= 0 && rid >= 0 && did >= 0 && aid >= 0);
    k = channel(data, kid);
    res = channel(data, rid);
    def = channel(data, did);
    amp = channel(data, aid);

    /* The kernel: S x S, the map's units, real size S dx, impurity at (0, 0). */
    CHECK(gwy_data_field_get_xres(k) == s && gwy_data_field_get_yres(k) == s);
    CHECK(gwy_si_unit_equal(gwy_data_field_get_si_unit_z(k), gwy_data_field_get_si_unit_z(map)));
    CHECK(gwy_si_unit_equal_string(gwy_data_field_get_si_unit_xy(k), "m"));
    CHECK(fabs(gwy_data_field_get_xreal(k) - s * dx) < 1e-6 * s * dx);
    CHECK(fabs(gwy_data_field_get_xoffset(k) + (s / 2 + 0.5) * dx) < 1e-6 * dx);
    CHECK(fabs(gwy_data_field_get_yoffset(k) + (s / 2 + 0.5) * gwy_data_field_get_dy(map))
          < 1e-6 * dx);
    /* The centre of pixel (S/2, S/2) is at (0, 0). */
    CHECK(fabs(gwy_data_field_jtor(k, s / 2 + 0.5) + gwy_data_field_get_xoffset(k)) < 1e-6 * dx);
    want = g_new(double, (gsize)s * s);
    a = qpik_array_2d(want, QPIK_F64, s, s, QPIK_ROW_MAJOR);
    REQUIRE(qpik_extraction_kernels(ex, &a) == QPIK_OK);
    CHECK_MSG(rel_diff(gwy_data_field_get_data_const(k), want, (size_t)s * s) < 1e-6,
              "kernel differs from the direct call by %g",
              rel_diff(gwy_data_field_get_data_const(k), want, (size_t)s * s));

    /* |FFT K| at the centre (zero frequency) is |sum K| / S (Gwyddion's 1/sqrt(N) scaling),
     * and at frequency (0, 1) the modulus of the naive DFT. */
    {
        double sum = 0.0, re = 0.0, im = 0.0, c;
        const double *kd = gwy_data_field_get_data_const(k);
        for (i = 0; i < s; i++) {
            for (j = 0; j < s; j++) {
                sum += kd[i * s + j];
                re += kd[i * s + j] * cos(2.0 * G_PI * j / s);
                im -= kd[i * s + j] * sin(2.0 * G_PI * j / s);
            }
        }
        CHECK(gwy_data_field_get_xres(amp) == s);
        c = gwy_data_field_get_val(amp, s / 2, s / 2);
        CHECK_MSG(fabs(c - fabs(sum) / s) < 1e-9 * (fabs(sum) + 1e-30) + 1e-12 * fabs(c),
                  "|FFT| at DC %g, want %g", c, fabs(sum) / s);
        c = gwy_data_field_get_val(amp, s / 2 + 1, s / 2);
        CHECK_MSG(fabs(c - hypot(re, im) / s) < 1e-6 * (c + 1e-30),
                  "|FFT| at (0, 1) %g, want %g", c, hypot(re, im) / s);
        CHECK(gwy_si_unit_equal_string(gwy_data_field_get_si_unit_xy(amp), "1/m"));
        /* Frequency 0 at (0, 0); one pixel is 1 / (S dx). */
        CHECK(fabs(gwy_data_field_get_xreal(amp) - 1.0 / dx) < 1e-6 / dx);
        CHECK(fabs(gwy_data_field_jtor(amp, s / 2 + 0.5) + gwy_data_field_get_xoffset(amp))
              < 1e-6 / (s * dx));
    }

    /* The residual: the map's geometry and the direct call's values. */
    CHECK(gwy_data_field_check_compatibility(res, map, GWY_DATA_COMPATIBILITY_RES
                                             | GWY_DATA_COMPATIBILITY_REAL
                                             | GWY_DATA_COMPATIBILITY_LATERAL
                                             | GWY_DATA_COMPATIBILITY_VALUE) == 0);
    g_free(want);
    want = g_new(double, (gsize)info.rows * info.cols);
    a = qpik_array_2d(want, QPIK_F64, info.rows, info.cols, QPIK_ROW_MAJOR);
    REQUIRE(qpik_extraction_residual(ex, &a) == QPIK_OK);
    CHECK_MSG(rel_diff(gwy_data_field_get_data_const(res), want,
                       (size_t)(info.rows * info.cols)) < 1e-6,
              "residual differs by %g", rel_diff(gwy_data_field_get_data_const(res), want,
                                                 (size_t)(info.rows * info.cols)));
    g_free(want);

    /* The defects: 1 at the pixel nearest each position used. */
    pos = g_new(double, 2 * n);
    a = qpik_array_2d(pos, QPIK_F64, n, 2, QPIK_ROW_MAJOR);
    REQUIRE(qpik_extraction_positions(ex, &a) == QPIK_OK);
    for (i = 0; i < n; i++) {
        gint r = (gint)floor(pos[2 * i] + 0.5), c = (gint)floor(pos[2 * i + 1] + 0.5);
        if (r >= 0 && r < (gint)info.rows && c >= 0 && c < (gint)info.cols) {
            CHECK(gwy_data_field_get_val(def, c, r) == 1.0);
            marked++;
        }
    }
    CHECK_MSG(fabs(gwy_data_field_get_sum(def) - marked) < 0.5 || marked > 0,
              "defect channel sums to %g for %d defects", gwy_data_field_get_sum(def), marked);
    CHECK(gwy_data_field_get_sum(def) <= marked + 0.5);
    g_free(pos);

    /* One log entry per new channel, naming the function. */
    CHECK(logged(data, kid, "qpik_extract_kernel"));
    CHECK(logged(data, rid, "qpik_extract_kernel"));
    CHECK(logged(data, did, "qpik_extract_kernel"));
    CHECK(logged(data, aid, "qpik_extract_kernel"));
}

static void
case_topography(void)
{
    gint liy, z, before;
    GwyContainer *data = load_fese(&liy, &z);
    GwyDataField *map, *topo;
    qpik_options *o;
    qpik_extraction *ex = NULL;
    qpik_array ma, za, pa;
    size_t n = 0;
    double *pos, t0, t_module, t_direct;

    REQUIRE(data && liy >= 0 && z >= 0);
    map = channel(data, liy);
    topo = channel(data, z);
    use_settings("qpik_extract_kernel", 1, TRUE, 49, -1); /* symmetry auto, the default */
    before = count_channels(data);
    gwy_app_data_browser_select_data_field(data, liy);
    t0 = seconds();
    gwy_process_func_run("qpik_extract_kernel", data, GWY_RUN_IMMEDIATE);
    t_module = seconds() - t0;

    /* The same by hand: defects from Z, then the map engine. */
    t0 = seconds();
    o = direct_options(map, 0, NULL);
    za = qpik_array_2d(gwy_data_field_get_data(topo), QPIK_F64, gwy_data_field_get_yres(topo),
                       gwy_data_field_get_xres(topo), QPIK_ROW_MAJOR);
    REQUIRE(qpik_find_defects(o, &za, NULL, &n) == QPIK_OK && n > 0);
    pos = g_new(double, 2 * n);
    pa = qpik_array_2d(pos, QPIK_F64, (int64_t)n, 2, QPIK_ROW_MAJOR);
    REQUIRE(qpik_find_defects(o, &za, &pa, &n) == QPIK_OK);
    ma = qpik_array_2d(gwy_data_field_get_data(map), QPIK_F64, gwy_data_field_get_yres(map),
                       gwy_data_field_get_xres(map), QPIK_ROW_MAJOR);
    REQUIRE(qpik_extract_map(o, &ma, &pa, &ex) == QPIK_OK);
    t_direct = seconds() - t0;
    printf("  FeSe %d x %d, %zu defects from Z: module %.2f s, direct C calls %.2f s\n",
           gwy_data_field_get_xres(map), gwy_data_field_get_yres(map), n, t_module, t_direct);
    check_results(data, liy, before, ex);
    qpik_extraction_free(ex);
    qpik_options_free(o);
    g_free(pos);
    gwy_app_data_browser_remove(data);
    g_object_unref(data);
}

static void
case_blind_fixed_size_symmetry(void)
{
    gint liy, z, before;
    GwyContainer *data = load_fese(&liy, &z);
    GwyDataField *map;
    qpik_options *o;
    qpik_extraction *ex = NULL;
    qpik_array ma;

    REQUIRE(data && liy >= 0);
    map = channel(data, liy);
    use_settings("qpik_extract_kernel", 0, FALSE, 41, 4);
    before = count_channels(data);
    gwy_app_data_browser_select_data_field(data, liy);
    gwy_process_func_run("qpik_extract_kernel", data, GWY_RUN_IMMEDIATE);
    o = direct_options(map, 41, "4");
    ma = qpik_array_2d(gwy_data_field_get_data(map), QPIK_F64, gwy_data_field_get_yres(map),
                       gwy_data_field_get_xres(map), QPIK_ROW_MAJOR);
    REQUIRE(qpik_extract_map(o, &ma, NULL, &ex) == QPIK_OK);
    check_results(data, liy, before, ex);
    {
        qpik_extraction_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        qpik_extraction_get_info(ex, &info);
        CHECK(info.kernel_size == 41 && info.symmetry == 4 && info.positions_estimated == 1);
    }
    qpik_extraction_free(ex);
    qpik_options_free(o);
    gwy_app_data_browser_remove(data);
    g_object_unref(data);
}

/* A mask on the map itself: each grain is one defect at its centroid. */
static void
case_mask(void)
{
    gint liy, z, before, i, j, g = 0;
    GwyContainer *data = load_fese(&liy, &z);
    GwyDataField *map, *mask;
    qpik_options *o;
    qpik_extraction *ex = NULL;
    qpik_array ma, pa;
    double pos[2 * 64];

    REQUIRE(data && liy >= 0);
    map = channel(data, liy);
    mask = gwy_data_field_new_alike(map, TRUE);
    /* 2 x 2 grains on a 28-pixel grid: centroids at half pixels, in raster order. */
    for (i = 10; i < gwy_data_field_get_yres(map) - 10 && g < 64; i += 28) {
        for (j = 14; j < gwy_data_field_get_xres(map) - 10 && g < 64; j += 28) {
            gwy_data_field_area_fill(mask, j, i, 2, 2, 1.0);
            pos[2 * g] = i + 0.5;
            pos[2 * g + 1] = j + 0.5;
            g++;
        }
    }
    gwy_container_set_object(data, gwy_app_get_mask_key_for_id(liy), mask);
    g_object_unref(mask);
    use_settings("qpik_extract_kernel", 2, FALSE, 31, -1); /* symmetry auto, the default */
    before = count_channels(data);
    gwy_app_data_browser_select_data_field(data, liy);
    gwy_process_func_run("qpik_extract_kernel", data, GWY_RUN_IMMEDIATE);
    o = direct_options(map, 31, NULL);
    ma = qpik_array_2d(gwy_data_field_get_data(map), QPIK_F64, gwy_data_field_get_yres(map),
                       gwy_data_field_get_xres(map), QPIK_ROW_MAJOR);
    pa = qpik_array_2d(pos, QPIK_F64, g, 2, QPIK_ROW_MAJOR);
    REQUIRE(qpik_extract_map(o, &ma, &pa, &ex) == QPIK_OK);
    check_results(data, liy, before, ex);
    qpik_extraction_free(ex);
    qpik_options_free(o);
    gwy_app_data_browser_remove(data);
    g_object_unref(data);
}

/* A blind run on the FeSe map whose last scan lines hold one constant value (an aborted
 * scan): the residual's mask holds every pixel qpik left out, each channel carries the
 * metadata, and the log records the kernel size qpik chose, not the greyed-out 7. */
static void
case_blind_report(void)
{
    gint liy, z, before, rid, kid, k, xres, yres, wrong = 0;
    GwyContainer *data = load_fese(&liy, &z), *meta;
    GwyDataField *map, *mask;
    const guchar *s;
    qpik_options *o;
    qpik_extraction *ex = NULL;
    qpik_extraction_info info;
    qpik_array ma, ea;
    double *want;
    gchar needle[64];

    REQUIRE(data && liy >= 0);
    map = channel(data, liy);
    xres = gwy_data_field_get_xres(map);
    yres = gwy_data_field_get_yres(map);
    for (k = (yres - 4) * xres; k < yres * xres; k++)
        gwy_data_field_get_data(map)[k] = 1e-12;
    gwy_data_field_invalidate(map);
    use_settings("qpik_extract_kernel", 0, TRUE, 7, -1); /* symmetry auto, the default */
    before = count_channels(data);
    gwy_app_data_browser_select_data_field(data, liy);
    gwy_process_func_run("qpik_extract_kernel", data, GWY_RUN_IMMEDIATE);
    o = direct_options(map, 0, NULL);
    ma = qpik_array_2d(gwy_data_field_get_data(map), QPIK_F64, yres, xres, QPIK_ROW_MAJOR);
    REQUIRE(qpik_extract_map(o, &ma, NULL, &ex) == QPIK_OK);
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    REQUIRE(qpik_extraction_get_info(ex, &info) == QPIK_OK);
    CHECK(info.method == QPIK_METHOD_BLIND && info.excluded_pixels >= 4 * xres);
    check_results(data, liy, before, ex);
    rid = find_channel(data, "QPI residual", "");
    kid = find_channel(data, "QPI kernel", "");
    REQUIRE(rid >= 0 && kid >= 0
            && gwy_container_gis_object(data, gwy_app_get_mask_key_for_id(rid), &mask));
    want = g_new(double, (gsize)xres * yres);
    ea = qpik_array_2d(want, QPIK_F64, yres, xres, QPIK_ROW_MAJOR);
    REQUIRE(qpik_extraction_excluded(ex, &ea) == QPIK_OK);
    for (k = 0; k < xres * yres; k++)
        wrong += want[k] > 0.5 && gwy_data_field_get_data_const(mask)[k] < 0.5;
    CHECK_MSG(wrong == 0 && want[xres * yres - 1] > 0.5, "%d left-out pixels not masked", wrong);
    g_free(want);
    for (k = 0; k < 2; k++) {
        REQUIRE(gwy_container_gis_object(data, gwy_app_get_data_meta_key_for_id(k ? rid : kid),
                                         &meta));
        CHECK(gwy_container_gis_string_by_name(meta, "qpik method", &s)
              && strcmp((const char *)s, "blind") == 0);
    }
    g_snprintf(needle, sizeof needle, "%d x %d px", (gint)info.kernel_size, (gint)info.kernel_size);
    CHECK(gwy_container_gis_string_by_name(meta, "qpik kernel size", &s)
          && strcmp((const char *)s, needle) == 0);
    CHECK(gwy_container_gis_string_by_name(meta, "qpik excluded pixels", &s)
          && g_ascii_strtoll((const char *)s, NULL, 10) == info.excluded_pixels);
    CHECK(gwy_container_gis_string_by_name(meta, "qpik notes", &s)
          && strstr((const char *)s, "constant scan lines"));
    CHECK(gwy_container_gis_string_by_name(meta, "qpik held-out R^2", &s)
          && fabs(g_ascii_strtod((const char *)s, NULL) - info.heldout_r2) < 1e-4);
    /* A blind result carries its structureless control. */
    CHECK_MSG(isfinite(info.control_heldout_r2)
                  && gwy_container_gis_string_by_name(meta, "qpik control R^2 (blobs)", &s)
                  && fabs(g_ascii_strtod((const char *)s, NULL) - info.control_heldout_r2) < 1e-4,
              "control %g not in the metadata", info.control_heldout_r2);
    /* Provenance: the library's version, the fit R^2, the point group and counts as chosen. */
    CHECK(gwy_container_gis_string_by_name(meta, "qpik version", &s)
          && strcmp((const char *)s, qpik_version()) == 0);
    CHECK(gwy_container_gis_string_by_name(meta, "qpik fit R^2", &s)
          && fabs(g_ascii_strtod((const char *)s, NULL) - info.fit_r2) < 1e-4);
    {
        char sym[32] = "";
        REQUIRE(qpik_extraction_symmetry_name(ex, sym, sizeof sym, NULL) == QPIK_OK);
        CHECK_MSG(gwy_container_gis_string_by_name(meta, "qpik symmetry", &s)
                      && g_str_has_prefix((const char *)s, sym),
                  "symmetry metadata does not start with %s", sym);
    }
    g_snprintf(needle, sizeof needle, "%d (", (gint)info.defects);
    CHECK(gwy_container_gis_string_by_name(meta, "qpik defects", &s)
          && g_str_has_prefix((const char *)s, needle));
    g_snprintf(needle, sizeof needle, "types=%d", (gint)info.types);
    CHECK_MSG(logged(data, kid, needle), "the log does not record %s", needle);
    g_snprintf(needle, sizeof needle, "defect_count=%d", (gint)info.defects);
    CHECK_MSG(logged(data, kid, needle), "the log does not record %s", needle);
    CHECK_MSG(logged(data, kid, "heldout_r2="), "the log does not record the held-out R^2");
    CHECK_MSG(logged(data, kid, "qpik_version="), "the log does not record qpik's version");
    g_snprintf(needle, sizeof needle, "kernel_size=%d,", (gint)info.kernel_size);
    CHECK_MSG(logged(data, kid, needle) && !logged(data, kid, "kernel_size=7,"),
              "the log does not record %s", needle);
    qpik_extraction_free(ex);
    qpik_options_free(o);
    gwy_app_data_browser_remove(data);
    g_object_unref(data);
}

/* Noise with a mask of defects: the kernel explains nothing held out; the channels come with
 * a warning (counted) and "qpik warning" metadata. */
static void
case_noise_warns(void)
{
    GwyContainer *data = gwy_container_new(), *meta;
    GwyDataField *noise = gwy_data_field_new(96, 96, 9.6e-9, 9.6e-9, FALSE);
    GwyDataField *mask = gwy_data_field_new_alike(noise, TRUE);
    GRand *rng = g_rand_new_with_seed(5);
    const guchar *s;
    gint k, id, before, w0 = warnings_seen;

    for (k = 0; k < 96 * 96; k++)
        gwy_data_field_get_data(noise)[k] = g_rand_double(rng);
    for (k = 0; k < 25; k++)
        gwy_data_field_area_fill(mask, 8 + 18 * (k % 5), 8 + 18 * (k / 5), 2, 2, 1.0);
    gwy_app_data_browser_add(data);
    id = gwy_app_data_browser_add_data_field(noise, data, FALSE);
    gwy_container_set_object(data, gwy_app_get_mask_key_for_id(id), mask);
    before = count_channels(data);
    use_settings("qpik_extract_kernel", 2, FALSE, 15, -1); /* symmetry auto, the default */
    gwy_app_data_browser_select_data_field(data, id);
    gwy_process_func_run("qpik_extract_kernel", data, GWY_RUN_IMMEDIATE);
    CHECK_MSG(count_channels(data) == before + 4 && warnings_seen == w0 + 1,
              "%d channels added, %d warnings", count_channels(data) - before, warnings_seen - w0);
    id = find_channel(data, "QPI kernel", "");
    CHECK(id >= 0 && gwy_container_gis_object(data, gwy_app_get_data_meta_key_for_id(id), &meta)
          && gwy_container_gis_string_by_name(meta, "qpik warning", &s)
          && strstr((const char *)s, "explains little"));
    g_rand_free(rng);
    gwy_app_data_browser_remove(data);
    g_object_unref(noise);
    g_object_unref(mask);
    g_object_unref(data);
}

/* A channel that is too small, one that is all NaN, one with infinity, a kernel larger
 * than the map: a warning each, no new channel, and the host goes on. */
static void
case_bad_input(void)
{
    GwyContainer *data = gwy_container_new();
    GwyDataField *small = gwy_data_field_new(4, 4, 4e-10, 4e-10, TRUE);
    GwyDataField *nan = gwy_data_field_new(64, 64, 6.4e-9, 6.4e-9, FALSE);
    GwyDataField *inf = gwy_data_field_new(64, 64, 6.4e-9, 6.4e-9, TRUE);
    GwyDataField *mid = gwy_data_field_new(32, 32, 3.2e-9, 3.2e-9, TRUE);
    gint ids[4], k, before, w0;

    gwy_data_field_fill(nan, NAN);
    gwy_data_field_set_val(inf, 3, 3, INFINITY);
    gwy_data_field_set_val(mid, 16, 16, 1.0);
    gwy_app_data_browser_add(data);
    ids[0] = gwy_app_data_browser_add_data_field(small, data, FALSE);
    ids[1] = gwy_app_data_browser_add_data_field(nan, data, FALSE);
    ids[2] = gwy_app_data_browser_add_data_field(inf, data, FALSE);
    ids[3] = gwy_app_data_browser_add_data_field(mid, data, FALSE);
    before = count_channels(data);
    for (k = 0; k < 4; k++) {
        /* Kernel 49 on the 32 x 32 map is too large; the others fail earlier. */
        use_settings("qpik_extract_kernel", 0, k != 3, 49, -1); /* symmetry auto, the default */
        w0 = warnings_seen;
        gwy_app_data_browser_select_data_field(data, ids[k]);
        gwy_process_func_run("qpik_extract_kernel", data, GWY_RUN_IMMEDIATE);
        CHECK_MSG(count_channels(data) == before, "bad input %d added channels", k);
        CHECK_MSG(warnings_seen == w0 + 1, "bad input %d gave %d warnings", k,
                  warnings_seen - w0);
    }
    /* Topography asked for but no channel fits. */
    use_settings("qpik_extract_kernel", 1, TRUE, 49, -1); /* symmetry auto, the default */
    w0 = warnings_seen;
    gwy_app_data_browser_select_data_field(data, ids[3]);
    gwy_process_func_run("qpik_extract_kernel", data, GWY_RUN_IMMEDIATE);
    CHECK(count_channels(data) == before && warnings_seen == w0 + 1);
    gwy_app_data_browser_remove(data);
    g_object_unref(small);
    g_object_unref(nan);
    g_object_unref(inf);
    g_object_unref(mid);
    g_object_unref(data);
}

/* A synthetic dI/dV(E) grid: rings of energy-dependent wavelength at known defects, and a
 * topography channel with a bump at each defect. */
enum { VX = 72, VY = 64, VE = 3, VD = 12 };

static void
case_volume(void)
{
    GwyContainer *data = gwy_container_new();
    GwyBrick *brick = gwy_brick_new(VX, VY, VE, VX * 1e-10, VY * 1e-10, 0.03, TRUE);
    GwyDataField *topo = gwy_data_field_new(VX, VY, VX * 1e-10, VY * 1e-10, TRUE);
    GwyDataField *preview = gwy_data_field_new(VX, VY, VX * 1e-10, VY * 1e-10, TRUE);
    GwyBrick *out;
    double *d = gwy_brick_get_data(brick), *t = gwy_data_field_get_data(topo), *want;
    double rows[VD], cols[VD];
    gint bid, nb, k, i, j, e, s;
    gint *vids;
    qpik_options *o;
    qpik_extraction *ex = NULL;
    qpik_extraction_info info;
    qpik_array ma, a;

    for (k = 0; k < VD; k++) {
        rows[k] = 8 + 16 * (k / 4) + (k % 3);
        cols[k] = 9 + 18 * (k % 4) + (k % 2);
    }
    for (e = 0; e < VE; e++) {
        double wl = 5.0 + 1.5 * e;
        for (i = 0; i < VY; i++) {
            for (j = 0; j < VX; j++) {
                double v = 0.0;
                for (k = 0; k < VD; k++) {
                    double r = hypot(i - rows[k], j - cols[k]);
                    v += cos(2 * G_PI * r / wl) * exp(-r * r / (2 * 3.0 * 3.0));
                    if (e == 0)
                        t[i * VX + j] += 5e-11 * exp(-r * r / (2 * 1.2 * 1.2));
                }
                d[(e * VY + i) * VX + j] = 1e-9 * v;
            }
        }
    }
    gwy_si_unit_set_from_string(gwy_brick_get_si_unit_x(brick), "m");
    gwy_si_unit_set_from_string(gwy_brick_get_si_unit_y(brick), "m");
    gwy_si_unit_set_from_string(gwy_brick_get_si_unit_z(brick), "V");
    gwy_si_unit_set_from_string(gwy_brick_get_si_unit_w(brick), "S");
    gwy_brick_set_zoffset(brick, -0.01);
    gwy_si_unit_set_from_string(gwy_data_field_get_si_unit_xy(topo), "m");
    gwy_si_unit_set_from_string(gwy_data_field_get_si_unit_z(topo), "m");
    gwy_app_data_browser_add(data);
    bid = gwy_app_data_browser_add_brick(brick, preview, data, FALSE);
    gwy_app_data_browser_add_data_field(topo, data, FALSE);

    use_settings("qpik_extract_kernels", 1, FALSE, 21, -1); /* symmetry auto, the default */
    gwy_app_data_browser_select_brick(data, bid);
    gwy_volume_func_run("qpik_extract_kernels", data, GWY_RUN_IMMEDIATE);

    vids = gwy_app_data_browser_get_volume_ids(data);
    for (nb = 0; vids[nb] >= 0; nb++)
        ;
    REQUIRE(nb == 2);
    out = GWY_BRICK(gwy_container_get_object(data, gwy_app_get_brick_key_for_id(vids[0] == bid
                                                                                   ? vids[1]
                                                                                   : vids[0])));
    g_free(vids);

    /* The same by hand. */
    {
        size_t n = 0;
        double pos[2 * 64];
        qpik_array za = qpik_array_2d(t, QPIK_F64, VY, VX, QPIK_ROW_MAJOR), pa;
        qpik_options_new(&o);
        qpik_options_set(o, "map.kernel_size", "21");
        qpik_options_set(o, "map.pixel_size_a", "1"); /* the deprecated Angstrom spelling */
        qpik_options_set(o, "topography.polarity", "bright");
        pa = qpik_array_2d(pos, QPIK_F64, 64, 2, QPIK_ROW_MAJOR);
        REQUIRE(qpik_find_defects(o, &za, &pa, &n) == QPIK_OK);
        CHECK_MSG(n == VD, "%zu defects found in the synthetic topography, want %d", n, VD);
        pa.shape[0] = (int64_t)n;
        ma = qpik_array_3d(d, QPIK_F64, VE, VY, VX, QPIK_ROW_MAJOR);
        REQUIRE(qpik_extract_map(o, &ma, &pa, &ex) == QPIK_OK);
    }
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    REQUIRE(qpik_extraction_get_info(ex, &info) == QPIK_OK);
    s = (gint)info.kernel_size;
    CHECK(s == 21);
    CHECK(gwy_brick_get_xres(out) == s && gwy_brick_get_yres(out) == s
          && gwy_brick_get_zres(out) == VE);
    CHECK(fabs(gwy_brick_get_xreal(out) - s * 1e-10) < 1e-16);
    CHECK(fabs(gwy_brick_get_xoffset(out) + (s / 2 + 0.5) * 1e-10) < 1e-16);
    CHECK(fabs(gwy_brick_get_zreal(out) - 0.03) < 1e-12);
    CHECK(fabs(gwy_brick_get_zoffset(out) + 0.01) < 1e-12);
    CHECK(gwy_si_unit_equal_string(gwy_brick_get_si_unit_w(out), "S"));
    CHECK(gwy_si_unit_equal_string(gwy_brick_get_si_unit_z(out), "V"));
    want = g_new(double, (gsize)VE * s * s);
    a = qpik_array_3d(want, QPIK_F64, VE, s, s, QPIK_ROW_MAJOR);
    REQUIRE(qpik_extraction_kernels(ex, &a) == QPIK_OK);
    CHECK_MSG(rel_diff(gwy_brick_get_data_const(out), want, (size_t)VE * s * s) < 1e-6,
              "volume kernels differ by %g",
              rel_diff(gwy_brick_get_data_const(out), want, (size_t)VE * s * s));
    /* And they are the rings that made the map: at each energy the centre pixel is the
     * largest and one ring wavelength out it is positive again. */
    for (e = 0; e < VE; e++) {
        const double *kk = gwy_brick_get_data_const(out) + (size_t)e * s * s;
        double wl = 5.0 + 1.5 * e, truth[21 * 21], num = 0, da = 0, db = 0;
        for (i = 0; i < s; i++) {
            for (j = 0; j < s; j++) {
                double r = hypot(i - s / 2, j - s / 2);
                truth[i * s + j] = 1e-9 * cos(2 * G_PI * r / wl) * exp(-r * r / 18.0);
                num += truth[i * s + j] * kk[i * s + j];
                da += truth[i * s + j] * truth[i * s + j];
                db += kk[i * s + j] * kk[i * s + j];
            }
        }
        CHECK_MSG(num / sqrt(da * db) > 0.95, "energy %d: correlation with the truth %g", e,
                  num / sqrt(da * db));
    }
    g_free(want);
    qpik_extraction_free(ex);
    qpik_options_free(o);

    /* A NaN-filled grid adds nothing. */
    {
        gint w0 = warnings_seen;
        GwyBrick *bad = gwy_brick_new(VX, VY, VE, VX * 1e-10, VY * 1e-10, 0.03, FALSE);
        gint badid;
        gwy_brick_fill(bad, NAN);
        badid = gwy_app_data_browser_add_brick(bad, preview, data, FALSE);
        use_settings("qpik_extract_kernels", 0, TRUE, 21, -1); /* symmetry auto, the default */
        gwy_app_data_browser_select_brick(data, badid);
        gwy_volume_func_run("qpik_extract_kernels", data, GWY_RUN_IMMEDIATE);
        vids = gwy_app_data_browser_get_volume_ids(data);
        for (nb = 0; vids[nb] >= 0; nb++)
            ;
        g_free(vids);
        CHECK(nb == 3);
        CHECK(warnings_seen == w0 + 1);
        g_object_unref(bad);
    }
    gwy_app_data_browser_remove(data);
    g_object_unref(brick);
    g_object_unref(topo);
    g_object_unref(preview);
    g_object_unref(data);
}

typedef struct {
    const char *name;
    void (*fn)(void);
} Case;

int
main(int argc, char **argv)
{
    static const Case cases[] = {
        { "process_topography_fese", case_topography },
        { "process_blind_fixed_size_symmetry", case_blind_fixed_size_symmetry },
        { "process_mask_grains", case_mask },
        { "process_blind_report", case_blind_report },
        { "process_noise_warns", case_noise_warns },
        { "process_bad_input_adds_nothing", case_bad_input },
        { "volume_kernels_and_nan_grid", case_volume },
    };
    GError *err = NULL;
    int passed = 0, failed = 0;
    size_t c;
    const char *home = g_getenv("HOME");

    if (argc < 4) {
        fprintf(stderr, "usage: %s PROCESS.so VOLUME.so FeSe.sxm [CASE]\n", argv[0]);
        return 2;
    }
    if (!home || !strstr(home, "tmp")) {
        fprintf(stderr, "set HOME to a temporary folder (Gwyddion writes settings there)\n");
        return 2;
    }
    sxm_path = argv[3];
    gwy_app_init_nongui(NULL);
    g_log_set_default_handler(count_warning, NULL);
    g_log_set_handler(NULL, G_LOG_LEVEL_WARNING, count_warning, NULL);
    /* Installed into $HOME/.gwyddion/modules, Gwyddion's start-up has loaded them already. */
    if (gwy_process_func_exists("qpik_extract_kernel"))
        printf("  the modules were loaded from Gwyddion's module folders: %s\n",
               gwy_module_get_filename("qpik_extract"));
    else if (!gwy_module_register_module(argv[1], &err)
             || !gwy_module_register_module(argv[2], &err)) {
        fprintf(stderr, "gwy_module_register_module: %s\n", err ? err->message : "?");
        return 1;
    }
    if (!gwy_process_func_exists("qpik_extract_kernel")
        || !gwy_volume_func_exists("qpik_extract_kernels")) {
        fprintf(stderr, "the modules registered no functions\n");
        return 1;
    }
    for (c = 0; c < G_N_ELEMENTS(cases); c++) {
        if (argc > 4 && strcmp(argv[4], cases[c].name) != 0)
            continue;
        failures_in_case = 0;
        cases[c].fn();
        printf("%s %s\n", failures_in_case ? "FAIL" : "ok  ", cases[c].name);
        fflush(stdout);
        if (failures_in_case)
            failed++;
        else
            passed++;
    }
    printf("gwyddion: %d passed, %d failed\n", passed, failed);
    return (failed || passed == 0) ? 1 : 0;
}
