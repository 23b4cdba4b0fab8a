/*
 * Shared parts of the qpik Gwyddion modules (see qpik_gwy_common.h).
 */
#include "qpik_gwy_common.h"

#include <math.h>
#include <string.h>

#include <libgwyddion/gwymacros.h>
#include <libgwymodule/gwymodule-process.h>

typedef struct {
    GwyParams *params;
    GwyParamTable *table;
    GwyDataField *self;
    gint xres, yres;
} DialogGUI;

GwyParamDef *
qpik_gwy_define_params(const gchar *function_name)
{
    static const GwyEnum sources[] = {
        { N_("Blind: search the map itself"), QPIK_GWY_DEFECTS_BLIND, },
        { N_("Topography channel"), QPIK_GWY_DEFECTS_TOPOGRAPHY, },
        { N_("Mask (each grain is one defect)"), QPIK_GWY_DEFECTS_MASK, },
    };
    static const GwyEnum polarities[] = {
        { N_("Bright (protrusions)"), 0, },
        { N_("Dark (depressions)"), 1, },
        { N_("Either"), 2, },
    };
    static const GwyEnum types[] = {
        { "1", 1, }, { "2", 2, }, { "3", 3, }, { "4", 4, },
        { "5", 5, }, { "6", 6, }, { "7", 7, }, { "8", 8, },
        { N_("Automatic"), 0, },
    };
    static const GwyEnum symmetries[] = {
        { N_("Automatic (best held-out score)"), -1, },
        { N_("None"), 0, },
        { N_("Isotropic"), 1, },
        { N_("2-fold"), 2, },
        { N_("3-fold"), 3, },
        { N_("4-fold"), 4, },
        { N_("6-fold"), 6, },
    };
    GwyParamDef *def = gwy_param_def_new();

    gwy_param_def_set_function_name(def, function_name);
    gwy_param_def_add_gwyenum(def, QPIK_PARAM_DEFECTS, "defects", _("Defects from"),
                              sources, G_N_ELEMENTS(sources), QPIK_GWY_DEFECTS_BLIND);
    gwy_param_def_add_image_id(def, QPIK_PARAM_TOPOGRAPHY, "topography", _("_Topography"));
    gwy_param_def_add_gwyenum(def, QPIK_PARAM_POLARITY, "polarity", _("Defects _look"),
                              polarities, G_N_ELEMENTS(polarities), 0);
    gwy_param_def_add_image_id(def, QPIK_PARAM_MASK_IMAGE, "mask_image", _("_Mask channel"));
    gwy_param_def_add_gwyenum(def, QPIK_PARAM_TYPES, "types", _("Defect t_ypes"),
                              types, G_N_ELEMENTS(types), 1);
    gwy_param_def_add_boolean(def, QPIK_PARAM_KERNEL_AUTO, "kernel_auto",
                              _("_Automatic kernel size"), TRUE);
    gwy_param_def_add_int(def, QPIK_PARAM_KERNEL_SIZE, "kernel_size", _("_Kernel size"),
                          3, 257, 49);
    gwy_param_def_add_gwyenum(def, QPIK_PARAM_SYMMETRY, "symmetry", _("_Symmetry"),
                              symmetries, G_N_ELEMENTS(symmetries), -1);
    return def;
}

/* A channel of the map's size other than the map itself. */
static gboolean
same_size_filter(GwyContainer *data, gint id, gpointer user_data)
{
    DialogGUI *gui = (DialogGUI *)user_data;
    GwyDataField *field;

    if (!gwy_container_gis_object(data, gwy_app_get_data_key_for_id(id), &field))
        return FALSE;
    return field != gui->self
           && gwy_data_field_get_xres(field) == gui->xres
           && gwy_data_field_get_yres(field) == gui->yres;
}

