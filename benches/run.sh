#!/usr/bin/env bash
# End-to-end ingest benchmark: the null sink and tarsmon, each loaded by tarsmon-load with the
# same frames, at 10k and 200k distinct keys over 1 and 8 connections. Prints a Markdown table
# (entries/s, ratio to the sink, tarsmon CPU-seconds per million entries, p50/p99 latency,
# verification) for BENCHMARKS.md.
#
#   benches/run.sh [SECONDS]        (default 10 s per run)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarsmon-target}"
secs="${1:-10}"
cargo build --release --locked -q -p tarsmon-framework --bin tarsmon -p tarsmon-benches --bin tarsmon-load
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

"$bin/tarsmon-load" sink --listen 127.0.0.1:18299 >/dev/null 2>&1 &
sink_pid=$!
(cd "$work" && "$bin/tarsmon" serve --data-dir "$work/data" --log warn >"$work/tarsmon.out" 2>"$work/tarsmon.err") &
tarsmon_pid=$!
for _ in $(seq 100); do grep -q "listening http" "$work/tarsmon.out" 2>/dev/null && break; sleep 0.1; done

field() { sed -n 's/.*"'"$1"'":\([^,}]*\).*/\1/p' <<<"$2"; }
echo "| keys | connections | sink entries/s | tarsmon entries/s | ratio | tarsmon CPU-s / M entries | p50 / p99 µs | counted exactly |"
echo "|---|---|---|---|---|---|---|---|"
for keys in 10000 200000; do
  for conns in 1 8; do
    s=$("$bin/tarsmon-load" stat --target "tars.tarsstat.StatObj@tcp -h 127.0.0.1 -p 18299" --no-verify \
        --keys "$keys" --connections "$conns" --duration "${secs}s" | tail -1)
    t=$("$bin/tarsmon-load" stat --keys "$keys" --connections "$conns" --duration "${secs}s" \
        --server-pid "$tarsmon_pid" | tail -1)
    se=$(field entries_per_sec "$s"); te=$(field entries_per_sec "$t")
    cpu=$(field server_cpu_s "$t"); sent=$(field entries_sent "$t")
    ratio=$(awk "BEGIN{printf \"%.2f\", $te/$se}")
    cpm=$(awk "BEGIN{printf \"%.3f\", $cpu*1e6/$sent}")
    echo "| $keys | $conns | $se | $te | $ratio | $cpm | $(field p50_us "$t") / $(field p99_us "$t") | $(field ok "$t") |"
  done
done
echo
echo "tarsmon resident memory after the runs: $(awk '/VmRSS/{print $2, $3}' /proc/$tarsmon_pid/status)"
kill $sink_pid $tarsmon_pid
