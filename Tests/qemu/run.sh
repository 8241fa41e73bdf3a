#!/bin/bash
# Real kernel, real faults: boot Debian's own kernel under QEMU (TCG) with an emulated
# Intel VT-d, a virtio-iommu (Debian's backports kernel: its own has no CONFIG_VIRTIO_IOMMU)
# and, host-side, an ARM SMMUv3, make QEMU's `edu` PCI device DMA to unmapped IOVAs, run iommud
# inside the guest and check that it counts exactly those faults.
#
#   Tests/qemu/run.sh IOMMUD_BINARY [scenario ...]     (root, Debian 12 x86_64)
#
# Scenarios (all by default): default ratelimit scalable passthrough overrun restart virtio smmuv3, and
# storm-flush storm-noflush storm-200 storm-mixed storm-restart (the Intel fault estimate through
# dmar_fault()'s ratelimit against the DMAs the guest made).
# Work dir ${IOMMUD_QEMU_WORK:-/var/tmp/iommud-qemu}: downloads are cached there by package
# version; this run's results are in $WORK/out/<scenario>/.  See Tests/qemu/README.md.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STORM_SCENARIOS="storm-flush storm-noflush storm-200 storm-mixed storm-restart"
ALL_SCENARIOS="default ratelimit scalable passthrough overrun restart virtio smmuv3 $STORM_SCENARIOS"
WORK=${IOMMUD_QEMU_WORK:-/var/tmp/iommud-qemu}
BOOT_TIMEOUT=${IOMMUD_QEMU_TIMEOUT:-300}        # seconds per boot (TCG, 2 cores, maybe busy)
EXTRA_APPEND=${IOMMUD_QEMU_APPEND:-}             # extra guest kernel arguments (debugging)

T0=$EPOCHREALTIME
since() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
say() { echo "[qemu-test $(since "$T0")s] $*"; }
die() { echo "run.sh: FAIL: $*" >&2; exit 1; }
RUN_ID="$$.$EPOCHREALTIME"

[ $# -ge 1 ] || { sed -n '2,12p' "$0"; exit 2; }
[ "$(id -u)" = 0 ] || die "run as root (installs packages, reads /dev/mem in the guest only)"
BIN=$(readlink -f "$1"); shift
[ -f "$BIN" ] && [ -x "$BIN" ] || die "IOMMUD_BINARY '$BIN' is not an executable file"
SCENARIOS=${*:-$ALL_SCENARIOS}
for s in $SCENARIOS; do
  case " $ALL_SCENARIOS $STORM_SCENARIOS " in *" $s "*) ;;
    *) die "unknown scenario '$s' (known: $ALL_SCENARIOS $STORM_SCENARIOS)" ;; esac
done
mkdir -p "$WORK/cache/deb" "$WORK/cache/x" "$WORK/out"
export DEBIAN_FRONTEND=noninteractive

QPID=
cleanup() { [ -n "$QPID" ] && kill "$QPID" 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT TERM


# ------------------------------------------------------------------ packages
# `apt-get update` at most once per run: a stamp in the work dir names the run that did it
# (also seen from the subshells of $(...)).
updated_this_run() { [ "$(cat "$WORK/$1" 2>/dev/null)" = "$RUN_ID" ]; }
apt_update_once() { # returns 1 when it was already done in this run
  updated_this_run apt-updated.stamp && return 1
  say "apt-get update" >&2
  apt-get update -q >"$WORK/apt-update.log" 2>&1 || { cat "$WORK/apt-update.log" >&2; die "apt-get update failed"; }
  echo "$RUN_ID" > "$WORK/apt-updated.stamp"
}
candidate() { # PKG [apt options...]: candidate version or empty
  local p=$1; shift
  apt-cache "$@" policy "$p" 2>/dev/null | awk '/Candidate:/ { if ($2 != "(none)") print $2 }'
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

install_tools() {
  local missing=() p
  for p in qemu-system-x86 busybox-static cpio python3; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} = 0 ] && return 0
  for p in "${missing[@]}"; do [ -n "$(candidate "$p")" ] || { apt_update_once || true; break; }; done
  say "apt-get install ${missing[*]}"
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$WORK/apt-install.log" 2>&1; then
    apt_update_once || { cat "$WORK/apt-install.log" >&2; die "apt-get install ${missing[*]} failed"; }
    apt-get install -y -q --no-install-recommends "${missing[@]}" >"$WORK/apt-install.log" 2>&1 \
      || { cat "$WORK/apt-install.log" >&2; die "apt-get install ${missing[*]} failed"; }
  fi
}

