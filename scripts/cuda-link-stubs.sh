#!/usr/bin/env bash
# Makes a link directory for a CUDA build on a machine without a CUDA driver: unversioned
# symlinks to the PyPI wheels' libraries and a stub libcuda.so (SONAME libcuda.so.1) that
# defines every driver function cudarc declares. At run time the real driver is loaded.
# Usage: scripts/cuda-link-stubs.sh TOOLKIT_DIR OUT_DIR (after `cargo fetch`).
set -euo pipefail
tk=$1
out=$2
mkdir -p "$out"
for lib in cudart cublas cublasLt curand nvrtc; do
    f=$(find "$tk" -name "lib$lib.so.*" -type f | grep -v -e builtins -e '\.alt\.' | head -n 1)
    [ -n "$f" ] || { echo "qpik: lib$lib not found under $tk" >&2; exit 1; }
    ln -sf "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$out/lib$lib.so"
done
# The driver API of the cudarc version in Cargo.lock, from cargo's registry: run
# `cargo fetch` first (scripts/build-cuda.sh does) so that its source is there.
lock="$(dirname "$0")/../Cargo.lock"
version=$(awk '/^name = "cudarc"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$lock")
[ -n "$version" ] || { echo "qpik: cudarc is not in $lock" >&2; exit 1; }
registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
sys=$(find "$registry" -path "*/cudarc-$version/src/driver/sys/mod.rs" 2>/dev/null | head -n 1)
if [ -z "$sys" ]; then
    echo "qpik: cudarc $version's source is not under $registry; run 'cargo fetch' first" >&2
    exit 1
fi
grep -oE "fn cu[A-Za-z0-9_]+" "$sys" | awk '{print "void " $2 "(void) {}"}' | sort -u >"$out/cuda_stub.c"
cc -shared -fPIC -o "$out/libcuda.so" -Wl,-soname,libcuda.so.1 "$out/cuda_stub.c"
