#!/usr/bin/env bash
# run.sh SECONDS — builds the libFuzzer targets straight from the sources (not through SwiftPM:
# swiftc -sanitize=fuzzer,address -parse-as-library, the sources + one harness), replays the
# regression inputs, runs every target for SECONDS (two at a time, one per core) from its
# committed corpus with a fixed seed, prints executions, speed and coverage per target, and
# fails on any crash.
#
#   kmsg        FuzzKmsg: /dev/kmsg framing, record parsing, unescaping, sequence tracking
#   classifier  FuzzClassifier: records through Classifier.wants + classify + flush + finish
#   replay      FuzzReplay: ReplayEngine over arbitrary bytes in every input format
#   interrupts  FuzzInterrupts: /proc/interrupts parsing and the interrupt ledger
#   toml        FuzzTOML: TOMLSubset, the config loader's validation and what the daemon derives
#   yaml        FuzzYAML: YAMLSubset and the web config loader (WebConfigParser)
#   duration    FuzzDuration: DurationSyntax, read and printed
#   timespec    FuzzTimeSpec: `iommud log --since/--until` (TimeSpec)
#   listen      FuzzListen: `[http] listen` addresses (ListenAddress)
#   checkpoint  FuzzCheckpoint: the checkpoint file read back at start (CheckpointCodec)
#   journal     FuzzJournal: journal fields read back, journalctl JSON lines (JournalEntries, MiniJSON)
#   auth        FuzzAuth: the Authorization header (BasicCredentials: scheme, base64, user:password)
#   pciids      FuzzPCIIDs: the pci.ids database (PCIIDs)
#   decompress  FuzzDecompress: replay's gzip and zstd reader (IOMMUDaemon/Replay/Decompressor.swift,
#               compiled into the target, linked with the system's zlib and libzstd)
#   firmware    FuzzFirmware: ACPI IORT / VIOT and DT iommu-map, the StreamID maps (FirmwareTables)
#
# Reproducible: every target starts from Tests/fuzz/corpus/<target>/ (committed) with
# -seed=$FUZZ_SEED (default 1) and Swift's hashing made deterministic, and what it finds goes
# to Tests/fuzz/bin/new-<target>/, emptied first — so a fresh clone fuzzes the same inputs in
# the same order every time. With FUZZ_RUNS (as `make test` runs it) each target stops after a
# fixed number of inputs, so the result is the same on every machine; without it, after SECONDS,
# and how far it gets depends on the machine's speed. Before fuzzing, each input under
# Tests/fuzz/regressions/<target>/ is run once: a crash found once stays found.
#
# Libraries: IOMMUCore, ConfigSyntax and the config layer of IOMMUDaemon (Config/ and the
# web config's schema and loader, as module IOMMUConfig: the rest of IOMMUDaemon needs NIO)
# are each compiled once, instrumented, into a static library the harnesses link.
#
#   run.sh --reseed   re-extracts the seeds (seed.sh) and merges into corpus/<target>/ those
#                     that add coverage; with FUZZ_MERGE=1 a normal run also merges what it
#                     found. Commit the corpora afterwards.
#
# Binaries, logs and crash inputs go to Tests/fuzz/bin/ (git-ignored). A crash input belongs
# in regressions/<target>/ (and, fixed, in the fixtures or a test). Environment: SWIFTC
# (default swiftc), FUZZ_TARGETS (default all), FUZZ_JOBS (parallel targets, default 2),
# FUZZ_SEED (default 1), FUZZ_MERGE, FUZZ_RUNS (`table`: each target's count in runs(); N: N each;
# with either, SECONDS × 10 is only a cap).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$here/bin"
swiftc=${SWIFTC:-swiftc}
all="kmsg classifier replay interrupts toml yaml duration timespec listen checkpoint journal auth pciids decompress firmware control"
targets=(${FUZZ_TARGETS:-$all})
jobs=${FUZZ_JOBS:-2}
seed=${FUZZ_SEED:-1}
reseed=0
if [ "${1:-}" = "--reseed" ]; then
  reseed=1
  seconds=0
else
  seconds=${1:?usage: run.sh SECONDS | run.sh --reseed}
