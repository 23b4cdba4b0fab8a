/* Helpers of the headless Gwyddion tests (see gwy_support.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gwy_support.h"

int failures_in_case;
const char *sxm_path;
int warnings_seen;

/* The modules' warnings (IMMEDIATE-mode errors) are counted and shown, never fatal. */
void
count_warning(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    (void)domain;
    (void)level;
    (void)data;
    if (strstr(message, "qpik: ")) {
        warnings_seen++;
        fprintf(stderr, "  (module warning) %s\n", message);
    }
}

double
seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Settings the way the dialog saves them: /module/<function>/<param>. */
void
set_setting_int(const char *function, const char *param, gint value)
{
    gchar *key = g_strdup_printf("/module/%s/%s", function, param);
    gwy_container_set_int32_by_name(gwy_app_settings_get(), key, value);
    g_free(key);
}

void
set_setting_bool(const char *function, const char *param, gboolean value)
{
    gchar *key = g_strdup_printf("/module/%s/%s", function, param);
    gwy_container_set_boolean_by_name(gwy_app_settings_get(), key, value);
    g_free(key);
}

void
use_settings(const char *function, gint defects, gboolean kernel_auto, gint kernel_size,
             gint symmetry)
{
    set_setting_int(function, "defects", defects);
    set_setting_bool(function, "kernel_auto", kernel_auto);
    set_setting_int(function, "kernel_size", kernel_size);
    set_setting_int(function, "symmetry", symmetry);
    set_setting_int(function, "types", 1);
    set_setting_int(function, "polarity", 0);
}

/* The channel whose title contains both words (-1 if none). */
gint
find_channel(GwyContainer *data, const char *a, const char *b)
{
    gint *ids = gwy_app_data_browser_get_data_ids(data), i, found = -1;
    for (i = 0; ids[i] >= 0 && found < 0; i++) {
        gchar *t = gwy_app_get_data_field_title(data, ids[i]);
        if (strstr(t, a) && strstr(t, b))
            found = ids[i];
        g_free(t);
    }
    g_free(ids);
    return found;
}

gint
count_channels(GwyContainer *data)
{
    gint *ids = gwy_app_data_browser_get_data_ids(data), n = 0;
    while (ids[n] >= 0)
        n++;
    g_free(ids);
    return n;
}

GwyDataField *
channel(GwyContainer *data, gint id)
{
    return GWY_DATA_FIELD(gwy_container_get_object(data, gwy_app_get_data_key_for_id(id)));
}

GwyContainer *
load_fese(gint *liy, gint *z)
{
    GError *err = NULL;
    GwyContainer *data = gwy_file_load(sxm_path, GWY_RUN_NONINTERACTIVE, &err);
    if (!data) {
        fprintf(stderr, "gwy_file_load(%s): %s\n", sxm_path, err ? err->message : "?");
        g_clear_error(&err);
        return NULL;
    }
    gwy_app_data_browser_add(data);
    *liy = find_channel(data, "LIY", "Forward");
    *z = find_channel(data, "Z", "Forward");
    return data;
}

/* qpik's options as the module sets them for the FeSe map. */
qpik_options *
direct_options(GwyDataField *field, gint kernel_size, const char *symmetry)
{
    qpik_options *o = NULL;
    gchar buf[64];
    qpik_options_new(&o);
    if (kernel_size > 0) {
        g_snprintf(buf, sizeof buf, "%d", kernel_size);
        qpik_options_set(o, "map.kernel_size", buf);
    }
    if (symmetry)
        qpik_options_set(o, "map.symmetry", symmetry);
    qpik_options_set(o, "topography.polarity", "bright");
    g_ascii_formatd(buf, sizeof buf, "%.12g", gwy_data_field_get_dx(field));
    qpik_options_set(o, "map.pixel_size_m", buf);
    return o;
}

/* The largest |a - b| over n values, relative to the largest |b|. */
double
rel_diff(const double *a, const double *b, size_t n)
{
    double d = 0.0, m = 0.0;
    size_t k;
    for (k = 0; k < n; k++) {
        d = fmax(d, fabs(a[k] - b[k]));
        m = fmax(m, fabs(b[k]));
    }
    return m > 0.0 ? d / m : d;
}

/* Whether channel `id` has a log entry naming `function`. */
gboolean
logged(GwyContainer *data, gint id, const char *function)
{
    gchar key[64];
    GwyStringList *log;
    guint k;
    g_snprintf(key, sizeof key, "/%d/data/log", id);
    if (!gwy_container_gis_object_by_name(data, key, &log))
        return FALSE;
    for (k = 0; k < gwy_string_list_get_length(log); k++) {
        if (strstr(gwy_string_list_get(log, k), function))
            return TRUE;
    }
    return FALSE;
}

