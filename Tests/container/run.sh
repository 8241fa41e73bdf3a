#!/bin/bash
# run.sh IOMMUD_BINARY — the container image under a real container runtime (rootful podman + runc),
# against this machine's real /dev/kmsg. `make container` (a phase of `make test`) calls it with
# .build/release/iommud. Needs root (re-runs itself with sudo when it can). README.md beside it.
#
#   image      `make image` into a scratch archive, under a tag of this run; podman load; size,
#              user, entrypoint/cmd, volume, healthcheck and the OCI labels of its config
#   run        --cap-drop=ALL --cap-add=SYSLOG --read-only --security-opt no-new-privileges, the
#              host's /dev/kmsg (read-only device), /sys and /proc/interrupts read-only, a named
#              state volume, a config with accept_user_facility = true, a published port, and
#              `run --web.listen-address=:10111 --log.format=logfmt` (flags after the image)
#   checks     /-/healthy and /-/ready; uid 65532, gid adm, CapEff = CapPrm = CapBnd = CAP_SYSLOG and
#              no ambient (the file capability, raised by the daemon), NoNewPrivs, root read-only;
#              faults written to the host's /dev/kmsg (level 6, facility 1, one open per line, on a
#              PCI segment and bus no ring record names) counted exactly in /metrics, in
#              `podman exec … iommud status` and `status --json`; the HEALTHCHECK; SIGTERM via
#              `podman stop`: exit 0, no SIGKILL, the final checkpoint in the volume; a new
#              container on the same volume (faults written while none ran, and after) — exact
#              totals, nothing twice; the capability model Kubernetes' runtimes use (containerd-caps.py)
#   cleanup    every container, the volume and the image of this run (trap, also on failure)
set -u
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null && exec sudo --preserve-env=IOMMUD_CONTAINER_KEEP "$0" "$@"
	echo "$0 must run as root (rootful podman, /dev/kmsg writes)" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
# pass/fail/check/finish, need_cmd, free_port, kmsg_write: shared with the systemd tests
. "$here/../systemd/lib.sh"
BIN=$(realpath "${1:?usage: $0 IOMMUD_BINARY}")
need_cmd podman podman
need_cmd runc runc
need_cmd buildah buildah
need_cmd setcap libcap2-bin
need_cmd curl curl
need_cmd python3 python3
need_cmd bc bc

RUNID=$(printf '%04x%04x' $RANDOM $RANDOM)
NAME=iommud-test-$RUNID
VOL=iommud-test-state-$RUNID
IMAGE=localhost/iommud-test:$RUNID
tmp=$(mktemp -d /tmp/iommud-container-test.XXXXXX)
PLOG=$tmp/podman.log # podman's own complaints (no systemd here for healthcheck timers) go here
# runc, not crun ("cgroups in hybrid mode not supported"); cgroupfs, not systemd
P=(podman --runtime runc --cgroup-manager=cgroupfs)
# podman asks for a NOFILE limit above the hard limit unless told; stay under `ulimit -Hn`
hard=$(ulimit -Hn)
nofile=4096
[ "$hard" != unlimited ] && [ "$hard" -lt "$nofile" ] && nofile=$hard
LIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit nproc=4096:4096)

