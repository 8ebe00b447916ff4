#!/usr/bin/env bash
# Installs PostgreSQL's server binaries from Debian's packages when they are missing, for the
# store/postgres and cluster tests. Called by scripts/test-all.sh; safe to run repeatedly.
set -euo pipefail

# The postgres store and cluster tests start their own private server (internal/pgtest): initdb and
# pg_ctl from Debian's /usr/lib/postgresql/*/bin, in a temporary directory, on a free port, run as
# the `postgres` user when root. Setting HAPPNER_TEST_PG to a DSN uses that server instead. So this
# step only installs the binaries when they are missing and starts no cluster; the packaged service
# is kept from starting during the install (a temporary policy-rc.d), and if it runs anyway it does
# not interfere: the tests never use port 5432.
if [[ -z "${HAPPNER_TEST_PG:-}" ]] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null &&
	! command -v initdb >/dev/null; then
	if [[ "$(id -u)" != 0 ]]; then
		echo "PostgreSQL is not installed and this is not root: run \`apt-get install -y postgresql\` first" >&2
		exit 1
	fi
	echo "==> installing PostgreSQL (Debian package postgresql) for the store/postgres and cluster tests"
	export DEBIAN_FRONTEND=noninteractive
	policy_added=""
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		policy_added=1
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	apt-get update -q
	apt-get install -y -q --no-install-recommends postgresql
	if [[ -n "$policy_added" ]]; then
		rm -f /usr/sbin/policy-rc.d
		trap - EXIT
	fi
fi