static void
param_changed(DialogGUI *gui, gint id)
{
    GwyParamTable *table = gui->table;
    gint source = gwy_params_get_enum(gui->params, QPIK_PARAM_DEFECTS);

    if (id < 0 || id == QPIK_PARAM_DEFECTS) {
        gwy_param_table_set_sensitive(table, QPIK_PARAM_TOPOGRAPHY,
                                      source == QPIK_GWY_DEFECTS_TOPOGRAPHY);
        gwy_param_table_set_sensitive(table, QPIK_PARAM_POLARITY,
                                      source == QPIK_GWY_DEFECTS_TOPOGRAPHY);
        gwy_param_table_set_sensitive(table, QPIK_PARAM_MASK_IMAGE,
                                      source == QPIK_GWY_DEFECTS_MASK);
    }
    if (id < 0 || id == QPIK_PARAM_KERNEL_AUTO) {
        gwy_param_table_set_sensitive(table, QPIK_PARAM_KERNEL_SIZE,
                                      !gwy_params_get_boolean(gui->params, QPIK_PARAM_KERNEL_AUTO));
    }
}

GwyDialogOutcome
qpik_gwy_run_dialog(GwyParams *params, const gchar *title, const gchar *note,
                    GwyDataField *self, gint xres, gint yres)
{
    DialogGUI gui;
    GwyDialog *dialog;
    GwyParamTable *table;
    GtkWidget *widget;

    gwy_clear(&gui, 1);
    gui.params = params;
    gui.self = self;
    gui.xres = xres;
    gui.yres = yres;

    widget = gwy_dialog_new(title);
    dialog = GWY_DIALOG(widget);
    gwy_dialog_add_buttons(dialog, GWY_RESPONSE_RESET, GTK_RESPONSE_CANCEL, GTK_RESPONSE_OK, 0);

    table = gui.table = gwy_param_table_new(params);
    gwy_param_table_append_header(table, -1, _("Defects"));
    gwy_param_table_append_radio(table, QPIK_PARAM_DEFECTS);
    gwy_param_table_append_image_id(table, QPIK_PARAM_TOPOGRAPHY);
    gwy_param_table_data_id_set_filter(table, QPIK_PARAM_TOPOGRAPHY, same_size_filter, &gui, NULL);
    gwy_param_table_append_combo(table, QPIK_PARAM_POLARITY);
    gwy_param_table_append_image_id(table, QPIK_PARAM_MASK_IMAGE);
    gwy_param_table_data_id_set_filter(table, QPIK_PARAM_MASK_IMAGE, same_size_filter, &gui, NULL);
    gwy_param_table_append_combo(table, QPIK_PARAM_TYPES);
    gwy_param_table_append_header(table, -1, _("Kernel"));
    gwy_param_table_append_checkbox(table, QPIK_PARAM_KERNEL_AUTO);
    gwy_param_table_append_slider(table, QPIK_PARAM_KERNEL_SIZE);
    gwy_param_table_set_unitstr(table, QPIK_PARAM_KERNEL_SIZE, _("px"));
    gwy_param_table_append_combo(table, QPIK_PARAM_SYMMETRY);
    gwy_param_table_append_message(table, -1, note);

    gwy_dialog_add_content(dialog, gwy_param_table_widget(table), FALSE, FALSE, 0);
    gwy_dialog_add_param_table(dialog, table);
    g_signal_connect_swapped(table, "param-changed", G_CALLBACK(param_changed), &gui);

    return gwy_dialog_run(dialog);
}

/* Set one option; on failure fill *error and return FALSE. */
static gboolean
set_option(qpik_options *opts, const gchar *key, const gchar *value, gchar **error)
{
    qpik_status s = qpik_options_set(opts, key, value);

    if (s == QPIK_OK)
        return TRUE;
    if (s == QPIK_ERR_UNKNOWN_OPTION)
        *error = g_strdup_printf(_("This libqpik (%s) does not know the option %s = %s; "
                                   "update qpik or choose the default."),
                                 qpik_version(), key, value);
    else
        *error = qpik_gwy_error("qpik_options_set", s);
    return FALSE;
}

