/// One range of a unit's stream map: StreamIDs (endpoint ids) `firstID ..< firstID + count` are
/// the PCI functions with requester ids `firstRID ..< firstRID + count` on `segment`. Only
/// firmware says this (DT `iommu-map`, ACPI IORT root-complex mappings, ACPI VIOT PCI ranges):
/// a StreamID is never taken for a requester id by itself.
public struct StreamRange: Sendable, Equatable, Hashable {
    public var firstID: UInt32
    public var count: UInt32
    public var segment: UInt16
    public var firstRID: UInt16

    public init(firstID: UInt32, count: UInt32, segment: UInt16, firstRID: UInt16) {
        self.firstID = firstID
        self.count = count
        self.segment = segment
        self.firstRID = firstRID
    }

    /// The PCI function of StreamID `id`, when this range holds it (and the requester id stays
    /// within 16 bits).
    public func device(for id: UInt32) -> PCIAddress? {
        guard id >= firstID, id - firstID < count else { return nil }
        let rid = UInt32(firstRID) + (id - firstID)
        guard rid <= 0xffff else { return nil }
        return PCIAddress(segment: segment, requesterID: UInt16(rid))
    }
}
