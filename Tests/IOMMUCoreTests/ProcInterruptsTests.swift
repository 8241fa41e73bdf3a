import IOMMUCore
import Testing

@Suite("/proc/interrupts")
struct ProcInterruptsTests {
    @Test("real 6.1 Intel capture: dmar0 row, ERR/MIS single-value rows skipped")
    func intel() throws {
        let rows = ProcInterruptsParser.parse(Fixtures.read("interrupts/intel-default-after.txt"))
        let dmar = try #require(rows.first { $0.actions == ["dmar0"] })
        #expect(dmar.irq == 24)
        #expect(dmar.total == 4)
        #expect(dmar.counts.map(\.cpu) == ["CPU0", "CPU1"])
        #expect(dmar.chip == "DMAR-MSI   0-edge")
        let before = ProcInterruptsParser.parse(Fixtures.read("interrupts/intel-default-before.txt"))
        #expect(before.first { $0.actions == ["dmar0"] }?.total == 0)
    }

    @Test("real captures: AMD-Vi and SMMUv3 vectors")
    func amdAndSMMU() {
        let amd = ProcInterruptsParser.parse(Fixtures.read("interrupts/amd-default-after.txt"))
        #expect(amd.contains { $0.actions == ["AMD-Vi"] && $0.irq == 24 })
        let smmu = ProcInterruptsParser.parse(Fixtures.read("interrupts/smmuv3-stub-after.txt"))
        #expect(smmu.first { $0.actions == ["arm-smmu-v3-evtq"] }?.total == 5)
        #expect(smmu.contains { $0.actions == ["arm-smmu-v3-gerror"] })
    }

    @Test("every era's row shape maps to its unit and vector")
    func variants() {
        let rows = ProcInterruptsParser.parse(Fixtures.read("interrupts/constructed-variants.txt"))
        var units = Topology()
        units.scanned = true
        units.units["ivhd0"] = Topology.Unit(name: "ivhd0", vendor: .amd, irqs: [25])
        units.units["smmu3.0x0000000009050000"] = Topology.Unit(name: "smmu3.0x0000000009050000", vendor: .armSMMUv3)
        let obs = InterruptObservation.from(rows, topology: units)
        func find(_ irq: UInt32) -> (String, String)? { obs.first { $0.irq == irq }.map { ($0.unit, $0.vector) } }
        #expect(find(64)! == ("dmar0", "fault"))
        #expect(find(120)! == ("dmar0", "fault"))
        #expect(find(122)! == ("dmar1", "prq"))
        #expect(find(123) == nil)  // dmarN-perf is perfmon, not a fault vector
        #expect(find(25)! == ("ivhd0", "shared"))  // by msi_irqs
        #expect(find(28)! == ("ivhd0", "evt"))
        #expect(find(29)! == ("ivhd0", "ppr"))
        #expect(find(38)! == ("smmu3.0x0000000009050000", "evtq"))  // the only SMMUv3 unit
        #expect(obs.filter { $0.irq == 45 }.count == 2)  // shared line, one action each
        #expect(find(46)! == ("unknown", "global"))
        #expect(rows.first { $0.irq == 0 }?.actions == ["timer"])
    }

