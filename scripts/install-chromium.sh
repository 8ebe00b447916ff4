#!/usr/bin/env bash
# Installs Chromium from Debian's packages when it is missing, for the browser tests of
# webclient/browsertest (headless Chromium driven with chromedp). Called by scripts/test-all.sh;
# safe to run repeatedly. Setting HAPPNER_CHROMIUM to a browser binary skips it.
set -euo pipefail

have_browser() {
	[[ -n "${HAPPNER_CHROMIUM:-}" ]] && return 0
	local b
	for b in chromium chromium-browser google-chrome google-chrome-stable; do
		command -v "$b" >/dev/null && return 0
	done
	return 1
}

if ! have_browser; then
	if [[ "$(id -u)" != 0 ]]; then
		echo "Chromium is not installed and this is not root: run \`apt-get install -y chromium\` first" >&2
		exit 1
	fi
	echo "==> installing Chromium (Debian package chromium) for the browser tests"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q chromium
fi
