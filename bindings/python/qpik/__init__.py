"""qpik: STM quasiparticle-interference kernels, simulated and extracted (ctypes binding).

Conventions (as in the C ABI, include/qpik.h):

- Energies in eV; pixel sizes in metres everywhere (``pixel_size_m``,
  ``map__pixel_size_m``), checked to be a plausible STM pixel (1e-12 to 1e-6 m) with a
  "did you mean Angstrom?" hint; the Angstrom spellings (``pixel_size_a``,
  ``map__pixel_size_a``) are deprecated aliases that still convert.
- Images are NumPy arrays indexed (row, col); stacks (image, row, col).
- A kernel's impurity sits at pixel (rows // 2, cols // 2).
- Options are keyword arguments named like the option keys with "." spelt "__"
  (``defects__count_max=5`` sets ``defects.count_max``); :func:`options_help` lists them.
- Failures raise :class:`QpikError` (``.status``, ``.status_name``, ``.message``), through
  subclasses that are also the matching built-in exceptions (``ShapeError`` is a
  ``ValueError``, ``QpikIOError`` an ``OSError``, ...).

The shared library is found through ``QPIK_LIBRARY``, a copy inside this package, the
repository's target/release/libqpik.so, or the system loader (see :func:`load_library`).

Quick start::

    import qpik
    k = qpik.Kernel("shockley-cu111-0meV")
    image, mask, defects = qpik.synthesize(k, (64, 64), seed=1, defects__count_max=5)
    kernel = qpik.Model.default().extract(image, mask)
    ex = qpik.extract_map(big_map, mask=big_mask, map__kernel_size=31)  # any size, the engine
"""

from __future__ import annotations

from . import _lib
from ._errors import (
    CancelledError,
    DtypeError,
    FormatError,
    InternalError,
    MemoryBudgetError,
    InvalidArgumentError,
    NotFiniteError,
    NotFoundError,
    OptionError,
    QpikError,
    QpikIOError,
    ShapeError,
    Status,
    UnavailableError,
)
from ._lib import ABI_VERSION, LibraryError
from ._options import OptionInfo
from ._options import describe as _describe
from .dataset import Dataset, DatasetInfo, DatasetKernelInfo, generate_dataset, write_dataset
from .extraction import Extraction, ExplainsLittleWarning, extract_map, find_defects
from .fit import fit
from .gap_sign import gap_sign
from .kernel import Kernel, KernelInfo, Synthesis, catalog, catalog_spec, synthesize
from .model import ExtractInfo, Model, ModelInfo, estimate_mask
from .training import train

__version__ = "0.1.0"

__all__ = [
    "ABI_VERSION",
    "CancelledError",
    "Dataset",
    "DatasetInfo",
    "DatasetKernelInfo",
    "DtypeError",
    "ExtractInfo",
    "Extraction",
    "ExplainsLittleWarning",
    "FormatError",
    "InternalError",
    "MemoryBudgetError",
    "InvalidArgumentError",
    "Kernel",
    "KernelInfo",
    "LibraryError",
    "Model",
    "ModelInfo",
    "NotFiniteError",
    "NotFoundError",
    "OptionError",
    "OptionInfo",
    "QpikError",
    "QpikIOError",
    "ShapeError",
    "Status",
    "Synthesis",
    "UnavailableError",
    "catalog",
    "catalog_spec",
    "estimate_mask",
    "extract_map",
    "fit",
    "gap_sign",
    "find_defects",
    "generate_dataset",
    "library_path",
    "load_library",
    "options",
    "options_help",
    "synthesize",
    "train",
    "version",
    "write_dataset",
]


def load_library(path=None):
    """Load libqpik now, from ``path`` or the search order (QPIK_LIBRARY; a copy in the
    package; the checkout's target/release/libqpik.so; ctypes.util.find_library). Other
    functions do this on first use. Raises :class:`LibraryError` (an ImportError) when no
    library loads or its ABI version is not ``ABI_VERSION``. Returns its path."""
    _lib.load(path)
    return _lib.path()


def library_path():
    """The path (or name) libqpik was loaded from."""
    return _lib.path()


def version():
    """The library's version, "MAJOR.MINOR.PATCH" (the binding's is ``__version__``)."""
    return _lib.lib().qpik_version().decode("ascii")


def options():
    """Every option as a list of :class:`OptionInfo` (key, keyword, default, help)."""
    return _describe()


def options_help():
    """Every option, one per line: the Python keyword, its default and what it does."""
    rows = _describe()
    width = max(len(o.keyword) for o in rows)
    return "\n".join(f"{o.keyword:<{width}}  [{o.default}]  {o.help}" for o in rows)
