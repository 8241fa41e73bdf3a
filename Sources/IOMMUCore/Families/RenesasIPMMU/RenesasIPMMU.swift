// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let renesasIPMMU = Vendor(rawValue: "ipmmu-vmsa")
}

/// The Renesas IPMMU (drivers/iommu/ipmmu-vmsa.c, v3.15+) — kernel-formats.md §11.4.
public enum RenesasIPMMU {
    public static let descriptor = FamilyDescriptor(
        vendor: .renesasIPMMU, displayName: "Renesas IPMMU",
        words: ["ipmmu"], namingWords: ["ipmmu"],
        // Three dev_err_ratelimited() call sites, one function name.
        ratelimitedFunctions: ["ipmmu_domain_irq"],
        // ipmmu_probe(): devm_request_irq(…, ipmmu_irq, 0, dev_name(&pdev->dev), mmu) — on R-Car
        // Gen3 only the root IPMMU (ipmmu_mm) has one, while the lines name the cache IPMMU.
        interrupts: [.unitDevice(vector: "fault")],
        otherKinds: ["translation-fault", "permission-fault", "multi-hit", "walk-abort"], drivers: ["ipmmu-vmsa"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in RenesasIPMMUParser() }
}

/// `ipmmu_domain_irq()`, all `dev_err_ratelimited(mmu->dev, …)` (verified):
/// * 3.15–5.2: `"Multiple TLB hits @0x%08x\n"`, `"Page Table Walk Abort @0x%08x\n"`,
///   `"Unhandled fault: status 0x%08x iova 0x%08x\n"`;
/// * 5.3+ ("Prepare to handle 40-bit error addresses"): the same with `@0x%lx` / `iova 0x%lx`.
/// IMSTR: TF 0x1, PF 0x2, ABORT 0x4, MHIT 0x10. The MHIT and ABORT lines are printed whatever
/// the domain's handler does; `Unhandled fault` only when none took it (no direction is
/// reported). One status with MHIT and TF prints two lines: two faults. The unit is the IPMMU
/// the master's domain is attached to; no master, no direction.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — no stall, nothing is retried.
struct RenesasIPMMUParser: LineFamilyParser {
    static let imstrTF: UInt64 = 0x1

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let unit = s.devicePrefix(driver: ["ipmmu-vmsa"]) else { return false }
            var f: Fault?
            var known = true
            if s.skip("Multiple TLB hits @") {
                if let a = s.hex0x(), s.atEndIgnoringSpaces {
                    f = Fault(.renesasIPMMU, "multi-hit", unit: unit, address: a, record: r)
                    f?.reasonText = "Multiple TLB hits"
                }
            } else if s.skip("Page Table Walk Abort @") {
                if let a = s.hex0x(), s.atEndIgnoringSpaces {
                    f = Fault(.renesasIPMMU, "walk-abort", unit: unit, address: a, record: r)
                    f?.reasonText = "Page table walk abort"
                }
            } else if s.skip("Unhandled fault: status ") {
                if let status = s.hex0x(), status <= 0xffff_ffff, s.skip(" iova "), let a = s.hex0x(),
                    s.atEndIgnoringSpaces
                {
                    let translation = status & Self.imstrTF != 0
                    f = Fault(
                        .renesasIPMMU, translation ? "translation-fault" : "permission-fault", unit: unit,
                        address: a, record: r)
                    f?.reasonText = translation ? "Translation fault" : "Permission fault"
                    f?.detail = "IMSTR " + hex0x(status, width: 8)
                }
            } else {
                known = false
            }
            guard known else { return false }
            out.append(f.map { .fault($0) } ?? .unparsed(vendor: .renesasIPMMU, text: r.text, seq: r.seq))
            return true
        }
    }
}
