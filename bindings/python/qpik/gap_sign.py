"""The gap sign (sign-changing or sign-preserving) from kernels at +E and -E."""

from __future__ import annotations

import ctypes
import json

from . import _lib
from ._options import fetch_string, path_arg
from ._progress import Progress


def gap_sign(result_path, partner_path=None, spec_path=None, progress=None):
    """The phase-referenced, antisymmetrised signal rho^-(E) = sum_q Re g(q, +E) -
    Re g(q, -E) (Hirschfeld, Altenfeld, Eremin and Mazin, PRB 92, 184513) of kernel type 0
    of the extraction result at ``result_path`` (energies of both signs; or give the other
    sign's result as ``partner_path``), and whether the gap changes sign.

    Args:
        spec_path: the fitted superconducting model (TOML kernel spec with pairing terms);
            its sign-changing and sign-preserving gap forms (s+- / s++ for several
            orbitals, d / s for one) are simulated and compared with the data. Without it
            the verdict is "undecided" (the model-free reading is reported, not used).
        progress: ``callable(stage, done, total, message)``; returning True cancels
            (CancelledError).

    Returns:
        a dict: ``verdict`` ("sign-changing", "sign-preserving" or "undecided"),
        ``confidence``, ``sigma``, ``reason``, ``energies`` (each ``energy_ev``,
        ``minus_energy_ev``, ``signal``, ``std``, ``shells``, ``shells_std``),
        ``shell_edges_per_a``, ``model_free``, ``model`` (the comparison, or None),
        ``notes``, ``seconds``.

    Raises QpikIOError, FormatError (files), InvalidArgumentError (no +E / -E pair, a spec
    without pairing), MemoryBudgetError, CancelledError.
    """
    lib = _lib.lib()
    handle = ctypes.c_void_p()
    Progress(progress).run(
        lib.qpik_gap_sign_file,
        path_arg(result_path),
        None if partner_path is None else path_arg(partner_path),
        None if spec_path is None else path_arg(spec_path),
        ctypes.byref(handle),
    )
    try:
        return json.loads(fetch_string(lib.qpik_gap_sign_result_json, handle))
    finally:
        lib.qpik_gap_sign_result_free(handle)
