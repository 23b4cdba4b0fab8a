/*
 * What the qpik Gwyddion modules share: the dialog's parameters and table, the qpik options
 * they map to, the defect positions from each source, and error reporting.
 *
 * Conventions: Gwyddion stores a channel row-major, row 0 at the top, x along columns; qpik
 * takes the same array as [row, col] without a copy. Lengths are metres in Gwyddion and
 * Angstrom in qpik options. A kernel's impurity is at pixel (S/2, S/2).
 */
#ifndef QPIK_GWY_COMMON_H
#define QPIK_GWY_COMMON_H

#include <gtk/gtk.h>
#include <app/gwyapp.h>
#include <libprocess/gwyprocess.h>

#include "qpik.h"

/* Largest map the modules pass on (pixels of one layer) and largest stack (values): past
 * that, qpik's own memory budget would refuse it anyway, after a long copy. */
#define QPIK_GWY_MAX_PIXELS (1 << 24)
#define QPIK_GWY_MAX_VALUES (1 << 28)

/* Where defect positions come from. Values are saved in settings: never reorder. */
typedef enum {
    QPIK_GWY_DEFECTS_BLIND = 0,      /* qpik finds them in the map itself (NULL defects) */
    QPIK_GWY_DEFECTS_TOPOGRAPHY = 1, /* qpik_find_defects on another channel (the Z channel) */
    QPIK_GWY_DEFECTS_MASK = 2,       /* each grain of a mask is one defect, at its centre */
} QpikGwyDefectSource;

/* Parameter ids of both dialogs. */
enum {
    QPIK_PARAM_DEFECTS,
    QPIK_PARAM_TOPOGRAPHY,
    QPIK_PARAM_POLARITY,
    QPIK_PARAM_MASK_IMAGE,
    QPIK_PARAM_TYPES,
    QPIK_PARAM_KERNEL_AUTO,
    QPIK_PARAM_KERNEL_SIZE,
    QPIK_PARAM_SYMMETRY,
};

/* Settings of `function_name` (saved under /module/<function_name>/ in Gwyddion's settings). */
GwyParamDef *qpik_gwy_define_params(const gchar *function_name);

/* The dialog on `params` for a map of xres x yres pixels (`self`: the map's own channel, or
 * NULL for a volume, kept out of the channel choosers; `note`: what the results are). */
GwyDialogOutcome qpik_gwy_run_dialog(GwyParams *params, const gchar *title, const gchar *note,
                                     GwyDataField *self, gint xres, gint yres);

/* qpik options from the dialog's settings and the map's metadata (`dx_m`: pixel size in
 * metres, or <= 0 when the lateral unit is not metres; `value_unit` may be NULL). NULL with
 * `*error` set (free with g_free) on failure. */
qpik_options *qpik_gwy_options(GwyParams *params, gdouble dx_m, const gchar *value_unit,
                               gchar **error);

/* Defect positions [n, 2] (row, col) for the settings' source: NULL with *n = 0 for blind.
 * `data`/`self_id`: the file and the map's own channel (-1 for a volume); `what` receives a
 * description for the log ("channel Z (Forward): 43 defects"). On failure returns NULL,
 * sets *error and *n = (size_t)-1. */
gdouble *qpik_gwy_positions(GwyParams *params, GwyContainer *data, gint self_id, gint xres,
                            gint yres, const qpik_options *opts, size_t *n, gchar **what,
                            gchar **error);

/* qpik's message for a failed call (`what`: the call). Free with g_free. */
gchar *qpik_gwy_error(const gchar *what, qpik_status status);

/* Tell the user: a message dialog in interactive mode, a warning otherwise. */
void qpik_gwy_report(GwyRunType run, GtkWindow *parent, const gchar *message);

/* Warn the user about a result that was added: a warning dialog in interactive mode, a
 * g_warning otherwise. */
void qpik_gwy_warn(GwyRunType run, GtkWindow *parent, const gchar *message);

/* What the extraction chose, as Gwyddion metadata (GwyContainer of strings, the keys in
 * docs/gwyddion.md): "qpik method", "qpik defects" (the count, and `from`), "qpik kernel
 * size", "qpik types", "qpik symmetry", "qpik held-out R^2", "qpik excluded pixels", "qpik
 * notes", and "qpik warning" when the kernel explains little. A new object (unref it), or
 * NULL with *error set when the notes cannot be read. */
GwyContainer *qpik_gwy_metadata(const qpik_extraction *ex, const qpik_extraction_info *info,
                                const gchar *from, gchar **error);

/* The warning for a kernel that explains under 10 % of the held-out variance, or NULL when
 * it explains more (info->explains_little). Free with g_free. */
gchar *qpik_gwy_explains_little(const qpik_extraction_info *info);

/* The settings actually used, for the log: the dialog's settings with the kernel size, types
 * and symmetry the extraction used in place of the automatic or greyed-out ones, and the
 * method, written under /module/<QPIK_GWY_USED>/<function_name>/ of Gwyddion's settings.
 * Returns the settings name to pass as the log's "settings-name" (free with g_free). */
gchar *qpik_gwy_record_used(GwyParams *params, const gchar *function_name,
                            const qpik_extraction_info *info);

/* An S x S channel of `values` (row-major) in the map's units, pixel size dx x dy, offsets so
 * that the centre of pixel (S/2, S/2) is at (0, 0). */
GwyDataField *qpik_gwy_kernel_field(const gdouble *values, gint s, gdouble dx, gdouble dy,
                                    GwySIUnit *xy_unit, GwySIUnit *z_unit);

/* Whether the loaded libqpik has the C ABI this module was built for; reports when not. */
gboolean qpik_gwy_abi_ok(GwyRunType run, GtkWindow *window);

/* One qpik_extract_map call with the dialog's settings on `map` (a layer or a stack of
 * xres x yres pixels; `self_id`, `dx_m` as for qpik_gwy_positions and qpik_gwy_options,
 * `value_unit`: the map's value unit), in Gwyddion's wait dialog with `message`. Returns the
 * extraction (free with qpik_extraction_free), or NULL: with *error set (free with g_free) on
 * failure, *error NULL when the user cancelled. `*from` receives the defects' description. */
qpik_extraction *qpik_gwy_extract(GwyParams *params, GwyContainer *data, gint self_id,
                                  const qpik_array *map, gint xres, gint yres, gdouble dx_m,
                                  GwySIUnit *value_unit, GtkWindow *window,
                                  const gchar *message, gchar **from, gchar **error);

/* The progress of a qpik call in Gwyddion's wait dialog (only where there is a window). */
typedef struct {
    gboolean shown;
} QpikGwyWait;
void qpik_gwy_wait_start(QpikGwyWait *wait, GtkWindow *window, const gchar *message);
void qpik_gwy_wait_finish(QpikGwyWait *wait);
int32_t qpik_gwy_progress(void *user_data, const char *stage, uint64_t done, uint64_t total,
                          const char *message);

#endif
