#!/usr/bin/env bash
# The consumer test: install qpik into a temporary prefix and build programs against it the
# two ways an outside project would, with CMake's find_package(qpik) and with pkg-config.
#
#   run.sh install      BUILD_DIR WORK_DIR   cmake --install to WORK_DIR/prefix, check the layout
#   run.sh find_package BUILD_DIR WORK_DIR   configure + build tests/consumer, run its programs
#   run.sh pkg-config   BUILD_DIR WORK_DIR   compile consumer.c with pkg-config, shared and static
#   run.sh cleanup      BUILD_DIR WORK_DIR   remove WORK_DIR
#
# ctest runs these as fixtures (tests/consumer/register.cmake). CMAKE, CC and CXX name the
# tools (default: cmake, cc, c++).
set -euo pipefail
step=$1
build=$(realpath "$2")
work=$3
here=$(cd "$(dirname "$0")" && pwd)
cmake=${CMAKE:-cmake}
cc=${CC:-cc}
cxx=${CXX:-c++}
prefix=$work/prefix
version=$(sed -n 's/^version *= *"\([0-9.]*\)".*/\1/p' "$here/../../Cargo.toml" | head -1)
major=${version%%.*}

fail() {
    echo "consumer: FAILED: $*" >&2
    exit 1
}

# The program must run and must not depend on libqpik.so when linked statically.
check_program() {
    local exe=$1 kind=$2
    echo "== $exe"
    "$exe" || fail "$exe exited with $?"
    if [ "$kind" = static ]; then
        ! readelf -d "$exe" | grep -q 'NEEDED.*libqpik' || fail "$exe needs libqpik.so"
    else
        readelf -d "$exe" | grep -q "NEEDED.*\[libqpik.so.$major\]" ||
            fail "$exe does not need libqpik.so.$major (SONAME)"
    fi
}

case $step in
install)
    rm -rf "$work"
    mkdir -p "$work"
    "$cmake" --install "$build" --prefix "$prefix"
    lib=$prefix/lib
    [ -d "$lib" ] || lib=$(dirname "$(find "$prefix" -name "libqpik.so.$version" | head -1)")
    for f in "$prefix/include/qpik.h" "$prefix/include/qpik.hpp" "$lib/libqpik.so.$version" \
        "$lib/libqpik.a" "$lib/pkgconfig/qpik.pc" "$lib/cmake/qpik/qpikConfig.cmake" \
        "$lib/cmake/qpik/qpikConfigVersion.cmake" "$prefix/bin/qpik"; do
        [ -f "$f" ] || fail "missing $f"
    done
    # The program runs from the prefix (the Igor procedure calls it).
    [ "$("$prefix/bin/qpik" --version)" = "qpik $version" ] || fail "$prefix/bin/qpik --version"
    [ "$(readlink "$lib/libqpik.so.$major")" = "libqpik.so.$version" ] || fail "libqpik.so.$major link"
    [ "$(readlink "$lib/libqpik.so")" = "libqpik.so.$major" ] || fail "libqpik.so link"
    readelf -d "$lib/libqpik.so.$version" | grep -q "SONAME.*\[libqpik.so.$major\]" ||
        fail "libqpik.so.$version has no SONAME libqpik.so.$major"
    if readelf -S "$lib/libqpik.so.$version" | grep -q '\.debug_'; then
        fail "libqpik.so.$version still has debug sections (not stripped)"
    fi
    # Only the C ABI is exported.
    others=$(nm -D --defined-only "$lib/libqpik.so.$version" | awk '$2 ~ /[TDBR]/ {print $3}' |
        grep -v '^qpik_' || true)
    [ -z "$others" ] || fail "libqpik.so exports non-qpik symbols: $(echo "$others" | head -5)"
    # Every function the header declares is exported.
    for fn in $(grep -o '\bqpik_[a-z0-9_]*(' "$prefix/include/qpik.h" | tr -d '(' | sort -u); do
        nm -D --defined-only "$lib/libqpik.so.$version" | grep -q " T $fn\$" ||
            fail "$fn is declared in qpik.h but not exported"
    done
    cmp -s "$prefix/include/qpik.h" "$here/../../include/qpik.h" || fail "installed qpik.h differs"
    echo "installed layout OK: $(du -sh "$prefix" | cut -f1) in $prefix"
    ;;
find_package)
    rm -rf "$work/find_package"
    "$cmake" -S "$here" -B "$work/find_package" -DCMAKE_PREFIX_PATH="$prefix" \
        -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Release
    "$cmake" --build "$work/find_package"
    check_program "$work/find_package/consumer_shared" shared
    check_program "$work/find_package/consumer_static" static
    check_program "$work/find_package/consumer_cpp" shared
    # A version the package does not satisfy is refused.
    mkdir -p "$work/too-new"
    cat >"$work/too-new/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(too_new LANGUAGES NONE)
find_package(qpik $((major + 1)).0 QUIET)
if(qpik_FOUND)
  message(FATAL_ERROR "qpik $version accepted a request for $((major + 1)).0")
endif()
EOF
    "$cmake" -S "$work/too-new" -B "$work/too-new/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null ||
        fail "find_package accepted an incompatible version"
    ;;
pkg-config)
    export PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name qpik.pc | head -1)")
    [ "$(pkg-config --modversion qpik)" = "$version" ] || fail "pkg-config --modversion"
    libdir=$(pkg-config --variable=libdir qpik)
    out=$work/pkg-config
    rm -rf "$out"
    mkdir -p "$out"
    echo "pkg-config --cflags --libs qpik: $(pkg-config --cflags --libs qpik)"
    # shellcheck disable=SC2046 # word splitting of the flags is intended
    "$cc" -std=c99 -Wall -Wextra -Werror -o "$out/consumer_shared" "$here/consumer.c" \
        $(pkg-config --cflags --libs qpik) -Wl,-rpath,"$libdir"
    check_program "$out/consumer_shared" shared
    # Static: libqpik.a plus Libs.private.
    static_libs=$(pkg-config --static --libs qpik | sed 's/\(^\| \)-lqpik\b//')
    echo "pkg-config --static --libs qpik (without -lqpik): $static_libs"
    # shellcheck disable=SC2046,SC2086
    "$cc" -std=c99 -Wall -Wextra -Werror -o "$out/consumer_static" "$here/consumer.c" \
        $(pkg-config --cflags qpik) "$libdir/libqpik.a" $static_libs
    check_program "$out/consumer_static" static
    # shellcheck disable=SC2046
    "$cxx" -std=c++17 -Wall -Wextra -Werror -o "$out/consumer_cpp" "$here/consumer.cpp" \
        $(pkg-config --cflags --libs qpik) -Wl,-rpath,"$libdir"
    check_program "$out/consumer_cpp" shared
    # The .pc file is relocatable: a moved prefix still resolves.
    mv "$prefix" "$work/moved"
    trap 'mv "$work/moved" "$prefix"' EXIT
    PKG_CONFIG_PATH=${PKG_CONFIG_PATH/$prefix/$work/moved}
    case $(PKG_CONFIG_PATH=$PKG_CONFIG_PATH pkg-config --cflags qpik) in
    *"$work/moved/"*) ;;
    *) fail "qpik.pc does not follow a moved prefix" ;;
    esac
    ;;
cleanup)
    rm -rf "$work"
    ;;
*)
    fail "unknown step '$step'"
    ;;
esac
echo "consumer $step: OK"
