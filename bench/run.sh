#!/usr/bin/env bash
# The whole performance table in one command: a clean release build (timed, into its own target
# directory), the stripped binary size, a debug rebuild after an overlay edit, then `cargo bench --bench perf` (startup, memory, per-call
# overhead and CPU per call beside a floor process, throughput, tools/list size, HTTP load) against
# the loopback mock.
# Usage: bash bench/run.sh            (PERF_QUICK=1 for a short run; SKIP_CLEAN_BUILD=1 to skip the build)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m), $(date -u +%Y-%m-%d)"
echo "rustc: $(rustc --version)"
if [ -z "${SKIP_CLEAN_BUILD:-}" ]; then
  dir=target/bench-clean-build
  rm -rf "$dir"
  cargo fetch --locked >/dev/null 2>&1 || true
  start=$(date +%s.%N)
  CARGO_TARGET_DIR=$dir cargo build --locked --release --bin leadmagic-mcp >/dev/null 2>&1
  end=$(date +%s.%N)
  size=$(stat -c %s "$dir/release/leadmagic-mcp")
  echo "| clean release build (2 cores, dependencies fetched) | $(awk -v a="$start" -v b="$end" 'BEGIN {s=b-a; printf "%dm %02ds", s/60, s%60}') | <= 2m 30s |"
  echo "| stripped binary size | $(awk -v s="$size" 'BEGIN {printf "%.1f MB", s/1000000}') | <= 8 MB |"
  rm -rf "$dir"
fi
# A debug rebuild after an overlay edit that changes a tool (so the crate is recompiled), made
# on a copy so the tree stays clean; then the normal build again (not timed).
cargo build --locked >/dev/null 2>&1
mkdir -p target
sed 's/summary: Credit balance$/summary: Credit balance (edited)/' openapi/leadmagic.overlay.yaml > target/bench-overlay.yaml
start=$(date +%s.%N)
LEADMAGIC_OVERLAY=target/bench-overlay.yaml cargo build --locked >/dev/null 2>&1
end=$(date +%s.%N)
echo "| debug rebuild after an overlay edit | $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f s", b-a}') | <= 10 s |"
cargo build --locked >/dev/null 2>&1
cargo bench --locked --bench perf 2>/dev/null
