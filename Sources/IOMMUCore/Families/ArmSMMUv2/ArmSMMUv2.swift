extension Vendor {
    public static let armSMMU = Vendor(rawValue: "arm-smmu")
}

/// The ARM SMMUv1/v2 family (and its Qualcomm variants): what it declares (kernel-formats.md
/// §3.2, §3.3) and its parser below.
public enum ArmSMMUv2 {
    public static let descriptor = FamilyDescriptor(
        vendor: .armSMMU, displayName: "ARM SMMUv2",
        words: [.anyCase("smmu"), "qcom-iommu"], namingWords: ["arm-smmu", "smmu", "qcom-iommu"],
        ratelimitedFunctions: [
            "arm_smmu_context_fault", "arm_smmu_global_fault", "qcom_smmu_context_fault", "qcom_iommu_fault",
            "arm_smmu_print_context_fault_info",
        ],
        // arm_smmu_device_probe(): "arm-smmu global fault"; arm_smmu_init_domain_context():
        // "arm-smmu-context-fault".
        interrupts: [
            .fixed("arm-smmu global fault", vector: "global"), .fixed("arm-smmu-context-fault", vector: "context"),
        ],
        otherKinds: ["context-fault", "global-fault"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in ArmSMMUv2Parser() }
}

/// ARM SMMUv1/v2 context and global faults — kernel-formats.md §3.2, §3.3. Sources:
/// drivers/iommu/arm-smmu.c (≤ ~5.9) / drivers/iommu/arm/arm-smmu/arm-smmu.c and
/// qcom_iommu.c, verified in several versions:
/// * `arm_smmu_context_fault()`: 3.x–~4.x `"Unhandled context fault: iova=0x%08lx, fsynr=0x%x,
///   cb=%d\n"`; ~4.x–5.1 `"Unhandled context fault: fsr=0x%x, iova=0x%08lx, fsynr=0x%x,
///   cb=%d\n"`; 5.2+ adds `cbfrsynra=0x%x, ` before `cb=`; 6.11+ (d525b0af0c3b,
///   `arm_smmu_print_context_fault_info()`) follows it with `"FSR    = %08x [...], SID=0x%x\n"`
///   and `"FSYNR0 = %08x [...]\n"` — decoded copies of the same registers, no output.
/// * qcom_iommu.c `qcom_iommu_fault()`: the ≤5.1 string with `iova=0x%016llx`, prefix
///   `qcom-iommu-ctx <ctx>: `; arm-smmu-qcom-debug.c prints the 6.11+ lines.
/// * `arm_smmu_global_fault()`: `"Unexpected global fault, this could be serious\n"` or, with
///   bypass disabled and GFSR.USF, `"Blocked unknown Stream ID 0x%hx; boot with
///   \"arm-smmu.disable_bypass=0\" to allow, but this may have security implications\n"`, then
///   `"\tGFSR 0x%08x, GFSYNR0 0x%08x, GFSYNR1 0x%08x, GFSYNR2 0x%08x\n"`: two records, one fault,
///   joined per device name (the second completes it).
/// StreamID: `cbfrsynra & 0xffff`, or GFSYNR1 & 0xffff when GFSR.USF (0x2) is set. FSYNR0 WNR
/// (0x10) → write, else read. Owner: FSR.TF/PF → driver; GFSR.USF → firmware (§8.2).
///
/// RECOVERABLE (kernel-formats.md §8.1), decided here for SMMUv2: FSR.SS (bit 30) means the
/// context bank stalled the transaction (stall model) and it can be resumed → `recoverable:
/// true`; everything else (terminate model, global faults, and the 3.x line without fsr=) is
/// `recoverable: false`.
struct ArmSMMUv2Parser: FamilyParser {
    /// A global-fault first line per device name, waiting for its `\tGFSR` line.
    var pendingGlobal: [(unit: String, seq: UInt64?, text: String)] = []

    var pendingSince: UInt64? { pendingGlobal.compactMap(\.seq).min() }

