/*
 * C tests of the physics fits' entry points (qpik_fit_file, qpik_gap_sign_file and their
 * results): every required pointer, a missing file and a file that is not an extraction
 * result are refused with the status and a message that names them, and the output handle
 * is left untouched; the frees accept NULL. And a real analysis, all through the C ABI: a
 * Cu(111) Shockley kernel simulated, a map of 12 defects synthesised, its kernel extracted
 * and written as a result file (qpik_extraction_write), and the effective mass fitted back
 * from a start 13 % off; and a gap sign decided from kernels extracted from a map stack at
 * +-E. (The fits themselves are tested in Rust, tests/fit.rs and tests/gap_sign.rs, and
 * through Python.)
 */
#include "harness.h"

#define DATASET QPIK_TEST_DATA_DIR "/tiny-dataset.h5"
#define MISSING QPIK_TEST_DATA_DIR "/no-such-result.h5"

TEST(fit_file_refuses_bad_arguments_and_files) {
    qpik_fit_result *r = (qpik_fit_result *)0x1;
    CHECK_STATUS(QPIK_ERR_NULL, "result_path", qpik_fit_file(NULL, DATASET, NULL, &r, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "spec_path", qpik_fit_file(DATASET, NULL, NULL, &r, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "out", qpik_fit_file(DATASET, DATASET, NULL, NULL, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_IO, "no-such-result.h5",
                 qpik_fit_file(MISSING, DATASET, NULL, &r, NULL, NULL));
    CHECK(r == (qpik_fit_result *)0x1);
    qpik_fit_result_free(NULL);
}

TEST(gap_sign_file_refuses_bad_arguments_and_files) {
    qpik_gap_sign_result *r = (qpik_gap_sign_result *)0x1;
    qpik_gap_verdict v;
    double c;
    char buf[16];
    size_t needed;
    CHECK_STATUS(QPIK_ERR_NULL, "result_path",
                 qpik_gap_sign_file(NULL, NULL, NULL, &r, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_NULL, "out", qpik_gap_sign_file(DATASET, NULL, NULL, NULL, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_IO, "no-such-result.h5",
                 qpik_gap_sign_file(MISSING, NULL, NULL, &r, NULL, NULL));
    CHECK_STATUS(QPIK_ERR_FORMAT, "tiny-dataset.h5",
                 qpik_gap_sign_file(DATASET, NULL, NULL, &r, NULL, NULL));
    CHECK(r == (qpik_gap_sign_result *)0x1);
    CHECK_STATUS(QPIK_ERR_NULL, "NULL", qpik_gap_sign_result_verdict(NULL, &v, &c));
    CHECK_STATUS(QPIK_ERR_NULL, "NULL", qpik_gap_sign_result_json(NULL, buf, sizeof buf, &needed));
    qpik_gap_sign_result_free(NULL);
}

enum { N = 128 };

/* The number after `"key":` in the JSON object that starts at `from`, NAN when absent. */
static double json_number(const char *from, const char *key) {
    char pattern[64];
    const char *p;
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    p = from ? strstr(from, pattern) : NULL;
    return p ? strtod(p + strlen(pattern), NULL) : NAN;
}

TEST(a_real_analysis_fits_the_effective_mass_back) {
    static const char *const obs_kv[] = {"seed", "3", "defects.count_min", "12",
                                         "defects.count_max", "12", NULL};
    static const char *const map_kv[] = {"map.pixel_size_m", "1.25e-10", "map.kernel_size", "41",
                                         "map.bootstrap", "0", NULL};
    static const char fit_table[] = "\n[fit]\nfree = [\"model.effective_mass\"]\n"
                                    "[fit.bounds]\n\"model.effective_mass\" = [0.2, 0.6]\n";
    static float map[N * N];
    static unsigned char mask[N * N];
    static char spec[8192], json[16384];
    char *dir = qt_tempdir("fit"), result[1100], spec_path[1100], fitted[1100];
    const char *param;
    qpik_kernel *k = NULL;
    qpik_observation *obs = NULL;
    qpik_extraction *ex = NULL;
    qpik_fit_result *fr = NULL;
    qpik_options *oo = qt_options(obs_kv), *mo = qt_options(map_kv);
    qpik_array ma = qpik_array_2d(map, QPIK_F32, N, N, QPIK_ROW_MAJOR);
    qpik_array ka = qpik_array_2d(mask, QPIK_U8, N, N, QPIK_ROW_MAJOR);
    size_t needed = 0;
    char *mass;
    double value, std_error;
    FILE *f;

    REQUIRE_OK(qpik_kernel_new("shockley-cu111-100meV", NULL, NULL, &k));
    REQUIRE_OK(qpik_observation_new(k, N, N, oo, &obs));
    REQUIRE_OK(qpik_observation_image(obs, &ma, &ka));
    REQUIRE_OK(qpik_extract_map(mo, &ma, &ka, &ex));
    snprintf(result, sizeof result, "%s/k.h5", dir);
    snprintf(spec_path, sizeof spec_path, "%s/start.toml", dir);
    snprintf(fitted, sizeof fitted, "%s/fit.toml", dir);
    REQUIRE_OK(qpik_extraction_write(ex, result));

    /* The catalog's spec (m* 0.38) started at m* 0.33, with the mass free. */
    REQUIRE_OK(qpik_catalog_spec("shockley-cu111-100meV", spec, sizeof spec - sizeof fit_table,
                                 &needed));
    mass = strstr(spec, "effective_mass = 0.38\n");
    REQUIRE(mass != NULL);
    memcpy(mass + strlen("effective_mass = "), "0.33", 4);
    f = fopen(spec_path, "w");
    REQUIRE(f != NULL);
    fputs(spec, f);
    fputs(fit_table, f);
    fclose(f);

    REQUIRE_OK(qpik_fit_file(result, spec_path, fitted, &fr, NULL, NULL));
    CHECK_OK(qpik_fit_result_json(fr, json, sizeof json, &needed));
    param = strstr(json, "\"name\":\"model.effective_mass\"");
    REQUIRE(param != NULL);
    value = json_number(param, "value");
    std_error = json_number(param, "std_error");
    fprintf(stderr, "fitted m* %.4f +- %.4f (truth 0.38, start 0.33)\n", value, std_error);
    CHECK(fabs(value - 0.38) < 0.02 * 0.38);
    CHECK(std_error > 0.0 && std_error < 0.01);
    f = fopen(fitted, "r");
    CHECK(f != NULL);
    if (f != NULL) {
        size_t n = fread(spec, 1, sizeof spec - 1, f);
        spec[n] = '\0';
        fclose(f);
        CHECK(strstr(spec, "[fit.result") != NULL);
        CHECK(strstr(spec, "effective_mass = 0.33") == NULL);
    }

    qpik_fit_result_free(fr);
    qpik_extraction_free(ex);
    qpik_observation_free(obs);
    qpik_kernel_free(k);
    qpik_options_free(oo);
    qpik_options_free(mo);
    qt_rmdir(dir);
}

/* The spec file `name` from the test data into `buf`; 0 when it does not fit. */
static size_t read_spec(const char *name, char *buf, size_t len) {
    char path[1100];
    FILE *f;
    size_t n;
    snprintf(path, sizeof path, "%s/%s", QPIK_TEST_DATA_DIR, name);
    f = fopen(path, "r");
    if (f == NULL) return 0;
    n = fread(buf, 1, len - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n < len - 1 ? n : 0;
}

/* A standard normal deviate from a 64-bit LCG (Box-Muller); the state is the caller's. */
static double normal(unsigned long long *state) {
    double u[2];
    int i;
    for (i = 0; i < 2; i++) {
        *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
        u[i] = ((double)(*state >> 11) + 0.5) / 9007199254740992.0;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

enum { GH = 120, GE = 6, GS = 25, GD = 16 };

/* A real gap-sign analysis through the C ABI: an iron s+- spec (tests/data, kept equal to
 * tests/gap_sign.rs's) simulated at +-0.5, 0.8 and 1.0 times its 20 meV gap, a [6, 120, 120]
 * map stack of 16 impurities shared by every layer stamped with those kernels and Gaussian
 * noise of 20 % of each layer's rms added, the kernels extracted with the positions given and
 * written as a result file, and that file analysed with a sign-preserving model off the
 * truth (gap +5 %, broadening +20 %, impurity -20 %): the verdict must be sign-changing. */
TEST(a_real_gap_sign_analysis_finds_the_sign_change) {
    static const double fractions[3] = {0.5, 0.8, 1.0};
    static char truth[16384], edited[16384], json[65536];
    static float map[GE * GH * GH], kernel[GS * GS];
    static double positions[GD * 2];
    char *dir = qt_tempdir("gapsign"), result[1100], model[1100], energies[256], *at;
    double energy[GE], amplitude[GD];
    size_t needed = 0, len = 0;
    unsigned long long state = 7;
    int e, d, i, j;
    enum qpik_gap_verdict verdict = QPIK_GAP_UNDECIDED;
    double confidence = 0.0;
    qpik_options *mo = NULL;
    qpik_extraction *ex = NULL;
    qpik_gap_sign_result *r = NULL;
    qpik_array ma = qpik_array_3d(map, QPIK_F32, GE, GH, GH, QPIK_ROW_MAJOR);
    qpik_array pa = qpik_array_2d(positions, QPIK_F64, GD, 2, QPIK_ROW_MAJOR);

    REQUIRE(read_spec("gap-sign-truth-spm.toml", truth, sizeof truth) > 0);
    at = strstr(truth, "energy_ev = 0.008\n");
    REQUIRE(at != NULL);
    for (d = 0; d < GD; d++) {
        positions[2 * d] = 15 + (d / 4) * 30 + (double)(d % 3);
        positions[2 * d + 1] = 15 + (d % 4) * 30 + (double)(d % 2);
        amplitude[d] = 0.6 + 0.8 * (double)((d * 7) % GD) / GD;
    }
    for (e = 0; e < GE; e++) {
        qpik_kernel *k = NULL;
        qpik_array ka = qpik_array_2d(kernel, QPIK_F32, GS, GS, QPIK_ROW_MAJOR);
        float *layer = map + (size_t)e * GH * GH;
        double rms = 0.0;
        energy[e] = (e % 2 == 0 ? 1.0 : -1.0) * fractions[e / 2] * 0.02;
        snprintf(edited, sizeof edited, "%.*senergy_ev = %.6f\n%s", (int)(at - truth), truth,
                 energy[e], at + strlen("energy_ev = 0.008\n"));
        REQUIRE_OK(qpik_kernel_new(NULL, edited, NULL, &k));
        REQUIRE_OK(qpik_kernel_image(k, &ka));
        qpik_kernel_free(k);
        for (d = 0; d < GD; d++) {
            int r0 = (int)positions[2 * d] - GS / 2, c0 = (int)positions[2 * d + 1] - GS / 2;
            for (i = 0; i < GS; i++)
                for (j = 0; j < GS; j++)
                    layer[(r0 + i) * GH + c0 + j] += (float)(amplitude[d] * kernel[i * GS + j]);
        }
        for (i = 0; i < GH * GH; i++) rms += (double)layer[i] * layer[i];
        rms = sqrt(rms / (GH * GH));
        for (i = 0; i < GH * GH; i++) layer[i] += (float)(0.2 * rms * normal(&state));
        len += (size_t)snprintf(energies + len, sizeof energies - len, "%s%.6f", e ? "," : "",
                                energy[e]);
    }
    REQUIRE_OK(qpik_options_new(&mo));
    CHECK_OK(qpik_options_set(mo, "map.kernel_size", "25"));
    CHECK_OK(qpik_options_set(mo, "map.energies_ev", energies));
    CHECK_OK(qpik_options_set(mo, "map.pixel_size_m", "2e-10"));
    REQUIRE_OK(qpik_extract_map(mo, &ma, &pa, &ex));
    snprintf(result, sizeof result, "%s/k.h5", dir);
    REQUIRE_OK(qpik_extraction_write(ex, result));

    snprintf(model, sizeof model, "%s/gap-sign-model-spp.toml", QPIK_TEST_DATA_DIR);
    REQUIRE_OK(qpik_gap_sign_file(result, NULL, model, &r, NULL, NULL));
    CHECK_OK(qpik_gap_sign_result_verdict(r, &verdict, &confidence));
    CHECK_OK(qpik_gap_sign_result_json(r, json, sizeof json, &needed));
    fprintf(stderr, "gap sign: verdict %d, confidence %.6f, sigma %.1f\n", (int)verdict,
            confidence, json_number(json, "sigma"));
    CHECK(verdict == QPIK_GAP_SIGN_CHANGING);
    CHECK(confidence > 0.997);

    qpik_gap_sign_result_free(r);
    qpik_extraction_free(ex);
    qpik_options_free(mo);
    qt_rmdir(dir);
}

TEST(extraction_write_refuses_bad_arguments) {
    CHECK_STATUS(QPIK_ERR_NULL, "ex", qpik_extraction_write(NULL, "/tmp/k.h5"));
}

QT_MAIN(QT_CASE(fit_file_refuses_bad_arguments_and_files),
        QT_CASE(gap_sign_file_refuses_bad_arguments_and_files),
        QT_CASE(a_real_analysis_fits_the_effective_mass_back),
        QT_CASE(a_real_gap_sign_analysis_finds_the_sign_change),
        QT_CASE(extraction_write_refuses_bad_arguments))