cleanup() {
	local c
	for c in "$NAME-1" "$NAME-2"; do "${P[@]}" rm -f -t 0 "$c" >>"$PLOG" 2>&1; done
	"${P[@]}" volume rm -f "$VOL" >>"$PLOG" 2>&1
	"${P[@]}" rmi -f "$IMAGE" >>"$PLOG" 2>&1
	[ -n "${CAPPID:-}" ] && kill "$CAPPID" 2>/dev/null
	if [ -n "${IOMMUD_CONTAINER_KEEP:-}" ]; then cp -r "$tmp" "$IOMMUD_CONTAINER_KEEP"; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# expect NAME 'shell condition': for compound conditions (evaluated here, once)
expect() { local n=$1; shift; if eval "$*"; then pass "$n"; else fail "$n"; fi; }
wait_for() { # SECONDS CMD...: poll until CMD succeeds
	local t=$1; shift
	for _ in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
	return 1
}
metrics() { curl -s --max-time 5 "http://127.0.0.1:$PORT/metrics"; }
code() { curl -s -o /dev/null --max-time 5 -w '%{http_code}' "http://127.0.0.1:$PORT$1"; }
# the exact sum of iommu_faults_total over this run's device
faults() { metrics | awk -v d="device=\"$DEVICE\"" 'index($0, "iommu_faults_total{") == 1 && index($0, d) { s += $NF } END { print s + 0 }'; }
faults_are() { [ "$(faults)" = "$1" ]; }
ready() { [ "$(code /-/ready)" = 200 ]; }
dump_logs() { # CONTAINER
	echo "     --- podman logs $1:"; "${P[@]}" logs "$1" 2>&1 | tail -n 20 | sed 's/^/     /'
}

# --- the image ---------------------------------------------------------------------------------
T=$(date +%s.%N)
if make -s -C "$TOP" image RELEASE_BIN="$BIN" IMAGE_NAME="$IMAGE" IMAGE_ARCHIVE="$tmp/image.tar" >"$tmp/make-image.log" 2>&1; then
	pass "make image built $(basename "$tmp")/image.tar ($(du -h --apparent-size "$tmp/image.tar" | cut -f1), $(elapsed "$T")s)"
else
	fail "make image"; tail -n 15 "$tmp/make-image.log" | sed 's/^/     /'; finish; exit 1
fi
"${P[@]}" load -q -i "$tmp/image.tar" >>"$PLOG" 2>&1
check "podman load accepts the archive ($IMAGE)" "${P[@]}" image exists "$IMAGE"
inspect() { "${P[@]}" image inspect "$IMAGE" --format "$1" 2>>"$PLOG"; }
size=$(inspect '{{.Size}}')
expect "image smaller than 50 MB ($((size / 1000000)) MB)" '[ "$size" -lt 50000000 ]'
check "runs as 65532:4 (iommud, group adm)" [ "$(inspect '{{.Config.User}}')" = 65532:4 ]
check 'ENTRYPOINT ["/usr/bin/iommud"], CMD ["run"]' \
	[ "$(inspect '{{json .Config.Entrypoint}} {{json .Config.Cmd}}')" = '["/usr/bin/iommud"] ["run"]' ]
check "VOLUME /var/lib/iommud" grep -q '"/var/lib/iommud"' <<<"$(inspect '{{json .Config.Volumes}}')"
check "HEALTHCHECK runs iommud status" [ "$(inspect '{{json .HealthCheck.Test}}')" = '["CMD","/usr/bin/iommud","status"]' ]
version=$("$BIN" version | awk '{print $2}')
labels=$(inspect '{{json .Config.Labels}}')
for l in title version revision created source licenses description; do
	v=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("org.opencontainers.image."+sys.argv[2], ""))' "$labels" "$l")
	check "label org.opencontainers.image.$l ($v)" [ -n "$v" ]
done
check "label version is the binary's ($version)" grep -q "\"org.opencontainers.image.version\":\"$version\"" <<<"$labels"

# --- a device no record in the ring names, on a random PCI segment --------------------------------
ring=$(dmesg 2>/dev/null)
for _ in $(seq 1 50); do
	SEG=$(printf '%04x' $(( 0x1000 + RANDOM % 0xe000 ))); BUS=$(printf '%02x' $(( 0x10 + RANDOM % 0xe0 )))
	grep -qi "$SEG:$BUS:" <<<"$ring" || break
done
DEVICE=$SEG:$BUS:00.0
fault() { kmsg_write "DMAR: [DMA Read NO_PASID] Request device [$DEVICE] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set"; }
note "device $DEVICE (run $RUNID)"

# --- the container -----------------------------------------------------------------------------
# checkpoint_interval 1h: while it runs the daemon writes no checkpoint after the faults, so the
# one in the volume after `podman stop` can only be the final write on SIGTERM.
cat >"$tmp/iommud.toml" <<'EOF'
[sources]
interrupts = "/host/proc/interrupts"
sysfs = "/host/sys"
accept_user_facility = true
[state]
checkpoint_interval = "1h"
[journal]
enabled = false
EOF
chmod 0644 "$tmp/iommud.toml"
"${P[@]}" volume create "$VOL" >>"$PLOG" 2>&1
PORT=$(free_port) || { fail "no free port"; finish; exit 1; }
start() { # CONTAINER-NAME
	"${P[@]}" run -d --name "$1" "${LIMITS[@]}" \
		--cap-drop=ALL --cap-add=SYSLOG --read-only --security-opt no-new-privileges \
		--device /dev/kmsg:/dev/kmsg:r \
		-v /sys:/host/sys:ro -v /proc/interrupts:/host/proc/interrupts:ro \
		-v "$VOL:/var/lib/iommud" -v "$tmp/iommud.toml:/etc/iommud/iommud.toml:ro" \
		-p "127.0.0.1:$PORT:10111" \
		"$IMAGE" run --web.listen-address=:10111 --log.format=logfmt >>"$PLOG" 2>&1
}
T=$(date +%s.%N)
if ! start "$NAME-1"; then
	fail "podman run"; tail -n 10 "$PLOG" | sed 's/^/     /'; finish; exit 1
