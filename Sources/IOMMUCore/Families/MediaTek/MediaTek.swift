// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let mediaTek = Vendor(rawValue: "mtk-iommu")
}

/// The MediaTek M4U (drivers/iommu/mtk_iommu.c v4.6+, mtk_iommu_v1.c v4.8+: one family) —
/// kernel-formats.md §11.3.
public enum MediaTek {
    public static let descriptor = FamilyDescriptor(
        vendor: .mediaTek, displayName: "MediaTek IOMMU",
        words: ["mtk-iommu"], namingWords: ["mtk-iommu", "mtk_iommu"],
        // dev_err_ratelimited() in the ISR; the v1 driver's got the `mtk_iommu_v1_` prefix later.
        ratelimitedFunctions: ["mtk_iommu_isr", "mtk_iommu_v1_isr"],
        // mtk_iommu_probe(): devm_request_irq(dev, irq, mtk_iommu_isr, 0, dev_name(dev), data).
        interrupts: [.unitDevice(vector: "fault")],
        otherKinds: [
            "translation-fault", "multi-hit", "invalid-pa-fault", "entry-replacement-fault", "tlb-miss-fault",
            "fifo-error", "unknown-fault",
        ],
        drivers: ["mtk-iommu", "mtk-iommu-v1"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in MediaTekParser() }
}

/// `mtk_iommu_isr()`, printed only when `report_iommu_fault()` returns non-zero (no domain
/// handler), `dev_err_ratelimited` (verified):
/// * v4.6 (0df4fabe208d) – ~5.11: `"fault type=0x%x iova=0x%x pa=0x%x larb=%d port=%d layer=%d %s\n"`;
/// * ~5.12 – ~5.18 (34-bit IOVA): the same with `iova=0x%llx pa=0x%llx`;
/// * ~5.19+ (MT8195, multi-bank): `"… pa=0x%llx master=0x%x(larb=%d port=%d) layer=%d %s\n"`;
/// * mtk_iommu_v1.c (mt2701/mt7623), v4.8+: `"fault type=0x%x iova=0x%x pa=0x%x larb=%d port=%d\n"`
///   — the hardware cannot tell a read from a write.
/// `type` is REG_MMU_FAULT_ST1: MMU0 bits [6:0], MMU1 [13:7], the same meaning in both halves;
/// the lowest set bit names the kind. The master is a (larb, port) pair: StreamID
/// `MTK_M4U_ID(larb, port) = larb << 5 | port`, the id device trees use; the device is never
/// printed.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — the TLB is flushed, the interrupt cleared.
struct MediaTekParser: LineFamilyParser {
    /// By bit of either MMU's half of REG_MMU_FAULT_ST1.
    static let kinds: [FaultKind] = [
        "translation-fault", "multi-hit", "invalid-pa-fault", "entry-replacement-fault", "tlb-miss-fault",
        "fifo-error", "fifo-error",
    ]
    static let reasons = [
        "Translation fault", "Main TLB multi-hit", "Invalid physical address", "Entry replacement fault",
        "TLB miss", "Miss transaction FIFO error", "Prefetch transaction FIFO error",
    ]

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let unit = s.devicePrefix(driver: ["mtk-iommu", "mtk-iommu-v1"]) else { return false }
            guard s.skip("fault type=") else { return false }
            guard let f = Self.fault(&s, unit: unit, record: r) else {
                out.append(.unparsed(vendor: .mediaTek, text: r.text, seq: r.seq))
                return true
            }
            out.append(.fault(f))
            return true
        }
    }

    static func fault(_ s: inout ByteScanner, unit: String, record r: KmsgRecord) -> Fault? {
        guard let type = s.hex0x(), s.skip(" iova="), let iova = s.hex0x(), s.skip(" pa="), let pa = s.hex0x(),
            s.skip(" ")
        else { return nil }
        var register: UInt64?
        if s.skip("master=") {
            guard let m = s.hex0x(), s.skip("(") else { return nil }
            register = m
        }
        guard s.skip("larb="), let larb = s.decimal32(), s.skip(" port="), let port = s.decimal32() else { return nil }
        if register != nil { guard s.skip(")") else { return nil } }
        var layer: UInt32?
        var access: Access?
        if s.skip(" layer=") {
            guard let l = s.decimal32(), s.skip(" "), let a = s.oneOf(["read": Access.read, "write": .write])
            else { return nil }
            layer = l
            access = a
        }
        guard s.atEndIgnoringSpaces else { return nil }
        var bit = 0
        while bit < 14, type & (1 << UInt64(bit)) == 0 { bit += 1 }
        let known = bit < 14
        var f = Fault(
            .mediaTek, known ? kinds[bit % 7] : "unknown-fault", unit: unit, address: iova, access: access, record: r)
        f.reasonText = known ? reasons[bit % 7] + (bit >= 7 ? " (MMU1)" : "") : "Unknown fault"
        if larb < 1 << 16, port < 32 { f.sourceID = larb << 5 | port }
        var detail = "type " + hex0x(type) + ", pa " + hex0x(pa) + ", larb \(larb) port \(port)"
        if let layer { detail += ", layer \(layer)" }
        if let register { detail += ", INT_ID " + hex0x(register) }
        f.detail = detail
        return f
    }
}
