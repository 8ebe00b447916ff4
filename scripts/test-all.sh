#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: installs PostgreSQL's binaries and Chromium when
# missing (scripts/install-postgres.sh, scripts/install-chromium.sh), builds the FerretDB test server
# for the MongoDB store once (scripts/build-ferretdb.sh, from the Go module proxy, cached), then go
# vet, the Go tests (the browser clients' tests drive headless Chromium), the cluster tests again on
# PostgreSQL and on MongoDB, and the interop tests that drive the Go server and mesh with the
# unmodified npm clients (Node.js >= 20; installed with npm ci).
#
# Environment:
#   GO_PACKAGES       packages for go vet / go test (default ./...)
#   GO_TEST_TIMEOUT   go test -timeout (default 10m)
#   GO_TEST_FLAGS     extra go test flags, e.g. "-race" (default none)
#   SKIP_INTEROP=1    skip the Node.js interop tests
#   FUZZTIME          how long each fuzz target runs (default 3s)
#   HAPPNER_TEST_MONGO_URL  a MongoDB server for the MongoDB tests instead of FerretDB
# Exit status: non-zero when any step failed; every step still runs after a go test failure so
# that one run reports everything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

failed=()

step() { printf '\n==> %s\n' "$*"; }

# shellcheck disable=SC2086 # GO_PACKAGES is a list of patterns
pkgs=(${GO_PACKAGES:-./...})

step "PostgreSQL binaries for the store and cluster tests"
"$ROOT/scripts/install-postgres.sh"

step "Chromium for the browser tests (webclient/browsertest)"
"$ROOT/scripts/install-chromium.sh"

if [[ -z "${HAPPNER_TEST_MONGO_URL:-}" ]]; then
	step "FerretDB (MongoDB protocol on SQLite) for the MongoDB store, cluster and migration tests"
	HAPPNER_FERRETDB="$("$ROOT/scripts/build-ferretdb.sh")"
	export HAPPNER_FERRETDB
	echo "$HAPPNER_FERRETDB"
fi

step "go vet ${pkgs[*]}"
go vet "${pkgs[@]}"

step "go test ${pkgs[*]}"
# shellcheck disable=SC2086 # GO_TEST_FLAGS is a list of flags
if ! go test -count=1 -timeout "${GO_TEST_TIMEOUT:-10m}" ${GO_TEST_FLAGS:-} "${pkgs[@]}"; then
	failed+=("go test")
fi

if [[ "${GO_PACKAGES:-./...}" == "./..." ]]; then
	step "fuzz targets, briefly (FUZZTIME=${FUZZTIME:-3s} each)"
	if ! "$ROOT/scripts/fuzz-smoke.sh"; then
		failed+=("fuzz targets")
	fi

	step "cluster integration tests again, on a real PostgreSQL shared store"
	# shellcheck disable=SC2086 # GO_TEST_FLAGS is a list of flags
	if ! HAPPNER_CLUSTER_STORE=postgres go test -count=1 -timeout "${GO_TEST_TIMEOUT:-10m}" ${GO_TEST_FLAGS:-} \
		-run 'Test[0-9]|TestEvents|TestSecurity|TestDependency|TestMember|TestComponents|TestRemote|TestReplication' ./cluster; then
		failed+=("cluster on PostgreSQL")
	fi

	step "cluster integration tests again, on a MongoDB shared store (FerretDB, or HAPPNER_TEST_MONGO_URL)"
	# FerretDB reads its whole collection for each query: this run takes longer than the others.
	# shellcheck disable=SC2086 # GO_TEST_FLAGS is a list of flags
	if ! HAPPNER_CLUSTER_STORE=mongo go test -count=1 -timeout "${GO_TEST_TIMEOUT:-20m}" ${GO_TEST_FLAGS:-} \
		-run 'Test[0-9]|TestEvents|TestSecurity|TestDependency|TestMember|TestComponents|TestRemote|TestReplication' ./cluster; then
		failed+=("cluster on MongoDB")
	fi
fi

if [[ "${SKIP_INTEROP:-}" == "1" ]]; then
	step "interop tests skipped (SKIP_INTEROP=1)"
else
	step "interop tests (npm happn-3 client against the Go server)"
	command -v node >/dev/null || { echo "node (>= 20) is required for the interop tests" >&2; exit 1; }
	node_major="$(node -p 'process.versions.node.split(".")[0]')"
	if (( node_major < 20 )); then
		echo "node >= 20 is required for the interop tests, found $(node --version)" >&2
		exit 1
	fi

	# Install the pinned npm packages when node_modules is missing or older than the lock file.
	if [[ ! -f interop/node_modules/.package-lock.json ||
		interop/package-lock.json -nt interop/node_modules/.package-lock.json ]]; then
		(cd interop && npm ci --no-audit --no-fund)
	fi

	bindir="$(mktemp -d)"
	trap 'rm -rf "$bindir"' EXIT
	go build -o "$bindir/happner" ./cmd/happner
	go build -o "$bindir/securityseed" ./internal/cmd/securityseed

	# Each test file starts its own servers on free ports; the whole run takes well under 2 minutes.
	if ! (cd interop && HAPPNER_BIN="$bindir/happner" HAPPNER_SEED_BIN="$bindir/securityseed" node --test --test-reporter=spec \
		--test-timeout=60000 test/*.test.js); then
		failed+=("interop tests")
	fi
fi

if ((${#failed[@]})); then
	printf '\nFAILED: %s\n' "${failed[*]}"
	exit 1
fi
printf '\nall tests passed\n'
