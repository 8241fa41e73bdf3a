#!/usr/bin/env python3
"""The baseline `iommud replay` is measured against: the straightforward Python classifier of
the same kmsg records — the obvious regex per vendor, counts per (device, kind).

  baseline_classifier.py FILE     prints `faults N` and `series N` (distinct (unit/device, kind))

Reads the /dev/kmsg format (`prio,seq,ts,flags;text`, dictionary lines start with a space),
joins AMD's split header/body and SMMUv3's five-record events, like anyone would write it.
"""
import re
import sys
from collections import Counter

INTEL = re.compile(r"DMAR: \[(DMA Read|DMA Write|INTR-REMAP)[^\]]*\] Request device \[([0-9a-f:.]+)\] fault (?:addr|index) (0x[0-9a-f]+) \[fault reason (0x[0-9a-f]+|\d+)\]")
AMD_LINE = re.compile(r"(?:(\S+) (\S+): )?(?:AMD-Vi: )?Event logged \[([A-Z_]+) (.*)\]")
AMD_HEAD = re.compile(r"AMD-Vi: Event logged \[$")
AMD_BODY = re.compile(r"^([A-Z_]+) device=([0-9a-f:.]+) .*\]$")
SMMUV3_HEAD = re.compile(r"arm-smmu-v3 (\S+): event 0x([0-9a-f]+) received:")
SMMUV3_DW = re.compile(r"arm-smmu-v3 (\S+): \\x090x([0-9a-f]{16})")
SMMUV2 = re.compile(r"arm-smmu (\S+): Unhandled context fault: fsr=(0x[0-9a-f]+), iova=(0x[0-9a-f]+), fsynr=(0x[0-9a-f]+), cbfrsynra=(0x[0-9a-f]+), cb=(\d+)")
DEVICE_IN_BODY = re.compile(r"device=([0-9a-f:.]+)")


def kebab(name):
    return name.lower().replace("_", "-")


def main(path):
    counts = Counter()
    amd_pending = False
    smmu = {}  # unit -> the event's dwords so far (the header's first)
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(" "):
                continue  # dictionary
            text = line.rstrip("\n").split(";", 1)[-1]
            m = INTEL.search(text)
            if m:
                kind = {"DMA Read": "dma-read", "DMA Write": "dma-write"}.get(m.group(1), "intr-remap")
                counts[(m.group(2), kind)] += 1
                continue
            if amd_pending:
                amd_pending = False
                m = AMD_BODY.match(text)
                if m:
                    counts[(m.group(2), kebab(m.group(1)))] += 1
                    continue
            if AMD_HEAD.search(text):
                amd_pending = True
                continue
            m = AMD_LINE.search(text)
            if m:
                dev = m.group(2)
                if dev is None or not re.match(r"[0-9a-f]{4}:", dev):
                    d = DEVICE_IN_BODY.search(m.group(4))
                    dev = d.group(1) if d else None
                counts[(dev, kebab(m.group(3)))] += 1
                continue
            m = SMMUV3_HEAD.search(text)
            if m:
                smmu[m.group(1)] = [int(m.group(2), 16)]
                continue
            m = SMMUV3_DW.search(text)
            if m and m.group(1) in smmu:
                dws = smmu[m.group(1)]
                dws.append(int(m.group(2), 16))
                if len(dws) == 5:
                    del smmu[m.group(1)]
                    sid = dws[1] >> 32
                    counts[(f"{m.group(1)} sid 0x{sid:x}", "f-translation" if dws[0] == 0x10 else f"event-0x{dws[0]:02x}")] += 1
                continue
            m = SMMUV2.search(text)
            if m:
                counts[(f"{m.group(1)} sid 0x{int(m.group(5), 16) & 0xffff:x}", "context-fault")] += 1
    print(f"faults {sum(counts.values())}")
    print(f"series {len(counts)}")


if __name__ == "__main__":
    main(sys.argv[1])
