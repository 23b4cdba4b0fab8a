"""Dataset files (HDF5, qpik-dataset v1): generate, read, write."""

from __future__ import annotations

import ctypes
import operator
import warnings
from dataclasses import dataclass

import numpy as np

from . import _arrays, _errors, _lib
from ._handle import Handle
from ._errors import Status
from ._options import Options, fetch_string, path_arg
from ._progress import Progress

_SPLITS = {0: "train", 1: "unseen"}


@dataclass(frozen=True)
class DatasetInfo:
    """What a dataset holds.

    Attributes:
        observations: number of observations.
        kernels: number of kernels.
        rows, cols: image size of kernels and observations (pixels).
        pixel_size_m: common pixel size in metres (NaN when kernels differ).
        max_defects: most defects recorded per observation.
    """

    observations: int
    kernels: int
    rows: int
    cols: int
    pixel_size_m: float
    max_defects: int


@dataclass(frozen=True)
class DatasetKernelInfo:
    """One kernel's labels: ``name``, ``symmetry`` (n-fold; 1 = isotropic, 0 = unknown),
    ``split`` ("train" or "unseen"), ``pixel_size_m`` (metres)."""

    name: str
    symmetry: int
    split: str
    pixel_size_m: float


class Dataset(Handle):
    """An open dataset file for reading; a context manager (``with qpik.Dataset(p) as d``).

    ``len(d)`` is the number of observations. Arrays come back as float32 (as stored),
    masks as bool, kernel indices as uint32. Images are (row, col), kernels have their
    impurity at (rows // 2, cols // 2). Raises QpikIOError (QPIK_ERR_IO) for a file that
    cannot be opened and FormatError (QPIK_ERR_FORMAT) for one that is not a qpik dataset.

    libhdf5 reads the file in a short-lived child process, so a damaged file that crashes or
    hangs libhdf5 raises FormatError and this interpreter goes on (see ``qpik_dataset_open``
    for the environment variables ``QPIK_DATASET_CHECK_TIMEOUT_S`` and ``QPIK_DATASET_CHECK``).
    """

    _what = "dataset"

    def __init__(self, path):
        lib = _lib.lib()
        h = ctypes.c_void_p()
        _errors.check(lib.qpik_dataset_open(path_arg(path), ctypes.byref(h)))
        self._own(h, lib.qpik_dataset_free)
        self.path = path
        i = _lib.sized(_lib.qpik_dataset_info)
        _errors.check(lib.qpik_dataset_get_info(h, ctypes.byref(i)))
        self.info = DatasetInfo(
            observations=i.observations,
            kernels=i.kernels,
            rows=i.rows,
            cols=i.cols,
            pixel_size_m=i.pixel_size_m,
            max_defects=i.max_defects,
        )

    def _kernel_index(self, i):
        i = operator.index(i)
        if i < 0:
            i += self.info.kernels
        if not 0 <= i < self.info.kernels:
            raise _errors.error(
                Status.QPIK_ERR_NOT_FOUND,
                f"kernel {i} requested but the dataset has {self.info.kernels}",
            )
        return i

    def kernel(self, i):
        """Kernel ``i`` (negative counts from the end) as float32 (rows, cols), in
        physical units, impurity at (rows // 2, cols // 2)."""
        i = self._kernel_index(i)
        img, d = _arrays.output((self.info.rows, self.info.cols), np.float32)
        _errors.check(_lib.lib().qpik_dataset_kernel(self._live(), i, d.ref, None))
        return img

    def kernel_name(self, i):
        """Name of kernel ``i`` (a catalog name, or kernel-N for written datasets)."""
        i = self._kernel_index(i)
        return fetch_string(_lib.lib().qpik_dataset_kernel_name, self._live(), i)

    def kernel_info(self, i):
        """Labels of kernel ``i`` as a :class:`DatasetKernelInfo`."""
        i = self._kernel_index(i)
        k = _lib.sized(_lib.qpik_dataset_kernel_info)
        _errors.check(_lib.lib().qpik_dataset_kernel(self._live(), i, None, ctypes.byref(k)))
        return DatasetKernelInfo(
            name=self.kernel_name(i),
            symmetry=k.symmetry,
            split=_SPLITS.get(k.split, str(k.split)),
            pixel_size_m=k.pixel_size_m,
        )

    def read(self, start=0, n=None):
        """Observations ``start .. start + n`` (n = None: to the end).

        Returns ``(observations, masks, kernel_index)``: float32 (n, rows, cols), bool
        (n, rows, cols) and uint32 (n,) (the kernel of each observation).
        """
        start = operator.index(start)
        total = self.info.observations
        n = total - start if n is None else operator.index(n)
        if start < 0 or n < 0 or start + n > total:
            raise _errors.error(
                Status.QPIK_ERR_INVALID_ARGUMENT,
                f"observations {start}..{start}+{n} requested but the dataset has {total}",
            )
        shape = (n, self.info.rows, self.info.cols)
        obs, do = _arrays.output(shape, np.float32)
        masks, dm = _arrays.output(shape, np.uint8)
        index = np.zeros(n, np.uint32)
        if n:
            _errors.check(
                _lib.lib().qpik_dataset_read(
                    self._live(),
                    start,
                    do.ref,
                    dm.ref,
                    index.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)),
                )
            )
        return obs, masks.view(bool), index

    def __len__(self):
        return self.info.observations

    def __repr__(self):
        i = self.info
        return (
            f"qpik.Dataset({str(self.path)!r}, {i.observations} observations, "
            f"{i.kernels} kernels, {i.rows}x{i.cols})"
        )