qpik_options *
qpik_gwy_options(GwyParams *params, gdouble dx_m, const gchar *value_unit, gchar **error)
{
    static const gchar *polarity[] = { "bright", "dark", "auto" };
    qpik_options *opts = NULL;
    gchar buf[64];
    gint types = gwy_params_get_enum(params, QPIK_PARAM_TYPES);
    gint symmetry = gwy_params_get_enum(params, QPIK_PARAM_SYMMETRY);
    gint pol = gwy_params_get_enum(params, QPIK_PARAM_POLARITY);
    qpik_status s;

    if ((s = qpik_options_new(&opts)) != QPIK_OK) {
        *error = qpik_gwy_error("qpik_options_new", s);
        return NULL;
    }
    if (!gwy_params_get_boolean(params, QPIK_PARAM_KERNEL_AUTO)) {
        g_snprintf(buf, sizeof(buf), "%d", gwy_params_get_int(params, QPIK_PARAM_KERNEL_SIZE));
        if (!set_option(opts, "map.kernel_size", buf, error))
            goto fail;
    }
    /* Every choice is passed, the default (auto) included, so "None" means none. */
    if (symmetry < 0)
        g_strlcpy(buf, "auto", sizeof(buf));
    else if (symmetry == 0)
        g_strlcpy(buf, "none", sizeof(buf));
    else
        g_snprintf(buf, sizeof(buf), "%d", symmetry);
    if (!set_option(opts, "map.symmetry", buf, error))
        goto fail;
    /* Only a non-default count is passed, so a library without map.types still runs. */
    if (types != 1) {
        if (types == 0)
            g_strlcpy(buf, "auto", sizeof(buf));
        else
            g_snprintf(buf, sizeof(buf), "%d", types);
        if (!set_option(opts, "map.types", buf, error))
            goto fail;
    }
    if (pol >= 0 && pol < 3 && !set_option(opts, "topography.polarity", polarity[pol], error))
        goto fail;
    if (dx_m > 0.0 && isfinite(dx_m)) {
        g_ascii_formatd(buf, sizeof(buf), "%.12g", dx_m);
        if (!set_option(opts, "map.pixel_size_m", buf, error))
            goto fail;
    }
    /* The unit is metadata only: one qpik refuses (too long, odd characters) is left out. */
    if (value_unit && *value_unit && strlen(value_unit) < 64)
        qpik_options_set(opts, "map.value_unit", value_unit);
    return opts;

fail:
    qpik_options_free(opts);
    return NULL;
}

/* The topography to use when none was chosen (IMMEDIATE mode, or a fresh file): the first
 * other channel of the same size in metres, preferring the map's scan direction. */
static GwyDataField *
guess_topography(GwyContainer *data, gint self_id, gint xres, gint yres, gint *found_id)
{
    gint *ids = gwy_app_data_browser_get_data_ids(data);
    gchar *self_title = (self_id >= 0) ? gwy_app_get_data_field_title(data, self_id)
                                       : g_strdup("");
    const gchar *direction = strstr(self_title, "Backward") ? "Backward" : "Forward";
    GwyDataField *best = NULL;
    gint i, best_score = -1;

    for (i = 0; ids && ids[i] >= 0; i++) {
        GwyDataField *f;
        gchar *title;
        gint score;

        if (ids[i] == self_id
            || !gwy_container_gis_object(data, gwy_app_get_data_key_for_id(ids[i]), &f))
            continue;
        if (gwy_data_field_get_xres(f) != xres || gwy_data_field_get_yres(f) != yres
            || !gwy_si_unit_equal_string(gwy_data_field_get_si_unit_z(f), "m"))
            continue;
        title = gwy_app_get_data_field_title(data, ids[i]);
        score = strstr(title, direction) ? 1 : 0;
        g_free(title);
        if (score > best_score) {
            best = f;
            best_score = score;
            *found_id = ids[i];
        }
    }
    g_free(ids);
    g_free(self_title);
    return best;
}

/* The image chosen for `param`, when it is of the map's size. */
static GwyDataField *
chosen_image(GwyParams *params, gint param, gint xres, gint yres, GwyContainer **where,
             gint *id)
{
    GwyAppDataId did;
    GwyDataField *f;

    if (gwy_params_data_id_is_none(params, param))
        return NULL;
    f = gwy_params_get_image(params, param);
    if (!f || gwy_data_field_get_xres(f) != xres || gwy_data_field_get_yres(f) != yres)
        return NULL;
    did = gwy_params_get_data_id(params, param);
    *where = gwy_app_data_browser_get(did.datano);
    *id = did.id;
    return f;
}

