#!/usr/bin/env bash
# The MATLAB MEX functions (plugins/matlab), built and tested with GNU Octave: builds them
# with CMake (-DQPIK_MATLAB=ON: mkoctfile --mex -R2018a, libqpik and HDF5 linked in
# statically), computes reference values through the C ABI (plugins/matlab/tests/
# reference.c), runs plugins/matlab/tests/test_qpik_mex.m in octave-cli against them, and
# checks the MEX files' symbols (only the gateway exported, no libhdf5 needed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
qpik_apt_install octave liboctave-dev libaec-dev zlib1g-dev cmake make gcc
build=target/cmake-matlab
root=$PWD
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQPIK_MATLAB=ON -DQPIK_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target qpik_matlab qpik_cargo
mexdir="$PWD/$build/plugins/matlab"
echo "== MEX symbols"
bash plugins/matlab/tests/check-symbols.sh "$mexdir"/qpik_extract.mex "$mexdir"/qpik_simulate.mex
echo "== reference values through the C ABI"
ref=$(mktemp -d)
trap 'rm -rf "$ref"' EXIT
gcc -std=c11 -Wall -Wextra -Werror -O2 -Iinclude plugins/matlab/tests/reference.c \
    -o "$ref/reference" -L"$build/lib" -lqpik -lm -Wl,-rpath,"$PWD/$build/lib"
"$ref/reference" "$ref"
echo "== Octave: plugins/matlab/tests/test_qpik_mex.m"
tests="$PWD/plugins/matlab/tests"
(cd "$ref" && HOME="$ref" octave-cli --no-history --no-init-file --eval \
    "addpath('$mexdir'); addpath('$tests'); test_qpik_mex('$ref')")
echo "== the FeSe worked example (docs/matlab.md) against the CLI"
(cd "$ref" && HOME="$ref" octave-cli --no-history --no-init-file --eval \
    "addpath('$mexdir'); addpath('$tests'); fese_example('$root/tests/data/FeSe_topography.sxm', '$ref')")
cargo build --release --quiet --bin qpik
target/release/qpik extract tests/data/FeSe_topography.sxm --positions "$ref/positions.txt" \
    --refine-positions 0 --smoothness 0.03 -o "$ref/fese.h5" >/dev/null
# Same positions, same settings: the MATLAB side (its own .sxm reader, the MEX gateway) must
# give the CLI's kernel (qpik's .sxm reader) to float32 precision.
/usr/bin/python3 - "$ref" <<'PY'
import sys, h5py, numpy as np
d = sys.argv[1]
cli = h5py.File(f"{d}/fese.h5", "r")["kernels"][0, 0].astype(np.float64)
mex = np.fromfile(f"{d}/kernel.bin").reshape(cli.shape)
err = np.abs(mex - cli).max() / np.abs(cli).max()
print(f"FeSe kernel, MATLAB vs CLI: relative difference {err:.2e}")
sys.exit(0 if err < 1e-5 else 1)
PY