def _stack(a):
    a = np.asarray(a)
    return a[np.newaxis] if a.ndim == 2 else a


def write_dataset(
    path, kernels, observations, masks, kernel_index, pixel_size_a=None, *, pixel_size_m=None
):
    """Write your own data as a qpik dataset file (train on it with :func:`train`).

    Args:
        path: the HDF5 file to write (atomically replaced).
        kernels: (k, rows, cols) ground-truth kernels, impurity at (rows//2, cols//2).
        observations: (n, rows, cols) maps.
        masks: (n, rows, cols) binary defect masks (bool or 0/1).
        kernel_index: n ints, the kernel row of each observation.
        pixel_size_m: pixel size in metres (1e-12 to 1e-6), qpik's one unit.
        pixel_size_a: deprecated: the pixel size in Angstrom; give ``pixel_size_m``.

    A single 2-D kernel/observation/mask counts as a stack of one. Arrays may have any
    real dtype and layout; values must be finite. Kernels are named kernel-0, kernel-1,
    ..., all in the training split, symmetry 0 (unknown).
    """
    k = _arrays.data(_stack(kernels), "kernels")
    o = _arrays.data(_stack(observations), "observations")
    m = _arrays.mask(_stack(masks), "masks")
    idx = np.asarray(kernel_index)
    if idx.ndim == 0:
        idx = idx.reshape(1)
    n = o.array.shape[0] if o.array.ndim == 3 else None
    if idx.ndim != 1 or (n is not None and idx.shape[0] != n):
        raise _errors.error(
            Status.QPIK_ERR_SHAPE,
            f"kernel_index has shape {idx.shape} but must hold one value per observation "
            f"({n})",
        )
    if idx.size and (idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() > 0xFFFFFFFF):
        raise _errors.error(
            Status.QPIK_ERR_INVALID_ARGUMENT,
            "kernel_index must hold whole numbers >= 0 (rows of kernels)",
        )
    idx = np.ascontiguousarray(idx, dtype=np.uint32)
    if (pixel_size_m is None) == (pixel_size_a is None):
        raise _errors.error(
            Status.QPIK_ERR_INVALID_ARGUMENT,
            "give the pixel size once: pixel_size_m (metres)",
        )
    if pixel_size_a is not None:
        warnings.warn(
            "write_dataset(pixel_size_a=...) is deprecated: give pixel_size_m (metres)",
            DeprecationWarning,
            stacklevel=2,
        )
    size = {"pixel_size_m": pixel_size_m} if pixel_size_a is None else {"pixel_size_a": pixel_size_a}
    with Options(size) as opts:
        _errors.check(
            _lib.lib().qpik_dataset_write(
                path_arg(path),
                k.ref,
                o.ref,
                m.ref,
                idx.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)),
                opts.handle,
            )
        )


def generate_dataset(path, progress=None, **options):
    """Generate a simulated training dataset at ``path`` (HDF5, written under a temporary
    name and renamed: an existing file is replaced only on success).

    Options (defaults: the paper's scale, 100 kernels x 500 observations of 64 x 64):
    ``seed``, ``size``, ``pixel_size_m`` (metres; ``pixel_size_a``, in Angstrom, is a
    deprecated alias), ``dataset__kernels``,
    ``dataset__per_kernel``, ``dataset__split_seed``, ``dataset__unseen_fraction``,
    ``defects__*``, ``artefacts``, ``artefacts__*``.

    ``progress(stage, done, total, message)`` is called from this thread a few times per
    second; returning True cancels (CancelledError, status QPIK_ERR_CANCELLED, and no file
    is left). An exception raised by ``progress`` cancels the work and is re-raised here.
    """
    with Options(options) as opts:
        Progress(progress).run(_lib.lib().qpik_dataset_generate, path_arg(path), opts.handle)
