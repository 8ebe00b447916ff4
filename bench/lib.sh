# shellcheck shell=bash
# Shared by bench/run.sh and bench/run-mesh.sh: option parsing, scenario
# selection, the temporary and result folders, npm peers, and starting and
# stopping one server at a time. Source it; it runs nothing by itself.
#
# The sourcing script sets ALL_SCENARIOS and defines usage() first; the
# functions below read and set these globals: SECURE DURATION WARMUP ONLY
# OUT SCENARIOS BENCH_DIR ROOT TMP SERVER_PID SERVER_ADDR.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
SECURE=0
DURATION=10s
WARMUP=2s
ONLY=""
OUT=""
ADMIN_PASSWORD="bench-secret"
SERVER_PID=""
SERVER_ADDR=""

# bench_need_value OPTION [VALUE…]: exits 2 unless OPTION has a value.
bench_need_value() {
  [ $# -ge 2 ] || { echo "$1 needs a value" >&2; exit 2; }
}

# bench_parse_args OPTION VAR ARGS…: parses the options both runners take
# (--quick --secure --only --duration --out --help) and one more, OPTION,
# whose value goes to the variable VAR.
bench_parse_args() {
  local extra="$1" var="$2"
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
      --quick) DURATION=2s; WARMUP=500ms ;;
      --secure) SECURE=1 ;;
      --only) bench_need_value "$@"; ONLY="$ONLY ${2//,/ }"; shift ;;
      --duration) bench_need_value "$@"; DURATION="$2"; shift ;;
      "$extra") bench_need_value "$@"; printf -v "$var" '%s' "$2"; shift ;;
      --out) bench_need_value "$@"; OUT="$2"; shift ;;
      -h|--help) usage; exit 0 ;;
      *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
  done
}

# bench_select_scenarios: sets SCENARIOS to ONLY, or to ALL_SCENARIOS
# without --only; exits 2 on an unknown scenario.
bench_select_scenarios() {
  SCENARIOS="$ALL_SCENARIOS"
  [ -n "$ONLY" ] || return 0
  local s
  for s in $ONLY; do
    case " $ALL_SCENARIOS " in
      *" $s "*) ;;
      *) echo "unknown scenario: $s (want one of: $ALL_SCENARIOS)" >&2; exit 2 ;;
    esac
  done
  SCENARIOS="$ONLY"
}

# bench_setup TMPNAME OUTPREFIX: makes TMP (removed on exit, with the
# running server stopped) and OUT (default
# bench/results/<OUTPREFIX><timestamp>).
bench_setup() {
  TMP="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
  [ -n "$OUT" ] || OUT="$BENCH_DIR/results/$2$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$OUT"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  stop_server
  rm -rf "$TMP"
}

# stop_server: stops the server in SERVER_PID, if any (TERM, then KILL
# after 5 s).
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

# bench_build_optional NAME PKG COLUMNS: builds PKG into $TMP/NAME; on
# failure warns that COLUMNS will be n/a and returns 1.
bench_build_optional() {
  if ! (cd "$ROOT" && go build -o "$TMP/$1" "$2") 2> "$TMP/build.err"; then
    echo "warning: go build $2 failed; $3 will be n/a:" >&2
    sed 's/^/  /' "$TMP/build.err" >&2
    return 1
  fi
}

# bench_npm_peer MODULE WHAT COLUMNS: makes sure node runs and
# bench/peer/node_modules holds MODULE (npm ci installs WHAT otherwise); on
# failure warns that COLUMNS will be n/a and returns 1.
bench_npm_peer() {
  if ! command -v node > /dev/null; then
    echo "warning: node not found; $3 will be n/a" >&2
    return 1
  fi
  [ -d "$BENCH_DIR/peer/node_modules/$1" ] && return 0
  echo "installing $2 (npm ci)…" >&2
  if ! (cd "$BENCH_DIR/peer" && npm ci --no-audit --no-fund > "$TMP/npm.log" 2>&1); then
    echo "warning: npm ci failed; $3 will be n/a:" >&2
    tail -20 "$TMP/npm.log" >&2
    return 1
  fi
}

# bench_await_listening MARKER FILE TRIES: waits up to TRIES × 0.1 s for the
# server in SERVER_PID to print "MARKER HOST:PORT" to FILE and sets
# SERVER_ADDR; returns 1 if the server exits or never does.
bench_await_listening() {
  local marker="$1" file="$2" tries="$3"
  for _ in $(seq "$tries"); do
    if grep -q "^$marker" "$file"; then
      SERVER_ADDR="$(grep -m1 "^$marker" "$file" | sed "s/^$marker//")"
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      break
    fi
    sleep 0.1
  done
  return 1
}