# fetch PKG VERSION ARCH KEEP [apt options...]: apt-get download + dpkg -x into the cache
# (never installed). KEEP: what to keep from the unpacked tree (the rest is deleted), either
# "all": a find(1) -regex (posix-extended) of the paths to keep. Prints the unpacked directory.
fetch() {
  local pkg=$1 ver=$2 arch=$3 keep=$4; shift 4
  local key="${pkg}_${ver//:/%3a}_${arch}" dest="$WORK/cache/x/${pkg}_${ver//:/%3a}_${arch}"
  if [ -f "$dest/.complete" ]; then echo "$dest"; return 0; fi
  local deb="$WORK/cache/deb/$key.deb" tmp="$WORK/cache/dl.$$"
  if [ ! -s "$deb" ]; then
    rm -rf "$tmp"; mkdir -p "$tmp"; chown _apt "$tmp" 2>/dev/null || true
    say "apt-get download $pkg=$ver ($arch)" >&2
    if ! (cd "$tmp" && apt-get "$@" download -q "$pkg=$ver" >"$WORK/download.log" 2>&1); then
      rm -rf "$tmp"; cat "$WORK/download.log" >&2
      echo "download of $pkg=$ver failed" >&2
      return 1
    fi
    mv "$tmp"/*.deb "$deb"; rm -rf "$tmp"
  fi
  rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
  dpkg -x "$deb" "$dest.tmp" || die "dpkg -x $deb failed"
  if [ "$keep" != all ]; then   # kernels: keep vmlinuz, config and what the guest needs
    (cd "$dest.tmp" && find . ! -type d -regextype posix-extended ! -regex "$keep" -delete &&
      find . -depth -type d -empty -delete) || true
    rm -f "$deb"                  # the trimmed tree is the cache
  fi
  touch "$dest.tmp/.complete"; rm -rf "$dest"; mv "$dest.tmp" "$dest"
  echo "$dest"
}
# Resolution and download go together: stale lists (a version the mirror no longer has, or
# none at all) get one `apt-get update` (host lists or the private arm64 ones, each at most
# once per run), then everything is resolved again; a second failure ends the run with the
# message apt printed.
KERNEL_KEEP='\./boot/.*|.*/pci-stub\.ko'
depends_kernel() { # META-PACKAGE [apt options...]: the linux-image-<abi>-<flavour> it depends on
  local m=$1; shift
  apt-cache "$@" depends "$m" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }'
}
kernel_x86() {
  local kpkg kver try
  for try in 1 2; do
    kpkg=$(depends_kernel linux-image-amd64); kver=
    [ -n "$kpkg" ] && kver=$(candidate "$kpkg")
    if [ -n "$kver" ] && KX=$(fetch "$kpkg" "$kver" amd64 "$KERNEL_KEEP"); then break; fi
    [ $try = 1 ] && apt_update_once && continue
    die "could not resolve or download the kernel (linux-image-amd64 -> '${kpkg:-?}' '${kver:-?}'): see above"
  done
  VMLINUZ_X86=$(ls "$KX"/boot/vmlinuz-* | head -n 1)
  say "x86 kernel: $kpkg $kver"
}

# Private apt configuration for the release's backports (amd64): Debian 12's own kernels are
# built without CONFIG_VIRTIO_IOMMU; bookworm-backports' (6.12) have it (=m, ACPI_VIOT=y). The
# kernel is downloaded and unpacked like the arm64 one, never installed.
BPODIR=$WORK/apt-backports
BPO=(-o "APT::Architecture=amd64" -o "APT::Architectures::=amd64"
     -o "Dir::Etc::SourceList=$BPODIR/sources.list" -o "Dir::Etc::SourceParts=$BPODIR/sources.list.d"
     -o "Dir::State::Lists=$BPODIR/lists" -o "Dir::Cache=$BPODIR/cache" -o "Dir::State::Status=/dev/null")