static gdouble *
from_topography(GwyDataField *z, const qpik_options *opts, size_t *n, gchar **error)
{
    gint xres = gwy_data_field_get_xres(z), yres = gwy_data_field_get_yres(z);
    qpik_array a = qpik_array_2d(gwy_data_field_get_data(z), QPIK_F64, yres, xres,
                                 QPIK_ROW_MAJOR);
    qpik_array p;
    gdouble *pos;
    size_t count = 0;
    qpik_status s;

    if ((s = qpik_find_defects(opts, &a, NULL, &count)) != QPIK_OK) {
        *error = qpik_gwy_error("qpik_find_defects", s);
        return NULL;
    }
    if (count == 0) {
        *error = g_strdup(_("No defects were found in the topography channel; choose "
                            "another channel, the other polarity, or blind search."));
        return NULL;
    }
    if (count > (size_t)xres * (size_t)yres) {
        *error = g_strdup_printf("qpik_find_defects reported %zu defects on %d x %d pixels",
                                 count, xres, yres);
        return NULL;
    }
    pos = g_new(gdouble, 2 * count);
    p = qpik_array_2d(pos, QPIK_F64, (int64_t)count, 2, QPIK_ROW_MAJOR);
    if ((s = qpik_find_defects(opts, &a, &p, n)) != QPIK_OK) {
        *error = qpik_gwy_error("qpik_find_defects", s);
        g_free(pos);
        return NULL;
    }
    return pos;
}

/* Each grain (Gwyddion's 4-connected regions) of pixels above 0.5 is one defect, at the
 * grain's centroid (row, col). */
static gdouble *
from_mask(GwyDataField *mask, size_t *n, gchar **error)
{
    gint xres = gwy_data_field_get_xres(mask), yres = gwy_data_field_get_yres(mask);
    GwyDataField *binary = gwy_data_field_new_alike(mask, FALSE);
    const gdouble *m = gwy_data_field_get_data_const(mask);
    gdouble *b = gwy_data_field_get_data(binary), *sums, *pos = NULL;
    gint *grains = g_new0(gint, xres * yres);
    gint i, j, k, ngrains;

    for (k = 0; k < xres * yres; k++)
        b[k] = (m[k] > 0.5) ? 1.0 : 0.0;
    ngrains = gwy_data_field_number_grains(binary, grains);
    if (ngrains <= 0) {
        *error = g_strdup(_("The mask marks no defect (no pixel above 0.5)."));
        goto end;
    }
    if ((gint64)ngrains * 4 > (gint64)xres * yres * 3) {
        *error = g_strdup(_("The mask covers nearly the whole image; mark each defect "
                            "with a small grain."));
        goto end;
    }
    sums = g_new0(gdouble, 3 * (ngrains + 1));
    for (i = 0; i < yres; i++) {
        for (j = 0; j < xres; j++) {
            gint g = grains[i * xres + j];
            if (g > 0 && g <= ngrains) {
                sums[3 * g] += i;
                sums[3 * g + 1] += j;
                sums[3 * g + 2] += 1.0;
            }
        }
    }
    pos = g_new(gdouble, 2 * ngrains);
    for (k = 1; k <= ngrains; k++) {
        pos[2 * (k - 1)] = sums[3 * k] / sums[3 * k + 2];
        pos[2 * (k - 1) + 1] = sums[3 * k + 1] / sums[3 * k + 2];
    }
    g_free(sums);
    *n = (size_t)ngrains;
end:
    g_free(grains);
    g_object_unref(binary);
    return pos;
}

