import IOMMUCore
import Testing

/// A family is what its descriptor says: adding an event is one `EventDescriptor` and a fixture.
@Suite("Family descriptors")
struct DescriptorTests {
    static let madeUp = EventDescriptor("MADE_UP_EVENT", code: 0xf, reasonText: "A made-up event", owner: .hardware)

    /// The standard catalog with the AMD family's descriptor given one more event.
    static var catalog: FamilyCatalog {
        var amd = AMDVi.family
        amd.descriptor.events.insert(madeUp, at: amd.descriptor.events.count - 1)  // before UNKNOWN
        return FamilyCatalog(families: [IntelVTd.family, amd, ArmSMMUv3.family, ArmSMMUv2.family])
    }

    @Test("a made-up AMD event: one descriptor entry and its fixture, nothing else")
    func madeUpAMDEvent() {
        let file = "extensibility/made-up-amd-event.txt"
        let runner = FixtureRunner(name: file, text: Fixtures.read(file))
        let problems = runner.check(catalog: Self.catalog)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        // Without the entry, the one-record events are counted as unparsed AMD lines (a split
        // body with an unknown name does not even pass the prefilter; its header waits).
        let standard = runner.run()
        #expect(standard.allSatisfy { if case .unparsed(.amd?, _, _) = $0 { true } else { false } })
        #expect(standard.count == 2)
    }

    @Test("every family declares words, naming words and kinds; names and kinds are unique")
    func wellFormed() {
        let catalog = FamilyCatalog.standard
        #expect(Set(catalog.descriptors.map(\.vendor)).count == catalog.families.count)
        for d in catalog.descriptors {
            #expect(!d.words.isEmpty && !d.namingWords.isEmpty && !d.kinds.isEmpty, "\(d.vendor)")
            #expect(Set(d.events.map(\.name)).count == d.events.count, "\(d.vendor): an event twice")
            #expect(Set(d.kinds).count == d.kinds.count, "\(d.vendor): a kind twice")
            for k in d.kinds {
                #expect(k.rawValue.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "-" }, "\(d.vendor): \(k)")
            }
        }
        // Every ratelimited function belongs to one family only.
        let functions = catalog.descriptors.flatMap(\.ratelimitedFunctions)
        #expect(Set(functions).count == functions.count)
    }

    @Test("interrupt names map to their unit and vector, from the descriptors")
    func interrupts() {
        let c = FamilyCatalog.standard
        #expect(c.vector(forAction: "dmar3") == IOMMUVector(vendor: .intel, unit: "dmar3", vector: "fault"))
        #expect(c.vector(forAction: "dmar3-prq") == IOMMUVector(vendor: .intel, unit: "dmar3", vector: "prq"))
        #expect(c.vector(forAction: "dmar3-perf") == nil)
        #expect(c.vector(forAction: "AMD-Vi") == IOMMUVector(vendor: .amd, unit: nil, vector: "shared"))
        #expect(c.vector(forAction: "AMD-Vi2-PPR") == IOMMUVector(vendor: .amd, unit: "ivhd2", vector: "ppr"))
        #expect(c.vector(forAction: "arm-smmu-v3-evtq")?.vector == "evtq")
        #expect(c.vector(forAction: "arm-smmu global fault")?.vector == "global")
        #expect(c.vector(forAction: "dmar99999999999") == nil)
        #expect(c.vector(forAction: "nvme0q1") == nil)
    }
}