bpo_update() { # private lists: at most once per run; returns 1 when already done
  updated_this_run apt-backports-updated.stamp && return 1
  mkdir -p "$BPODIR/sources.list.d" "$BPODIR/lists/partial" "$BPODIR/cache/archives/partial"
  : > "$BPODIR/sources.list"
  python3 "$HERE/arm64-sources.py" --arch amd64 --backports "$BPODIR/sources.list.d/host-derived.sources" \
    || die "no apt source for the release's backports"
  say "apt-get update (private backports configuration in $BPODIR)" >&2
  apt-get "${BPO[@]}" update -q >"$WORK/apt-update-backports.log" 2>&1 \
    || { cat "$WORK/apt-update-backports.log" >&2; die "apt-get update for backports failed"; }
  echo "$RUN_ID" > "$WORK/apt-backports-updated.stamp"
}
kernel_bpo() {
  local kpkg kver try keep='\./boot/.*|.*/pci-stub\.ko(\.xz)?|.*/virtio-iommu\.ko(\.xz)?'
  [ -n "$(ls "$BPODIR/lists/" 2>/dev/null | grep -v -e partial -e lock)" ] || bpo_update
  for try in 1 2; do
    kpkg=$(depends_kernel linux-image-amd64 "${BPO[@]}"); kver=
    [ -n "$kpkg" ] && kver=$(candidate "$kpkg" "${BPO[@]}")
    if [ -n "$kver" ] && KB=$(fetch "$kpkg" "$kver" amd64 "$keep" "${BPO[@]}"); then break; fi
    [ $try = 1 ] && bpo_update && continue
    die "could not resolve or download the backports kernel (linux-image-amd64 -> '${kpkg:-?}' '${kver:-?}'): see above"
  done
  VMLINUZ_BPO=$(ls "$KB"/boot/vmlinuz-* | head -n 1)
  VIOMMU_KO=$(find "$KB" -name 'virtio-iommu.ko*' | head -n 1)
  PCISTUB_BPO=$(find "$KB" -name 'pci-stub.ko*' | head -n 1)
  [ -n "$VIOMMU_KO" ] && [ -n "$PCISTUB_BPO" ] || die "$kpkg lacks virtio-iommu.ko or pci-stub.ko"
  say "backports kernel: $kpkg $kver"
}

# Private apt configuration for arm64 (never touches the host's dpkg state or lists).
A64DIR=$WORK/apt-arm64
A64=(-o "APT::Architecture=arm64" -o "APT::Architectures::=arm64"
     -o "Dir::Etc::SourceList=$A64DIR/sources.list" -o "Dir::Etc::SourceParts=$A64DIR/sources.list.d"
     -o "Dir::State::Lists=$A64DIR/lists" -o "Dir::Cache=$A64DIR/cache" -o "Dir::State::Status=/dev/null")
