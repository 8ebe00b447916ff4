#!/usr/bin/env bash
# Runs every comparison the README's performance table is made of, one after
# the other on the same machine, and prints that table: bench/run.sh (happn,
# against happn-3), bench/run-mesh.sh (mesh calls, against happner-2) and
# bench/run-cluster.sh (calls through a member, against happner-cluster when
# HAPPNER_CLUSTER_PEER is set), then bench/cmd/benchsummary.
#
#   bench/run-all.sh [--quick] [--duration D] [--out DIR]
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH_DIR")"
OUT="$ROOT/bench/results/all-$(date -u +%Y%m%dT%H%M%SZ)"
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) PASS+=(--quick); shift ;;
    --duration) PASS+=(--duration "$2"); shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-all.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"

"$BENCH_DIR/run.sh" "${PASS[@]}" --only set-seq,set-pipe,get-pipe,event-10 --out "$OUT/happn" > "$OUT/happn.log" 2>&1 ||
  echo "warning: bench/run.sh failed (see $OUT/happn.log)" >&2
"$BENCH_DIR/run-mesh.sh" "${PASS[@]}" --out "$OUT/mesh" > "$OUT/mesh.log" 2>&1 ||
  echo "warning: bench/run-mesh.sh failed (see $OUT/mesh.log)" >&2
"$BENCH_DIR/run-cluster.sh" "${PASS[@]}" --out "$OUT/cluster" > "$OUT/cluster.log" 2>&1 ||
  echo "warning: bench/run-cluster.sh failed (see $OUT/cluster.log)" >&2

{
  echo "all comparisons, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  (cd "$ROOT" && go run ./bench/cmd/benchsummary "$OUT")
} | tee "$OUT/table.md"
echo "results kept in $OUT (each script's own table in its folder)" >&2
