#!/usr/bin/env bash
# The main job on the embedded default: simulate a realistic multi-defect QPI map from the
# built-in kernel catalog, write qpik-demo/demo.h5 and qpik-demo/demo.png, print what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --quiet
./target/release/qpik demo "$@"
