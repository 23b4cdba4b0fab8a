/*
 * The map engine through the C ABI (qpik_extract_map): a synthetic map built here from a
 * known kernel at known positions must give that kernel back (Pearson > 0.99), with the
 * positions and amplitudes; every layout gives the same result; stacks; bad input with the
 * exact status; cancellation; the result accessors' shape checks.
 */
#include "harness.h"

/* Kernel size, and the map's side (smaller under valgrind). */
enum { S = 15, HALF = S / 2, MAXN = 96, MAXD = 40 };
static const double PI = 3.14159265358979323846;

static int side(void) { return qt_light() ? 64 : MAXN; }

/* A cosine ring windowed to the S x S box: K(d) = cos(2 pi r / wavelength) exp(-r^2 / 2
 * sigma^2) with r the distance from the impurity at (HALF, HALF). */
static void ring_kernel(double wavelength, float *k) {
    int i, j;
    for (i = 0; i < S; i++) {
        for (j = 0; j < S; j++) {
            double r = sqrt((double)((i - HALF) * (i - HALF) + (j - HALF) * (j - HALF)));
            k[i * S + j] = (float)(cos(2.0 * PI * r / wavelength) * exp(-r * r / (2.0 * 2.5 * 2.5)));
        }
    }
}

/* Deterministic pseudo-random numbers in [0, 1). */
static double lcg(uint64_t *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0;
}

/* Defects on a jittered grid (integer pixels, some near the edges), with amplitudes in
 * [0.5, 1.5]. Returns their number. */
static int make_defects(int n, int *rows, int *cols, double *amp) {
    uint64_t st = 12345;
    int count = 0, gr, gc, step = 16;
    for (gr = 4; gr < n; gr += step) {
        for (gc = 6; gc < n; gc += step) {
            if (count == MAXD) {
                return count;
            }
            rows[count] = gr + (int)(lcg(&st) * 6.0);
            cols[count] = gc + (int)(lcg(&st) * 6.0);
            if (rows[count] >= n || cols[count] >= n) {
                continue;
            }
            amp[count] = 0.5 + lcg(&st);
            count++;
        }
    }
    return count;
}

/* Sort defects into raster order (row, then column), the order a mask lists them in. */
static void raster_order(int n, int count, int *rows, int *cols, double *amp) {
    int i, j;
    for (i = 1; i < count; i++) {
        for (j = i; j > 0 && rows[j] * n + cols[j] < rows[j - 1] * n + cols[j - 1]; j--) {
            int r = rows[j], c = cols[j];
            double a = amp[j];
            rows[j] = rows[j - 1];
            cols[j] = cols[j - 1];
            amp[j] = amp[j - 1];
            rows[j - 1] = r;
            cols[j - 1] = c;
            amp[j - 1] = a;
        }
    }
}

/* map[r, c] = sum_i amp_i k(r - row_i + HALF, c - col_i + HALF) + plane + noise, row-major. */
static void render(int n, const float *k, int nd, const int *rows, const int *cols,
                   const double *amp, float *map) {
    uint64_t st = 777;
    int i, r, c;
    for (r = 0; r < n; r++) {
        for (c = 0; c < n; c++) {
            map[r * n + c] = (float)(0.3 + 0.002 * r - 0.001 * c + 0.01 * (lcg(&st) - 0.5));
        }
    }
    for (i = 0; i < nd; i++) {
        for (r = rows[i] - HALF; r <= rows[i] + HALF; r++) {
            for (c = cols[i] - HALF; c <= cols[i] + HALF; c++) {
                if (r >= 0 && r < n && c >= 0 && c < n) {
                    map[r * n + c] +=
                        (float)(amp[i] * k[(r - rows[i] + HALF) * S + (c - cols[i] + HALF)]);
                }
            }
        }
    }
}

