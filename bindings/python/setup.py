"""Build step of the qpik Python package: bundle libqpik into the wheel.

`pip install ./bindings/python` runs this (setuptools reads the metadata from
pyproject.toml). After the pure-Python files are copied, it puts the shared library next to
``qpik/__init__.py``, where the binding looks first (after ``QPIK_LIBRARY``), so an
installed package needs no environment variable:

- ``QPIK_LIBRARY_DIR`` set: libqpik is copied from that folder (for example
  ``target/release`` of a checkout that is already built; CI uses this so that nothing is
  compiled twice). Nothing is built.
- otherwise: ``cargo build --release --lib`` in the repository this folder sits in
  (``CARGO`` picks the cargo program, ``CARGO_TARGET_DIR`` its output folder), then the
  library is copied from ``<target>/release``.

The copy loses its debug line tables (``strip --strip-debug``, when ``strip`` exists and
``QPIK_STRIP`` is not ``0``): about 80 MB becomes about 20 MB; symbols stay.
The wheel is tagged for this platform (it carries a native library), for any Python 3.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]  # bindings/python/setup.py


def library_file_name():
    """The file name cargo gives the cdylib on this platform."""
    if sys.platform == "win32":
        return "qpik.dll"
    if sys.platform == "darwin":
        return "libqpik.dylib"
    return "libqpik.so"


class LibraryNotFound(RuntimeError):
    pass


def prebuilt_library():
    """The library in QPIK_LIBRARY_DIR, or None when the variable is not set."""
    folder = os.environ.get("QPIK_LIBRARY_DIR")
    if not folder:
        return None
    path = Path(folder) / library_file_name()
    if not path.is_file():
        raise LibraryNotFound(
            f"QPIK_LIBRARY_DIR={folder}: {path} is not a file; build it first "
            f"(cargo build --release --lib) or unset QPIK_LIBRARY_DIR to let pip build it"
        )
    return path


def cargo_built_library():
    """Runs cargo build --release --lib in the repository and returns the library."""
    manifest = REPO / "Cargo.toml"
    if not manifest.is_file():
        raise LibraryNotFound(
            f"{manifest} does not exist: this package builds libqpik from the qpik "
            f"repository it sits in (bindings/python). Install it from a checkout "
            f"(pip install ./bindings/python), or set QPIK_LIBRARY_DIR to a folder "
            f"holding {library_file_name()}"
        )
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if not cargo:
        home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
        candidate = home / "bin" / "cargo"
        cargo = str(candidate) if candidate.is_file() else None
    if not cargo:
        raise LibraryNotFound(
            "cargo (Rust 1.85 or newer) is needed to build libqpik: install it "
            "(https://rustup.rs), or set QPIK_LIBRARY_DIR to a folder holding "
            f"{library_file_name()}"
        )
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    cmd = [
        cargo,
        "build",
        "--release",
        "--lib",
        "--manifest-path",
        str(manifest),
        "--target-dir",
        str(target),
    ]
    print("qpik: " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)
    path = target / "release" / library_file_name()
    if not path.is_file():
        raise LibraryNotFound(f"cargo finished but {path} does not exist")
    return path


class build_py_with_libqpik(build_py):
    """build_py, then libqpik copied into the built package."""

    def run(self):
        super().run()
        src = prebuilt_library() or cargo_built_library()
        dest_dir = Path(self.build_lib) / "qpik"
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / library_file_name()
        shutil.copyfile(src, dest)
        os.chmod(dest, 0o755)
        strip = shutil.which("strip")
        if strip and os.environ.get("QPIK_STRIP", "1") != "0" and sys.platform != "win32":
            subprocess.run([strip, "--strip-debug", str(dest)], check=False)
        print(f"qpik: bundled {src} as {dest}", flush=True)


class BinaryDistribution(Distribution):
    """The wheel carries a native library: platform wheel, platlib install."""

    def has_ext_modules(self):
        return True


cmdclass = {"build_py": build_py_with_libqpik}

try:  # setuptools >= 70 has its own; older ones use the wheel package's.
    from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:
    try:
        from wheel.bdist_wheel import bdist_wheel as _bdist_wheel
    except ImportError:
        _bdist_wheel = None

if _bdist_wheel is not None:

    class bdist_wheel(_bdist_wheel):
        """Any Python 3 on this platform: the binding is ctypes, no compiled extension."""

        def get_tag(self):
            _, _, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = bdist_wheel

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
