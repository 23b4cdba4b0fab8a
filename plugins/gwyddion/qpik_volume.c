/*
 * Gwyddion volume module "Volume Data > QPI > Extract Kernels...": the kernels K(E) of a
 * dI/dV(E) grid (a Nanonis .3ds loads as volume data) by one qpik_extract_map call on the
 * whole stack, the defects shared by every energy.
 *
 * The brick's levels are the energies: the result is a volume of S x S kernels, one per
 * level, with the grid's z axis (bias) and value unit, lateral offsets so that (0, 0) is the
 * impurity, the extraction's metadata (qpik_gwy_metadata) and a log entry of the settings
 * actually used; a kernel that explains little is a warning. Defects: blind (from the mean over energies), a topography
 * channel of the same file and lateral size, or a mask channel (each grain one defect).
 */
#include "qpik_gwy_common.h"

#include <math.h>
#include <string.h>

#include <libgwyddion/gwymacros.h>
#include <libgwymodule/gwymodule-volume.h>

#define RUN_MODES (GWY_RUN_INTERACTIVE | GWY_RUN_IMMEDIATE)
#define FUNCTION_NAME "qpik_extract_kernels"

static gboolean module_register(void);
static void extract_kernels(GwyContainer *data, GwyRunType run, const gchar *name);

static GwyModuleInfo module_info = {
    GWY_MODULE_ABI_VERSION,
    &module_register,
    N_("Extracts the quasiparticle-interference kernels K(E) of a dI/dV(E) grid with qpik."),
    "qpik",
    "0.1",
    "qpik authors",
    "2025",
};

GWY_MODULE_QUERY2(module_info, qpik_volume)

static gboolean
module_register(void)
{
    gwy_volume_func_register(FUNCTION_NAME, &extract_kernels, N_("/_QPI/_Extract Kernels..."),
                             NULL, RUN_MODES, GWY_MENU_FLAG_VOLUME,
                             N_("Extract the QPI kernels K(E) of a dI/dV(E) grid (qpik)"));
    return TRUE;
}

static gchar *
check_brick(GwyBrick *brick)
{
    gint xres = gwy_brick_get_xres(brick), yres = gwy_brick_get_yres(brick);
    gint zres = gwy_brick_get_zres(brick);
    const gdouble *d = gwy_brick_get_data_const(brick);
    gint64 k, total = (gint64)xres * yres * zres;

    if (xres < 5 || yres < 5)
        return g_strdup_printf(_("The grid is %d x %d pixels; a kernel needs at least 5 x 5."),
                               xres, yres);
    if ((gint64)xres * yres > QPIK_GWY_MAX_PIXELS || total > QPIK_GWY_MAX_VALUES)
        return g_strdup_printf(_("The grid is %d x %d x %d values, more than this module "
                                 "takes (%d pixels, %d values); crop it first."),
                               xres, yres, zres, QPIK_GWY_MAX_PIXELS, QPIK_GWY_MAX_VALUES);
    for (k = 0; k < total; k++) {
        if (isinf(d[k]))
            return g_strdup(_("The grid holds infinite values; remove them first."));
    }
    return NULL;
}

