/* The toolkit-free core of qpik's Igor XOP (see qpik_igor_core.h for the conventions). */
#include "qpik_igor_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_err(char *err, size_t len, const char *fmt, ...) {
    va_list ap;
    if (err == NULL || len == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
}

int qpik_igor_wave_ndims(const qpik_igor_wave *w) {
    int n = 0;
    for (int i = 0; i < QPIK_IGOR_MAX_DIMS; i++) {
        if (w->dims[i] > 0) {
            n = i + 1;
        }
    }
    return n;
}

size_t qpik_igor_type_size(int type) {
    switch (type) {
    case QPIK_IGOR_NT_FP32:
        return 4;
    case QPIK_IGOR_NT_FP64:
        return 8;
    case QPIK_IGOR_NT_I8:
    case QPIK_IGOR_NT_I8 | QPIK_IGOR_NT_UNSIGNED:
        return 1;
    case QPIK_IGOR_NT_I16:
    case QPIK_IGOR_NT_I16 | QPIK_IGOR_NT_UNSIGNED:
        return 2;
    case QPIK_IGOR_NT_I32:
    case QPIK_IGOR_NT_I32 | QPIK_IGOR_NT_UNSIGNED:
        return 4;
    case QPIK_IGOR_NT_I64:
    case QPIK_IGOR_NT_I64 | QPIK_IGOR_NT_UNSIGNED:
        return 8;
    default:
        return 0;
    }
}

/* Point i of a real wave as double. */
static double point(const void *data, int type, int64_t i) {
    switch (type) {
    case QPIK_IGOR_NT_FP32:
        return ((const float *)data)[i];
    case QPIK_IGOR_NT_FP64:
        return ((const double *)data)[i];
    case QPIK_IGOR_NT_I8:
        return ((const int8_t *)data)[i];
    case QPIK_IGOR_NT_I8 | QPIK_IGOR_NT_UNSIGNED:
        return ((const uint8_t *)data)[i];
    case QPIK_IGOR_NT_I16:
        return ((const int16_t *)data)[i];
    case QPIK_IGOR_NT_I16 | QPIK_IGOR_NT_UNSIGNED:
        return ((const uint16_t *)data)[i];
    case QPIK_IGOR_NT_I32:
        return ((const int32_t *)data)[i];
    case QPIK_IGOR_NT_I32 | QPIK_IGOR_NT_UNSIGNED:
        return ((const uint32_t *)data)[i];
    case QPIK_IGOR_NT_I64:
        return (double)((const int64_t *)data)[i];
    default:
        return (double)((const uint64_t *)data)[i];
    }
}

/* Points of a wave, or -1 when a dimension is negative or the count exceeds the limit. */
static int64_t points(const qpik_igor_wave *w, int ndims) {
    int64_t n = 1;
    for (int i = 0; i < ndims; i++) {
        if (w->dims[i] < 1 || w->dims[i] > QPIK_IGOR_MAX_POINTS) {
            return -1;
        }
        n *= w->dims[i];
        if (n > QPIK_IGOR_MAX_POINTS) {
            return -1;
        }
    }
    return n;
}

/* A qpik_array over the wave's memory with the given logical shape and strides (elements);
 * integer waves are first copied to double (same layout). */
static qpik_igor_error describe(const qpik_igor_wave *w, int64_t n, int ndim, const int64_t *shape,
                                const int64_t *strides, int mask_u8_ok, qpik_igor_array *out,
                                char *err, size_t err_len) {
    memset(out, 0, sizeof(*out));
    const void *data = w->data;
    uint32_t dtype;
    if (w->type == QPIK_IGOR_NT_FP32) {
        dtype = QPIK_F32;
    } else if (w->type == QPIK_IGOR_NT_FP64) {
        dtype = QPIK_F64;
    } else if (mask_u8_ok && w->type == (QPIK_IGOR_NT_I8 | QPIK_IGOR_NT_UNSIGNED)) {
        dtype = QPIK_U8;
    } else {
        double *copy = malloc((size_t)n * sizeof(double));
        if (copy == NULL) {
            set_err(err, err_len, "out of memory converting %lld points to double", (long long)n);
            return QPIK_IGOR_ERR_NO_MEMORY;
        }
        for (int64_t i = 0; i < n; i++) {
            copy[i] = point(w->data, w->type, i);
        }
        out->scratch = copy;
        data = copy;
        dtype = QPIK_F64;
    }
    out->array.data = (void *)data;
    out->array.len = (uint64_t)n;
    out->array.dtype = dtype;
    out->array.ndim = (uint32_t)ndim;
    for (int i = 0; i < ndim; i++) {
        out->array.shape[i] = shape[i];
        out->array.strides[i] = strides[i];
    }
    return QPIK_IGOR_OK;
}

