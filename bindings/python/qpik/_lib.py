"""Finding, loading and declaring the qpik shared library (ctypes; no compiled code).

Search order (the first that exists wins; ``QPIK_LIBRARY`` never falls back):

1. the environment variable ``QPIK_LIBRARY`` (a path to libqpik.so),
2. a libqpik.so shipped inside this package's directory,
3. ``target/release/libqpik.so`` of the repository this package sits in (a checkout),
4. the system loader: ``ctypes.util.find_library("qpik")``, then ``libqpik.so.0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading
from pathlib import Path

#: The C ABI major version (``QPIK_ABI_VERSION`` in include/qpik.h) this binding speaks.
ABI_VERSION = 1

#: Most dimensions a qpik_array can have (``QPIK_MAX_DIMS``).
MAX_DIMS = 4

# qpik_dtype values.
F32 = 1
F64 = 2
U8 = 3

c_status = ctypes.c_int  # enum qpik_status (C enums are int-sized)
c_size_p = ctypes.POINTER(ctypes.c_size_t)


class LibraryError(ImportError):
    """The qpik shared library could not be found, loaded, or speaks another ABI version."""


LibraryError.__module__ = "qpik"


class qpik_array(ctypes.Structure):
    """``struct qpik_array``: pointer, length in elements, dtype, shape, strides in elements."""

    _fields_ = [
        ("data", ctypes.c_void_p),
        ("len", ctypes.c_uint64),
        ("dtype", ctypes.c_uint32),
        ("ndim", ctypes.c_uint32),
        ("shape", ctypes.c_int64 * MAX_DIMS),
        ("strides", ctypes.c_int64 * MAX_DIMS),
    ]


class qpik_dataset_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("max_defects", ctypes.c_uint32),
        ("observations", ctypes.c_int64),
        ("kernels", ctypes.c_int64),
        ("rows", ctypes.c_int64),
        ("cols", ctypes.c_int64),
        ("pixel_size_m", ctypes.c_double),
    ]


class qpik_dataset_kernel_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("symmetry", ctypes.c_uint32),
        ("split", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("pixel_size_m", ctypes.c_double),
    ]


class qpik_kernel_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("symmetry", ctypes.c_uint32),
        ("rows", ctypes.c_int64),
        ("cols", ctypes.c_int64),
        ("pixel_size_m", ctypes.c_double),
        ("rotation_deg", ctypes.c_double),
        ("energy_ev", ctypes.c_double),
        ("centre_row", ctypes.c_double),
        ("centre_col", ctypes.c_double),
    ]


class qpik_model_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("method", ctypes.c_uint32),
        ("size", ctypes.c_int64),
        ("device", ctypes.c_uint32),
        ("fell_back_to_cpu", ctypes.c_uint32),
    ]


class qpik_extract_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("mask_estimated", ctypes.c_uint32),
        ("items", ctypes.c_int64),
        ("defects", ctypes.c_int64),
    ]


class qpik_extraction_info(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("symmetry", ctypes.c_uint32),
        ("types", ctypes.c_int64),
        ("energies", ctypes.c_int64),
        ("kernel_size", ctypes.c_int64),
        ("rows", ctypes.c_int64),
        ("cols", ctypes.c_int64),
        ("defects", ctypes.c_int64),
        ("heldout_r2", ctypes.c_double),
        ("fit_r2", ctypes.c_double),
        ("pixel_size_m", ctypes.c_double),
        ("positions_estimated", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("mirror_axis_deg", ctypes.c_double),
        ("method", ctypes.c_uint32),
        ("explains_little", ctypes.c_uint32),
        ("excluded_pixels", ctypes.c_int64),
        ("control_heldout_r2", ctypes.c_double),
    ]


#: ``enum qpik_extraction_method`` values by name (``qpik_extraction_info.method``).
EXTRACTION_METHODS = {0: "forward", 1: "blind"}


def sized(struct_type):
    """A zeroed info struct with ``struct_size`` set, as every *_get_info call requires."""
    s = struct_type()
    s.struct_size = ctypes.sizeof(struct_type)
    return s


#: ``qpik_progress_fn``: int32_t (*)(void*, const char*, uint64_t, uint64_t, const char*).
PROGRESS_FN = ctypes.CFUNCTYPE(
    ctypes.c_int32,
    ctypes.c_void_p,
    ctypes.c_char_p,
    ctypes.c_uint64,
    ctypes.c_uint64,
    ctypes.c_char_p,
)

_P = ctypes.c_void_p  # opaque handles and handle out-pointers
_S = ctypes.c_char_p
_A = ctypes.POINTER(qpik_array)

# name: (restype, argtypes). Every function of include/qpik.h the binding uses.
_PROTOTYPES = {
    "qpik_abi_version": (ctypes.c_uint32, []),
    "qpik_version": (_S, []),
    "qpik_last_error": (_S, []),
    "qpik_status_name": (_S, [ctypes.c_int32]),
    "qpik_dataset_generate": (c_status, [_S, _P, PROGRESS_FN, _P]),
    "qpik_dataset_open": (c_status, [_S, ctypes.POINTER(_P)]),
    "qpik_dataset_free": (None, [_P]),
    "qpik_dataset_get_info": (c_status, [_P, ctypes.POINTER(qpik_dataset_info)]),
    "qpik_dataset_kernel": (
        c_status,
        [_P, ctypes.c_size_t, _A, ctypes.POINTER(qpik_dataset_kernel_info)],
    ),
    "qpik_dataset_kernel_name": (
        c_status,
        [_P, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, c_size_p],
    ),
    "qpik_dataset_read": (
        c_status,
        [_P, ctypes.c_size_t, _A, _A, ctypes.POINTER(ctypes.c_uint32)],
    ),
    "qpik_dataset_write": (
        c_status,
        [_S, _A, _A, _A, ctypes.POINTER(ctypes.c_uint32), _P],
    ),
    "qpik_catalog_count": (c_status, [c_size_p]),
    "qpik_catalog_name": (
        c_status,
        [ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, c_size_p],
    ),
    "qpik_catalog_spec": (c_status, [_S, ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "qpik_kernel_new": (c_status, [_S, _S, _P, ctypes.POINTER(_P)]),
    "qpik_kernel_free": (None, [_P]),
    "qpik_kernel_get_info": (c_status, [_P, ctypes.POINTER(qpik_kernel_info)]),
    "qpik_kernel_image": (c_status, [_P, _A]),
    "qpik_observation_new": (
        c_status,
        [_P, ctypes.c_int64, ctypes.c_int64, _P, ctypes.POINTER(_P)],
    ),
    "qpik_observation_free": (None, [_P]),
    "qpik_observation_image": (c_status, [_P, _A, _A]),
    "qpik_observation_defect_count": (c_status, [_P, c_size_p]),
    "qpik_observation_defects": (c_status, [_P, _A]),
    "qpik_model_new_default": (c_status, [_P, ctypes.POINTER(_P)]),
    "qpik_model_new_from_file": (c_status, [_S, _P, ctypes.POINTER(_P)]),
    "qpik_model_new_from_memory": (
        c_status,
        [ctypes.c_void_p, ctypes.c_size_t, _P, ctypes.POINTER(_P)],
    ),
    "qpik_model_free": (None, [_P]),
    "qpik_model_get_info": (c_status, [_P, ctypes.POINTER(qpik_model_info)]),
    "qpik_estimate_mask": (c_status, [_A, _A, c_size_p]),
    "qpik_extract": (c_status, [_P, _A, _A, _A, ctypes.POINTER(qpik_extract_info)]),
    "qpik_extract_map": (c_status, [_P, _A, _A, ctypes.POINTER(_P)]),
    "qpik_find_defects": (c_status, [_P, _A, _A, ctypes.POINTER(ctypes.c_size_t)]),
    "qpik_extract_map_progress": (c_status, [_P, _A, _A, ctypes.POINTER(_P), PROGRESS_FN, _P]),
    "qpik_extraction_free": (None, [_P]),
    "qpik_fit_file": (c_status, [_S, _S, _S, ctypes.POINTER(_P), PROGRESS_FN, _P]),
    "qpik_fit_result_free": (None, [_P]),
    "qpik_fit_result_json": (c_status, [_P, ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "qpik_fit_result_spec_toml": (c_status, [_P, ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "qpik_gap_sign_file": (c_status, [_S, _S, _S, ctypes.POINTER(_P), PROGRESS_FN, _P]),
    "qpik_gap_sign_result_free": (None, [_P]),
    "qpik_gap_sign_result_verdict": (
        c_status,
        [_P, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_double)],
    ),
    "qpik_gap_sign_result_json": (c_status, [_P, ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "qpik_extraction_get_info": (c_status, [_P, ctypes.POINTER(qpik_extraction_info)]),
    "qpik_extraction_kernels": (c_status, [_P, _A]),
    "qpik_extraction_kernel_std": (c_status, [_P, _A]),
    "qpik_extraction_positions": (c_status, [_P, _A]),
    "qpik_extraction_amplitudes": (c_status, [_P, _A]),
    "qpik_extraction_types": (c_status, [_P, _A]),
    "qpik_extraction_residual": (c_status, [_P, _A]),
    "qpik_extraction_heldout_r2": (c_status, [_P, _A]),
    "qpik_extraction_excluded": (c_status, [_P, _A]),
    "qpik_extraction_notes": (c_status, [_P, ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "qpik_extraction_symmetry_name": (c_status, [_P, ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "qpik_options_new": (c_status, [ctypes.POINTER(_P)]),
    "qpik_options_free": (None, [_P]),
    "qpik_options_set": (c_status, [_P, _S, _S]),
    "qpik_options_get": (
        c_status,
        [_P, _S, ctypes.c_char_p, ctypes.c_size_t, c_size_p],
    ),
    "qpik_options_describe": (c_status, [ctypes.c_char_p, ctypes.c_size_t, c_size_p]),
    "qpik_train": (c_status, [_S, _S, _S, _P, PROGRESS_FN, _P]),
}


def _file_names():
    if sys.platform == "win32":
        return ["qpik.dll"]
    if sys.platform == "darwin":
        return ["libqpik.dylib"]
    return ["libqpik.so"]


def _candidates():
    """(path or name, where it came from) in search order, not counting QPIK_LIBRARY."""
    here = Path(__file__).resolve().parent
    for n in _file_names():
        yield str(here / n), "inside the qpik package"
    # bindings/python/qpik/_lib.py: the repository root is two levels above the package.
    if len(here.parents) > 2 and (here.parents[2] / "Cargo.toml").is_file():
        for n in _file_names():
            yield str(here.parents[2] / "target" / "release" / n), "the repository checkout"
    found = ctypes.util.find_library("qpik")  # runs ldconfig: only when needed
    if found:
        yield found, "ctypes.util.find_library"
    if sys.platform.startswith("linux"):
        yield "libqpik.so.0", "the system loader"


def _declare(cdll, path):
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(cdll, name)
        except AttributeError:
            raise LibraryError(
                f"{path} has no function {name}: it is not libqpik, or too old for this "
                f"binding; rebuild it (cargo build --release) or point QPIK_LIBRARY at a "
                f"current one"
            ) from None
        fn.restype = restype
        fn.argtypes = argtypes


def _open(path):
    cdll = ctypes.CDLL(path)
    try:
        abi = cdll.qpik_abi_version
    except AttributeError:
        raise LibraryError(f"{path} is not a qpik library (no qpik_abi_version)") from None
    abi.restype = ctypes.c_uint32
    abi.argtypes = []
    got = abi()
    if got != ABI_VERSION:
        raise LibraryError(
            f"{path} implements qpik C ABI version {got}, but this Python binding was "
            f"written for version {ABI_VERSION}; install the qpik Python package that "
            f"matches the library (or set QPIK_LIBRARY to a matching libqpik)"
        )
    _declare(cdll, path)
    return cdll


_lock = threading.Lock()
_lib = None
_lib_path = None


def load(path=None):
    """Load the library now (``path``, or the search order above) and return the CDLL.

    Later calls return the library already loaded; passing another ``path`` then raises.
    """
    global _lib, _lib_path
    with _lock:
        if _lib is not None:
            if path is not None and os.fspath(path) != _lib_path:
                raise LibraryError(
                    f"qpik is already loaded from {_lib_path}; a process can use only one "
                    f"libqpik"
                )
            return _lib
        if path is not None:
            tried = [(os.fspath(path), "the path given to qpik.load_library")]
            explicit = True
        elif os.environ.get("QPIK_LIBRARY"):
            tried = [(os.environ["QPIK_LIBRARY"], "QPIK_LIBRARY")]
            explicit = True
        else:
            tried = _candidates()
            explicit = False
        errors = []
        for cand, origin in tried:
            is_path = os.sep in cand or cand.endswith((".so", ".dylib", ".dll"))
            if is_path and not explicit and not os.path.exists(cand):
                errors.append(f"  {cand} ({origin}): does not exist")
                continue
            try:
                _lib = _open(cand)
            except LibraryError:
                raise
            except OSError as e:
                errors.append(f"  {cand} ({origin}): {e}")
                continue
            _lib_path = cand
            return _lib
        detail = "\n".join(errors)
        raise LibraryError(
            "cannot load the qpik shared library. Build it with `cargo build --release` "
            "(target/release/libqpik.so) and set QPIK_LIBRARY to its path. Tried:\n" + detail
        )


def lib():
    """The loaded library (loading it on first use)."""
    return _lib if _lib is not None else load()


def path():
    """Where the library was loaded from (loading it on first use)."""
    lib()
    return _lib_path
