import IOMMUCore
import Testing

/// What a partial fault, a master's name and a memory client look like to the user: `replay
/// --json`, journal entries, and the fault read back from either.
@Suite("Partial faults, masters and clients in the outputs")
struct PartialAndMasterTests {
    @Test("a lone SMMUv3 event header pasted from a bug report is a partial fault of its event's kind")
    func loneHeader() throws {
        let (_, faults) = PipelineReplay.run(
            "[  812.004311] arm-smmu-v3 arm-smmu-v3.0.auto: event 0x10 received:\n"
                + "[  812.120000] arm-smmu-v3 arm-smmu-v3.0.auto: event 0x02 received:\n")
        #expect(faults.map(\.kind) == ["f-translation", "c-bad-streamid"])
        let f = try #require(faults.first)
        #expect(f.partial && f.sourceID == nil && f.access == nil && f.device == nil)
        let json = f.jsonLine()
        #expect(json.contains(#""partial":true"#))
        #expect(json.contains(#""kind":"f-translation""#))
        // Whole groups say nothing about it: the key is left out.
        let (_, whole) = PipelineReplay.run(
            """
            [  812.004311] arm-smmu-v3 arm-smmu-v3.0.auto: event 0x10 received:
            [  812.004312] arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000800000010
            [  812.004313] arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000020800000000
            [  812.004314] arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000000001000
            [  812.004315] arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000000000000

            """)
        #expect(whole.count == 1 && !whole[0].partial && !whole[0].jsonLine().contains("partial"))
    }

    @Test("the master's name is the device, the Tegra client its own field, both read back")
    func masterAndClient() throws {
        let (_, faults) = PipelineReplay.run(
            "[ 33.1] exynos-sysmmu 13a00000.sysmmu: 13800000.decon: AR PAGE FAULT occurred at 0x40001000\n"
                + "[ 33.2] tegra-mc 70019000.memory-controller: display0a: read @0x00000000fe000000: "
                + "EMEM address decode error (SMMU translation error [-RW])\n")
        try #require(faults.count == 2)
        let exynos = faults[0]
        #expect(exynos.deviceLabel == "13800000.decon" && exynos.device == nil)
        let json = exynos.jsonLine()
        #expect(json.contains(#""device":"13800000.decon""#))
        #expect(Fault(json: json)?.deviceLabel == "13800000.decon")
        let tegra = faults[1]
        #expect(tegra.deviceLabel == nil && tegra.client == "display0a")
        #expect(Fault(json: tegra.jsonLine())?.client == "display0a")
        // Journal: IOMMU_DEVICE is the master's name; the client and partial have fields of their own.
        var p = tegra
        p.partial = true
        for f in [exynos, p] {
            let fields = JournalEntries.fault(f, device: .init(), realtimeOffsetUsec: 0)
            let d = Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
            #expect(d["IOMMU_DEVICE"] == f.deviceLabel)
            #expect(d["IOMMU_CLIENT"] == f.client)
            #expect(d["IOMMU_PARTIAL"] == (f.partial ? "true" : nil))
            let back = try #require(JournalEntries.fault(fromFields: d))
            #expect(back.deviceLabel == f.deviceLabel && back.client == f.client && back.partial == f.partial)
        }
        #expect(
            JournalEntries.sentence(p, device: .init())
                == "NVIDIA Tegra memory controller translation-fault (read) by memory client display0a on "
                + "70019000.memory-controller to 0xfe000000 blocked: EMEM address decode error "
                + "(from part of the kernel's report: its other lines are not in the log)")
    }
}
