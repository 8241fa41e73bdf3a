#!/bin/bash
# deb.sh [IOMMUD_BINARY]
# `make deb` (mk/install.mk) into a scratch directory, then: control fields and
# conffiles, `dpkg -x` into a scratch root and every file where the units, the man
# page and the contract expect it, `systemd-analyze verify --root` on that root, the
# shipped config accepted by the shipped binary, maintainer scripts, and lintian: no
# errors, and no warnings unless overridden with a reason (packaging/debian/lintian-overrides).
# IOMMUD_BINARY defaults to .build/release/iommud. Extra make variables (e.g. stand-in
# CATALOG=... DEFAULT_CONFIG=...) can be passed in $MAKEVARS.
set -u
. "$(dirname "$0")/lib.sh"
need_root
binary_arg "${1:-}"
need_cmd dpkg-shlibdeps dpkg-dev
need_cmd lintian lintian
need_cmd man man-db
[ -x /bin/kill ] || need_cmd /bin/kill procps

TMP=$(mktemp -d /tmp/iommud-deb.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
DEB=$TMP/out/iommud.deb
T=$(date +%s.%N)
# shellcheck disable=SC2086
if make -s -C "$TOP" -f mk/install.mk deb RELEASE_BIN="$BIN" DEB="$DEB" DEB_BUILDDIR="$TMP/build" ${MAKEVARS:-} \
	>"$TMP/make.log" 2>&1; then
	pass "make deb ($(elapsed "$T")s, $(du -h "$DEB" | cut -f1))"
else
	fail "make deb"; tail -n 20 "$TMP/make.log" | sed 's/^/     /'; finish; exit 1
fi

# --- control ---
field() { dpkg-deb -f "$DEB" "$1"; }
check "Package: iommud" [ "$(field Package)" = iommud ]
check "Architecture: $(field Architecture) (this machine's)" [ "$(field Architecture)" = "$(dpkg --print-architecture)" ]
dep=$(field Depends)
for d in libc6 libsystemd0 zlib1g libzstd1 procps; do
	check "Depends has $d ($dep)" grep -qE "(^|, )$d( |,|$)" <<<"$dep"
done
check "Installed-Size is set ($(field Installed-Size) KiB)" [ "$(field Installed-Size)" -gt 0 ]
check "conffiles is exactly /etc/iommud/iommud.toml" \
	[ "$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)" = /etc/iommud/iommud.toml ]

# --- files, extracted over a skeleton OS root (for systemd-analyze verify --root) ---
R=$TMP/root
mkdir -p "$R/usr/bin" "$R/usr/lib/systemd/system"
ln -s usr/bin "$R/bin"; ln -s usr/lib "$R/lib"
cp -a /usr/lib/systemd/system/. "$R/usr/lib/systemd/system/"
rm -f "$R/usr/lib/systemd/system/iommud.service" "$R/usr/lib/systemd/system/iommud.socket"
cp -L /bin/kill "$R/usr/bin/kill"      # what the Depends on procps provides
dpkg -x "$DEB" "$R"
mode() { stat -c %a "$R$1" 2>/dev/null; }
for f in /usr/lib/systemd/system/iommud.service /usr/lib/systemd/system/iommud.socket \
	/usr/lib/systemd/catalog/iommud.catalog /etc/iommud/iommud.toml /usr/share/man/man1/iommud.1.gz \
	/usr/share/bash-completion/completions/iommud /usr/share/zsh/vendor-completions/_iommud \
	/usr/share/fish/vendor_completions.d/iommud.fish /usr/share/doc/iommud/copyright \
	/usr/share/doc/iommud/changelog.Debian.gz; do
	check "$f (mode $(mode "$f"))" bash -c '[ -s "$0" ] && [ "$(stat -c %a "$0")" = 644 ]' "$R$f"
done
check "/usr/bin/iommud (mode $(mode /usr/bin/iommud))" [ "$(mode /usr/bin/iommud)" = 755 ]
check "/usr/bin/iommud is stripped (no .symtab)" bash -c "! readelf -S '$R/usr/bin/iommud' | grep -q '\.symtab'"
check "the stripped binary runs (--help)" bash -c "'$R/usr/bin/iommud' --help >/dev/null 2>&1"
binver=$("$R/usr/bin/iommud" version 2>/dev/null | head -n 1)
if grep -q standin <<<"$binver"; then
	note "stand-in binary ($binver): skipped 'package version matches iommud version'"
else
	v=$(grep -oE '[0-9]+\.[0-9]+(\.[0-9]+)?[^ ]*' <<<"$binver" | head -n 1)
	check "package version $(field Version) is the binary's ($binver)" [ "${v:-?}-$(field Version | sed 's/.*-//')" = "$(field Version)" ]
fi

unit=$R/usr/lib/systemd/system/iommud.service
prop() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
exe=$(prop ExecStart | awk '{print $1}')
check "ExecStart= binary $exe is in the package" [ -x "$R$exe" ]
rel=$(prop ExecReload | awk '{print $1}')
check "ExecReload= binary $rel exists with the Depends installed" [ -x "$R$rel" ]
check "Documentation=man:iommud(1) matches the shipped man page" \
	bash -c "grep -q '^Documentation=.*man:iommud(1)' '$unit' && [ -f '$R/usr/share/man/man1/iommud.1.gz' ]"
check "iommud.socket listens on the contract's port 10111" grep -qx 'ListenStream=10111' "$R/usr/lib/systemd/system/iommud.socket"
# the config's paths must be the ones the unit creates (StateDirectory/RuntimeDirectory)
cfgval() { awk -v s="[$1]" -v k="$2" '/^\[/ { in_s = ($0 == s) } in_s && $1 == k { v = $0; sub(/^[^=]*= *"?/, "", v); sub(/".*$/, "", v); print v }' "$R/etc/iommud/iommud.toml"; }
sd=$(cfgval state directory); cs=$(cfgval control socket)
check "[state] directory (${sd:-default}) is the StateDirectory=$(prop StateDirectory)" \
	bash -c '[ -z "$0" ] || [ "$0" = "/var/lib/$1" ]' "$sd" "$(prop StateDirectory)"
check "[control] socket (${cs:-default}) is in the RuntimeDirectory=$(prop RuntimeDirectory)" \
	bash -c '[ -z "$0" ] || [ "$(dirname "$0")" = "/run/$1" ]' "$cs" "$(prop RuntimeDirectory)"
out=$("$R/usr/bin/iommud" check-config "$R/etc/iommud/iommud.toml" 2>&1); rc=$?
check "the shipped binary accepts the shipped config (check-config rc=$rc)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || note "$out"

for u in iommud.service iommud.socket; do
	out=$(systemd-analyze verify --man=no --root="$R" "$u" 2>&1); rc=$?
	check "systemd-analyze verify --root on the extracted package: $u${out:+ ($out)}" bash -c '[ "$0" = 0 ] && [ -z "$1" ]' "$rc" "$out"
done

w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$R/usr/share/man/man1/iommud.1.gz" 2>&1 >/dev/null)
check "man page renders without groff warnings${w:+ ($w)}" [ -z "$w" ]
check "man page documents every subcommand of --help" bash -c '
	for s in $("$0" --help 2>&1 | awk "/^SUBCOMMANDS:/{on=1;next} on&&/^[^ ]/{on=0} on&&/^  [a-z]/{print \$1}"); do
		[ "$s" = help ] && continue
		zcat "$1" | grep -q "^\.SS iommud $s\$" || { echo "missing $s" >&2; exit 1; }
	done' "$R/usr/bin/iommud" "$R/usr/share/man/man1/iommud.1.gz"
check "bash completion parses (bash -n)" bash -n "$R/usr/share/bash-completion/completions/iommud"
# every long option of `iommud run` (--web.*, --log.* included) in the three completions and the man page
if ! "$R/usr/bin/iommud" version 2>/dev/null | grep -q standin; then
	check "completions (bash, zsh, fish) and the man page carry every option of iommud run" bash -c '
		opts=$("$0" run --help 2>&1 | awk "/^  --[a-z]/ {print \$1}")
		[ -n "$opts" ] || exit 1
		man=$(zcat "$1/usr/share/man/man1/iommud.1.gz" | sed "s/\\\\-/-/g")
		for o in $opts; do
			for f in "$1/usr/share/bash-completion/completions/iommud" "$1/usr/share/zsh/vendor-completions/_iommud" \
				"$1/usr/share/fish/vendor_completions.d/iommud.fish"; do
				grep -qF -- "${o#--}" "$f" || { echo "$o missing from $f" >&2; exit 1; }
			done
			grep -qF -- "$o" <<<"$man" || { echo "$o missing from the man page" >&2; exit 1; }
		done' "$R/usr/bin/iommud" "$R"
fi

# --- maintainer scripts ---
dpkg-deb -e "$DEB" "$TMP/ctrl"
for s in postinst prerm postrm; do
	check "$s is sh-valid and executable" bash -c "[ -x '$TMP/ctrl/$s' ] && sh -n '$TMP/ctrl/$s'"
done
check "postinst enables via deb-systemd-helper and starts via deb-systemd-invoke" \
	bash -c "grep -q 'deb-systemd-helper enable' '$TMP/ctrl/postinst' && grep -q 'deb-systemd-invoke start' '$TMP/ctrl/postinst'"
check "postinst updates the journal catalog" grep -q 'journalctl --update-catalog' "$TMP/ctrl/postinst"

# --- lintian ---
lint=$(lintian --tag-display-limit 0 -I -E --pedantic "$DEB" 2>&1 | grep -v '^running with root privileges')
errs=$(grep -c '^E:' <<<"$lint"); warns=$(grep -c '^W:' <<<"$lint")
check "lintian: no errors ($errs)" [ "$errs" = 0 ]
check "lintian: no warnings without an override ($warns)" [ "$warns" = 0 ]
[ -n "$lint" ] && printf '%s\n' "$lint" | sed 's/^/     /'

finish
