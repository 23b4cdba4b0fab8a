/*
 * The direct C side of the MEX overhead benchmark: a 256 x 256 observation of
 * bi2212-normal-m50meV with 50 defects (seed 3), one fit (kernel 49, fixed smoothness,
 * positions kept, no bootstrap, no symmetry), timed with the same outputs the MEX returns
 * (kernel, kernel_std, positions, amplitudes, types, residual, held-out R^2). Writes the map
 * and positions for bench_mex.m and prints the median of RUNS calls.
 *   bench_c DIR RUNS
 */
#include "qpik.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { MAXN = 256, MAXD = 64 };

static void ok(qpik_status st, const char *what) {
    if (st != QPIK_OK) {
        fprintf(stderr, "%s: %s\n", what, qpik_last_error());
        exit(1);
    }
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    static double map[MAXN * MAXN], defs[MAXD * 3], pos[MAXD * 2], out[MAXN * MAXN], t[101];
    int N = 256, S = 49, D = 50;
    char sbuf[32], dbuf[32];
    qpik_options *ko, *oo, *xo;
    qpik_kernel *k;
    qpik_observation *obs;
    size_t n = 0, i;
    int runs, r;
    char path[4096];
    FILE *f;
    qpik_array m, p;
    if ((argc != 3 && argc != 6) || (runs = atoi(argv[2])) < 1 || runs > 101) {
        fprintf(stderr, "usage: bench_c DIR RUNS [SIDE KERNEL DEFECTS] (RUNS 1..101)\n");
        return 2;
    }
    if (argc == 6) {
        N = atoi(argv[3]);
        S = atoi(argv[4]);
        D = atoi(argv[5]);
        if (N < 16 || N > MAXN || S < 3 || S > N || D < 1 || D > MAXD) {
            fprintf(stderr, "bench_c: SIDE 16..%d, KERNEL 3..SIDE, DEFECTS 1..%d\n", MAXN, MAXD);
            return 2;
        }
    }
    snprintf(sbuf, sizeof sbuf, "%d", S);
    snprintf(dbuf, sizeof dbuf, "%d", D);
    ok(qpik_options_new(&ko), "options");
    ok(qpik_options_set(ko, "size", "65"), "size");
    ok(qpik_kernel_new("bi2212-normal-m50meV", NULL, ko, &k), "kernel");
    ok(qpik_options_new(&oo), "options");
    ok(qpik_options_set(oo, "seed", "3"), "seed");
    ok(qpik_options_set(oo, "defects.count_max", dbuf), "count");
    ok(qpik_options_set(oo, "defects.count_min", dbuf), "count");
    ok(qpik_observation_new(k, N, N, oo, &obs), "observation");
    m = qpik_array_2d(map, QPIK_F64, N, N, QPIK_COL_MAJOR); /* MATLAB's layout */
    ok(qpik_observation_image(obs, &m, NULL), "image");
    ok(qpik_observation_defect_count(obs, &n), "count");
    p = qpik_array_2d(defs, QPIK_F64, (int64_t)n, 3, QPIK_ROW_MAJOR);
    ok(qpik_observation_defects(obs, &p), "defects");
    for (i = 0; i < n; i++) {
        pos[2 * i] = defs[3 * i];
        pos[2 * i + 1] = defs[3 * i + 1];
    }
    snprintf(path, sizeof path, "%s/map.bin", argv[1]);
    f = fopen(path, "wb");
    fwrite(map, sizeof(double), (size_t)(N * N), f);
    fclose(f);
    snprintf(path, sizeof path, "%s/positions.bin", argv[1]);
    f = fopen(path, "wb");
    fwrite(pos, sizeof(double), 2 * n, f);
    fclose(f);
    ok(qpik_options_new(&xo), "options");
    ok(qpik_options_set(xo, "map.kernel_size", sbuf), "o");
    ok(qpik_options_set(xo, "map.smoothness", "0.1"), "o");
    ok(qpik_options_set(xo, "map.refine_positions_px", "0"), "o");
    ok(qpik_options_set(xo, "map.bootstrap", "0"), "o");
    ok(qpik_options_set(xo, "map.symmetry", "none"), "o");
    p = qpik_array_2d(pos, QPIK_F64, (int64_t)n, 2, QPIK_ROW_MAJOR);
    for (r = -2; r < runs; r++) { /* two warm-up calls */
        qpik_extraction *ex;
        qpik_extraction_info in = {sizeof in, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        qpik_array a;
        double t0 = now();
        ok(qpik_extract_map(xo, &m, &p, &ex), "extract");
        ok(qpik_extraction_get_info(ex, &in), "info");
        a = qpik_array_2d(out, QPIK_F64, S, S, QPIK_COL_MAJOR);
        ok(qpik_extraction_kernels(ex, &a), "kernels");
        ok(qpik_extraction_kernel_std(ex, &a), "std");
        a = qpik_array_2d(out, QPIK_F64, in.defects, 2, QPIK_COL_MAJOR);
        ok(qpik_extraction_positions(ex, &a), "positions");
        a = qpik_array_2d(out, QPIK_F64, in.defects, 1, QPIK_COL_MAJOR);
        ok(qpik_extraction_amplitudes(ex, &a), "amplitudes");
        a.shape[1] = 0;
        a.ndim = 1;
        ok(qpik_extraction_types(ex, &a), "types");
        a = qpik_array_2d(out, QPIK_F64, N, N, QPIK_COL_MAJOR);
        ok(qpik_extraction_residual(ex, &a), "residual");
        a = qpik_array_2d(out, QPIK_F64, 1, 1, QPIK_COL_MAJOR);
        a.ndim = 1;
        ok(qpik_extraction_heldout_r2(ex, &a), "heldout");
        qpik_extraction_free(ex);
        if (r >= 0) {
            t[r] = now() - t0;
        }
    }
    qsort(t, (size_t)runs, sizeof(double), cmp);
    printf("C: %d x %d, S = %d, %zu defects: median", N, N, S, n);
    printf(" %.2f ms of %d calls (min %.2f, max %.2f)\n",
           1e3 * t[runs / 2], runs, 1e3 * t[0], 1e3 * t[runs - 1]);
    qpik_options_free(xo);
    qpik_options_free(oo);
    qpik_options_free(ko);
    qpik_observation_free(obs);
    qpik_kernel_free(k);
    return 0;
}
