#!/usr/bin/env bash
# The whole qpik test suite: formatting, lints, the generated C header, unit, physics,
# file-format, model and CLI tests, then the C/C++ tests (ctest, valgrind, an outside
# consumer of the installed library), the host plugins (Gwyddion modules in the real
# Gwyddion, MATLAB MEX functions under GNU Octave, the Igor procedure and XOP core) and the
# Python binding tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The extraction-file test reads our HDF5 back with h5py (it skips with a note without it).
qpik_apt_install python3-h5py
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --release --quiet -- -D warnings
echo "== include/qpik.h up to date (cbindgen)"
bash scripts/check-header.sh
echo "== cargo test"
cargo test --release
echo "== C and C++ (CMake, ctest, valgrind)"
bash scripts/test-c.sh
echo "== Host plugins (Gwyddion, headless and GUI)"
bash scripts/test-plugins.sh
echo "== Python bindings (pytest)"
bash scripts/test-python.sh
echo "== MATLAB MEX functions (GNU Octave)"
bash scripts/test-matlab.sh
echo "== Igor Pro (procedure file contract, XOP core)"
bash scripts/test-igor.sh
echo "== all tests passed"