fi
mkdir -p "$bin"

harness() {
  case $1 in
    kmsg) echo FuzzKmsg.swift ;;
    classifier) echo FuzzClassifier.swift ;;
    replay) echo FuzzReplay.swift ;;
    interrupts) echo FuzzInterrupts.swift ;;
    toml) echo FuzzTOML.swift ;;
    yaml) echo FuzzYAML.swift ;;
    duration) echo FuzzDuration.swift ;;
    timespec) echo FuzzTimeSpec.swift ;;
    listen) echo FuzzListen.swift ;;
    checkpoint) echo FuzzCheckpoint.swift ;;
    journal) echo FuzzJournal.swift ;;
    auth) echo FuzzAuth.swift ;;
    pciids) echo FuzzPCIIDs.swift ;;
    decompress) echo FuzzDecompress.swift ;;
    firmware) echo FuzzFirmware.swift ;;
    control) echo FuzzControlReply.swift ;;
    *) echo "run.sh: unknown target $1" >&2; return 1 ;;
  esac
}

# runs TARGET — how many inputs `make test` runs a target for (FUZZ_RUNS=table): about 15 s of
# each on this project's CI machines. A count, not a time, so a fresh clone runs the same
# inputs in the same order and gets the same result on any machine, however fast.
runs() {
  case $1 in
    kmsg) echo 800000 ;; classifier) echo 10000 ;; replay) echo 3000 ;; interrupts) echo 300000 ;;
    toml) echo 150000 ;; yaml) echo 100000 ;; duration) echo 2000000 ;; timespec) echo 160000 ;;
    listen) echo 1000000 ;; checkpoint) echo 24000 ;; journal) echo 65000 ;; auth) echo 500000 ;;
    pciids) echo 300000 ;; decompress) echo 500000 ;; firmware) echo 1700000 ;; control) echo 600000 ;;
  esac
}

maxlen() {
  # Inputs of a few records (or a config file) reach every branch; long ones only slow the
  # instrumented loops.
  case $1 in kmsg | interrupts | toml | yaml | checkpoint | pciids | decompress) echo 8192 ;; duration | timespec | listen | auth) echo 256 ;; *) echo 4096 ;; esac
}

# Sources a target compiles in beside its harness (code outside the instrumented libraries), and
# the module maps they import.
extra() {
  case $1 in
    decompress) echo "$root/Sources/IOMMUDaemon/Replay/Decompressor.swift -I $root/Sources/CZlib -I $root/Sources/CZstd" ;;
    control) echo "$root/Sources/iommud/ControlReply.swift" ;;
  esac
}

dict() {
  case $1 in toml | yaml | duration | timespec | listen | auth) echo "$here/config.dict" ;; *) echo "$here/iommu.dict" ;; esac
}

mapfile -t core_sources < <(find "$root/Sources/IOMMUCore" -name '*.swift' | sort)
mapfile -t syntax_sources < <(find "$root/Sources/ConfigSyntax" -name '*.swift' | sort)
# The config layer: everything in Config/ but the swift-log bridge and the file reading, and the
# web config's schema and loader. None of it needs more than ConfigSyntax.
config_sources=(
  "$root"/Sources/IOMMUDaemon/Config/{ConfigLoader,Configuration,Duration+Parsing,ExpectedRulesConfig,ListenAddress}.swift
  "$root"/Sources/IOMMUDaemon/Web/{WebConfig,WebConfigParser,BasicCredentials}.swift
)

lib="$bin/lib"
# build_lib MODULE SOURCES… — one instrumented static library (rebuilt when a source is newer).
build_lib() {
  local name=$1 out="$lib/lib$1.a"
  shift
  mkdir -p "$lib"
  if [ -f "$out" ] && [ -z "$(find "$@" -newer "$out" 2>/dev/null | head -1)" ]; then
    echo "build: $name (instrumented) is up to date"
    return 0
  fi
  echo "build: $name (instrumented)"
  if ! "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -enable-testing -num-threads 2 -I "$lib" \
    -module-name "$name" -emit-module -emit-module-path "$lib/$name.swiftmodule" \
    -emit-library -static -o "$out.tmp" "$@" > "$bin/$name.build.log" 2>&1; then
    cat "$bin/$name.build.log" >&2
    echo "build: $name FAILED" >&2
    return 1
  fi
  mv -f "$out.tmp" "$out"
}