static gchar *
add_result(GwyContainer *data, gint id, GwyBrick *brick, qpik_extraction *ex, GwyParams *params,
           const gchar *from, qpik_extraction_info *info_out)
{
    qpik_extraction_info info;
    GwyContainer *meta;
    gchar *error = NULL, *used;
    GwyBrick *out;
    GwyDataField *preview;
    GwyDataLine *cal;
    gdouble *kv;
    qpik_array a;
    qpik_status st;
    gint64 s, e, k;
    gint newid;
    gdouble dx = gwy_brick_get_dx(brick), dy = gwy_brick_get_dy(brick);

    memset(&info, 0, sizeof(info));
    info.struct_size = sizeof(info);
    if ((st = qpik_extraction_get_info(ex, &info)) != QPIK_OK)
        return qpik_gwy_error("qpik_extraction_get_info", st);
    s = info.kernel_size;
    e = info.energies;
    if (s < 3 || s > 1025 || e != gwy_brick_get_zres(brick) || info.types != 1)
        return g_strdup_printf("qpik returned an unexpected result: kernel %" G_GINT64_FORMAT
                               ", energies %" G_GINT64_FORMAT ", types %" G_GINT64_FORMAT,
                               s, e, info.types);
    if (!(meta = qpik_gwy_metadata(ex, &info, from, &error)))
        return error;
    out = gwy_brick_new((gint)s, (gint)s, (gint)e, s * dx, s * dy, gwy_brick_get_zreal(brick),
                        FALSE);
    kv = gwy_brick_get_data(out);
    /* The brick's layout, level by level, is qpik's [E, S, S]. */
    a = qpik_array_3d(kv, QPIK_F64, e, s, s, QPIK_ROW_MAJOR);
    if ((st = qpik_extraction_kernels(ex, &a)) != QPIK_OK)
        error = qpik_gwy_error("qpik_extraction_kernels", st);
    for (k = 0; !error && k < e * s * s; k++) {
        if (!isfinite(kv[k]))
            error = g_strdup(_("qpik returned a kernel with non-finite values."));
    }
    if (error) {
        g_object_unref(out);
        g_object_unref(meta);
        return error;
    }
    gwy_brick_set_xoffset(out, -(s / 2 + 0.5) * dx);
    gwy_brick_set_yoffset(out, -(s / 2 + 0.5) * dy);
    gwy_brick_set_zoffset(out, gwy_brick_get_zoffset(brick));
    gwy_serializable_clone(G_OBJECT(gwy_brick_get_si_unit_x(brick)),
                           G_OBJECT(gwy_brick_get_si_unit_x(out)));
    gwy_serializable_clone(G_OBJECT(gwy_brick_get_si_unit_y(brick)),
                           G_OBJECT(gwy_brick_get_si_unit_y(out)));
    gwy_serializable_clone(G_OBJECT(gwy_brick_get_si_unit_z(brick)),
                           G_OBJECT(gwy_brick_get_si_unit_z(out)));
    gwy_serializable_clone(G_OBJECT(gwy_brick_get_si_unit_w(brick)),
                           G_OBJECT(gwy_brick_get_si_unit_w(out)));
    if ((cal = gwy_brick_get_zcalibration(brick)))
        gwy_brick_set_zcalibration(out, cal);
    gwy_brick_data_changed(out);

    preview = gwy_data_field_new((gint)s, (gint)s, s * dx, s * dy, FALSE);
    gwy_brick_extract_xy_plane(out, preview, (gint)(e / 2));
    gwy_data_field_set_xoffset(preview, gwy_brick_get_xoffset(out));
    gwy_data_field_set_yoffset(preview, gwy_brick_get_yoffset(out));
    newid = gwy_app_data_browser_add_brick(out, preview, data, TRUE);
    gwy_app_set_brick_title(data, newid, _("QPI kernels K(E)"));
    gwy_container_set_object(data, gwy_app_get_brick_meta_key_for_id(newid), meta);
    used = qpik_gwy_record_used(params, FUNCTION_NAME, &info);
    gwy_app_volume_log_add(data, id, newid, "volume::" FUNCTION_NAME, "settings-name", used, NULL);
    g_free(used);
    g_object_unref(meta);
    g_object_unref(preview);
    g_object_unref(out);
    *info_out = info;
    return NULL;
}

static void
extract_kernels(GwyContainer *data, GwyRunType run, const gchar *name)
{
    GwyBrick *brick = NULL;
    GwyParams *params;
    GwyDialogOutcome outcome;
    GtkWindow *window;
    qpik_extraction *ex = NULL;
    qpik_extraction_info info;
    qpik_array map;
    gchar *error = NULL, *from = NULL, *warning = NULL;
    gint id = -1, xres, yres, zres;

    (void)name;
    g_return_if_fail(run & RUN_MODES);
    gwy_app_data_browser_get_current(GWY_APP_BRICK, &brick, GWY_APP_BRICK_ID, &id, 0);
    g_return_if_fail(GWY_IS_BRICK(brick));
    window = gwy_app_find_window_for_volume(data, id);
    if (!qpik_gwy_abi_ok(run, window))
        return;
    xres = gwy_brick_get_xres(brick);
    yres = gwy_brick_get_yres(brick);
    zres = gwy_brick_get_zres(brick);

    params = gwy_params_new_from_settings(qpik_gwy_define_params(FUNCTION_NAME));
    if (run == GWY_RUN_INTERACTIVE) {
        outcome = qpik_gwy_run_dialog(params, _("Extract QPI Kernels K(E)"),
                                      _("The kernels, one per energy, come back as a new "
                                        "volume."),
                                      NULL, xres, yres);
        gwy_params_save_to_settings(params);
        if (outcome == GWY_DIALOG_CANCEL)
            goto end;
    }
    if ((error = check_brick(brick)))
        goto end;
    if (gwy_params_get_enum(params, QPIK_PARAM_TYPES) != 1) {
        error = g_strdup(_("Several defect types are extracted from single maps (Data "
                           "Process > QPI); this module takes one type."));
        goto end;
    }
    map = qpik_array_3d(gwy_brick_get_data(brick), QPIK_F64, zres, yres, xres, QPIK_ROW_MAJOR);
    ex = qpik_gwy_extract(params, data, -1, &map, xres, yres,
                          gwy_si_unit_equal_string(gwy_brick_get_si_unit_x(brick), "m")
                              ? gwy_brick_get_dx(brick) : -1.0,
                          gwy_brick_get_si_unit_w(brick), window,
                          _("Extracting the QPI kernels..."), &from, &error);
    if (!ex)
        goto end;
    if (!(error = add_result(data, id, brick, ex, params, from, &info)))
        warning = qpik_gwy_explains_little(&info);

end:
    if (error)
        qpik_gwy_report(run, window, error);
    if (warning)
        qpik_gwy_warn(run, window, warning);
    g_free(warning);
    g_free(error);
    g_free(from);
    qpik_extraction_free(ex);
    g_object_unref(params);
}
