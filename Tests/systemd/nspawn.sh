#!/bin/bash
# nspawn.sh IOMMUD_DEB
# The packaged unit under a real systemd (PID 1 of a systemd-nspawn container booted
# from a debootstrapped Debian), asserting on behaviour, not only on "active":
# install/enable through the maintainer scripts, /metrics from the host through the
# socket unit, `iommud status` inside, a fault written to the (shared) kernel log shows
# up in /metrics and the journal, the process has exactly CAP_SYSLOG and only `lo`,
# a /dev/kmsg write from inside the service's sandbox is refused (with a negative
# control proving the same probe can succeed), watchdog, reload, restart policy,
# upgrade and purge.
#
# Host requirements: root, Debian 12 (or newer), overlayfs. Installs systemd-container,
# debootstrap. The Debian tree is cached in /var/tmp/iommud-nspawn (~250 MB, 35-50 s to
# build once) and booted through an overlay, so the cache is never modified.
#
# IOMMUD_NSPAWN_BINARY=FILE: after installing the package, swap /usr/bin/iommud for FILE
# (e.g. a debug build, to try the daemon under the real unit without a release build and
# a .deb; absolute RUNPATH directories such as the toolchain's are bind-mounted read-only).
#
# Writes to the host's kernel log: 2 lines at level 6 (info), facility 1 (user): one
# fault with a PCI address not yet in the ring, and the tagged DevicePolicy=auto
# control probe (the probes under DevicePolicy=closed are refused and never land).
set -u
. "$(dirname "$0")/lib.sh"
need_root
DEB=$(realpath "${1:?usage: $0 IOMMUD_DEB}")
[ -f "$DEB" ] || { echo "no such .deb: $DEB" >&2; exit 2; }
need_cmd systemd-nspawn systemd-container
need_cmd debootstrap debootstrap
need_cmd nsenter util-linux
need_cmd bc bc
need_cmd ss iproute2

RUNID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
# a PCI address unique to this run (the ring buffer is shared and keeps earlier lines)
BDF=$(unused_bdf) || { echo "no unused PCI address found in the ring buffer" >&2; exit 2; }
DEVICE=0000:$BDF
PORT=$(free_port 10111) || { echo "no free port" >&2; exit 2; }

TREE=$(root_tree) || exit 2
lap "root tree ready: $TREE"