fi
if wait_for 30 ready; then
	pass "/-/ready answers 200 once the backlog is read ($(elapsed "$T")s after podman run)"
else
	fail "/-/ready answers 200 (last: $(code /-/ready))"; dump_logs "$NAME-1"; finish; exit 1
fi
check "/-/healthy answers 200" [ "$(code /-/healthy)" = 200 ]
check "the landing page lists /metrics, /-/healthy, /-/ready" \
	bash -c 'b=$(curl -s "http://127.0.0.1:$0/"); for p in /metrics /-/healthy /-/ready; do grep -q "href=\"$p\"" <<<"$b" || exit 1; done' "$PORT"

pid=$("${P[@]}" inspect "$NAME-1" --format '{{.State.Pid}}')
st=$(cat "/proc/$pid/status")
field() { awk -v k="$1:" '$1 == k {print $2}' <<<"$st"; }
check "the daemon is uid 65532, gid 4 (adm)" [ "$(field Uid) $(field Gid)" = "65532 4" ]
for cap in CapEff CapPrm CapBnd; do
	check "$cap is exactly CAP_SYSLOG ($(field $cap))" [ "$(field $cap)" = 0000000400000000 ]
done
check "no ambient capabilities: CAP_SYSLOG comes from the file capability ($(field CapAmb))" [ "$(field CapAmb)" = 0000000000000000 ]
check "NoNewPrivs=1" [ "$(field NoNewPrivs)" = 1 ]
rootopts=$(awk '$5 == "/" { o = $6 } END { print o }' "/proc/$pid/mountinfo")
check "the root file system is read-only ($rootopts)" grep -qE '(^|,)ro(,|$)' <<<"$rootopts"
check "the daemon has the host's /dev/kmsg open" bash -c "ls -l /proc/$pid/fd 2>/dev/null | grep -q ' -> /dev/kmsg$'"

# --- faults in the host's kernel log -----------------------------------------------------------
for _ in 1 2 3; do fault; done
if wait_for 10 faults_are 3; then
	pass "3 faults written to the host's /dev/kmsg: iommu_faults_total{device=\"$DEVICE\"} is exactly 3"
else
	fail "3 faults counted exactly (got $(faults))"; metrics | grep -E "$DEVICE|kmsg" | sed 's/^/     /'
