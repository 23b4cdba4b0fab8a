#!/usr/bin/env bash
# Fuzzes the option parser and the model and dataset loaders with cargo-fuzz (libFuzzer +
# AddressSanitizer; needs a nightly toolchain). Usage: scripts/fuzz.sh [SECONDS per target]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
for t in options model_bytes dataset_file; do
    mkdir -p "fuzz/corpus/$t"
    echo "== fuzz $t for ${secs}s"
    cargo +nightly fuzz run --release "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 2>&1 | tail -n 15
done
