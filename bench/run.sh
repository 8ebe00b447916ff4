#!/usr/bin/env bash
# Benchmarks happner-go against the reference npm happn-3 server and prints a
# markdown table (scenario, metric, Go, happn-3, ratio). See bench/README.md.
#
#   bench/run.sh [--quick] [--secure] [--only SCENARIO[,SCENARIO…]] [--duration D]
#                [--conns N] [--out DIR]
set -euo pipefail

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF'

  --quick        short runs (2 s measured, 0.5 s warm-up per scenario)
  --secure       start both servers secured; log in as _ADMIN
  --only S       run only these scenarios (comma-separated; repeatable):
                 set-seq set-pipe get-pipe event-1 event-10 idle-10k
  --duration D   measured time per scenario (Go duration, default 10s)
  --conns N      connections for idle-10k (default 10000)
  --out DIR      where to keep go.jsonl, peer.jsonl and table.md
                 (default bench/results/<timestamp>)
EOF
}

ALL_SCENARIOS="set-seq set-pipe get-pipe event-1 event-10 idle-10k"
SECURE=0
DURATION=10s
WARMUP=2s
CONNS=10000
ONLY=""
OUT=""
ADMIN_PASSWORD="bench-secret"

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) DURATION=2s; WARMUP=500ms ;;
    --secure) SECURE=1 ;;
    --only) [ $# -ge 2 ] || { echo "--only needs a value" >&2; exit 2; }
            ONLY="$ONLY ${2//,/ }"; shift ;;
    --duration) [ $# -ge 2 ] || { echo "--duration needs a value" >&2; exit 2; }
                DURATION="$2"; shift ;;
    --conns) [ $# -ge 2 ] || { echo "--conns needs a value" >&2; exit 2; }
             CONNS="$2"; shift ;;
    --out) [ $# -ge 2 ] || { echo "--out needs a value" >&2; exit 2; }
           OUT="$2"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

SCENARIOS="$ALL_SCENARIOS"
if [ -n "$ONLY" ]; then
  for s in $ONLY; do
    case " $ALL_SCENARIOS " in
      *" $s "*) ;;
      *) echo "unknown scenario: $s (want one of: $ALL_SCENARIOS)" >&2; exit 2 ;;
    esac
  done
  SCENARIOS="$ONLY"
fi

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/happnbench.XXXXXX")"
[ -n "$OUT" ] || OUT="$BENCH_DIR/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
: > "$OUT/go.jsonl"
: > "$OUT/peer.jsonl"

SERVER_PID=""
SERVER_ADDR=""

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  local pid="$SERVER_PID"
  SERVER_PID=""
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  stop_server
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 10 000 idle sockets on each end need file descriptors.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((CONNS + 512)) ]; then
  echo "warning: ulimit -n is $(ulimit -n); idle-10k with $CONNS connections may fail" >&2
fi

echo "building happnbench and happner…" >&2
(cd "$ROOT" && go build -o "$TMP/happnbench" ./bench/cmd/happnbench)
HAVE_GO=1
if ! (cd "$ROOT" && go build -o "$TMP/happner" ./cmd/happner) 2> "$TMP/build.err"; then
  HAVE_GO=0
  echo "warning: go build ./cmd/happner failed; the Go column will be n/a:" >&2
  sed 's/^/  /' "$TMP/build.err" >&2
fi

HAVE_PEER=1
if ! command -v node > /dev/null; then
  HAVE_PEER=0
  echo "warning: node not found; the happn-3 column will be n/a" >&2
elif [ ! -d "$BENCH_DIR/peer/node_modules/happn-3" ]; then
  echo "installing the happn-3 peer (npm ci)…" >&2
  if ! (cd "$BENCH_DIR/peer" && npm ci --no-audit --no-fund > "$TMP/npm.log" 2>&1); then
    HAVE_PEER=0
    echo "warning: npm ci failed; the happn-3 column will be n/a:" >&2
    tail -20 "$TMP/npm.log" >&2
  fi
fi

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
  for _ in $(seq 300); do
    if grep -q "^$marker" "$out"; then
      SERVER_ADDR="$(grep -m1 "^$marker" "$out" | sed "s/^$marker//")"
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
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
