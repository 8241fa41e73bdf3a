#!/usr/bin/env bash
# run.sh SECONDS — builds the libFuzzer targets straight from Sources/IOMMUCore (not through
# SwiftPM: swiftc -sanitize=fuzzer,address -parse-as-library, all core sources + one harness),
# seeds their corpora from the test fixtures, runs every target for SECONDS (two at a time, one
# per core), prints executions, speed and coverage per target, and fails on any crash.
# (IOMMUCore is built once into an instrumented static library the harnesses link.)
#
#   kmsg        Fuzzkmsg: /dev/kmsg framing, record parsing, unescaping, sequence tracking
#   classifier  FuzzClassifier: records through Classifier.wants + classify + flush + finish
#   replay      FuzzReplay: ReplayEngine over arbitrary bytes in every input format
#   interrupts  FuzzInterrupts: /proc/interrupts parsing and the interrupt ledger
#
# Binaries go to Tests/fuzz/bin/ (git-ignored, rebuilt when a source is newer), corpora to
# Tests/fuzz/corpus-<target>/ (git-ignored, kept between runs), crash inputs and logs to
# Tests/fuzz/bin/. A crash input belongs in the fixtures once fixed. Environment: SWIFTC
# (default swiftc), FUZZ_TARGETS (default all four), FUZZ_JOBS (parallel targets, default 2).
set -uo pipefail
seconds=${1:?usage: run.sh SECONDS}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$here/bin"
swiftc=${SWIFTC:-swiftc}
targets=(${FUZZ_TARGETS:-kmsg classifier replay interrupts})
jobs=${FUZZ_JOBS:-2}
mkdir -p "$bin"

harness() {
  case $1 in
    kmsg) echo FuzzKmsg.swift ;;
    classifier) echo FuzzClassifier.swift ;;
    replay) echo FuzzReplay.swift ;;
    interrupts) echo FuzzInterrupts.swift ;;
    *) echo "run.sh: unknown target $1" >&2; return 1 ;;
  esac
}

maxlen() {
  # Inputs of a few records reach every branch; long ones only slow the instrumented loops.
  case $1 in kmsg | interrupts) echo 8192 ;; *) echo 4096 ;; esac
}

mapfile -t sources < <(find "$root/Sources/IOMMUCore" -name '*.swift' | sort)

# IOMMUCore is compiled once, instrumented, into a static library (not through SwiftPM, which
# would instrument all of NIO); each harness is then a small file linked against it. Building
# the core into every target separately took four times as long.
lib="$bin/lib"
build_core() {
  mkdir -p "$lib"
  if [ -f "$lib/libIOMMUCore.a" ] && [ -z "$(find "${sources[@]}" -newer "$lib/libIOMMUCore.a" 2>/dev/null | head -1)" ]; then
    echo "build: IOMMUCore (instrumented) is up to date"
    return 0
  fi
  echo "build: IOMMUCore (instrumented)"
  if ! "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -enable-testing -num-threads 2 \
    -module-name IOMMUCore -emit-module -emit-module-path "$lib/IOMMUCore.swiftmodule" \
    -emit-library -static -o "$lib/libIOMMUCore.a.tmp" "${sources[@]}" > "$bin/core.build.log" 2>&1; then
    cat "$bin/core.build.log" >&2
    echo "build: IOMMUCore FAILED" >&2
    return 1
  fi
  mv -f "$lib/libIOMMUCore.a.tmp" "$lib/libIOMMUCore.a"
}

build() {
  local t=$1 h out
  h="$here/$(harness "$t")" || return 1
  out="$bin/$t"
  if [ -x "$out" ] && [ -z "$(find "$lib/libIOMMUCore.a" "$h" -newer "$out" 2>/dev/null | head -1)" ]; then
    echo "build: $t is up to date"
    return 0
  fi
  echo "build: $t"
  # lld: gold warns about every ASan helper symbol it cannot export.
  if ! "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -use-ld=lld -I "$lib" -L "$lib" -lIOMMUCore \
    -module-name "Fuzz_$t" "$h" -o "$out.tmp" > "$bin/$t.build.log" 2>&1; then
    rm -f "$out.tmp"
    cat "$bin/$t.build.log" >&2
    echo "build: $t FAILED" >&2
    return 1
  fi
  mv -f "$out.tmp" "$out"
}

# Run FUNCTION over the targets, at most $jobs at a time; fail if any failed.
parallel() {
  local fn=$1 failed=0 pids=() t
  shift
  for t in "$@"; do
    "$fn" "$t" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
      wait "${pids[0]}" || failed=1
      pids=("${pids[@]:1}")
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  return $failed
}

fuzz() {
  local t=$1 log="$bin/$t.log" rc
  rm -f "$bin/$t"-crash-* "$bin/$t"-leak-* "$bin/$t"-timeout-* "$bin/$t"-oom-*
  "$bin/$t" -max_total_time="$seconds" -print_final_stats=1 -dict="$here/iommu.dict" -max_len="$(maxlen "$t")" \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$bin/$t-" "$here/corpus-$t" > "$log" 2>&1
  rc=$?
  echo "$rc" > "$bin/$t.rc"
  return 0
}

report() {
  local t=$1 log="$bin/$t.log" rc execs speed cov ft corpus crash
  rc=$(cat "$bin/$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$here/corpus-$t" -type f | wc -l)
  crash=$(ls "$bin/$t"-crash-* "$bin/$t"-leak-* "$bin/$t"-timeout-* "$bin/$t"-oom-* 2>/dev/null | head -1)
  printf '%-11s %12s execs %8s/s  cov %6s  ft %7s  corpus %6s  %s\n' "$t" "${execs:-?}" "${speed:-?}" \
    "${cov:-?}" "${ft:-?}" "$corpus" "$([ "$rc" = 0 ] && [ -z "$crash" ] && echo ok || echo "CRASH ${crash:-exit $rc} (log $log)")"
  [ "$rc" = 0 ] && [ -z "$crash" ]
}

for t in "${targets[@]}"; do harness "$t" > /dev/null || exit 2; done
build_core || exit 1
parallel build "${targets[@]}" || exit 1
"$here/seed.sh" "$here" > /dev/null
echo "fuzz: ${targets[*]} for ${seconds}s each, $jobs at a time"
parallel fuzz "${targets[@]}"
status=0
for t in "${targets[@]}"; do report "$t" || status=1; done
if [ $status -ne 0 ]; then
  echo "fuzz: a target crashed: reproduce with Tests/fuzz/bin/<target> <crash file>; make the input a fixture" >&2
fi
exit $status
