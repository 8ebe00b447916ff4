#!/usr/bin/env bash
# Builds FerretDB (a MongoDB-protocol server on an embedded SQLite database) once and caches the
# binary; prints its path. The store/mongo, datastore, cluster and interop tests run against it
# (internal/mongotest starts one private server per test binary). Safe to run repeatedly and
# concurrently: a cached binary is printed at once, concurrent builds wait for each other.
#
# The source comes from the Go module proxy (github.com/FerretDB/FerretDB at $FERRETDB_VERSION).
# A module's files are read-only and FerretDB's build needs build/version/version.txt, which its
# module zip lacks, so the build runs in a writable copy of the module with that file added.
#
# Environment:
#   FERRETDB_VERSION   module version (default v1.24.2)
#   HAPPNER_CACHE_DIR  where the binary is kept (default ${XDG_CACHE_HOME:-$HOME/.cache}/happner-go)
set -euo pipefail

version="${FERRETDB_VERSION:-v1.24.2}"
cache="${HAPPNER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/happner-go}"
bin="$cache/ferretdb-$version/ferretdb"

if [[ -x "$bin" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$(dirname "$bin")"
exec 9>"$cache/ferretdb-$version.lock"
flock 9
if [[ -x "$bin" ]]; then # built by another process meanwhile
	echo "$bin"
	exit 0
fi

work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

echo "==> building FerretDB $version (SQLite backend) into $bin" >&2
# Outside any module, so that the project's go.mod and GOFLAGS=-mod=readonly play no part.
export GOFLAGS=-mod=mod GOWORK=off
dir="$(cd "$work" && go mod download -json "github.com/FerretDB/FerretDB@$version" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [[ -z "$dir" || ! -d "$dir" ]]; then
	echo "build-ferretdb: could not download github.com/FerretDB/FerretDB@$version from the Go module proxy" >&2
	exit 1
fi
cp -R "$dir" "$work/src"
chmod -R u+w "$work/src"
echo "$version" >"$work/src/build/version/version.txt"
(cd "$work/src" && go build -trimpath -tags ferretdb_no_postgresql -o "$bin.tmp" ./cmd/ferretdb) >&2
mv "$bin.tmp" "$bin"
echo "$bin"
