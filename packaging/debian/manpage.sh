#!/bin/sh
# Generate iommud(1) from the CLI's own help, so the man page never drifts from it:
#   manpage.sh BINARY VERSION DATE > iommud.1
# DESCRIPTION is `iommud --help`; one COMMANDS subsection per subcommand listed there,
# each `iommud help <subcommand>` verbatim (no-fill, so swift-argument-parser's column
# layout survives). EXIT STATUS and FILES are the contract (ARCHITECTURE.md).
# Plain sh + awk on purpose: help2man parses GNU-style help and mangles
# argument-parser's "OVERVIEW:/USAGE:/OPTIONS:" blocks.
set -eu
bin=$1 version=$2 date=$3

# roff-escape a verbatim block: backslashes, leading . or ', and minus signs
esc() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
block() { echo '.nf'; esc; echo '.fi'; }

help=$("$bin" --help 2>&1) || true
# the OVERVIEW paragraph (argument-parser wraps it at 80 columns), joined into one line
overview=$(printf '%s\n' "$help" | awk '
	/^OVERVIEW:/ { on = 1; sub(/^OVERVIEW: */, ""); t = $0; next }
	on && /^[[:space:]]*$/ { exit }
	on { sub(/^ +/, ""); t = t " " $0 }
	END { print t }')
[ -n "$overview" ] || overview="IOMMU / DMA-remapping fault exporter"
# subcommands: the indented first words of the SUBCOMMANDS: block
subs=$(printf '%s\n' "$help" | awk '
	/^SUBCOMMANDS:/ { on = 1; next }
	on && /^[^ ]/ { on = 0 }
	on && /^  [a-z][a-z0-9-]*( |$)/ { w = $1; if (w != "help") print w }')
[ -n "$subs" ] || subs="run status replay log check-config version"

cat <<EOF
.TH IOMMUD 1 "$date" "iommud $version" "User Commands"
.SH NAME
iommud \\- $(printf '%s' "$overview" | esc)
.SH SYNOPSIS
.B iommud
.I subcommand
.RI [ options ]
.SH DESCRIPTION
iommud tails the kernel log (\\fI/dev/kmsg\\fR) and \\fI/proc/interrupts\\fR, reads the IOMMU
topology from sysfs, classifies IOMMU and DMA\\-remapping faults, and exports them as
Prometheus metrics (port 10111, socket\\-activated by \\fBiommud.socket\\fR), as journal
entries, and over a control socket (\\fBiommud status\\fR).
.PP
EOF
printf '%s\n' "$help" | block
echo '.SH COMMANDS'
for s in $subs; do
	echo ".SS iommud $s"
	"$bin" help "$s" 2>&1 | block
done
cat <<'EOF'
.SH EXIT STATUS
.TP
.B run
0 clean stop, 69 a source is missing, 74 the state directory is unusable,
77 no permission to read \fI/dev/kmsg\fR, 78 configuration error.
.TP
.B status
0 the daemon answered, 3 no daemon is running.
.TP
.B replay
0 the input was read, whatever it found (without \fB\-\-fail\-on\fR);
1 an input could not be read in full (missing, unreadable, corrupt or truncated gzip or zstd data);
2 \fB\-\-fail\-on\fR found a fault of its kind.
.TP
.B check\-config
0 valid, 78 not.
.SH FILES
.TP
.I /etc/iommud/iommud.toml
Configuration (TOML); every key is documented in the shipped file.
.TP
.I /var/lib/iommud/checkpoint
Boot id, last kernel log sequence number and counters, so a restart neither loses
nor double\-counts faults.
.TP
.I /run/iommud/control.sock
Control socket for \fBiommud status\fR (mode 0660, group adm).
.TP
.I /usr/lib/systemd/system/iommud.service, iommud.socket
The sandboxed service and its metrics socket.
.SH SEE ALSO
.BR journalctl (1),
.BR systemctl (1),
.BR systemd.socket (5),
.BR systemd.exec (5)
EOF
