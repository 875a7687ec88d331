#!/bin/sh
# Runs every Fuzz target of the module, one at a time, for FUZZTIME each
# (default 20s). A crash leaves its input under the package's
# testdata/fuzz/<target>/, where `go test` replays it from then on.
set -eu
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20s}
GO=${GO:-go}
targets=0
for pkg in $($GO list ./...); do
	for fn in $($GO test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		targets=$((targets + 1))
		echo "== $pkg $fn ($FUZZTIME)"
		$GO test -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" "$pkg"
	done
done
if [ "$targets" -eq 0 ]; then
	echo "fuzz: no Fuzz target found" >&2
	exit 1
fi
echo "fuzz: $targets targets ran for $FUZZTIME each without a failure"
