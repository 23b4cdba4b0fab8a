"""Issue 11: no input may kill or hang the host (the Python side of the reliability tests)."""

import multiprocessing as mp
import os

import numpy as np
import pytest

import qpik


def _extract_max(seed):
    obs = np.random.default_rng(seed).random((64, 64)).astype(np.float32)
    return float(np.max(qpik.Model.default().extract(obs)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_start_method_workers_do_not_hang():
    # Use the library (and its thread pool) in this process first: the pool's threads do not
    # exist in a forked child, which used to block there forever.
    want = [_extract_max(s) for s in (1, 2, 3)]
    with mp.get_context("fork").Pool(2) as pool:
        got = pool.map_async(_extract_max, (1, 2, 3)).get(timeout=120)
    assert got == want


def test_memory_budget_is_its_own_error(tmp_path):
    with pytest.raises(qpik.MemoryBudgetError, match="memory budget") as e:
        qpik.generate_dataset(
            tmp_path / "d.h5",
            size=16,
            dataset__kernels=1,
            dataset__per_kernel=10**12,
        )
    assert isinstance(e.value, MemoryError)
    assert e.value.status == qpik.Status.QPIK_ERR_MEMORY_BUDGET
    assert list(tmp_path.iterdir()) == []
