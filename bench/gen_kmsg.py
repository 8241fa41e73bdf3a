#!/usr/bin/env python3
"""Generates /dev/kmsg-format record files for the benchmarks (deterministic: fixed seeds).

  gen_kmsg.py mixed  N OUT    N records, ~10 % IOMMU faults of every vendor and shape, the rest
                              ordinary kernel noise (usb, e1000e, audit, EXT4, ...)
  gen_kmsg.py faults N DEVS OUT
                              N Intel fault records spread over DEVS distinct devices
  gen_kmsg.py syslog IN OUT   the records of IN as rsyslog writes /var/log/kern.log on Debian and
                              Ubuntu: `Dec  7 09:00:00 host kernel: [   12.345678] text`, one line per
                              line of the record, control characters as `#ooo` (rsyslog's escape)

Each record is `prio,seq,ts_usec,-;text` plus, for device messages, the dictionary lines
(` SUBSYSTEM=…`, ` DEVICE=+…`) the kernel adds. The mix (per fault *event*):
  Intel one-line     DMAR: [DMA Read NO_PASID] Request device [bb:dd.f] fault addr … (+ the
                     `DRHD: handling fault status reg` line before it, as the kernel prints)
  AMD one-line       <drv> <bdf>: AMD-Vi: Event logged [IO_PAGE_FAULT domain=… address=… flags=…]
  AMD split          AMD-Vi: Event logged [   +   IO_PAGE_FAULT device=bb:dd.f … ]   (4.9-4.17)
  SMMUv3             event 0x10 received:  + four \\x09 dword records             (4.2-6.13)
  SMMUv2             Unhandled context fault: fsr=…, iova=…, fsynr=…, cbfrsynra=…, cb=…
"""
import random
import re
import sys

NOISE = [
    (6, "usb 1-1.{a}: new high-speed USB device number {n} using xhci_hcd", ("usb", "usb:1-1.{a}")),
    (6, "usb 1-1.{a}: New USB device found, idVendor=0781, idProduct=5581, bcdDevice= 1.00", ("usb", "usb:1-1.{a}")),
    (6, "e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx", ("pci", "+pci:0000:00:1f.6")),
    (3, "e1000e 0000:00:1f.6 eno1: Detected Hardware Unit Hang:", ("pci", "+pci:0000:00:1f.6")),
    (5, 'audit: type=1400 audit({t}.{n}:{a}): apparmor="DENIED" operation="open" profile="snap.firefox" name="/proc/{a}/cgroup" pid={a} comm="firefox"', None),
    (5, "audit: type=1131 audit({t}.{n}:{a}): pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit=systemd-tmpfiles-clean comm=\"systemd\" res=success'", None),
    (6, "EXT4-fs (nvme0n1p{d}): mounted filesystem {u} r/w with ordered data mode. Quota mode: none.", None),
    (3, "EXT4-fs error (device sda{d}): ext4_find_entry:1683: inode #{a}: comm rsync: reading directory lblock 0", None),
    (4, "TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.  Check SNMP counters.", None),
    (6, "IPv6: ADDRCONF(NETDEV_CHANGE): eno1: link becomes ready", None),
    (6, "nvme nvme0: {a}/0/0 default/read/poll queues", ("nvme", "c238:0")),
    (4, "CPU{d}: Core temperature above threshold, cpu clock throttled (total events = {n})", None),
    (6, "[UFW BLOCK] IN=eno1 OUT= MAC=01:00:5e:00:00:01 SRC=192.168.1.{d} DST=224.0.0.1 LEN=36 TOS=0x00 PROTO=2", None),
    (6, "docker0: port {d}(veth{u8}) entered forwarding state", None),
    (6, "kauditd_printk_skb: {d} callbacks suppressed", None),
    (4, "i915 0000:00:02.0: [drm] *ERROR* CPU pipe A FIFO underrun", ("pci", "+pci:0000:00:02.0")),
    (6, "wlp2s0: associated", None),
    (6, "perf: interrupt took too long ({a} > {n}), lowering kernel.perf_event_max_sample_rate to 50000", None),
]


class Writer:
    def __init__(self, out, seq=1, ts=1_000_000):
        self.out = out
        self.seq = seq
        self.ts = ts
        self.records = 0

    def rec(self, level, text, dict_=None):
        self.ts += 37
        self.out.write(f"{level},{self.seq},{self.ts},-;{text}\n")
        if dict_:
            self.out.write(f" SUBSYSTEM={dict_[0]}\n DEVICE={dict_[1]}\n")
        self.seq += 1
        self.records += 1


def bdf(rng):
    return f"{rng.randrange(1, 0x100):02x}:{rng.randrange(0, 32):02x}.{rng.randrange(0, 8)}"


