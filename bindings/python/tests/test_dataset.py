"""Dataset files: the fixture, write/read round trip, generation with progress and cancel."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import qpik

from conftest import DATA, DATASET, TINY_DATA, TWO_STEP


def test_fixture_contents():
    with qpik.Dataset(DATASET) as d:
        i = d.info
        assert (i.observations, i.kernels, i.rows, i.cols) == (30, 5, 64, 64) and len(d) == 30
        assert np.isnan(i.pixel_size_m)  # the kernels have different pixel sizes
        obs, masks, index = d.read()
        assert obs.shape == masks.shape == (30, 64, 64)
        assert obs.dtype == np.float32 and masks.dtype == bool and index.dtype == np.uint32
        assert np.bincount(index).tolist() == [6] * 5
        per_obs = masks.sum(axis=(1, 2))
        assert (per_obs >= 1).all() and (per_obs <= i.max_defects).all()
        catalog = set(qpik.catalog())
        for k in range(i.kernels):
            info = d.kernel_info(k)
            assert info.name == d.kernel_name(k) and info.name in catalog
            assert info.split in ("train", "unseen")
        assert d.kernel_info(-1) == d.kernel_info(4)


def test_fixture_kernels_are_catalog_simulations():
    """A stored kernel equals the catalog kernel simulated at its pixel size."""
    with qpik.Dataset(DATASET) as d:
        for k in range(d.info.kernels):
            info = d.kernel_info(k)
            stored = d.kernel(k)
            assert stored.dtype == np.float32 and stored.shape == (64, 64)
            sim = qpik.Kernel(info.name, size=64, pixel_size_a=info.pixel_size_m * 1e10)
            assert sim.info.symmetry == info.symmetry
            tol = 1e-6 * np.abs(sim.image).max()
            np.testing.assert_allclose(stored, sim.image, rtol=0, atol=tol)


def test_partial_reads_match_the_full_read():
    with qpik.Dataset(DATASET) as d:
        obs, masks, index = d.read()
        o, m, i = d.read(7, 5)
        np.testing.assert_array_equal(o, obs[7:12])
        np.testing.assert_array_equal(m, masks[7:12])
        np.testing.assert_array_equal(i, index[7:12])
        o, m, i = d.read(28)
        assert o.shape[0] == 2 and (i == index[28:]).all()
        assert d.read(30)[0].shape == (0, 64, 64)


def test_out_of_range_requests():
    with qpik.Dataset(DATASET) as d:
        with pytest.raises(qpik.InvalidArgumentError, match="the dataset has 30"):
            d.read(25, 10)
        with pytest.raises(qpik.InvalidArgumentError):
            d.read(-1, 2)
        with pytest.raises(qpik.NotFoundError, match="the dataset has 5"):
            d.kernel(5)
        with pytest.raises(qpik.NotFoundError):
            d.kernel_name(-6)
    with pytest.raises(ValueError, match="closed"):
        d.read(0, 1)


def test_missing_dataset_file(tmp_path):
    with pytest.raises(qpik.QpikIOError, match="no such file") as e:
        qpik.Dataset(tmp_path / "missing.h5")
    assert e.value.status is qpik.Status.QPIK_ERR_IO


@pytest.mark.parametrize(
    "name, message",
    [
        ("model", "not an HDF5 file"),
        ("text", "not an HDF5 file"),
        ("truncated", "truncated"),
        ("foreign-hdf5", "not a qpik dataset"),
    ],
)
def test_bad_dataset_files(tmp_path, name, message):
    if name == "model":
        path = TWO_STEP
    elif name == "text":
        path = tmp_path / "x.h5"
        path.write_text("not hdf5")
    elif name == "truncated":
        path = tmp_path / "cut.h5"
        path.write_bytes(DATASET.read_bytes()[:4096])
    else:
        # Valid HDF5 without qpik's layout: one array copied out of the fixture.
        if not shutil.which("h5copy"):
            pytest.skip("h5copy (hdf5-tools) is not installed")
        path = tmp_path / "part.h5"
        subprocess.run(
            ["h5copy", "-i", str(DATASET), "-o", str(path), "-s", "/kernels", "-d", "/kernels"],
            check=True,
        )
    with pytest.raises(qpik.FormatError, match=message) as e:
        qpik.Dataset(path)
    assert e.value.status is qpik.Status.QPIK_ERR_FORMAT
    assert path.name in e.value.message


FINDINGS = DATA.parent.parent / "fuzz" / "findings"


def test_a_file_that_crashes_libhdf5_is_an_error():
    # libhdf5 1.10.8 divides by zero on this file (SIGFPE); qpik reads it in a child process.
    path = FINDINGS / "hdf5-chunk-dims-divide-by-zero.h5"
    with pytest.raises(qpik.FormatError, match="libhdf5 crashed with SIGFPE") as e:
        qpik.Dataset(path)
    assert path.name in e.value.message
    with qpik.Dataset(DATASET) as d:  # this process goes on
        assert len(d) == 30


def test_a_file_that_hangs_libhdf5_times_out(monkeypatch):
    monkeypatch.setenv("QPIK_DATASET_CHECK_TIMEOUT_S", "2")
    start = time.monotonic()
    with pytest.raises(qpik.FormatError, match="did not finish reading this file within 2 s"):
        qpik.Dataset(FINDINGS / "hdf5-vlen-attribute-hang.h5")
    assert time.monotonic() - start < 30


def test_damaged_files_in_a_host_that_ignores_sigchld():
    # Some hosts set SIGCHLD to SIG_IGN: children are reaped by the kernel and waitpid
    # cannot say how the child died. The child's crash handler still names the signal.
    env = dict(
        os.environ,
        PYTHONPATH=str(Path(qpik.__file__).resolve().parents[1]),
        QPIK_DATASET_CHECK_TIMEOUT_S="2",
    )
    code = f"""