static double pearson(const float *a, const float *b, int n) {
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    int i;
    for (i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    for (i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0.0;
}

/* The synthetic single map, its kernel, mask and defects. */
typedef struct scene {
    int n, nd;
    int rows[MAXD], cols[MAXD];
    double amp[MAXD];
    float kernel[S * S], kernel2[S * S];
    float map[MAXN * MAXN];
    unsigned char mask[MAXN * MAXN];
} scene;

static scene sc;

static void build_scene(void) {
    int i;
    sc.n = side();
    sc.nd = make_defects(sc.n, sc.rows, sc.cols, sc.amp);
    raster_order(sc.n, sc.nd, sc.rows, sc.cols, sc.amp);
    ring_kernel(5.0, sc.kernel);
    ring_kernel(3.5, sc.kernel2);
    render(sc.n, sc.kernel, sc.nd, sc.rows, sc.cols, sc.amp, sc.map);
    memset(sc.mask, 0, sizeof sc.mask);
    for (i = 0; i < sc.nd; i++) {
        sc.mask[sc.rows[i] * sc.n + sc.cols[i]] = 1;
    }
}

/* Options every extraction here uses: the true kernel size, no bootstrap under valgrind. */
static qpik_options *map_options(void) {
    static const char *const kv[] = {"map.kernel_size", "15", "map.pixel_size_m", "2.5e-10",
                                     "map.value_unit", "nS", NULL};
    qpik_options *o = qt_options(kv);
    if (qt_light()) {
        qpik_options_set(o, "map.bootstrap", "0");
    }
    return o;
}

TEST(kernel_positions_and_amplitudes_come_back) {
    qpik_options *o;
    qpik_extraction *ex = NULL;
    qpik_extraction_info info;
    static float k[S * S], kstd[S * S], pos[MAXD * 2], amp[MAXD], res[MAXN * MAXN], r2[1];
    static unsigned char types[MAXD];
    qpik_array ma, da;
    double mean_amp = 0, worst = 0;
    int i, n;
    build_scene();
    n = sc.n;
    o = map_options();
    ma = qpik_array_2d(sc.map, QPIK_F32, n, n, QPIK_ROW_MAJOR);
    da = qpik_array_2d(sc.mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extract_map(o, &ma, &da, &ex));
    REQUIRE(ex != NULL);

    memset(&info, 0xFF, sizeof info);
    info.struct_size = sizeof info;
    CHECK_OK(qpik_extraction_get_info(ex, &info));
    CHECK_EQ_INT(info.types, 1);
    CHECK_EQ_INT(info.energies, 1);
    CHECK_EQ_INT(info.kernel_size, S);
    CHECK_EQ_INT(info.rows, n);
    CHECK_EQ_INT(info.cols, n);
    CHECK_EQ_INT(info.defects, sc.nd);
    CHECK_EQ_INT(info.positions_estimated, 0);
    /* Symmetry auto by default: one of the orders it chooses from (0 none, 1 isotropic). */
    CHECK_MSG(info.symmetry == 0 || info.symmetry == 1 || info.symmetry == 2 ||
                  info.symmetry == 3 || info.symmetry == 4 || info.symmetry == 6,
              "symmetry %d", (int)info.symmetry);
    CHECK_MSG(fabs(info.pixel_size_m - 2.5e-10) < 1e-20, "pixel size %g", info.pixel_size_m);
    CHECK_MSG(info.heldout_r2 > 0.9 && info.heldout_r2 <= 1.0, "held-out R2 %g",
              info.heldout_r2);
    CHECK_MSG(info.fit_r2 > 0.9 && info.fit_r2 <= 1.0, "fit R2 %g", info.fit_r2);
    {
        /* The point group as chosen, by name: agrees with the rotation order. */
        char sym[16], want[16];
        size_t needed = 0;
        CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "", qpik_extraction_symmetry_name(ex, sym, 1, &needed));
        CHECK_OK(qpik_extraction_symmetry_name(ex, sym, sizeof sym, &needed));
        CHECK_EQ_INT(needed, strlen(sym) + 1);
        snprintf(want, sizeof want, "%s",
                 info.symmetry == 0 ? "none" : info.symmetry == 1 ? "isotropic" : "");
        if (!want[0]) {
            snprintf(want, sizeof want, "%d", (int)info.symmetry);
        }
        CHECK_MSG(strncmp(sym, want, strlen(want)) == 0, "symmetry name %s, order %d", sym,
                  (int)info.symmetry);
        CHECK_STATUS(QPIK_ERR_NULL, "ex is NULL",
                     qpik_extraction_symmetry_name(NULL, sym, sizeof sym, NULL));
    }

    {
        qpik_array a = qpik_array_2d(k, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        double p;
        CHECK_OK(qpik_extraction_kernels(ex, &a));
        p = pearson(k, sc.kernel, S * S);
        CHECK_MSG(p > 0.99, "kernel Pearson %g", p);
        printf("kernel Pearson %.4f, held-out R2 %.4f\n", p, info.heldout_r2);
    }
    {
        qpik_array a = qpik_array_2d(kstd, QPIK_F32, S, S, QPIK_ROW_MAJOR);
        CHECK_OK(qpik_extraction_kernel_std(ex, &a));
        /* The noise floor is there even without the bootstrap (light runs use none). */
        CHECK(qt_all_finite_f(kstd, S * S) && kstd[0] >= 0);
    }
    {
        qpik_array a = qpik_array_2d(pos, QPIK_F32, sc.nd, 2, QPIK_ROW_MAJOR);
        CHECK_OK(qpik_extraction_positions(ex, &a));
        /* Refined (map.refine_positions_px, default 1.5) from the true pixels they are at. */
        for (i = 0; i < sc.nd; i++) {
            CHECK_MSG(fabs(pos[2 * i] - sc.rows[i]) < 0.25 && fabs(pos[2 * i + 1] - sc.cols[i]) < 0.25,
                      "position %d: (%g, %g) != (%d, %d)", i, pos[2 * i], pos[2 * i + 1],
                      sc.rows[i], sc.cols[i]);
        }
    }
    {
        /* Amplitudes have mean 1: the truth divided by its mean. */
        qpik_array a = qpik_array_2d(amp, QPIK_F32, sc.nd, 1, QPIK_ROW_MAJOR);
        CHECK_OK(qpik_extraction_amplitudes(ex, &a));
        for (i = 0; i < sc.nd; i++) {
            mean_amp += sc.amp[i] / sc.nd;
        }
        for (i = 0; i < sc.nd; i++) {
            double d = fabs(amp[i] - sc.amp[i] / mean_amp);
            worst = d > worst ? d : worst;
        }
        CHECK_MSG(worst < 0.05, "amplitudes differ from the truth / mean by up to %g", worst);
    }
    {
        qpik_array a = qpik_array_2d(types, QPIK_U8, sc.nd, 1, QPIK_ROW_MAJOR);
        a.ndim = 1;
        CHECK_OK(qpik_extraction_types(ex, &a));
        for (i = 0; i < sc.nd; i++) {
            CHECK_EQ_INT(types[i], 0);
        }
    }
    {
        /* The residual is about the noise (0.01 uniform: std 0.003). */
        qpik_array a = qpik_array_2d(res, QPIK_F32, n, n, QPIK_ROW_MAJOR);
        double ss = 0;
        CHECK_OK(qpik_extraction_residual(ex, &a));
        for (i = 0; i < n * n; i++) {
            ss += (double)res[i] * res[i];
        }
        CHECK_MSG(sqrt(ss / (n * n)) < 0.02, "residual rms %g", sqrt(ss / (n * n)));
    }
    {
        qpik_array a = qpik_array_2d(r2, QPIK_F32, 1, 1, QPIK_ROW_MAJOR);
        a.ndim = 1;
        CHECK_OK(qpik_extraction_heldout_r2(ex, &a));
        CHECK_MSG(fabs(r2[0] - info.heldout_r2) < 1e-6, "per-energy R2 %g", r2[0]);
    }
    qpik_extraction_free(ex);
    qpik_options_free(o);
}

/* The same map column-major float64 with positions (reversed order) instead of a mask;
 * positions kept as given (map.refine_positions_px = 0). */
TEST(layouts_and_positions_give_the_same_kernel) {
    qpik_options *o;
    qpik_extraction *a = NULL, *b = NULL;
    static double map_col[MAXN * MAXN], pos[MAXD * 2], k_col[S * S], back[MAXD * 2];
    static float k[S * S];
    qpik_array ma, da, ka;
    int r, c, i, n;
    double worst = 0;
    build_scene();
    n = sc.n;
    o = map_options();
    REQUIRE_OK(qpik_options_set(o, "map.refine_positions_px", "0"));
    ma = qpik_array_2d(sc.map, QPIK_F32, n, n, QPIK_ROW_MAJOR);
    da = qpik_array_2d(sc.mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extract_map(o, &ma, &da, &a));
    ka = qpik_array_2d(k, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extraction_kernels(a, &ka));

    for (r = 0; r < n; r++) {
        for (c = 0; c < n; c++) {
            map_col[c * n + r] = sc.map[r * n + c];
        }
    }
    for (i = 0; i < sc.nd; i++) {
        pos[2 * i] = sc.rows[sc.nd - 1 - i];
        pos[2 * i + 1] = sc.cols[sc.nd - 1 - i];
    }
    ma = qpik_array_2d(map_col, QPIK_F64, n, n, QPIK_COL_MAJOR);
    da = qpik_array_2d(pos, QPIK_F64, sc.nd, 2, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extract_map(o, &ma, &da, &b));
    ka = qpik_array_2d(k_col, QPIK_F64, S, S, QPIK_COL_MAJOR);
    CHECK_OK(qpik_extraction_kernels(b, &ka));
    for (r = 0; r < S; r++) {
        for (c = 0; c < S; c++) {
            double d = fabs(k_col[c * S + r] - (double)k[r * S + c]);
            worst = d > worst ? d : worst;
        }
    }
    CHECK_MSG(worst < 1e-3, "column-major + positions differ by %g", worst);
    /* Positions come back in the order given. */
    da = qpik_array_2d(back, QPIK_F64, sc.nd, 2, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extraction_positions(b, &da));
    CHECK(memcmp(back, pos, (size_t)sc.nd * 2 * sizeof(double)) == 0);
    qpik_extraction_free(a);
    qpik_extraction_free(b);
    qpik_options_free(o);
}

/* Two energies sharing the defects, each with its own kernel and amplitudes. */
TEST(stacks_give_one_kernel_per_energy) {
    qpik_options *o;
    qpik_extraction *ex = NULL;
    qpik_extraction_info info;
    static float stack[2 * MAXN * MAXN], k[2 * S * S], amp[MAXD * 2], res[2 * MAXN * MAXN];
    static double amp2[MAXD];
    static double r2[2];
    qpik_array ma, da, ka;
    int i, n;
    build_scene();
    n = sc.n;
    for (i = 0; i < sc.nd; i++) {
        amp2[i] = 2.0 - sc.amp[i];
    }
    memcpy(stack, sc.map, (size_t)n * n * sizeof(float));
    render(n, sc.kernel2, sc.nd, sc.rows, sc.cols, amp2, stack + n * n);
    o = map_options();
    CHECK_OK(qpik_options_set(o, "map.energies_ev", "0.01,0.02"));
    ma = qpik_array_3d(stack, QPIK_F32, 2, n, n, QPIK_ROW_MAJOR);
    da = qpik_array_2d(sc.mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extract_map(o, &ma, &da, &ex));
    info.struct_size = sizeof info;
    CHECK_OK(qpik_extraction_get_info(ex, &info));
    CHECK_EQ_INT(info.energies, 2);

    /* [E, S, S] and [T, E, S, S] are accepted; [S, S] is not (E = 2). */
    ka = qpik_array_3d(k, QPIK_F32, 2, S, S, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extraction_kernels(ex, &ka));
    CHECK_MSG(pearson(k, sc.kernel, S * S) > 0.99, "energy 0 Pearson %g",
              pearson(k, sc.kernel, S * S));
    CHECK_MSG(pearson(k + S * S, sc.kernel2, S * S) > 0.99, "energy 1 Pearson %g",
              pearson(k + S * S, sc.kernel2, S * S));
    ka.ndim = 4;
    ka.shape[0] = 1;
    ka.shape[1] = 2;
    ka.shape[2] = S;
    ka.shape[3] = S;
    ka.strides[0] = 2 * S * S;
    ka.strides[1] = S * S;
    ka.strides[2] = S;
    ka.strides[3] = 1;
    CHECK_OK(qpik_extraction_kernels(ex, &ka));
    ka = qpik_array_2d(k, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "[1, 2, 15, 15] or [2, 15, 15]",
                 qpik_extraction_kernels(ex, &ka));

    da = qpik_array_2d(amp, QPIK_F32, sc.nd, 2, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extraction_amplitudes(ex, &da));
    {
        float a0[MAXD], a1[MAXD], t0[MAXD], t1[MAXD];
        for (i = 0; i < sc.nd; i++) {
            a0[i] = amp[2 * i];
            a1[i] = amp[2 * i + 1];
            t0[i] = (float)sc.amp[i];
            t1[i] = (float)amp2[i];
        }
        CHECK_MSG(pearson(a0, t0, sc.nd) > 0.99, "amplitudes 0: %g", pearson(a0, t0, sc.nd));
        CHECK_MSG(pearson(a1, t1, sc.nd) > 0.99, "amplitudes 1: %g", pearson(a1, t1, sc.nd));
    }
    ma = qpik_array_3d(res, QPIK_F32, 2, n, n, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extraction_residual(ex, &ma));
    ma = qpik_array_2d(res, QPIK_F32, n, n, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "is [2, ", qpik_extraction_residual(ex, &ma));
    ka = qpik_array_2d(r2, QPIK_F64, 2, 1, QPIK_ROW_MAJOR);
    ka.ndim = 1;
    CHECK_OK(qpik_extraction_heldout_r2(ex, &ka));
    CHECK(r2[0] > 0.9 && r2[1] > 0.9);
    qpik_extraction_free(ex);
    qpik_options_free(o);
}

/* NaN rows (bad scan lines) are left out: the kernel still comes back; the residual is NaN
 * there. Positions estimated from the map find the same defects. */
TEST(nan_rows_and_estimated_positions) {
    qpik_options *o;
    qpik_extraction *ex = NULL;
    qpik_extraction_info info;
    static float map[MAXN * MAXN], res[MAXN * MAXN], k[S * S];
    qpik_array ma, da, ka;
    int c, n;
    build_scene();
    n = sc.n;
    memcpy(map, sc.map, sizeof map);
    for (c = 0; c < n; c++) {
        map[20 * n + c] = NAN;
        map[21 * n + c] = NAN;
    }
    o = map_options();
    ma = qpik_array_2d(map, QPIK_F32, n, n, QPIK_ROW_MAJOR);
    da = qpik_array_2d(sc.mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extract_map(o, &ma, &da, &ex));
    ka = qpik_array_2d(k, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extraction_kernels(ex, &ka));
    CHECK_MSG(pearson(k, sc.kernel, S * S) > 0.99, "Pearson with NaN rows %g",
              pearson(k, sc.kernel, S * S));
    da = qpik_array_2d(res, QPIK_F32, n, n, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extraction_residual(ex, &da));
    CHECK(isnan(res[20 * n + 3]) && isnan(res[21 * n + n - 1]) && !isnan(res[22 * n]));
    qpik_extraction_free(ex);
    ex = NULL;

    /* NULL defects: estimated from the map (sharp ring centres of one sign). */
    REQUIRE_OK(qpik_extract_map(o, &ma, NULL, &ex));
    info.struct_size = sizeof info;
    CHECK_OK(qpik_extraction_get_info(ex, &info));
    CHECK_EQ_INT(info.positions_estimated, 1);
    CHECK_MSG(info.defects > 0 && info.defects <= sc.nd + 2, "%lld defects estimated",
              (long long)info.defects);
    qpik_extraction_free(ex);
    qpik_options_free(o);
}

static int32_t cancel_now(void *user, const char *stage, uint64_t done, uint64_t total,
                          const char *message) {
    (void)stage;
    (void)done;
    (void)total;
    (void)message;
    ++*(int *)user;
    return 1;
}

static int32_t count_calls(void *user, const char *stage, uint64_t done, uint64_t total,
                           const char *message) {
    (void)stage;
    (void)message;
    if (done > total) {
        return 1;
    }
    ++*(int *)user;
    return 0;
}

TEST(progress_and_cancel) {
    qpik_options *o = map_options();
    qpik_extraction *ex = (qpik_extraction *)&sc; /* a sentinel that must stay */
    static float stack[2 * MAXN * MAXN];
    qpik_array ma, da;
    int calls = 0, n;
    build_scene();
    n = sc.n;
    memcpy(stack, sc.map, (size_t)n * n * sizeof(float));
    memcpy(stack + n * n, sc.map, (size_t)n * n * sizeof(float));
    ma = qpik_array_3d(stack, QPIK_F32, 2, n, n, QPIK_ROW_MAJOR);
    da = qpik_array_2d(sc.mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_CANCELLED, "cancel",
                 qpik_extract_map_progress(o, &ma, &da, &ex, cancel_now, &calls));
    CHECK_EQ_INT(calls, 1);
    CHECK(ex == (qpik_extraction *)&sc);

    ex = NULL;
    calls = 0;
    REQUIRE_OK(qpik_extract_map_progress(o, &ma, &da, &ex, count_calls, &calls));
    CHECK_MSG(calls >= 2, "%d progress calls for 2 energies", calls);
    qpik_extraction_free(ex);
    ex = NULL;
    /* A NULL callback is allowed. */
    CHECK_OK(qpik_extract_map_progress(o, &ma, &da, &ex, NULL, NULL));
    qpik_extraction_free(ex);
    qpik_options_free(o);
}

/* Every bad input is refused before the engine runs, with its status and a message naming
 * the problem, and *out untouched. */
TEST(bad_input) {
    qpik_options *o = map_options();
    qpik_extraction *ex = NULL;
    static float map[MAXN * MAXN], small[10 * 10], pos[3 * 2];
    static unsigned char mask[MAXN * MAXN], full[MAXN * MAXN];
    qpik_array ma, da;
    int n, i;
    build_scene();
    n = sc.n;
    memcpy(map, sc.map, sizeof map);
    ma = qpik_array_2d(map, QPIK_F32, n, n, QPIK_ROW_MAJOR);
    da = qpik_array_2d(sc.mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);

    CHECK_STATUS(QPIK_ERR_NULL, "out", qpik_extract_map(o, &ma, &da, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "map", qpik_extract_map(o, NULL, &da, &ex));
    {
        /* An even kernel size is refused, naming the odd sizes beside it. */
        qpik_options *even = map_options();
        CHECK_OK(qpik_options_set(even, "map.kernel_size", "14"));
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "use 13 or 15", qpik_extract_map(even, &ma, &da, &ex));
        CHECK(ex == NULL);
        qpik_options_free(even);
    }
    {
        qpik_array u8 = qpik_array_2d(mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_DTYPE, "map", qpik_extract_map(o, &u8, &da, &ex));
    }
    {
        /* Smaller than the kernel (10 < 15), and smaller than any kernel. */
        qpik_array s = qpik_array_2d(small, QPIK_F32, 10, 10, QPIK_ROW_MAJOR);
        qpik_array m = qpik_array_2d(mask, QPIK_U8, 10, 10, QPIK_ROW_MAJOR);
        mask[0] = 1;
        CHECK_STATUS(QPIK_ERR_SHAPE, "smaller than the 15 x 15 kernel",
                     qpik_extract_map(o, &s, &m, &ex));
        s = qpik_array_2d(small, QPIK_F32, 2, 5, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "smallest kernel", qpik_extract_map(NULL, &s, NULL, &ex));
        s = qpik_array_2d(small, QPIK_F32, 4, 10, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "automatic kernel size",
                     qpik_extract_map(NULL, &s, NULL, &ex));
        mask[0] = 0;
    }
    /* No defects: an empty mask, zero positions, a flat map (nothing to find blind). */
    {
        qpik_array m = qpik_array_2d(mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
        qpik_array p = qpik_array_2d(pos, QPIK_F32, 0, 2, QPIK_ROW_MAJOR);
        qpik_array flat = qpik_array_2d(small, QPIK_F32, 10, 10, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "marks no defect",
                     qpik_extract_map(o, &ma, &m, &ex));
        CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "0 positions", qpik_extract_map(o, &ma, &p, &ex));
        CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "constant",
                     qpik_extract_map(NULL, &flat, NULL, &ex));
    }
    /* Every pixel a defect (any value above 0.5). */
    {
        qpik_array m = qpik_array_2d(full, QPIK_U8, n, n, QPIK_ROW_MAJOR);
        memset(full, 1, sizeof full);
        CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "every one", qpik_extract_map(o, &ma, &m, &ex));
    }
    /* A mask of another shape; positions of another width; positions as bytes. */
    {
        qpik_array m = qpik_array_2d(sc.mask, QPIK_U8, n, n - 1, QPIK_ROW_MAJOR);
        qpik_array p = qpik_array_2d(pos, QPIK_F32, 2, 3, QPIK_ROW_MAJOR);
        qpik_array b = qpik_array_2d(mask, QPIK_U8, 3, 2, QPIK_ROW_MAJOR);
        CHECK_STATUS(QPIK_ERR_SHAPE, "the map's shape", qpik_extract_map(o, &ma, &m, &ex));
        CHECK_STATUS(QPIK_ERR_SHAPE, "positions [N, 2]", qpik_extract_map(o, &ma, &p, &ex));
        CHECK_STATUS(QPIK_ERR_DTYPE, "positions", qpik_extract_map(o, &ma, &b, &ex));
    }
    /* Positions: outside the map beyond the kernel's reach; NaN. Within reach is fine (see
     * the layouts test for in-map positions). */
    {
        qpik_array p = qpik_array_2d(pos, QPIK_F32, 3, 2, QPIK_ROW_MAJOR);
        pos[0] = 10;
        pos[1] = 10;
        pos[2] = 30;
        pos[3] = 30;
        pos[4] = (float)n + HALF + 1;
        pos[5] = 5;
        CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "defect 2", qpik_extract_map(o, &ma, &p, &ex));
        pos[4] = -9;
        CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "outside", qpik_extract_map(o, &ma, &p, &ex));
        pos[4] = NAN;
        CHECK_STATUS(QPIK_ERR_NOT_FINITE, "defects", qpik_extract_map(o, &ma, &p, &ex));
    }
    /* Infinity in the map; a NaN mask; a layer with nothing measured. */
    map[5] = INFINITY;
    CHECK_STATUS(QPIK_ERR_NOT_FINITE, "infinite", qpik_extract_map(o, &ma, &da, &ex));
    map[5] = 0;
    {
        static float fmask[MAXN * MAXN];
        qpik_array m = qpik_array_2d(fmask, QPIK_F32, n, n, QPIK_ROW_MAJOR);
        fmask[7] = NAN;
        CHECK_STATUS(QPIK_ERR_NOT_FINITE, "mask", qpik_extract_map(o, &ma, &m, &ex));
    }
    for (i = 0; i < n * n; i++) {
        map[i] = NAN;
    }
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "all NaN", qpik_extract_map(o, &ma, &da, &ex));
    memcpy(map, sc.map, sizeof map);
    /* Options: out of range when built; energies that do not match the layers; a budget
     * smaller than the map. */
    {
        qpik_options *bad = map_options();
        CHECK_OK(qpik_options_set(bad, "map.kernel_size", "1"));
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "kernel size", qpik_extract_map(bad, &ma, &da, &ex));
        CHECK_OK(qpik_options_set(bad, "map.kernel_size", "15"));
        CHECK_OK(qpik_options_set(bad, "map.energies_ev", "0.1,0.2"));
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "map.energies_ev",
                     qpik_extract_map(bad, &ma, &da, &ex));
        CHECK_OK(qpik_options_set(bad, "map.energies_ev", "0.1"));
        CHECK_OK(qpik_options_set(bad, "map.memory_budget_bytes", "1048576"));
        {
            static float big[600 * 600];
            qpik_array bm = qpik_array_2d(big, QPIK_F32, 600, 600, QPIK_ROW_MAJOR);
            CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "memory budget",
                         qpik_extract_map(bad, &bm, NULL, &ex));
        }
        CHECK_STATUS(QPIK_ERR_UNKNOWN_OPTION, "map.symmetry",
                     qpik_options_set(bad, "map.symetry", "4"));
        CHECK_STATUS(QPIK_ERR_OPTION_VALUE, "1, 2, 3, 4, 6, m, 2mm, 3m, 4mm, 6mm",
                     qpik_options_set(bad, "map.symmetry", "5"));
        qpik_options_free(bad);
    }
    CHECK(ex == NULL);
    qpik_options_free(o);
}

