/*
 * Shared helpers of the qpik MEX gateways (qpik_extract, qpik_simulate): errors with
 * identifiers `qpik:<STATUS>` raised only after the gateway's handles are freed, name-value
 * parsing, qpik option setting, and the qpik_array descriptors of MATLAB's column-major
 * arrays (no copies).
 *
 * Conventions on the MATLAB side: images are `H x W` (row, column) as MATLAB shows them,
 * stacks `H x W x E`; positions, types and pixel indices are 1-based (qpik's are 0-based:
 * the gateways add or subtract 1); lengths in metres; energies in eV.
 */
#ifndef QPIK_MEX_H
#define QPIK_MEX_H

#include "mex.h"
#include "qpik.h"

#include <stddef.h>

/* Called before every error is raised and at mexAtExit: frees what the gateway holds. */
typedef void (*qm_release_fn)(void);

/* First thing in mexFunction: remembers `on_error` (what an error frees), registers
 * `at_exit` with mexAtExit (what persists across calls, too), locks the
 * MEX file in memory (libqpik's worker threads live as long as the process, so the code they
 * park in must not be unloaded by `clear`), and refuses a libqpik of another ABI. */
void qm_begin(qm_release_fn on_error, qm_release_fn at_exit);

/* Free the gateway's handles, then raise `qpik:<status_name>` with the message. Never returns. */
void qm_fail(const char *status_name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((noreturn, format(printf, 2, 3)))
#endif
    ;

/* After a qpik call: on failure, raise `qpik:<STATUS>` with qpik_last_error(). */
void qm_check(qpik_status status);

/* A qpik_progress_fn for long calls: returns nonzero (cancel) once the user pressed Ctrl-C.
 * qpik calls it on this thread at every step and at least every 0.2 s, so a MEX call stops
 * within about a second. MATLAB: the undocumented but long-stable utIsInterruptPending of
 * libut; GNU Octave: its interrupt flag octave_interrupt_state (liboctave). Both are looked
 * up at run time (dlsym), so the MEX file links against neither; where neither is found the
 * callback never cancels. */
int32_t qm_progress(void *user_data, const char *stage, uint64_t done, uint64_t total,
                    const char *message);

/* Case-insensitive comparison of a char array with `name`. */
int qm_is(const mxArray *a, const char *name);

/* A char row vector's text (mxMalloc'd; freed by MATLAB if an error is raised). `what`
 * names the argument in errors. */
char *qm_string(const mxArray *a, const char *what);

/* A real finite numeric or logical scalar. */
double qm_scalar(const mxArray *a, const char *what);

/* qpik_options_set with a text value, or with the value of a MATLAB argument (a char array
 * as is; a numeric scalar as %.17g times `scale`; a logical scalar as true/false; a numeric
 * vector as comma-separated %.17g). */
void qm_set(qpik_options *opts, const char *key, const char *value);
void qm_set_arg(qpik_options *opts, const char *key, const mxArray *value, double scale,
                const char *what);

/* 'Options', {key, value, ...}: raw qpik option keys (see qpik_options_describe). */
void qm_set_raw(qpik_options *opts, const mxArray *cell);

/* The qpik dtype of a real double or single array (raises qpik:QPIK_ERR_DTYPE otherwise). */
uint32_t qm_float_dtype(const mxArray *a, const char *what);

/* A descriptor of MATLAB's `H x W` (2-D) or `H x W x E` (3-D, seen by qpik as [E, H, W])
 * column-major array, without copying. */
qpik_array qm_image_array(const mxArray *a, uint32_t dtype);

/* A descriptor of a qpik result of shape [d0, ..., dn-1] (row-major in qpik's words) laid
 * out in a MATLAB array of size [dn-2, dn-1, dn-3, ..., d0]: images as H x W, then the
 * leading dimensions reversed (so [T, E, S, S] fills S x S x E x T). */
qpik_array qm_result_array(void *data, uint32_t dtype, int ndim, const int64_t *shape);

#endif
