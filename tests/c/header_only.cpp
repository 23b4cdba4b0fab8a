// Compiled alone by ctest (header.*): qpik.h must stand on its own as strict C++11/17.
#include "qpik.h"

namespace {
struct qpik_header_check {
    qpik_status status;
    qpik_dtype dtype;
    qpik_order order;
    qpik_array array;
    qpik_progress_fn progress;
    qpik_dataset_info dataset_info;
    qpik_dataset_kernel_info dataset_kernel_info;
    qpik_kernel_info kernel_info;
    qpik_model_info model_info;
    qpik_extract_info extract_info;
    qpik_extraction_info extraction_info;
    qpik_extraction *extraction;
};
} // namespace

// The functions have C linkage, and C++ can name them and take their addresses.
const char *(*qpik_header_check_version)() = &qpik_version;
qpik_status (*qpik_header_check_extract)(const qpik_model *, const qpik_array *,
                                         const qpik_array *, const qpik_array *,
                                         qpik_extract_info *) = &qpik_extract;
qpik_status (*qpik_header_check_extract_map)(const qpik_options *, const qpik_array *,
                                             const qpik_array *,
                                             qpik_extraction **) = &qpik_extract_map;
int qpik_header_check_size();
int qpik_header_check_size() { return static_cast<int>(sizeof(qpik_header_check)); }
