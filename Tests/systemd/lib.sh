# Shared helpers for Tests/systemd/*.sh (sourced, not executed).
# Self-contained on purpose: a user's clone has nothing else to lean on.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FAILS=0
CHECKS=0
T0=$(date +%s.%N)

pass() { CHECKS=$((CHECKS + 1)); echo "PASS $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $*"; }
# check NAME CMD...: PASS when CMD exits 0
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n"; fi; }
note() { echo "     $*"; }
elapsed() { printf '%.1f' "$(echo "$(date +%s.%N) - $1" | bc)"; }
lap() { echo "[$(elapsed "$T0")s] $*"; }
finish() {
	echo "$(basename "$0"): $((CHECKS - FAILS))/$CHECKS checks passed in $(elapsed "$T0")s"
	[ "$FAILS" -eq 0 ]
}

need_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "$(basename "$0") must run as root" >&2
		exit 2
	fi
}

# binary_arg [PATH]: sets BIN to PATH (default: the top-level Makefile's RELEASE_BIN), absolute;
# exits 2 when there is no executable there.
binary_arg() {
	BIN=${1:-$TOP/.build/release/iommud}
	[ -x "$BIN" ] || { echo "no binary at $BIN: build it (make release) or pass one" >&2; exit 2; }
	BIN=$(realpath "$BIN")
}

# need_cmd CMD PACKAGE...: install PACKAGE when CMD is missing (apt-get update once
# if the index has no candidate yet).
need_cmd() {
	local cmd=$1; shift
	command -v "$cmd" >/dev/null 2>&1 && return 0
	echo "installing $* (for $cmd)" >&2
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; then
		apt-get update -q >/dev/null 2>&1
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
	fi
	command -v "$cmd" >/dev/null 2>&1 || { echo "cannot install $cmd" >&2; exit 2; }
}

# The Debian archive this machine already uses (deb822 or one-line sources),
# so no mirror name is ever written into the repository.
host_codename() { . /etc/os-release; echo "${VERSION_CODENAME:-bookworm}"; }
host_mirror() {
	local suite m f
	suite=$(host_codename)
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		m=$(awk -v s="$suite" '
			/^[ \t]*$/ { if (ok && uri != "" && deb) { print uri; exit } ok = 0; uri = ""; deb = 0; next }
			tolower($1) == "types:" && / deb( |$)/ { deb = 1 }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
			END { if (ok && uri != "" && deb) print uri }' "$f" | head -n 1)
		[ -n "$m" ] && { echo "$m"; return 0; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		m=$(awk -v s="$suite" '$1 == "deb" { sub(/^deb[ \t]+(\[[^]]*\][ \t]+)?/, ""); if ($2 == s) { print $1; exit } }' "$f")
		[ -n "$m" ] && { echo "$m"; return 0; }
	done
	return 1
}

# A free TCP port on 127.0.0.1 (prefer $1 when it is free).
free_port() {
	local p=${1:-}
	if [ -n "$p" ] && ! port_busy "$p"; then echo "$p"; return; fi
	for _ in $(seq 1 50); do
		p=$(( (RANDOM % 20000) + 30000 ))
		port_busy "$p" || { echo "$p"; return; }
	done
	return 1
}
port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# http_get HOST PORT PATH: print the response body (bash /dev/tcp, no curl needed)
http_get() {
	timeout 5 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$2" "$0" >&3
		cat <&3' "$1" "$2" "$3" 2>/dev/null | tr -d '\r' | sed '1,/^$/d'
}
# http_status HOST PORT PATH: print the status code
http_status() {
	timeout 5 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$2" "$0" >&3
		head -n 1 <&3' "$1" "$2" "$3" 2>/dev/null | awk '{print $2}'
}

# One fault line the way the kernel's Intel driver prints it (>= 5.14 format),
# written from userspace: level 6 (info: never echoed to the console),
# facility 1 (user: the only facility userspace may use). One open per line.
kmsg_fault_line() { # BB:DD.F -> text
	printf 'DMAR: [DMA Read NO_PASID] Request device [%s] fault addr 0xfffff000 [fault reason 0x06] PTE Read access is not set' "$1"
}
# A PCI address (BB:DD.F) no line in the kernel's ring buffer mentions yet: the ring is
# shared and keeps earlier runs' (and other tests') faults, so a fixed or merely random
# bus would sometimes be counted twice.
unused_bdf() {
	local ring bdf
	ring=$(dmesg 2>/dev/null)
	for _ in $(seq 1 50); do
		bdf=$(printf '%02x:%02x.%d' $(( 0x10 + RANDOM % 0xef )) $(( RANDOM % 32 )) $(( RANDOM % 8 )))
		grep -qF "[$bdf]" <<<"$ring" || { echo "$bdf"; return 0; }
	done
	return 1
}
kmsg_write() { printf '<14>%s\n' "$1" > /dev/kmsg; }

# A minimal Debian tree that boots systemd, cached under /var/tmp so repeated runs on
# one machine skip the ~35 s debootstrap. Rebuilt when missing or incomplete (the
# stamp is written last) or when the package list changes. Never modified by the
# tests: they boot an overlay of it.
ROOT_PACKAGES=systemd,systemd-sysv,dbus,libnss-systemd,procps
ROOT_CACHE_BASE=${IOMMUD_NSPAWN_CACHE:-/var/tmp/iommud-nspawn}
root_tree() { # -> path of the cached tree (built if needed)
	local suite mirror key dir
	suite=$(host_codename)
	key=$(printf '%s %s' "$suite" "$ROOT_PACKAGES" | md5sum | cut -c1-10)
	dir=$ROOT_CACHE_BASE/$suite-$key
	mkdir -p "$ROOT_CACHE_BASE"
	(
		flock 9
		if [ ! -f "$dir.stamp" ] || [ ! -x "$dir/lib/systemd/systemd" ]; then
			mirror=$(host_mirror) || { echo "no Debian mirror in the host's apt sources" >&2; exit 1; }
			echo "building $dir with debootstrap from the host's mirror (one time, ~40 s)" >&2
			rm -rf "$dir" "$dir.stamp"
			if ! debootstrap --variant=minbase --include="$ROOT_PACKAGES" "$suite" "$dir" "$mirror" \
				>"$dir.log" 2>&1; then
				echo "debootstrap failed, see $dir.log" >&2; tail -n 5 "$dir.log" >&2; exit 1
			fi
			# no getty on the read-only console; nothing else in the image is touched
			echo "$suite $ROOT_PACKAGES $(date -u +%FT%TZ)" > "$dir.stamp"
		fi
	) 9>"$ROOT_CACHE_BASE/.lock" || return 1
	echo "$dir"
}
