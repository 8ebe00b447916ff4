#!/usr/bin/env bash
# Runs every Go fuzz target of the module briefly (FUZZTIME each, default 3s),
# so that a crash found by a longer fuzzing run, once its input is kept under
# testdata/fuzz/, fails CI as a regression case, and new crashes near the
# seeds are caught early. Exit status: non-zero when any target failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

fuzztime="${FUZZTIME:-3s}"
failed=()
# every "func FuzzX(" in a _test.go file, as "package-dir target"
while read -r file target; do
	dir="./$(dirname "$file")"
	printf '  %-40s %s\n' "$dir" "$target"
	for attempt in 1 2; do
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$dir" >/tmp/fuzz-$$.log 2>&1; then
			break
		fi
		# The fuzzing engine sometimes fails a short run with "context
		# deadline exceeded" when its time is up, without any failing
		# input; that run is repeated once. A real finding names the input
		# it wrote under testdata/fuzz.
		if ((attempt == 1)) && grep -q 'context deadline exceeded' /tmp/fuzz-$$.log &&
			! grep -q 'Failing input written' /tmp/fuzz-$$.log; then
			continue
		fi
		cat /tmp/fuzz-$$.log
		failed+=("$dir $target")
		break
	done
done < <(git ls-files '*_test.go' | xargs grep -H -o '^func Fuzz[A-Za-z0-9_]*' | sed 's/:func / /')
rm -f /tmp/fuzz-$$.log

if ((${#failed[@]})); then
	printf 'fuzz targets failed: %s\n' "${failed[*]}"
	exit 1
fi
