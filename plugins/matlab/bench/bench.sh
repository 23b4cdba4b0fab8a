#!/usr/bin/env bash
# MEX overhead against a direct C call on a 256 x 256 map (docs/matlab.md). Needs the MEX
# files built (scripts/test-matlab.sh or cmake -DQPIK_MATLAB=ON in target/cmake-matlab).
#   bash plugins/matlab/bench/bench.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/../../.."
runs=${1:-21}
build=target/cmake-matlab
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
gcc -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -Iinclude plugins/matlab/bench/bench_c.c -o "$dir/bench_c" \
    -L"$build/lib" -lqpik -lm -Wl,-rpath,"$PWD/$build/lib"
for round in 1 2 3; do
    for case in "256 49 50" "32 9 4"; do
        set -- $case
        "$dir/bench_c" "$dir" "$runs" "$1" "$2" "$3"
        octave-cli --no-history --no-init-file --eval \
            "addpath('$PWD/$build/plugins/matlab'); addpath('$PWD/plugins/matlab/bench'); bench_mex('$dir', $runs, $1, $2)"
    done
done