W=$(mktemp -d /var/tmp/iommud-nspawn-run.XXXXXX)
M=$W/merged
NS= L= MOUNTED_NSPAWN= MOUNTED_ROOT=
cleanup() {
	set +e
	if [ -n "$NS" ] && kill -0 "$NS" 2>/dev/null; then
		[ -n "$L" ] && nsenter -t "$L" -a systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 1 150); do kill -0 "$NS" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$NS" 2>/dev/null; then
			echo "container did not power off: terminating nspawn $NS" >&2
			kill -TERM "$NS"; sleep 3; kill -KILL "$NS" 2>/dev/null
		fi
		wait "$NS" 2>/dev/null
	fi
	if [ -n "${IOMMUD_NSPAWN_KEEP_LOGS:-}" ]; then   # debugging: keep the logs of this run
		mkdir -p "$IOMMUD_NSPAWN_KEEP_LOGS" && cp "$W"/*.txt "$W"/*.log "$IOMMUD_NSPAWN_KEEP_LOGS"/ 2>/dev/null
	fi
	[ -n "$MOUNTED_NSPAWN" ] && umount /run/systemd/nspawn
	# never rm through a still-mounted overlay (it would write whiteouts, or worse)
	if [ -z "$MOUNTED_ROOT" ] || umount "$M" || { sleep 2; umount "$M"; }; then
		rm -rf --one-file-system "$W"
	else
		echo "could not unmount $M: left in place" >&2
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$W/upper" "$W/work" "$M"
mount -t overlay "iommud-test-$RUNID" -o "lowerdir=$TREE,upperdir=$W/upper,workdir=$W/work" "$M" && MOUNTED_ROOT=1
[ -n "$MOUNTED_ROOT" ] || { echo "overlay mount failed" >&2; exit 2; }

# --- test fixtures inside the container (before boot, so postinst sees them) ---
install -m 0644 "$DEB" "$M/root/iommud.deb"
mkdir -p "$M/etc/iommud" "$M/etc/systemd/system/iommud.service.d"
# the only config the test changes: count records written from userspace
printf '[sources]\naccept_user_facility = true\n' > "$M/etc/iommud/iommud-test.toml"
cat > "$M/etc/systemd/system/iommud.service.d/50-test.conf" <<EOF
# Tests/systemd/nspawn.sh: the test config, and a short watchdog so that pinging is
# observable within seconds (the shipped unit has 30 s)
[Service]
ExecStart=
ExecStart=/usr/bin/iommud run --config /etc/iommud/iommud-test.toml
WatchdogSec=4s
EOF
if [ "$PORT" != 10111 ]; then
	# the container shares the host's network namespace: do not fight over the port
	mkdir -p "$M/etc/systemd/system/iommud.socket.d"
	printf '[Socket]\nListenStream=\nListenStream=%s\n' "$PORT" > "$M/etc/systemd/system/iommud.socket.d/50-test.conf"
	note "port 10111 is busy on this host: the socket listens on $PORT (drop-in)"
fi

# --- boot ---
# /run/systemd/nspawn must be a tmpfs (nspawn refuses to rm -rf its propagation dir on
# a disk file system); only mount one when it is not.
mkdir -p /run/systemd/nspawn
if [ "$(stat -f -c %T /run/systemd/nspawn)" != tmpfs ]; then
	mount -t tmpfs -o mode=0755 "iommud-test-$RUNID" /run/systemd/nspawn && MOUNTED_NSPAWN=1
fi
# Without these, systemd silently skips parts of the sandbox and the unit still shows
# "active": pure cgroup v2 + CAP_BPF + bpf() for DevicePolicy=/IPAddressDeny=,
# CAP_SYSLOG in the bounding set for AmbientCapabilities=, CAP_NET_ADMIN to bring up
# lo under PrivateNetwork=, and /dev/kmsg itself (nspawn does not create it).
# --register=no --keep-unit: the host's PID 1 need not be systemd.
SWAP_ARGS=()
if [ -n "${IOMMUD_NSPAWN_BINARY:-}" ]; then
	for d in $(readelf -d "$IOMMUD_NSPAWN_BINARY" | sed -n 's/.*R[UN]*PATH.*\[\(.*\)\]/\1/p' | tr ':' ' '); do
		case $d in /*) [ -d "$d" ] && SWAP_ARGS+=("--bind-ro=$d") ;; esac
	done
fi
export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
setsid systemd-nspawn -D "$M" --boot --register=no --keep-unit --console=read-only \
	--machine="iommud-test-$RUNID" \
	--capability=CAP_SYSLOG,CAP_NET_ADMIN,CAP_BPF --system-call-filter=bpf \
	--bind=/dev/kmsg "${SWAP_ARGS[@]}" </dev/null >"$W/console.log" 2>&1 &
NS=$!
TBOOT=$(date +%s.%N)
for _ in $(seq 1 300); do
	for c in $(cat /proc/$NS/task/*/children 2>/dev/null); do
		for g in $c $(cat /proc/$c/task/*/children 2>/dev/null); do
			[ "$(cat /proc/$g/comm 2>/dev/null)" = systemd ] && L=$g
		done
	done
	[ -n "$L" ] && break
	kill -0 "$NS" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$L" ]; then fail "container boots"; tail -n 20 "$W/console.log"; finish; exit 1; fi
IN() { nsenter -t "$L" -a "$@"; }
for _ in $(seq 1 300); do [ -S "/proc/$L/root/run/systemd/private" ] && break; sleep 0.1; done
state=$(IN timeout 60 systemctl is-system-running --wait 2>&1)
lap "container booted in $(elapsed "$TBOOT")s: $state"
check "container systemd is up (is-system-running: $state)" [ "$state" = running ]
[ "$state" = running ] || IN systemctl --failed --no-legend --plain | sed 's/^/     /'
# the container itself must offer what the sandbox needs (else systemd degrades silently)
check "container has the unified cgroup hierarchy (BPF device/IP filters need it)" \
	[ "$(IN stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]
bnd_has_syslog() { local b; b=$(awk '$1 == "CapBnd:" {print $2}' "/proc/$L/status"); (( 0x$b & (1 << 34) )); }
check "container's bounding set has CAP_SYSLOG (for AmbientCapabilities=)" bnd_has_syslog

show() { IN systemctl show -P "$2" "$1" 2>/dev/null; }
is() { [ "$(show "$1" "$2")" = "$3" ]; }   # is UNIT PROPERTY VALUE
wait_for() { # SECONDS CMD...: poll until CMD succeeds
	local t=$1; shift
	for _ in $(seq 1 $((t * 5))); do "$@" && return 0; sleep 0.2; done
	return 1
}
# expect NAME 'shell condition': for compound conditions (evaluated here, once)
expect() { local n=$1; shift; if eval "$*"; then pass "$n"; else fail "$n"; fi; }
metrics() { http_get 127.0.0.1 "$PORT" /metrics; }

# --- install through the maintainer scripts (systemd is running: enable + start) ---
T=$(date +%s.%N)
out=$(IN dpkg -i /root/iommud.deb 2>&1); rc=$?
check "dpkg -i iommud.deb (rc=$rc, $(elapsed "$T")s)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 15 | sed 's/^/     /'
if [ -n "${IOMMUD_NSPAWN_BINARY:-}" ]; then
	rm -f "$M/usr/bin/iommud" && install -m 0755 "$IOMMUD_NSPAWN_BINARY" "$M/usr/bin/iommud"
	IN systemctl restart iommud.service
	note "IOMMUD_NSPAWN_BINARY: /usr/bin/iommud is now $IOMMUD_NSPAWN_BINARY (until the reinstall below)"
fi
check "postinst enabled iommud.socket and iommud.service" \
	[ "$(IN systemctl is-enabled iommud.socket iommud.service 2>&1 | tr '\n' ' ')" = "enabled enabled " ]
wait_for 10 is iommud.service SubState running
check "postinst started iommud.socket ($(show iommud.socket ActiveState))" [ "$(show iommud.socket ActiveState)" = active ]
check "iommud.service active/running ($(show iommud.service ActiveState)/$(show iommud.service SubState))" \
	[ "$(show iommud.service SubState)" = running ]
MP=$(show iommud.service MainPID)
if ! [ "${MP:-0}" -gt 1 ] 2>/dev/null; then
	# everything below observes the running daemon: stop here, with its journal
	fail "iommud.service has a main process (MainPID=${MP:-none}); the rest needs it"
	IN journalctl -q -b -u iommud.service --no-pager -n 30 | sed 's/^/     /'
	finish; exit 1
fi
status_text=$(show iommud.service StatusText)
check "Type=notify: the daemon sent STATUS= (\"$status_text\")" [ -n "$status_text" ]
catids=$(sed -n 's/^-- \([0-9a-fA-F]\{32\}\).*/\1/p' "$M/usr/lib/systemd/catalog/iommud.catalog" 2>/dev/null | tr 'A-F' 'a-f')
listed=$(IN journalctl --list-catalog 2>/dev/null | awk '{print $1}')
unindexed=$(for id in $catids; do grep -qx "$id" <<<"$listed" || echo "$id"; done)
expect "journal catalog installed and indexed by postinst ($(wc -w <<<"$catids") ids)" \
	'[ -n "$catids" ] && [ -z "$unindexed" ]'

# --- the socket, from the host ---
scrape_ok() { code=$(http_status 127.0.0.1 "$PORT" /metrics); [ "$code" = 200 ]; }
wait_for 10 scrape_ok
check "GET /metrics from the host on :$PORT -> 200 (got '${code:-none}')" [ "$code" = 200 ]
body=$(metrics)
check "/metrics has iommud_build_info" grep -q '^iommud_build_info{' <<<"$body"

# --- control socket ---
out=$(IN iommud status 2>&1); rc=$?
check "iommud status inside the container answers (rc=$rc)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || note "$out"
sockmode=$(IN stat -c '%a %G' /run/iommud/control.sock 2>&1)
check "control socket is mode 0660, group adm (got '$sockmode')" [ "$sockmode" = "660 adm" ]
out=$(IN setpriv --reuid=65534 --regid=65534 --clear-groups iommud status 2>&1); rc=$?
expect "a user outside adm gets a one-line error (rc=$rc: $(head -n 1 <<<"$out"))" \
	'[ "$rc" != 0 ] && [ "$rc" != 3 ] && [ "$(printf "%s\n" "$out" | wc -l)" = 1 ]'

# --- a fault in the shared kernel log ---
kmsg_write "$(kmsg_fault_line "$BDF")"
re="^iommu_faults_total\\{[^}]*device=\"$DEVICE\"[^}]*\\} 1$"
fault_counted() { grep -qE "$re" <<<"$(metrics)"; }
if wait_for 10 fault_counted; then
	pass "fault written to /dev/kmsg on the host (device $DEVICE) counted once in /metrics"
else
	fail "fault written to /dev/kmsg on the host (device $DEVICE) counted once in /metrics"
	metrics | grep -E 'iommu_faults_total|kmsg' | sed 's/^/     /'
fi
have_fault_entry() { IN journalctl -q -u iommud.service "IOMMU_DEVICE=$DEVICE" -o cat 2>/dev/null | grep -q .; }
check "journal has the fault entry (IOMMU_DEVICE=$DEVICE)" wait_for 5 have_fault_entry
jf=$(IN journalctl -q -u iommud.service "IOMMU_DEVICE=$DEVICE" -o export 2>/dev/null)
check "fault entry: IOMMU_KIND=dma-read" grep -qx 'IOMMU_KIND=dma-read' <<<"$jf"
check "fault entry: IOMMU_UNIT and KMSG_SEQ present" bash -c 'grep -q "^IOMMU_UNIT=" <<<"$0" && grep -q "^KMSG_SEQ=" <<<"$0"' "$jf"
check "fault entry: sent by the daemon's main process (_PID=$MP)" grep -qx "_PID=$MP" <<<"$jf"
# every MESSAGE_ID the daemon logged is explained in the catalog (journalctl -x)
ids=$(IN journalctl -q -u iommud.service _COMM=iommud -o export 2>/dev/null | sed -n 's/^MESSAGE_ID=//p' | sort -u)
missing=
for id in $ids; do IN journalctl --list-catalog "$id" 2>/dev/null | grep -q . || missing="$missing $id"; done
expect "daemon's journal entries ($(wc -w <<<"$ids") MESSAGE_IDs) all in the catalog${missing:+ (missing:$missing)}" \
	'[ -n "$ids" ] && [ -z "$missing" ]'
if IN iommud version 2>/dev/null | grep -q standin; then
	note "stand-in binary: skipped 'iommud log --device' (not implemented by the stand-in)"
else
	out=$(IN iommud log --device "$DEVICE" 2>&1); rc=$?
	check "iommud log --device $DEVICE finds the fault (rc=$rc)" bash -c '[ "$0" = 0 ] && grep -q "$1" <<<"$2"' "$rc" "$DEVICE" "$out"
fi

# --- the sandbox, observed on the running process ---
st=$(IN cat "/proc/$MP/status")
for cap in CapPrm CapEff CapBnd CapAmb; do
	v=$(awk -v k="$cap:" '$1 == k {print $2}' <<<"$st")
	check "$cap is exactly CAP_SYSLOG ($v)" [ "$v" = 0000000400000000 ]
done
uid=$(awk '$1 == "Uid:" {print $2}' <<<"$st"); gid=$(awk '$1 == "Gid:" {print $2}' <<<"$st")
expect "DynamicUser: transient uid ($uid, name $(IN id -nu "$uid" 2>/dev/null))" '[ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ]'
check "group is adm (gid $gid)" [ "$gid" = "$(IN getent group adm | cut -d: -f3)" ]
check "NoNewPrivs=1" grep -qE '^NoNewPrivs:[[:space:]]+1$' <<<"$st"
check "seccomp filter active (Seccomp: 2)" grep -qE '^Seccomp:[[:space:]]+2$' <<<"$st"
ifs=$(IN awk -F: 'NR > 2 { gsub(/ /, "", $1); printf "%s ", $1 }' "/proc/$MP/net/dev")
check "PrivateNetwork: the daemon sees only lo ($ifs)" [ "$ifs" = "lo " ]
check "ProtectSystem=strict: /usr is read-only for the daemon" \
	bash -c "nsenter -t $L -a nsenter -t $MP -m findmnt -n -o OPTIONS -T /usr | grep -qE '(^|,)ro(,|$)'"
check "StateDirectory /var/lib/iommud is writable for the daemon" \
	bash -c "nsenter -t $L -a nsenter -t $MP -m findmnt -n -o OPTIONS -T /var/lib/iommud | grep -qE '(^|,)rw(,|$)'"
check "ProtectKernelLogs is off: the daemon has /dev/kmsg open" \
	bash -c "nsenter -t $L -a ls -l /proc/$MP/fd 2>/dev/null | grep -q ' -> /dev/kmsg$'"

# DevicePolicy=closed + DeviceAllow=/dev/kmsg r: a write to /dev/kmsg from the
# service's cgroup and mount namespace is refused even as root (so DAC allows it and
# only the BPF device filter can say no), and as the service's own uid.
# (the unit's cgroup in the unified hierarchy; hybrid mode mounts it at .../unified)
CGROOT=/sys/fs/cgroup
[ "$(IN stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || CGROOT=/sys/fs/cgroup/unified
export CGROOT
# probe UNIT TAG [setpriv args]: join UNIT's cgroup and its main process's mount
# namespace, then write one tagged line to /dev/kmsg; prints "write-ok" or the error
probe() {
	local cg pid
	cg=$(show "$1" ControlGroup); pid=$(show "$1" MainPID)
	IN sh -c 'echo $$ > "$CGROOT$1/cgroup.procs" && shift && exec "$@"' _ "$cg" \
		nsenter -t "$pid" -m ${3:+setpriv $3} sh -c \
		'printf "<14>iommud-nspawn-test %s %s\n" "$0" "$1" > /dev/kmsg && echo write-ok' "$2" "$RUNID" 2>&1 | tail -n 1
}
r=$(probe iommud.service devicepolicy-closed-root)
check "kmsg write as root in iommud.service's sandbox is refused ($r)" grep -q 'Operation not permitted' <<<"$r"
r=$(probe iommud.service devicepolicy-closed-uid "--reuid=$uid --regid=$gid --clear-groups")
check "kmsg write as the service's uid in its sandbox is refused ($r)" grep -qE 'Operation not permitted|Permission denied' <<<"$r"
# negative control: the identical probe against a unit with DevicePolicy=auto must
# succeed; if it does not, the probe cannot tell an enforced policy from a broken one
IN systemd-run -q --unit="iommud-devctl-$RUNID" -p DevicePolicy=auto sleep 60 >/dev/null 2>&1
wait_for 5 is "iommud-devctl-$RUNID.service" ActiveState active
r=$(probe "iommud-devctl-$RUNID.service" devicepolicy-auto-control)
check "negative control: same probe under DevicePolicy=auto is allowed ($r)" [ "$r" = write-ok ]

# IPAddressDeny=any: a UDP datagram to lo, sent from the service's cgroup in its network
# namespace, is refused by the cgroup BPF filter (EPERM; over TCP the drop would only
# show as a 2-minute connect timeout). Control: the same send from the control unit's
# cgroup goes out, proving lo is up and the probe can tell the two apart.
ipprobe() { # UNIT: send one UDP datagram to 127.0.0.1:9 in iommud's netns from UNIT's cgroup
	IN timeout 5 sh -c 'echo $$ > "$CGROOT$1/cgroup.procs" && shift && exec "$@"' _ "$(show "$1" ControlGroup)" \
		nsenter -t "$(show iommud.service MainPID)" -n bash -c 'echo probe > /dev/udp/127.0.0.1/9 && echo send-ok' 2>&1 | tail -n 1
}
r=$(ipprobe iommud.service)
check "IPAddressDeny=any: IP from the service's cgroup is refused ($r)" grep -q 'Operation not permitted' <<<"$r"
r=$(ipprobe "iommud-devctl-$RUNID.service")
check "negative control: the same send from another cgroup goes out ($r)" [ "$r" = send-ok ]
IN systemctl stop "iommud-devctl-$RUNID.service" >/dev/null 2>&1

# systemd logs it when it cannot apply part of a sandbox (e.g. no BPF for DeviceAllow=);
# nothing of the kind may have been logged so far (the failures provoked below come later)
pid1warn=$(IN journalctl -q -b -p warning _PID=1 -o cat --no-pager 2>/dev/null)
sandbox_warn=$(grep -iE 'iommud|bpf|cgroup|seccomp|namespace|capabilit|device|firewall' <<<"$pid1warn")
check "systemd (PID 1) logged no warning about iommud or sandboxing" [ -z "$sandbox_warn" ]
[ -n "$pid1warn" ] && printf '%s\n' "$pid1warn" | head -n 10 | sed 's/^/     PID 1 warning: /'

# --- watchdog (WatchdogSec=4s in the test drop-in) ---
w1=$(show iommud.service WatchdogTimestampMonotonic)
sleep 4.5
w2=$(show iommud.service WatchdogTimestampMonotonic)
expect "watchdog pings arrive (WatchdogTimestamp $w1 -> $w2) and no restart" \
	'[ "${w2:-0}" -gt "${w1:-0}" ] && is iommud.service NRestarts 0 && is iommud.service MainPID "$MP"'

# --- reload (ExecReload=/bin/kill -HUP, daemon: RELOADING=1 ... READY=1) ---
out=$(IN timeout 20 systemctl reload iommud.service 2>&1); rc=$?
expect "systemctl reload iommud (rc=$rc) keeps the process" \
	'[ "$rc" = 0 ] && is iommud.service MainPID "$MP" && is iommud.service ActiveState active'
[ "$rc" = 0 ] || note "$out"
reload_ok() { grep -qxE 'iommud_config_last_reload_successful 1(\.0)?' <<<"$(metrics)"; }  # gauges print as 1.0
check "iommud_config_last_reload_successful 1 after reload" wait_for 5 reload_ok

# --- Restart=on-failure ---
restarted() { local p; p=$(show iommud.service MainPID); [ "$p" -gt 0 ] && [ "$p" != "$MP" ] && is iommud.service SubState running; }
[ "$MP" -gt 1 ] && IN kill -KILL "$MP"   # never "kill 0": that is our own process group
wait_for 10 restarted
MP2=$(show iommud.service MainPID)
expect "killed daemon is restarted (NRestarts=$(show iommud.service NRestarts), pid $MP -> $MP2)" \
	'is iommud.service NRestarts 1 && restarted'
check "after the restart the fault is counted exactly once (checkpoint + ring)" wait_for 5 fault_counted

# --- RestartPreventExitStatus=78: a config error is not retried ---
printf '[sources]\naccept_user_facility = true\nno_such_key_%s = 1\n' "$RUNID" > "$M/etc/iommud/iommud-test.toml"
IN timeout 20 systemctl restart iommud.service >/dev/null 2>&1
n0=$(show iommud.service NRestarts)
sleep 3 # > RestartSec
expect "config error: exit 78, unit failed, not restarted (status=$(show iommud.service ExecMainStatus), $(show iommud.service ActiveState), NRestarts $n0 -> $(show iommud.service NRestarts))" \
	'is iommud.service ExecMainStatus 78 && is iommud.service ActiveState failed && is iommud.service NRestarts "$n0"'
err=$(IN journalctl -q -u iommud.service -n 20 -o cat 2>/dev/null | grep -c "no_such_key_$RUNID")
check "the config error names the key in the journal" [ "$err" -ge 1 ]
printf '[sources]\naccept_user_facility = true\n' > "$M/etc/iommud/iommud-test.toml"
IN systemctl reset-failed iommud.service
IN timeout 20 systemctl start iommud.service
check "after fixing the config the service starts again" is iommud.service SubState running

# --- no daemon: status exits 3 (stop the service only; the socket would restart it on a scrape) ---
IN timeout 20 systemctl stop iommud.service 2>/dev/null   # (warns: the socket can still activate it)
IN iommud status >/dev/null 2>&1; rc=$?
check "iommud status with the daemon stopped exits 3 (rc=$rc)" [ "$rc" = 3 ]
code=$(http_status 127.0.0.1 "$PORT" /metrics)
expect "a scrape re-activates the stopped service through the socket ($code, $(show iommud.service SubState))" \
	'[ "$code" = 200 ] && is iommud.service SubState running'

# --- upgrade: same package again -> postinst try-restart ---
MP=$(show iommud.service MainPID)
out=$(IN dpkg -i /root/iommud.deb 2>&1); rc=$?
wait_for 10 restarted
expect "reinstall (upgrade path, rc=$rc): daemon restarted (pid $MP -> $(show iommud.service MainPID)), socket kept" \
	'[ "$rc" = 0 ] && restarted && is iommud.socket ActiveState active'

# --- purge ---
rm -rf "$M/etc/iommud/iommud-test.toml" "$M/etc/systemd/system/iommud.service.d" \
	"$M/etc/systemd/system/iommud.socket.d"
out=$(IN dpkg --purge iommud 2>&1); rc=$?
check "dpkg --purge iommud (rc=$rc)" [ "$rc" = 0 ]
expect "after purge: units stopped ($(show iommud.service ActiveState)/$(show iommud.socket ActiveState))" \
	'is iommud.service ActiveState inactive && is iommud.socket ActiveState inactive'
check "after purge: port $PORT closed" bash -c "! ss -Hltn 'sport = :$PORT' | grep -q ."
check "after purge: binary, config and state gone" bash -c \
	"[ ! -e '$M/usr/bin/iommud' ] && [ ! -e '$M/etc/iommud/iommud.toml' ] && [ ! -e '$M/var/lib/private/iommud' ] && [ ! -L '$M/var/lib/iommud' ]"
check "after purge: no enablement symlinks or deb-systemd-helper state left" \
	bash -c "! find '$M/etc/systemd/system' '$M/var/lib/systemd/deb-systemd-helper-enabled' '$M/var/lib/systemd/deb-systemd-helper-masked' -name '*iommud*' 2>/dev/null | grep -q ."

IN journalctl -q -b -p warning -o short-monotonic --no-pager >"$W/journal-warnings.txt" 2>&1
if [ "$FAILS" -gt 0 ]; then
	echo "--- iommud journal:"; IN journalctl -q -b -u iommud.service -u iommud.socket --no-pager -n 40 | sed 's/^/     /'
fi
T=$(date +%s.%N)
IN systemctl poweroff >/dev/null 2>&1
for _ in $(seq 1 150); do kill -0 "$NS" 2>/dev/null || break; sleep 0.1; done
kill -0 "$NS" 2>/dev/null || { wait "$NS"; rc=$?; NS=; }
expect "container powers off cleanly (nspawn rc=${rc:-running}, $(elapsed "$T")s)" '[ -z "$NS" ] && [ "$rc" = 0 ]'
finish
