/*
 * The toolkit-free core of qpik's Igor Pro XOP: Igor waves to and from qpik arrays, and
 * qpik's errors as XOP errors. Plain C11 against include/qpik.h; no XOP Toolkit header, so it
 * compiles and is unit-tested anywhere (plugins/igor/xop/test_core.c). The toolkit-only part
 * (registration of the QPIKExtract operation, wave creation) is qpik_xop.c.
 *
 * Conventions:
 * - An Igor wave is column-major: point [p][q][r][s] of a wave with dims {P, Q, R, S} sits
 *   at element p + P*(q + Q*(r + R*s)).
 * - A 2-D map wave M[p][q] is qpik's image [row = p, col = q]; a 3-D wave M[p][q][r] is an
 *   energy stack with the energies along its layers: qpik's [E, H, W] = [r, p, q]. Float
 *   waves are passed to qpik in place through strides (no copy); integer waves are converted
 *   to double first.
 * - Defects: a mask wave of the map's P x Q (a point above 0.5 is one defect), or a
 *   positions wave [N][2] of (p, q) points, subpixel allowed.
 * - Results are made as Igor waves in the same orientation: kernel[i][j] (impurity at point
 *   (S/2, S/2)), [i][j][e] for stacks, [i][j][e][t] for several types; positions[n][2];
 *   amplitudes[n][e]; types[n]; residual[p][q] or [p][q][e]; heldout_r2[e]. qpik writes
 *   each straight into the wave's memory through strides.
 */
#ifndef QPIK_IGOR_CORE_H
#define QPIK_IGOR_CORE_H

#include "qpik.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Igor's number types, as WaveType() and the XOP Toolkit's NT_* constants spell them. */
enum {
    QPIK_IGOR_NT_CMPLX = 0x01,
    QPIK_IGOR_NT_FP32 = 0x02,
    QPIK_IGOR_NT_FP64 = 0x04,
    QPIK_IGOR_NT_I8 = 0x08,
    QPIK_IGOR_NT_I16 = 0x10,
    QPIK_IGOR_NT_I32 = 0x20,
    QPIK_IGOR_NT_UNSIGNED = 0x40,
    QPIK_IGOR_NT_I64 = 0x80
};

/* Igor's maximum number of dimensions (MAX_DIMENSIONS). */
#define QPIK_IGOR_MAX_DIMS 4
/* The first error code an XOP may define (FIRST_XOP_ERR in the XOP Toolkit). */
#define QPIK_IGOR_FIRST_XOP_ERR 10000
/* Most points of a wave handed to qpik (4 GiB as double), checked before converting. */
#define QPIK_IGOR_MAX_POINTS ((int64_t)1 << 29)

/* The core's own errors, before any qpik call; qpik's statuses follow (see below). */
typedef enum qpik_igor_error {
    QPIK_IGOR_OK = 0,
    QPIK_IGOR_ERR_WAVE_TYPE = 1, /* complex, text or unknown number type */
    QPIK_IGOR_ERR_WAVE_DIMS = 2, /* not a 2-D or 3-D map, or defects of another shape */
    QPIK_IGOR_ERR_TOO_LARGE = 3, /* more than QPIK_IGOR_MAX_POINTS */
    QPIK_IGOR_ERR_NO_MEMORY = 4
} qpik_igor_error;

/* A wave as the XOP sees it: WaveData(), WaveType() and MDGetWaveDimensions(). */
typedef struct qpik_igor_wave {
    const void *data;
    int type;
    int64_t dims[QPIK_IGOR_MAX_DIMS]; /* points per dimension; 0 for dimensions it lacks */
} qpik_igor_wave;

/* A qpik_array over a wave, plus the converted copy it may own. */
typedef struct qpik_igor_array {
    qpik_array array;
    double *scratch; /* NULL when the wave is used in place; free with qpik_igor_array_free */
} qpik_igor_array;

/* Number of dimensions of a wave (trailing zero dims dropped). */
int qpik_igor_wave_ndims(const qpik_igor_wave *w);

