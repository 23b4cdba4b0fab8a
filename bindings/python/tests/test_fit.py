"""qpik.fit: a kernel spec's free values from an extraction result file (made here with the
qpik command line, which the Rust build leaves in target/release)."""

import shutil
import subprocess

import pytest

import qpik

from conftest import ROOT

SPEC = """name = "shockley-fit"
energies_ev = [-0.1, 0.0, 0.1, 0.2]
broadening_ev = 0.02

[model]
kind = "parabolic"
band_bottom_ev = {e0}
effective_mass = {mass}

[impurity]
phase_shift_rad = 1.2

[render]
size = [64, 64]
pixel_size_a = 2.0
"""

FIT = """
[fit]
free = ["model.effective_mass", "model.band_bottom_ev"]

[fit.bounds]
"model.effective_mass" = [0.1, 0.8]
"model.band_bottom_ev" = [-0.6, 0.0]
"""


def qpik_cli():
    exe = ROOT / "target" / "release" / "qpik"
    if exe.exists():
        return str(exe)
    found = shutil.which("qpik")
    if not found:
        pytest.skip("the qpik command line is not built (cargo build --release)")
    return found


def test_fit_recovers_a_simulated_band(tmp_path):
    cli = qpik_cli()
    truth = tmp_path / "truth.toml"
    truth.write_text(SPEC.format(mass=0.32, e0=-0.30))
    start = tmp_path / "start.toml"
    start.write_text(SPEC.format(mass=0.38, e0=-0.44) + FIT)
    obs = tmp_path / "obs.npy"
    result = tmp_path / "k.h5"
    run = lambda *a: subprocess.run([cli, *map(str, a)], check=True, capture_output=True)
    run("simulate", "observation", "--spec", truth, "--size", 128, "--min-defects", 20,
        "--max-defects", 20, "--seed", 3, "-o", obs)
    run("extract", obs, "--positions", tmp_path / "obs-positions.npy", "--kernel-size", 41,
        "--pixel-size", 2e-10, "-o", result)
    out = tmp_path / "fit.toml"
    r = qpik.fit(result, start, out_toml=out)
    values = {p["name"]: p for p in r["parameters"]}
    assert abs(values["model.effective_mass"]["value"] - 0.32) < 0.03 * 0.32
    assert abs(values["model.band_bottom_ev"]["value"] + 0.30) < 0.03 * 0.30
    assert len(r["dispersion"]) == 4
    assert out.read_text() == r["spec_toml"]
    assert "[fit.result" in r["spec_toml"]


def test_fit_errors_raise_the_matching_exception(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC.format(mass=0.38, e0=-0.44) + FIT)
    with pytest.raises(qpik.QpikIOError):
        qpik.fit(tmp_path / "missing.h5", spec)
    with pytest.raises(qpik.FormatError):
        (tmp_path / "bad.h5").write_text("not hdf5")
        qpik.fit(tmp_path / "bad.h5", spec)
