import Foundation
import IOMMUCore
import Testing

@testable import IOMMUDaemon

/// A platform's fixture folder, copied to a temp dir (tests may change the copy: hotplug).
final class PlatformTree {
    let root: String
    let platform: Platform

    init(_ p: Platform) {
        platform = p
        root = NSTemporaryDirectory() + "iommud-topo-\(p.name)-\(UInt32.random(in: 0...UInt32.max))"
        let cp = Process()
        cp.executableURL = URL(fileURLWithPath: "/bin/cp")
        cp.arguments = ["-a", p.folder, root]
        try? cp.run()
        cp.waitUntilExit()
        // Git keeps no empty directory; sysfs has some (no unit: an empty class/iommu).
        for d in ["sys/class/iommu", "sys/kernel/iommu_groups", "sys/kernel/irq"] {
            try? FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    var sys: FakeSysfs { FakeSysfs(root: root + "/sys") }

    func scan() -> Topology {
        TopologyScanner(
            sysfsRoot: root + "/sys", cmdlinePath: root + "/cmdline", pciIDsPaths: [fixturesRoot + "/pci.ids"]
        ).scan()
    }

    /// The platform's kmsg capture replayed against its topology, plus its interrupt counts.
    func ledger(_ topology: Topology) -> FaultLedger {
        var p = KmsgPipeline(fromStartOfBoot: false, topology: topology)
        platform.kmsg.withBytes { p.read(stream: $0, isFinal: true) }
        var obs: [InterruptObservation]?
        if case .success(let o) = InterruptSampler(path: root + "/interrupts").sample(topology: topology) { obs = o }
        _ = p.commit(interrupts: obs)
        return p.ledger
    }
}

@Suite("Topology")
struct TopologyTests {
    @Test("sysfs scan: units with cap/ecap, devices, groups, drivers, names")
    func scan() throws {
        let t = PlatformTree(.intelQEMU).scan()
        let u = try #require(t.units["dmar0"])
        #expect(u.vendor == .intel)
        #expect(u.cap == "d2008c22260206")
        #expect(u.ecap == "f00f4a")
        #expect(u.version == "1:0")
        #expect(u.devices.count == 5)
        let edu = try #require(t.devices[PCIAddress(bus: 0, device: 1, function: 0)])
        #expect(edu.unit == "dmar0")
        #expect(edu.group == 1)
        #expect(edu.vendorID == "0x1234")
        #expect(edu.name == nil)  // not in pci.ids: ids alone
        #expect(t.devices[PCIAddress(bus: 0, device: 0x1f, function: 2)]?.driver == "ahci")
        #expect(
            t.devices[PCIAddress(bus: 0, device: 0x1f, function: 2)]?.name
                == "Intel Corporation 82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]")
        #expect(t.groups.count == 3)
        #expect(t.groups[2]?.devices.count == 3)
        #expect(PlatformSummary(topology: t, inventory: []).mode == "translated")
    }

    @Test("AMD: shared AMD-Vi vectors told apart by msi_irqs; an unclaimed one is ambiguous")
    func amdInterrupts() {
        let tree = PlatformTree(.amdServer)
        let t = tree.scan()
        #expect(t.units["ivhd0"]?.irqs == [25])
        #expect(t.units["ivhd0"]?.platformDevice == "0000:00:00.2")
        let l = tree.ledger(t)
        #expect(l.interrupts.totals[InterruptKey(unit: "ivhd0", vector: "shared")] == 12)
        #expect(l.interrupts.totals[InterruptKey(unit: "ivhd1", vector: "shared")] == 3)
        #expect(l.interrupts.totals[InterruptKey(unit: "ambiguous", vector: "shared")] == 1)
    }

    @Test("the same bus:dev.fn on two segments is ambiguous, a unique one is resolved to its segment")
    func segments() throws {
        let tree = PlatformTree(.intelServer)
        let t = tree.scan()
        var f = Fault(
            vendor: .intel, kind: .dmaRead, recoverable: false, device: PCIAddress(bus: 0x30, device: 1, function: 2),
            text: "DMAR: [DMA Read NO_PASID] Request device [30:01.2] fault addr 0x1000")
        t.attribute(&f)
        #expect(f.unit == "ambiguous")
        var g = Fault(
            vendor: .intel, kind: .dmaRead, recoverable: false, device: PCIAddress(bus: 0x81, device: 0, function: 0),
            text: "DMAR: [DMA Read NO_PASID] Request device [81:00.0] fault addr 0x7f000000")
        t.attribute(&g)
        #expect(g.device?.description == "0001:81:00.0")
        #expect(g.unit == "dmar4")
        // With the segment printed (vendor kernels), no ambiguity.
        var h = Fault(
            vendor: .intel, kind: .dmaRead, recoverable: false,
            device: PCIAddress(segment: 1, bus: 0x30, device: 1, function: 2),
            text: "DMAR: [DMA Read NO_PASID] Request device [0001:30:01.2] fault addr 0x1000")
        t.attribute(&h)
        #expect(h.unit == "dmar5")
    }

    @Test("SMMUv3: a StreamID is a PCI function only through the device tree's iommu-map")
    func streamID() throws {
        let tree = PlatformTree(.smmuv3QEMU)
        let t = tree.scan()
        // QEMU virt: iommu-map = <0x0 &smmu 0x0 0x10000> on the host bridge, identity.
        #expect(
            t.units["smmu3.0x0000000009050000"]?.streamMap
                == [StreamRange(firstID: 0, count: 0x10000, segment: 0, firstRID: 0)])
        let l = tree.ledger(t)
        let d = try #require(l.devices["0000:00:01.0"])
        #expect(d.unit == "smmu3.0x0000000009050000")
        #expect(d.total == 2)
        #expect(d.lastFault?.deviceAssumed == true)
        #expect(l.interrupts.totals[InterruptKey(unit: "smmu3.0x0000000009050000", vector: "evtq")] == 5)
        // A StreamID the map names but no device sits at keeps its sid and no device.
        var f = Fault(
            vendor: .armSMMUv3, kind: "f-translation", recoverable: false, unit: "9050000.smmuv3", sourceID: 0x300,
            text: "x")
        t.attribute(&f)
        #expect(f.device == nil)
        #expect(f.sourceID == 0x300)
        #expect(f.unit == "smmu3.0x0000000009050000")
    }

