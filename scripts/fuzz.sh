#!/usr/bin/env bash
# Fuzzes the option parser, the model and dataset loaders and the .sxm, .3ds, Createc .dat,
# Nanonis .dat spectrum and .npy parsers with cargo-fuzz
# (libFuzzer + AddressSanitizer; needs a nightly toolchain), and the C ABI end to end: TOML
# kernel specs through qpik_kernel_new (kernel_spec) and qpik_options_set sequences followed
# by a call (options_call). Those two run under a memory limit above the budget they set
# (64 MiB and 256 MiB): a single allocation over 1 GiB, or 2 GiB resident, fails the run.
# Usage: scripts/fuzz.sh [SECONDS per target] [options|model_bytes|sxm_bytes|grid3ds_bytes|createc_bytes|spectrum_bytes|npy_bytes|kernel_spec|options_call|dataset: only that one]
#
# dataset_file runs libhdf5 in the fuzzing process (DatasetReader::open_in_process), in
# libFuzzer's fork mode so that it goes on after a crash or hang inside libhdf5 (saved in
# fuzz/artifacts/dataset_file). dataset_file_child then replays that corpus and every saved
# crash through the reader users get (DatasetReader::open: libhdf5 in a child process), where
# no input may crash or hang the fuzzing process, and fuzzes it for SECONDS more.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
only=${2:-all}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --quiet
rustup toolchain list | grep -q nightly || rustup toolchain install nightly --profile minimal
common=(-timeout=10 -rss_limit_mb=4096 -print_final_stats=1)
for t in options model_bytes sxm_bytes grid3ds_bytes createc_bytes spectrum_bytes npy_bytes; do
    [[ $only == all || $only == "$t" ]] || continue
    mkdir -p "fuzz/corpus/$t"
    echo "== fuzz $t for ${secs}s"
    cargo +nightly fuzz run --release "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" "${common[@]}" 2>&1 | tail -n 15
done
for t in kernel_spec options_call; do
    [[ $only == all || $only == "$t" ]] || continue
    mkdir -p "fuzz/corpus/$t"
    echo "== fuzz $t for ${secs}s (memory limited)"
    cargo +nightly fuzz run --release "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -print_final_stats=1 2>&1 | tail -n 15
done
[[ $only == all || $only == dataset ]] || exit 0

mkdir -p fuzz/corpus/dataset_file fuzz/artifacts/dataset_file
echo "== fuzz dataset_file (libhdf5 in process, fork mode) for ${secs}s"
mkdir -p fuzz/logs
# Fails by design (libhdf5 crashes); the log keeps libFuzzer's progress lines.
cargo +nightly fuzz run --release dataset_file fuzz/corpus/dataset_file fuzz/seeds/dataset_file -- \
    -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$secs" "${common[@]}" >fuzz/logs/dataset_file.log 2>&1 || true
grep -E "^#[0-9]+: " fuzz/logs/dataset_file.log | tail -n 2
echo "saved inputs that crash, hang, exhaust or leak in libhdf5: \
$(find fuzz/artifacts/dataset_file -type f | sed 's|.*/||; s|-.*||' | sort | uniq -c | xargs)"

replay=$(mktemp -d)
trap 'rm -rf "$replay"' EXIT
cp fuzz/corpus/dataset_file/* fuzz/seeds/dataset_file/* fuzz/findings/*.h5 "$replay"/ 2>/dev/null || true
find fuzz/artifacts/dataset_file -type f -exec cp {} "$replay"/ \;
echo "== replay $(find "$replay" -type f | wc -l) inputs through dataset_file_child (libhdf5 in a child)"
cargo +nightly fuzz run --release dataset_file_child "$replay" -- -runs=0 "${common[@]}" 2>&1 | tail -n 6
mkdir -p fuzz/corpus/dataset_file_child
echo "== fuzz dataset_file_child for ${secs}s"
cargo +nightly fuzz run --release dataset_file_child fuzz/corpus/dataset_file_child "$replay" -- \
    -max_total_time="$secs" "${common[@]}" 2>&1 | tail -n 15
