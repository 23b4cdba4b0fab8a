/*
 * Gwyddion process module "Data Process > QPI > Extract Kernel...": the QPI kernel of the
 * current channel (a dI/dV map) by qpik's map engine, one qpik_extract_map call.
 *
 * Results, each a new channel with a log entry: the kernel of each defect type (in the map's
 * unit, its real-space size, offsets so that (0, 0) is the impurity), the residual (map minus
 * model), the defects used (1 at the pixel nearest each refined position) and the kernel's
 * Fourier amplitude |FFT K| (centred, reciprocal units). The residual's mask marks the pixels
 * the blind search left out and the missing ones. Every channel carries the extraction's
 * metadata (method, defects, kernel size, types, symmetry, held-out R^2, excluded pixels,
 * notes) and a log entry of the settings actually used (the kernel size qpik chose, not the
 * dialog's greyed-out one). Errors go to a message dialog (interactive) or a warning
 * (immediate); nothing is added then. A kernel that explains under 10 % of the held-out
 * variance is added with a warning (dialog, g_warning, and "qpik warning" metadata).
 */
#include "qpik_gwy_common.h"

#include <math.h>
#include <string.h>

#include <libgwyddion/gwymacros.h>
#include <libgwymodule/gwymodule-process.h>

#define RUN_MODES (GWY_RUN_INTERACTIVE | GWY_RUN_IMMEDIATE)
#define FUNCTION_NAME "qpik_extract_kernel"

static gboolean module_register(void);
static void extract_kernel(GwyContainer *data, GwyRunType run, const gchar *name);

static GwyModuleInfo module_info = {
    GWY_MODULE_ABI_VERSION,
    &module_register,
    N_("Extracts the quasiparticle-interference kernel of a dI/dV map with qpik."),
    "qpik",
    "0.1",
    "qpik authors",
    "2025",
};

GWY_MODULE_QUERY2(module_info, qpik_extract)

static gboolean
module_register(void)
{
    gwy_process_func_register(FUNCTION_NAME, &extract_kernel, N_("/_QPI/_Extract Kernel..."),
                              NULL, RUN_MODES, GWY_MENU_FLAG_DATA,
                              N_("Extract the QPI kernel of a dI/dV map (qpik)"));
    return TRUE;
}

/* What every new channel carries: the extraction's metadata, and the name of the settings
 * actually used (qpik_gwy_record_used) for its log entry. */
typedef struct {
    GwyContainer *meta;
    gchar *used;
} Provenance;

/* Add `field` as a channel titled `title`, with a copy of the metadata and a log entry of
 * the settings used; returns its id. */
static gint
publish(GwyContainer *data, gint id, GwyDataField *field, const gchar *title,
        const Provenance *how)
{
    gint newid = gwy_app_data_browser_add_data_field(field, data, TRUE);
    GwyContainer *meta = gwy_container_duplicate(how->meta);

    gwy_app_set_data_field_title(data, newid, title);
    gwy_container_set_object(data, gwy_app_get_data_meta_key_for_id(newid), meta);
    g_object_unref(meta);
    gwy_app_channel_log_add(data, id, newid, "proc::" FUNCTION_NAME, "settings-name", how->used,
                            NULL);
    return newid;
}

/* |FFT K| (Gwyddion's raw FFT: scaled by 1/sqrt(S^2)), centred (zero frequency at pixel
 * (S/2, S/2)), in reciprocal lateral units. */
static GwyDataField *
fourier_amplitude(GwyDataField *kernel)
{
    GwyDataField *re = gwy_data_field_new_alike(kernel, FALSE);
    GwyDataField *im = gwy_data_field_new_alike(kernel, FALSE);
    gdouble *r, *i, dx, dy;
    gint k, xres, yres, n = gwy_data_field_get_xres(kernel) * gwy_data_field_get_yres(kernel);

    gwy_data_field_2dfft_raw(kernel, NULL, re, im, GWY_TRANSFORM_DIRECTION_FORWARD);
    r = gwy_data_field_get_data(re);
    i = gwy_data_field_get_data(im);
    for (k = 0; k < n; k++)
        r[k] = sqrt(r[k] * r[k] + i[k] * i[k]);
    gwy_data_field_invalidate(re);
    gwy_data_field_2dfft_humanize(re);
    /* Spatial frequency 1/length (no 2 pi), zero at the centre of pixel (S/2, S/2). */
    xres = gwy_data_field_get_xres(re);
    yres = gwy_data_field_get_yres(re);
    dx = gwy_data_field_get_dx(kernel);
    dy = gwy_data_field_get_dy(kernel);
    gwy_data_field_set_xreal(re, 1.0 / dx);
    gwy_data_field_set_yreal(re, 1.0 / dy);
    gwy_data_field_set_xoffset(re, -(xres / 2 + 0.5) / (xres * dx));
    gwy_data_field_set_yoffset(re, -(yres / 2 + 0.5) / (yres * dy));
    gwy_si_unit_power(gwy_data_field_get_si_unit_xy(kernel), -1, gwy_data_field_get_si_unit_xy(re));
    g_object_unref(im);
    return re;
}