/* Bytes of one point of a real number type, 0 for complex, text or unknown types. */
size_t qpik_igor_type_size(int type);

/* The map wave as qpik's [H, W] or [E, H, W]. Float waves in place; integer waves copied to
 * double. Returns QPIK_IGOR_OK or an error, with a message in err (may be NULL). */
qpik_igor_error qpik_igor_map_array(const qpik_igor_wave *map, qpik_igor_array *out, char *err,
                                    size_t err_len);

/* The defects wave for that map: a mask of the map's P x Q, or positions [N][2]. */
qpik_igor_error qpik_igor_defects_array(const qpik_igor_wave *defects, const qpik_igor_wave *map,
                                        qpik_igor_array *out, char *err, size_t err_len);

void qpik_igor_array_free(qpik_igor_array *a);

/* The results a wave can be made for. */
typedef enum qpik_igor_result {
    QPIK_IGOR_KERNELS = 0,
    QPIK_IGOR_KERNEL_STD = 1,
    QPIK_IGOR_POSITIONS = 2,
    QPIK_IGOR_AMPLITUDES = 3,
    QPIK_IGOR_TYPES = 4,
    QPIK_IGOR_RESIDUAL = 5,
    QPIK_IGOR_HELDOUT_R2 = 6
} qpik_igor_result;

/* The Igor dims of the wave that holds a result (MDMakeWave's dimensionSizes; zeros after
 * the last). Returns the number of dimensions. */
int qpik_igor_result_dims(const qpik_extraction_info *info, qpik_igor_result which,
                          int64_t dims[QPIK_IGOR_MAX_DIMS]);

/* A qpik_array over a wave of those dims (type QPIK_IGOR_NT_FP32 or _FP64) at wave_data,
 * shaped and strided as the qpik_extraction_* call for that result wants, so that the call
 * writes the wave in Igor's layout. Returns QPIK_IGOR_OK or QPIK_IGOR_ERR_WAVE_TYPE. */
qpik_igor_error qpik_igor_result_array(const qpik_extraction_info *info, qpik_igor_result which,
                                       void *wave_data, int type, qpik_array *out);

/* Fills a wave made with qpik_igor_result_dims from the extraction (one qpik call). */
qpik_status qpik_igor_fill_result(const qpik_extraction *ex, const qpik_extraction_info *info,
                                  qpik_igor_result which, void *wave_data, int type);

/* x offset of a kernel wave so that x = 0 at the impurity point S/2: -(S/2) * delta. */
double qpik_igor_kernel_offset(int64_t kernel_size, double delta);

/* Adapters + qpik_extract_map: defects may be NULL (qpik finds the defects in the map).
 * Returns a qpik status; the core's own errors come back as QPIK_ERR_INVALID_ARGUMENT,
 * QPIK_ERR_DTYPE or QPIK_ERR_SHAPE with the message in err. */
qpik_status qpik_igor_extract(const qpik_options *opts, const qpik_igor_wave *map,
                              const qpik_igor_wave *defects_or_null, qpik_extraction **out,
                              char *err, size_t err_len);

/* The XOP error code of a qpik status: 0 for QPIK_OK, else QPIK_IGOR_FIRST_XOP_ERR + the
 * status (1..14; unknown statuses count as QPIK_ERR_INTERNAL). Codes are fixed: the XOP's
 * error string resource lists qpik_igor_error_template(code) in this order. */
int qpik_igor_error_code(qpik_status status);

/* The fixed text of an XOP error code (what Igor shows for it), NULL for other codes. */
const char *qpik_igor_error_template(int code);

/* The number of XOP error codes (the length of the error string resource). */
int qpik_igor_error_count(void);

/* "qpik: <template>: <qpik_last_error()>" into buf (always NUL-terminated when buf_len > 0),
 * for the history window. */
void qpik_igor_format_error(qpik_status status, const char *detail, char *buf, size_t buf_len);

#ifdef __cplusplus
}
#endif

#endif
