#!/usr/bin/env bash
# phase.sh NAME COMMAND… — runs one phase of `make test`, printing its wall time, and records it
# in $PHASE_LOG so the Makefile can print the summary table at the end.
set -u
name=$1
shift
start=$(date +%s.%N)
printf '\n\033[1m==> %s\033[0m\n' "$name"
"$@"
rc=$?
end=$(date +%s.%N)
secs=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
status=$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")
printf '\033[1m<== %s: %s s, %s\033[0m\n' "$name" "$secs" "$status"
[ -n "${PHASE_LOG:-}" ] && printf '%-34s %8s s  %s\n' "$name" "$secs" "$status" >> "$PHASE_LOG"
exit $rc
