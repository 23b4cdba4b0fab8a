#!/usr/bin/env bash
# Makes a link directory for a CUDA build on a machine without a CUDA driver: unversioned
# symlinks to the PyPI wheels' libraries and a stub libcuda.so (SONAME libcuda.so.1) that
# defines every driver function cudarc declares. At run time the real driver is loaded.
# Usage: scripts/cuda-link-stubs.sh TOOLKIT_DIR OUT_DIR
set -euo pipefail
tk=$1
out=$2
mkdir -p "$out"
for lib in cudart cublas cublasLt curand nvrtc; do
    f=$(find "$tk" -name "lib$lib.so.*" -type f | grep -v -e builtins -e '\.alt\.' | head -n 1)
    [ -n "$f" ] || { echo "qpik: lib$lib not found under $tk" >&2; exit 1; }
    ln -sf "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$out/lib$lib.so"
done
sys=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -path "*cudarc-*/src/driver/sys/mod.rs" | sort | tail -n 1)
grep -oE "fn cu[A-Za-z0-9_]+" "$sys" | awk '{print "void " $2 "(void) {}"}' | sort -u >"$out/cuda_stub.c"
cc -shared -fPIC -o "$out/libcuda.so" -Wl,-soname,libcuda.so.1 "$out/cuda_stub.c"
