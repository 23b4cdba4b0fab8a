"""Extraction models and mask estimation."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from . import _arrays, _errors, _lib
from ._handle import Handle
from ._options import Options, path_arg

_METHODS = {0: "two-step", 1: "one-step"}
_DEVICES = {0: "cpu", 1: "cuda"}


@dataclass(frozen=True)
class ModelInfo:
    """What a model is.

    Attributes:
        method: "two-step" (VAE latent alignment) or "one-step" (the baseline).
        size: image size the model takes and returns (size x size pixels).
        device: "cpu" or "cuda".
        fell_back_to_cpu: True when CUDA was asked for but unavailable.
    """

    method: str
    size: int
    device: str
    fell_back_to_cpu: bool


@dataclass(frozen=True)
class ExtractInfo:
    """What an extraction did: ``mask_estimated`` (no mask given, qpik estimated it),
    ``items`` (observations processed), ``defects`` (mask pixels used, summed)."""

    mask_estimated: bool
    items: int
    defects: int


class Model(Handle):
    """A loaded extraction model. Create with :meth:`default`, :meth:`from_file` or
    :meth:`from_bytes`; extract with :meth:`extract`.

    A model is immutable: any number of threads may call ``extract`` at once (the GIL is
    released during the computation). ``close()`` (or ``with``) frees it early.
    """

    _what = "model"

    def __init__(self, _handle):
        if not isinstance(_handle, ctypes.c_void_p) or not _handle:
            raise TypeError("use Model.default(), Model.from_file() or Model.from_bytes()")
        lib = _lib.lib()
        self._own(_handle, lib.qpik_model_free)
        info = _lib.sized(_lib.qpik_model_info)
        _errors.check(lib.qpik_model_get_info(_handle, ctypes.byref(info)))
        self.info = ModelInfo(
            method=_METHODS.get(info.method, str(info.method)),
            size=info.size,
            device=_DEVICES.get(info.device, str(info.device)),
            fell_back_to_cpu=bool(info.fell_back_to_cpu),
        )

    @classmethod
    def default(cls, method="two-step", device="cpu"):
        """The model embedded in the library. ``method``: "two-step" or "one-step";
        ``device``: "cpu" or "cuda" (falls back to the CPU; see ``info.fell_back_to_cpu``).
        Raises UnavailableError (QPIK_ERR_UNAVAILABLE) if this build embeds no model."""
        h = ctypes.c_void_p()
        with Options({"method": method, "device": device}) as o:
            _errors.check(_lib.lib().qpik_model_new_default(o.handle, ctypes.byref(h)))
        return cls(h)

    @classmethod
    def from_file(cls, path, device="cpu"):
        """Load a model file (``qpik train`` output, safetensors). A missing file raises
        QpikIOError (QPIK_ERR_IO); a file that is not a qpik extraction model raises
        FormatError (QPIK_ERR_FORMAT) or InvalidArgumentError (a VAE alone)."""
        h = ctypes.c_void_p()
        with Options({"device": device}) as o:
            _errors.check(
                _lib.lib().qpik_model_new_from_file(path_arg(path), o.handle, ctypes.byref(h))
            )
        return cls(h)

    @classmethod
    def from_bytes(cls, data, device="cpu"):
        """Load a model from the bytes of a model file (bytes, bytearray, memoryview or a
        uint8 array; copied by qpik). Errors as :meth:`from_file`."""
        buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
        keep = buf if buf.size else np.zeros(1, np.uint8)  # never a NULL pointer
        h = ctypes.c_void_p()
        with Options({"device": device}) as o:
            _errors.check(
                _lib.lib().qpik_model_new_from_memory(
                    ctypes.c_void_p(keep.ctypes.data), buf.size, o.handle, ctypes.byref(h)
                )
            )
        del keep
        return cls(h)

    def extract(self, observation, mask=None, *, return_info=False):
        """Extract the kernel(s) of one observation or a stack.

        Args:
            observation: (size, size) or (n, size, size) array, size = ``info.size``;
                float32 or float64 (other real types are converted), finite, any units
                (each image is min-max scaled). Any memory order or strided view.
            mask: the binary defect mask(s) of the same shape (bool, or 0/1 in uint8,
                float32 or float64), or None to estimate each with :func:`estimate_mask`.
            return_info: also return an :class:`ExtractInfo`.

        Returns:
            float32 array of the observation's shape: each kernel on the scale of the
            min-max scaled training kernels (about [0, 1]; the network output is not
            clamped), impurity at pixel (size // 2, size // 2), same pixel size as the
            observation. With ``return_info``, ``(kernel, info)``.

        Raises ShapeError (wrong size, mask shape), NotFiniteError (NaN or infinity),
        InvalidArgumentError (mask not binary), DtypeError (complex input).
        """
        obs = _arrays.data(observation, "observation")
        m = None if mask is None else _arrays.mask(mask, "mask")
        out, d = _arrays.output(obs.array.shape, np.float32)
        info = _lib.sized(_lib.qpik_extract_info)
        mref = None if m is None else m.ref
        _errors.check(
            _lib.lib().qpik_extract(self._live(), obs.ref, mref, d.ref, ctypes.byref(info))
        )
        if return_info:
            return out, ExtractInfo(bool(info.mask_estimated), int(info.items), int(info.defects))
        return out

    def __repr__(self):
        i = self.info
        return f"qpik.Model({i.method}, {i.size}x{i.size}, {i.device})"


def estimate_mask(observation):
    """Estimate a defect mask from an observation alone (2-D, finite; any real dtype,
    any layout): a heuristic for maps without topography (the sharpest extrema of the
    defects' sign). Returns a bool array of the same shape, True at defects."""
    obs = _arrays.data(observation, "observation")
    out, d = _arrays.output(obs.array.shape, np.uint8)
    _errors.check(_lib.lib().qpik_estimate_mask(obs.ref, d.ref, None))
    return out.view(bool)