build() {
  local t=$1 h out
  h="$here/$(harness "$t")" || return 1
  out="$bin/$t"
  # shellcheck disable=SC2046
  if [ -x "$out" ] && [ -z "$(find "$lib"/*.a "$h" $(extra "$t" | tr ' ' '\n' | grep '\.swift$') -newer "$out" 2>/dev/null | head -1)" ]; then
    echo "build: $t is up to date"
    return 0
  fi
  echo "build: $t"
  # lld: gold warns about every ASan helper symbol it cannot export.
  # shellcheck disable=SC2046
  if ! "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -g -use-ld=lld -I "$lib" -L "$lib" \
    -lIOMMUConfig -lConfigSyntax -lIOMMUCore -module-name "Fuzz_$t" "$h" $(extra "$t") -o "$out.tmp" > "$bin/$t.build.log" 2>&1; then
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

# The regression inputs of a target, each run once; a crash is reported with its log.
replay() {
  local t=$1 f n=0 failed=0
  for f in "$here/regressions/$t"/*; do
    [ -f "$f" ] || continue
    n=$((n + 1))
    if ! SWIFT_DETERMINISTIC_HASHING=1 "$bin/$t" -runs=1 "$f" > "$bin/$t.replay.log" 2>&1; then
      echo "replay: $t $(basename "$f"): CRASH — reproduce: Tests/fuzz/bin/$t ${f#"$root"/}" >&2
      # The Swift failure and the first frame in the project's sources say what and where.
      { grep -m1 -E 'Program crashed|runtime failure|Fatal error|ERROR: AddressSanitizer' "$bin/$t.replay.log"
        grep -m1 -E " at $root/Sources/" "$bin/$t.replay.log"; } | sed 's/^ */replay:   /' >&2
      failed=1
    fi
  done
  [ $n -eq 0 ] || [ $failed -ne 0 ] || echo "replay: $t $n input(s) ok"
  return $failed
}

fuzz() {
  local t=$1 log="$bin/$t.log" rc
  rm -f "$bin/$t"-crash-* "$bin/$t"-leak-* "$bin/$t"-timeout-* "$bin/$t"-oom-*
  rm -rf "$bin/new-$t"
  mkdir -p "$bin/new-$t" "$here/corpus/$t"
  # Swift seeds its hashing per process unless told not to: Dictionary and Set order, and so the
  # paths taken and the coverage seen, would differ from run to run. (timespec: a fixed zone
  # with summer time, so mktime's answers are the same on every machine.)
  # FUZZ_RUNS: a fixed number of inputs (reproducible), with a time cap of 10 × SECONDS only so
  # that a much slower machine still ends.
  local limit=(-max_total_time="$seconds")
  case ${FUZZ_RUNS:-} in
    "") ;;
    table) limit=(-runs="$(runs "$t")" -max_total_time=$((seconds * 10))) ;;
    *) limit=(-runs="$FUZZ_RUNS" -max_total_time=$((seconds * 10))) ;;
  esac
  # Two more things would make the same seed take other paths: address-space randomization (the
  # comparison tables that steer mutations are keyed by code address) and -reload, which rereads
  # the output corpus on a timer.
  # And the order the corpus is read in: libFuzzer sorts it by size alone, starting from the order
  # the directory lists it, which on ext4 depends on a per-filesystem hash seed. A copy made in
  # name order on tmpfs lists the same on every machine.
  local seeds
  seeds=$(mktemp -d /dev/shm/iommud-fuzz-"$t".XXXXXX 2> /dev/null || mktemp -d "$bin/seeds-$t.XXXXXX")
  find "$here/corpus/$t" -maxdepth 1 -type f -printf '%f\n' | LC_ALL=C sort | while read -r f; do
    cp "$here/corpus/$t/$f" "$seeds/"
  done
  local fixed=()
  setarch "$(uname -m)" -R true 2> /dev/null && fixed=(setarch "$(uname -m)" -R)
  SWIFT_DETERMINISTIC_HASHING=1 TZ="CET-1CEST,M3.5.0,M10.5.0/3" "${fixed[@]}" "$bin/$t" -seed="$seed" "${limit[@]}" -reload=0 -print_final_stats=1 \
    -dict="$(dict "$t")" -max_len="$(maxlen "$t")" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$bin/$t-" \
    "$bin/new-$t" "$seeds" > "$log" 2>&1
  rc=$?
  rm -rf "$seeds"
  echo "$rc" > "$bin/$t.rc"
  return 0
}

