/*
 * What the headless Gwyddion tests share (gwy_headless.c): the check macros, the case's
 * failure count, and helpers to load the FeSe scan, set a module's saved settings, find the
 * channels a module added and compare numbers. Definitions in gwy_support.c.
 */
#ifndef QPIK_GWY_SUPPORT_H
#define QPIK_GWY_SUPPORT_H

#include <stddef.h>

#include <app/gwyapp.h>
#include <libgwyddion/gwyddion.h>
#include <libgwymodule/gwymodule.h>
#include <libprocess/gwyprocess.h>

#include "gwy_check.h"
#include "qpik.h"

/* The path of the FeSe scan; module warnings seen. */
extern const char *sxm_path;
extern int warnings_seen;

/* The modules' warnings (IMMEDIATE-mode errors) are counted and shown, never fatal. */
void count_warning(const gchar *domain, GLogLevelFlags level, const gchar *message,
                   gpointer data);
/* Monotonic seconds. */
double seconds(void);
/* Settings the way the dialog saves them: /module/<function>/<param>. */
void set_setting_int(const char *function, const char *param, gint value);
void set_setting_bool(const char *function, const char *param, gboolean value);
void use_settings(const char *function, gint defects, gboolean kernel_auto, gint kernel_size,
                  gint symmetry);
/* The channel whose title contains both words (-1 if none). */
gint find_channel(GwyContainer *data, const char *a, const char *b);
gint count_channels(GwyContainer *data);
GwyDataField *channel(GwyContainer *data, gint id);
/* The FeSe scan loaded by Gwyddion's Nanonis module and added to the data browser, with
 * the ids of its LIY and Z forward channels. */
GwyContainer *load_fese(gint *liy, gint *z);
/* qpik's options as the module sets them for the FeSe map. */
qpik_options *direct_options(GwyDataField *field, gint kernel_size, const char *symmetry);
/* The largest |a - b| over n values, relative to the largest |b|. */
double rel_diff(const double *a, const double *b, size_t n);
/* Whether channel `id` has a log entry naming `function`. */
gboolean logged(GwyContainer *data, gint id, const char *function);

#endif