TEST(accessors_check_their_arguments) {
    qpik_options *o = map_options();
    qpik_extraction *ex = NULL;
    qpik_extraction_info info;
    static float k[S * S + 1];
    static int32_t ints[S * S];
    qpik_array ma, da, ka;
    int n;
    build_scene();
    n = sc.n;
    /* NULL handles: accessors refuse, free accepts. */
    ka = qpik_array_2d(k, QPIK_F32, S, S, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_NULL, "ex", qpik_extraction_kernels(NULL, &ka));
    info.struct_size = sizeof info;
    CHECK_STATUS(QPIK_ERR_NULL, "ex", qpik_extraction_get_info(NULL, &info));
    qpik_extraction_free(NULL);

    ma = qpik_array_2d(sc.map, QPIK_F32, n, n, QPIK_ROW_MAJOR);
    da = qpik_array_2d(sc.mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extract_map(o, &ma, &da, &ex));
    CHECK_STATUS(QPIK_ERR_NULL, "info", qpik_extraction_get_info(ex, NULL));
    info.struct_size = 0;
    CHECK_STATUS(QPIK_ERR_INVALID_ARGUMENT, "struct_size", qpik_extraction_get_info(ex, &info));
    /* An older caller's shorter struct gets only the fields it knows. */
    {
        qpik_extraction_info old;
        memset(&old, 0xAB, sizeof old);
        old.struct_size = 16;
        CHECK_OK(qpik_extraction_get_info(ex, &old));
        CHECK_EQ_INT(old.types, 1);
        CHECK(old.energies == (int64_t)0xABABABABABABABABULL);
        /* The 88-byte struct of headers before mirror_axis_deg: all but that field. */
        memset(&old, 0xAB, sizeof old);
        old.struct_size = 88;
        CHECK_OK(qpik_extraction_get_info(ex, &old));
        CHECK_EQ_INT(old.reserved, 0);
        CHECK(memcmp(&old.mirror_axis_deg, "\xAB\xAB\xAB\xAB\xAB\xAB\xAB\xAB", 8) == 0);
        /* The 96-byte struct of headers before method: not the fields after it. */
        memset(&old, 0xAB, sizeof old);
        old.struct_size = 96;
        CHECK_OK(qpik_extraction_get_info(ex, &old));
        /* Written (NaN without a mirror line, else the line's angle). */
        CHECK(memcmp(&old.mirror_axis_deg, "\xAB\xAB\xAB\xAB\xAB\xAB\xAB\xAB", 8) != 0);
        CHECK(isnan(old.mirror_axis_deg) ||
              (old.mirror_axis_deg >= 0.0 && old.mirror_axis_deg < 180.0));
        CHECK(old.method == 0xABABABABu && old.explains_little == 0xABABABABu);
        CHECK(old.excluded_pixels == (int64_t)0xABABABABABABABABULL);
        /* The 112-byte struct of headers before control_heldout_r2: not that field. */
        memset(&old, 0xAB, sizeof old);
        old.struct_size = 112;
        CHECK_OK(qpik_extraction_get_info(ex, &old));
        CHECK_EQ_INT(old.excluded_pixels, 0);
        CHECK(memcmp(&old.control_heldout_r2, "\xAB\xAB\xAB\xAB\xAB\xAB\xAB\xAB", 8) == 0);
        old.struct_size = sizeof old;
        CHECK_OK(qpik_extraction_get_info(ex, &old));
        CHECK_EQ_INT(old.method, QPIK_METHOD_FORWARD);
        CHECK_EQ_INT(old.explains_little, 0);
        CHECK_EQ_INT(old.excluded_pixels, 0);
        /* No control is scored for a forward extraction. */
        CHECK(isnan(old.control_heldout_r2));
    }
    CHECK_STATUS(QPIK_ERR_NULL, "out", qpik_extraction_kernels(ex, NULL));
    ka = qpik_array_2d(k, QPIK_F32, S, S + 1, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "[15, 15]", qpik_extraction_kernels(ex, &ka));
    ka = qpik_array_2d(k, QPIK_U8, S, S, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_DTYPE, "out", qpik_extraction_kernel_std(ex, &ka));
    ka = qpik_array_2d(ints, 7, S, S, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_DTYPE, "qpik_dtype", qpik_extraction_residual(ex, &ka));
    ka = qpik_array_2d(k, QPIK_F32, sc.nd + 1, 2, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "but the extraction's is", qpik_extraction_positions(ex, &ka));
    ka = qpik_array_2d(k, QPIK_F32, 2, 1, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "out", qpik_extraction_heldout_r2(ex, &ka));
    qpik_extraction_free(ex);
    qpik_options_free(o);
}

