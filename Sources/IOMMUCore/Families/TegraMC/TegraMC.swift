// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let tegraMC = Vendor(rawValue: "tegra-mc")
}

/// The NVIDIA Tegra memory controller (drivers/memory/tegra/), which reports the translation
/// errors of tegra-smmu.c (Tegra30–Tegra210: the SMMU has no interrupt of its own) and the
/// GART's (Tegra20) — kernel-formats.md §11.10. Tegra186+ SMMUs are arm-smmu (ArmSMMUv2).
public enum TegraMC {
    public static let descriptor = FamilyDescriptor(
        vendor: .tegraMC, displayName: "NVIDIA Tegra memory controller",
        words: ["tegra-mc", "mc_irq", "mc_handle_irq"], namingWords: ["tegra-mc", "tegra_mc", "tegra20_mc"],
        // tegra_mc_irq() (3.18–~5.13), tegra30_mc_handle_irq() (~5.14+); Tegra20's own handler.
        ratelimitedFunctions: ["tegra_mc_irq", "tegra20_mc_irq", "tegra30_mc_handle_irq", "tegra20_mc_handle_irq"],
        // tegra_mc_probe(): devm_request_irq(&pdev->dev, mc->irq, …, 0, dev_name(&pdev->dev), mc).
        interrupts: [.unitDevice(vector: "fault")],
        otherKinds: [
            "translation-fault", "decode-error", "security-violation", "carveout-violation", "gart-page-fault",
            "arbitration-error", "asid-update-error", "route-sanity-error", "unknown-fault",
        ],
        drivers: ["tegra-mc"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in TegraMCParser() }
}

/// `dev_err_ratelimited(mc->dev, "%s: %s%s @%pa: %s (%s%s)\n", client, secure, direction,
/// &addr, error, desc, perm)` (3.18, 89184651631c, and current; verified): `client` the memory
/// client's name or `unknown`, `secure` `"secure "` or empty, `direction` read/write, `error`
/// `tegra_mc_status_names[bit]`, `desc` `tegra_mc_error_names[type]`, `perm` ` [RW-]`-style page
/// attributes for SMMU translation errors only. Tegra20 (~5.1+): `"%s: %s%s @%pa: %s (%s)\n"`.
/// Kind from `desc` when it is an SMMU translation error, else from `error`; `reason_text` is
/// `error`. The client is a hardware client of the MC, not a kernel device: `client`, never the
/// device.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — the MC only reports the error it blocked.
struct TegraMCParser: LineFamilyParser {
    static let kinds: [(String, FaultKind)] = [
        ("Page fault", "translation-fault"), ("EMEM address decode error", "decode-error"),
        ("Security violation", "security-violation"), ("GART page fault", "gart-page-fault"),
        ("EMEM arbitration error", "arbitration-error"), ("Invalid APB ASID update", "asid-update-error"),
        ("Route Sanity error", "route-sanity-error"), ("VPR violation", "carveout-violation"),
    ]

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let unit = s.devicePrefix(driver: ["tegra-mc"]) else { return false }
            // `<client>: [secure ]read|write @…`: a one-word client, then the direction.
            let clientRange = s.token(until: UInt8(ascii: ":"))
            guard !clientRange.isEmpty, clientRange.count <= 64, s.skip(": "),
                !s.string(clientRange).contains(" "),
                s.looksAt("secure ") || s.looksAt("read") || s.looksAt("write")
            else { return false }
            let client = s.string(clientRange)
            let secure = s.skip("secure ")
            guard let access = s.oneOf(["read": Access.read, "write": .write]), s.skip(" @"),
                let address = s.hex0x(), s.skip(": "), let close = Self.closeParenIndex(s),
                let open = Self.lastOpenParen(s, before: close)
            else {
                out.append(.unparsed(vendor: .tegraMC, text: r.text, seq: r.seq))
                return true
            }
            let error = s.string(s.position..<open)
            var desc = s.string((open + 2)..<close)
            var perm: String?
            if desc.hasSuffix("]"), let i = desc.lastIndex(of: "[") {
                perm = String(desc[i...])
                desc = String(desc[..<i]).trimmingTrailingSpaces()
            }
            guard !error.isEmpty, error.utf8.count <= 64, !desc.isEmpty, desc.utf8.count <= 64 else {
                out.append(.unparsed(vendor: .tegraMC, text: r.text, seq: r.seq))
                return true
            }
            var kind: FaultKind = "unknown-fault"
            if desc == "SMMU translation error" {
                kind = "translation-fault"
            } else if let k = Self.kinds.first(where: { $0.0 == error }) {
                kind = k.1
            } else if error.lowercased().hasSuffix("carveout violation") {
                kind = "carveout-violation"
            }
            var f = Fault(.tegraMC, kind, unit: unit, address: address, access: access, record: r)
            f.client = client == "unknown" ? nil : client
            f.reasonText = error
            f.detail = desc + (perm.map { " " + $0 } ?? "") + (secure ? ", secure" : "")
            out.append(.fault(f))
            return true
        }
    }

    /// Where ` (` of the description begins: the last one before `close`, after the cursor.
    static func lastOpenParen(_ s: ByteScanner, before close: Int) -> Int? {
        var i = close - 2
        while i >= s.position {
            if s.bytes[i] == 0x20, s.bytes[i + 1] == UInt8(ascii: "(") { return i }
            i -= 1
        }
        return nil
    }

    /// The index of the `)` that ends the line (trailing spaces allowed), if it does.
    static func closeParenIndex(_ s: ByteScanner) -> Int? {
        var i = s.bytes.count - 1
        while i >= 0, s.bytes[i] == 0x20 { i -= 1 }
        return i >= 0 && s.bytes[i] == UInt8(ascii: ")") ? i : nil
    }
}
