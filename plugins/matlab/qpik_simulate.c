/*
 * qpik_simulate: catalog kernels, kernels from TOML specs and synthetic observations from
 * MATLAB and GNU Octave (qpik_kernel_new, qpik_observation_new). Help text: qpik_simulate.m.
 *
 *   names = qpik_simulate('catalog')
 *   toml  = qpik_simulate('spec', name)
 *   [K, info] = qpik_simulate('kernel', name, Name, Value, ...)       % or 'Spec', toml
 *   [Y, info] = qpik_simulate('observation', name, Name, Value, ...)
 *
 * The last kernel simulated is kept (kernels take up to a second; a loop of observations of
 * one kernel reuses it) and freed at mexAtExit.
 */
#include "qpik_mex.h"

#include <stdio.h>
#include <string.h>

/* Held across calls: the last kernel and what made it. */
static qpik_kernel *g_kernel;
static char *g_kernel_key; /* malloc'd: name or spec, then the grid options */
/* Held during one call. */
static qpik_options *g_kopts, *g_oopts;
static qpik_observation *g_obs;

static void release_call(void) {
    qpik_observation_free(g_obs);
    g_obs = NULL;
    qpik_options_free(g_kopts);
    g_kopts = NULL;
    qpik_options_free(g_oopts);
    g_oopts = NULL;
}

/* On an error the call's handles go; the cached kernel stays valid. At exit everything goes. */
static void release_all(void) {
    release_call();
    qpik_kernel_free(g_kernel);
    g_kernel = NULL;
    free(g_kernel_key);
    g_kernel_key = NULL;
}

static void release_on_error(void) { release_call(); }

static mxArray *catalog(void) {
    size_t n = 0, i, needed = 0;
    mxArray *c;
    char buf[256];
    qm_check(qpik_catalog_count(&n));
    c = mxCreateCellMatrix((mwSize)n, 1);
    for (i = 0; i < n; i++) {
        qm_check(qpik_catalog_name(i, buf, sizeof buf, &needed));
        mxSetCell(c, (mwIndex)i, mxCreateString(buf));
    }
    return c;
}

static mxArray *spec(const mxArray *name_arg) {
    char *name = qm_string(name_arg, "the kernel name"), *buf;
    size_t needed = 0;
    mxArray *out;
    qpik_status st = qpik_catalog_spec(name, NULL, 0, &needed);
    if (st != QPIK_ERR_BUFFER_TOO_SMALL) {
        qm_check(st);
    }
    buf = mxMalloc(needed);
    qm_check(qpik_catalog_spec(name, buf, needed, &needed));
    out = mxCreateString(buf);
    mxFree(buf);
    mxFree(name);
    return out;
}

/* The value of a kernel option as qpik reads it, appended to the cache key. */
static void key_append(char **key, size_t *len, const char *what) {
    char buf[128];
    size_t needed = 0, n;
    qm_check(qpik_options_get(g_kopts, what, buf, sizeof buf, &needed));
    n = strlen(buf);
    *key = mxRealloc(*key, *len + n + 2);
    memcpy(*key + *len, buf, n);
    (*key)[*len + n] = '\n';
    *len += n + 1;
    (*key)[*len] = 0;
}

/* The kernel for `name` or `toml` with g_kopts: the cached one when nothing changed. */
static qpik_kernel *kernel_for(const char *name, const char *toml) {
    const char *src = name ? name : toml;
    size_t len = strlen(src) + 2;
    char *key = mxMalloc(len + 1), *copy;
    snprintf(key, len + 1, "%c%s\n", name ? 'n' : 's', src);
    key_append(&key, &len, "size");
    key_append(&key, &len, "pixel_size_m");
    key_append(&key, &len, "rotation_deg");
    if (g_kernel && g_kernel_key && strcmp(key, g_kernel_key) == 0) {
        mxFree(key);
        return g_kernel;
    }
    qpik_kernel_free(g_kernel);
    g_kernel = NULL;
    free(g_kernel_key);
    g_kernel_key = NULL;
    qm_check(qpik_kernel_new(name, toml, g_kopts, &g_kernel));
    copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, key, len + 1);
        g_kernel_key = copy;
    }
    mxFree(key);
    return g_kernel;
}

static void add(mxArray *s, const char *name, mxArray *v) {
    mxSetFieldByNumber(s, 0, mxAddField(s, name), v);
}

