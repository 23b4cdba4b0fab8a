#!/usr/bin/env bash
# The whole qpik test suite: formatting, lints, unit, physics, file-format and CLI tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --release --quiet -- -D warnings
echo "== cargo test"
cargo test --release
