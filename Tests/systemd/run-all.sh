#!/bin/bash
# run-all.sh IOMMUD_BINARY — every Tests/systemd test against one binary, timing each:
# verify, socket-activation, deb (make deb + lintian), nspawn (that .deb under a real
# systemd). `make systemd` calls this with .build/release/iommud. Needs root (re-runs
# itself with sudo when it can). Extra make variables: $MAKEVARS (see README.md).
set -u
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null && exec sudo --preserve-env=MAKEVARS,IOMMUD_NSPAWN_CACHE "$0" "$@"
	echo "$0 must run as root" >&2; exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=$(realpath "${1:?usage: $0 IOMMUD_BINARY}")
tmp=$(mktemp -d /tmp/iommud-systemd-tests.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rc=0 t0=$(date +%s) summary=
run() { # NAME CMD...
	local s r; s=$(date +%s)
	echo "=== $1"
	"${@:2}"; r=$?
	[ "$r" = 0 ] || rc=1
	summary="$summary$(printf '%-18s %-4s %4ss' "$1" "$([ "$r" = 0 ] && echo PASS || echo FAIL)" "$(( $(date +%s) - s ))")\n"
}
run verify "$here/verify.sh" "$BIN"
run socket-activation "$here/socket-activation.sh" "$BIN"
run deb "$here/deb.sh" "$BIN"
# shellcheck disable=SC2086
if make -s -C "$top" -f mk/install.mk deb RELEASE_BIN="$BIN" DEB="$tmp/iommud.deb" \
	DEB_BUILDDIR="$tmp/deb" ${MAKEVARS:-} >"$tmp/make-deb.log" 2>&1; then
	run nspawn "$here/nspawn.sh" "$tmp/iommud.deb"
else
	echo "=== nspawn: skipped, make deb failed:"; tail -n 5 "$tmp/make-deb.log"
	rc=1; summary="${summary}nspawn             FAIL (no .deb)\n"
fi
printf '=== Tests/systemd summary\n%b%-18s %-4s %4ss\n' "$summary" all "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$(( $(date +%s) - t0 ))"
exit $rc