gdouble *
qpik_gwy_positions(GwyParams *params, GwyContainer *data, gint self_id, gint xres, gint yres,
                   const qpik_options *opts, size_t *n, gchar **what, gchar **error)
{
    gint source = gwy_params_get_enum(params, QPIK_PARAM_DEFECTS), id = -1;
    GwyContainer *where = data;
    GwyDataField *f;
    gdouble *pos = NULL;
    gchar *title;

    *n = 0;
    if (source == QPIK_GWY_DEFECTS_TOPOGRAPHY) {
        f = chosen_image(params, QPIK_PARAM_TOPOGRAPHY, xres, yres, &where, &id);
        if (!f) {
            where = data;
            f = guess_topography(data, self_id, xres, yres, &id);
        }
        if (!f) {
            *error = g_strdup_printf(_("Choose a topography channel of the map's size "
                                       "(%d x %d pixels)."), xres, yres);
            *n = (size_t)-1;
            return NULL;
        }
        pos = from_topography(f, opts, n, error);
    }
    else if (source == QPIK_GWY_DEFECTS_MASK) {
        f = chosen_image(params, QPIK_PARAM_MASK_IMAGE, xres, yres, &where, &id);
        /* A chosen channel's own mask, when it has one, else its values. */
        if (f)
            gwy_container_gis_object(where, gwy_app_get_mask_key_for_id(id), &f);
        if (!f && self_id >= 0
            && gwy_container_gis_object(data, gwy_app_get_mask_key_for_id(self_id), &f)) {
            where = data;
            id = self_id;
        }
        if (!f) {
            *error = g_strdup(_("Choose a mask channel, or mark the defects with a mask on "
                                "the map itself."));
            *n = (size_t)-1;
            return NULL;
        }
        pos = from_mask(f, n, error);
    }
    else {
        *what = g_strdup(_("blind search of the map"));
        return NULL;
    }
    if (!pos) {
        *n = (size_t)-1;
        return NULL;
    }
    title = gwy_app_get_data_field_title(where, id);
    *what = g_strdup_printf(_("%s %s: %zu defects"),
                            source == QPIK_GWY_DEFECTS_MASK ? _("mask of") : _("channel"),
                            title, *n);
    g_free(title);
    return pos;
}

gchar *
qpik_gwy_error(const gchar *what, qpik_status status)
{
    return g_strdup_printf(_("qpik could not do it (%s, %s):\n%s"), what,
                           qpik_status_name((int32_t)status), qpik_last_error());
}

/* A message to the user: a dialog of `type` in interactive mode, a g_warning otherwise. */
static void
tell(GwyRunType run, GtkWindow *parent, GtkMessageType type, const gchar *message)
{
    GtkWidget *dialog;

    if (run != GWY_RUN_INTERACTIVE || !gwy_app_data_browser_get_gui_enabled()) {
        g_warning("qpik: %s", message);
        return;
    }
    dialog = gtk_message_dialog_new(parent, GTK_DIALOG_DESTROY_WITH_PARENT, type,
                                    GTK_BUTTONS_OK, "%s", message);
    gtk_window_set_title(GTK_WINDOW(dialog), _("QPI kernel extraction"));
    gtk_dialog_run(GTK_DIALOG(dialog));
    gtk_widget_destroy(dialog);
}

void
qpik_gwy_report(GwyRunType run, GtkWindow *parent, const gchar *message)
{
    tell(run, parent, GTK_MESSAGE_ERROR, message);
}

void
qpik_gwy_warn(GwyRunType run, GtkWindow *parent, const gchar *message)
{
    tell(run, parent, GTK_MESSAGE_WARNING, message);
}

gchar *
qpik_gwy_explains_little(const qpik_extraction_info *info)
{
    if (!info->explains_little)
        return NULL;
    return g_strdup_printf(_("The kernel explains little of the map (held-out R^2 %.3f, under "
                             "0.1): the defect positions may be wrong or the map's "
                             "scatterers may be elsewhere. Treat the kernel with suspicion."),
                           info->heldout_r2);
}

typedef qpik_status (*ExtractionText)(const qpik_extraction *, char *, size_t, size_t *);

/* A string of the extraction (`buf, buf_len, needed` convention; free with g_free), or NULL
 * with *error set. */
static gchar *
text_of(const qpik_extraction *ex, ExtractionText get, const gchar *what, gchar **error)
{
    size_t needed = 0;
    gchar *text;
    qpik_status st = get(ex, NULL, 0, &needed);

    if (st != QPIK_OK && st != QPIK_ERR_BUFFER_TOO_SMALL) {
        *error = qpik_gwy_error(what, st);
        return NULL;
    }
    text = g_malloc(needed ? needed : 1);
    if ((st = get(ex, text, needed ? needed : 1, NULL)) != QPIK_OK) {
        *error = qpik_gwy_error(what, st);
        g_free(text);
        return NULL;
    }
    return text;
}

/* Store a string the container takes over (Gwyddion's strings are guchar). */
static void
put(GwyContainer *meta, const gchar *name, gchar *owned)
{
    gwy_container_set_string_by_name(meta, name, (guchar *)owned);
}

