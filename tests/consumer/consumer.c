/* A program using an installed qpik: version and ABI, a catalog kernel, an observation of
 * it, and the estimated defect mask. Exit status 0 on success. */
#include <qpik.h>

#include <stdio.h>
#include <string.h>

static int fail(const char *what, qpik_status s) {
    fprintf(stderr, "consumer: %s: %s: %s\n", what, qpik_status_name(s), qpik_last_error());
    return 1;
}

int main(void) {
    qpik_kernel *k = NULL;
    qpik_observation *o = NULL;
    qpik_kernel_info info;
    static float image[48 * 48];
    static unsigned char mask[48 * 48];
    size_t count = 0, found = 0;
    qpik_array a = qpik_array_2d(image, QPIK_F32, 48, 48, QPIK_ROW_MAJOR);
    qpik_array m = qpik_array_2d(mask, QPIK_U8, 48, 48, QPIK_ROW_MAJOR);
    qpik_status s;

    if (qpik_abi_version() != QPIK_ABI_VERSION || strcmp(qpik_version(), QPIK_VERSION_STRING)) {
        fprintf(stderr, "consumer: header %s (ABI %d) but library %s (ABI %u)\n",
                QPIK_VERSION_STRING, QPIK_ABI_VERSION, qpik_version(), qpik_abi_version());
        return 1;
    }
    if ((s = qpik_catalog_count(&count)) != QPIK_OK) return fail("catalog", s);
    if ((s = qpik_kernel_new("shockley-cu111-m100meV", NULL, NULL, &k)) != QPIK_OK)
        return fail("kernel", s);
    info.struct_size = sizeof info;
    if ((s = qpik_kernel_get_info(k, &info)) != QPIK_OK) return fail("kernel info", s);
    if ((s = qpik_observation_new(k, 48, 48, NULL, &o)) != QPIK_OK) return fail("observation", s);
    if ((s = qpik_observation_image(o, &a, NULL)) != QPIK_OK) return fail("image", s);
    if ((s = qpik_estimate_mask(&a, &m, &found)) != QPIK_OK) return fail("mask", s);
    qpik_observation_free(o);
    qpik_kernel_free(k);
    printf("qpik %s: %zu catalog kernels; kernel %lld x %lld; %zu defects estimated\n",
           qpik_version(), count, (long long)info.rows, (long long)info.cols, found);
    return count > 0 && info.rows == 64 && found > 0 ? 0 : 1;
}