    @Test("§11 drivers: fixed names, and device names matched only against units the topology knows")
    func families() {
        let rows = ProcInterruptsParser.parse(Fixtures.read("interrupts/families-constructed.txt"))
        var t = Topology()
        t.scanned = true
        func unit(_ name: String, _ vendor: Vendor, device: String? = nil, aliases: [String] = []) {
            var u = Topology.Unit(name: name, vendor: vendor, platformDevice: device)
            u.aliases = aliases
            t.units[name] = u
        }
        unit("ff8f3f00.iommu", .rockchip, device: "ff8f3f00.iommu")
        unit("ff650800.iommu", .rockchip, device: "ff650800.iommu")
        unit("10205000.iommu", .mediaTek, device: "10205000.iommu")
        unit("70019000.memory-controller", .tegraMC, device: "70019000.memory-controller")
        unit("riscv-iommu@3010000.iommu", .riscvIOMMU, aliases: ["3010000.iommu"])
        unit("0000:00:01.0", .virtioIOMMU, device: "0000:00:01.0", aliases: ["virtio0"])
        let catalog = FamilyCatalog.standard
        func find(_ irq: UInt32) -> [String] {
            guard let row = rows.first(where: { $0.irq == irq }) else { return [] }
            return row.actions.compactMap { a in
                catalog.vector(forAction: a, topology: t).map { v in
                    (v.unit ?? t.unit(forInterrupt: irq, vector: v)) + " " + v.vector
                }
            }
        }
        #expect(find(32) == ["ff650800.iommu fault"])
        #expect(find(31) == ["ff8f3f00.iommu fault"])  // the IOMMU's action on its VOP's line
        #expect(find(33) == ["10205000.iommu fault"])
        #expect(find(38) == ["70019000.memory-controller fault"])
        #expect(find(39) == ["riscv-iommu@3010000.iommu shared"] && find(40) == find(39))
        #expect(find(41) == ["0000:00:01.0 evt"])
        #expect(find(42).isEmpty)  // virtio0-config: configuration changes, not faults
        // Fixed names: the family's only unit, or `unknown` when the topology has none of it.
        #expect(find(34) == ["unknown fault"] && find(35) == ["unknown context"])
        #expect(find(36) == ["unknown fault"] && find(37) == ["unknown fault"])
        // A device name no unit of the topology has is nobody's vector, whatever it looks like.
        #expect(find(43).isEmpty)
        #expect(catalog.vector(forAction: "ff650800.iommu") == nil)
    }

    @Test("counts never go back when a CPU goes offline")
    func perCPUMax() {
        var l = InterruptLedger()
        l.fold([InterruptObservation(irq: 24, unit: "dmar0", vector: "fault", counts: ["CPU0": 5, "CPU1": 3])])
        l.fold([InterruptObservation(irq: 24, unit: "dmar0", vector: "fault", counts: ["CPU0": 6])])
        #expect(l.total(unit: "dmar0") == 9)
        #expect(l.totals[InterruptKey(unit: "dmar0", vector: "fault")] == 9)
    }

    @Test(
        "garbage gives no rows and never traps",
        arguments: ["", "CPU0\n", "x:\n", " 1: a b c\n", "CPU0 CPU1\n 5: 1\n", "\n\n:::", "CPU0\n 99999999999: 1 x\n"])
    func garbage(_ s: String) {
        #expect(ProcInterruptsParser.parse(s).isEmpty)
    }

    @Test("counts at the top of their range add up without trapping")
    func saturates() {
        var l = InterruptLedger()
        let max = UInt64.max
        l.fold([InterruptObservation(irq: 24, unit: "dmar0", vector: "fault", counts: ["CPU0": max, "CPU1": max])])
        l.fold([InterruptObservation(irq: 25, unit: "dmar0", vector: "fault", counts: ["CPU0": max])])
        #expect(l.total(unit: "dmar0") == max)
        #expect(l.totals[InterruptKey(unit: "dmar0", vector: "fault")] == max)
    }
}

extension InterruptObservation {
    static func from(_ rows: [InterruptRow], topology: Topology) -> [InterruptObservation] {
        var out: [InterruptObservation] = []
        for row in rows {
            for a in row.actions {
                guard let v = IOMMUVector(action: a) else { continue }
                var c: [String: UInt64] = [:]
                for x in row.counts { c[x.cpu] = x.count }
                out.append(
                    InterruptObservation(
                        irq: row.irq, unit: topology.unit(forInterrupt: row.irq, vector: v), vector: v.vector, counts: c
                    ))
            }
        }
        return out
    }
}
