#!/usr/bin/env bash
# seed.sh WORKDIR — extracts seed inputs for the fuzz targets from the test fixtures into
# WORKDIR/corpus-<target>/ (created; existing inputs are kept, so a corpus grows across runs).
#   kmsg        one /dev/kmsg record per file (record line + its dictionary lines)
#   classifier  each fixture's records as one stream, and runs of 8 consecutive records
#   replay      the classifier streams, and the pasted logs of Fixtures/replay/
#   interrupts  the /proc/interrupts samples of Fixtures/interrupts/
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixtures="$here/../IOMMUCoreTests/Fixtures"
work=${1:?usage: seed.sh WORKDIR}
for t in kmsg classifier replay interrupts; do mkdir -p "$work/corpus-$t"; done

# Store stdin as a corpus input named by its content hash (libFuzzer's own naming).
put() {
  local dir=$1 tmp
  tmp=$(mktemp "$dir/.seed.XXXXXX")
  cat > "$tmp"
  if [ -s "$tmp" ]; then mv -f "$tmp" "$dir/$(sha1sum < "$tmp" | cut -c1-40)"; else rm -f "$tmp"; fi
}

n=0
for f in "$fixtures"/{intel,amd,arm-smmu-v3,arm-smmu,common,real}/*.txt; do
  # Records only: no comments, expectations or directives; dictionary lines stay with their record.
  stream=$(grep -v -e '^#' -e '^=> ' -e '^@' -e '^$' "$f" || true)
  [ -n "$stream" ] || continue
  printf '%s\n' "$stream" | put "$work/corpus-classifier"
  printf '%s\n' "$stream" | put "$work/corpus-replay"
  # The same records as dmesg and journalctl would print them (unescaped enough for the decoders).
  printf '%s\n' "$stream" | awk -F';' '!/^ / { split($1, h, ","); t = $0; sub(/^[^;]*;/, "", t)
      printf "[%5d.%06d] %s\n", h[3] / 1000000, h[3] % 1000000, t }' | sed 's/\\x09/\t/g; s/\\x0a/\n               /g' |
    head -c 4096 | put "$work/corpus-replay" || true  # (head may cut the pipe short)
  printf '%s\n' "$stream" | awk '!/^ / { t = $0; sub(/^[^;]*;/, "", t); print "Nov 26 05:53:01 host kernel: " t }' |
    sed 's/\\x09/\t/g' | head -c 4096 | put "$work/corpus-replay" || true
  # One record per kmsg seed, runs of 8 records per classifier seed.
  tmp=$(mktemp -d)
  printf '%s\n' "$stream" | awk -v dir="$tmp" '
    /^ / { print >> (dir "/r" r); print >> (dir "/g" int((r - 1) / 8)); next }
    { r++; print > (dir "/r" r); print >> (dir "/g" int((r - 1) / 8)) }'
  for x in "$tmp"/r*; do put "$work/corpus-kmsg" < "$x"; n=$((n + 1)); done
  for x in "$tmp"/g*; do put "$work/corpus-classifier" < "$x"; done
  rm -rf "$tmp"
done
for f in "$fixtures"/replay/*.log; do put "$work/corpus-replay" < "$f"; done
for f in "$fixtures"/interrupts/*.txt; do put "$work/corpus-interrupts" < "$f"; done
for t in kmsg classifier replay interrupts; do
  echo "seed: corpus-$t $(find "$work/corpus-$t" -type f | wc -l) inputs"
done