/* Check the map before handing it over: its size, and that it is not all NaN/infinite. */
static gchar *
check_map(GwyDataField *field)
{
    gint xres = gwy_data_field_get_xres(field), yres = gwy_data_field_get_yres(field);
    const gdouble *d = gwy_data_field_get_data_const(field);
    gint k, finite = 0;

    if (xres < 5 || yres < 5)
        return g_strdup_printf(_("The channel is %d x %d pixels; a kernel needs a map of at "
                                 "least 5 x 5."), xres, yres);
    if ((gint64)xres * yres > QPIK_GWY_MAX_PIXELS)
        return g_strdup_printf(_("The channel is %d x %d pixels, more than the %d this module "
                                 "takes; crop or scale it down."), xres, yres,
                               QPIK_GWY_MAX_PIXELS);
    for (k = 0; k < xres * yres; k++) {
        if (isinf(d[k]))
            return g_strdup(_("The channel holds infinite values; remove them first."));
        finite += isfinite(d[k]) ? 1 : 0;
    }
    if (finite < 9)
        return g_strdup(_("The channel holds no measured values (NaN)."));
    return NULL;
}

static void
add_results(GwyContainer *data, gint id, GwyDataField *field, qpik_extraction *ex,
            const qpik_extraction_info *info, const Provenance *how, gchar **error)
{
    gint xres = gwy_data_field_get_xres(field), yres = gwy_data_field_get_yres(field);
    gint64 s = info->kernel_size, t = info->types, n = info->defects;
    gdouble dx = gwy_data_field_get_dx(field), dy = gwy_data_field_get_dy(field);
    GwySIUnit *xy = gwy_data_field_get_si_unit_xy(field), *z = gwy_data_field_get_si_unit_z(field);
    GwyDataField *residual = NULL, *defects = NULL, *left_out = NULL;
    GwyDataField **kernels = NULL;
    gdouble *kv = NULL, *pos = NULL, *rv;
    qpik_array a;
    qpik_status st;
    gint64 k;
    gint i, j;

    if (s < 3 || s > 1025 || t < 1 || t > 64 || n < 1 || n > (gint64)xres * yres
        || info->rows != yres || info->cols != xres || info->energies != 1) {
        *error = g_strdup_printf("qpik returned an unexpected result: kernel %" G_GINT64_FORMAT
                                 ", types %" G_GINT64_FORMAT ", defects %" G_GINT64_FORMAT,
                                 s, t, n);
        return;
    }
    /* Everything is fetched before anything is published: all or nothing. */
    kv = g_new(gdouble, t * s * s);
    a = qpik_array_2d(kv, QPIK_F64, s, s, QPIK_ROW_MAJOR);
    a.ndim = 4;
    a.shape[0] = t;
    a.shape[1] = 1;
    a.shape[2] = s;
    a.shape[3] = s;
    a.strides[0] = s * s;
    a.strides[1] = s * s;
    a.strides[2] = s;
    a.strides[3] = 1;
    a.len = (uint64_t)(t * s * s);
    if ((st = qpik_extraction_kernels(ex, &a)) != QPIK_OK) {
        *error = qpik_gwy_error("qpik_extraction_kernels", st);
        goto end;
    }
    residual = gwy_data_field_new_alike(field, FALSE);
    rv = gwy_data_field_get_data(residual);
    a = qpik_array_2d(rv, QPIK_F64, yres, xres, QPIK_ROW_MAJOR);
    if ((st = qpik_extraction_residual(ex, &a)) != QPIK_OK) {
        *error = qpik_gwy_error("qpik_extraction_residual", st);
        goto end;
    }
    pos = g_new(gdouble, 2 * n);
    a = qpik_array_2d(pos, QPIK_F64, n, 2, QPIK_ROW_MAJOR);
    if ((st = qpik_extraction_positions(ex, &a)) != QPIK_OK) {
        *error = qpik_gwy_error("qpik_extraction_positions", st);
        goto end;
    }
    for (k = 0; k < t * s * s; k++) {
        if (!isfinite(kv[k])) {
            *error = g_strdup(_("qpik returned a kernel with non-finite values."));
            goto end;
        }
    }
    /* The residual's mask: the pixels the blind search left out, and the missing ones (NaN;
     * Gwyddion channels hold no NaN, so they become 0 under the mask). */
    left_out = gwy_data_field_new_alike(field, TRUE);
    gwy_si_unit_set_from_string(gwy_data_field_get_si_unit_z(left_out), NULL);
    a = qpik_array_2d(gwy_data_field_get_data(left_out), QPIK_F64, yres, xres, QPIK_ROW_MAJOR);
    if ((st = qpik_extraction_excluded(ex, &a)) != QPIK_OK) {
        *error = qpik_gwy_error("qpik_extraction_excluded", st);
        goto end;
    }
    for (k = 0; k < (gint64)xres * yres; k++) {
        if (!isfinite(rv[k])) {
            rv[k] = 0.0;
            gwy_data_field_get_data(left_out)[k] = 1.0;
        }
    }
    gwy_data_field_invalidate(left_out);
    gwy_data_field_invalidate(residual);
    defects = gwy_data_field_new_alike(field, TRUE);
    gwy_si_unit_set_from_string(gwy_data_field_get_si_unit_z(defects), NULL);
    for (k = 0; k < n; k++) {
        i = (gint)floor(pos[2 * k] + 0.5);
        j = (gint)floor(pos[2 * k + 1] + 0.5);
        if (i >= 0 && i < yres && j >= 0 && j < xres)
            gwy_data_field_set_val(defects, j, i, 1.0);
    }
    kernels = g_new0(GwyDataField *, t);
    for (k = 0; k < t; k++)
        kernels[k] = qpik_gwy_kernel_field(kv + k * s * s, (gint)s, dx, dy, xy, z);

    for (k = 0; k < t; k++) {
        gchar *title = (t == 1) ? g_strdup(_("QPI kernel"))
                                : g_strdup_printf(_("QPI kernel, type %d"), (gint)k + 1);
        publish(data, id, kernels[k], title, how);
        g_free(title);
    }
    i = publish(data, id, residual, _("QPI residual"), how);
    if (gwy_data_field_get_max(left_out) > 0.5)
        gwy_container_set_object(data, gwy_app_get_mask_key_for_id(i), left_out);
    publish(data, id, defects, _("QPI defects"), how);
    for (k = 0; k < t; k++) {
        GwyDataField *amp = fourier_amplitude(kernels[k]);
        gchar *title = (t == 1) ? g_strdup(_("QPI kernel |FFT|"))
                                : g_strdup_printf(_("QPI kernel |FFT|, type %d"), (gint)k + 1);
        publish(data, id, amp, title, how);
        g_free(title);
        g_object_unref(amp);
    }

end:
    if (kernels) {
        for (k = 0; k < t; k++)
            GWY_OBJECT_UNREF(kernels[k]);
        g_free(kernels);
    }
    GWY_OBJECT_UNREF(residual);
    GWY_OBJECT_UNREF(defects);
    GWY_OBJECT_UNREF(left_out);
    g_free(kv);
    g_free(pos);
}

