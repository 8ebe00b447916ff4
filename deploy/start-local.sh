#!/usr/bin/env bash
# Starts the three-member cluster of deploy/cluster.yaml on this machine, on loopback, and stops
# it on Ctrl-C (SIGINT) or SIGTERM. Each member prints "happner member NAME listening on
# HOST:PORT" once it is stable and serves clients.
#
# Environment:
#   HAPPNER_DATABASE_URL        PostgreSQL URL (required)
#   HAPPNER_ADMIN_PASSWORD      password of _ADMIN (required)
#   HAPPNER_BIN                 the member binary (default: built from examples/ownbinary)
#   HAPPNER_CLIENT_PORT_BASE    members serve clients on BASE+1, BASE+2, BASE+3 (default 55000)
#   HAPPNER_DEPLOYMENT_ID       default local-<pid>
# Then, for example:
#   HAPPNER_PASSWORD=$HAPPNER_ADMIN_PASSWORD happner members --url http://127.0.0.1:55001
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${HAPPNER_DATABASE_URL:?set HAPPNER_DATABASE_URL to the PostgreSQL URL}"
: "${HAPPNER_ADMIN_PASSWORD:?set HAPPNER_ADMIN_PASSWORD}"
export HAPPNER_DATABASE_URL HAPPNER_ADMIN_PASSWORD
export HAPPNER_DEPLOYMENT_ID="${HAPPNER_DEPLOYMENT_ID:-local-$$}"
base="${HAPPNER_CLIENT_PORT_BASE:-55000}"

bin="${HAPPNER_BIN:-}"
if [[ -z "$bin" ]]; then
	bindir="$(mktemp -d)"
	bin="$bindir/calcd"
	(cd "$here/.." && go build -o "$bin" ./examples/ownbinary)
fi

pids=()
stop() {
	trap - INT TERM EXIT
	if ((${#pids[@]})); then
		kill -TERM "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
	if [[ -n "${bindir:-}" ]]; then rm -rf "$bindir"; fi
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
trap stop EXIT

for i in 1 2 3; do
	HAPPNER_MEMBER_NAME="calc-$i" HAPPNER_HOST=127.0.0.1 HAPPNER_CLIENT_HOST=127.0.0.1 \
		HAPPNER_CLIENT_PORT="$((base + i))" \
		"$bin" member --config "$here/cluster.yaml" --strict &
	pids+=("$!")
done

# the cluster runs until a member stops (or this script is stopped)
status=0
wait -n "${pids[@]}" || status=$?
echo "start-local: a member exited with status $status, stopping the others" >&2
exit "$status"
