/// ARM SMMUv2 context and global faults (drivers/iommu/arm/arm-smmu/arm-smmu.c) —
/// kernel-formats.md §3.2. Filled in by the fidelity work.
struct ArmSMMUv2Parser: Sendable {
    var pendingSince: UInt64? { nil }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool { false }
    mutating func flush(into out: inout [ClassifierOutput]) {}
}
