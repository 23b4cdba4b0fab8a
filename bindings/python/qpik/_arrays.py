"""NumPy arrays as qpik_array descriptors (pointer, length, dtype, shape, strides in elements).

Inputs are passed without copying whenever qpik can read the memory as it is: float32 or
float64 (masks also uint8 and bool), native byte order, C or Fortran order or any strided
view with positive strides that are whole elements. Anything else (negative or zero
strides, odd byte strides, other dtypes, byte-swapped data) is copied first. The array
object is kept referenced by the descriptor for the whole call.
"""

from __future__ import annotations

import ctypes

import numpy as np

from . import _errors, _lib
from ._errors import Status

_CODES = {
    np.dtype(np.float32): _lib.F32,
    np.dtype(np.float64): _lib.F64,
    np.dtype(np.uint8): _lib.U8,
}


class Descriptor:
    """A ``qpik_array`` for ``array``; keeps ``array`` alive as long as itself."""

    __slots__ = ("array", "struct")

    def __init__(self, array):
        self.array = array
        self.struct = _lib.qpik_array()
        s = self.struct
        s.dtype = _CODES[array.dtype]
        s.ndim = array.ndim
        item = array.itemsize
        span = 0
        for d, n in enumerate(array.shape):
            s.shape[d] = n
            stride = array.strides[d] // item if n > 1 else 1
            s.strides[d] = stride
            span += (n - 1) * stride if n > 0 else 0
        s.len = span + 1 if array.size > 0 else 0
        ptr = array.ctypes.data
        if not ptr:  # an empty array may have no buffer; qpik then reports the shape
            self.array = (array, np.zeros(1, array.dtype))
            ptr = self.array[1].ctypes.data
        s.data = ptr

    @property
    def ref(self):
        """The pointer to pass to C."""
        return ctypes.byref(self.struct)


def _strides_usable(a):
    """True when every stride of a dimension longer than 1 is a positive whole number of
    elements and no two indices share memory (what qpik accepts)."""
    dims = []
    for n, s in zip(a.shape, a.strides):
        if n > 1:
            if s <= 0 or s % a.itemsize:
                return False
            dims.append((s // a.itemsize, n))
    dims.sort()
    span = 0
    for s, n in dims:
        if s <= span:
            return False
        span += (n - 1) * s
    return True


def _convert(a, name, mask):
    a = np.asarray(a)
    if a.ndim > _lib.MAX_DIMS:
        raise _errors.error(
            Status.QPIK_ERR_SHAPE,
            f"{name} has {a.ndim} dimensions; qpik takes at most {_lib.MAX_DIMS}",
        )
    kind = a.dtype.kind
    if mask and kind == "b":
        a = a.view(np.uint8)  # same itemsize: strides stay valid, no copy
    elif kind not in "fiub":
        raise _errors.error(
            Status.QPIK_ERR_DTYPE,
            f"{name} has dtype {a.dtype}; qpik takes real numbers (float32 or float64"
            + (", or uint8/bool masks)" if mask else ")"),
        )
    dt = a.dtype
    native = dt.newbyteorder("=")
    ok = native in _CODES and (mask or native != np.dtype(np.uint8))
    if not ok:
        # Integers and other floats: float64 holds them exactly (or as well as qpik can use).
        a = a.astype(np.float64)
    elif not dt.isnative:
        a = a.astype(native)
    if not _strides_usable(a):
        a = a.copy(order="C")
    return a


def data(a, name):
    """Descriptor of an input data array (observations, kernels)."""
    return Descriptor(_convert(a, name, mask=False))


def mask(a, name):
    """Descriptor of an input mask (0 or 1; bool, uint8, float32 or float64)."""
    return Descriptor(_convert(a, name, mask=True))


def output(shape, dtype=np.float32):
    """A new C-order array of ``shape`` and its descriptor, for qpik to fill."""
    a = np.empty(shape, dtype=dtype)
    return a, Descriptor(a)