    @Test("no firmware map, or a StreamID outside it: the StreamID stays a StreamID, no device is invented")
    func streamIDWithoutMap() throws {
        func fault(_ sid: UInt32) -> Fault {
            Fault(
                vendor: .armSMMUv3, kind: "f-translation", recoverable: false, unit: "9050000.smmuv3", sourceID: sid,
                text: "x")
        }
        // The same machine with no iommu-map (an ACPI machine whose IORT the daemon cannot read):
        // sysfs still shows 00:01.0 behind the SMMU, but nothing says StreamID 8 is it.
        let bare = PlatformTree(.smmuv3QEMU)
        try FileManager.default.removeItem(atPath: bare.root + "/sys/firmware/devicetree/base/pcie@10000000/iommu-map")
        var f = fault(8)
        bare.scan().attribute(&f)
        #expect(f.device == nil && !f.deviceAssumed && f.sourceID == 8)
        // An offset map, as on Qualcomm SoCs (<0x0 &apps_smmu 0x1c00 0x1>-style): StreamID 0x1c08
        // is RID 0x08, and the platform master's StreamID 0x8 is no PCI function at all.
        let offset = PlatformTree(.smmuv3QEMU)
        offset.sys.writeBytes(
            "firmware/devicetree/base/pcie@10000000/iommu-map", cells: [0, 0x8004, 0x1c00, 0x100])
        let t = offset.scan()
        var pci = fault(0x1c08)
        t.attribute(&pci)
        #expect(pci.device?.description == "0000:00:01.0" && pci.deviceAssumed)
        var master = fault(0x8)
        t.attribute(&master)
        #expect(master.device == nil && master.sourceID == 0x8)
        // A mask that folds requester ids together names no single function.
        offset.sys.writeBytes("firmware/devicetree/base/pcie@10000000/iommu-map-mask", cells: [0xff00])
        var masked = fault(0x1c08)
        offset.scan().attribute(&masked)
        #expect(masked.device == nil)
    }

    @Test("a device that faulted and was then removed keeps its identity, marked gone")
    func removedDevice() throws {
        let tree = PlatformTree(.intelQEMU)
        let before = tree.scan()
        let ledger = tree.ledger(before)
        tree.sys.remove(device: "0000:00:01.0")
        let after = tree.scan().carryingGoneDevices(from: before)
        let edu = try #require(after.devices[PCIAddress(bus: 0, device: 1, function: 0)])
        #expect(edu.gone)
        #expect(edu.group == 1)
        #expect(edu.unit == "dmar0")
        let text = StatusReport(ledger: ledger, topology: after, daemon: nil).text()
        #expect(text.contains("(gone)"))
        #expect(PlatformSummary(topology: after, inventory: []).devices == 4)
    }