/* A blind run on a map whose last scan lines are one constant value (an aborted scan): the
 * result says it was blind, which pixels it left out (those lines, as a mask in any dtype)
 * and why (the notes); a forward run says forward and leaves nothing out; a kernel fitted
 * to noise says it explains little. */
TEST(blind_results_say_what_was_left_out) {
    qpik_options *o = map_options();
    qpik_extraction *ex = NULL;
    qpik_extraction_info info;
    static float map[MAXN * MAXN];
    static unsigned char got[MAXN * MAXN];
    static double got64[MAXN * MAXN];
    char notes[4096], tiny[4];
    size_t needed = 0;
    qpik_array ma, ea;
    int n, r, c, aborted = 4, wrong = 0;
    long long ones = 0;
    build_scene();
    n = sc.n;
    memcpy(map, sc.map, sizeof map);
    for (r = n - aborted; r < n; r++) {
        for (c = 0; c < n; c++) {
            map[r * n + c] = 0.25f;
        }
    }
    ma = qpik_array_2d(map, QPIK_F32, n, n, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extract_map(o, &ma, NULL, &ex));
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    REQUIRE_OK(qpik_extraction_get_info(ex, &info));
    CHECK_EQ_INT(info.method, QPIK_METHOD_BLIND);
    CHECK_MSG(info.excluded_pixels >= (int64_t)aborted * n, "%lld pixels left out",
              (long long)info.excluded_pixels);
    /* The structureless control is scored beside the kernel, and the kernel beats it. */
    CHECK_MSG(isfinite(info.control_heldout_r2) && info.control_heldout_r2 < info.heldout_r2,
              "control %g, kernel %g", info.control_heldout_r2, info.heldout_r2);
    ea = qpik_array_2d(got, QPIK_U8, n, n, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extraction_excluded(ex, &ea));
    for (r = 0; r < n; r++) {
        for (c = 0; c < n; c++) {
            ones += got[r * n + c];
            wrong += got[r * n + c] > 1 || (r >= n - aborted && got[r * n + c] != 1);
        }
    }
    CHECK_MSG(wrong == 0, "%d pixels of the mask wrong (not 0/1, or an aborted line kept)", wrong);
    CHECK_EQ_INT(ones, info.excluded_pixels);
    /* The same mask as float64 in column-major order. */
    ea = qpik_array_2d(got64, QPIK_F64, n, n, QPIK_COL_MAJOR);
    REQUIRE_OK(qpik_extraction_excluded(ex, &ea));
    wrong = 0;
    for (r = 0; r < n; r++) {
        for (c = 0; c < n; c++) {
            wrong += got64[r + c * n] != (double)got[r * n + c];
        }
    }
    CHECK_MSG(wrong == 0, "%d pixels differ between the u8 and the column-major f64 mask", wrong);
    ea = qpik_array_2d(got, QPIK_U8, n, n - 1, QPIK_ROW_MAJOR);
    CHECK_STATUS(QPIK_ERR_SHAPE, "but the extraction's is", qpik_extraction_excluded(ex, &ea));
    CHECK_STATUS(QPIK_ERR_NULL, "out", qpik_extraction_excluded(ex, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "ex", qpik_extraction_excluded(NULL, &ea));

    /* The notes: a size query, too small a buffer, then the text. */
    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "size query",
                 qpik_extraction_notes(ex, NULL, 0, &needed));
    CHECK(needed > 1 && needed < sizeof notes);
    CHECK_STATUS(QPIK_ERR_BUFFER_TOO_SMALL, "needs", qpik_extraction_notes(ex, tiny, 4, NULL));
    CHECK_OK(qpik_extraction_notes(ex, notes, sizeof notes, &needed));
    CHECK_EQ_INT(strlen(notes) + 1, needed);
    CHECK_MSG(strstr(notes, "constant scan lines") != NULL, "notes: %s", notes);
    CHECK_STATUS(QPIK_ERR_NULL, "ex", qpik_extraction_notes(NULL, notes, sizeof notes, NULL));
    qpik_extraction_free(ex);
    ex = NULL;

    /* Forward on the clean map: nothing left out. */
    ma = qpik_array_2d(sc.map, QPIK_F32, n, n, QPIK_ROW_MAJOR);
    ea = qpik_array_2d(sc.mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
    REQUIRE_OK(qpik_extract_map(o, &ma, &ea, &ex));
    REQUIRE_OK(qpik_extraction_get_info(ex, &info));
    CHECK_EQ_INT(info.method, QPIK_METHOD_FORWARD);
    CHECK_EQ_INT(info.excluded_pixels, 0);
    CHECK_EQ_INT(info.explains_little, 0);
    memset(got, 7, sizeof got);
    ea = qpik_array_2d(got, QPIK_U8, n, n, QPIK_ROW_MAJOR);
    CHECK_OK(qpik_extraction_excluded(ex, &ea));
    CHECK(memchr(got, 1, (size_t)n * n) == NULL && memchr(got, 7, (size_t)n * n) == NULL);
    qpik_extraction_free(ex);
    ex = NULL;

    /* Noise alone at those positions: the kernel explains nothing held out. */
    {
        uint64_t st = 99;
        for (r = 0; r < n * n; r++) {
            map[r] = (float)(lcg(&st) - 0.5);
        }
        ma = qpik_array_2d(map, QPIK_F32, n, n, QPIK_ROW_MAJOR);
        ea = qpik_array_2d(sc.mask, QPIK_U8, n, n, QPIK_ROW_MAJOR);
        REQUIRE_OK(qpik_extract_map(o, &ma, &ea, &ex));
        REQUIRE_OK(qpik_extraction_get_info(ex, &info));
        CHECK_MSG(info.explains_little == 1 && !(info.heldout_r2 >= 0.1),
                  "noise: explains_little %u, held-out R^2 %g", info.explains_little,
                  info.heldout_r2);
    }
    qpik_extraction_free(ex);
    qpik_options_free(o);
}

QT_MAIN(QT_CASE(kernel_positions_and_amplitudes_come_back),
        QT_CASE(layouts_and_positions_give_the_same_kernel),
        QT_CASE(stacks_give_one_kernel_per_energy), QT_CASE(nan_rows_and_estimated_positions),
        QT_CASE(progress_and_cancel), QT_CASE(bad_input), QT_CASE(accessors_check_their_arguments),
        QT_CASE(blind_results_say_what_was_left_out))
