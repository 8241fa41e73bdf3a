import IOMMUCore
import Testing

/// Classifier behaviour the fixture grammar cannot state: what `pendingSince` says while a group
/// or a hold is open, what `flush` releases and what it keeps, what `finish` does at the end of
/// input, and that a fault released by `flush` is not counted again when its detail arrives.
@Suite("Vendor parsers: groups, holds, flush and finish")
struct VendorTests {
    static func record(_ line: String) -> KmsgRecord {
        KmsgRecordParser.parse(line)!
    }

    static func run(_ lines: [String], into c: inout Classifier) -> [ClassifierOutput] {
        var out: [ClassifierOutput] = []
        for l in lines {
            if l == "@flush" {
                c.flush(into: &out)
            } else {
                let r = record(l)
                if c.wants(r) { c.classify(r, into: &out) }
            }
        }
        return out
    }

    static func faults(_ out: [ClassifierOutput]) -> [Fault] {
        out.compactMap { if case .fault(let f) = $0 { return f } else { return nil } }
    }

    @Test("an Intel DMA fault is held for its dump: pendingSince, then the dump names the unit")
    func intelHold() throws {
        var c = Classifier()
        var out = Self.run(
            [
                "3,10,1,-;DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0x7f000000 [fault reason 0x06] PTE Read access is not set"
            ],
            into: &c)
        #expect(out.isEmpty)
        #expect(c.pendingSince == 10)
        out += Self.run(["6,11,2,-;DMAR: Dump dmar3 table entries for IOVA 0x7f000000"], into: &c)
        let f = try #require(Self.faults(out).first)
        #expect(f.unit == "dmar3" && f.seq == 10)
        // Counted; the rest of its dump is still due: a restart re-reads from the fault. The
        // dump's last line (a present level-1 pte ends the walk) ends that.
        #expect(c.pendingSince == 10)
        out += Self.run(
            [
                "6,12,3,-;DMAR: root entry: 0x0000000101b4e001", "@flush",
                "6,13,4,-;DMAR: context entry: hi 0x0000000000000202, low 0x0000000104c8f001",
                "6,14,5,-;DMAR: pte level: 1, pte value: 0x0000000104c90003",
            ], into: &c)
        #expect(out.count == 1 && c.pendingSince == nil)
    }

    @Test("a dump for another address does not name the unit")
    func intelDumpMismatch() throws {
        var c = Classifier()
        let out = Self.run(
            [
                "3,10,1,-;DMAR: [DMA Read NO_PASID] Request device [00:02.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set",
                "6,11,2,-;DMAR: Dump dmar3 table entries for IOVA 0x2000",
            ], into: &c)
        #expect(try #require(Self.faults(out).first).unit == nil)
    }

    @Test("flush keeps a split AMD header waiting; finish counts it as unparsed")
    func amdSplitAcrossFlush() {
        var c = Classifier()
        var out = Self.run(["3,20,1,-;AMD-Vi: Event logged [", "@flush"], into: &c)
        #expect(out.isEmpty && c.pendingSince == 20)
        out += Self.run(
            ["4,21,2,-;IO_PAGE_FAULT device=05:00.0 domain=0x0012 address=0x00000000ff6101b0 flags=0x0070]"], into: &c)
        #expect(Self.faults(out).count == 1 && c.pendingSince == nil)
        var d = Classifier()
        var o2 = Self.run(["3,30,1,-;AMD-Vi: Event logged ["], into: &d)
        d.finish(into: &o2)
        #expect(o2.count == 1 && d.pendingSince == nil)
        if case .unparsed(let v, _, let seq) = o2.first {
            #expect(v == .amd && seq == 30)
        } else {
            Issue.record("\(o2)")
        }
    }