GwyContainer *
qpik_gwy_metadata(const qpik_extraction *ex, const qpik_extraction_info *info,
                  const gchar *from, gchar **error)
{
    GwyContainer *meta;
    gchar *notes = text_of(ex, qpik_extraction_notes, "qpik_extraction_notes", error);
    gchar *warning, *symmetry;

    if (!notes)
        return NULL;
    symmetry = text_of(ex, qpik_extraction_symmetry_name, "qpik_extraction_symmetry_name", error);
    if (!symmetry) {
        g_free(notes);
        return NULL;
    }
    meta = gwy_container_new();
    put(meta, "qpik version", g_strdup(qpik_version()));
    put(meta, "qpik method", g_strdup(info->method == QPIK_METHOD_BLIND ? "blind" : "forward"));
    put(meta, "qpik defects",
        g_strdup_printf("%" G_GINT64_FORMAT " (%s)", info->defects, from ? from : "?"));
    put(meta, "qpik kernel size",
        g_strdup_printf("%" G_GINT64_FORMAT " x %" G_GINT64_FORMAT " px", info->kernel_size,
                        info->kernel_size));
    put(meta, "qpik types", g_strdup_printf("%" G_GINT64_FORMAT, info->types));
    /* The point group as chosen (none, isotropic, 2..6, m, 2mm, 3m, 4mm, 6mm). */
    if (isfinite(info->mirror_axis_deg)) {
        gchar *with = g_strdup_printf("%s, mirror line at %.1f deg", symmetry,
                                      info->mirror_axis_deg);
        g_free(symmetry);
        symmetry = with;
    }
    put(meta, "qpik symmetry", symmetry);
    put(meta, "qpik held-out R^2", g_strdup_printf("%.4f", info->heldout_r2));
    /* A blind result's structureless control: Gaussian blobs on as many defects. */
    if (isfinite(info->control_heldout_r2))
        put(meta, "qpik control R^2 (blobs)", g_strdup_printf("%.4f", info->control_heldout_r2));
    put(meta, "qpik fit R^2", g_strdup_printf("%.4f", info->fit_r2));
    put(meta, "qpik excluded pixels", g_strdup_printf("%" G_GINT64_FORMAT, info->excluded_pixels));
    if (*notes)
        put(meta, "qpik notes", notes);
    else
        g_free(notes);
    if ((warning = qpik_gwy_explains_little(info)))
        put(meta, "qpik warning", warning);
    return meta;
}

/* Settings branch the log reads the settings actually used from. */
#define QPIK_GWY_USED "qpik-used"

static GQuark
used_key(const gchar *prefix, const gchar *name)
{
    gchar *key = g_strconcat(prefix, "/", name, NULL);
    GQuark q = g_quark_from_string(key);

    g_free(key);
    return q;
}

gchar *
qpik_gwy_record_used(GwyParams *params, const gchar *function_name,
                     const qpik_extraction_info *info)
{
    GwyContainer *settings = gwy_app_settings_get();
    gchar *name = g_strconcat(QPIK_GWY_USED "/", function_name, NULL);
    gchar *prefix = g_strconcat("/module/", name, NULL);

    gwy_container_remove_by_prefix(settings, prefix);
    gwy_container_set_int32(settings, used_key(prefix, "defects"),
                            gwy_params_get_enum(params, QPIK_PARAM_DEFECTS));
    gwy_container_set_int32(settings, used_key(prefix, "polarity"),
                            gwy_params_get_enum(params, QPIK_PARAM_POLARITY));
    gwy_container_set_boolean(settings, used_key(prefix, "kernel_auto"),
                              gwy_params_get_boolean(params, QPIK_PARAM_KERNEL_AUTO));
    gwy_container_set_int32(settings, used_key(prefix, "kernel_size"), (gint32)info->kernel_size);
    gwy_container_set_int32(settings, used_key(prefix, "types"), (gint32)info->types);
    gwy_container_set_int32(settings, used_key(prefix, "symmetry"), (gint32)info->symmetry);
    gwy_container_set_int32(settings, used_key(prefix, "defect_count"),
                            (gint32)MIN(info->defects, G_MAXINT32));
    gwy_container_set_double(settings, used_key(prefix, "heldout_r2"), info->heldout_r2);
    gwy_container_set_double(settings, used_key(prefix, "fit_r2"), info->fit_r2);
    gwy_container_set_const_string(settings, used_key(prefix, "qpik_version"),
                                   (const guchar *)qpik_version());
    gwy_container_set_const_string(settings, used_key(prefix, "method"),
                                   (const guchar *)(info->method == QPIK_METHOD_BLIND ? "blind"
                                                                                      : "forward"));
    g_free(prefix);
    return name;
}

