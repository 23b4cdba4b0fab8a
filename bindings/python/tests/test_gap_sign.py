"""qpik.gap_sign: the gap sign from kernels at +E and -E of an extraction result file (made
here with the qpik command line, which the Rust build leaves in target/release)."""

import subprocess

import pytest

import qpik

from test_fit import qpik_cli


def test_gap_sign_errors_raise_the_matching_exception(tmp_path):
    with pytest.raises(qpik.QpikIOError):
        qpik.gap_sign(tmp_path / "missing.h5")
    (tmp_path / "bad.h5").write_text("not hdf5")
    with pytest.raises(qpik.FormatError):
        qpik.gap_sign(tmp_path / "bad.h5")


def test_a_result_without_opposite_energies_is_refused(tmp_path):
    cli = qpik_cli()
    obs = tmp_path / "obs.npy"
    result = tmp_path / "k.h5"
    run = lambda *a: subprocess.run([cli, *map(str, a)], check=True, capture_output=True)
    spec = tmp_path / "s.toml"
    spec.write_text(subprocess.run([cli, "catalog", "--spec", "fe2orb-spm-8meV"], check=True,
                                   capture_output=True, text=True).stdout)
    run("simulate", "observation", "--spec", spec, "--size", 96,
        "--min-defects", 8, "--max-defects", 8, "--seed", 3, "-o", obs)
    run("extract", obs, "--positions", tmp_path / "obs-positions.npy", "--kernel-size", 25,
        "--pixel-size", 2e-10, "-o", result)
    # One energy, and a .npy map states none: there is no +E / -E pair to compare.
    with pytest.raises(qpik.InvalidArgumentError, match="energ"):
        qpik.gap_sign(result)
