// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let sun50i = Vendor(rawValue: "sun50i-iommu")
}

/// The Allwinner H6/H616 IOMMU (drivers/iommu/sun50i-iommu.c, v5.8+) — kernel-formats.md §11.7.
public enum Sun50i {
    public static let descriptor = FamilyDescriptor(
        vendor: .sun50i, displayName: "Allwinner sun50i IOMMU",
        words: ["sun50i-iommu"], namingWords: ["sun50i-iommu", "sun50i_iommu"],
        // Plain dev_err: nothing is ratelimited. sun50i_iommu_probe(): devm_request_irq(dev, irq,
        // sun50i_iommu_irq, 0, dev_name(dev), iommu).
        interrupts: [.unitDevice(vector: "fault")],
        otherKinds: ["page-fault"], drivers: ["sun50i-iommu"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in Sun50iParser() }
}

/// `sun50i_iommu_report_fault()` (verified, unchanged since 4100b8c229b3, v5.8):
/// `dev_err(iommu->dev, "Page fault for %pad (master %d, dir %s)\n", &iova, master, "wr"|"rd")`
/// and, without a domain, `"Page fault while iommu not attached to any domain?\n"` (detail). A
/// page-table miss is always reported as a read ("we can't get what operation triggered the
/// fault"); taken as printed. `master` is the blame bit, the id in `iommus = <&iommu N>`: the
/// StreamID.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — the range is zapped, nothing is retried.
struct Sun50iParser: LineFamilyParser {
    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let unit = s.devicePrefix(driver: ["sun50i-iommu"]) else { return false }
            if s.looksAt("Page fault while iommu not attached") { return true }
            guard s.skip("Page fault for ") else { return false }
            guard let iova = s.hex0x(), s.skip(" (master "), let master = s.decimal32(), s.skip(", dir "),
                let access = s.oneOf(["rd": Access.read, "wr": .write]), s.skip(")"), s.atEndIgnoringSpaces
            else {
                out.append(.unparsed(vendor: .sun50i, text: r.text, seq: r.seq))
                return true
            }
            var f = Fault(.sun50i, "page-fault", unit: unit, address: iova, access: access, record: r)
            f.sourceID = master
            f.reasonText = "Page fault"
            out.append(.fault(f))
            return true
        }
    }
}
