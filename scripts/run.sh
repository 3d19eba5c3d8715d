#!/usr/bin/env bash
# Builds (after installing the build dependencies if needed) and runs tarsmon. Arguments go to
# tarsmon; with none, it serves every role on the standard ports of 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarsmon-target}"
./scripts/setup.sh >&2
exec cargo run --release --locked -q -p tarsmon-framework --bin tarsmon -- "$@"