# Adds to corpus/<target>/ the inputs of DIR that cover something it does not.
merge() {
  local t=$1 from=$2
  [ -d "$from" ] || return 0
  mkdir -p "$here/corpus/$t"
  "$bin/$t" -merge=1 -max_len="$(maxlen "$t")" "$here/corpus/$t" "$from" > "$bin/$t.merge.log" 2>&1 ||
    { echo "merge: $t FAILED (log $bin/$t.merge.log)" >&2; return 1; }
  echo "merge: corpus/$t $(find "$here/corpus/$t" -type f | wc -l) inputs"
}

report() {
  local t=$1 log="$bin/$t.log" rc execs speed cov ft corpus crash
  rc=$(cat "$bin/$t.rc" 2>/dev/null || echo 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(($(find "$here/corpus/$t" -type f | wc -l) + $(find "$bin/new-$t" -type f | wc -l)))
  crash=$(ls "$bin/$t"-crash-* "$bin/$t"-leak-* "$bin/$t"-timeout-* "$bin/$t"-oom-* 2>/dev/null | head -1)
  printf '%-11s %12s execs %8s/s  cov %6s  ft %7s  corpus %6s  %s\n' "$t" "${execs:-?}" "${speed:-?}" \
    "${cov:-?}" "${ft:-?}" "$corpus" "$([ "$rc" = 0 ] && [ -z "$crash" ] && echo ok || echo "CRASH ${crash:-exit $rc} (log $log)")"
  local want=${FUZZ_RUNS:-}
  [ "$want" = table ] && want=$(runs "$t")
  if [ -n "$want" ] && [ "$rc" = 0 ] && [ "${execs:-0}" -lt "$want" ]; then
    echo "$t: stopped by the time cap after ${execs:-?} of $want inputs: this run is not the reproducible one" >&2
  fi
  [ "$rc" = 0 ] && [ -z "$crash" ]
}

for t in "${targets[@]}"; do harness "$t" > /dev/null || exit 2; done
build_lib IOMMUCore "${core_sources[@]}" || exit 1
build_lib ConfigSyntax "${syntax_sources[@]}" || exit 1
build_lib IOMMUConfig "${config_sources[@]}" || exit 1
parallel build "${targets[@]}" || exit 1

if [ $reseed -eq 1 ]; then
  rm -rf "$bin/seeds"
  "$here/seed.sh" "$bin/seeds"
  status=0
  for t in "${targets[@]}"; do merge "$t" "$bin/seeds/$t" || status=1; done
  exit $status
fi

status=0
for t in "${targets[@]}"; do replay "$t" || status=1; done
if [ -n "${FUZZ_RUNS:-}" ]; then
  echo "fuzz: ${targets[*]} for $([ "$FUZZ_RUNS" = table ] && echo "a fixed number of inputs (runs() in run.sh)" || echo "$FUZZ_RUNS inputs") each, $jobs at a time, seed $seed"
else
  echo "fuzz: ${targets[*]} for ${seconds}s each, $jobs at a time, seed $seed"
fi
parallel fuzz "${targets[@]}"
for t in "${targets[@]}"; do report "$t" || status=1; done
if [ -n "${FUZZ_MERGE:-}" ]; then
  for t in "${targets[@]}"; do merge "$t" "$bin/new-$t" || status=1; done
fi
if [ $status -ne 0 ]; then
  echo "fuzz: FAILED — a regression input still crashes (replay: above), or a target crashed: reproduce with" \
    "Tests/fuzz/bin/<target> <crash file>, commit the input under Tests/fuzz/regressions/<target>/ and fix it" >&2
fi
exit $status
