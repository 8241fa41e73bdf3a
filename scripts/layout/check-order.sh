#!/usr/bin/env bash
# check-order.sh BIN ORDER — how much of the link order file still names functions of BIN.
# Symbol names change as the code does; functions missing from the file land in the cold part of
# the binary and cost idle memory. Below 70 % the file is stale: regenerate it with `make order`.
set -euo pipefail
bin=$1 order=$2
total=$(grep -c . "$order")
found=$(readelf -sW "$bin" | awk '$4 == "FUNC" {print $8}' | sort -u | comm -12 - <(sort -u "$order") | wc -l)
pct=$((found * 100 / total))
echo "layout: $found of $total functions of $order are in $bin ($pct %)"
if [ "$pct" -lt 70 ]; then
  echo "layout: the order file is stale — run \`make order\` and commit $order" >&2
  exit 1
fi
