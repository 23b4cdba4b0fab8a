/*
 * Gwyddion's own Createc loader against qpik's reader, on the same file: the fixture
 * tests/data/createc_synthetic.dat, written by qpik's test writer (src/data/createc_tests.rs),
 * loaded here by the real libgwyddion (gwy_file_load after Gwyddion's non-GUI start-up, which
 * registers its file modules), and tests/data/createc_synthetic.expected, what qpik reads
 * from it (written by the same Rust test, which checks it is current).
 *
 * Checked: the number of frames, their size, the frame size in metres (Gwyddion from
 * Delta X x GainX x Xpiezoconst, qpik from Length x[A]), the units (from Channelselectval:
 * Z in m, current in A, ADC in V, in both), and every value. Gwyddion 2.62 scales every frame
 * by the height step (20 V / 2^bits x GainZ x ZPiezoconst); qpik scales Z the same way
 * (Dacto[A]z x GainZ), the current by the preamplifier gain and the ADC to volts. So for each
 * frame and pixel, qpik's value over its scale and Gwyddion's over the height step must be
 * the same raw step count, and the Z frames must agree in metres. Lines qpik marks
 * unmeasured (NaN, an aborted scan) must be Gwyddion's zeros.
 *
 * Usage: gwy_createc FILE.dat FILE.expected (HOME a temporary folder)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <app/gwyapp.h>
#include <libgwyddion/gwyddion.h>
#include <libgwymodule/gwymodule.h>
#include <libprocess/gwyprocess.h>

#include "gwy_check.h"

int failures_in_case;

static int
close_to(double a, double b, double rel)
{
    return fabs(a - b) <= rel * fmax(fabs(a), fabs(b)) + 1e-300;
}

int
main(int argc, char **argv)
{
    GError *err = NULL;
    FILE *fh;
    int version, rows, cols, frames, k, i, nan_seen = 0;
    double xreal, yreal, zstep;
    const char *home = g_getenv("HOME");

    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE.dat FILE.expected\n", argv[0]);
        return 2;
    }
    if (!home || !strstr(home, "tmp")) {
        fprintf(stderr, "set HOME to a temporary folder (Gwyddion writes settings there)\n");
        return 2;
    }
    fh = fopen(argv[2], "r");
    if (!fh || fscanf(fh, "qpik-createc-expected %d shape %d %d real_m %lf %lf z_m_per_step %lf "
                          "frames %d", &version, &rows, &cols, &xreal, &yreal, &zstep, &frames)
                   != 7
        || version != 1 || rows < 1 || cols < 1 || frames < 1) {
        fprintf(stderr, "%s: not a qpik-createc-expected 1 file\n", argv[2]);
        return 2;
    }

    gwy_app_init_nongui(NULL);
    GwyContainer *data = gwy_file_load(argv[1], GWY_RUN_NONINTERACTIVE, &err);
    if (!data) {
        fprintf(stderr, "gwy_file_load(%s): %s\n", argv[1], err ? err->message : "?");
        return 1;
    }
    CHECK_MSG(!gwy_container_contains(data, gwy_app_get_data_key_for_id(frames)),
              "Gwyddion found more than %d frames", frames);
    for (k = 0; k < frames; k++) {
        char name[64], unit[16], direction[16];
        double scale;
        GQuark key = gwy_app_get_data_key_for_id(k);
        if (fscanf(fh, " frame %63s %15s %15s %lf", name, unit, direction, &scale) != 4) {
            /* A unitless frame has an empty unit: written as two spaces, read as the
             * direction. The fixture names every frame, so this is a damaged file. */
            fprintf(stderr, "%s: frame %d header unreadable\n", argv[2], k);
            return 2;
        }
        if (!gwy_container_contains(data, key)) {
            CHECK_MSG(0, "Gwyddion has no frame %d (%s %s)", k, name, direction);
            break;
        }
        GwyDataField *f = GWY_DATA_FIELD(gwy_container_get_object(data, key));
        CHECK_MSG(gwy_data_field_get_xres(f) == cols && gwy_data_field_get_yres(f) == rows,
                  "frame %d is %d x %d, qpik %d x %d", k, gwy_data_field_get_xres(f),
                  gwy_data_field_get_yres(f), cols, rows);
        if (gwy_data_field_get_xres(f) != cols || gwy_data_field_get_yres(f) != rows)
            break;
        CHECK_MSG(close_to(gwy_data_field_get_xreal(f), xreal, 1e-9)
                      && close_to(gwy_data_field_get_yreal(f), yreal, 1e-9),
                  "frame %d is %g x %g m, qpik %g x %g m", k, gwy_data_field_get_xreal(f),
                  gwy_data_field_get_yreal(f), xreal, yreal);
        gchar *uxy = gwy_si_unit_get_string(gwy_data_field_get_si_unit_xy(f),
                                            GWY_SI_UNIT_FORMAT_PLAIN);
        gchar *uz = gwy_si_unit_get_string(gwy_data_field_get_si_unit_z(f),
                                           GWY_SI_UNIT_FORMAT_PLAIN);
        CHECK_MSG(strcmp(uxy, "m") == 0, "frame %d lateral unit %s", k, uxy);
        CHECK_MSG(strcmp(uz, unit) == 0, "frame %d (%s %s) in %s, qpik %s", k, name, direction,
                  uz, unit);
        g_free(uxy);
        g_free(uz);
        const gdouble *d = gwy_data_field_get_data_const(f);
        int bad = 0;
        for (i = 0; i < rows * cols; i++) {
            double q;
            if (fscanf(fh, "%lf", &q) != 1) {
                fprintf(stderr, "%s: frame %d value %d unreadable\n", argv[2], k, i);
                return 2;
            }
            if (isnan(q)) {
                nan_seen++;
                if (d[i] != 0.0 && bad++ < 3)
                    CHECK_MSG(0, "frame %d pixel %d: qpik NaN (unmeasured), Gwyddion %g", k,
                              i, d[i]);
                continue;
            }
            /* The same raw step count; in metres for the heights. */
            if (!close_to(d[i] / zstep, q / scale, 1e-6) && bad++ < 3)
                CHECK_MSG(0, "frame %d (%s %s) pixel %d: Gwyddion %g m = %g steps, qpik %g %s "
                          "= %g steps", k, name, direction, i, d[i], d[i] / zstep, q, unit,
                          q / scale);
            if (strcmp(name, "Z") == 0 && !close_to(d[i], q, 1e-6) && bad++ < 3)
                CHECK_MSG(0, "frame %d pixel %d: Gwyddion %g m, qpik %g m", k, i, d[i], q);
        }
        if (bad > 3)
            CHECK_MSG(0, "frame %d: %d values differ in all", k, bad);
        printf("  frame %d %s %s: %d x %d, %g x %g m, values agree%s\n", k, name, direction,
               cols, rows, xreal, yreal, bad ? " NOT" : "");
    }
    CHECK_MSG(nan_seen > 0, "the fixture has no unmeasured line: the abort case is untested");
    fclose(fh);
    g_object_unref(data);
    printf("%s createc: Gwyddion and qpik read %s alike\n", failures_in_case ? "FAIL" : "ok  ",
           argv[1]);
    return failures_in_case ? 1 : 0;
}