static mxArray *kernel_image(const qpik_kernel *k, mxArray **info) {
    qpik_kernel_info in;
    mxArray *img, *st;
    qpik_array d;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    qm_check(qpik_kernel_get_info(k, &in));
    img = mxCreateDoubleMatrix((mwSize)in.rows, (mwSize)in.cols, mxREAL);
    d = qpik_array_2d(mxGetData(img), QPIK_F64, in.rows, in.cols, QPIK_COL_MAJOR);
    qm_check(qpik_kernel_image(k, &d));
    if (info) {
        double c[2];
        st = mxCreateStructMatrix(1, 1, 0, NULL);
        add(st, "symmetry", mxCreateDoubleScalar((double)in.symmetry));
        add(st, "pixel_size_m", mxCreateDoubleScalar(in.pixel_size_m));
        add(st, "rotation_deg", mxCreateDoubleScalar(in.rotation_deg));
        add(st, "energy_ev", mxCreateDoubleScalar(in.energy_ev));
        c[0] = in.centre_row + 1.0;
        c[1] = in.centre_col + 1.0;
        add(st, "centre", mxCreateDoubleMatrix(1, 2, mxREAL));
        memcpy(mxGetData(mxGetField(st, 0, "centre")), c, sizeof c);
        *info = st;
    }
    return img;
}

static mxArray *observation(const qpik_kernel *k, int64_t rows, int64_t cols, mxArray **info) {
    mxArray *img, *mask, *st, *pos, *amp;
    qpik_array d, m, dd;
    size_t n = 0, i;
    double *buf, *pv, *av;
    qm_check(qpik_observation_new(k, rows, cols, g_oopts, &g_obs));
    img = mxCreateDoubleMatrix((mwSize)rows, (mwSize)cols, mxREAL);
    mask = mxCreateLogicalMatrix((mwSize)rows, (mwSize)cols);
    d = qpik_array_2d(mxGetData(img), QPIK_F64, rows, cols, QPIK_COL_MAJOR);
    m = qpik_array_2d(mxGetData(mask), QPIK_U8, rows, cols, QPIK_COL_MAJOR);
    qm_check(qpik_observation_image(g_obs, &d, &m));
    qm_check(qpik_observation_defect_count(g_obs, &n));
    pos = mxCreateDoubleMatrix((mwSize)n, 2, mxREAL);
    amp = mxCreateDoubleMatrix((mwSize)n, 1, mxREAL);
    if (n > 0) {
        buf = mxMalloc(n * 3 * sizeof(double));
        dd = qpik_array_2d(buf, QPIK_F64, (int64_t)n, 3, QPIK_ROW_MAJOR);
        qm_check(qpik_observation_defects(g_obs, &dd));
        pv = (double *)mxGetData(pos);
        av = (double *)mxGetData(amp);
        for (i = 0; i < n; i++) {
            pv[i] = buf[3 * i] + 1.0;
            pv[i + n] = buf[3 * i + 1] + 1.0;
            av[i] = buf[3 * i + 2];
        }
        mxFree(buf);
    }
    if (info) {
        mxArray *kinfo = NULL, *kimg = kernel_image(k, &kinfo);
        st = mxCreateStructMatrix(1, 1, 0, NULL);
        add(st, "positions", pos);
        add(st, "amplitudes", amp);
        add(st, "mask", mask);
        add(st, "kernel", kimg);
        add(st, "pixel_size_m", mxDuplicateArray(mxGetField(kinfo, 0, "pixel_size_m")));
        add(st, "kernel_info", kinfo);
        *info = st;
    } else {
        mxDestroyArray(pos);
        mxDestroyArray(amp);
        mxDestroyArray(mask);
    }
    return img;
}