    // FSR bits.
    static let fsrTF: UInt64 = 0x2
    static let fsrPF: UInt64 = 0x8
    static let fsrSS: UInt64 = 1 << 30
    static let fsynrWNR: UInt64 = 0x10
    static let gfsrUSF: UInt64 = 0x2

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            var unit: String?
            if let dp = DevicePrefix.scan(&s) {
                guard s.range(dp.driver, contains: "smmu") || s.range(dp.driver, contains: "iommu"),
                    !s.bytesEqual(dp.driver, "arm-smmu-v3")
                else { return false }
                unit = s.string(dp.device)
            }
            if s.skip("Unhandled context fault: ") {
                guard let f = Self.contextFault(&s, unit: unit, record: r) else { return false }
                out.append(.fault(f))
                return true
            }
            guard let unit else { return false }
            if s.looksAt("FSR    = ") || s.looksAt("FSYNR0 = ") { return true }
            if s.looksAt("Unexpected global fault") || s.looksAt("Blocked unknown Stream ID 0x") {
                if let i = pendingGlobal.firstIndex(where: { $0.unit == unit }) {
                    let stale = pendingGlobal.remove(at: i)
                    out.append(.unparsed(vendor: .armSMMU, text: stale.text, seq: stale.seq))
                }
                if pendingGlobal.count >= 16 {
                    let stale = pendingGlobal.removeFirst()
                    out.append(.unparsed(vendor: .armSMMU, text: stale.text, seq: stale.seq))
                }
                pendingGlobal.append((unit, r.seq, r.text))
                return true
            }
            if s.skip("\tGFSR 0x") {
                var text = r.text
                if let i = pendingGlobal.firstIndex(where: { $0.unit == unit }) {
                    text = pendingGlobal.remove(at: i).text + "\n" + r.text
                }
                guard let gfsr = s.hex(maxDigits: 8), s.skip(", GFSYNR0 0x"), let g0 = s.hex(maxDigits: 8),
                    s.skip(", GFSYNR1 0x"), let g1 = s.hex(maxDigits: 8), s.skip(", GFSYNR2 0x"),
                    let g2 = s.hex(maxDigits: 8), s.atEndIgnoringSpaces
                else {
                    out.append(.unparsed(vendor: .armSMMU, text: text, seq: r.seq))
                    return true
                }
                var f = Fault(
                    vendor: .armSMMU, kind: "global-fault", recoverable: false, unit: unit, seq: r.seq,
                    timestampUsec: r.timestampUsec, text: text)
                if gfsr & Self.gfsrUSF != 0 {
                    f.sourceID = UInt32(g1 & 0xffff)
                    f.owner = .firmware
                    f.reasonText = "Unidentified stream (StreamID not in the SMR/S2CR tables)"
                } else {
                    f.reasonText = "Global fault"
                }
                f.detail =
                    "GFSR " + hex0x(gfsr, width: 8) + ", GFSYNR0 " + hex0x(g0, width: 8) + ", GFSYNR1 "
                    + hex0x(g1, width: 8) + ", GFSYNR2 " + hex0x(g2, width: 8)
                out.append(.fault(f))
                return true
            }
            return false
        }
    }

    /// `[fsr=0x%x, ]iova=0x%lx, fsynr=0x%x, [cbfrsynra=0x%x, ]cb=%d`.
    static func contextFault(_ s: inout ByteScanner, unit: String?, record r: KmsgRecord) -> Fault? {
        let fsr = s.hexField("fsr=")
        if fsr != nil { guard s.skip(", ") else { return nil } }
        guard let iova = s.hexField("iova="), s.skip(", "), let fsynr = s.hexField("fsynr="),
            s.skip(", ")
        else {
            return nil
        }
        let cbfrsynra = s.hexField("cbfrsynra=")
        if cbfrsynra != nil { guard s.skip(", ") else { return nil } }
        guard s.skip("cb="), let cb = s.decimal(), s.atEndIgnoringSpaces else { return nil }
        var f = Fault(
            vendor: .armSMMU, kind: "context-fault", recoverable: false, unit: unit, address: iova,
            access: fsynr & fsynrWNR != 0 ? .write : .read, seq: r.seq, timestampUsec: r.timestampUsec,
            text: r.text)
        if let c = cbfrsynra { f.sourceID = UInt32(c & 0xffff) }
        var detail = "cb \(cb), fsynr " + hex0x(fsynr)
        if let fsr {
            f.recoverable = fsr & fsrSS != 0
            if fsr & fsrTF != 0 {
                f.reasonText = "Translation fault"
                f.owner = .driver
            } else if fsr & fsrPF != 0 {
                f.reasonText = "Permission fault"
                f.owner = .driver
            } else {
                f.reasonText = "Context fault"
            }
            detail = "fsr " + hex0x(fsr) + ", " + detail
        } else {
            f.reasonText = "Context fault"
        }
        f.detail = detail
        return f
    }

    /// Nothing is held for detail lines of another family.
    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int) {}

    mutating func flush(into out: inout [ClassifierOutput]) {}

    /// End of input: a first line whose GFSR line never came is still a global fault.
    mutating func finish(into out: inout [ClassifierOutput]) {
        for p in pendingGlobal {
            out.append(
                .fault(
                    Fault(
                        vendor: .armSMMU, kind: "global-fault", recoverable: false, unit: p.unit, seq: p.seq,
                        text: p.text)))
        }
        pendingGlobal.removeAll()
    }
}
