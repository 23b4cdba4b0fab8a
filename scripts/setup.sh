#!/usr/bin/env bash
# Installs the system packages qpik builds against, when they are missing (Debian/Ubuntu).
# Sourced by the demo and test scripts, which also call qpik_apt_install for their own
# packages; safe to run again.
set -euo pipefail

qpik_packages=(libhdf5-dev pkg-config hdf5-tools)
# qpik_apt_install PACKAGE...: installs those not installed yet (root, or via sudo).
qpik_apt_install() {
    local missing=() p sudo=""
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    echo "qpik: installing system packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "qpik: run as root or install sudo to install ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

qpik_apt_install "${qpik_packages[@]}"
if ! command -v cargo >/dev/null; then
    echo "qpik: needs Rust 1.85 or newer (cargo); install it from your distribution or rustup" >&2
    exit 1
fi
