#!/usr/bin/env bash
# Installs the programs that the tests and the demo run for real:
# redis-server, prometheus and promtool (Debian packages redis-server and
# prometheus); with the argument "bench", also what `make bench` measures
# against: wrk and redis_exporter (Debian packages wrk and
# prometheus-redis-exporter); with the argument "test", also the headless
# browser the status page's test renders it in (Debian package chromium).
# As root it installs what is missing;
# otherwise it says what to run.
set -euo pipefail

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
	missing+=(prometheus)
fi
if [ "${1:-}" = bench ]; then
	command -v wrk >/dev/null 2>&1 || missing+=(wrk)
	if ! command -v prometheus-redis-exporter >/dev/null 2>&1 && ! command -v redis_exporter >/dev/null 2>&1; then
		missing+=(prometheus-redis-exporter)
	fi
fi
if [ "${1:-}" = test ]; then
	command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
if ! command -v go >/dev/null 2>&1; then
	echo "go not found in PATH: install Go 1.26 or newer (/usr/local/go/bin)" >&2
	exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing: ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the packages from starting system services on
# machines that run them: the tests, the demo and the benchmarks start
# their own.
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy -eq 0 ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
fi
status=0
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
[ $had_policy -eq 0 ] && rm -f /usr/sbin/policy-rc.d
exit $status
