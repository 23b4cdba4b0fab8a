"""The map engine: kernels from whole dI/dV maps of any size (``qpik_extract_map``)."""

from __future__ import annotations

import ctypes
import warnings
from dataclasses import dataclass

import numpy as np

from . import _arrays, _errors, _lib
from ._errors import Status
from ._options import Options, fetch_string
from ._progress import Progress


@dataclass(frozen=True, eq=False)
class Extraction:
    """What :func:`extract_map` found, copied out of the library (plain NumPy arrays).

    Conventions: pixel (S // 2, S // 2) of each kernel is the impurity; the amplitudes of
    each type and energy have mean 1, so the kernels carry the map's own unit; rows and
    columns as in the map, row 0 first.

    Attributes:
        kernels: float32 (T, E, S, S): T kernel types (1), E energies (1 for a 2-D map).
        kernel_std: float32, same shape: per-pixel standard error, the larger of the
            block bootstrap's spread and the noise floor.
        positions: float32 (N, 2): the defects used, (row, col) in pixels of the map.
        amplitudes: float32 (N, E): each defect's signed amplitude at each energy.
        types: uint8 (N,): each defect's kernel type (0).
        residual: float32 (E, H, W): the map minus the fitted model; NaN where the map is.
        heldout_r2: float64 (E,): held-out R^2 per energy, the fraction of the variance
            left by the background that the kernel explains on pixels it was not fitted
            to. Near 0 or below: the kernel means nothing.
        heldout_r2_mean, fit_r2_mean: means over energies (fit: on all pixels).
        pixel_size_m: the map's pixel size in metres (``map__pixel_size_m``; NaN unknown).
        symmetry: rotation order the kernel was projected onto (0 none, 1 isotropic, n).
        positions_estimated: True when the positions were estimated from the map.
        mirror_axis_deg: angle of a mirror line of the kernel in degrees when it was
            projected onto a group with mirrors (``map__symmetry`` "m", "2mm", "3m",
            "4mm", "6mm" or "auto"), else NaN; the line runs along (d_row, d_col) =
            (sin a, cos a): 0 along a row, 90 along a column.
        method: "forward" (every defect given) or "blind" (the search found them, or
            added types to the given ones).
        notes: what was chosen automatically and why (kernel size, types, symmetry,
            lattice removal) and what was left out, one line each; "" when nothing was.
        excluded: bool (H, W): True where a measured pixel was left out of the fit as
            something no kernel explains (aborted or constant scan lines, saturated
            plateaus, glitch rows, spikes, clusters, step edges); all False for "forward".
        excluded_pixels: the number of True pixels in ``excluded``.
        control_heldout_r2: a blind result's structureless control: the held-out R^2
            that bright and dark Gaussian blobs, as many as the kernels found, reach when
            trained and scored the same way as ``heldout_r2_mean`` (for a stack, both on
            the energies' first principal component). No higher a ``heldout_r2_mean``
            means the kernel shows nothing beyond a bump. NaN for "forward".
        explains_little: True when the kernel explains under 10 % of the held-out
            variance (``heldout_r2_mean`` below 0.1, or NaN): it probably means nothing;
            a warning (:class:`ExplainsLittleWarning`) was issued.
        symmetry_name: the point group as chosen: "none", "isotropic", "2", "3", "4",
            "6", "m", "2mm", "3m", "4mm" or "6mm".
        qpik_version: the qpik version that made the result.
        kernel_size, num_types, defects (properties): S, T and N as chosen.
    """

    kernels: np.ndarray
    kernel_std: np.ndarray
    positions: np.ndarray
    amplitudes: np.ndarray
    types: np.ndarray
    residual: np.ndarray
    heldout_r2: np.ndarray
    heldout_r2_mean: float
    fit_r2_mean: float
    pixel_size_m: float
    symmetry: int
    positions_estimated: bool
    mirror_axis_deg: float = float("nan")
    method: str = "forward"
    notes: str = ""
    excluded: np.ndarray | None = None
    excluded_pixels: int = 0
    explains_little: bool = False
    control_heldout_r2: float = float("nan")
    symmetry_name: str = ""
    qpik_version: str = ""

    @property
    def kernel_size(self):
        """S, the kernel size in pixels as chosen (``map__kernel_size`` or auto)."""
        return int(self.kernels.shape[2])

    @property
    def num_types(self):
        """T, the number of kernel types."""
        return int(self.kernels.shape[0])

    @property
    def defects(self):
        """N, the number of defects used."""
        return int(len(self.positions))

    @property
    def kernel(self):
        """The kernel of a single map, (S, S); for a stack (E, S, S) (type 0)."""
        k = self.kernels[0]
        return k[0] if k.shape[0] == 1 else k

    def __repr__(self):
        t, e, s, _ = self.kernels.shape
        return (
            f"qpik.Extraction(kernels {t}x{e}x{s}x{s}, {len(self.positions)} defects, "
            f"held-out R2 {self.heldout_r2_mean:.3f}, {self.method}, "
            f"{self.excluded_pixels} pixels left out)"
        )


