#!/bin/bash
# socket-activation.sh IOMMUD_BINARY
# The daemon started the way iommud.socket starts it: systemd-socket-activate (from the
# systemd package) owns a listening socket on 127.0.0.1 and, on the first connection,
# execs the daemon with that socket as fd 3 (LISTEN_FDS=1, LISTEN_PID, LISTEN_FDNAMES).
# Checks that /metrics is served on the passed socket, that the daemon opens no TCP
# listener of its own ([http] listen is ignored), that the control socket answers, and
# that SIGTERM is a clean stop. The daemon runs as the unit runs it: an unprivileged uid
# (nobody) with only CAP_SYSLOG (setpriv), so whatever needs root fails here as it would
# under systemd. Needs root to set that up; reads /dev/kmsg, never writes.
set -u
. "$(dirname "$0")/lib.sh"
need_root
BIN=$(realpath "${1:?usage: $0 IOMMUD_BINARY}")
need_cmd systemd-socket-activate systemd
need_cmd ss iproute2

TMP=$(mktemp -d /tmp/iommud-sockact.XXXXXX)
chmod 0755 "$TMP"
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && sleep 0.2 && kill -9 "$PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(free_port)
DECOY=$(free_port)   # [http] listen points here: it must stay closed
mkdir -p "$TMP/state" "$TMP/run"
chown 65534:65534 "$TMP/state" "$TMP/run"
# a copy nobody can execute wherever the build tree lives
install -m 0755 "$BIN" "$TMP/iommud"; BIN=$TMP/iommud
# what the unit gives the daemon: a uid that is not root, CAP_SYSLOG and nothing else
RUNAS=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+syslog
	--ambient-caps=-all,+syslog --bounding-set=-all,+syslog --no-new-privs)
cat > "$TMP/iommud.toml" <<EOF
[http]
listen = ["127.0.0.1:$DECOY"]

[control]
socket = "$TMP/run/control.sock"

[state]
directory = "$TMP/state"

[journal]
enabled = false
EOF

# [journal] is in the contract but arrives with its own issue: until the binary knows
# it, run without it (the daemon's journal sends then just fail, there is no journald
# on a host without systemd) and say so
if ! out=$("$BIN" check-config "$TMP/iommud.toml" 2>&1) && grep -qi journal <<<"$out"; then
	note "this binary rejects [journal] ($out): running without that section"
	sed -i '/^\[journal\]/,$d' "$TMP/iommud.toml"
fi

systemd-socket-activate -l "127.0.0.1:$PORT" --fdname=metrics \
	"${RUNAS[@]}" "$BIN" run --config "$TMP/iommud.toml" --foreground >"$TMP/daemon.log" 2>&1 &
PID=$!
# systemd-socket-activate listens first and execs the daemon (same PID) on the first
# connection, like Accept=no
for _ in $(seq 1 50); do port_busy "$PORT" && break; sleep 0.1; done
check "systemd-socket-activate listens on 127.0.0.1:$PORT" port_busy "$PORT"

code=$(http_status 127.0.0.1 "$PORT" /metrics)
body=
for _ in $(seq 1 50); do
	[ "$code" = 200 ] && body=$(http_get 127.0.0.1 "$PORT" /metrics) && [ -n "$body" ] && break
	sleep 0.2; code=$(http_status 127.0.0.1 "$PORT" /metrics)
done
check "GET /metrics on the passed socket -> 200 (got '${code:-no answer}')" [ "$code" = 200 ]
check "the activated process is iommud (exec'd, same PID)" \
	[ "$(readlink /proc/$PID/exe 2>/dev/null)" = "$BIN" ]
check "it runs as nobody with CapEff exactly CAP_SYSLOG" \
	bash -c "grep -qE '^Uid:[[:space:]]+65534' /proc/$PID/status && grep -qE '^CapEff:[[:space:]]+0000000400000000' /proc/$PID/status"
check "/metrics has iommud_build_info (contract)" grep -q '^iommud_build_info{' <<<"$body"
check "/metrics has iommud_kmsg_records_total (contract)" grep -q '^iommud_kmsg_records_total' <<<"$body"
check "/metrics is Prometheus text (# TYPE lines)" grep -q '^# TYPE ' <<<"$body"
if command -v promtool >/dev/null 2>&1; then
	check "promtool check metrics" bash -c '[ -n "$0" ] && promtool check metrics >/dev/null 2>&1 <<<"$0"' "$body"
else
	note "promtool not installed: skipped 'promtool check metrics'"
fi
check "a second scrape is served too" [ "$(http_status 127.0.0.1 "$PORT" /metrics)" = 200 ]

# the only TCP listener the daemon holds is the one it was given
listeners=$(ss -Hltnp 2>/dev/null | grep "pid=$PID," | awk '{print $4}' | sort -u | tr '\n' ' ')
check "daemon listens only on the passed socket (listeners: ${listeners:-none})" \
	[ "$listeners" = "127.0.0.1:$PORT " ]
check "[http] listen (127.0.0.1:$DECOY) ignored when a socket is passed" bash -c "! ss -Hltn 'sport = :$DECOY' | grep -q ."

out=$("$BIN" status --socket "$TMP/run/control.sock" 2>&1); rc=$?
check "iommud status --socket answers (rc=$rc)" [ "$rc" = 0 ]
[ "$rc" = 0 ] || note "$out"

kill -TERM "$PID" 2>/dev/null
rc=timeout
for _ in $(seq 1 100); do
	if ! kill -0 "$PID" 2>/dev/null; then wait "$PID"; rc=$?; break; fi
	sleep 0.1
done
check "SIGTERM: clean stop with exit 0 within 10 s (rc=$rc)" [ "$rc" = 0 ]
[ "$rc" = 0 ] && PID=
check "checkpoint written to [state] directory" [ -s "$TMP/state/checkpoint" ]
"$BIN" status --socket "$TMP/run/control.sock" >/dev/null 2>&1; rc=$?
check "iommud status with no daemon exits 3 (rc=$rc)" [ "$rc" = 3 ]

if [ "$FAILS" -gt 0 ]; then echo "--- daemon output:"; tail -n 20 "$TMP/daemon.log"; fi
finish