static qpik_igor_error check_wave(const qpik_igor_wave *w, const char *what, char *err,
                                  size_t err_len) {
    if (w == NULL || w->data == NULL) {
        set_err(err, err_len, "the %s wave is missing", what);
        return QPIK_IGOR_ERR_WAVE_DIMS;
    }
    if (qpik_igor_type_size(w->type) == 0) {
        set_err(err, err_len,
                "the %s wave has number type %#x: give a real numeric wave (complex and text "
                "waves are refused)",
                what, (unsigned)w->type);
        return QPIK_IGOR_ERR_WAVE_TYPE;
    }
    return QPIK_IGOR_OK;
}

qpik_igor_error qpik_igor_map_array(const qpik_igor_wave *map, qpik_igor_array *out, char *err,
                                    size_t err_len) {
    memset(out, 0, sizeof(*out));
    qpik_igor_error e = check_wave(map, "map", err, err_len);
    if (e != QPIK_IGOR_OK) {
        return e;
    }
    int nd = qpik_igor_wave_ndims(map);
    if (nd != 2 && nd != 3) {
        set_err(err, err_len,
                "the map wave has %d dimensions: give a 2-D image or a 3-D stack with the "
                "energies as layers",
                nd);
        return QPIK_IGOR_ERR_WAVE_DIMS;
    }
    int64_t n = points(map, nd);
    if (n < 0) {
        set_err(err, err_len, "the map wave has more than %lld points",
                (long long)QPIK_IGOR_MAX_POINTS);
        return QPIK_IGOR_ERR_TOO_LARGE;
    }
    int64_t p = map->dims[0], q = map->dims[1];
    if (nd == 2) {
        const int64_t shape[2] = {p, q}, strides[2] = {1, p};
        return describe(map, n, 2, shape, strides, 0, out, err, err_len);
    }
    const int64_t shape[3] = {map->dims[2], p, q}, strides[3] = {p * q, 1, p};
    return describe(map, n, 3, shape, strides, 0, out, err, err_len);
}

qpik_igor_error qpik_igor_defects_array(const qpik_igor_wave *defects, const qpik_igor_wave *map,
                                        qpik_igor_array *out, char *err, size_t err_len) {
    memset(out, 0, sizeof(*out));
    qpik_igor_error e = check_wave(defects, "defects", err, err_len);
    if (e != QPIK_IGOR_OK) {
        return e;
    }
    int nd = qpik_igor_wave_ndims(defects);
    int64_t n = points(defects, nd);
    if (n < 0) {
        set_err(err, err_len, "the defects wave has more than %lld points",
                (long long)QPIK_IGOR_MAX_POINTS);
        return QPIK_IGOR_ERR_TOO_LARGE;
    }
    int64_t p = defects->dims[0], q = defects->dims[1];
    if (nd == 2 && p == map->dims[0] && q == map->dims[1]) {
        const int64_t shape[2] = {p, q}, strides[2] = {1, p};
        return describe(defects, n, 2, shape, strides, 1, out, err, err_len);
    }
    if (nd == 2 && q == 2) {
        const int64_t shape[2] = {p, 2}, strides[2] = {1, p};
        return describe(defects, n, 2, shape, strides, 0, out, err, err_len);
    }
    set_err(err, err_len,
            "the defects wave is %lld x %lld: give a mask of the map's %lld x %lld points or "
            "positions [N][2] of (p, q) points",
            (long long)p, (long long)q, (long long)map->dims[0], (long long)map->dims[1]);
    return QPIK_IGOR_ERR_WAVE_DIMS;
}

