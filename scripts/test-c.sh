#!/usr/bin/env bash
# The C and C++ side of qpik: configures CMake in target/cmake (which builds the Rust library
# with cargo build --release), builds the C/C++ tests and runs every ctest label:
#   header    each public header compiled alone (C99/C11, C++11/17, strict warnings)
#   c, cpp    the C ABI tests (tests/c) and the C++ wrapper tests (tests/cpp)
#   consumer  cmake --install to a temporary prefix, outside projects built against it with
#             find_package(qpik) and pkg-config (shared and static)
#   valgrind  the C and C++ test programs under memcheck (errors, definite/indirect leaks)
# Usage: scripts/test-c.sh [--no-valgrind] [more ctest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

valgrind=1
ctest_args=()
for a in "$@"; do
    case $a in
    --no-valgrind) valgrind=0 ;;
    *) ctest_args+=("$a") ;;
    esac
done

c_packages=(cmake make pkg-config g++)
((valgrind)) && c_packages+=(valgrind)
qpik_apt_install "${c_packages[@]}"

build=target/cmake
jobs=$(nproc)
echo "== cmake configure ($build)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
echo "== cmake build (cargo build --release, then the C/C++ tests)"
cmake --build "$build" -j "$jobs"

cd "$build"
echo "== ctest: header, c, cpp, consumer"
ctest --output-on-failure -j "$jobs" -LE valgrind "${ctest_args[@]}"

if ((valgrind)); then
    echo "== ctest: valgrind (memcheck; log in $build/valgrind.log)"
    status=0
    ctest -V -j "$jobs" -L valgrind "${ctest_args[@]}" >valgrind.log 2>&1 || status=$?
    # Per test: valgrind's error count and leak summary (lines are prefixed "N: " by ctest -V).
    awk '
        match($0, /Test +#[0-9]+: [^ ]+/) {
            s = substr($0, RSTART, RLENGTH); sub(/Test +#/, "", s); split(s, p, ": ")
            name[p[1]] = p[2]; result[p[1]] = ($0 ~ /Passed/) ? "Passed" : "FAILED"
        }
        /^[0-9]+: ==[0-9]+== +(ERROR SUMMARY|(definitely|indirectly|possibly) lost|still reachable)/ {
            n = $1; sub(/:$/, "", n); line = $0; sub(/^[0-9]+: ==[0-9]+== +/, "", line)
            sub(/ \(suppressed.*$/, "", line)
            summary[n] = summary[n] "\n    " line
        }
        END { for (n in name) printf "%-32s %s%s\n", name[n], result[n], summary[n] }
    ' valgrind.log
    tail -n 4 valgrind.log
    if ((status)); then
        echo "valgrind tests failed; their output:" >&2
        grep -E '^[0-9]+: ' valgrind.log | tail -n 300 >&2
        exit "$status"
    fi
fi
echo "== C/C++ tests passed"
