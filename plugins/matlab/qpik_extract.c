/*
 * [K, info] = qpik_extract(map, Name, Value, ...): the qpik map engine (qpik_extract_map)
 * from MATLAB and GNU Octave. Help text: qpik_extract.m beside the MEX file.
 *
 * The map (H x W, or H x W x E for an energy stack; double or single) goes to qpik through a
 * column-major qpik_array descriptor, without a copy. Positions, types and the impurity
 * pixel are 1-based here; qpik's are 0-based.
 */
#include "qpik_mex.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* What one call holds; freed before any error is raised and at mexAtExit. */
static qpik_options *g_opts;
static qpik_extraction *g_ex;

static void release(void) {
    qpik_extraction_free(g_ex);
    g_ex = NULL;
    qpik_options_free(g_opts);
    g_opts = NULL;
}

/* Where the defects come from, for info.defects_source. */
static const char *g_source;

/* Positions N x 2 (1-based, double or single) as qpik positions [N, 2] (0-based, row-major). */
static double *positions_from_matlab(const mxArray *p, size_t *n) {
    size_t rows = mxGetM(p), i;
    double *out;
    qm_float_dtype(p, "'Defects' positions");
    *n = rows;
    out = mxMalloc((rows ? rows : 1) * 2 * sizeof(double));
    for (i = 0; i < rows; i++) {
        double r, c;
        if (mxIsDouble(p)) {
            r = ((const double *)mxGetData(p))[i];
            c = ((const double *)mxGetData(p))[i + rows];
        } else {
            r = ((const float *)mxGetData(p))[i];
            c = ((const float *)mxGetData(p))[i + rows];
        }
        out[2 * i] = r - 1.0;
        out[2 * i + 1] = c - 1.0;
    }
    return out;
}

/* Positions found in a topography Z (H x W) with qpik_find_defects (0-based, row-major);
 * the options carry topography.polarity and map.pixel_size_m. */
static double *positions_from_topography(const mxArray *z, size_t h, size_t w, size_t *n) {
    const mwSize *d = mxGetDimensions(z);
    uint32_t dtype = qm_float_dtype(z, "'Topography'");
    qpik_array za, pa;
    size_t capacity = 1024, count = 0;
    double *buf;
    qpik_status st;
    if (mxGetNumberOfDimensions(z) != 2 || (size_t)d[0] != h || (size_t)d[1] != w) {
        qm_fail("QPIK_ERR_SHAPE", "'Topography' must be %u x %u like the map's first two dimensions",
                (unsigned)h, (unsigned)w);
    }
    za = qpik_array_2d(mxGetData(z), dtype, (int64_t)h, (int64_t)w, QPIK_COL_MAJOR);
    buf = mxMalloc(capacity * 2 * sizeof(double));
    pa = qpik_array_2d(buf, QPIK_F64, (int64_t)capacity, 2, QPIK_ROW_MAJOR);
    st = qpik_find_defects(g_opts, &za, &pa, &count);
    if (st == QPIK_ERR_BUFFER_TOO_SMALL) {
        capacity = count;
        buf = mxRealloc(buf, capacity * 2 * sizeof(double));
        pa = qpik_array_2d(buf, QPIK_F64, (int64_t)capacity, 2, QPIK_ROW_MAJOR);
        st = qpik_find_defects(g_opts, &za, &pa, &count);
    }
    qm_check(st);
    if (count == 0) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT",
                "no defects found in 'Topography'; give 'PixelSize' (the filter is sized for "
                "6 Angstrom defects), try 'Polarity', 'dark' or 'auto', or pass 'Defects'");
    }
    *n = count;
    return buf;
}

/* The value of the option topography.polarity for the 'Polarity' argument. */
static const char *polarity_of(const mxArray *v) {
    if (qm_is(v, "bright")) {
        return "bright";
    }
    if (qm_is(v, "dark")) {
        return "dark";
    }
    if (qm_is(v, "auto")) {
        return "auto";
    }
    qm_fail("QPIK_ERR_INVALID_ARGUMENT", "'Polarity' must be 'bright', 'dark' or 'auto'");
}

/* The parameters that set one qpik option each: name, option key, scale of a number, and
 * how errors name the argument. */
