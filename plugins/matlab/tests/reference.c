/*
 * Reference values for the MEX tests, computed through the C ABI directly (libqpik.so):
 * the same inputs and options the Octave test gives qpik_extract, so the MEX gateway's
 * layout conversions (column-major, 1-based, dimension order) are checked against qpik
 * itself. Writes raw little-endian float64 files, row-major (C order), into DIR.
 *
 *   reference DIR
 *
 * Inputs: a clean observation of graphene-500meV (kernel 33 x 33, map H x W = 96 x 112,
 * seed 7, 8-10 defects), its mask and positions; a 3-layer stack (layers scaled 1, -0.5, 2,
 * plus a ramp so they differ); a topography with a Gaussian bump (FWHM 4 px) at each defect.
 */
#include "qpik.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { H = 96, W = 112, KS = 33, S = 21, E = 3, MAXN = 64 };

static const char *g_dir;

static void die(const char *what, qpik_status st) {
    fprintf(stderr, "reference: %s failed: %s (%s)\n", what, qpik_status_name((int32_t)st),
            qpik_last_error());
    exit(1);
}
#define OK(call)                                                                             \
    do {                                                                                     \
        qpik_status st_ = (call);                                                            \
        if (st_ != QPIK_OK) die(#call, st_);                                                 \
    } while (0)

static void save(const char *name, const double *v, size_t n) {
    char path[4096];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s.bin", g_dir, name);
    f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof(double), n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "reference: cannot write %s\n", path);
        exit(1);
    }
}

static void set(qpik_options *o, const char *k, const char *v) { OK(qpik_options_set(o, k, v)); }

/* Every result of an extraction, saved as PREFIX_<what>. */
static void save_extraction(const char *prefix, qpik_extraction *ex) {
    qpik_extraction_info in;
    char name[256];
    double *buf, scal[6];
    size_t n;
    int64_t k4[4];
    qpik_array a;
    memset(&in, 0, sizeof in);
    in.struct_size = sizeof in;
    OK(qpik_extraction_get_info(ex, &in));
    n = (size_t)(in.types * in.energies * in.kernel_size * in.kernel_size);
    if ((size_t)(in.energies * in.rows * in.cols) > n) {
        n = (size_t)(in.energies * in.rows * in.cols);
    }
    buf = malloc(n * sizeof(double));
    k4[0] = in.types;
    k4[1] = in.energies;
    k4[2] = k4[3] = in.kernel_size;
    a = qpik_array_2d(buf, QPIK_F64, 1, 1, QPIK_ROW_MAJOR);
    a.ndim = 4;
    memcpy(a.shape, k4, sizeof k4);
    a.strides[3] = 1;
    a.strides[2] = in.kernel_size;
    a.strides[1] = in.kernel_size * in.kernel_size;
    a.strides[0] = a.strides[1] * in.energies;
    a.len = (uint64_t)(a.strides[0] * in.types);
    OK(qpik_extraction_kernels(ex, &a));
    snprintf(name, sizeof name, "%s_kernels", prefix);
    save(name, buf, (size_t)a.len);
    OK(qpik_extraction_kernel_std(ex, &a));
    snprintf(name, sizeof name, "%s_kernel_std", prefix);
    save(name, buf, (size_t)a.len);
    a = qpik_array_2d(buf, QPIK_F64, in.defects, 2, QPIK_ROW_MAJOR);
    OK(qpik_extraction_positions(ex, &a));
    snprintf(name, sizeof name, "%s_positions", prefix);
    save(name, buf, (size_t)in.defects * 2);
    a = qpik_array_2d(buf, QPIK_F64, in.defects, in.energies, QPIK_ROW_MAJOR);
    OK(qpik_extraction_amplitudes(ex, &a));
    snprintf(name, sizeof name, "%s_amplitudes", prefix);
    save(name, buf, (size_t)(in.defects * in.energies));
    a = qpik_array_3d(buf, QPIK_F64, in.energies, in.rows, in.cols, QPIK_ROW_MAJOR);
    OK(qpik_extraction_residual(ex, &a));
    snprintf(name, sizeof name, "%s_residual", prefix);
    save(name, buf, (size_t)(in.energies * in.rows * in.cols));
    a = qpik_array_2d(buf, QPIK_F64, 1, in.energies, QPIK_ROW_MAJOR);
    a.ndim = 1;
    a.shape[0] = in.energies;
    a.strides[0] = 1;
    OK(qpik_extraction_heldout_r2(ex, &a));
    snprintf(name, sizeof name, "%s_heldout", prefix);
    save(name, buf, (size_t)in.energies);
    scal[0] = in.heldout_r2;
    scal[1] = in.fit_r2;
    scal[2] = in.pixel_size_m;
    scal[3] = in.symmetry;
    scal[4] = (double)in.kernel_size;
    scal[5] = (double)in.defects;
    snprintf(name, sizeof name, "%s_scalars", prefix);
    save(name, scal, 6);
    free(buf);
}

