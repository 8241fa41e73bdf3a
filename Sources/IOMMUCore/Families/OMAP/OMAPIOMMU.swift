// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let omapIOMMU = Vendor(rawValue: "omap-iommu")
}

/// The TI OMAP IOMMU (drivers/iommu/omap-iommu.c: OMAP3/4/5, DRA7, AM57 remote-processor and
/// ISP MMUs) — kernel-formats.md §11.13.
public enum OMAPIOMMU {
    public static let descriptor = FamilyDescriptor(
        vendor: .omapIOMMU, displayName: "TI OMAP IOMMU",
        words: ["omap-iommu"], namingWords: ["omap-iommu", "omap_iommu"],
        // Plain dev_err: nothing is ratelimited. omap_iommu_probe(): devm_request_irq(…,
        // iommu_fault_handler, IRQF_SHARED, dev_name(obj->dev), obj).
        interrupts: [.unitDevice(vector: "fault")],
        otherKinds: ["translation-fault", "walk-fault", "multi-hit", "tlb-miss", "emu-miss", "unknown-fault"],
        drivers: ["omap-iommu"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in OMAPIOMMUParser() }
}

/// `iommu_fault_handler()` (verified; text unchanged since the move to drivers/iommu), printed
/// when `report_iommu_fault()` fails: `dev_err(obj->dev, "%s: errs:0x%08x da:0x%08x pgd:0x%p
/// *pgd:px%08x\n", obj->name, …)` (note `px`) or `"%s: errs:0x%08x da:0x%08x pgd:0x%p
/// *pgd:0x%08x pte:0x%p *pte:0x%08x\n"`; `obj->name` is the device name again, `%p` hashed since
/// 4.15 (`(____ptrval____)` early in boot). errs = MMU_IRQSTATUS: TRANSLATIONFAULT 0x2 >
/// TABLEWALKFAULT 0x8 > MULTIHITFAULT 0x10 > TLBMISS 0x1 > EMUMISS 0x4. `da` is the address. The
/// OMAP remoteproc driver's own handler logs `iommu fault: da … flags …` first (a client's line,
/// not the IOMMU's: not counted) and returns -ENOSYS.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — the MMU interrupt is disabled after it.
struct OMAPIOMMUParser: LineFamilyParser {
    static let bits: [(UInt64, FaultKind, String)] = [
        (0x2, "translation-fault", "Translation fault"), (0x8, "walk-fault", "Table walk fault"),
        (0x10, "multi-hit", "Multi-hit fault"), (0x1, "tlb-miss", "TLB miss"), (0x4, "emu-miss", "Emulator miss"),
    ]

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            var copy = s
            // remoteproc's rproc_iommu_fault(): `iommu fault: da 0x%lx flags 0x%x` — the client's.
            if copy.devicePrefix(driver: ["remoteproc"]) != nil { return copy.looksAt("iommu fault: da ") }
            guard let unit = s.devicePrefix(driver: ["omap-iommu"]) else { return false }
            let name = s.token(until: UInt8(ascii: ":"))
            guard !name.isEmpty, s.skip(": errs:") else { return false }
            guard let errs = s.hex0x(), s.skip(" da:"), let da = s.hex0x(), s.skip(" pgd:0x"),
                s.skip(past: " *pgd:"), s.skip("px") || s.skip("0x"), s.hex(maxDigits: 8) != nil
            else {
                out.append(.unparsed(vendor: .omapIOMMU, text: r.text, seq: r.seq))
                return true
            }
            if s.skip(" pte:0x") {
                guard s.skip(past: " *pte:0x"), s.hex(maxDigits: 8) != nil else {
                    out.append(.unparsed(vendor: .omapIOMMU, text: r.text, seq: r.seq))
                    return true
                }
            }
            guard s.atEndIgnoringSpaces else {
                out.append(.unparsed(vendor: .omapIOMMU, text: r.text, seq: r.seq))
                return true
            }
            let hit = Self.bits.first { errs & $0.0 != 0 }
            var f = Fault(.omapIOMMU, hit?.1 ?? "unknown-fault", unit: unit, address: da, record: r)
            f.reasonText = hit?.2 ?? "Unknown fault"
            f.detail = "errs " + hex0x(errs, width: 8)
            out.append(.fault(f))
            return true
        }
    }
}
