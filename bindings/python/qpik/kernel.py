"""The kernel catalog, kernel simulation and observation synthesis."""

from __future__ import annotations

import ctypes
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from . import _arrays, _errors, _lib
from ._handle import Handle
from ._errors import Status
from ._options import Options, cstr, fetch_string


def catalog():
    """Names of the built-in catalog kernels (list of str), in catalog order."""
    lib = _lib.lib()
    n = ctypes.c_size_t()
    _errors.check(lib.qpik_catalog_count(ctypes.byref(n)))
    return [fetch_string(lib.qpik_catalog_name, i) for i in range(n.value)]


def catalog_spec(name):
    """The TOML spec of catalog kernel ``name`` (str). Edit it and pass it as
    ``Kernel(spec=...)``. Raises NotFoundError (QPIK_ERR_NOT_FOUND) for an unknown name."""
    return fetch_string(_lib.lib().qpik_catalog_spec, cstr(name, "name"))


@dataclass(frozen=True)
class KernelInfo:
    """What a kernel is.

    Attributes:
        rows, cols: image size in pixels.
        pixel_size_m: pixel size in metres (1 Angstrom = 1e-10 m).
        rotation_deg: scan rotation in degrees.
        energy_ev: bias energy in eV.
        symmetry: n-fold rotation symmetry label (1 = isotropic).
        centre_row, centre_col: the impurity's pixel, (rows // 2, cols // 2).
    """

    rows: int
    cols: int
    pixel_size_m: float
    rotation_deg: float
    energy_ev: float
    symmetry: int
    centre_row: float
    centre_col: float

    @property
    def shape(self):
        """(rows, cols)."""
        return (self.rows, self.cols)

    @property
    def pixel_size_a(self):
        """Pixel size in Angstrom."""
        return self.pixel_size_m * 1e10


class Kernel(Handle):
    """A simulated single-impurity QPI kernel.

    ``Kernel(name)`` simulates catalog kernel ``name`` (see :func:`catalog`);
    ``Kernel(spec=toml_text)`` a TOML spec (see :func:`catalog_spec`). Exactly one of the
    two. Keyword options override the spec's image grid: ``size`` (N, or (rows, cols), or
    "ROWSxCOLS", pixels), ``pixel_size_a`` (Angstrom), ``rotation_deg`` (degrees).

    ``image`` is the LDOS change in states/eV per Angstrom^2 as a float64 (rows, cols)
    array with the impurity at pixel (rows // 2, cols // 2). The object is immutable and
    may be shared between threads; ``close()`` (or ``with``) frees it early.
    """

    _what = "kernel"

    def __init__(self, name=None, spec=None, **options):
        lib = _lib.lib()
        if (name is None) == (spec is None):
            raise _errors.error(
                Status.QPIK_ERR_INVALID_ARGUMENT,
                "pass exactly one of name (a catalog kernel) and spec (a TOML spec)",
            )
        handle = ctypes.c_void_p()
        with Options(options) as opts:
            _errors.check(
                lib.qpik_kernel_new(
                    None if name is None else cstr(name, "name"),
                    None if spec is None else cstr(spec, "spec"),
                    opts.handle,
                    ctypes.byref(handle),
                )
            )
        self._own(handle, lib.qpik_kernel_free)
        self.name = name
        info = _lib.sized(_lib.qpik_kernel_info)
        _errors.check(lib.qpik_kernel_get_info(handle, ctypes.byref(info)))
        self.info = KernelInfo(
            rows=info.rows,
            cols=info.cols,
            pixel_size_m=info.pixel_size_m,
            rotation_deg=info.rotation_deg,
            energy_ev=info.energy_ev,
            symmetry=info.symmetry,
            centre_row=info.centre_row,
            centre_col=info.centre_col,
        )

    @property
    def image(self):
        """The kernel image: a new float64 array (rows, cols), impurity at (rows//2, cols//2)."""
        img, d = _arrays.output((self.info.rows, self.info.cols), np.float64)
        _errors.check(_lib.lib().qpik_kernel_image(self._live(), d.ref))
        return img

    @property
    def shape(self):
        """(rows, cols) of the image."""
        return self.info.shape

    def __repr__(self):
        what = repr(self.name) if self.name is not None else "spec"
        i = self.info
        return (
            f"qpik.Kernel({what}, {i.rows}x{i.cols} px, {i.pixel_size_a:g} A/px, "
            f"{i.energy_ev:g} eV, C{i.symmetry})"
        )


Synthesis = namedtuple("Synthesis", ["image", "mask", "defects"])
Synthesis.__doc__ = """A synthesised observation (unpacks as ``image, mask, defects``).

image: float64 (rows, cols), the observed map (sum of shifted, scaled kernels plus the
    artefacts asked for), in the kernel's units.
mask: bool (rows, cols), True at the pixel nearest each defect.
defects: float64 (n, 3): row and column in pixels (subpixel, as rendered) and amplitude.
"""


def synthesize(kernel, shape, seed=0, **options):
    """Synthesise an observation of ``kernel`` at random defects.

    Args:
        kernel: a :class:`Kernel`; the observation has its pixel size.
        shape: (rows, cols) of the map in pixels, or an int for a square map.
        seed: random seed; the same seed and options give the same result.
        **options: ``defects__*`` (count_min, count_max, density_per_nm2, region,
            amplitude_min, amplitude_max, negative_fraction, subpixel_steps),
            ``artefacts`` ("none" or "realistic") and ``artefacts__*``; see
            :func:`options_help`.

    Returns:
        :class:`Synthesis` (image, mask, defects).
    """
    if not isinstance(kernel, Kernel):
        raise TypeError(f"kernel must be a qpik.Kernel, not {type(kernel).__name__}")
    rows, cols = (shape, shape) if np.ndim(shape) == 0 else tuple(shape)
    rows, cols = int(rows), int(cols)
    lib = _lib.lib()
    obs = ctypes.c_void_p()
    with Options({"seed": seed, **options}) as opts:
        _errors.check(
            lib.qpik_observation_new(kernel._live(), rows, cols, opts.handle, ctypes.byref(obs))
        )
    try:
        image, di = _arrays.output((rows, cols), np.float64)
        mask, dm = _arrays.output((rows, cols), np.uint8)
        _errors.check(lib.qpik_observation_image(obs, di.ref, dm.ref))
        n = ctypes.c_size_t()
        _errors.check(lib.qpik_observation_defect_count(obs, ctypes.byref(n)))
        defects, dd = _arrays.output((n.value, 3), np.float64)
        if n.value:
            _errors.check(lib.qpik_observation_defects(obs, dd.ref))
    finally:
        lib.qpik_observation_free(obs)
    return Synthesis(image, mask.view(bool), defects)
