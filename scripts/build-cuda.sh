#!/usr/bin/env bash
# Builds qpik with Candle's CUDA backend, using NVIDIA's CUDA 13.0 compiler wheels from PyPI
# (no system CUDA toolkit needed to build; running needs an NVIDIA driver and GPU).
# Compute capability 90 (H100/H200) by default: CUDA_COMPUTE_CAP=80 etc. to change.
# Candle links libcuda, cublas, cublasLt, curand, nvrtc and cudart dynamically: the libraries
# come from NVIDIA's wheels, libcuda from a stub (scripts/cuda-link-stubs.sh); the machine
# that runs the binary needs the NVIDIA driver and the CUDA 13 libraries.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
tk=${QPIK_CUDA_TOOLKIT:-.cuda-toolkit}
if [ ! -x "$tk/nvidia/cu13/bin/nvcc" ] && [ ! -x "$tk/nvidia/cuda_nvcc/bin/nvcc" ]; then
    echo "qpik: installing the CUDA 13.0 compiler wheels into $tk"
    python3 -m pip install --quiet --target "$tk" \
        "nvidia-cuda-nvcc==13.0.*" "nvidia-cuda-crt==13.0.*" "nvidia-nvvm==13.0.*" \
        "nvidia-cuda-runtime==13.0.*" "nvidia-cuda-cccl==13.0.*"
fi
if ! find "$tk" -name "libcublas.so.*" | grep -q .; then
    echo "qpik: installing the CUDA 13.0 library wheels (cuBLAS, cuRAND, NVRTC) into $tk/extra"
    python3 -m pip install --quiet --target "$tk/extra" \
        "nvidia-cublas==13.0.*" "nvidia-curand==10.*" "nvidia-cuda-nvrtc==13.0.*"
fi
# The stub needs cudarc's source, which cargo downloads only when asked: fetch every locked
# dependency (cudarc is optional, behind the cuda feature) before making it.
cargo fetch --locked
# Link against unversioned names and a libcuda stub (no driver needed to build).
bash scripts/cuda-link-stubs.sh "$tk" "$tk/link"
# Absolute: cargo runs build scripts in other directories.
root=$(cd "$(dirname "$(find "$tk" -name nvcc -type f | head -n 1)")/.." && pwd)
export CUDA_ROOT="$root" CUDA_PATH="$root" PATH="$root/bin:$PATH"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export LIBRARY_PATH="$(cd "$tk/link" && pwd):$root/lib:${LIBRARY_PATH:-}"
# A separate target directory, so the CPU build in target/release stays as it is.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/cuda}
cargo build --release --features cuda "$@"
echo "qpik: built $CARGO_TARGET_DIR/release/qpik with CUDA (compute capability $CUDA_COMPUTE_CAP); run with --cuda"
