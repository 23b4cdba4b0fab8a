/* Compiled alone by ctest (header.*): qpik.h must stand on its own as strict C99/C11. */
#include "qpik.h"

/* Every type the header defines is usable without anything else included. */
typedef struct {
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
} qpik_header_check;