void mexFunction(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    char *name = NULL, *toml = NULL;
    int i, first, is_obs;
    int64_t rows = 256, cols = 256;
    const qpik_kernel *k;

    qm_begin(release_on_error, release_all);
    release_call();
    if (nrhs < 1 || !mxIsChar(prhs[0]) || nlhs > 2) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT",
                "usage: qpik_simulate('catalog' | 'spec' | 'kernel' | 'observation', ...); "
                "see help qpik_simulate");
    }
    if (qm_is(prhs[0], "catalog")) {
        plhs[0] = catalog();
        return;
    }
    if (qm_is(prhs[0], "spec")) {
        if (nrhs != 2) {
            qm_fail("QPIK_ERR_INVALID_ARGUMENT", "usage: toml = qpik_simulate('spec', name)");
        }
        plhs[0] = spec(prhs[1]);
        return;
    }
    is_obs = qm_is(prhs[0], "observation");
    if (!is_obs && !qm_is(prhs[0], "kernel")) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT",
                "the first argument must be 'catalog', 'spec', 'kernel' or 'observation'");
    }
    /* A kernel name, unless the pairs start right away (with 'Spec'). */
    first = 1;
    if (nrhs >= 2 && nrhs % 2 == 0) {
        name = qm_string(prhs[1], "the kernel name");
        first = 2;
    }
    if ((nrhs - first) % 2 != 0) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT", "parameters come in Name, Value pairs");
    }
    qm_check(qpik_options_new(&g_kopts));
    qm_check(qpik_options_new(&g_oopts));
    for (i = first; i + 1 < nrhs; i += 2) {
        const mxArray *key = prhs[i], *v = prhs[i + 1];
        if (!mxIsChar(key)) {
            qm_fail("QPIK_ERR_INVALID_ARGUMENT", "argument %d must be a parameter name", i + 1);
        } else if (qm_is(key, "Spec")) {
            toml = qm_string(v, "'Spec' (TOML text; read a file with fileread)");
        } else if (qm_is(key, "Size")) {
            /* N or [rows cols]: qpik's "N" or "ROWSxCOLS". */
            char buf[64];
            if (mxIsDouble(v) && !mxIsComplex(v) && mxGetNumberOfElements(v) == 2) {
                const double *s = (const double *)mxGetData(v);
                snprintf(buf, sizeof buf, "%.0fx%.0f", s[0], s[1]);
                qm_set(g_kopts, "size", buf);
            } else {
                qm_set_arg(g_kopts, "size", v, 1.0, "'Size'");
            }
        } else if (qm_is(key, "PixelSize")) {
            qm_set_arg(g_kopts, "pixel_size_m", v, 1.0, "'PixelSize' (metres)");
        } else if (qm_is(key, "Rotation")) {
            qm_set_arg(g_kopts, "rotation_deg", v, 1.0, "'Rotation' (degrees)");
        } else if (qm_is(key, "MapSize")) {
            const double *s;
            if (!mxIsDouble(v) || mxIsComplex(v) || mxGetNumberOfElements(v) < 1 ||
                mxGetNumberOfElements(v) > 2) {
                qm_fail("QPIK_ERR_INVALID_ARGUMENT", "'MapSize' must be N or [rows cols]");
            }
            s = (const double *)mxGetData(v);
            rows = (int64_t)s[0];
            cols = (int64_t)s[mxGetNumberOfElements(v) - 1];
            if (!(s[0] >= 1 && s[0] <= 65536 && s[mxGetNumberOfElements(v) - 1] >= 1 &&
                  s[mxGetNumberOfElements(v) - 1] <= 65536)) {
                qm_fail("QPIK_ERR_INVALID_ARGUMENT", "'MapSize' sides must be in 1..65536");
            }
        } else if (qm_is(key, "Seed")) {
            qm_set_arg(g_oopts, "seed", v, 1.0, "'Seed'");
        } else if (qm_is(key, "Density")) {
            qm_set_arg(g_oopts, "defects.density_per_nm2", v, 1.0, "'Density' (per nm^2)");
        } else if (qm_is(key, "Count")) {
            const double *c;
            char buf[64];
            if (!mxIsDouble(v) || mxIsComplex(v) || mxGetNumberOfElements(v) != 2) {
                qm_fail("QPIK_ERR_INVALID_ARGUMENT", "'Count' must be [min max] defects");
            }
            c = (const double *)mxGetData(v);
            if (!(c[0] >= 0 && c[0] <= c[1] && c[1] <= 1e6)) {
                qm_fail("QPIK_ERR_INVALID_ARGUMENT",
                        "'Count' must be [min max] with 0 <= min <= max <= 1e6");
            }
            snprintf(buf, sizeof buf, "%.0f", c[1]);
            qm_set(g_oopts, "defects.count_max", buf);
            snprintf(buf, sizeof buf, "%.0f", c[0]);
            qm_set(g_oopts, "defects.count_min", buf);
        } else if (qm_is(key, "Artefacts")) {
            qm_set_arg(g_oopts, "artefacts", v, 1.0, "'Artefacts'");
        } else if (qm_is(key, "Options")) {
            qm_set_raw(g_kopts, v);
            qm_set_raw(g_oopts, v);
        } else {
            char *bad = qm_string(key, "a parameter name");
            qm_fail("QPIK_ERR_INVALID_ARGUMENT",
                    "unknown parameter '%s'; qpik_simulate takes Spec, Size, PixelSize, Rotation, "
                    "MapSize, Seed, Density, Count, Artefacts, Options",
                    bad);
        }
    }
    if ((name != NULL) == (toml != NULL)) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT",
                "give a catalog kernel name or 'Spec', toml (exactly one); "
                "qpik_simulate('catalog') lists the names");
    }
    k = kernel_for(name, toml);
    if (is_obs) {
        plhs[0] = observation(k, rows, cols, nlhs > 1 ? &plhs[1] : NULL);
    } else {
        plhs[0] = kernel_image(k, nlhs > 1 ? &plhs[1] : NULL);
    }
    release_call();
}
