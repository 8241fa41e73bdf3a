#!/usr/bin/env bash
# seed.sh DIR — extracts seed inputs for the fuzz targets from the test fixtures and the
# config files into DIR/<target>/ (created; existing inputs are kept). `run.sh --reseed` merges
# those that add coverage into the committed corpora, Tests/fuzz/corpus/<target>/.
#   kmsg        one /dev/kmsg record per file (record line + its dictionary lines)
#   classifier  each fixture's records as one stream, and runs of 8 consecutive records
#   replay      the classifier streams, and the pasted logs of Fixtures/replay/
#   interrupts  the /proc/interrupts samples of Fixtures/interrupts/
#   toml        config/iommud.toml, each of its sections, its [[expected]] example uncommented,
#               the test configs, edge values
#   yaml        config/web-config.example.yml, each of its sections, exporter-toolkit's sample
#   duration    the durations of the config files and tests
#   timespec    the --since/--until forms of the tests
#   listen      the listen addresses of the config and tests
#   checkpoint  the checkpoint fixtures (format 1 and 2)
#   journal     journalctl -o json samples, and a fault's journal fields
#   auth        Authorization headers
#   pciids      the pci.ids fixture (and the system's, when installed)
#   decompress  the replay tests' gzip and zstd files, with the two bytes of step sizes before them
#   (replay also gets every log shape of Fixtures/shapes/, cut to 4 KiB)
#   firmware    an IORT, a VIOT and iommu-map properties as QEMU and SoC firmware lay them out
#   control     control-socket replies: the daemon's 200 with a status body, its 404/405/503, cut ones
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fixtures="$here/../IOMMUCoreTests/Fixtures"
work=${1:?usage: seed.sh DIR}
targets="kmsg classifier replay interrupts toml yaml duration timespec listen checkpoint journal auth pciids decompress firmware control"
for t in $targets; do mkdir -p "$work/$t"; done

# Store stdin as a corpus input named by its content hash (libFuzzer's own naming).
put() {
  local dir=$1 tmp
  tmp=$(mktemp "$dir/.seed.XXXXXX")
  cat > "$tmp"
  if [ -s "$tmp" ]; then mv -f "$tmp" "$dir/$(sha1sum < "$tmp" | cut -c1-40)"; else rm -f "$tmp"; fi
}

