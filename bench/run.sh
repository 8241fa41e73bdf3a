#!/usr/bin/env bash
# make bench — builds release, generates the data, measures every figure beside its baseline
# in the same run and writes BENCHMARKS.md at the repo top. Everything it makes goes to the
# git-ignored bench/work/. Needs root (/dev/kmsg, kernel.printk_devkmsg for the storm step).
# Environment: BENCH_ARGS passes options to bench.py (e.g. --rounds 5, --only replay,fleet). A
# partial run merges into bench/work/results.json of the last full run; without one, `--only
# replay` replaces just the replay figure in BENCHMARKS.md (the others stay as they were).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/bench/work
mkdir -p "$WORK"
SECONDS=0

# The storm step sets kernel.printk_devkmsg=on; whatever happens, the value found here is put back.
KNOB=/proc/sys/kernel/printk_devkmsg
ORIG=$(cat "$KNOB")
trap 'echo "$ORIG" > "$KNOB" 2>/dev/null || true' EXIT

# Bench-only packages (not needed by make test).
want=(prometheus-node-exporter wrk gcc grep)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-cache policy "${missing[@]}" | grep -q 'Candidate: [0-9]' || apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  # The package starts its service where systemd runs; the bench starts its own instances.
  systemctl stop prometheus-node-exporter 2>/dev/null || true
fi

# Both builds of iommud: relinked with its link order file (make release-ordered, what make deb
# ships), kept aside; then the plain release build (make release, what the tests run).
echo "bench: building iommud with its link order file (make release-ordered)"
make --no-print-directory release-ordered
cp .build/release/iommud "$WORK/iommud-ordered"
echo "bench: building iommud (make release: static stdlib, the layout of scripts/layout)"
rm -f .build/release/iommud
make --no-print-directory release
BIN=$ROOT/.build/release/iommud

# The bare NIO server (bench/nio-bare, a target of the package: the daemon's swift-nio, compiled
# once for both), built the same way as iommud: the same flags, and a link order file of its own,
# made by the same tracer from what it runs while serving scrapes (scripts/layout/gen-order.py).
echo "bench: linking bench/nio-bare with its own order file"
read -r -a FLAGS <<< "$(make -s print-layout-flags)"
NIO_BARE=$ROOT/.build/release/nio-bare
swift build "${FLAGS[@]}" --product nio-bare -Xlinker -Map="$WORK/nio-bare.map" -Xlinker --no-demangle
scripts/layout/gen-order.py nio-bare "$NIO_BARE" "$WORK/nio-bare.map" "$WORK/nio-bare.order"
rm -f "$NIO_BARE"
swift build "${FLAGS[@]}" --product nio-bare -Xlinker --symbol-ordering-file="$WORK/nio-bare.order"
export BENCH_NIO_VERSION=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(next(p["state"]["version"] for p in d["pins"] if p["identity"]=="swift-nio"))' Package.resolved 2>/dev/null || echo "?")

gcc -O2 -Wall -o "$WORK/kmsg_storm" bench/kmsg_storm.c

# The container image (mk/image.mk; buildah comes with `make test`'s dependencies): its size is a
# figure. The archive's image name is never loaded anywhere.
echo "bench: building the container image (make image)"
make --no-print-directory image IMAGE_ARCHIVE="$WORK/image.tar" IMAGE_NAME=localhost/iommud-bench:latest >/dev/null
export BENCH_IMAGE_ARCHIVE=$WORK/image.tar

# Data, regenerated when the generator changes.
stamp=$(sha256sum bench/gen_kmsg.py | cut -c1-16)
if [ "$(cat "$WORK/data.stamp" 2>/dev/null)" != "$stamp" ]; then
  echo "bench: generating data"
  python3 bench/gen_kmsg.py mixed 1000000 "$WORK/mixed.kmsg" &
  python3 bench/gen_kmsg.py faults 1000000 1000 "$WORK/faults-1000.kmsg" &
  python3 bench/gen_kmsg.py faults 8192 4096 "$WORK/faults-4096.kmsg"
  wait
  python3 bench/gen_kmsg.py syslog "$WORK/mixed.kmsg" "$WORK/mixed.kern.log"
  echo "$stamp" > "$WORK/data.stamp"
fi
echo "bench: setup took ${SECONDS}s"
export BENCH_SETUP_S=$SECONDS

# shellcheck disable=SC2086
python3 bench/bench.py --bin "$BIN" --ordered-bin "$WORK/iommud-ordered" --nio-bare "$NIO_BARE" --storm-writer "$WORK/kmsg_storm" \
  --work "$WORK" --out "$ROOT/BENCHMARKS.md" --results "$WORK/results.json" ${BENCH_ARGS:-}
echo "bench: done in ${SECONDS}s — BENCHMARKS.md"