GwyDataField *
qpik_gwy_kernel_field(const gdouble *values, gint s, gdouble dx, gdouble dy,
                      GwySIUnit *xy_unit, GwySIUnit *z_unit)
{
    GwyDataField *k = gwy_data_field_new(s, s, s * dx, s * dy, FALSE);

    memcpy(gwy_data_field_get_data(k), values, (gsize)s * s * sizeof(gdouble));
    gwy_data_field_set_xoffset(k, -(s / 2 + 0.5) * dx);
    gwy_data_field_set_yoffset(k, -(s / 2 + 0.5) * dy);
    gwy_serializable_clone(G_OBJECT(xy_unit), G_OBJECT(gwy_data_field_get_si_unit_xy(k)));
    gwy_serializable_clone(G_OBJECT(z_unit), G_OBJECT(gwy_data_field_get_si_unit_z(k)));
    gwy_data_field_invalidate(k);
    return k;
}

void
qpik_gwy_wait_start(QpikGwyWait *wait, GtkWindow *window, const gchar *message)
{
    wait->shown = FALSE;
    if (window && gwy_app_data_browser_get_gui_enabled()) {
        gwy_app_wait_start(window, message);
        wait->shown = TRUE;
    }
}

void
qpik_gwy_wait_finish(QpikGwyWait *wait)
{
    if (wait->shown)
        gwy_app_wait_finish();
    wait->shown = FALSE;
}

int32_t
qpik_gwy_progress(void *user_data, const char *stage, uint64_t done, uint64_t total,
                  const char *message)
{
    QpikGwyWait *wait = (QpikGwyWait *)user_data;

    (void)message;
    if (!wait || !wait->shown)
        return 0;
    if (stage && !gwy_app_wait_set_message(stage))
        return 1;
    return gwy_app_wait_set_fraction(total ? (gdouble)done / (gdouble)total : 0.0) ? 0 : 1;
}

gboolean
qpik_gwy_abi_ok(GwyRunType run, GtkWindow *window)
{
    gchar *error;

    if (qpik_abi_version() == QPIK_ABI_VERSION)
        return TRUE;
    error = g_strdup_printf(_("libqpik %s has C ABI %u but this module was built for %u; "
                              "reinstall the module."), qpik_version(), qpik_abi_version(),
                            QPIK_ABI_VERSION);
    qpik_gwy_report(run, window, error);
    g_free(error);
    return FALSE;
}

qpik_extraction *
qpik_gwy_extract(GwyParams *params, GwyContainer *data, gint self_id, const qpik_array *map,
                 gint xres, gint yres, gdouble dx_m, GwySIUnit *value_unit, GtkWindow *window,
                 const gchar *message, gchar **from, gchar **error)
{
    qpik_options *opts;
    qpik_extraction *ex = NULL;
    qpik_array defects;
    qpik_status st;
    QpikGwyWait wait;
    gdouble *pos;
    gchar *unit;
    size_t n = 0;

    unit = gwy_si_unit_get_string(value_unit, GWY_SI_UNIT_FORMAT_PLAIN);
    opts = qpik_gwy_options(params, dx_m, unit, error);
    g_free(unit);
    if (!opts)
        return NULL;
    pos = qpik_gwy_positions(params, data, self_id, xres, yres, opts, &n, from, error);
    if (!*error) {
        defects = qpik_array_2d(pos, QPIK_F64, (int64_t)n, 2, QPIK_ROW_MAJOR);
        qpik_gwy_wait_start(&wait, window, message);
        st = qpik_extract_map_progress(opts, map, pos ? &defects : NULL, &ex, qpik_gwy_progress,
                                       &wait);
        qpik_gwy_wait_finish(&wait);
        if (st != QPIK_OK && st != QPIK_ERR_CANCELLED)
            *error = qpik_gwy_error("qpik_extract_map", st);
        if (st != QPIK_OK) {
            qpik_extraction_free(ex);
            ex = NULL;
        }
    }
    g_free(pos);
    qpik_options_free(opts);
    return ex;
}
