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


# Training in multiprocessing workers, in a fresh interpreter (this one has run the networks
# already): forked before the networks first ran, workers train; forked after, candle's
# worker threads are gone there, so training refuses at once with what to do (it used to
# wait forever); the 'spawn' start method trains.
_FORK_TRAINING = r"""
import multiprocessing as mp, sys, time
import qpik

DATA, OUT = sys.argv[1], sys.argv[2]
TINY = dict(train__epochs=1, train__steps_per_epoch=1, train__batch_size=2,
            train__channels="4,4,8")

def train(i):
    t = time.monotonic()
    try:
        qpik.train("one-step", DATA, f"{OUT}/m{i}.safetensors", **TINY)
        return "ok", time.monotonic() - t
    except qpik.UnavailableError as e:
        return str(e), time.monotonic() - t

if __name__ == "__main__":
    qpik.Kernel("graphene-500meV")  # the library and its thread pool in use, not the networks
    with mp.get_context("fork").Pool(2) as pool:
        before = pool.map_async(train, (1, 2)).get(timeout=120)
    train(0)  # the networks run here now
    with mp.get_context("fork").Pool(2) as pool:
        after = pool.map_async(train, (3, 4)).get(timeout=120)
    with mp.get_context("spawn").Pool(1) as pool:
        spawned = pool.map_async(train, (5,)).get(timeout=300)
    print(repr((before, after, spawned)))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_training_in_forked_workers_never_hangs(tmp_path):
    import ast
    import subprocess
    import sys

    from conftest import DATASET

    script = tmp_path / "fork_training.py"
    script.write_text(_FORK_TRAINING)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    env.pop("CANDLE_NUM_THREADS", None)
    r = subprocess.run(
        [sys.executable, str(script), str(DATASET), str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    before, after, spawned = ast.literal_eval(r.stdout.strip().splitlines()[-1])
    assert [b[0] for b in before] == ["ok", "ok"]
    assert [s[0] for s in spawned] == ["ok"]
    for message, seconds in after:
        if message != "ok":  # "ok" only where candle runs single-threaded (one core)
            assert "forked" in message and "'spawn'" in message, message
            assert seconds < 5
            assert not (tmp_path / "m3.safetensors").exists()
