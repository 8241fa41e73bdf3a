/// ARM SMMUv3 event-queue messages (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c) —
/// kernel-formats.md §3.1. Filled in by the fidelity work.
struct ArmSMMUv3Parser: Sendable {
    var pendingSince: UInt64? { nil }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool { false }
    mutating func flush(into out: inout [ClassifierOutput]) {}
}
