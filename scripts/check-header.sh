#!/usr/bin/env bash
# Regenerates include/qpik.h from src/capi with cbindgen (>= 0.29) and fails if the committed
# header differs. `--write` updates the committed header instead.
set -euo pipefail
cd "$(dirname "$0")/.."
want=0.29.4
if ! command -v cbindgen >/dev/null || [ "$(cbindgen --version | awk '{print $2}')" != "$want" ]; then
    echo "installing cbindgen $want (Debian's 0.24 cannot parse edition-2024 attributes)"
    cargo install cbindgen --version "$want" --locked --quiet
fi
gen=$(mktemp --suffix=.h)
trap 'rm -f "$gen"' EXIT
cbindgen --quiet --config cbindgen.toml --crate qpik --output "$gen"
if [ "${1:-}" = "--write" ]; then
    cp "$gen" include/qpik.h
    echo "include/qpik.h regenerated"
elif ! diff -u include/qpik.h "$gen"; then
    echo "include/qpik.h is out of date with src/capi: run scripts/check-header.sh --write and commit it" >&2
    exit 1
else
    echo "include/qpik.h matches src/capi"
fi
