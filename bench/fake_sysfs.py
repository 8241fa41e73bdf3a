#!/usr/bin/env python3
"""fake_sysfs.py ROOT — the fake sysfs tree of Tests/IOMMUDaemonTests/FakeSysfs.swift's
`Platform.intelServer` (a 2-socket Intel server: 8 DMAR units, 194 PCI functions behind them),
plus ROOT.interrupts (its /proc/interrupts) and ROOT.cmdline, for the fleet-cost figure.
Same layout as FakeSysfs.swift (kernel-formats.md §7): class links, devices with iommu /
iommu_group / driver links, groups with devices/ links, unit attributes."""
import os
import sys


class Fake:
    def __init__(self, root):
        self.root = root
        for d in ("class/iommu", "kernel/iommu_groups", "bus/pci/devices", "kernel/irq"):
            os.makedirs(f"{root}/{d}", exist_ok=True)

    def write(self, rel, text):
        p = f"{self.root}/{rel}"
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text + "\n")

    def link(self, rel, target):
        p = f"{self.root}/{rel}"
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if not os.path.lexists(p):
            os.symlink(target, p)

    def unit(self, name, attributes):
        d = f"devices/virtual/iommu/{name}"
        self.link(f"class/iommu/{name}", f"../../{d}")
        for k, v in attributes.items():
            self.write(f"{d}/intel-iommu/{k}", v)
        os.makedirs(f"{self.root}/{d}/devices", exist_ok=True)

    def group(self, gid, type_):
        self.write(f"kernel/iommu_groups/{gid}/type", type_)
        os.makedirs(f"{self.root}/kernel/iommu_groups/{gid}/devices", exist_ok=True)

    def device(self, bdf, vendor_id, device_id, class_id, driver, unit, group):
        d = f"devices/pci0000:{bdf[2:4]}/{bdf}"
        self.link(f"bus/pci/devices/{bdf}", f"../../../{d}")
        self.write(f"{d}/vendor", vendor_id)
        self.write(f"{d}/device", device_id)
        self.write(f"{d}/class", class_id)
        self.link(f"{d}/driver", f"../../../bus/pci/drivers/{driver}")
        u = f"devices/virtual/iommu/{unit}"
        self.link(f"{d}/iommu", f"../../../{u}")
        self.link(f"{u}/devices/{bdf}", f"../../../../{d}")
        self.link(f"{d}/iommu_group", f"../../../kernel/iommu_groups/{group}")
        self.link(f"kernel/iommu_groups/{group}/devices/{bdf}", f"../../../../{d}")


def intel_server(root):
    s = Fake(root)
    for u in range(8):
        s.unit(f"dmar{u}", {"cap": "8d2078c106f0466", "ecap": "f020df", "version": "1:0",
                            "address": f"{0xd37fc000 + u * 0x100000:x}"})
    group = 0
    for seg in range(2):
        for bus in range(0x10, 0x10 + 4 * 0x20, 0x20):
            for dev in range(6):
                for fn in range(4):
                    unit = seg * 4 + (bus - 0x10) // 0x20
                    s.group(group, "DMA-FQ")
                    s.device(f"000{seg}:{bus:x}:{dev:02x}.{fn}", "0x8086", "0x1592", "0x020000", "ice", f"dmar{unit}", group)
                    group += 1
    s.group(500, "DMA-FQ")
    s.group(501, "DMA")
    s.device("0000:03:00.0", "0x144d", "0xa808", "0x010802", "nvme", "dmar0", 500)
    s.device("0001:81:00.0", "0x8086", "0x10d3", "0x020000", "vfio-pci", "dmar4", 501)
    rows = ["           CPU0       CPU1       CPU2       CPU3"]
    for u in range(8):
        rows.append(f" {40 + u}:          0          0          0          0  DMAR-MSI   {u}-edge      dmar{u}")
    rows.append(" 48:          0          0          0          0  DMAR-MSI  20-edge      dmar0-prq")
    with open(root + ".interrupts", "w") as f:
        f.write("\n".join(rows) + "\n")
    with open(root + ".cmdline", "w") as f:
        f.write("BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on\n")


if __name__ == "__main__":
    intel_server(sys.argv[1])
