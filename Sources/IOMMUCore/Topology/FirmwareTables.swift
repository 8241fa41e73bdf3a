/// The firmware's word on which PCI function a StreamID (endpoint id) is: the device tree's
/// `iommu-map` (Documentation/devicetree/bindings/pci/pci-iommu.yaml), ACPI IORT root-complex ID
/// mappings (Arm DEN 0049, `struct acpi_iort_*` in include/acpi/actbl2.h) and ACPI VIOT PCI
/// ranges (virtio-iommu, `struct acpi_viot_*` in include/acpi/actbl3.h, drivers/acpi/viot.c).
/// Pure parsers of bytes the kernel exports under /sys/firmware; every offset and count is
/// checked against the bytes there are, so a truncated or hostile table gives fewer ranges,
/// never a trap.
public enum FirmwareTables {
    /// At most this many ranges from one table or property (real ones have a handful).
    public static let maxRanges = 4096

    // MARK: - Device tree

    /// One `iommu-map` entry: requester ids `ridBase ..< ridBase + length` go to the IOMMU with
    /// `phandle` as ids from `idBase`.
    public struct IOMMUMapEntry: Sendable, Equatable {
        public var ridBase: UInt32
        public var phandle: UInt32
        public var idBase: UInt32
        public var length: UInt32
    }

    /// `iommu-map` cells (big-endian u32): `<rid-base iommu-phandle iommu-specifier length>`,
    /// the specifier `#iommu-cells` of that IOMMU long (the first cell is the id; SMMUv2's second
    /// is an SMR mask). An IOMMU whose cell count `cells(phandle)` does not know ends the parse:
    /// the following entries cannot be found.
    public static func iommuMap(_ bytes: [UInt8], cells: (UInt32) -> Int?) -> [IOMMUMapEntry] {
        var out: [IOMMUMapEntry] = []
        var i = 0
        while i + 8 <= bytes.count, out.count < maxRanges {
            guard let rid = be32(bytes, i), let phandle = be32(bytes, i + 4), let n = cells(phandle),
                (1...4).contains(n),
                let id = be32(bytes, i + 8), let length = be32(bytes, i + 8 + 4 * n)
            else { break }
            out.append(IOMMUMapEntry(ridBase: rid, phandle: phandle, idBase: id, length: length))
            i += 12 + 4 * n
        }
        return out
    }

    /// A DT cell property of one u32 (`phandle`, `#iommu-cells`, `iommu-map-mask`).
    public static func cell(_ bytes: [UInt8]) -> UInt32? {
        bytes.count == 4 ? be32(bytes, 0) : nil
    }

    /// The stream ranges of one `iommu-map` entry on `segment` (nil when a mask folds several
    /// requester ids onto one id, so an id names no single function).
    public static func range(_ e: IOMMUMapEntry, segment: UInt16, mask: UInt32?) -> StreamRange? {
        if let mask, mask & 0xffff != 0xffff { return nil }
        guard e.length > 0, e.ridBase <= 0xffff else { return nil }
        let count = min(e.length, 0x1_0000 - e.ridBase)
        return StreamRange(firstID: e.idBase, count: count, segment: segment, firstRID: UInt16(e.ridBase))
    }

    // MARK: - ACPI IORT

    /// A root complex's mapping into an SMMU, from IORT: the SMMU by its register base (the
    /// kernel names SMMUv3 units `smmu3.0x<base>`, SMMUv1/v2 `smmu.0x<base>`).
    public struct IORTMapping: Sendable, Equatable {
        public var smmuBase: UInt64
        public var smmuV3: Bool
        public var range: StreamRange
    }

