/* Shared helpers of the qpik MEX gateways; see qpik_mex.h. */
#include "qpik_mex.h"

#include <ctype.h>
#include <stdbool.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#include <signal.h>
#endif

static qm_release_fn qm_release_now;
static int qm_locked;

static void qm_release(void) {
    if (qm_release_now) {
        qm_release_now();
    }
}

void qm_begin(qm_release_fn on_error, qm_release_fn at_exit) {
    qm_release_now = on_error;
    if (!qm_locked) {
        mexAtExit(at_exit);
        mexLock();
        qm_locked = 1;
    }
    if (qpik_abi_version() != QPIK_ABI_VERSION) {
        qm_fail("QPIK_ERR_UNAVAILABLE",
                "this MEX file was built for qpik ABI %d but libqpik has ABI %u; rebuild it",
                QPIK_ABI_VERSION, (unsigned)qpik_abi_version());
    }
}

void qm_fail(const char *status_name, const char *fmt, ...) {
    char msg[2048], id[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(id, sizeof id, "qpik:%s", status_name);
    qm_release();
    mexErrMsgIdAndTxt(id, "%s", msg);
    abort(); /* not reached: mexErrMsgIdAndTxt returns to the prompt */
}

void qm_check(qpik_status status) {
    char msg[2048];
    if (status == QPIK_OK) {
        return;
    }
    /* Copied first: the message belongs to libqpik's thread-local slot. */
    snprintf(msg, sizeof msg, "%s", qpik_last_error());
    qm_fail(qpik_status_name((int32_t)status), "%s", msg);
}

/* Whether the host has a Ctrl-C pending (see qm_progress in qpik_mex.h). */
static int interrupt_pending(void) {
#if defined(__unix__) || defined(__APPLE__)
    typedef bool (*pending_fn)(void);
    static int looked_up;
    static pending_fn matlab;
    static volatile sig_atomic_t *octave;
    if (!looked_up) {
        matlab = (pending_fn)dlsym(RTLD_DEFAULT, "utIsInterruptPending");
        octave = (volatile sig_atomic_t *)dlsym(RTLD_DEFAULT, "octave_interrupt_state");
        looked_up = 1;
    }
    if (matlab != NULL) {
        return matlab() ? 1 : 0;
    }
    if (octave != NULL) {
        return *octave > 0;
    }
#endif
    return 0;
}

int32_t qm_progress(void *user_data, const char *stage, uint64_t done, uint64_t total,
                    const char *message) {
    (void)user_data;
    (void)stage;
    (void)done;
    (void)total;
    (void)message;
    return interrupt_pending();
}

int qm_is(const mxArray *a, const char *name) {
    char buf[64];
    size_t i;
    if (!mxIsChar(a) || mxGetString(a, buf, sizeof buf) != 0) {
        return 0;
    }
    for (i = 0; buf[i] && name[i]; i++) {
        if (tolower((unsigned char)buf[i]) != tolower((unsigned char)name[i])) {
            return 0;
        }
    }
    return buf[i] == 0 && name[i] == 0;
}

char *qm_string(const mxArray *a, const char *what) {
    char *s;
    if (!mxIsChar(a) || (mxGetM(a) > 1 && mxGetNumberOfElements(a) > 0)) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT", "%s must be text (a char row vector)", what);
    }
    s = mxArrayToString(a);
    if (!s) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT", "%s could not be read as text", what);
    }
    return s;
}

double qm_scalar(const mxArray *a, const char *what) {
    double v;
    if (!(mxIsNumeric(a) || mxIsLogical(a)) || mxIsComplex(a) || mxIsSparse(a) ||
        mxGetNumberOfElements(a) != 1) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT", "%s must be a real number (a scalar)", what);
    }
    v = mxGetScalar(a);
    if (!isfinite(v)) {
        qm_fail("QPIK_ERR_NOT_FINITE", "%s is %g; it must be finite", what, v);
    }
    return v;
}

void qm_set(qpik_options *opts, const char *key, const char *value) {
    qm_check(qpik_options_set(opts, key, value));
}