void qpik_igor_array_free(qpik_igor_array *a) {
    if (a != NULL) {
        free(a->scratch);
        a->scratch = NULL;
    }
}

int qpik_igor_result_dims(const qpik_extraction_info *info, qpik_igor_result which,
                          int64_t dims[QPIK_IGOR_MAX_DIMS]) {
    int64_t t = info->types, e = info->energies, s = info->kernel_size, n = info->defects;
    memset(dims, 0, sizeof(int64_t) * QPIK_IGOR_MAX_DIMS);
    switch (which) {
    case QPIK_IGOR_KERNELS:
    case QPIK_IGOR_KERNEL_STD:
        dims[0] = s;
        dims[1] = s;
        if (t == 1 && e == 1) {
            return 2;
        }
        dims[2] = e;
        if (t == 1) {
            return 3;
        }
        dims[3] = t;
        return 4;
    case QPIK_IGOR_POSITIONS:
        dims[0] = n;
        dims[1] = 2;
        return 2;
    case QPIK_IGOR_AMPLITUDES:
        dims[0] = n;
        dims[1] = e;
        return 2;
    case QPIK_IGOR_TYPES:
        dims[0] = n;
        return 1;
    case QPIK_IGOR_RESIDUAL:
        dims[0] = info->rows;
        dims[1] = info->cols;
        if (e == 1) {
            return 2;
        }
        dims[2] = e;
        return 3;
    case QPIK_IGOR_HELDOUT_R2:
    default:
        dims[0] = e;
        return 1;
    }
}

qpik_igor_error qpik_igor_result_array(const qpik_extraction_info *info, qpik_igor_result which,
                                       void *wave_data, int type, qpik_array *out) {
    int64_t dims[QPIK_IGOR_MAX_DIMS];
    int nd = qpik_igor_result_dims(info, which, dims);
    memset(out, 0, sizeof(*out));
    if (type != QPIK_IGOR_NT_FP32 && type != QPIK_IGOR_NT_FP64) {
        return QPIK_IGOR_ERR_WAVE_TYPE;
    }
    int64_t len = 1;
    for (int i = 0; i < nd; i++) {
        len *= dims[i];
    }
    out->data = wave_data;
    out->len = (uint64_t)len;
    out->dtype = type == QPIK_IGOR_NT_FP32 ? QPIK_F32 : QPIK_F64;
    out->ndim = (uint32_t)nd;
    /* qpik's order is the Igor order with the image axes last and the types first:
     * kernels [T, E, S, S] <- [i][j][e][t]; residual [E, H, W] <- [p][q][e]; 2-D results
     * [N, k] <- [n][k] as they are. Column-major strides of the Igor dims: */
    int64_t st[QPIK_IGOR_MAX_DIMS] = {1, dims[0], dims[0] * dims[1], dims[0] * dims[1] * dims[2]};
    if (nd <= 2 && which != QPIK_IGOR_KERNELS && which != QPIK_IGOR_KERNEL_STD &&
        which != QPIK_IGOR_RESIDUAL) {
        for (int i = 0; i < nd; i++) {
            out->shape[i] = dims[i];
            out->strides[i] = st[i];
        }
        return QPIK_IGOR_OK;
    }
    /* Image axes (rows, cols) are Igor dims 0 and 1; the outer ones come first in qpik. */
    int k = 0;
    for (int i = nd - 1; i >= 2; i--, k++) {
        out->shape[k] = dims[i];
        out->strides[k] = st[i];
    }
    out->shape[k] = dims[0];
    out->strides[k] = st[0];
    out->shape[k + 1] = dims[1];
    out->strides[k + 1] = st[1];
    return QPIK_IGOR_OK;
}