    @Test("AMD DTE lines are added to the event they follow")
    func amdAux() throws {
        var c = Classifier()
        let out = Self.run(
            [
                "3,40,1,-;iommu ivhd0: AMD-Vi: Event logged [ILLEGAL_DEV_TABLE_ENTRY device=0000:00:14.0 pasid=0x00000 address=0xfffffffdf8000000 flags=0x0a00]",
                "3,41,2,-;iommu ivhd0: AMD-Vi: Control Reg : 0xc8000000000a0f05",
                "3,42,3,-;AMD-Vi: DTE[0]: 6000000000000003", "3,43,4,-;AMD-Vi: DTE[1]: 0000000000000000",
                "3,44,5,-;AMD-Vi: DTE[2]: 0000000000000000", "3,45,6,-;AMD-Vi: DTE[3]: 0000000000000000",
            ], into: &c)
        let f = try #require(Self.faults(out).first)
        #expect(out.count == 1 && f.seq == 40 && c.pendingSince == nil)
        #expect(f.text.contains("DTE[3]") && f.text.contains("Control Reg"))
    }

    @Test("AMD DTE lines still due after flush: the event's seq stays pending until they came")
    func amdAuxAcrossFlush() throws {
        var c = Classifier()
        var out = Self.run(
            [
                "3,40,1,-;iommu ivhd0: AMD-Vi: Event logged [ILLEGAL_DEV_TABLE_ENTRY device=0000:00:14.0 pasid=0x00000 address=0xfffffffdf8000000 flags=0x0a00]",
                "3,41,2,-;AMD-Vi: DTE[0]: 6000000000000003", "@flush",
            ], into: &c)
        #expect(Self.faults(out).count == 1 && c.pendingSince == 40)
        out += Self.run(
            [
                "3,42,3,-;AMD-Vi: DTE[1]: 0000000000000000", "3,43,4,-;AMD-Vi: DTE[2]: 0000000000000000",
                "3,44,5,-;AMD-Vi: DTE[3]: 0000000000000000",
            ], into: &c)
        #expect(out.count == 1 && c.pendingSince == nil)
        // Without its event: one unparsed dump, pending from its first line until its last.
        out = Self.run(["3,50,6,-;AMD-Vi: CMD[0]: 00000000", "@flush"], into: &c)
        #expect(out.isEmpty && c.pendingSince == 50)
        out += Self.run(["3,51,7,-;AMD-Vi: CMD[1]: 20000000"], into: &c)
        c.finish(into: &out)
        #expect(out.count == 1 && c.pendingSince == nil)
        if case .unparsed(let v, _, let seq) = out.first {
            #expect(v == .amd && seq == 51)
        } else {
            Issue.record("\(out)")
        }
    }

    static let raw614 = [
        "3,50,1,-;arm-smmu-v3 arm-smmu-v3.0.auto: event 0x10 received:",
        "3,51,2,-;arm-smmu-v3 arm-smmu-v3.0.auto: \\x090x0000010000000010",
        "3,52,3,-;arm-smmu-v3 arm-smmu-v3.0.auto: \\x090x0000020000000000",
        "3,53,4,-;arm-smmu-v3 arm-smmu-v3.0.auto: \\x090x00000000ffff0000",
        "3,54,5,-;arm-smmu-v3 arm-smmu-v3.0.auto: \\x090x0000000000000000",
    ]
    static let decoded614 =
        "3,55,6,-;arm-smmu-v3 arm-smmu-v3.0.auto: event: F_TRANSLATION client: 0000:01:00.0 sid: 0x100 ssid: 0x0 iova: 0xffff0000 ipa: 0x0"

    @Test("6.14+ SMMUv3: the raw dump waits for its decoded line; one event")
    func smmuv3Decoded() throws {
        var c = Classifier()
        var out = Self.run(Self.raw614, into: &c)
        #expect(out.isEmpty && c.pendingSince == 50)
        out += Self.run([Self.decoded614], into: &c)
        let f = try #require(Self.faults(out).first)
        #expect(out.count == 1 && f.seq == 55 && f.device?.description == "0000:01:00.0")
        // Counted; its second line (printed right after it) is still due: a restart re-reads from it.
        #expect(c.pendingSince == 55)
        out += Self.run(
            ["3,56,7,-;arm-smmu-v3 arm-smmu-v3.0.auto: unpriv data read s1 \"Input address caused fault\" stag: 0x0"],
            into: &c)
        #expect(out.count == 1 && c.pendingSince == nil)
    }

