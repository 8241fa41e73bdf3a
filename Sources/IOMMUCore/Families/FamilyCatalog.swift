/// The IOMMU families iommud knows, in the order the classifier asks them, and the tables the
/// rest of the code derives from their descriptors: the prefilter's words, which family a
/// ratelimited kernel function belongs to, which family an unparsed line names, and which
/// /proc/interrupts rows are fault vectors.
public struct FamilyCatalog: Sendable {
    /// One entry per family. Order matters only where formats could overlap: the classifier
    /// offers a record to each family's parser in this order, and an unparsed line goes to the
    /// first family one of whose naming words it contains.
    public var families: [Family]

    /// A family: its descriptor and a parser that starts empty.
    public struct Family: Sendable {
        public var descriptor: FamilyDescriptor
        public var makeParser: @Sendable (FamilyDescriptor) -> any FamilyParser

        public init(
            _ descriptor: FamilyDescriptor, parser: @escaping @Sendable (FamilyDescriptor) -> any FamilyParser
        ) {
            self.descriptor = descriptor
            self.makeParser = parser
        }
    }

    public init(families: [Family]) { self.families = families }

    /// Every family iommud ships. The drivers of kernel-formats.md §11 come before ArmSMMUv2, whose
    /// naming word `smmu` is inside `sysmmu` (Exynos) and whose context-fault text qcom_iommu
    /// shares. The trace event comes first: its line names a driver and a device (`IOMMU:arm-smmu
    /// 15000000.iommu`), and an unparsed one is its own, not that driver's.
    public static let standard = FamilyCatalog(families: [
        IOMMUTrace.family, IntelVTd.family, AMDVi.family, ArmSMMUv3.family, Rockchip.family, RenesasIPMMU.family,
        MediaTek.family,
        Exynos.family, AppleDART.family, Sun50i.family, QcomIOMMU.family, MSMIOMMU.family, TegraMC.family,
        VirtioIOMMU.family, RISCVIOMMU.family, OMAPIOMMU.family, FslPAMU.family, ArmSMMUv2.family,
    ])

    /// Messages of the IOMMU core that belong to no single family: `iommu` in the prefix of
    /// drivers/iommu/ messages and the `intel_iommu=`/`amd_iommu=` command line, `iopf` in the
    /// IOMMU-core page-fault functions (`get_domain_for_iopf: N callbacks suppressed`).
    public static let coreWords: [PrefilterWord] = [.anyCase("iommu"), "iopf"]

    public var descriptors: [FamilyDescriptor] { families.map(\.descriptor) }

    public func descriptor(of vendor: Vendor) -> FamilyDescriptor? {
        families.first { $0.descriptor.vendor == vendor }?.descriptor
    }

    /// The prefilter's words: every family's, and the core's.
    public var prefilterWords: [PrefilterWord] {
        Self.coreWords + families.flatMap { $0.descriptor.words + $0.descriptor.namingWords }
    }

    /// The family whose `<function>: N callbacks suppressed` this is; `.some(nil)` for an
    /// IOMMU-core function of no single family (its name speaks of an IOMMU); nil for a function
    /// that has nothing to do with an IOMMU.
    public func vendor(ofRatelimitedFunction function: String) -> Vendor?? {
        for f in families where f.descriptor.ratelimitedFunctions.contains(function) {
            return .some(f.descriptor.vendor)
        }
        let words: [PrefilterWord] = Self.coreWords + ["smmu", "dmar"]
        if words.contains(where: { $0.occurs(in: function) }) { return .some(nil) }
        return .none
    }

    /// The family a line names by one of its naming words (first in catalog order), `.some(nil)`
    /// when it only speaks of an IOMMU in general, nil when it names none.
    public func vendor(namedIn text: String) -> Vendor?? {
        for f in families where f.descriptor.namingWords.contains(where: { $0.occurs(in: text) }) {
            return .some(f.descriptor.vendor)
        }
        if Self.coreWords.contains(where: { $0.occurs(in: text) }) || text.contains("Event logged") {
            return .some(nil)
        }
        return .none
    }

    /// The fault vector an interrupt action name is (nil: not an IOMMU fault vector).
    public func vector(forAction action: String) -> IOMMUVector? {
        for f in families {
            for name in f.descriptor.interrupts {
                let m = name.match(action)
                if m.matched { return IOMMUVector(vendor: f.descriptor.vendor, unit: m.unit, vector: name.vector) }
            }
        }
        return nil
    }

    /// The fault vector an action name is, the topology at hand: besides the names `vector(forAction:)`
    /// knows, the device name of a unit of a family that requests its IRQ under `dev_name()`
    /// (plus the declared suffix). Only units the topology knows match: a name like
    /// `ff8f3f00.iommu` alone says nothing.
    public func vector(forAction action: String, topology: Topology) -> IOMMUVector? {
        if let v = vector(forAction: action) { return v }
        let units = topology.sortedUnits  // once, not per family and name
        for f in families {
            for name in f.descriptor.interrupts where name.namedAfterUnit {
                let suffix = name.suffix ?? ""
                guard action.hasSuffix(suffix) else { continue }
                let device = action.dropLast(suffix.count)
                for u in units where u.vendor == f.descriptor.vendor && u.isLogged(as: device) {
                    return IOMMUVector(vendor: f.descriptor.vendor, unit: u.name, vector: name.vector)
                }
            }
        }
        return nil
    }

    /// The family whose units' devices are bound to this kernel driver (sysfs `driver` link).
    public func vendor(ofDriver driver: String) -> Vendor? {
        families.first { $0.descriptor.drivers.contains(driver) }?.descriptor.vendor
    }

    /// Every (vendor, kind) pair the families can report.
    public var kinds: [(Vendor, FaultKind)] {
        families.flatMap { f in f.descriptor.kinds.map { (f.descriptor.vendor, $0) } }
    }
}

/// A family's classifier: claims the records of its family and turns them into outputs. One
/// value per classifier; it keeps the groups of records not yet complete.
public protocol FamilyParser: Sendable {
    /// Classifies one record if it is this family's: appends what it completes and returns
    /// true; returns false (and appends nothing) when the record is not its own.
    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool
    /// Sequence number of the first record of the oldest group not yet emitted, if any.
    var pendingSince: UInt64? { get }
    /// Another family claimed a record: a fault held only for detail lines that follow it
    /// immediately is complete. Insert it at `index` (to keep the input order).
    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int)
    /// The reader went idle: release what was held only to see whether a detail line would
    /// follow. Groups still missing records stay.
    mutating func flush(into out: inout [ClassifierOutput])
    /// End of input (replay): emit every group with what it has.
    mutating func finish(into out: inout [ClassifierOutput])
}
