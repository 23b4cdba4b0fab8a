#!/usr/bin/env bash
# Installs the system packages qpik builds against, when they are missing (Debian/Ubuntu).
# Sourced by scripts/demo.sh and scripts/test.sh; safe to run again.
set -euo pipefail

qpik_packages=(libhdf5-dev pkg-config hdf5-tools)
missing=()
for p in "${qpik_packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "qpik: installing system packages: ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "qpik: run as root or install sudo to install ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null; then
    echo "qpik: needs Rust 1.85 or newer (cargo); install it from your distribution or rustup" >&2
    exit 1
fi
