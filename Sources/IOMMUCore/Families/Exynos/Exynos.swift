// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let exynos = Vendor(rawValue: "exynos-sysmmu")
}

/// The Samsung Exynos System MMU (drivers/iommu/exynos-iommu.c) — kernel-formats.md §11.5.
public enum Exynos {
    public static let descriptor = FamilyDescriptor(
        vendor: .exynos, displayName: "Samsung Exynos SysMMU",
        // 4.10+ lines carry `exynos-sysmmu <dev>: `; the 3.18–4.9 pr_err() lines only the
        // SysMMU's name (`13e80000.sysmmu`) after `by`, or, cut short, just the fault name.
        words: ["sysmmu", "FAULT occurred at", "ERROR occurred at"], namingWords: ["sysmmu"],
        // Plain dev_err/pr_err: nothing is ratelimited. exynos_sysmmu_probe():
        // devm_request_irq(dev, irq, exynos_sysmmu_irq, 0, dev_name(dev), data).
        interrupts: [.unitDevice(vector: "fault")],
        otherKinds: [
            "page-fault", "walk-fault", "multi-hit", "bus-error", "permission-fault", "security-fault",
            "unknown-fault",
        ],
        drivers: ["exynos-sysmmu"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in ExynosParser() }
}

/// `show_fault_information()` / `exynos_sysmmu_irq()` by era (verified unless noted):
/// * 3.18–4.9: `pr_err("%s occurred at %#x by %s(Page table base: %pa)\n", sysmmu_fault_name[],
///   addr, dev_name(sysmmu), &base)` + `"\tLv1 entry: %#x\n"` [+ `"\t Lv2 entry: %#x\n"`]; names
///   `PAGE FAULT`, `AR MULTI-HIT FAULT`, `AW MULTI-HIT FAULT`, `BUS ERROR`, `AR/AW SECURITY
///   PROTECTION FAULT`, `AR/AW ACCESS PROTECTION FAULT`, `UNKNOWN FAULT` (table from memory).
/// * 4.10 (SysMMU v5): `dev_err(sysmmu, "%s FAULT occurred at %#x (page table base: %pa)\n", …)`;
///   v5 names `AR/AW PTW`, `AR/AW PAGE`, `AR/AW MULTI-HIT`, `AR/AW ACCESS PROTECTION`, `AR/AW
///   SECURITY PROTECTION`; v1 `PAGE`, `BUS ERROR`, …
/// * 4.11–6.1 ("Improve page fault debug message"): `"%s: %s FAULT occurred at %#x\n"`, the first
///   `%s` the MASTER's device name; page-table lines moved to dev_dbg.
/// * 6.2+ (v7 support): `"%s: [%s] %s FAULT occurred at %#x\n"` with `READ`/`WRITE`; names
///   without AR/AW (`PTW`, `PAGE`, `MULTI-HIT`, `BUS ERROR`, `ACCESS PROTECTION`, `SECURITY
///   PROTECTION`, `RESERVED`).
/// Kind from the name; access from AR/AW or the bracket word; device = the master where printed.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — an unhandled fault ends in BUG_ON (≤6.1) or
/// panic("Unrecoverable System MMU Fault!") (6.2+).
struct ExynosParser: LineFamilyParser {
    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            let prefixUnit = s.devicePrefix(driver: ["exynos-sysmmu"])
            let start = s.position
            // `exynos_sysmmu_irq: Fault is not occurred by System MMU '%s'!` (≤4.9, then BUG()):
            // an interrupt that was not the SysMMU's, no fault record.
            if prefixUnit == nil, s.find("Fault is not occurred by System MMU") != nil { return true }
            guard let at = s.find(" occurred") else { return false }
            if prefixUnit == nil {
                // 3.18–4.9, no prefix: only a line that begins with a fault name is ours.
                let head = s.string(start..<at)
                guard Self.kind(ofName: head) != nil, head.utf8.first.map({ $0 >= 0x41 && $0 <= 0x5a }) == true
                else { return false }
            }
            guard let f = Self.fault(&s, unit: prefixUnit, record: r) else {
                out.append(.unparsed(vendor: .exynos, text: r.text, seq: r.seq))
                return true
            }
            out.append(.fault(f))
            return true
        }
    }

    static func fault(_ s: inout ByteScanner, unit prefixUnit: String?, record r: KmsgRecord) -> Fault? {
        var master: String?
        // `<master>: ` (4.11+): a word without spaces before the first ": ".
        if prefixUnit != nil, let colon = s.find(": "), !s.string(s.position..<colon).contains(" ") {
            master = s.string(s.position..<colon)
            s.position = colon + 2
        }
        var access = s.oneOf(["[READ] ": Access.read, "[WRITE] ": .write])
        guard let at = s.find(" occurred at 0x") else { return nil }
        var name = s.string(s.position..<at)
        s.position = at + " occurred at ".utf8.count
        guard let address = s.hex0x(), name.utf8.count <= 64 else { return nil }
        var unit = prefixUnit
        if prefixUnit == nil {
            // `by <sysmmu>(Page table base: 0x…)`
            guard s.skip(" by ") else { return nil }
            let u = s.token(until: UInt8(ascii: "("))
            guard !u.isEmpty, u.count <= 64, s.skip("(Page table base: "), s.hex0x() != nil, s.skip(")") else {
                return nil
            }
            unit = s.string(u)
        } else if s.skip(" (page table base: ") {
            guard s.hex0x() != nil, s.skip(")") else { return nil }
        }
        guard s.atEndIgnoringSpaces else { return nil }
        if name.hasSuffix(" FAULT") { name.removeLast(" FAULT".count) }
        if access == nil {
            if name.hasPrefix("AR ") { access = .read } else if name.hasPrefix("AW ") { access = .write }
        }
        guard let kind = kind(ofName: name) else { return nil }
        var f = Fault(.exynos, kind, unit: unit, address: address, access: access, record: r)
        f.master = master
        f.reasonText = name
        return f
    }

    /// The kind a fault name stands for (with or without AR/AW and ` FAULT`); nil: not a name.
    static func kind(ofName name: String) -> FaultKind? {
        for (word, kind) in [
            ("PTW", "walk-fault"), ("PAGE", "page-fault"), ("MULTI-HIT", "multi-hit"), ("BUS ERROR", "bus-error"),
            ("ACCESS PROTECTION", "permission-fault"), ("SECURITY PROTECTION", "security-fault"),
            ("RESERVED", "unknown-fault"), ("UNKNOWN", "unknown-fault"),
        ] as [(String, FaultKind)] where name.contains(word) {
            return kind
        }
        return nil
    }
}
