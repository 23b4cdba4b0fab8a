"""Fit a kernel spec's free values to the kernels of an extraction result file."""

from __future__ import annotations

import ctypes
import json

from . import _lib
from ._options import fetch_string, path_arg
from ._progress import Progress


def fit(result_path, spec_path, out_toml=None, progress=None):
    """Fit the spec at ``spec_path`` (TOML with a ``[fit]`` table: ``free = [paths]``,
    optional ``[fit.bounds]``) to kernel type 0 of the extraction result at
    ``result_path`` (``qpik extract`` output).

    Args:
        out_toml: where to write the fitted spec (best values in place, with a
            ``[fit.result]`` table); None writes nothing.
        progress: ``callable(stage, done, total, message)``; returning True cancels
            (CancelledError).

    Returns:
        a dict: ``parameters`` and ``nuisance`` (each ``name``, ``start``, ``value``,
        ``std_error``, ``fixed``), ``scales``, ``energies_ev``, ``chi2``, ``dof``,
        ``reduced_chi2``, ``correlation_names``, ``correlation``, ``notes``,
        ``dispersion`` (continuum models: ``energy_ev``, ``q_per_a`` = 2 k_F,
        ``q_std_per_a``), and ``spec_toml``, the fitted spec's text.

    Raises QpikIOError, FormatError (files), InvalidArgumentError (a spec, path or bound),
    MemoryBudgetError, CancelledError.
    """
    lib = _lib.lib()
    handle = ctypes.c_void_p()
    Progress(progress).run(
        lib.qpik_fit_file,
        path_arg(result_path),
        path_arg(spec_path),
        None if out_toml is None else path_arg(out_toml),
        ctypes.byref(handle),
    )
    try:
        out = json.loads(fetch_string(lib.qpik_fit_result_json, handle))
        out["spec_toml"] = fetch_string(lib.qpik_fit_result_spec_toml, handle)
        return out
    finally:
        lib.qpik_fit_result_free(handle)