a64_update() { # private lists: at most once per run too; returns 1 when already done
  updated_this_run apt-arm64-updated.stamp && return 1
  mkdir -p "$A64DIR/sources.list.d" "$A64DIR/lists/partial" "$A64DIR/cache/archives/partial"
  : > "$A64DIR/sources.list"
  python3 "$HERE/arm64-sources.py" "$A64DIR/sources.list.d/host-derived.sources" || die "no apt sources for arm64"
  say "apt-get update (private arm64 configuration in $A64DIR)" >&2
  apt-get "${A64[@]}" update -q >"$WORK/apt-update-arm64.log" 2>&1 \
    || { cat "$WORK/apt-update-arm64.log" >&2; die "apt-get update for arm64 failed"; }
  echo "$RUN_ID" > "$WORK/apt-arm64-updated.stamp"
}
arm64_bits() {
  local kpkg kver bver qver try
  [ -n "$(ls "$A64DIR/lists/" 2>/dev/null | grep -v -e partial -e lock)" ] || a64_update
  for try in 1 2; do
    kpkg=$(depends_kernel linux-image-arm64 "${A64[@]}"); kver=; bver=$(candidate busybox-static "${A64[@]}")
    [ -n "$kpkg" ] && kver=$(candidate "$kpkg" "${A64[@]}")
    if [ -n "$kver" ] && [ -n "$bver" ] && KA=$(fetch "$kpkg" "$kver" arm64 "$KERNEL_KEEP" "${A64[@]}") &&
       BA=$(fetch busybox-static "$bver" arm64 all "${A64[@]}"); then break; fi
    [ $try = 1 ] && a64_update && continue
    die "could not resolve or download arm64 '${kpkg:-linux-image-arm64}' '${kver:-?}' / busybox-static '${bver:-?}': see above"
  done
  # qemu-system-arm (amd64, unpacked, not installed): the version of the installed
  # qemu-system-x86 when the lists have it, so that qemu-system-common/data match
  for try in 1 2; do
    qver=$(dpkg-query -W -f='${Version}' qemu-system-x86)
    apt-cache policy qemu-system-arm 2>/dev/null | grep -qF " $qver " || qver=$(candidate qemu-system-arm)
    if [ -n "$qver" ] && QA=$(fetch qemu-system-arm "$qver" amd64 all); then break; fi
    [ $try = 1 ] && apt_update_once && continue
    die "could not resolve or download qemu-system-arm '${qver:-?}': see above"
  done
  QEMU_A64=$QA/usr/bin/qemu-system-aarch64
  local nf; nf=$(ldd "$QEMU_A64" | grep 'not found' || true)
  [ -z "$nf" ] || die "unpacked qemu-system-aarch64 misses libraries: $nf"
  VMLINUZ_A64=$(ls "$KA"/boot/vmlinuz-* | head -n 1)
  PCISTUB_A64=$(ls "$KA"/lib/modules/*/kernel/drivers/pci/pci-stub.ko 2>/dev/null | head -n 1 || true)
  [ -n "$PCISTUB_A64" ] || die "$kpkg has no pci-stub.ko (needed to attach edu to the SMMU)"
  say "arm64: $kpkg $kver, busybox-static $bver, qemu-system-arm $qver"
}

# ------------------------------------------------------------------ initramfs
copy_with_libs() { # FILE DEST_IN_ROOT ROOT: the file plus everything ldd lists, paths kept
  local f=$1 dst=$2 root=$3 l
  mkdir -p "$root$(dirname "$dst")"; cp -L "$f" "$root$dst"; chmod 755 "$root$dst"
  if ldd "$f" >/dev/null 2>&1; then
    local missing; missing=$(ldd "$f" | grep 'not found' || true)
    [ -z "$missing" ] || die "$f needs libraries this host lacks: $missing"
    for l in $(ldd "$f" | grep -o '/[^ ]*'); do
      mkdir -p "$root$(dirname "$l")"; cp -L "$l" "$root$l"
    done
  fi
}
busybox_tree() { # BUSYBOX ROOT: busybox and its applet links (names from the host's busybox)
  local bb=$1 root=$2 a
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,var/lib,lib/modules}
  cp "$bb" "$root/bin/busybox"; chmod 755 "$root/bin/busybox"
  for a in $(/bin/busybox --list-full); do [ -e "$root/$a" ] || ln -s /bin/busybox "$root/$a"; done
  cp "$HERE/guest/init" "$root/init"; chmod 755 "$root/init"
}
mkcpio() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) | gzip -1 > "$2"; }

guest_daemon() { # ROOT: iommud and the few /etc files it and busybox look up
  local r=$1
  copy_with_libs "$BIN" /usr/bin/iommud "$r"
  printf 'root:x:0:0:root:/root:/bin/sh\n' > "$r/etc/passwd"
  printf 'root:x:0:\nadm:x:4:\n' > "$r/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files\n' > "$r/etc/nsswitch.conf"
  printf '127.0.0.1 localhost\n::1 localhost\n' > "$r/etc/hosts"
}
build_initrd_x86() {
  local r=$WORK/build/root-x86
  rm -rf "$r"; busybox_tree /bin/busybox "$r"
  ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is not the static one (install busybox-static)"
  guest_daemon "$r"
  INITRD_X86=$WORK/build/initrd-x86.gz
  mkcpio "$r" "$INITRD_X86"
}
ko() { # MODULE_FILE DEST: a module as the guest's insmod wants it (uncompressed)
  case $1 in *.xz) xz -dc "$1" > "$2" ;; *) cp "$1" "$2" ;; esac || die "cannot unpack $1"
}
build_initrd_virtio() { # the x86 guest with the backports kernel's two modules
  local r=$WORK/build/root-virtio
  rm -rf "$r"; busybox_tree /bin/busybox "$r"
  guest_daemon "$r"
  ko "$VIOMMU_KO" "$r/lib/modules/virtio-iommu.ko"
  ko "$PCISTUB_BPO" "$r/lib/modules/pci-stub.ko"
  INITRD_VIRTIO=$WORK/build/initrd-virtio.gz
  mkcpio "$r" "$INITRD_VIRTIO"
}
build_initrd_arm64() {
  local r=$WORK/build/root-arm64
  rm -rf "$r"; busybox_tree "$BA/bin/busybox" "$r"
  cp "$PCISTUB_A64" "$r/lib/modules/pci-stub.ko"
  INITRD_A64=$WORK/build/initrd-arm64.gz
  mkcpio "$r" "$INITRD_A64"
}

# ------------------------------------------------------------------ boots
boot() { # DIR QEMU ARGS... : run QEMU (TCG) with a timeout, in the background so traps work
  local d=$1; shift
  timeout --kill-after=10 "$BOOT_TIMEOUT" "$@" </dev/null >"$d/qemu.log" 2>&1 &
  QPID=$!
  local rc=0; wait "$QPID" || rc=$?
  QPID=
  echo "$rc" > "$d/qemu.rc"
  [ "$rc" = 124 ] && echo "QEMU did not finish within ${BOOT_TIMEOUT}s (killed)" >> "$d/qemu.log"
  return 0
}
boot_x86() { # SCENARIO DIR
  local s=$1 d=$2 iommu=intel-iommu kargs="intel_iommu=on iommu.strict=1"
  case $s in
    scalable) iommu=intel-iommu,x-scalable-mode=on; kargs="intel_iommu=on,sm_on iommu.strict=1" ;;
    passthrough) kargs="intel_iommu=on iommu=pt" ;;
  esac
  boot "$d" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 512 -M q35 \
    -device "$iommu" -device edu,dma_mask=0xffffffffffffffff \
    -kernel "$VMLINUZ_X86" -initrd "$INITRD_X86" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 $kargs iommud_test=$s $EXTRA_APPEND" \
    -nographic -no-reboot -nodefaults -serial "file:$d/console.txt" -serial "file:$d/results.txt" -monitor none
}
boot_virtio() { # DIR: q35 with virtio-iommu-pci (00:01.0) in front of edu (00:02.0)
  local d=$1
  boot "$d" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 512 -M q35 \
    -device virtio-iommu-pci -device edu,dma_mask=0xffffffffffffffff \
    -kernel "$VMLINUZ_BPO" -initrd "$INITRD_VIRTIO" \
    -append "console=ttyS0 quiet loglevel=4 panic=-1 iommu.strict=1 iommud_test=virtio $EXTRA_APPEND" \
    -nographic -no-reboot -nodefaults -serial "file:$d/console.txt" -serial "file:$d/results.txt" -monitor none
}
boot_arm64() { # DIR
  local d=$1
  boot "$d" "$QEMU_A64" -accel tcg,thread=multi -M virt,iommu=smmuv3 -cpu cortex-a57 \
    -smp 2 -m 512 -device edu,dma_mask=0xffffffffffffffff \
    -kernel "$VMLINUZ_A64" -initrd "$INITRD_A64" \
    -append "console=ttyAMA0 quiet loglevel=4 panic=-1 iommu.strict=1 iommud_test=smmuv3 $EXTRA_APPEND" \
    -nographic -no-reboot -nodefaults -serial "file:$d/console.txt" -monitor none
  cp "$d/console.txt" "$d/results.txt"
}

# ------------------------------------------------------------------ main
t=$EPOCHREALTIME
install_tools
say "checker unit tests (Tests/qemu/test_check.py)"
python3 "$HERE/test_check.py" >"$WORK/test_check.log" 2>&1 || { cat "$WORK/test_check.log"; die "check.py unit tests failed"; }
tail -n 1 "$WORK/test_check.log"
NEED_X86=0; NEED_ARM=0; NEED_BPO=0
for s in $SCENARIOS; do
  case $s in smmuv3) NEED_ARM=1 ;; virtio) NEED_BPO=1 ;; *) NEED_X86=1 ;; esac
done
[ $NEED_X86 = 1 ] && kernel_x86
[ $NEED_BPO = 1 ] && kernel_bpo
[ $NEED_ARM = 1 ] && arm64_bits
T_DOWNLOAD=$(since "$t")
say "packages and downloads: ${T_DOWNLOAD}s"

t=$EPOCHREALTIME
mkdir -p "$WORK/build"
[ $NEED_X86 = 1 ] && build_initrd_x86
[ $NEED_BPO = 1 ] && build_initrd_virtio
[ $NEED_ARM = 1 ] && build_initrd_arm64
T_INITRD=$(since "$t")
say "initramfs: ${T_INITRD}s ($( [ $NEED_X86 = 1 ] && du -h "$INITRD_X86" | cut -f1) x86$( [ $NEED_BPO = 1 ] && echo ", $(du -h "$INITRD_VIRTIO" | cut -f1) virtio")$( [ $NEED_ARM = 1 ] && echo ", $(du -h "$INITRD_A64" | cut -f1) arm64"))"

declare -A RESULT WALL
FAILED=0
for s in $SCENARIOS; do
  d=$WORK/out/$s; rm -rf "$d"; mkdir -p "$d"
  say "scenario $s: booting"
  t=$EPOCHREALTIME
  case $s in smmuv3) boot_arm64 "$d" ;; virtio) boot_virtio "$d" ;; *) boot_x86 "$s" "$d" ;; esac
  WALL[$s]=$(since "$t")
  if [ "$s" = smmuv3 ]; then     # the daemon cannot run in the arm64 guest: replay on the host
    python3 "$HERE/check.py" extract-kmsg "$d/results.txt" > "$d/kmsg.raw" || true
    rc=0; "$BIN" replay --json "$d/kmsg.raw" > "$d/replay-host.json" 2> "$d/replay-host.stderr" || rc=$?
    echo "$rc" > "$d/replay-host.rc"
  fi
  case $s in storm-*)             # the estimator trace (Tests/IOMMUCoreTests/Fixtures/estimate/)
    python3 "$HERE/check.py" estimate-trace "$d" > "$d/estimate-trace.txt" 2> "$d/estimate-trace.stderr" || true ;;
  esac
  echo "--- scenario $s (boot ${WALL[$s]}s, qemu rc $(cat "$d/qemu.rc"))"
  if python3 "$HERE/check.py" "$s" "$d" | tee "$d/check.txt"; then RESULT[$s]=PASS; else RESULT[$s]=FAIL; FAILED=1; fi
done

echo
echo "=== Tests/qemu summary (results in $WORK/out)"
printf '  %-12s %s\n' "downloads" "${T_DOWNLOAD}s" "initramfs" "${T_INITRD}s"
for s in $SCENARIOS; do printf '  %-12s %-4s  boot %ss\n' "$s" "${RESULT[$s]}" "${WALL[$s]}"; done
printf '  %-12s %ss\n' "total" "$(since "$T0")"
npass=0; nfail=0
for s in $SCENARIOS; do if [ "${RESULT[$s]}" = PASS ]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi; done
echo "qemu: $npass passed, $nfail failed"
exit $FAILED
