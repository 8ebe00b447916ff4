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

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SCENARIOS="rpc-seq rpc-pipe"
DEPTH=100
bench_parse_args --depth DEPTH "$@"
bench_select_scenarios
# shellcheck disable=SC2086 # split the list into words
SCENARIO_LIST="$(echo $SCENARIOS | tr ' ' ',')"

bench_setup meshbench mesh-
for f in go-mesh-go-client go-mesh-npm-client npm-mesh-go-client npm-mesh-npm-client; do
  : > "$OUT/$f.jsonl"
done

echo "building meshbench and meshserver…" >&2
(cd "$ROOT" && go build -o "$TMP/meshbench" ./bench/cmd/meshbench)
HAVE_GO=1
bench_build_optional meshserver ./bench/cmd/meshserver "the Go mesh columns" || HAVE_GO=0
HAVE_NODE=1
bench_npm_peer happner-2 "the npm peers" "the happner-2 mesh and npm MeshClient columns" || HAVE_NODE=0

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
  bench_await_listening "$marker" "$out" 600 && return 0
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