static void
extract_kernel(GwyContainer *data, GwyRunType run, const gchar *name)
{
    GwyDataField *field = NULL;
    GwyParams *params;
    GwyDialogOutcome outcome;
    GtkWindow *window;
    qpik_extraction *ex = NULL;
    qpik_extraction_info info;
    qpik_array map;
    qpik_status st;
    Provenance how = { NULL, NULL };
    gchar *error = NULL, *from = NULL, *warning = NULL;
    gint id = -1, xres, yres;

    (void)name;
    g_return_if_fail(run & RUN_MODES);
    gwy_app_data_browser_get_current(GWY_APP_DATA_FIELD, &field, GWY_APP_DATA_FIELD_ID, &id, 0);
    g_return_if_fail(GWY_IS_DATA_FIELD(field));
    window = gwy_app_find_window_for_channel(data, id);
    if (!qpik_gwy_abi_ok(run, window))
        return;
    xres = gwy_data_field_get_xres(field);
    yres = gwy_data_field_get_yres(field);

    params = gwy_params_new_from_settings(qpik_gwy_define_params(FUNCTION_NAME));
    if (run == GWY_RUN_INTERACTIVE) {
        outcome = qpik_gwy_run_dialog(params, _("Extract QPI Kernel"),
                                      _("The kernel, residual, defects and Fourier amplitude "
                                        "come back as new channels."),
                                      field, xres, yres);
        gwy_params_save_to_settings(params);
        if (outcome == GWY_DIALOG_CANCEL)
            goto end;
    }
    if ((error = check_map(field)))
        goto end;
    map = qpik_array_2d(gwy_data_field_get_data(field), QPIK_F64, yres, xres, QPIK_ROW_MAJOR);
    ex = qpik_gwy_extract(params, data, id, &map, xres, yres,
                          gwy_si_unit_equal_string(gwy_data_field_get_si_unit_xy(field), "m")
                              ? gwy_data_field_get_dx(field) : -1.0,
                          gwy_data_field_get_si_unit_z(field), window,
                          _("Extracting the QPI kernel..."), &from, &error);
    if (!ex)
        goto end;
    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    if ((st = qpik_extraction_get_info(ex, &info)) != QPIK_OK) {
        error = qpik_gwy_error("qpik_extraction_get_info", st);
        goto end;
    }
    if (!(how.meta = qpik_gwy_metadata(ex, &info, from, &error)))
        goto end;
    how.used = qpik_gwy_record_used(params, FUNCTION_NAME, &info);
    add_results(data, id, field, ex, &info, &how, &error);
    if (!error)
        warning = qpik_gwy_explains_little(&info);

end:
    if (error)
        qpik_gwy_report(run, window, error);
    if (warning)
        qpik_gwy_warn(run, window, warning);
    g_free(warning);
    GWY_OBJECT_UNREF(how.meta);
    g_free(how.used);
    g_free(error);
    g_free(from);
    qpik_extraction_free(ex);
    g_object_unref(params);
}
