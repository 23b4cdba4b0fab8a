#!/usr/bin/env bash
# The Python binding's tests: `pip install ./bindings/python` into a fresh venv
# (target/pyenv, remade every run), which bundles libqpik into the package (setup.py), then
# pytest with no QPIK_LIBRARY set, after checking that the library loaded is the bundled one.
# Debian/Ubuntu; safe to run again. Needs no network once the system packages are installed.
#   QPIK_LIBRARY_DIR=/path/dir  the folder whose libqpik.so is bundled (default:
#                               target/release when libqpik.so is there, so nothing is
#                               compiled twice; else pip's build step runs cargo itself)
#   PYTHON=/usr/bin/python3     the interpreter the venv is made from
#   extra arguments go to pytest (e.g. -k extract -x)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The distribution's python: its numpy and pytest come from apt (a pyenv or conda python
# on PATH would not see them).
python=${PYTHON:-/usr/bin/python3}
[ -x "$python" ] || python=$(command -v python3)

py_packages=(python3-venv python3-pip python3-setuptools python3-wheel python3-numpy python3-pytest python3-h5py)
source scripts/setup.sh
qpik_apt_install "${py_packages[@]}"

# The library the package bundles: the checkout's build when there is one.
if [ -z "${QPIK_LIBRARY_DIR:-}" ] && [ -f "$root/target/release/libqpik.so" ]; then
    export QPIK_LIBRARY_DIR="$root/target/release"
fi
# The installed package must find its library by itself.
unset QPIK_LIBRARY

venv=$root/target/pyenv
echo "== fresh python venv $venv"
rm -rf "$venv"
"$python" -m venv --system-site-packages "$venv"

echo "== pip install ./bindings/python (bundles libqpik from ${QPIK_LIBRARY_DIR:-a cargo build})"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
pip_args=(--quiet)
if "$venv/bin/python" -c 'import setuptools, wheel' 2>/dev/null; then
    # Build with the system setuptools, take numpy from the system: no network.
    pip_args+=(--no-build-isolation --no-deps --no-index)
fi
# setuptools builds in the source tree; stale build/ output must not reach the wheel.
clean() { rm -rf bindings/python/build bindings/python/qpik.egg-info; }
clean
trap clean EXIT
"$venv/bin/python" -m pip install "${pip_args[@]}" ./bindings/python
clean

# Run from outside the source tree so that the installed package is the one imported.
cd "$root/target"
echo "== the installed package loads its bundled libqpik (no QPIK_LIBRARY)"
"$venv/bin/python" - <<'EOF'
import os, sys
import qpik
pkg = os.path.dirname(os.path.realpath(qpik.__file__))
lib = os.path.realpath(qpik.library_path())
if not pkg.startswith(os.path.realpath(sys.prefix)) or os.path.dirname(lib) != pkg:
    sys.exit(f"qpik loaded {lib}, not the library bundled in the installed package {pkg}")
print(f"qpik {qpik.version()} from {lib} ({os.path.getsize(lib) / 1e6:.1f} MB)")
EOF
echo "== pytest bindings/python/tests"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/bindings/python/tests" "$@"
