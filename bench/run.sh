#!/usr/bin/env bash
# Inventory benchmarks on a release build, SQLite, loopback:
#   1. bulk import rate (batch endpoint, certificates with keys),
#   2. first page of "expiring within 30 days" among COUNT stored certificates (p50/p95/p99),
#   3. server RSS with COUNT certificates stored (after the fill, and after a restart + queries),
#   4. one expiry sweep over COUNT certificates, and the delivery worker to a local receiver,
#   5. the web UI's dashboard page over COUNT certificates (examples/dashboard_bench.rs).
# Usage: bench/run.sh [COUNT]   (default 1000000). Figures go to stdout; see BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-1000000}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/certkeep-target}"
cargo build --release -q -p certkeep-server --bin certkeepd --example bench --example dashboard_bench
BIN="$CARGO_TARGET_DIR/release"
DIR=$(mktemp -d /tmp/certkeep-bench.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
URL="http://127.0.0.1:$PORT"
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT

start() {
  local before
  before=$(grep -c "listening on" "$DIR/out" 2>/dev/null || true)
  CERTKEEP_LOG=warn "$BIN/certkeepd" --data-dir "$DIR" --listen "127.0.0.1:$PORT" >>"$DIR/out" 2>>"$DIR/err" &
  PID=$!
  for _ in $(seq 1 3000); do
    [ "$(grep -c "listening on" "$DIR/out" 2>/dev/null || true)" -gt "${before:-0}" ] && return 0
    sleep 0.1
  done
  echo "certkeepd did not start" >&2
  exit 1
}
rss() { awk '/VmRSS|VmHWM/ {printf "%s %d MB  ", $1, $2/1024}' "/proc/$PID/status"; echo; }

start
TOKEN=$(grep '^ck_' "$DIR/out" | head -n 1)
echo "== fill: $COUNT certificates"
"$BIN/examples/bench" fill --url "$URL" --token "$TOKEN" --count "$COUNT" --measure 20000
echo "server memory after the fill: $(rss)"
echo "database size: $(du -sh "$DIR" | cut -f1)"

echo "== restart, then list"
kill "$PID"; wait "$PID" 2>/dev/null || true
t0=$(date +%s.%N)
start
echo "restart with $COUNT certificates stored: ready in $(python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$t0" "$(date +%s.%N)") s"
"$BIN/examples/bench" list --url "$URL" --token "$TOKEN" --requests 2000
"$BIN/examples/bench" search --url "$URL" --token "$TOKEN" --requests 50
echo "server memory after restart, 2000 list and 100 search requests: $(rss)"

echo "== notifications (server stopped; the bench opens the database in-process)"
kill "$PID"; wait "$PID" 2>/dev/null || true
PID=
"$BIN/examples/bench" notify --data-dir "$DIR"

echo "== web UI dashboard (server stopped; the bench serves the database in-process)"
"$BIN/examples/dashboard_bench" --data-dir "$DIR" --requests 200