import signal, qpik
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
for name in ["hdf5-chunk-dims-divide-by-zero.h5", "hdf5-vlen-attribute-hang.h5"]:
    try:
        qpik.Dataset({str(FINDINGS)!r} + "/" + name)
        print("opened")
    except qpik.FormatError as e:
        print(e.message.split("HDF5 error: ", 1)[-1][:60])
with qpik.Dataset({str(DATASET)!r}) as d:
    print(len(d))
"""
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("libhdf5 crashed with SIGFPE"), lines
    assert lines[1].startswith("libhdf5 did not finish reading this file within 2 s"), lines
    assert lines[2] == "30", lines


def test_write_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    kernels = rng.normal(size=(2, 32, 32))  # float64 in, float32 stored
    obs = np.asfortranarray(rng.normal(size=(5, 32, 32)).astype(np.float32))
    masks = rng.random((5, 32, 32)) < 0.01
    masks[:, 16, 16] = True
    index = [0, 1, 1, 0, 1]
    path = tmp_path / "own.h5"
    qpik.write_dataset(path, kernels, obs, masks, index, pixel_size_m=1.25e-10)
    with qpik.Dataset(path) as d:
        most = int(masks.sum(axis=(1, 2)).max())
        assert d.info == qpik.DatasetInfo(5, 2, 32, 32, pytest.approx(1.25e-10), most)
        o, m, i = d.read()
        np.testing.assert_array_equal(o, obs)
        np.testing.assert_array_equal(m, masks)
        assert i.tolist() == index
        for k in range(2):
            np.testing.assert_array_equal(d.kernel(k), kernels[k].astype(np.float32))
            want = qpik.DatasetKernelInfo(f"kernel-{k}", 0, "train", pytest.approx(1.25e-10))
            assert d.kernel_info(k) == want


def test_write_errors(tmp_path):
    k = np.zeros((2, 16, 16))
    o = np.zeros((3, 16, 16))
    m = np.zeros((3, 16, 16), bool)
    path = tmp_path / "w.h5"
    with pytest.raises(qpik.ShapeError, match="one value per observation"):
        qpik.write_dataset(path, k, o, m, [0, 1], pixel_size_m=1e-10)
    with pytest.raises(qpik.InvalidArgumentError, match=">= 0"):
        qpik.write_dataset(path, k, o, m, [0, -1, 0], pixel_size_m=1e-10)
    with pytest.raises(qpik.InvalidArgumentError, match=r"kernel_index\[2\] = 2 but there are 2"):
        qpik.write_dataset(path, k, o, m, [0, 1, 2], pixel_size_m=1e-10)
    with pytest.raises(qpik.OptionError, match="positive"):
        qpik.write_dataset(path, k, o, m, [0, 1, 0], pixel_size_m=0)
    with pytest.raises(qpik.ShapeError, match="masks"):
        qpik.write_dataset(path, k, o, m[:, :8], [0, 1, 0], pixel_size_m=1e-10)
    with pytest.raises(qpik.OptionError, match="did you mean 1.25 Angstrom"):
        qpik.write_dataset(path, k, o, m, [0, 1, 0], pixel_size_m=1.25)
    # The deprecated Angstrom keyword still converts, with a DeprecationWarning.
    with pytest.warns(DeprecationWarning, match="pixel_size_m"):
        qpik.write_dataset(path, k, o, m, [0, 1, 0], pixel_size_a=1.25)
    with qpik.Dataset(path) as d:
        assert d.info.pixel_size_m == pytest.approx(1.25e-10)
    path.unlink()
    bad = o.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(qpik.NotFiniteError):
        qpik.write_dataset(path, k, bad, m, [0, 1, 0], pixel_size_m=1e-10)
    assert list(tmp_path.iterdir()) == []


def test_generate_with_progress(tmp_path):
    calls = []
    path = tmp_path / "gen.h5"

    def progress(stage, done, total, message):
        assert isinstance(stage, str) and isinstance(message, str)
        calls.append((stage, done, total))

    qpik.generate_dataset(path, progress, seed=1, **TINY_DATA)
    assert calls, "progress was never called"
    stages = list(dict.fromkeys(s for s, _, _ in calls))
    assert stages == ["simulating kernels", "synthesising observations"]
    for stage in stages:
        steps = [(d, t) for s, d, t in calls if s == stage]
        assert all(0 <= d <= t for d, t in steps)
        assert steps[-1][0] == steps[-1][1]  # each stage finishes
    with qpik.Dataset(path) as d:
        assert (d.info.observations, d.info.kernels, d.info.rows) == (6, 3, 32)
        first = d.read()
    again = tmp_path / "again.h5"
    qpik.generate_dataset(again, seed=1, **TINY_DATA)  # no callback
    with qpik.Dataset(again) as d:
        for a, b in zip(first, d.read()):
            np.testing.assert_array_equal(a, b)


def test_cancelled_generation_leaves_no_file(tmp_path):
    seen = []

    def cancel(stage, done, total, message):
        seen.append(stage)
        return True

    with pytest.raises(qpik.QpikError) as e:
        qpik.generate_dataset(tmp_path / "gen.h5", cancel, **TINY_DATA)
    assert isinstance(e.value, qpik.CancelledError)
    assert e.value.status is qpik.Status.QPIK_ERR_CANCELLED
    assert "cancelled" in e.value.message
    assert seen
    assert list(tmp_path.iterdir()) == []


def test_cancelled_generation_keeps_an_existing_file(tmp_path):
    path = tmp_path / "gen.h5"
    path.write_bytes(b"old")
    with pytest.raises(qpik.CancelledError):
        qpik.generate_dataset(path, lambda *a: 1, **TINY_DATA)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["gen.h5"]


@pytest.mark.parametrize("exc", [ValueError("boom in callback"), KeyboardInterrupt()])
def test_callback_exception_is_reraised(tmp_path, exc):
    calls = []

    def progress(*args):
        calls.append(args)
        raise exc

    with pytest.raises(type(exc)) as e:
        qpik.generate_dataset(tmp_path / "gen.h5", progress, **TINY_DATA)
    assert e.value is exc
    assert len(calls) == 1  # cancelled at once, never called again
    assert list(tmp_path.iterdir()) == []


def test_generate_option_errors(tmp_path):
    with pytest.raises(qpik.OptionError, match="did you mean 'dataset.per_kernel'") as e:
        qpik.generate_dataset(tmp_path / "x.h5", dataset__per_kernal=3)
    assert e.value.status is qpik.Status.QPIK_ERR_UNKNOWN_OPTION
    assert "dataset__per_kernel=" in e.value.message
    with pytest.raises(qpik.OptionError, match="square"):
        qpik.generate_dataset(tmp_path / "x.h5", size=(32, 16))
    with pytest.raises(TypeError):
        qpik.generate_dataset(tmp_path / "x.h5", progress="not callable")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_cancels_cleanly(tmp_path):
    """SIGINT while qpik works (no Python callback given): the work is cancelled, no file
    is left, and KeyboardInterrupt is raised when the call returns (not lost in ctypes).
    The signal is timed from outside, so a run may finish first on a fast or idle machine:
    up to three tries with earlier signals; at least one must be interrupted."""
    env = dict(os.environ, PYTHONPATH=str(Path(qpik.__file__).resolve().parents[1]))
    outputs = []
    for delay in (0.3, 0.1, 0.02):
        out = tmp_path / f"g{len(outputs)}"
        out.mkdir()
        code = f"""
import os, signal, threading, qpik
# Python's own Ctrl-C handler, as in a terminal: a shell starting this suite in the
# background (nohup, &, some CI runners) passes SIGINT on as ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
qpik.version()  # load the library first, so the signal lands in the work
threading.Timer({delay}, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    qpik.generate_dataset({str(out / "g.h5")!r}, size=64, dataset__kernels=100,
                          dataset__per_kernel=50)
    print("finished")
except KeyboardInterrupt:
    print("interrupted", os.listdir({str(out)!r}))
"""
        r = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
        )
        assert r.returncode == 0, r.stderr
        outputs.append(r.stdout.strip())
        if outputs[-1] != "finished":
            break
    assert outputs[-1] == "interrupted []", outputs
    assert "Exception ignored" not in r.stderr