    /// IORT root-complex nodes (type 2) whose ID mappings point at an SMMUv1/v2 (type 3) or
    /// SMMUv3 (type 4) node. Single mappings (the root complex's own id) are left out.
    public static func iort(_ b: [UInt8]) -> [IORTMapping] {
        guard b.count >= 48, b[0..<4].elementsEqual("IORT".utf8), let count = le32(b, 36), let first = le32(b, 40)
        else { return [] }
        var out: [IORTMapping] = []
        var offset = Int(first)
        for _ in 0..<min(Int(count), 4096) {
            guard offset >= 48, offset + 16 <= b.count, let length = le16(b, offset + 1), length >= 16,
                offset + Int(length) <= b.count
            else { break }
            if b[offset] == 2, length >= 32, let segment = le32(b, offset + 28), segment <= 0xffff,
                let n = le32(b, offset + 8), let at = le32(b, offset + 12)
            {
                for k in 0..<min(Int(n), 1024) {
                    let m = offset + Int(at) + 20 * k
                    guard m + 20 <= offset + Int(length), let input = le32(b, m), let ids = le32(b, m + 4),
                        let output = le32(b, m + 8), let target = le32(b, m + 12), let flags = le32(b, m + 16)
                    else { break }
                    let t = Int(target)
                    guard flags & 1 == 0, input <= 0xffff, t + 24 <= b.count, b[t] == 3 || b[t] == 4,
                        let base = le64(b, t + 16)
                    else { continue }
                    // "Number of IDs" is the count minus one.
                    let span = min(UInt64(ids) + 1, UInt64(0x1_0000 - input))
                    out.append(
                        IORTMapping(
                            smmuBase: base, smmuV3: b[t] == 4,
                            range: StreamRange(
                                firstID: output, count: UInt32(span), segment: UInt16(segment), firstRID: UInt16(input))
                        ))
                    if out.count >= maxRanges { return out }
                }
            }
            offset += Int(length)
        }
        return out
    }

    // MARK: - ACPI VIOT

    /// A PCI range's mapping into a virtio-iommu, from VIOT: the IOMMU by its own PCI function
    /// (virtio-iommu-pci) or its MMIO base (virtio-mmio).
    public struct VIOTMapping: Sendable, Equatable {
        public enum IOMMU: Sendable, Equatable {
            case pci(PCIAddress)
            case mmio(UInt64)
        }
        public var iommu: IOMMU
        public var range: StreamRange
    }

    /// VIOT PCI-range nodes (type 1) and the virtio-iommu node (type 3 or 4) each points at.
    /// drivers/acpi/viot.c: endpoint id = `((segment - segment_start) << 16) + bdf - bdf_start +
    /// endpoint_start`.
    public static func viot(_ b: [UInt8]) -> [VIOTMapping] {
        guard b.count >= 48, b[0..<4].elementsEqual("VIOT".utf8), let count = le16(b, 36), let first = le16(b, 38)
        else { return [] }
        func iommu(at o: Int) -> VIOTMapping.IOMMU? {
            guard o >= 48, o + 16 <= b.count, let length = le16(b, o + 2), length >= 16 else { return nil }
            if b[o] == 3, let seg = le16(b, o + 4), let bdf = le16(b, o + 6) {
                return .pci(PCIAddress(segment: seg, requesterID: bdf))
            }
            if b[o] == 4, let base = le64(b, o + 8) { return .mmio(base) }
            return nil
        }
        var out: [VIOTMapping] = []
        var offset = Int(first)
        for _ in 0..<Int(count) {
            guard offset >= 48, offset + 4 <= b.count, let length = le16(b, offset + 2), length >= 4,
                offset + Int(length) <= b.count
            else { break }
            if b[offset] == 1, length >= 24, let ep = le32(b, offset + 4), let segStart = le16(b, offset + 8),
                let segEnd = le16(b, offset + 10), let bdfStart = le16(b, offset + 12),
                let bdfEnd = le16(b, offset + 14),
                let node = le16(b, offset + 16), segEnd >= segStart, bdfEnd >= bdfStart,
                let target = iommu(at: Int(node))
            {
                for seg in segStart...UInt16(min(Int(segEnd), Int(segStart) + 255)) {
                    let first = UInt64(ep) + (UInt64(seg - segStart) << 16)
                    guard first <= UInt64(UInt32.max) else { break }
                    out.append(
                        VIOTMapping(
                            iommu: target,
                            range: StreamRange(
                                firstID: UInt32(first), count: UInt32(bdfEnd - bdfStart) + 1, segment: seg,
                                firstRID: bdfStart)))
                    if out.count >= maxRanges { return out }
                }
            }
            offset += Int(length)
        }
        return out
    }

    // MARK: - Bytes

    static func be32(_ b: [UInt8], _ i: Int) -> UInt32? {
        guard i >= 0, i + 4 <= b.count else { return nil }
        return UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func le16(_ b: [UInt8], _ i: Int) -> UInt16? {
        guard i >= 0, i + 2 <= b.count else { return nil }
        return UInt16(b[i]) | UInt16(b[i + 1]) << 8
    }

    static func le32(_ b: [UInt8], _ i: Int) -> UInt32? {
        guard i >= 0, i + 4 <= b.count else { return nil }
        return UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }

    static func le64(_ b: [UInt8], _ i: Int) -> UInt64? {
        guard let lo = le32(b, i), let hi = le32(b, i + 4) else { return nil }
        return UInt64(hi) << 32 | UInt64(lo)
    }
}
