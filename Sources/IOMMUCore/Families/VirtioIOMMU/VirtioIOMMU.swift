// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let virtioIOMMU = Vendor(rawValue: "virtio-iommu")
}

/// virtio-iommu (drivers/iommu/virtio-iommu.c, v5.1+; x86 through ACPI VIOT since 5.14) —
/// kernel-formats.md §11.11. QEMU's virtio-iommu-pci reports translation faults to the guest
/// (Tests/IOMMUCoreTests/Fixtures/real/virtio-iommu-q35.txt).
public enum VirtioIOMMU {
    public static let descriptor = FamilyDescriptor(
        vendor: .virtioIOMMU, displayName: "virtio-iommu",
        words: ["virtio_iommu", "viommu_"], namingWords: ["virtio_iommu", "viommu_", "virtio-iommu"],
        ratelimitedFunctions: ["viommu_fault_handler"],
        // virtio_pci: with MSI-X one vector per virtqueue, `dev_name(&vdev->dev)` + `-event`
        // for the event queue (the faults), besides `-config` and `-request`; without MSI-X
        // (QEMU 7.2's virtio-iommu-pci) one INTx line named `virtioN` for everything.
        interrupts: [.unitDevice(suffix: "-event", vector: "evt"), .unitDevice(vector: "shared")],
        otherKinds: ["page-fault", "domain-fault", "unknown-fault"], drivers: ["virtio_iommu"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in VirtioIOMMUParser() }
}

/// `viommu_fault_handler()` (verified; unchanged since the first release):
/// `dev_err_ratelimited(viommu->dev, "%s fault from EP %u at %#llx [%s%s%s]\n", reason,
/// endpoint, address, R, W, X)` with F_ADDRESS, else `"%s fault from EP %u\n"`; reason
/// `domain` (R_DOMAIN: the endpoint is attached to no domain), `page` (R_MAPPING), `unknown`.
/// The prefix names the virtio device (`virtio_iommu virtio0: `): the unit. `EP` is the endpoint
/// id (the PCI requester id from VIOT, or the DT `iommus`/`iommu-map` cell): the StreamID,
/// never turned into a device here. QEMU reports unmapped accesses with F_ADDRESS only (`[]`):
/// the direction is then unknown. `viommu_probe()`'s `"input address: %llu bits\n"` is the
/// unit's inventory line.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — fault events are reports; the driver answers
/// none (page requests exist only in an unmerged RFC).
struct VirtioIOMMUParser: LineFamilyParser {
    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let unit = s.devicePrefix(driver: ["virtio_iommu"]) else { return false }
            if let reason = s.oneOf([
                "page fault from EP ": "page", "domain fault from EP ": "domain",
                "unknown fault from EP ": "unknown",
            ]) {
                guard let f = Self.fault(&s, reason: reason, unit: unit, record: r) else {
                    out.append(.unparsed(vendor: .virtioIOMMU, text: r.text, seq: r.seq))
                    return true
                }
                out.append(.fault(f))
                return true
            }
            if s.skip("input address: ") {
                out.append(
                    .inventory(
                        .unit(vendor: .virtioIOMMU, name: unit, address: nil, version: nil, cap: nil, ecap: nil),
                        seq: r.seq))
                return true
            }
            return s.looksAt("page mask: ") || s.looksAt("invalid event buffer")
                || s.looksAt("could not add event buffer")
        }
    }

    static func fault(_ s: inout ByteScanner, reason: String, unit: String, record r: KmsgRecord) -> Fault? {
        guard let endpoint = s.decimal32() else { return nil }
        var address: UInt64?
        var access: Access?
        var flags = ""
        if s.skip(" at ") {
            guard let a = s.hexOptionalPrefix(), s.skip(" [") else { return nil }
            address = a
            while let c = s.peek, c == UInt8(ascii: "R") || c == UInt8(ascii: "W") || c == UInt8(ascii: "X") {
                flags.append(Character(Unicode.Scalar(c)))
                s.position += 1
                guard flags.utf8.count <= 3 else { return nil }
            }
            guard s.skip("]") else { return nil }
            access = flags == "R" ? .read : flags == "W" ? .write : nil
        }
        guard s.atEndIgnoringSpaces else { return nil }
        let kind: FaultKind = reason == "page" ? "page-fault" : reason == "domain" ? "domain-fault" : "unknown-fault"
        var f = Fault(.virtioIOMMU, kind, unit: unit, address: address, access: access, record: r)
        f.sourceID = endpoint
        f.reasonText = reason
        if address != nil { f.detail = "flags [" + flags + "]" }
        return f
    }
}
