"""Loading the library, versions, status codes and the exception type."""

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import qpik
from qpik import _lib

from conftest import ROOT

PKG_PARENT = str(Path(qpik.__file__).resolve().parents[1])
SOURCE_TREE = str(Path(__file__).resolve().parents[1])  # bindings/python


def run_python(code, env_update, pythonpath=PKG_PARENT):
    env = {k: v for k, v in os.environ.items() if k != "QPIK_LIBRARY"}
    env.update(env_update)
    env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )


def test_versions():
    assert qpik.version() == "0.1.0"
    assert qpik.__version__ == "0.1.0"
    assert _lib.lib().qpik_abi_version() == qpik.ABI_VERSION == 1
    assert os.path.exists(qpik.library_path())


def test_status_names_match_the_library():
    lib = _lib.lib()
    for s in qpik.Status:
        assert lib.qpik_status_name(int(s)).decode() == s.name
    assert lib.qpik_status_name(len(qpik.Status)).decode() == "unknown status"


def test_qpik_library_env_var_is_used_and_never_falls_back():
    r = run_python("import qpik; qpik.version()", {"QPIK_LIBRARY": "/nonexistent/libqpik.so"})
    assert r.returncode != 0
    assert "LibraryError" in r.stderr
    assert "/nonexistent/libqpik.so (QPIK_LIBRARY)" in r.stderr


def test_qpik_library_env_var_loads_that_file():
    lib = os.path.realpath(qpik.library_path())
    r = run_python("import qpik; print(qpik.library_path())", {"QPIK_LIBRARY": lib})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == lib


def test_abi_mismatch_is_refused_with_a_clear_message():
    code = (
        "import qpik, qpik._lib as L; L.ABI_VERSION = 2\n"
        "try:\n    qpik.version()\n"
        "except ImportError as e:\n    print(type(e).__name__, e)\n"
    )
    r = run_python(code, {"QPIK_LIBRARY": qpik.library_path()})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("LibraryError")
    assert "C ABI version 1" in r.stdout and "written for version 2" in r.stdout


@pytest.mark.skipif(
    not (ROOT / "target" / "release" / "libqpik.so").exists(), reason="no built library"
)
def test_checkout_finds_target_release():
    r = run_python(
        "import qpik; print(qpik.library_path())", {}, pythonpath=SOURCE_TREE
    )
    assert r.returncode == 0, r.stderr
    assert Path(r.stdout.strip()) == ROOT / "target" / "release" / "libqpik.so"


def test_error_carries_status_and_message():
    with pytest.raises(qpik.QpikError) as info:
        qpik.catalog_spec("no-such-kernel")
    e = info.value
    assert isinstance(e, qpik.NotFoundError) and isinstance(e, LookupError)
    assert e.status is qpik.Status.QPIK_ERR_NOT_FOUND and e.status == 11
    assert e.status_name == "QPIK_ERR_NOT_FOUND" and str(e.status) == "QPIK_ERR_NOT_FOUND"
    assert "no-such-kernel" in e.message and e.message.startswith("qpik_catalog_spec")
    assert str(e).endswith("[QPIK_ERR_NOT_FOUND]")
    again = pickle.loads(pickle.dumps(e))
    assert type(again) is qpik.NotFoundError
    assert (again.status, again.message) == (e.status, e.message)


def test_io_error_is_an_oserror():
    with pytest.raises(OSError) as info:
        qpik.Model.from_file("/nonexistent/model.safetensors")
    assert isinstance(info.value, qpik.QpikIOError)
    assert info.value.status is qpik.Status.QPIK_ERR_IO


def test_strings_with_nul_are_refused():
    with pytest.raises(qpik.InvalidArgumentError, match="NUL"):
        qpik.Kernel("shockley-cu111-0meV\0junk")