n=0
for f in "$fixtures"/{intel,amd,arm-smmu-v3,arm-smmu,common,real}/*.txt "$fixtures"/{rockchip-iommu,ipmmu-vmsa,mtk-iommu,exynos-sysmmu,apple-dart,sun50i-iommu,qcom-iommu,msm-iommu,tegra-mc,virtio-iommu,riscv-iommu,omap-iommu,fsl-pamu}/*.txt; do
  # Records only: no comments, expectations or directives; dictionary lines stay with their record.
  stream=$(grep -v -e '^#' -e '^=> ' -e '^@' -e '^$' "$f" || true)
  [ -n "$stream" ] || continue
  printf '%s\n' "$stream" | put "$work/classifier"
  printf '%s\n' "$stream" | put "$work/replay"
  # The same records as dmesg and journalctl would print them (unescaped enough for the decoders).
  printf '%s\n' "$stream" | awk -F';' '!/^ / { split($1, h, ","); t = $0; sub(/^[^;]*;/, "", t)
      printf "[%5d.%06d] %s\n", h[3] / 1000000, h[3] % 1000000, t }' | sed 's/\\x09/\t/g; s/\\x0a/\n               /g' |
    head -c 4096 | put "$work/replay" || true  # (head may cut the pipe short)
  printf '%s\n' "$stream" | awk '!/^ / { t = $0; sub(/^[^;]*;/, "", t); print "Nov 26 05:53:01 host kernel: " t }' |
    sed 's/\\x09/\t/g' | head -c 4096 | put "$work/replay" || true
  # One record per kmsg seed, runs of 8 records per classifier seed.
  tmp=$(mktemp -d)
  printf '%s\n' "$stream" | awk -v dir="$tmp" '
    /^ / { print >> (dir "/r" r); print >> (dir "/g" int((r - 1) / 8)); next }
    { r++; print > (dir "/r" r); print >> (dir "/g" int((r - 1) / 8)) }'
  for x in "$tmp"/r*; do put "$work/kmsg" < "$x"; n=$((n + 1)); done
  for x in "$tmp"/g*; do put "$work/classifier" < "$x"; done
  rm -rf "$tmp"
done
for f in "$fixtures"/replay/*.log; do put "$work/replay" < "$f"; done
for f in "$fixtures"/shapes/*.log; do head -c 4096 "$f" | put "$work/replay"; done
for f in "$here"/../IOMMUDaemonTests/Fixtures/replay/*.gz "$here"/../IOMMUDaemonTests/Fixtures/replay/*.zst; do
  for steps in '\x00\x00' '\x07\x03' '\xff\xff'; do { printf "$steps"; cat "$f"; } | put "$work/decompress"; done
done
for f in "$fixtures"/interrupts/*.txt; do put "$work/interrupts" < "$f"; done

# iommud.toml: the shipped file, each section on its own, the test configs, and the edges.
put "$work/toml" < "$root/config/iommud.toml"
put "$work/toml" < "$here/../systemd/standin/iommud.toml"
tmp=$(mktemp -d)
awk -v dir="$tmp" '/^\[/ { n++ } n { print > (dir "/s" n) }' "$root/config/iommud.toml"
for x in "$tmp"/s*; do put "$work/toml" < "$x"; done
rm -rf "$tmp"
sed -n '/^#\[\[expected\]\]/,$p' "$root/config/iommud.toml" | sed 's/^#//' | put "$work/toml"
put "$work/toml" < "$root/Tests/IOMMUDaemonTests/Fixtures/platforms/intel-server/expected.toml"
while IFS= read -r line; do printf '%b' "$line" | put "$work/toml"; done <<'TOML'
[[expected]]\nname = "all"\ndevice = ["0000:00:14.0", "81:00.1", "ff8f0000.vop"]\npci_id = ["8086:a36d"]\ndriver = "xhci_hcd"\nvendor = ["intel", "amd"]\nkind = "dma-read"\nreason = ["0x06", "PTE Read access is not set"]\naddress = ["0x0", "0xffffffffffffffff"]\nboot_window = ["0", "365d"]\n[[expected]]\nname = "b"\naddress = "0x1000"\n
[[expected]]\nname = "x"\n[expected]\n[[expected]]\nname = "x"\nkind = []\nboot_window = ["2m", "1m"]\n
[storm]\nthreshold = 1\nwindow = "1s"\nsummary_interval = "1s"\njournal_max_per_second = 1\n
[storm]\nthreshold = 1_000_000\nwindow = "1d"\nsummary_interval = "1d"\njournal_max_per_second = 10000\n
[state]\ncheckpoint_interval = "10ms"\n[topology]\nrescan_interval = "1d"\nzero_init_devices = true\n
[actions]\non_fault = ["/bin/sh", "-c", "x"]\non_storm = []\ntimeout = "1h"\nmax_per_minute = 600\nmax_concurrent = 64\n
[http]\nlisten = ["127.0.0.1:9100", "[::1]:9101"]\nweb_config = "/etc/iommud/web.yml"\n[log]\nlevel = "debug"\n
[sources]\nkmsg = "/dev/kmsg" # c\naccept_user_facility = false\n[control]\nsocket = 'lit'\n
x = [[1, [2]], ["a\\u00e9", 'b'],\n  # c\n]\ny = -9_223_372_036_854_775_808\n
TOML

# The web config: the example, each top-level section, exporter-toolkit's sample.
put "$work/yaml" < "$root/config/web-config.example.yml"
tmp=$(mktemp -d)
awk -v dir="$tmp" '/^[a-z_]+:/ { n++ } n { print > (dir "/s" n) }' "$root/config/web-config.example.yml"
for x in "$tmp"/s*; do put "$work/yaml" < "$x"; done
rm -rf "$tmp"
while IFS= read -r line; do printf '%b' "$line" | put "$work/yaml"; done <<'YAML'
tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  alice: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze\nrate_limit:\n  interval: "1s" # c\n  burst: 20\n
tls_server_config:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n  key: "k\\x41"\n  client_ca: 'c''d'\n  client_auth_type: RequireAndVerifyClientCert\n  client_allowed_sans: ["a", b]\n  min_version: TLS13\n  cipher_suites:\n    - TLS_AES_128_GCM_SHA256\n  curve_preferences: [X25519,\n    CurveP256]\n
---\nhttp_server_config:\n  http2: yes\n  headers: {X-Frame-Options: deny, X-XSS-Protection: "1; mode=block"}\nrate_limit: {interval: 1d, burst: 1000000}\n
YAML

# Durations, times, listen addresses.
for d in 5s 250ms 1h30m 2d 0 0s 10ms 1w2d3h4m5s6ms7us 9223372036854775807us 106751991d 30m1h 1.5h; do
  printf '%s' "$d" | put "$work/duration"
done
for x in 2026-11-26T05:53:14Z "2026-11-26 05:53:14" 2026-11-26T06:53:14+01:00 2026-11-26T04:53:14-0100 \
  "2026-11-26 05:53:14 UTC" 2026-11-26T05:53:14.25Z 2026-11-26 "2026-11-26 05:53" @1700000000 @1e30 -1h "1h ago" \
  "7d ago" "30 min ago" "1h30m ago" +5m "2 hours ago" now today yesterday tomorrow 9999-12-31T23:59:59Z; do
  printf '%s' "$x" | put "$work/timespec"
done
printf '!\x7f\xff\xff\xff\xff\xff\xff\xff+1s' | put "$work/timespec"
for x in "[::]:10111" 127.0.0.1:10111 localhost:9100 "[fe80::1%eth0]:10111" 0.0.0.0:1 "[::1]:65535" host-name.example:80; do
  printf '%s' "$x" | put "$work/listen"
done

for t in $targets; do
  echo "seed: $t $(find "$work/$t" -type f | wc -l) inputs"
done

# Checkpoints, journal fields, Authorization headers, pci.ids.
for f in "$fixtures"/checkpoint/*.txt; do put "$work/checkpoint" < "$f"; done
put "$work/journal" < "$fixtures/replay/journal.json.log"
printf 'MESSAGE_ID=836b376a34f24d039f6a071fe971fb56\nIOMMU_VENDOR=intel\nIOMMU_KIND=dma-read\nIOMMU_DEVICE=0000:03:00.0\nKMSG_SEQ=42\n' | put "$work/journal"
for h in "Basic YWxpY2U6czNjcmV0" "basic   YWxpY2U6" "Bearer abc" "Basic ===="; do printf '%s' "$h" | put "$work/auth"; done
put "$work/pciids" < "$here/../IOMMUDaemonTests/Fixtures/pci.ids"
for r in 'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 23\r\nConnection: close\r\n\r\niommud: 3 IOMMU faults\n' \
  'HTTP/1.0 200 OK\r\n\r\n{"devices":[],"daemon":{"ready":true}}' 'HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\nnot found\n' \
  'HTTP/1.1 503 Service Unavailable\r\n\r\nnot ready\n' 'HTTP/1.1 200 OK\r\nContent-Len' '\x1b]0;pwned\x07\r\n\r\n'; do
  printf "$r" | put "$work/control"
done

# Firmware tables (the layouts of Tests/IOMMUDaemonTests/FamilyTopologyTests.swift).
python3 - "$work/firmware" <<'PY'
import hashlib, os, struct, sys
def put(b):
    open(os.path.join(sys.argv[1], hashlib.sha1(b).hexdigest()), "wb").write(b)
def header(sig, body):
    return sig + struct.pack("<IBB6s8sI4sI", 36 + len(body), 1, 0, b"IOMMUD", b"TESTTBL ", 1, b"TEST", 1) + body
smmu = struct.pack("<BHBIIIQ", 4, 68, 4, 0, 0, 0, 0x9050000).ljust(68, b"\0")
rc = struct.pack("<BHBIII", 2, 56, 1, 1, 1, 36) + bytes(12) + struct.pack("<I", 0) + b"\x30\0\0\0"
rc += struct.pack("<IIIII", 0, 0xffff, 0x10000, 48, 0)
put(header(b"IORT", struct.pack("<III", 2, 48, 0) + smmu + rc))
rng = struct.pack("<BBHIHHHHH", 1, 0, 24, 0, 0, 0, 0, 0xffff, 72) + bytes(6)
node = struct.pack("<BBHHH", 3, 0, 16, 0, 8) + bytes(8)
put(header(b"VIOT", struct.pack("<HH", 2, 48) + bytes(8) + rng + node))
put(struct.pack(">IIII", 0, 0x8004, 0, 0x10000))
put(struct.pack(">IIIIIIII", 0, 0x8004, 0x1c00, 1, 0x100, 0x8004, 0x1c01, 1))
put(struct.pack(">IIIII", 0, 0x8005, 0x800, 0x7f80, 0x100))
PY