static const struct {
    const char *name, *key;
    double scale;
    const char *what;
} NAMED[] = {
    {"Types", "map.types", 1.0, "'Types'"},
    {"KernelSize", "map.kernel_size", 1.0, "'KernelSize'"},
    {"Symmetry", "map.symmetry", 1.0, "'Symmetry'"},
    {"PixelSize", "map.pixel_size_m", 1.0, "'PixelSize' (metres)"},
    {"Background", "map.background", 1.0, "'Background'"},
    {"Smoothness", "map.smoothness", 1.0, "'Smoothness'"},
    {"Decay", "map.decay", 1.0, "'Decay'"},
    {"Bootstrap", "map.bootstrap", 1.0, "'Bootstrap'"},
    {"RefinePositions", "map.refine_positions_px", 1.0, "'RefinePositions'"},
    {"Seed", "map.seed", 1.0, "'Seed'"},
    {"Energies", "map.energies_ev", 1.0, "'Energies' (eV)"},
    {"Unit", "map.value_unit", 1.0, "'Unit'"},
};

/* Set the option of parameter `k` when it is one of NAMED; 0 when it is not. */
static int set_named(const mxArray *k, const mxArray *v) {
    size_t i;
    for (i = 0; i < sizeof NAMED / sizeof NAMED[0]; i++) {
        if (qm_is(k, NAMED[i].name)) {
            qm_set_arg(g_opts, NAMED[i].key, v, NAMED[i].scale, NAMED[i].what);
            return 1;
        }
    }
    return 0;
}

/* Every parameter name qpik_extract takes, comma-separated (static storage). */
static const char *accepted_parameters(void) {
    static char list[512];
    size_t i;
    snprintf(list, sizeof list, "Defects, Topography, Polarity, Blind");
    for (i = 0; i < sizeof NAMED / sizeof NAMED[0]; i++) {
        strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, NAMED[i].name, sizeof list - strlen(list) - 1);
    }
    strncat(list, ", Options", sizeof list - strlen(list) - 1);
    return list;
}

/* A new MATLAB array of the extraction's result in MATLAB's order (see qm_result_array). */
static mxArray *result(qpik_status (*get)(const qpik_extraction *, const qpik_array *),
                       mxClassID cls, int ndim, const int64_t *shape) {
    mwSize dims[4];
    mxArray *a;
    qpik_array d;
    int k, m = 0;
    dims[m++] = (mwSize)shape[ndim >= 2 ? ndim - 2 : 0];
    dims[m++] = ndim >= 2 ? (mwSize)shape[ndim - 1] : 1;
    for (k = ndim - 3; k >= 0; k--) {
        dims[m++] = (mwSize)shape[k];
    }
    a = mxCreateNumericArray((mwSize)m, dims, cls, mxREAL);
    d = qm_result_array(mxGetData(a), cls == mxSINGLE_CLASS ? QPIK_F32 : QPIK_F64, ndim, shape);
    qm_check(get(g_ex, &d));
    return a;
}

static void add(mxArray *s, const char *name, mxArray *v) {
    mxSetFieldByNumber(s, 0, mxAddField(s, name), v);
}

/* The pixels the blind search left out: a logical H x W (mxLogical is one byte, 0 or 1). */
static mxArray *excluded_mask(const qpik_extraction_info *in) {
    mxArray *a = mxCreateLogicalMatrix((mwSize)in->rows, (mwSize)in->cols);
    qpik_array d = qpik_array_2d(mxGetData(a), QPIK_U8, in->rows, in->cols, QPIK_COL_MAJOR);
    qm_check(qpik_extraction_excluded(g_ex, &d));
    return a;
}

/* The extraction's notes as a char row vector. */
/* A string of the extraction (`buf, buf_len, needed` convention) as a MATLAB char array. */
static mxArray *extraction_text(qpik_status (*get)(const qpik_extraction *, char *, size_t,
                                                   size_t *)) {
    size_t needed = 0;
    char *buf;
    mxArray *a;
    qpik_status st = get(g_ex, NULL, 0, &needed);
    if (st != QPIK_ERR_BUFFER_TOO_SMALL) {
        qm_check(st);
    }
    buf = mxMalloc(needed ? needed : 1);
    qm_check(get(g_ex, buf, needed ? needed : 1, &needed));
    a = mxCreateString(buf);
    mxFree(buf);
    return a;
}

