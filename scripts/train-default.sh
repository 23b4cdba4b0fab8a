#!/usr/bin/env bash
# Retrains the shipped default models with one command (CPU; pass --cuda through QPIK_DEVICE_FLAG=--cuda).
# Writes models/two-step.safetensors and models/one-step.safetensors (embedded at the next build)
# and prints the evaluation table on a fresh test set with a different seed. See docs/model-card.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release --quiet
q=./target/release/qpik
work=${QPIK_WORK:-work}
dev=${QPIK_DEVICE_FLAG:-}
mkdir -p "$work" models
[ -f "$work/train.h5" ] || $q simulate dataset --kernels 100 --per-kernel 500 --size 64 --seed 0 -o "$work/train.h5"
[ -f "$work/test.h5" ] || $q simulate dataset --kernels 100 --per-kernel 50 --size 64 --seed 1 -o "$work/test.h5"
[ -f "$work/vae.safetensors" ] || $q train vae --data "$work/train.h5" -o "$work/vae.safetensors" --epochs 40 --steps-per-epoch 40 --batch-size 32 --seed 0 $dev
$q train align --data "$work/train.h5" --vae "$work/vae.safetensors" -o models/two-step.safetensors --epochs 30 --steps-per-epoch 200 --batch-size 32 --seed 0 $dev
$q train one-step --data "$work/train.h5" -o models/one-step.safetensors --epochs 25 --steps-per-epoch 120 --batch-size 32 --seed 0 $dev
for m in two-step one-step; do
    $q eval --data "$work/test.h5" --model "models/$m.safetensors" --limit 1000
done
