#!/bin/bash
# verify.sh [IOMMUD_BINARY]
# 1. `make install DESTDIR=$TMP` on top of a skeleton OS root (the host's systemd units
#    and /bin/kill, which the package gets from procps), then
#    `systemd-analyze verify --man=no --root=$TMP` on both units: it must print nothing
#    (verify exits 0 on unknown keys and bad values; it only warns).
# 2. `systemd-analyze security --offline=true systemd/iommud.service`: exposure <= 1.5.
# IOMMUD_BINARY defaults to the top-level Makefile's RELEASE_BIN (.build/release/iommud).
# Extra make variables (CATALOG=..., DEFAULT_CONFIG=...) can be passed in $MAKEVARS.
set -u
. "$(dirname "$0")/lib.sh"
need_root
binary_arg "${1:-}"
MAX_EXPOSURE=${MAX_EXPOSURE:-1.5}

TMP=$(mktemp -d /tmp/iommud-verify.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
R=$TMP/root
mkdir -p "$R/usr/bin" "$R/usr/lib/systemd/system"
ln -s usr/bin "$R/bin"; ln -s usr/lib "$R/lib"
cp -a /usr/lib/systemd/system/. "$R/usr/lib/systemd/system/"   # sysinit.target & co.
[ -x /bin/kill ] || need_cmd /bin/kill procps
cp -L /bin/kill "$R/usr/bin/kill"                                # ExecReload=/bin/kill
rm -f "$R/usr/lib/systemd/system/iommud.service" "$R/usr/lib/systemd/system/iommud.socket"

# shellcheck disable=SC2086
if make -s -C "$TOP" -f mk/install.mk install DESTDIR="$R" RELEASE_BIN="$BIN" GEN="$TMP/gen" ${MAKEVARS:-} >"$TMP/install.log" 2>&1; then
	pass "make install DESTDIR=\$TMP"
else
	fail "make install DESTDIR=\$TMP"; sed 's/^/     /' "$TMP/install.log"
fi
for f in usr/bin/iommud usr/lib/systemd/system/iommud.service usr/lib/systemd/system/iommud.socket; do
	check "installed /$f" [ -f "$R/$f" ]
done

for u in iommud.service iommud.socket; do
	out=$(systemd-analyze verify --man=no --root="$R" "$u" 2>&1); rc=$?
	if [ "$rc" = 0 ] && [ -z "$out" ]; then
		pass "systemd-analyze verify --root $u (no output)"
	else
		fail "systemd-analyze verify --root $u (rc=$rc)"; printf '%s\n' "$out" | sed 's/^/     /'
	fi
done

# The webhook drop-in for [actions] (systemd/iommud-actions-network.conf) on top of the unit.
mkdir -p "$R/etc/systemd/system/iommud.service.d"
cp "$TOP/systemd/iommud-actions-network.conf" "$R/etc/systemd/system/iommud.service.d/actions-network.conf"
out=$(systemd-analyze verify --man=no --root="$R" iommud.service 2>&1); rc=$?
if [ "$rc" = 0 ] && [ -z "$out" ]; then
	pass "systemd-analyze verify --root iommud.service with the actions-network drop-in (no output)"
else
	fail "systemd-analyze verify with the actions-network drop-in (rc=$rc)"; printf '%s\n' "$out" | sed 's/^/     /'
fi
out=$(systemd-analyze cat-config --root="$R" systemd/system/iommud.service.d/actions-network.conf 2>&1 || true)
check "the drop-in grants IP sockets to the service" bash -c 'grep -q "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6" <<<"$0"' "$out"
rm -rf "$R/etc/systemd/system/iommud.service.d"

out=$(systemd-analyze security --offline=true --no-pager "$TOP/systemd/iommud.service" 2>&1)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && [ "$(echo "$score <= $MAX_EXPOSURE" | bc)" = 1 ]; then
	pass "systemd-analyze security exposure $score <= $MAX_EXPOSURE"
else
	fail "systemd-analyze security exposure ${score:-?} <= $MAX_EXPOSURE"
	printf '%s\n' "$out" | grep -E '✗|Overall' | sed 's/^/     /'
fi
# the offline security check must not hide a parse problem in the unit it scored
check "security --offline parsed the unit without warnings" \
	bash -c '! grep -qiE "unknown key|failed to parse|ignoring" <<<"$0"' "$out"

finish