class ExplainsLittleWarning(UserWarning):
    """The kernel explains under 10 % of the held-out variance (``explains_little``)."""


ExplainsLittleWarning.__module__ = "qpik"


def _defects(map_shape, mask, positions):
    """The ``defects`` descriptor: a mask, positions (N, 2), or None (estimate)."""
    if mask is not None and positions is not None:
        raise _errors.error(
            Status.QPIK_ERR_INVALID_ARGUMENT,
            "give either mask or positions, not both",
        )
    if mask is not None:
        m = np.asarray(mask)
        if m.shape != tuple(map_shape[-2:]):
            raise _errors.error(
                Status.QPIK_ERR_SHAPE,
                f"mask has shape {m.shape} but the map's images are {tuple(map_shape[-2:])}",
            )
        return _arrays.mask(m, "mask")
    if positions is not None:
        p = np.asarray(positions)
        if p.size == 0:
            p = p.reshape(0, 2)  # "no defects" (InvalidArgumentError), not a shape error
        if p.ndim != 2 or p.shape[1] != 2:
            raise _errors.error(
                Status.QPIK_ERR_SHAPE,
                f"positions have shape {p.shape} but must be (N, 2): (row, col) per defect",
            )
        if p.dtype.kind not in "fiu":
            raise _errors.error(
                Status.QPIK_ERR_DTYPE,
                f"positions have dtype {p.dtype}; give (row, col) numbers",
            )
        return _arrays.data(p.astype(np.float64, copy=False), "positions")
    return None


def _read(ex, fn, shape, dtype=np.float32):
    out, d = _arrays.output(shape, dtype)
    _errors.check(fn(ex, d.ref))
    return out


def find_defects(topography, **options):
    """Point defects of a topography image (the height channel of the scan a dI/dV map
    comes from): levelled, band-passed, robust threshold, subpixel centres
    (``qpik_find_defects``, the search of ``qpik extract --defects-from``).

    Args:
        topography: (H, W) array, any unit and memory order; NaN marks missing pixels.
        **options: ``topography__polarity`` ("bright" (default), "dark", "auto"),
            ``topography__threshold_sigma`` (default 5), ``topography__defect_size_a``
            (apparent width in Angstrom, default 6) with ``map__pixel_size_m`` (metres).

    Returns:
        (N, 2) float64 array of (row, col) in pixels, strongest defect first (N may be 0).
    """
    z = _arrays.data(topography, "topography")
    lib = _lib.lib()
    count = ctypes.c_size_t(0)
    with Options(options) as opts:
        _errors.check(lib.qpik_find_defects(opts.handle, z.ref, None, ctypes.byref(count)))
        out, d = _arrays.output((count.value, 2), np.float64)
        if count.value:
            _errors.check(lib.qpik_find_defects(opts.handle, z.ref, d.ref, ctypes.byref(count)))
    return out


