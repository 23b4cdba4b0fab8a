#!/usr/bin/env bash
# Igor Pro, tested without Igor (which does not run here):
#   1. the procedure package's file contract (tests/igor/contract.py): the exact .npy bytes
#      QPI_Extract.ipf writes for 2-D and 3-D waves of Igor's number types, run through the
#      qpik CLI by the script the procedure writes, and the result file it reads back
#      (numpy and h5py of /usr/bin/python3);
#   2. the XOP's toolkit-free core (plugins/igor/xop) under ctest (label "igor"), in
#      target/cmake-igor with -DQPIK_IGOR=ON; --valgrind adds its memcheck run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
qpik_apt_install cmake make gcc python3-numpy python3-h5py

echo "== cargo build --release --bin qpik"
cargo build --release --bin qpik --quiet
echo "== Igor procedure file contract (tests/igor/contract.py)"
/usr/bin/python3 tests/igor/contract.py target/release/qpik

build=target/cmake-igor
echo "== Igor XOP core (cmake $build, ctest -L igor)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQPIK_IGOR=ON >/dev/null
cmake --build "$build" --target test_igor_core -j "$(nproc)"
labels=(-L igor)
[ "${1:-}" = --valgrind ] && labels=(-R 'igor')
(cd "$build" && ctest --output-on-failure "${labels[@]}")
echo "== Igor tests passed"
