#!/usr/bin/env bash
# Installs what `make bench` runs besides the test programs: wrk (HTTP load)
# and redis_exporter (Debian packages wrk and prometheus-redis-exporter),
# the baseline of the Redis poll. As root it installs what is missing;
# otherwise it says what to run.
set -euo pipefail

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if ! command -v prometheus-redis-exporter >/dev/null 2>&1 && ! command -v redis_exporter >/dev/null 2>&1; then
	missing+=(prometheus-redis-exporter)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "missing: ${missing[*]}; install with: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d keeps the exporter's package from starting its system
# service: the benchmark starts its own on a free port.
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