int main(int argc, char **argv) {
    qpik_options *ko, *oo, *xo;
    qpik_kernel *k;
    qpik_observation *obs;
    qpik_extraction *ex;
    static double map[H * W], mask[H * W], stack[E * H * W], topo[H * W], defs[MAXN * 3];
    static double pos[MAXN * 2], found[MAXN * 2];
    static float map32[H * W];
    static unsigned char mask8[H * W];
    double scale[E] = {1.0, -0.5, 2.0}, dims[5];
    size_t n = 0, nfound = 0, i, j, e, d;
    qpik_array m, mk, p;
    if (argc != 2) {
        fprintf(stderr, "usage: reference DIR\n");
        return 2;
    }
    g_dir = argv[1];

    OK(qpik_options_new(&ko));
    set(ko, "size", "33");
    OK(qpik_kernel_new("graphene-500meV", NULL, ko, &k));
    OK(qpik_options_new(&oo));
    set(oo, "seed", "7");
    set(oo, "defects.count_max", "10");
    set(oo, "defects.count_min", "8");
    OK(qpik_observation_new(k, H, W, oo, &obs));
    m = qpik_array_2d(map, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    mk = qpik_array_2d(mask8, QPIK_U8, H, W, QPIK_ROW_MAJOR);
    OK(qpik_observation_image(obs, &m, &mk));
    OK(qpik_observation_defect_count(obs, &n));
    if (n > MAXN) {
        fprintf(stderr, "reference: %zu defects, more than %d\n", n, MAXN);
        return 1;
    }
    p = qpik_array_2d(defs, QPIK_F64, (int64_t)n, 3, QPIK_ROW_MAJOR);
    OK(qpik_observation_defects(obs, &p));
    for (i = 0; i < H * W; i++) {
        mask[i] = mask8[i];
        map32[i] = (float)map[i];
    }
    for (d = 0; d < n; d++) {
        pos[2 * d] = defs[3 * d];
        pos[2 * d + 1] = defs[3 * d + 1];
    }
    for (e = 0; e < E; e++) {
        for (i = 0; i < H; i++) {
            for (j = 0; j < W; j++) {
                stack[(e * H + i) * W + j] = scale[e] * map[i * W + j] + 1e-3 * (double)(e * i);
            }
        }
    }
    for (i = 0; i < H; i++) {
        for (j = 0; j < W; j++) {
            double z = 0.002 * (double)i + 0.001 * (double)j;
            for (d = 0; d < n; d++) {
                double dr = (double)i - pos[2 * d], dc = (double)j - pos[2 * d + 1];
                z += exp(-(dr * dr + dc * dc) / (2.0 * 1.7 * 1.7));
            }
            topo[i * W + j] = z;
        }
    }
    save("map", map, H * W);
    save("mask", mask, H * W);
    save("positions", pos, 2 * n);
    save("stack", stack, E * H * W);
    save("topography", topo, H * W);

    /* The options the Octave test passes: 'KernelSize', 21, 'Seed', 1, 'Bootstrap', 2. */
    OK(qpik_options_new(&xo));
    set(xo, "map.kernel_size", "21");
    set(xo, "map.seed", "1");
    set(xo, "map.bootstrap", "2");

    OK(qpik_extract_map(xo, &m, &mk, &ex)); /* 2-D, double, mask */
    save_extraction("mask", ex);
    qpik_extraction_free(ex);

    m = qpik_array_2d(map32, QPIK_F32, H, W, QPIK_ROW_MAJOR); /* 2-D, single, positions */
    p = qpik_array_2d(pos, QPIK_F64, (int64_t)n, 2, QPIK_ROW_MAJOR);
    OK(qpik_extract_map(xo, &m, &p, &ex));
    save_extraction("single", ex);
    qpik_extraction_free(ex);

    m = qpik_array_3d(stack, QPIK_F64, E, H, W, QPIK_ROW_MAJOR); /* 3-D stack, positions */
    OK(qpik_extract_map(xo, &m, &p, &ex));
    save_extraction("stack", ex);
    qpik_extraction_free(ex);

    m = qpik_array_2d(topo, QPIK_F64, H, W, QPIK_ROW_MAJOR); /* defects from a topography */
    p = qpik_array_2d(found, QPIK_F64, MAXN, 2, QPIK_ROW_MAJOR);
    OK(qpik_find_defects(xo, &m, &p, &nfound));
    save("topo_found", found, 2 * nfound);
    m = qpik_array_2d(map, QPIK_F64, H, W, QPIK_ROW_MAJOR);
    p = qpik_array_2d(found, QPIK_F64, (int64_t)nfound, 2, QPIK_ROW_MAJOR);
    OK(qpik_extract_map(xo, &m, &p, &ex));
    save_extraction("topo", ex);
    qpik_extraction_free(ex);

    dims[0] = H;
    dims[1] = W;
    dims[2] = E;
    dims[3] = (double)n;
    dims[4] = (double)nfound;
    save("dims", dims, 5);
    qpik_options_free(xo);
    qpik_options_free(oo);
    qpik_options_free(ko);
    qpik_observation_free(obs);
    qpik_kernel_free(k);
    printf("reference: %zu defects, %zu found in the topography, written to %s\n", n, nfound,
           g_dir);
    (void)S;
    (void)KS;
    return 0;
}
