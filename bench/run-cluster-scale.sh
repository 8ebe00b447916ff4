#!/usr/bin/env bash
# Measures how a happner-go cluster scales with its number of members
# (bench/cmd/clusterscale): time to stable, idle CPU, PostgreSQL statements,
# and the CPU of a replicated event and of a security change, per member,
# for 5, 10, 25 and 50 members, and prints one markdown table per setup.
# See bench/README.md ("Cluster scale").
#
#   bench/run-cluster-scale.sh [--quick] [--members LIST] [--process-members LIST]
#                              [--only SETUP[,SETUP…]] [--idle D] [--out DIR]
set -euo pipefail

usage() {
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
  cat <<'EOF2'

  --quick               5 and 10 members, 5 s idle window, fewer events (~2 min)
  --members LIST        member counts of the in-process setups (default 5,10,25,50)
  --process-members L   member counts of the processes setup (default: --members)
  --only SETUPS         run only these (comma-separated): memory postgres secure
                        secure-keys processes processes-secure
  --idle D              idle measurement window (Go duration, default 15s)
  --out DIR             where to keep the JSON lines and table.md
                        (default bench/results/cluster-scale-<timestamp>)

Setups: memory = members in one process on one in-memory store; postgres =
members in one process, each with its own pool on one PostgreSQL database;
secure = the same, secure (members log in as _ADMIN with its password);
secure-keys = the same, members log in with a key pair; processes = one
clustermember process per member on PostgreSQL; processes-secure = the same,
secure. PostgreSQL is a private server started from the installed binaries
(apt-get install postgresql).
EOF2
}

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SETUPS="memory postgres secure secure-keys processes processes-secure"
MEMBERS="5,10,25,50"
PROC_MEMBERS=""
IDLE=15s
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) MEMBERS="5,10"; IDLE=5s; EXTRA=(--settle 1s --events 500) ;;
    --members) bench_need_value "$@"; MEMBERS="$2"; shift ;;
    --process-members) bench_need_value "$@"; PROC_MEMBERS="$2"; shift ;;
    --only) bench_need_value "$@"; ONLY="$ONLY ${2//,/ }"; shift ;;
    --idle) bench_need_value "$@"; IDLE="$2"; shift ;;
    --out) bench_need_value "$@"; OUT="$2"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
[ -n "$PROC_MEMBERS" ] || PROC_MEMBERS="$MEMBERS"
ALL_SCENARIOS="$ALL_SETUPS"
bench_select_scenarios

bench_setup clusterscale cluster-scale-
echo "building clusterscale and clustermember…" >&2
(cd "$ROOT" && go build -o "$TMP/clusterscale" ./bench/cmd/clusterscale &&
  go build -o "$TMP/clustermember" ./internal/cmd/clustermember)

# Members in separate processes each hold a few connections; raise the
# descriptor limit for the in-process setups, whose one process holds them
# all (50 members: 2450 peer connections each way).
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# run SETUP ARGS…: one clusterscale run, results in $OUT/SETUP.jsonl.
run() {
  local setup="$1"
  shift
  echo "== $setup" >&2
  "$TMP/clusterscale" --idle "$IDLE" "${EXTRA[@]}" "$@" > "$OUT/$setup.jsonl" ||
    echo "warning: the $setup setup reported errors (see the table)" >&2
}

for setup in $SCENARIOS; do
  case "$setup" in
    memory) run memory --members "$MEMBERS" --store memory ;;
    postgres) run postgres --members "$MEMBERS" --store postgres ;;
    secure) run secure --members "$MEMBERS" --store postgres --secure ;;
    secure-keys) run secure-keys --members "$MEMBERS" --store postgres --secure --keys ;;
    processes) run processes --members "$PROC_MEMBERS" --store postgres --mode processes \
      --member-bin "$TMP/clustermember" ;;
    processes-secure) run processes-secure --members "$PROC_MEMBERS" --store postgres --mode processes \
      --member-bin "$TMP/clustermember" --secure ;;
  esac
done

files=()
for setup in $SCENARIOS; do
  [ -s "$OUT/$setup.jsonl" ] && files+=("$OUT/$setup.jsonl")
done
[ ${#files[@]} -gt 0 ] || { echo "no results" >&2; exit 1; }
{
  echo "clusterscale: default membership intervals (pulse 1 s, scan 3 s), ${IDLE} idle window, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  "$TMP/clusterscale" table "${files[@]}"
  echo
  echo "Per member: the cluster's CPU (or PostgreSQL's) divided by the member count; event and change costs have the idle CPU of the same time subtracted. Goals: 50 members stable within 5 s of the last start, idle CPU per member under 0.5 % of a core."
} | tee "$OUT/table.md"
echo "results kept in $OUT" >&2