static mxArray *info_struct(const qpik_extraction_info *in, mxClassID cls) {
    int64_t n = in->defects, e = in->energies, t = in->types, s = in->kernel_size;
    int64_t k4[4] = {t, e, s, s}, nd[2] = {n, 2}, ne[2] = {n, e}, n1[1] = {n};
    int64_t ehw[3] = {e, in->rows, in->cols}, e1[1] = {e};
    mxArray *st = mxCreateStructMatrix(1, 1, 0, NULL), *a;
    double *v;
    int64_t i;
    a = result(qpik_extraction_positions, mxDOUBLE_CLASS, 2, nd);
    v = (double *)mxGetData(a);
    for (i = 0; i < 2 * n; i++) {
        v[i] += 1.0;
    }
    add(st, "positions", a);
    add(st, "amplitudes", result(qpik_extraction_amplitudes, mxDOUBLE_CLASS, 2, ne));
    a = result(qpik_extraction_types, mxDOUBLE_CLASS, 1, n1);
    v = (double *)mxGetData(a);
    for (i = 0; i < n; i++) {
        v[i] += 1.0;
    }
    add(st, "types", a);
    add(st, "residual", result(qpik_extraction_residual, cls, 3, ehw));
    add(st, "kernel_std", result(qpik_extraction_kernel_std, cls, 4, k4));
    add(st, "heldout_r2", mxCreateDoubleScalar(in->heldout_r2));
    add(st, "heldout_r2_per_energy", result(qpik_extraction_heldout_r2, mxDOUBLE_CLASS, 1, e1));
    add(st, "fit_r2", mxCreateDoubleScalar(in->fit_r2));
    add(st, "pixel_size_m", mxCreateDoubleScalar(in->pixel_size_m));
    add(st, "symmetry", mxCreateDoubleScalar((double)in->symmetry));
    add(st, "mirror_axis_deg", mxCreateDoubleScalar(in->mirror_axis_deg));
    add(st, "kernel_size", mxCreateDoubleScalar((double)s));
    add(st, "centre", mxCreateDoubleScalar((double)(s / 2 + 1)));
    add(st, "num_types", mxCreateDoubleScalar((double)t));
    add(st, "energies", mxCreateDoubleScalar((double)e));
    add(st, "positions_estimated", mxCreateLogicalScalar(in->positions_estimated != 0));
    add(st, "defects_source", mxCreateString(g_source));
    add(st, "method", mxCreateString(in->method == QPIK_METHOD_BLIND ? "blind" : "forward"));
    add(st, "notes", extraction_text(qpik_extraction_notes));
    add(st, "excluded", excluded_mask(in));
    add(st, "excluded_pixels", mxCreateDoubleScalar((double)in->excluded_pixels));
    add(st, "explains_little", mxCreateLogicalScalar(in->explains_little != 0));
    add(st, "control_heldout_r2", mxCreateDoubleScalar(in->control_heldout_r2));
    /* Provenance: what made the result and the settings as chosen. */
    add(st, "qpik_version", mxCreateString(qpik_version()));
    add(st, "symmetry_name", extraction_text(qpik_extraction_symmetry_name));
    add(st, "defects", mxCreateDoubleScalar((double)n));
    return st;
}