void qm_set_arg(qpik_options *opts, const char *key, const mxArray *value, double scale,
                const char *what) {
    char buf[64];
    if (mxIsChar(value)) {
        char *s = qm_string(value, what);
        qm_set(opts, key, s);
        mxFree(s);
    } else if (mxIsLogical(value) && mxGetNumberOfElements(value) == 1) {
        qm_set(opts, key, mxIsLogicalScalarTrue(value) ? "true" : "false");
    } else if (mxGetNumberOfElements(value) == 1) {
        snprintf(buf, sizeof buf, "%.17g", qm_scalar(value, what) * scale);
        qm_set(opts, key, buf);
    } else if (mxIsDouble(value) && !mxIsComplex(value) && !mxIsSparse(value) &&
               mxGetNumberOfElements(value) > 1 && mxGetNumberOfElements(value) <= 4096) {
        /* A vector: comma-separated (energies). */
        size_t n = mxGetNumberOfElements(value), i, used = 0;
        const double *v = (const double *)mxGetData(value);
        char *text = mxMalloc(n * 26 + 1);
        text[0] = 0;
        for (i = 0; i < n; i++) {
            used += (size_t)snprintf(text + used, 27, i ? ",%.17g" : "%.17g", v[i] * scale);
        }
        qm_set(opts, key, text);
        mxFree(text);
    } else {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT",
                "%s must be text, a number or a vector of at most 4096 doubles", what);
    }
}

void qm_set_raw(qpik_options *opts, const mxArray *cell) {
    size_t n, i;
    if (!mxIsCell(cell) || mxGetNumberOfElements(cell) % 2 != 0) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT",
                "'Options' must be a cell array of qpik option keys and values, "
                "{'map.background', 'constant', ...}");
    }
    n = mxGetNumberOfElements(cell);
    for (i = 0; i < n; i += 2) {
        const mxArray *k = mxGetCell(cell, i), *v = mxGetCell(cell, i + 1);
        char *key;
        if (!k || !v) {
            qm_fail("QPIK_ERR_INVALID_ARGUMENT", "'Options' entry %u is empty", (unsigned)i + 1);
        }
        key = qm_string(k, "an 'Options' key");
        qm_set_arg(opts, key, v, 1.0, key);
        mxFree(key);
    }
}

uint32_t qm_float_dtype(const mxArray *a, const char *what) {
    if (mxIsComplex(a) || mxIsSparse(a) || !(mxIsDouble(a) || mxIsSingle(a))) {
        qm_fail("QPIK_ERR_DTYPE", "%s is %s%s; pass a real double or single array", what,
                mxIsSparse(a) ? "sparse " : (mxIsComplex(a) ? "complex " : ""),
                mxGetClassName(a));
    }
    return mxIsDouble(a) ? QPIK_F64 : QPIK_F32;
}

qpik_array qm_image_array(const mxArray *a, uint32_t dtype) {
    const mwSize *d = mxGetDimensions(a);
    mwSize nd = mxGetNumberOfDimensions(a);
    void *data = mxGetData(a);
    if (nd == 2) {
        return qpik_array_2d(data, dtype, (int64_t)d[0], (int64_t)d[1], QPIK_COL_MAJOR);
    }
    return qpik_array_3d(data, dtype, (int64_t)d[2], (int64_t)d[0], (int64_t)d[1],
                         QPIK_COL_MAJOR);
}

qpik_array qm_result_array(void *data, uint32_t dtype, int ndim, const int64_t *shape) {
    qpik_array a;
    int64_t step;
    int k;
    memset(&a, 0, sizeof a);
    a.data = data;
    a.dtype = dtype;
    a.ndim = (uint32_t)ndim;
    a.len = 1;
    for (k = 0; k < ndim; k++) {
        a.shape[k] = shape[k];
        a.len *= (uint64_t)shape[k];
    }
    if (ndim == 1) {
        a.strides[0] = 1;
        return a;
    }
    /* Rows fastest, then columns, then the leading dimensions from the last to the first. */
    a.strides[ndim - 2] = 1;
    a.strides[ndim - 1] = shape[ndim - 2];
    step = shape[ndim - 2] * shape[ndim - 1];
    for (k = ndim - 3; k >= 0; k--) {
        a.strides[k] = step;
        step *= shape[k];
    }
    return a;
}
