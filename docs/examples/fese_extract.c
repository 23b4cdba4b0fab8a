/*
 * The worked example of docs/c.md: the kernel of the real FeSe scan through the C ABI.
 *
 *   cc fese_extract.c $(pkg-config --cflags --libs qpik) -o fese_extract
 *   ./fese_extract tests/data/FeSe_topography.sxm
 *
 * Reads the forward LIY_1_omega image of a Nanonis .sxm (a minimal reader: big-endian
 * float32, channels in :DATA_INFO: order, forward then backward for "both"; this scan went
 * down, so row 0 is the top), lets qpik estimate the defects from the map, and prints the
 * kernel's size, the held-out R^2 and the kernel's centre row.
 */
#include <qpik.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 224
#define COLS 224

static float be_float(const unsigned char *b) {
    uint32_t u = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "tests/data/FeSe_topography.sxm";
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        perror(path);
        return 1;
    }
    static unsigned char file[8 << 20];
    size_t n = fread(file, 1, sizeof file, fp);
    fclose(fp);
    /* The header ends with :SCANIT_END:, the data start after 0x1A 0x04. */
    unsigned char *data = NULL;
    for (size_t i = 0; i + 1 < n; i++) {
        if (file[i] == 0x1a && file[i + 1] == 0x04) {
            data = file + i + 2;
            break;
        }
    }
    /* Channel order in this file's :DATA_INFO: Z (both), Current (both), LIY_1_omega (both). */
    const size_t image = (size_t)ROWS * COLS * 4, liy = 4 * image;
    if (data == NULL || (size_t)(data - file) + liy + image > n) {
        fprintf(stderr, "%s: not the expected .sxm layout\n", path);
        return 1;
    }
    static float map[ROWS * COLS];
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) {
        map[i] = be_float(data + liy + 4 * i);
    }

    qpik_options *opts = NULL;
    qpik_options_new(&opts);
    qpik_options_set(opts, "map.pixel_size_m", "8.92857e-11"); /* 20 nm / 224 pixels */
    qpik_options_set(opts, "map.value_unit", "A");
    qpik_array m = qpik_array_2d(map, QPIK_F32, ROWS, COLS, QPIK_ROW_MAJOR);
    qpik_extraction *ex = NULL;
    qpik_status st = qpik_extract_map(opts, &m, NULL, &ex); /* NULL: defects from the map */
    qpik_options_free(opts);
    if (st != QPIK_OK) {
        fprintf(stderr, "qpik: %s: %s\n", qpik_status_name(st), qpik_last_error());
        return 1;
    }
    qpik_extraction_info info = {.struct_size = sizeof info};
    qpik_extraction_get_info(ex, &info);
    int64_t s = info.kernel_size;
    float *kernel = malloc(sizeof(float) * (size_t)(s * s));
    qpik_array k = qpik_array_2d(kernel, QPIK_F32, s, s, QPIK_ROW_MAJOR);
    qpik_extraction_kernels(ex, &k);
    printf("%lld defects (estimated: %u), kernel %lld x %lld px of %.3f A, held-out R^2 %.3f\n",
           (long long)info.defects, info.positions_estimated, (long long)s, (long long)s,
           info.pixel_size_m * 1e10, info.heldout_r2);
    printf("impurity pixel (%lld, %lld): %.4g A\n", (long long)(s / 2), (long long)(s / 2),
           kernel[(s / 2) * s + s / 2]);
    free(kernel);
    qpik_extraction_free(ex);
    return 0;
}
