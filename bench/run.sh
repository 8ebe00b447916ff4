#!/usr/bin/env bash
# Benchmarks happner-go against the reference npm happn-3 server and prints a
# markdown table (scenario, metric, Go, happn-3, ratio). See bench/README.md.
#
#   bench/run.sh [--quick] [--secure] [--only SCENARIO[,SCENARIO…]] [--duration D]
#                [--conns N] [--out DIR]
set -euo pipefail

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF2'

  --quick        short runs (2 s measured, 0.5 s warm-up per scenario)
  --secure       start both servers secured; log in as _ADMIN
  --only S       run only these scenarios (comma-separated; repeatable):
                 set-seq set-pipe get-pipe event-1 event-10 idle-10k hostile
  --duration D   measured time per scenario (Go duration, default 10s)
  --conns N      connections for idle-10k (default 10000)
  --out DIR      where to keep go.jsonl, peer.jsonl and table.md
                 (default bench/results/<timestamp>)
EOF2
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SCENARIOS="set-seq set-pipe get-pipe event-1 event-10 idle-10k hostile"
CONNS=10000
bench_parse_args --conns CONNS "$@"
bench_select_scenarios

bench_setup happnbench ""
: > "$OUT/go.jsonl"
: > "$OUT/peer.jsonl"

# 10 000 idle sockets on each end need file descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((CONNS + 512)) ]; then
  echo "warning: ulimit -n is $(ulimit -n); idle-10k with $CONNS connections may fail" >&2
fi

echo "building happnbench and happner…" >&2
(cd "$ROOT" && go build -o "$TMP/happnbench" ./bench/cmd/happnbench)
HAVE_GO=1
bench_build_optional happner ./cmd/happner "the Go column" || HAVE_GO=0
HAVE_PEER=1
bench_npm_peer happn-3 "the happn-3 peer" "the happn-3 column" || HAVE_PEER=0

# start_server go|peer: starts one server and sets SERVER_PID, SERVER_ADDR.
start_server() {
  local side="$1" out="$TMP/$1.out" err="$TMP/$1.err" marker
  : > "$out"
  if [ "$side" = go ]; then
    marker="happner listening on "
    local args=(serve --port 0 --host 127.0.0.1)
    [ "$SECURE" = 1 ] && args+=(--secure --admin-password "$ADMIN_PASSWORD")
    "$TMP/happner" "${args[@]}" > "$out" 2> "$err" &
  else
    marker="peer listening on "
    local args=(--port 0 --host 127.0.0.1)
    [ "$SECURE" = 1 ] && args+=(--secure --admin-password "$ADMIN_PASSWORD")
    node "$BENCH_DIR/peer/server.js" "${args[@]}" > "$out" 2> "$err" &
  fi
  SERVER_PID=$!
  bench_await_listening "$marker" "$out" 300 && return 0
  echo "error: $side server did not report listening; its stderr:" >&2
  tail -20 "$err" >&2
  stop_server
  return 1
}

run_side() {
  local side="$1" scenario="$2" label
  if [ "$side" = go ]; then label=go; else label=happn-3; fi
  start_server "$side" || return 0
  local args=(--addr "$SERVER_ADDR" --scenario "$scenario" --server-pid "$SERVER_PID"
              --duration "$DURATION" --warmup "$WARMUP" --conns "$CONNS" --label "$label")
  [ "$SECURE" = 1 ] && args+=(--username _ADMIN --password "$ADMIN_PASSWORD")
  "$TMP/happnbench" "${args[@]}" >> "$OUT/$side.jsonl" ||
    echo "warning: $scenario against $label failed" >&2
  stop_server
}

for scenario in $SCENARIOS; do
  if [ "$HAVE_GO" = 1 ]; then run_side go "$scenario"; fi
  if [ "$HAVE_PEER" = 1 ]; then run_side peer "$scenario"; fi
done

{
  mode="insecure"; [ "$SECURE" = 1 ] && mode="secure (_ADMIN login)"
  echo "happnbench: $mode, ${DURATION} measured per scenario, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  "$TMP/happnbench" table --go "$OUT/go.jsonl" --peer "$OUT/peer.jsonl"
} | tee "$OUT/table.md"
echo "results kept in $OUT" >&2