    @Test("6.14+ SMMUv3: released by flush, its late decoded line is not a second event")
    func smmuv3FlushThenDecoded() throws {
        var c = Classifier()
        var out = Self.run(Self.raw614 + ["@flush"], into: &c)
        let f = try #require(Self.faults(out).first)
        #expect(out.count == 1 && f.seq == 54 && f.device == nil)
        out += Self.run([Self.decoded614], into: &c)
        #expect(out.count == 1)
        // …but a decoded line of another StreamID is an event of its own.
        out += Self.run(
            [
                "3,56,7,-;arm-smmu-v3 arm-smmu-v3.0.auto: event: C_BAD_STREAMID client: (unassigned sid) sid: 0x8 ssid: 0x0"
            ],
            into: &c)
        #expect(Self.faults(out).count == 2)
    }

    @Test("a half SMMUv3 dump waits across flush and is emitted by finish with what it has")
    func smmuv3Partial() throws {
        var c = Classifier()
        var out = Self.run(Array(Self.raw614.prefix(3)) + ["@flush"], into: &c)
        #expect(out.isEmpty && c.pendingSince == 50)
        c.finish(into: &out)
        let f = try #require(Self.faults(out).first)
        #expect(f.kind.rawValue == "f-translation" && f.sourceID == 0x100 && f.address == nil && f.seq == 52)
    }

    @Test("pendingSince is the oldest open group over all vendors")
    func pendingAcrossVendors() {
        var c = Classifier()
        _ = Self.run(
            [
                "3,60,1,-;arm-smmu 15000000.iommu: Unexpected global fault, this could be serious",
                "3,61,2,-;iommu ivhd1: AMD-Vi: Event logged [",
            ], into: &c)
        #expect(c.pendingSince == 60)
        _ = Self.run(
            [
                "3,62,3,-;arm-smmu 15000000.iommu: \\x09GFSR 0x00000002, GFSYNR0 0x00000002, GFSYNR1 0x00000043, GFSYNR2 0x00000000"
            ],
            into: &c)
        #expect(c.pendingSince == 61)
    }

    @Test("a pasted <=4.6 first line without its second line is still a fault at the end")
    func intelFirstLineOnly() throws {
        var c = Classifier()
        var out = Self.run(
            ["3,70,1,-;DMAR: DMAR:[DMA Read] Request device [00:14.0] fault addr cbe4b000 ", "@flush"], into: &c)
        #expect(out.isEmpty && c.pendingSince == 70)
        c.finish(into: &out)
        let f = try #require(Self.faults(out).first)
        #expect(f.kind == .dmaRead && f.reason == nil && f.address == 0xcbe4_b000)
    }

    @Test("SMMUv3 state stays bounded with many unit names")
    func manyUnits() {
        var c = Classifier()
        var out: [ClassifierOutput] = []
        for i in 0..<200 {
            let r = Self.record("6,\(1000 + i),1,-;arm-smmu-v3 smmu\(i).auto: event 0x10 received:")
            c.classify(r, into: &out)
        }
        // At most 64 units keep an open dump: each one past that pushes the oldest out, counted
        // as the fault its header proves (partial: the event id says the kind, nothing more), so
        // the oldest still open is the 137th.
        #expect(out.count == 200 - 64)
        #expect(
            out.allSatisfy {
                if case .fault(let f) = $0 {
                    f.vendor == .armSMMUv3 && f.kind == "f-translation" && f.partial && f.sourceID == nil
                        && f.access == nil
                } else {
                    false
                }
            })
        #expect(c.pendingSince == 1000 + 136)
        // End of input: the 64 still open are counted too; nothing is left.
        c.finish(into: &out)
        #expect(out.count == 200)
        #expect(c.pendingSince == nil)
    }
}
