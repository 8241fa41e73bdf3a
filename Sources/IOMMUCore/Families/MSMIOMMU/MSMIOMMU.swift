// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let msmIOMMU = Vendor(rawValue: "msm-iommu")
}

/// Qualcomm's MSM IOMMU v0 (drivers/iommu/msm_iommu.c: MSM8x60/8960/APQ8064, 32-bit ARM) —
/// kernel-formats.md §11.9.
public enum MSMIOMMU {
    public static let descriptor = FamilyDescriptor(
        vendor: .msmIOMMU, displayName: "Qualcomm MSM IOMMU (msm_iommu)",
        // `#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt`: every line starts `msm_iommu: `.
        words: ["msm_iommu"], namingWords: ["msm_iommu"],
        // Plain pr_err: nothing is ratelimited. msm_iommu_probe(): request_threaded_irq(…,
        // "msm_iommu_secure_irpt_handler", …) (both eras).
        interrupts: [.fixed("msm_iommu_secure_irpt_handler", vector: "fault")],
        otherKinds: [
            "translation-fault", "permission-fault", "access-flag-fault", "tlb-miss-fault", "walk-error", "multi-hit",
            "unknown-fault",
        ],
        drivers: ["msm_iommu"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in MSMIOMMUParser() }
}

/// `msm_iommu_fault_handler()` / `print_ctx_regs()` (verified in the 3.x/4.x file and the
/// current tree), all `pr_err`: `"Unexpected IOMMU page fault!\n"`, `"base = %08x\n"`, then per
/// faulting context bank `"Fault occurred in context %d.\n"`, `"Interesting registers:\n"`,
/// `"FAR    = %08x    PAR    = %08x\n"`, `"FSR    = %08x [%s…]\n"` (tokens `"TF "`, `"AFF "`,
/// `"APF "`, `"TLBMF "`, `"HTWDEEF "`, `"HTWSEEF "`, `"MHF "`, `"SL "`, `"SS "`, `"MULTI "`), then
/// FSYNR0/FSYNR1, TTBR0/TTBR1, SCTLR/ACTLR and (3.1–4.9 only) PRRR/NMRR lines. The FSR record
/// carries the context's fault, with the address of the FAR line before it; the rest is detail.
/// No unit, master or direction is printed.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — CFCFG=1 but the handler only clears FSR.
struct MSMIOMMUParser: FamilyParser {
    /// The context block under way: where it began, its last record, and the FAR once printed.
    var block: (seq: UInt64?, last: UInt64?, timestampUsec: UInt64?, text: String, far: UInt64?)?

    var pendingSince: UInt64? { block?.seq }

    static let tokens: [(String, FaultKind, String)] = [
        ("TF", "translation-fault", "Translation fault"), ("APF", "permission-fault", "Access permission fault"),
        ("AFF", "access-flag-fault", "Access flag fault"), ("TLBMF", "tlb-miss-fault", "TLB miss fault"),
        ("HTWDEEF", "walk-error", "Table walk decode error"), ("HTWSEEF", "walk-error", "Table walk slave error"),
        ("MHF", "multi-hit", "Multiple hit fault"),
    ]

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard s.skip("msm_iommu: ") else { return false }
            if s.skip("Fault occurred in context ") {
                endBlock(into: &out)
                block = (r.seq, r.seq, r.timestampUsec, r.text, nil)
                return true
            }
            if s.skip("FAR    = ") {
                guard let far = s.hex(maxDigits: 8), s.skip("    PAR    = "), s.hex(maxDigits: 8) != nil,
                    s.atEndIgnoringSpaces
                else {
                    out.append(.unparsed(vendor: .msmIOMMU, text: r.text, seq: r.seq))
                    return true
                }
                if block == nil {
                    block = (r.seq, r.seq, r.timestampUsec, r.text, far)
                } else {
                    block?.far = far
                    if let seq = r.seq { block?.last = seq }
                    block?.text += "\n" + r.text
                }
                return true
            }
            if s.skip("FSR    = ") {
                let b = block
                block = nil
                guard let fsr = s.hex(maxDigits: 8), s.skip(" ["), let close = s.find("]"), close - s.position <= 96
                else {
                    out.append(.unparsed(vendor: .msmIOMMU, text: r.text, seq: r.seq))
                    return true
                }
                let flags = s.string(s.position..<close).split(separator: " ").map(String.init)
                let hit = Self.tokens.first { flags.contains($0.0) }
                var f = Fault(.msmIOMMU, hit?.1 ?? "unknown-fault", unit: nil, address: b?.far, record: r)
                f.reasonText = hit?.2 ?? "Context fault"
                f.detail =
                    "FSR " + hex0x(fsr, width: 8) + (flags.isEmpty ? "" : " [" + flags.joined(separator: " ") + "]")
                f.partial = b?.far == nil
                if let b { f.text = b.text + "\n" + r.text }
                out.append(.fault(f))
                return true
            }
            // The interrupt's header and the registers around the fault: detail.
            for detail: StaticString in [
                "Unexpected IOMMU page fault!", "base = ", "Interesting registers:", "FSYNR0 = ", "TTBR0  = ",
                "SCTLR  = ", "PRRR   = ", "Invalid device ID in context interrupt handler",
                "Invalid PAR value detected",
            ] where s.looksAt(detail) {
                return true
            }
            return false
        }
    }

    /// A context block whose FSR line never came: the fault it proves, partial, on its last record.
    private mutating func endBlock(into out: inout [ClassifierOutput]) {
        guard let b = block else { return }
        block = nil
        var f = Fault(
            vendor: .msmIOMMU, kind: "unknown-fault", recoverable: false, address: b.far, seq: b.last,
            timestampUsec: b.timestampUsec, text: b.text)
        f.reasonText = "Context fault"
        f.partial = true
        out.append(.fault(f))
    }

    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int) {}

    /// The reader went idle: the block may still be printed to its end.
    mutating func flush(into out: inout [ClassifierOutput]) {}

    mutating func finish(into out: inout [ClassifierOutput]) { endBlock(into: &out) }
}
