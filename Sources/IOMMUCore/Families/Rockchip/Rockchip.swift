// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let rockchip = Vendor(rawValue: "rockchip-iommu")
}

/// The Rockchip IOMMU (drivers/iommu/rockchip-iommu.c, v4.0+) — kernel-formats.md §11.2.
public enum Rockchip {
    public static let descriptor = FamilyDescriptor(
        vendor: .rockchip, displayName: "Rockchip IOMMU",
        // Every line carries `rk_iommu <dev>: ` (the platform driver's name).
        words: ["rk_iommu"], namingWords: ["rk_iommu"],
        // Plain dev_err: nothing is ratelimited.
        // rk_iommu_probe() (~4.18+, "Request irqs in rk_iommu_probe()"): devm_request_irq(…,
        // IRQF_SHARED, dev_name(dev), iommu) — the IOMMU's own name, often on the line of its
        // master (`ff8f0000.vop, ff8f3f00.iommu`). Before, the IRQ was requested at attach time
        // under the master's name: not recognisable.
        interrupts: [.unitDevice(vector: "fault")],
        otherKinds: ["page-fault", "bus-error"], drivers: ["rk_iommu"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in RockchipParser() }
}

/// `rk_iommu_irq()` per MMU base, unchanged since v4.0 (verified in 4.x, 4.18+, 6.x):
/// * `dev_err(iommu->dev, "Page fault at %pad of type %s\n", &iova, "write"|"read")`, then
///   `log_iova()`'s `"iova = %pad: dte_index: …"` and `"mmu_dte_addr: %pa dte@%pa: …"` lines and,
///   without a domain, `"Page fault while iommu not attached to domain?\n"` — detail of it.
/// * `"BUS_ERROR occurred at %pad\n"` (no direction); `"unexpected int_status: %#08x\n"` (no
///   address: no fault).
/// The master is never printed: the unit is the IOMMU, device and StreamID null.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — the handler zaps the IOTLB and acknowledges
/// the fault (PAGE_FAULT_DONE); nothing is retried.
struct RockchipParser: LineFamilyParser {
    /// Per unit, how far the last page fault's detail has come: 0 after `Page fault at`, 1 after
    /// `iova = `, 2 after `mmu_dte_addr: ` (then only `Page fault while iommu not attached` may
    /// follow). `rk_iommu_irq()` prints them in that order for one fault, so a detail line is the
    /// last fault's when it comes later in that order; otherwise its fault's first line is not in
    /// the input (lost records, a paste that begins there). The faults themselves are counted at
    /// once, but while the two `log_iova()` lines, which always follow, are still due, the fault's
    /// seq is pending: a restart then re-reads from it (without counting it again) and knows them.
    var detailStage: [String: (stage: UInt8, since: UInt64?)] = [:]
    static let maxUnits = 64

    var pendingSince: UInt64? {
        detailStage.values.compactMap { $0.stage < 2 ? $0.since : nil }.min()
    }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let unit = s.devicePrefix(driver: ["rk_iommu"]) else { return false }
            if s.skip("Page fault at ") {
                guard let iova = s.hex0x(), s.skip(" of type "),
                    let access = s.oneOf(["read": Access.read, "write": .write]),
                    s.atEndIgnoringSpaces
                else {
                    out.append(.unparsed(vendor: .rockchip, text: r.text, seq: r.seq))
                    return true
                }
                var f = Fault(.rockchip, "page-fault", unit: unit, address: iova, access: access, record: r)
                f.reasonText = "Page fault"
                out.append(.fault(f))
                setStage(0, of: unit, since: r.seq)
                return true
            }
            if s.skip("BUS_ERROR occurred at ") {
                detailStage[unit] = nil
                guard let iova = s.hex0x(), s.atEndIgnoringSpaces else {
                    out.append(.unparsed(vendor: .rockchip, text: r.text, seq: r.seq))
                    return true
                }
                var f = Fault(.rockchip, "bus-error", unit: unit, address: iova, record: r)
                f.reasonText = "Bus error"
                out.append(.fault(f))
                return true
            }
            // log_iova() and the no-domain line: detail of the page fault just printed.
            let stage: UInt8
            if s.looksAt("iova = ") {
                stage = 1
            } else if s.looksAt("mmu_dte_addr: ") {
                stage = 2
            } else if s.looksAt("Page fault while iommu not attached") {
                stage = 3
            } else {
                return false
            }
            if let last = detailStage[unit], last.stage < stage {
                setStage(stage, of: unit, since: last.since)
                return true
            }
            // Alone: rk_iommu_irq() prints these lines only for a page fault (RK_MMU_IRQ_PAGE_FAULT),
            // so the line proves one — counted, partial; `iova = %pad:` also gives its address.
            var f = Fault(.rockchip, "page-fault", unit: unit, record: r)
            if s.skip("iova = "), let iova = s.hex0x(), s.skip(":") { f.address = iova }
            f.reasonText = "Page fault"
            f.partial = true
            out.append(.fault(f))
            setStage(stage, of: unit, since: r.seq)
            return true
        }
    }

    /// End of the input: no detail line is due any more.
    mutating func finish(into out: inout [ClassifierOutput]) { detailStage.removeAll() }

    private mutating func setStage(_ stage: UInt8, of unit: String, since: UInt64?) {
        if stage >= 3 {
            detailStage[unit] = nil
            return
        }
        if detailStage[unit] == nil, detailStage.count >= Self.maxUnits { detailStage.removeAll() }
        detailStage[unit] = (stage, since)
    }
}