    @Test("no IOMMU: status says so and how to enable it, instead of an empty table")
    func noIOMMU() {
        let tree = PlatformTree(.noIOMMU)
        let t = tree.scan()
        let text = StatusReport(ledger: tree.ledger(t), topology: t, daemon: nil).text()
        #expect(text.contains("IOMMU off"))
        #expect(text.contains("intel_iommu=on"))
        #expect(!text.contains("Units\n"))
    }

    @Test("an idle 2-socket server exports well under 100 series")
    func fleetCost() {
        let tree = PlatformTree(.intelServer)
        let t = tree.scan()
        #expect(t.devices.count == 194)
        var idle = KmsgPipeline(topology: t)
        if case .success(let obs) = InterruptSampler(path: tree.root + "/interrupts").sample(topology: t) {
            idle.recordInterrupts(obs)
        }
        let snapshot = DaemonCore.Snapshot(
            ledger: idle.ledger, topology: t, generation: 1, position: idle.checkpointPosition)
        let series = String(
            decoding: MetricsExporter().render(snapshot, extras: .init(), process: ProcessStats()), as: UTF8.self
        ).split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(series.count < 100, "\(series.count) series")
    }
}

@Suite("/proc/interrupts at scale")
struct InterruptsScaleTests {
    @Test("a 4,096-CPU /proc/interrupts is read whole: every CPU's count of the fault vector, summed")
    func manyCPUs() throws {
        let cpus = 4096
        var text = String(repeating: " ", count: 10) + (0..<cpus).map { "CPU\($0)" }.joined(separator: " ") + "\n"
        // A few hundred rows like a large server's; the DMAR fault vector last, past the first MiBs.
        for irq in 0..<300 {
            text += " \(irq): " + String(repeating: "0 ", count: cpus) + " IR-IO-APIC  \(irq)-edge  dev\(irq)\n"
        }
        text += " 400: " + (0..<cpus).map { String($0 % 3) }.joined(separator: " ") + "  DMAR-MSI  0-edge  dmar0\n"
        text += "NMI: " + String(repeating: "0 ", count: cpus) + " Non-maskable interrupts\n"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("interrupts-4096-\(getpid())").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(text.utf8.count > 2 << 20 && text.utf8.count < InterruptSampler.sizeLimit)
        let obs = try InterruptSampler(path: path).sample(topology: Topology()).get()
        #expect(obs.count == 1)
        #expect(obs.first?.unit == "dmar0" && obs.first?.counts.count == cpus)
        #expect(obs.first?.counts.values.reduce(0, +) == UInt64((0..<cpus).reduce(0) { $0 + $1 % 3 }))
    }
}

/// Golden `status` (human and JSON) and `/metrics` per platform. UPDATE_GOLDEN=1 rewrites them.
@Suite("Golden outputs per platform")
struct GoldenTests {
    @Test("golden", arguments: Platform.all.map(\.name))
    func golden(_ name: String) throws {
        let p = try #require(Platform.all.first { $0.name == name })
        let tree = PlatformTree(p)
        let t = tree.scan()
        let ledger = tree.ledger(t)
        let report = StatusReport(ledger: ledger, topology: t, daemon: nil)
        // Byte for byte: the exporter's order is fixed; the process figures are zeros here.
        let snapshot = DaemonCore.Snapshot(
            ledger: ledger, topology: t, generation: 1,
            position: CountedPosition(countedSeq: nil, pendingSinceAtCount: nil))
        let metrics = String(
            decoding: MetricsExporter().render(snapshot, extras: .init(), process: ProcessStats()), as: UTF8.self)
        for (ext, actual) in [
            ("status.txt", report.text()), ("status.json", report.json() + "\n"), ("metrics", metrics),
        ] {
            let path = fixturesRoot + "/golden/\(name).\(ext)"
            if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
                try? FileManager.default.createDirectory(
                    atPath: fixturesRoot + "/golden", withIntermediateDirectories: true)
                try actual.write(toFile: path, atomically: true, encoding: .utf8)
                continue
            }
            let expected = readTestFile(path)
            #expect(!expected.isEmpty, "no golden file \(path) (run with UPDATE_GOLDEN=1 once)")
            #expect(actual == expected, "\(path) differs:\n\(actual)")
        }
    }
}
