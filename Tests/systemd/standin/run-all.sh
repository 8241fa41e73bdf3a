#!/bin/bash
# Run all Tests/systemd tests against the C stand-in (no Swift build needed):
# proves the unit, packaging and sandbox mechanics. As root.
#   Tests/systemd/standin/run-all.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
sd=$(dirname "$here")
top=$(cd "$sd/../.." && pwd)
tmp=$(mktemp -d /tmp/iommud-standin-run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$here/build.sh" "$tmp/iommud" >/dev/null || exit 2
export MAKEVARS="CATALOG=$here/iommud.catalog DEFAULT_CONFIG=$here/iommud.toml"
rc=0
t0=$(date +%s)
for t in verify socket-activation deb; do
	echo "=== $t"; s=$(date +%s)
	"$sd/$t.sh" "$tmp/iommud" || rc=1
	echo "=== $t: $(( $(date +%s) - s ))s"
done
echo "=== nspawn"; s=$(date +%s)
# shellcheck disable=SC2086
make -s -C "$top" -f mk/install.mk deb RELEASE_BIN="$tmp/iommud" DEB="$tmp/iommud.deb" \
	DEB_BUILDDIR="$tmp/deb" $MAKEVARS >/dev/null || exit 2
"$sd/nspawn.sh" "$tmp/iommud.deb" || rc=1
echo "=== nspawn: $(( $(date +%s) - s ))s"
echo "=== all: $(( $(date +%s) - t0 ))s, $([ $rc = 0 ] && echo PASS || echo FAIL)"
exit $rc
