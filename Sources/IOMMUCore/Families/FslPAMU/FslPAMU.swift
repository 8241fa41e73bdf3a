// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let fslPAMU = Vendor(rawValue: "fsl-pamu")
}

/// The Freescale/NXP PAMU (drivers/iommu/fsl_pamu.c, v3.13+, QorIQ PowerPC) —
/// kernel-formats.md §11.14.
public enum FslPAMU {
    public static let descriptor = FamilyDescriptor(
        vendor: .fslPAMU, displayName: "Freescale PAMU",
        // `#define pr_fmt(fmt) "fsl-pamu: %s: " fmt, __func__`.
        words: ["fsl-pamu"], namingWords: ["fsl-pamu", "pamu_"],
        // Plain pr_emerg: nothing is ratelimited. fsl_pamu_probe(): request_irq(irq, pamu_av_isr,
        // 0, "pamu", data) (verified).
        interrupts: [.fixed("pamu", vector: "fault")],
        otherKinds: ["access-violation"], drivers: ["fsl-pamu"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in FslPAMUParser() }
}

/// `pamu_av_isr()` (verified), every line `pr_emerg` (level 0) with the prefix `fsl-pamu:
/// pamu_av_isr: `: `"access violation interrupt\n"` once, then per PAMU with an access violation
/// `"POES1=%08x\n"`, `"POES2=%08x\n"`, `"AVS1=%08x\n"`, `"AVS2=%08x\n"`, `"AVA=%016llx\n"`,
/// `"UDAD=%08x\n"`, `"POEA=%016llx\n"`, four `"PAACE[%u]=%08x\n"` and `"Disabling liodn %x\n"`.
/// The POEA record carries the fault: LIODN (the master's Logical I/O Device Number, AVS1 >> 16)
/// as the StreamID, AVA as the address. No unit, device or direction.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — the LIODN is disabled, the device loses DMA
/// until reboot.
struct FslPAMUParser: FamilyParser {
    /// The registers of the violation under way, from its first record.
    var group: (seq: UInt64?, last: UInt64?, text: String, avs1: UInt64?, ava: UInt64?)?

    var pendingSince: UInt64? { group?.seq }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard s.skip("fsl-pamu: pamu_av_isr: ") else { return false }
            if s.looksAt("access violation interrupt") || s.looksAt("PAACE[") || s.looksAt("Disabling liodn ") {
                return true
            }
            guard
                let name = s.oneOf([
                    "POES1=": "POES1", "POES2=": "POES2", "AVS1=": "AVS1", "AVS2=": "AVS2", "AVA=": "AVA",
                    "UDAD=": "UDAD", "POEA=": "POEA",
                ])
            else { return false }
            guard let value = s.hex(maxDigits: 16), s.atEndIgnoringSpaces else {
                out.append(.unparsed(vendor: .fslPAMU, text: r.text, seq: r.seq))
                if name == "POEA" { group = nil }
                return true
            }
            if name == "POES1" || group == nil {
                group = (r.seq, r.seq, r.text, nil, nil)
            } else {
                group?.text += "\n" + r.text
                if let seq = r.seq { group?.last = seq }
            }
            if name == "AVS1" { group?.avs1 = value }
            if name == "AVA" { group?.ava = value }
            guard name == "POEA", let g = group else { return true }
            group = nil
            var f = Fault(.fslPAMU, "access-violation", unit: nil, address: g.ava, record: r)
            f.text = g.text
            f.sourceID = g.avs1.map { UInt32(truncatingIfNeeded: $0 >> 16) }
            f.reasonText = "Access violation"
            f.detail = "POEA " + hex0x(value) + (g.avs1.map { ", AVS1 " + hex0x($0, width: 8) } ?? "")
            f.partial = g.avs1 == nil || g.ava == nil
            out.append(.fault(f))
            return true
        }
    }

    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int) {}

    /// The reader went idle: the rest of the block may still come.
    mutating func flush(into out: inout [ClassifierOutput]) {}

    /// End of input: registers without their POEA line still prove the violation (on the last
    /// record of the block).
    mutating func finish(into out: inout [ClassifierOutput]) {
        guard let g = group else { return }
        group = nil
        var f = Fault(
            vendor: .fslPAMU, kind: "access-violation", recoverable: false, address: g.ava, seq: g.last, text: g.text)
        f.sourceID = g.avs1.map { UInt32(truncatingIfNeeded: $0 >> 16) }
        f.reasonText = "Access violation"
        f.partial = true
        out.append(.fault(f))
    }
}
