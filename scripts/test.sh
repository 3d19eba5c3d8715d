#!/usr/bin/env bash
# Runs every check and test of tarsmon: set-up, formatting, clippy, the whole test suite
# (unit, property, integration, interop with the real npm @tars/* packages, bounded fuzzing,
# benchmarks in test mode), and the docs. One release profile for everything, so each heavy
# dependency (RocksDB, DataFusion) is built once.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarsmon-target}"
export TARSMON_FUZZ_SECS="${TARSMON_FUZZ_SECS:-20}"

./scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --release --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --release --workspace --all-targets --locked
cargo test --release --workspace --doc --locked
echo "== cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --release --workspace --no-deps --locked
echo "all checks passed"
