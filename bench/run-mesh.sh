#!/usr/bin/env bash
# Benchmarks mesh RPC (MeshClient → component method) on the Go mesh and on
# the reference npm happner-2 mesh, each driven by the Go load generator
# (meshbench) and by the unmodified npm happner-2 MeshClient
# (peer/meshclient-bench.js), and prints one markdown table. See bench/README.md.
#
#   bench/run-mesh.sh [--quick] [--secure] [--only SCENARIO[,SCENARIO…]]
#                     [--duration D] [--depth N] [--out DIR]
set -euo pipefail

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF2'

  --quick        short runs (2 s measured, 0.5 s warm-up per scenario)
  --secure       also run every scenario on secured meshes, logged in as _ADMIN
  --only S       run only these scenarios (comma-separated): rpc-seq rpc-pipe
  --duration D   measured time per scenario (Go duration, default 10s)
  --depth N      calls in flight for rpc-pipe (default 100)
  --out DIR      where to keep the JSON lines and table.md
                 (default bench/results/mesh-<timestamp>)
EOF2
}

ALL_SCENARIOS="rpc-seq rpc-pipe"
SECURE=0
DURATION=10s
WARMUP=2s
DEPTH=100
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
    --depth) [ $# -ge 2 ] || { echo "--depth needs a value" >&2; exit 2; }
             DEPTH="$2"; shift ;;
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
SCENARIO_LIST="$(echo $SCENARIOS | tr ' ' ',')"

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/meshbench.XXXXXX")"
[ -n "$OUT" ] || OUT="$BENCH_DIR/results/mesh-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
for f in go-mesh-go-client go-mesh-npm-client npm-mesh-go-client npm-mesh-npm-client; do
  : > "$OUT/$f.jsonl"
done

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

echo "building meshbench and meshserver…" >&2
(cd "$ROOT" && go build -o "$TMP/meshbench" ./bench/cmd/meshbench)
HAVE_GO=1
if ! (cd "$ROOT" && go build -o "$TMP/meshserver" ./bench/cmd/meshserver) 2> "$TMP/build.err"; then
  HAVE_GO=0
  echo "warning: go build ./bench/cmd/meshserver failed; the Go mesh columns will be n/a:" >&2
  sed 's/^/  /' "$TMP/build.err" >&2
fi

HAVE_NODE=1
if ! command -v node > /dev/null; then
  HAVE_NODE=0
  echo "warning: node not found; the happner-2 mesh and npm MeshClient columns will be n/a" >&2
elif [ ! -d "$BENCH_DIR/peer/node_modules/happner-2" ]; then
  echo "installing the npm peers (npm ci)…" >&2
  if ! (cd "$BENCH_DIR/peer" && npm ci --no-audit --no-fund > "$TMP/npm.log" 2>&1); then
    HAVE_NODE=0
    echo "warning: npm ci failed; the happner-2 and npm MeshClient columns will be n/a:" >&2
    tail -20 "$TMP/npm.log" >&2
  fi
fi

# start_server go|npm SECURE: starts one mesh and sets SERVER_PID, SERVER_ADDR.
start_server() {
  local side="$1" secure="$2" out="$TMP/$1.out" err="$TMP/$1.err" marker
  : > "$out"
  if [ "$side" = go ]; then
    marker="mesh listening on "
    local args=(-port 0 -host 127.0.0.1 -name benchMesh)
    [ "$secure" = 1 ] && args+=(-secure -admin-password "$ADMIN_PASSWORD")
    "$TMP/meshserver" "${args[@]}" > "$out" 2> "$err" &
  else
    marker="peer mesh listening on "
    local args=(--port 0 --host 127.0.0.1 --name benchMesh)
    [ "$secure" = 1 ] && args+=(--secure --admin-password "$ADMIN_PASSWORD")
    node "$BENCH_DIR/peer/mesh.js" "${args[@]}" > "$out" 2> "$err" &
  fi
  SERVER_PID=$!
  for _ in $(seq 600); do
    if grep -q "^$marker" "$out"; then
      SERVER_ADDR="$(grep -m1 "^$marker" "$out" | sed "s/^$marker//")"
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  local name=happner-2; [ "$side" = go ] && name=Go
  echo "warning: the $name mesh ($([ "$secure" = 1 ] && echo secure || echo insecure)) did not start; its output:" >&2
  tail -5 "$err" >&2
  stop_server
  return 1
}

# run_client go|npm MESH SECURE: one client, every scenario, against the
# running mesh; appends to <mesh>-mesh-<client>-client.jsonl.
run_client() {
  local client="$1" mesh="$2" secure="$3"
  local label="$mesh-mesh"; [ "$mesh" = npm ] && label=happner-2
  local file="$OUT/$mesh-mesh-$client-client.jsonl"
  local creds=()
  [ "$secure" = 1 ] && creds=(--username _ADMIN --password "$ADMIN_PASSWORD")
  if [ "$client" = go ]; then
    "$TMP/meshbench" --addr "$SERVER_ADDR" --scenario "$SCENARIO_LIST" --server-pid "$SERVER_PID" \
      --duration "$DURATION" --warmup "$WARMUP" --depth "$DEPTH" --label "$label" "${creds[@]}" >> "$file" ||
      echo "warning: meshbench against the $label ($secure) failed" >&2
  else
    node "$BENCH_DIR/peer/meshclient-bench.js" --addr "$SERVER_ADDR" --scenario "$SCENARIO_LIST" \
      --server-pid "$SERVER_PID" --duration "$DURATION" --warmup "$WARMUP" --depth "$DEPTH" \
      --label "$label" "${creds[@]}" >> "$file" ||
      echo "warning: the npm MeshClient against the $label ($secure) failed" >&2
  fi
}

MODES="0"; [ "$SECURE" = 1 ] && MODES="0 1"
for secure in $MODES; do
  for mesh in go npm; do
    [ "$mesh" = go ] && [ "$HAVE_GO" = 0 ] && continue
    [ "$mesh" = npm ] && [ "$HAVE_NODE" = 0 ] && continue
    for client in go npm; do
      [ "$client" = npm ] && [ "$HAVE_NODE" = 0 ] && continue
      # A fresh mesh per client, so one client's garbage does not bill the other.
      start_server "$mesh" "$secure" || continue
      run_client "$client" "$mesh" "$secure"
      stop_server
    done
  done
done

{
  mode="insecure"; [ "$SECURE" = 1 ] && mode="insecure and secure (_ADMIN login)"
  echo "meshbench: $mode, ${DURATION} measured per scenario, rpc-pipe depth $DEPTH, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  "$TMP/meshbench" table --go-mesh-go-client "$OUT/go-mesh-go-client.jsonl" \
    --npm-mesh-go-client "$OUT/npm-mesh-go-client.jsonl" \
    --go-mesh-npm-client "$OUT/go-mesh-npm-client.jsonl" \
    --npm-mesh-npm-client "$OUT/npm-mesh-npm-client.jsonl"
  echo
  echo "ratio = how many times better the Go mesh is than happner-2 with the same client; ✓/✗: the issue's target (CPU/call ≥ 20×, rpc-pipe calls/s ≥ 5×, rpc-seq latency ≥ 5×)."
} | tee "$OUT/table.md"
echo "results kept in $OUT" >&2