void mexFunction(int nlhs, mxArray *plhs[], int nrhs, const mxArray *prhs[]) {
    const mxArray *map, *defects = NULL, *topo = NULL;
    const mwSize *dims;
    mwSize nd;
    uint32_t dtype;
    mxClassID cls;
    qpik_array ma, da;
    const qpik_array *dp = NULL;
    qpik_extraction_info in;
    int blind = 0, i;
    size_t h, w, n = 0;
    double *pos = NULL, dummy = 0.0;
    int64_t k4[4];

    qm_begin(release, release);
    release(); /* anything a previous call left (it cannot, but be sure) */
    g_source = "estimated";
    if (nrhs < 1 || nlhs > 2) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT",
                "usage: [K, info] = qpik_extract(map, Name, Value, ...); see help qpik_extract");
    }
    if ((nrhs - 1) % 2 != 0) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT", "parameters come in Name, Value pairs after the map");
    }
    map = prhs[0];
    dtype = qm_float_dtype(map, "map");
    cls = mxGetClassID(map);
    nd = mxGetNumberOfDimensions(map);
    dims = mxGetDimensions(map);
    if (nd > 3 || mxGetNumberOfElements(map) == 0) {
        qm_fail("QPIK_ERR_SHAPE", "map must be H x W or H x W x E (an energy stack), not empty; "
                                  "it has %u dimensions", (unsigned)nd);
    }
    h = dims[0];
    w = dims[1];
    qm_check(qpik_options_new(&g_opts));
    for (i = 1; i + 1 < nrhs; i += 2) {
        const mxArray *k = prhs[i], *v = prhs[i + 1];
        if (!mxIsChar(k)) {
            qm_fail("QPIK_ERR_INVALID_ARGUMENT", "argument %d must be a parameter name", i + 1);
        } else if (qm_is(k, "Defects")) {
            defects = v;
        } else if (qm_is(k, "Topography")) {
            topo = v;
        } else if (qm_is(k, "Polarity")) {
            qm_set(g_opts, "topography.polarity", polarity_of(v));
        } else if (qm_is(k, "Blind")) {
            blind = qm_scalar(v, "'Blind'") != 0.0;
            qm_set(g_opts, "map.blind", blind ? "true" : "false");
        } else if (qm_is(k, "Options")) {
            qm_set_raw(g_opts, v);
        } else if (!set_named(k, v)) {
            char *name = qm_string(k, "a parameter name");
            qm_fail("QPIK_ERR_INVALID_ARGUMENT", "unknown parameter '%s'; qpik_extract takes %s",
                    name, accepted_parameters());
        }
    }
    if (defects && topo) {
        qm_fail("QPIK_ERR_INVALID_ARGUMENT", "give 'Defects' or 'Topography', not both");
    }
    ma = qm_image_array(map, dtype);
    if (topo) {
        pos = positions_from_topography(topo, h, w, &n);
        g_source = "topography";
    } else if (defects) {
        const mwSize *dd = mxGetDimensions(defects);
        if (mxGetNumberOfDimensions(defects) == 2 && (size_t)dd[0] == h && (size_t)dd[1] == w) {
            uint32_t mt;
            if (mxIsLogical(defects) || mxIsUint8(defects)) {
                mt = QPIK_U8; /* mxLogical is one byte, 0 or 1 */
            } else {
                mt = qm_float_dtype(defects, "'Defects' (a mask)");
            }
            da = qpik_array_2d(mxGetData(defects), mt, (int64_t)h, (int64_t)w, QPIK_COL_MAJOR);
            g_source = "mask";
        } else if (mxGetNumberOfDimensions(defects) == 2 && dd[1] == 2) {
            pos = positions_from_matlab(defects, &n);
            g_source = "positions";
        } else {
            qm_fail("QPIK_ERR_SHAPE",
                    "'Defects' must be a mask of the map's %u x %u pixels or positions N x 2 "
                    "(row, col; 1-based)",
                    (unsigned)h, (unsigned)w);
        }
        dp = &da;
    } else if (blind) {
        g_source = "blind";
    }
    if (pos) {
        da = qpik_array_2d(n ? (void *)pos : (void *)&dummy, QPIK_F64, (int64_t)n, 2,
                           QPIK_ROW_MAJOR);
        dp = &da;
    }
    qm_check(qpik_extract_map_progress(g_opts, &ma, dp, &g_ex, qm_progress, NULL));
    if (pos) {
        mxFree(pos);
    }
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    qm_check(qpik_extraction_get_info(g_ex, &in));
    k4[0] = in.types;
    k4[1] = in.energies;
    k4[2] = in.kernel_size;
    k4[3] = in.kernel_size;
    plhs[0] = result(qpik_extraction_kernels, cls, 4, k4);
    if (nlhs > 1) {
        plhs[1] = info_struct(&in, cls);
    }
    release();
    /* After release: a warning turned into an error (warning('error', ...)) must not leak. */
    if (in.explains_little) {
        mexWarnMsgIdAndTxt("qpik:explainsLittle",
                           "the kernel explains little of the map (held-out R^2 %.3f < 0.1): "
                           "the defect positions may be wrong or the map's scatterers may be "
                           "elsewhere",
                           in.heldout_r2);
    }
}
