#!/usr/bin/env bash
# Compares a call through a cluster member with happner-cluster: a client
# connected to an edge member calls calc.add, which lives on a worker member
# (the edge brokers it, $broker), one call at a time (rpc-seq) and 100 in
# flight (rpc-pipe). The server CPU is the two members' together. The same
# client calling calc on the worker itself gives the local call, for the
# through-a-member/local ratio. Prints markdown tables.
#
#   bench/run-cluster.sh [--quick] [--only SCENARIO[,SCENARIO…]] [--duration D] [--depth N] [--out DIR]
set -euo pipefail

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF2'

  --quick        short runs (2 s measured, 0.5 s warm-up per scenario)
  --only S       run only these scenarios (comma-separated): rpc-seq rpc-pipe
  --duration D   measured time per scenario (Go duration, default 10s)
  --depth N      calls in flight for rpc-pipe (default 100)
  --out DIR      where to keep the JSON lines and table.md
                 (default bench/results/cluster-<timestamp>)

The Go side runs two `happner member` processes (bench/cmd/benchmember, the
stock command line with calc and a $broker edge) on a private PostgreSQL
(bench/cmd/benchdb). The JavaScript side needs happner-cluster, which npm
does not serve whole (a pinned dependency of it, happn-cluster 12.4.x, is
missing from the registry): set HAPPNER_CLUSTER_PEER to a folder whose
node_modules holds happner-cluster 13.0.x with a happn-cluster that loads
(bench/README.md, "Cluster calls", says how); without it the happner-cluster
columns read n/a. happn-cluster keeps its shared data in MongoDB: the run
starts a private FerretDB (scripts/build-ferretdb.sh).
EOF2
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEPTH=100
bench_parse_args --depth DEPTH "$@"
ALL_SCENARIOS="rpc-seq rpc-pipe"
bench_select_scenarios
SCENARIO_LIST="$(echo $SCENARIOS | tr ' ' ',')"

bench_setup clusterbench cluster-
PIDS=()
# stop_all: stops every process this run started, newest first.
stop_all() {
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    SERVER_PID="${PIDS[i]}" stop_server
  done
  PIDS=()
}
trap 'stop_all; bench_cleanup' EXIT

echo "building meshbench, benchmember and benchdb…" >&2
(cd "$ROOT" && go build -o "$TMP/meshbench" ./bench/cmd/meshbench &&
  go build -o "$TMP/benchmember" ./bench/cmd/benchmember &&
  go build -o "$TMP/benchdb" ./bench/cmd/benchdb)
HAVE_NODE=1
bench_npm_peer happner-2 "the npm MeshClient" "the npm MeshClient columns" || HAVE_NODE=0

# start NAME MARKER CMD…: starts CMD in the background, waits for its line
# starting with MARKER and sets ADDR to the rest of that line.
start() {
  local name="$1" marker="$2"
  shift 2
  "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  if ! bench_await_listening "$marker" "$TMP/$name.out" 1200; then
    echo "warning: $name did not start; its output:" >&2
    tail -5 "$TMP/$name.err" >&2
    return 1
  fi
  ADDR="$SERVER_ADDR"
  SERVER_PID=""
}

# load CLIENT ADDR PIDS FILE LABEL: one client, every scenario, against ADDR;
# PIDS (comma-separated) are the processes whose CPU counts.
load() {
  local client="$1" addr="$2" pids="$3" file="$4" label="$5"
  if [ "$client" = go ]; then
    "$TMP/meshbench" --addr "$addr" --scenario "$SCENARIO_LIST" --server-pid "$pids" \
      --duration "$DURATION" --warmup "$WARMUP" --depth "$DEPTH" --label "$label" >> "$file" ||
      echo "warning: meshbench against $label failed" >&2
  else
    [ "$HAVE_NODE" = 1 ] || return 0
    node "$BENCH_DIR/peer/meshclient-bench.js" --addr "$addr" --scenario "$SCENARIO_LIST" \
      --server-pid "$pids" --duration "$DURATION" --warmup "$WARMUP" --depth "$DEPTH" \
      --label "$label" >> "$file" || echo "warning: the npm MeshClient against $label failed" >&2
  fi
}

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

for f in go-edge go-local js-edge js-local; do
  : > "$OUT/$f-go-client.jsonl"
  : > "$OUT/$f-npm-client.jsonl"
done