def extract_map(
    map,
    mask=None,
    positions=None,
    topography=None,
    progress=None,
    blind=False,
    types=1,
    **options,
):
    """Extract the kernel of a dI/dV map (2-D) or an energy stack (3-D, energies first) by
    least squares on the forward model ``Y = sum_i a_i K(r - r_i) + B + noise``.

    Args:
        map: (H, W) or (E, H, W) array of real numbers in any memory order (Fortran order
            is read without a copy). NaN marks missing pixels (bad scan lines): they are
            left out of the fit. Infinity raises NotFiniteError.
        mask: (H, W) defect mask (bool, or numbers: a pixel above 0.5 is one defect at
            that pixel), shared by all energies.
        positions: (N, 2) defect positions, (row, col) in pixels of the map, subpixel
            allowed; up to half the kernel outside the map is allowed.
            With none of mask, positions and topography, extraction is blind: the
            defects, their types and the kernels are found from the map itself
            (``method`` "blind" in the result; ``positions_estimated`` is True).
        topography: (H, W) topography of the same scan: the defects are found there
            with :func:`find_defects` (its ``topography__*`` options apply).
        blind: also search the map for defects beyond those given (they become type 0,
            the blind ones types 1...).
        types: blind defect types, one kernel each: 1 to 8, or "auto" (1 to 3, each
            further type kept while it pays for its kernel and its defects).
        progress: ``callable(stage, done, total, message)`` called on this thread (one
            stage per energy); returning True cancels (CancelledError).
        **options: ``map__*`` settings: ``map__kernel_size`` ("auto" or pixels),
            ``map__symmetry`` ("auto", "none", 1, 2, 3, 4, 6, "m", "2mm", "3m",
            "4mm", "6mm"), ``map__decay`` ("auto" or a weight), ``map__background``
            ("constant", "plane", "plane-and-lines"), ``map__smoothness`` ("auto" or a
            weight), ``map__bootstrap``, ``map__block_px``, ``map__outer_iterations``,
            ``map__cg_iterations``, ``map__seed`` (else ``seed``),
            ``map__memory_budget_bytes``; and the map's metadata ``map__pixel_size_m`` (metres)
            (Angstrom), ``map__value_unit``, ``map__energies_ev`` (one per layer). See
            :func:`options_help`.

    Returns:
        an :class:`Extraction`.

    Raises ShapeError (map smaller than the kernel, mask of another shape, positions not
    (N, 2)), InvalidArgumentError (no defects, every pixel a defect, positions outside
    the map, a layer all NaN, mask and positions both given), NotFiniteError, DtypeError,
    OptionError, CancelledError.
    """
    if topography is not None:
        if mask is not None or positions is not None:
            raise _errors.error(
                Status.QPIK_ERR_INVALID_ARGUMENT,
                "give one of mask, positions and topography",
            )
        topo_opts = {k: v for k, v in options.items() if k.startswith(("topography__", "map__pixel"))}
        positions = find_defects(topography, **topo_opts)
        if len(positions) == 0 and not blind:
            raise _errors.error(
                Status.QPIK_ERR_INVALID_ARGUMENT,
                "no defects found in the topography; pass blind=True to search the map itself",
            )
        if len(positions) == 0:
            positions = None
    options = dict(options)
    if blind:
        options["map__blind"] = True
    if types != 1:
        options["map__types"] = types
    m = _arrays.data(map, "map")
    defects = _defects(m.array.shape, mask, positions)
    lib = _lib.lib()
    handle = ctypes.c_void_p()
    with Options(options) as opts:
        Progress(progress).run(
            lib.qpik_extract_map_progress,
            opts.handle,
            m.ref,
            None if defects is None else defects.ref,
            ctypes.byref(handle),
        )
    try:
        info = _lib.sized(_lib.qpik_extraction_info)
        _errors.check(lib.qpik_extraction_get_info(handle, ctypes.byref(info)))
        t, e, s = info.types, info.energies, info.kernel_size
        n, h, w = info.defects, info.rows, info.cols
        result = Extraction(
            kernels=_read(handle, lib.qpik_extraction_kernels, (t, e, s, s)),
            kernel_std=_read(handle, lib.qpik_extraction_kernel_std, (t, e, s, s)),
            positions=_read(handle, lib.qpik_extraction_positions, (n, 2)),
            amplitudes=_read(handle, lib.qpik_extraction_amplitudes, (n, e)),
            types=_read(handle, lib.qpik_extraction_types, (n,), np.uint8),
            residual=_read(handle, lib.qpik_extraction_residual, (e, h, w)),
            heldout_r2=_read(handle, lib.qpik_extraction_heldout_r2, (e,), np.float64),
            heldout_r2_mean=float(info.heldout_r2),
            fit_r2_mean=float(info.fit_r2),
            pixel_size_m=float(info.pixel_size_m),
            symmetry=int(info.symmetry),
            positions_estimated=bool(info.positions_estimated),
            mirror_axis_deg=float(info.mirror_axis_deg),
            method=_lib.EXTRACTION_METHODS.get(info.method, f"unknown ({info.method})"),
            notes=fetch_string(lib.qpik_extraction_notes, handle),
            symmetry_name=fetch_string(lib.qpik_extraction_symmetry_name, handle),
            qpik_version=lib.qpik_version().decode("ascii"),
            excluded=_read(handle, lib.qpik_extraction_excluded, (h, w), np.uint8).astype(bool),
            excluded_pixels=int(info.excluded_pixels),
            explains_little=bool(info.explains_little),
            control_heldout_r2=float(info.control_heldout_r2),
        )
    finally:
        lib.qpik_extraction_free(handle)
    if result.explains_little:
        warnings.warn(
            ExplainsLittleWarning(
                f"the kernel explains little of the map (held-out R^2 "
                f"{result.heldout_r2_mean:.3f} < 0.1): the defect positions may be wrong "
                f"or the map's scatterers may be elsewhere"
            ),
            stacklevel=2,
        )
    return result