qpik_status qpik_igor_fill_result(const qpik_extraction *ex, const qpik_extraction_info *info,
                                  qpik_igor_result which, void *wave_data, int type) {
    qpik_array a;
    if (qpik_igor_result_array(info, which, wave_data, type, &a) != QPIK_IGOR_OK) {
        return QPIK_ERR_DTYPE;
    }
    switch (which) {
    case QPIK_IGOR_KERNELS:
        return qpik_extraction_kernels(ex, &a);
    case QPIK_IGOR_KERNEL_STD:
        return qpik_extraction_kernel_std(ex, &a);
    case QPIK_IGOR_POSITIONS:
        return qpik_extraction_positions(ex, &a);
    case QPIK_IGOR_AMPLITUDES:
        return qpik_extraction_amplitudes(ex, &a);
    case QPIK_IGOR_TYPES:
        return qpik_extraction_types(ex, &a);
    case QPIK_IGOR_RESIDUAL:
        return qpik_extraction_residual(ex, &a);
    case QPIK_IGOR_HELDOUT_R2:
        return qpik_extraction_heldout_r2(ex, &a);
    }
    return QPIK_ERR_INVALID_ARGUMENT;
}

double qpik_igor_kernel_offset(int64_t kernel_size, double delta) {
    return -(double)(kernel_size / 2) * delta;
}

static qpik_status status_of(qpik_igor_error e) {
    switch (e) {
    case QPIK_IGOR_OK:
        return QPIK_OK;
    case QPIK_IGOR_ERR_WAVE_TYPE:
        return QPIK_ERR_DTYPE;
    case QPIK_IGOR_ERR_WAVE_DIMS:
        return QPIK_ERR_SHAPE;
    default:
        return QPIK_ERR_INVALID_ARGUMENT;
    }
}

qpik_status qpik_igor_extract(const qpik_options *opts, const qpik_igor_wave *map,
                              const qpik_igor_wave *defects_or_null, qpik_extraction **out,
                              char *err, size_t err_len) {
    qpik_igor_array m, d;
    memset(&d, 0, sizeof(d));
    qpik_igor_error e = qpik_igor_map_array(map, &m, err, err_len);
    if (e != QPIK_IGOR_OK) {
        return status_of(e);
    }
    if (defects_or_null != NULL) {
        e = qpik_igor_defects_array(defects_or_null, map, &d, err, err_len);
        if (e != QPIK_IGOR_OK) {
            qpik_igor_array_free(&m);
            return status_of(e);
        }
    }
    qpik_status st = qpik_extract_map(opts, &m.array, defects_or_null ? &d.array : NULL, out);
    if (st != QPIK_OK) {
        set_err(err, err_len, "%s", qpik_last_error());
    }
    qpik_igor_array_free(&m);
    qpik_igor_array_free(&d);
    return st;
}

/* Index = qpik status (fixed values, never reordered). */
static const char *const templates[] = {
    "",
    "qpik: a required argument was NULL (a bug in the XOP)",
    "qpik: invalid argument",
    "qpik: wrong wave shape",
    "qpik: wrong wave number type (give a real numeric wave)",
    "qpik: the wave holds infinity",
    "qpik: unknown option",
    "qpik: bad option value",
    "qpik: buffer too small (a bug in the XOP)",
    "qpik: file could not be read or written",
    "qpik: not a qpik file",
    "qpik: not found",
    "qpik: not available in this build",
    "qpik: cancelled",
    "qpik: internal error (please report it)",
};

int qpik_igor_error_count(void) { return (int)(sizeof(templates) / sizeof(templates[0])) - 1; }

int qpik_igor_error_code(qpik_status status) {
    if (status == QPIK_OK) {
        return 0;
    }
    int s = (int)status;
    if (s < 1 || s > qpik_igor_error_count()) {
        s = (int)QPIK_ERR_INTERNAL;
    }
    return QPIK_IGOR_FIRST_XOP_ERR + s;
}

const char *qpik_igor_error_template(int code) {
    int s = code - QPIK_IGOR_FIRST_XOP_ERR;
    if (s < 1 || s > qpik_igor_error_count()) {
        return NULL;
    }
    return templates[s];
}

void qpik_igor_format_error(qpik_status status, const char *detail, char *buf, size_t buf_len) {
    if (buf == NULL || buf_len == 0) {
        return;
    }
    const char *t = qpik_igor_error_template(qpik_igor_error_code(status));
    if (t == NULL) {
        snprintf(buf, buf_len, "qpik: no error");
        return;
    }
    if (detail != NULL && detail[0] != '\0') {
        snprintf(buf, buf_len, "%s: %s", t, detail);
    } else {
        snprintf(buf, buf_len, "%s", t);
    }
}