fi
sleep 0.5 # anything counted twice would show by now
check "…and stays 3" faults_are 3
out=$("${P[@]}" exec "$NAME-1" iommud status 2>&1); rc=$?
expect "podman exec … iommud status answers (rc=$rc) and lists $DEVICE" '[ "$rc" = 0 ] && grep -q "$DEVICE" <<<"$out"'
out=$("${P[@]}" exec "$NAME-1" iommud status --json 2>&1); rc=$?
js=$(python3 -c '
import json, sys
s = json.loads(sys.argv[1])
d = [x for x in s["devices"] if x["device"] == sys.argv[2]]
print(s["daemon"]["ready"], d[0]["faults"] if d else None)' "$out" "$DEVICE" 2>&1)
expect "status --json: ready, $DEVICE with 3 faults ($js)" '[ "$rc" = 0 ] && [ "$js" = "True 3" ]'
"${P[@]}" healthcheck run "$NAME-1" >>"$PLOG" 2>&1; rc=$?
hs=$("${P[@]}" inspect "$NAME-1" --format '{{.State.Health.Status}}' 2>>"$PLOG")
expect "the image's HEALTHCHECK passes (podman healthcheck run rc=$rc, $hs)" '[ "$rc" = 0 ] && [ "$hs" = healthy ]'

# --- SIGTERM: podman stop ----------------------------------------------------------------------
mp=$("${P[@]}" volume inspect "$VOL" --format '{{.Mountpoint}}')
check "no checkpoint in the volume yet (checkpoint_interval = 1h)" [ ! -e "$mp/checkpoint" ]
t_stop=$(date +%s.%N)
"${P[@]}" stop -t 20 "$NAME-1" >>"$PLOG" 2>&1; rc=$?
took=$(elapsed "$t_stop")
ec=$("${P[@]}" inspect "$NAME-1" --format '{{.State.ExitCode}}')
expect "podman stop (SIGTERM) exits 0 in ${took}s: container exit code $ec, not 137 (SIGKILL)" \
	'[ "$rc" = 0 ] && [ "$ec" = 0 ] && [ "$(echo "$took < 15" | bc)" = 1 ]'
expect "the daemon logged its clean stop" '"${P[@]}" logs "$NAME-1" 2>&1 | grep -q "msg=\"iommud stopped"'
cp_mtime=$(stat -c %.9Y "$mp/checkpoint" 2>/dev/null || echo 0)
expect "a final checkpoint written on SIGTERM ($mp/checkpoint)" '[ "$(echo "$cp_mtime > $t_stop" | bc)" = 1 ]'
check "the checkpoint belongs to uid 65532" [ "$(stat -c %u "$mp/checkpoint" 2>/dev/null)" = 65532 ]

# --- a new container on the same volume: nothing counted twice ---------------------------------
fault # while no daemon runs: the new one must find it after the checkpoint's seq
T=$(date +%s.%N)
start "$NAME-2" || fail "podman run (second container)"
if wait_for 30 ready; then
	pass "second container on the same volume ready ($(elapsed "$T")s)"
else
	fail "second container ready"; dump_logs "$NAME-2"
fi
if wait_for 10 faults_are 4; then
	pass "after the restart: 3 counted before + 1 written while stopped = exactly 4 (none twice)"
else
	fail "after the restart exactly 4 (got $(faults))"; dump_logs "$NAME-2"
fi
for _ in 1 2; do fault; done
if wait_for 10 faults_are 6; then
	pass "2 more faults: exactly 6"
else
	fail "2 more faults: exactly 6 (got $(faults))"
fi
sleep 0.5
check "…and stays 6" faults_are 6
lost=$(metrics | awk '$1 == "iommud_kmsg_lost_records_total" {print $2}')
note "iommud_kmsg_lost_records_total ${lost:-?} (records other processes logged that wrapped the shared ring, if any)"
out=$("${P[@]}" exec "$NAME-2" iommud status --json 2>&1)
n=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(sum(x["faults"] for x in s["devices"] if x["device"] == sys.argv[2]))' "$out" "$DEVICE" 2>&1)
check "status --json after the restart: $DEVICE has 6 faults ($n)" [ "$n" = 6 ]
"${P[@]}" stop -t 20 "$NAME-2" >>"$PLOG" 2>&1; rc=$?
ec=$("${P[@]}" inspect "$NAME-2" --format '{{.State.ExitCode}}')
check "second container stops cleanly (rc=$rc, exit code $ec)" [ "$rc$ec" = 00 ]

# --- the capability model of Kubernetes' runtimes ------------------------------------------------
# containerd/CRI-O give a non-root container its added capabilities in the permitted and effective
# sets but not the ambient one, with no_new_privs: without the file capability the daemon would
# lose CAP_SYSLOG at execve. The image's binary, run the same way on the host, must read /dev/kmsg;
# the same binary without its file capability (negative control) must exit 77.
mnt=$("${P[@]}" image mount "$IMAGE" 2>>"$PLOG")
cp -a "$mnt/usr/bin/iommud" "$tmp/iommud-fcap"
cp --no-preserve=all "$mnt/usr/bin/iommud" "$tmp/iommud-nofcap"; chmod 0755 "$tmp/iommud-nofcap"
"${P[@]}" image unmount "$IMAGE" >>"$PLOG" 2>&1
mkdir -p "$tmp/caps"; chown 65532:4 "$tmp/caps"; chmod 0755 "$tmp"
CPORT=$(free_port)
cat >"$tmp/caps.toml" <<EOF
[http]
listen = ["127.0.0.1:$CPORT"]
[control]
socket = "$tmp/caps/control.sock"
[state]
directory = "$tmp/caps/state"
[journal]
enabled = false
EOF
chmod 0644 "$tmp/caps.toml"
python3 "$here/containerd-caps.py" "$tmp/iommud-fcap" run --config "$tmp/caps.toml" --foreground >"$tmp/caps.log" 2>&1 &
CAPPID=$!
capready() { [ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$CPORT/-/ready")" = 200 ]; }
if wait_for 20 capready; then
	pass "as containerd runs it (uid 65532, CapPrm=CapEff=CAP_SYSLOG, no ambient, NoNewPrivs) the image's binary reads /dev/kmsg"
else
	fail "as containerd runs it the image's binary reads /dev/kmsg"; tail -n 5 "$tmp/caps.log" | sed 's/^/     /'
fi
kill "$CAPPID" 2>/dev/null; wait "$CAPPID" 2>/dev/null; CAPPID=
python3 "$here/containerd-caps.py" "$tmp/iommud-nofcap" run --config "$tmp/caps.toml" --foreground >"$tmp/caps-nofcap.log" 2>&1
rc=$?
check "negative control: the same binary without its file capability exits 77 (rc=$rc)" [ "$rc" = 77 ]

if [ "$FAILS" -gt 0 ]; then
	echo "--- podman's own log:"; tail -n 20 "$PLOG" | sed 's/^/     /'
fi
finish
