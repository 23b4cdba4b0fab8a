#!/usr/bin/env bash
# The Python binding's tests: installs bindings/python into a venv (target/pyenv) and runs
# pytest against target/release/libqpik.so. Debian/Ubuntu; safe to run again. Needs no
# network once the system packages are installed.
#   QPIK_LIBRARY=/path/libqpik.so  test another build (default: target/release/libqpik.so,
#                                  built with cargo when missing)
#   PYTHON=/usr/bin/python3        the interpreter the venv is made from
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

if [ -z "${QPIK_LIBRARY:-}" ]; then
    export QPIK_LIBRARY="$root/target/release/libqpik.so"
    if [ ! -f "$QPIK_LIBRARY" ]; then
        echo "== cargo build --release --lib (libqpik.so)"
        cargo build --release --lib --quiet
    fi
fi
[ -f "$QPIK_LIBRARY" ] || { echo "qpik: $QPIK_LIBRARY does not exist" >&2; exit 1; }

venv=$root/target/pyenv
# A venv made by another interpreter (or a half-made one) is rebuilt.
if ! "$venv/bin/python" -c 'import sys; sys.exit(sys.base_prefix != sys.argv[1])' \
        "$("$python" -c 'import sys; print(sys.base_prefix)')" 2>/dev/null; then
    echo "== python venv $venv"
    rm -rf "$venv"
    "$python" -m venv --system-site-packages "$venv"
fi

echo "== pip install ./bindings/python"
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

echo "== pytest bindings/python/tests (library: $QPIK_LIBRARY)"
# Run from outside the source tree so that the installed package is the one imported.
cd "$root/target"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$root/bindings/python/tests" "$@"
