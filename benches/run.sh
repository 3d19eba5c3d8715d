#!/usr/bin/env bash
# tarsmon's end-to-end benchmarks, each against a baseline measured in the same run; prints
# Markdown for BENCHMARKS.md.
#
#   benches/run.sh [SECONDS]               every section (default 10 s per ingest run)
#   SECTIONS="ingest memory" benches/run.sh
#
# Sections:
#   ingest  the null sink and tarsmon, loaded by tarsmon-load with the same frames: stat at 10k
#           and 200k distinct keys over 1 and 8 connections, property and notify, and stat with
#           a query load running; entries/s, ratio to the sink, tarsmon CPU-seconds per
#           million entries, latency, and whether every entry was counted.
#   memory  resident bytes per live key (tarsmon-bench memory).
#   export  one 5-minute interval of 100k keys into MariaDB (tarsmon-bench export).
#   day     two days of 10k keys: bytes on disk, export, TarsWeb's page (tarsmon-bench day).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarsmon-target}"
secs="${1:-10}"
sections="${SECTIONS:-ingest memory export day}"
# The whole workspace, as the tests build it: building one package changes DataFusion's
# feature set and rebuilds it.
cargo build --release --workspace --all-targets --locked -q
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
sink_pid="" tarsmon_pid=""
trap 'kill $sink_pid $tarsmon_pid $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo

field() { sed -n 's/.*"'"$1"'":\([^,}]*\).*/\1/p' <<<"$2"; }

ingest() {
  "$bin/tarsmon-load" sink --listen 127.0.0.1:18299 >/dev/null 2>&1 &
  sink_pid=$!
  cat >"$work/tarsmon.toml" <<EOF
data_dir = "$work/data"
[http]
listen = "127.0.0.1:18280"
EOF
  (cd "$work" && "$bin/tarsmon" serve --config "$work/tarsmon.toml" --log warn >"$work/tarsmon.out" 2>"$work/tarsmon.err") &
  tarsmon_pid=$!
  for _ in $(seq 100); do grep -q "listening http" "$work/tarsmon.out" 2>/dev/null && break; sleep 0.1; done
  # The server process itself (the subshell's child), for its CPU time.
  tarsmon_pid=$(pgrep -P "$tarsmon_pid" tarsmon || echo "$tarsmon_pid")

  echo "| load | keys | connections | sink entries/s | tarsmon entries/s | ratio | tarsmon CPU-s / M entries | generator CPU-s / M entries (sink run / tarsmon run) | p50 / p99 µs | counted exactly |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  row() { # kind keys conns label [extra args of the tarsmon run…]
    local kind=$1 keys=$2 conns=$3 label=$4; shift 4
    local s t
    s=$("$bin/tarsmon-load" "$kind" --target "tars.tarsstat.StatObj@tcp -h 127.0.0.1 -p 18299" --no-verify \
        --keys "$keys" --connections "$conns" --duration "${secs}s" | tail -1 || true)
    t=$("$bin/tarsmon-load" "$kind" --keys "$keys" --connections "$conns" --duration "${secs}s" \
        --http 127.0.0.1:18280 --server-pid "$tarsmon_pid" "$@" | tee "$work/last.txt" | tail -1 || true)
    # A run that fails its exact-count check still prints its figures (and ok=false).
    local se te cpu sent gs gt
    se=$(field entries_per_sec "$s"); te=$(field entries_per_sec "$t")
    cpu=$(field server_cpu_s "$t"); sent=$(field entries_sent "$t")
    gs=$(awk "BEGIN{printf \"%.3f\", $(field generator_cpu_s "$s")*1e6/$(field entries_sent "$s")}")
    gt=$(awk "BEGIN{printf \"%.3f\", $(field generator_cpu_s "$t")*1e6/$sent}")
    echo "| $label | $keys | $conns | $se | $te | $(awk "BEGIN{printf \"%.2f\", $te/$se}") | $(awk "BEGIN{printf \"%.3f\", $cpu*1e6/$sent}") | $gs / $gt | $(field p50_us "$t") / $(field p99_us "$t") | $(field ok "$t") |"
  }
  for keys in 10000 200000; do
    for conns in 1 8; do row stat "$keys" "$conns" stat; done
  done
  row property 10000 1 property
  row notify 10000 1 notify
  row stat 10000 1 "stat + 2 query tasks" --query-load 2
  echo
  grep '^query load' "$work/last.txt" | sed 's/^/    /'
  echo
  echo "tarsmon resident memory after the runs: $(awk '/VmRSS/{print $2, $3}' /proc/$tarsmon_pid/status)"
  echo
  kill "$sink_pid" "$tarsmon_pid"
}

for section in $sections; do
  echo "### $section"
  echo
  case "$section" in
    ingest) ingest ;;
    memory) "$bin/tarsmon-bench" memory --keys 1000000 ;;
    export) "$bin/tarsmon-bench" export --keys 100000 ;;
    day) "$bin/tarsmon-bench" day --keys 10000 --queries 20 ;;
    *) echo "unknown section $section" >&2; exit 2 ;;
  esac
  echo
done