# --- happner-go: two members on PostgreSQL -----------------------------------
go_side() {
  start postgres "postgres " "$TMP/benchdb" || return 1
  local db="$ADDR"
  local role
  for role in worker edge; do
    {
      echo "name: bench-$role"
      echo "domain: benchDomain"
      echo "happn:"
      echo "  host: 127.0.0.1"
      echo "  services:"
      echo "    data:"
      echo "      config:"
      echo "        datastores:"
      echo "          - {name: shared, provider: postgres, isDefault: true, settings: {url: \"$db\"}}"
      echo "    proxy:"
      echo "      config: {port: 0}"
      echo "    membership:"
      echo "      config:"
      echo "        deploymentId: bench-cluster"
      echo "        serviceName: $role"
      [ "$role" = edge ] && echo "        dependencies: {worker: 1}"
      if [ "$role" = worker ]; then
        echo "modules: {calc: {}}"
        echo "components: {calc: {}}"
      else
        echo "modules: {edge: {}}"
        echo 'components: {edge: {dependencies: {$broker: {calc: {version: ^1.0.0}}}}}'
      fi
    } > "$TMP/$role.yaml"
  done
  start go-worker "happner member bench-worker listening on " \
    "$TMP/benchmember" member --config "$TMP/worker.yaml" --log-level warn || return 1
  local worker="$ADDR" wpid="${PIDS[-1]}"
  start go-edge "happner member bench-edge listening on " \
    "$TMP/benchmember" member --config "$TMP/edge.yaml" --log-level warn || return 1
  local edge="$ADDR" epid="${PIDS[-1]}"
  for client in go npm; do
    load "$client" "$edge" "$wpid,$epid" "$OUT/go-edge-$client-client.jsonl" go-cluster
    load "$client" "$worker" "$wpid" "$OUT/go-local-$client-client.jsonl" go-member
  done
}

# --- happner-cluster: two members on FerretDB ----------------------------------
js_side() {
  local peer="${HAPPNER_CLUSTER_PEER:-}"
  if [ -z "$peer" ] || [ ! -d "$peer/node_modules/happner-cluster" ]; then
    echo "warning: HAPPNER_CLUSTER_PEER does not name a folder with node_modules/happner-cluster; the happner-cluster columns will be n/a" >&2
    return 0
  fi
  local ferret
  ferret="$("$ROOT/scripts/build-ferretdb.sh")" || return 1
  local mport
  mport="$(free_port)"
  mkdir -p "$TMP/ferret/data"
  "$ferret" --handler=sqlite --sqlite-url="file:$TMP/ferret/data/" --state-dir="$TMP/ferret" \
    --listen-addr="127.0.0.1:$mport" --debug-addr=- --telemetry=disable --log-level=error > "$TMP/ferret.out" 2>&1 &
  PIDS+=("$!")
  local up=0
  for _ in $(seq 300); do
    if node -e 'require("net").connect(Number(process.argv[1]),"127.0.0.1").on("connect",()=>process.exit(0)).on("error",()=>process.exit(1))' "$mport"; then
      up=1
      break
    fi
    sleep 0.1
  done
  if [ "$up" = 0 ]; then
    echo "warning: FerretDB did not start:" >&2
    tail -5 "$TMP/ferret.out" >&2
    return 1
  fi
  local p1 p2 s1 s2
  p1="$(free_port)"; p2="$(free_port)"; s1="$(free_port)"; s2="$(free_port)"
  local common=(--mongo "mongodb://127.0.0.1:$mport" --seed-port "$s1")
  # The worker (the SWIM seed) is stable alone; the edge waits until it sees
  # both members, so each can be waited for in turn.
  NODE_PATH="$peer/node_modules" start js-worker "peer member W listening on " node "$BENCH_DIR/peer/cluster-member.js" \
    --role worker --name W --port "$p1" --swim-port "$s1" --seed --peers 1 "${common[@]}" || return 1
  local worker="$ADDR" wpid="${PIDS[-1]}"
  NODE_PATH="$peer/node_modules" start js-edge "peer member E listening on " node "$BENCH_DIR/peer/cluster-member.js" \
    --role edge --name E --port "$p2" --swim-port "$s2" --peers 2 "${common[@]}" || return 1
  local edge="$ADDR" epid="${PIDS[-1]}"
  sleep 3 # the edge learns the worker's description (SWIM, then the peer connection)
  for client in go npm; do
    load "$client" "$edge" "$wpid,$epid" "$OUT/js-edge-$client-client.jsonl" happner-cluster
    load "$client" "$worker" "$wpid" "$OUT/js-local-$client-client.jsonl" happner-cluster-member
  done
}

go_side || echo "warning: the happner-go cluster did not run" >&2
stop_all
js_side || echo "warning: the happner-cluster side did not run" >&2
stop_all

{
  echo "cluster calls: ${DURATION} measured per scenario, rpc-pipe depth $DEPTH, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "Through a member: client → edge member → calc on the worker member (server CPU: both members)"
  echo
  "$TMP/meshbench" table --go-name "Go cluster" --peer-name happner-cluster --cpu-target 10 \
    --go-mesh-go-client "$OUT/go-edge-go-client.jsonl" --npm-mesh-go-client "$OUT/js-edge-go-client.jsonl" \
    --go-mesh-npm-client "$OUT/go-edge-npm-client.jsonl" --npm-mesh-npm-client "$OUT/js-edge-npm-client.jsonl"
  echo
  echo "Local: the same client calls calc on the worker member itself (server CPU: the worker)"
  echo
  "$TMP/meshbench" table --go-name "Go member" --peer-name "happner-cluster member" --cpu-target 10 \
    --go-mesh-go-client "$OUT/go-local-go-client.jsonl" --npm-mesh-go-client "$OUT/js-local-go-client.jsonl" \
    --go-mesh-npm-client "$OUT/go-local-npm-client.jsonl" --npm-mesh-npm-client "$OUT/js-local-npm-client.jsonl"
} | tee "$OUT/table.md"
echo "results kept in $OUT" >&2