def fault_event(w, rng, kind):
    """Writes one fault event; returns how many records it took."""
    if kind == 0:  # Intel, one line (5.15+), with the status line before it
        w.rec(3, "DMAR: DRHD: handling fault status reg 2")
        rw = rng.choice(("Read", "Write"))
        reason = "0x06] PTE Read access is not set" if rw == "Read" else "0x05] PTE Write access is not set"
        w.rec(3, f"DMAR: [DMA {rw} NO_PASID] Request device [{bdf(rng)}] fault addr 0x{rng.randrange(1 << 36):x} [fault reason {reason}")
    elif kind == 1:  # AMD, one line per device (5.5+)
        d = "0000:" + bdf(rng)
        w.rec(3, f"vfio-pci {d}: AMD-Vi: Event logged [IO_PAGE_FAULT domain=0x{rng.randrange(1 << 16):04x} address=0x{rng.randrange(1 << 40):x} flags=0x{rng.choice((0, 0x20, 0x50)):04x}]", ("pci", "+pci:" + d))
    elif kind == 2:  # AMD split header + body (4.9-4.17)
        w.rec(3, "AMD-Vi: Event logged [")
        w.rec(4, f"IO_PAGE_FAULT device={bdf(rng)} domain=0x{rng.randrange(1 << 16):04x} address=0x{rng.randrange(1 << 40):016x} flags=0x{rng.choice((0, 0x20, 0x70)):04x}]")
    elif kind == 3:  # SMMUv3: header + four dwords (4.2-6.13)
        unit = f"arm-smmu-v3.{rng.randrange(4)}.auto"
        dict_ = ("platform", "+platform:" + unit)
        sid = rng.randrange(1 << 16)
        w.rec(6, f"arm-smmu-v3 {unit}: event 0x10 received:", dict_)
        w.rec(6, f"arm-smmu-v3 {unit}: \\x090x{sid:08x}00000010", dict_)
        w.rec(6, f"arm-smmu-v3 {unit}: \\x090x0000020{rng.choice('08')}00000000", dict_)
        w.rec(6, f"arm-smmu-v3 {unit}: \\x090x{rng.randrange(1 << 48):016x}", dict_)
        w.rec(6, f"arm-smmu-v3 {unit}: \\x090x0000000000000000", dict_)
    else:  # SMMUv2 context fault (5.2-6.10)
        unit = f"{rng.randrange(1, 16):x}000000.iommu"
        w.rec(3, f"arm-smmu {unit}: Unhandled context fault: fsr=0x402, iova=0x{rng.randrange(1 << 32):08x}, fsynr=0x{rng.choice((0x80021, 0x80031)):x}, cbfrsynra=0x{rng.randrange(1 << 12):x}, cb={rng.randrange(8)}", ("platform", "+platform:" + unit))


def noise(w, rng):
    level, fmt, dict_ = NOISE[rng.randrange(len(NOISE))]
    vals = dict(a=rng.randrange(1, 9999), n=rng.randrange(1, 99999), d=rng.randrange(1, 9),
                t=1700000000 + rng.randrange(10_000_000), u=f"{rng.getrandbits(64):016x}", u8=f"{rng.getrandbits(28):07x}")
    text = fmt.format(**vals)
    if dict_:
        dict_ = (dict_[0], dict_[1].format(**vals))
    w.rec(level, text, dict_)


def mixed(n, path):
    rng = random.Random(42)
    events = [0] * 5
    with open(path, "w", buffering=1 << 20) as out:
        w = Writer(out)
        while w.records < n:
            if rng.random() < 0.10 / 2.2:  # 2.2 records per fault event on average → ~10 % of records are faults
                kind = rng.randrange(5)
                events[kind] += 1
                fault_event(w, rng, kind)
            else:
                noise(w, rng)
    print(f"{path}: {w.records} records; fault events intel={events[0]} amd={events[1]} amd-split={events[2]} "
          f"smmuv3={events[3]} smmuv2={events[4]} (total {sum(events)})", file=sys.stderr)


def faults(n, devices, path, segment=0x0bec):
    """Intel faults over `devices` distinct devices of one segment (bus.dev.fn enumerated)."""
    with open(path, "w", buffering=1 << 20) as out:
        w = Writer(out)
        for i in range(n):
            d = i % devices
            dev = f"{segment:04x}:{d >> 8:02x}:{(d >> 3) & 0x1f:02x}.{d & 7}"
            rw, reason = ("Read", "0x06] PTE Read access is not set") if i & 1 else ("Write", "0x05] PTE Write access is not set")
            w.rec(3, f"DMAR: [DMA {rw} NO_PASID] Request device [{dev}] fault addr 0x{(i * 4096) & 0xffffffffff:x} [fault reason {reason}")
    print(f"{path}: {n} fault records over {devices} devices", file=sys.stderr)


def syslog(src, path, epoch=1796634000):
    """The records of a kmsg file as rsyslog's imklog writes them to kern.log (RSYSLOG_TraditionalFileFormat):
    local time (UTC here) of boot + the record's stamp, the host, `kernel:`, the kernel's own `[ts]`."""
    import time
    esc = re.compile(r"\\x([0-9a-f]{2})")
    lines = 0
    with open(src, encoding="utf-8", errors="surrogateescape") as f, \
            open(path, "w", buffering=1 << 20, encoding="utf-8", errors="surrogateescape") as out:
        for rec in f:
            if rec.startswith(" "):
                continue  # dictionary lines: syslog has none
            head, _, text = rec.rstrip("\n").partition(";")
            ts = int(head.split(",")[2])
            stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(epoch + ts // 1_000_000))
            text = esc.sub(lambda m: chr(int(m.group(1), 16)), text)
            for line in text.split("\n"):
                line = "".join(f"#{ord(c):03o}" if ord(c) < 0x20 or ord(c) == 0x7f else c for c in line)
                out.write(f"{stamp} host kernel: [{ts // 1_000_000:5d}.{ts % 1_000_000:06d}] {line}\n")
                lines += 1
    print(f"{path}: {lines} lines", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1] == "mixed":
        mixed(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "faults":
        faults(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "syslog":
        syslog(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
