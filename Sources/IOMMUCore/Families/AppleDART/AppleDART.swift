// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let appleDART = Vendor(rawValue: "apple-dart")
}

/// The Apple DART (drivers/iommu/apple-dart.c, v5.15+) — kernel-formats.md §11.6.
public enum AppleDART {
    public static let descriptor = FamilyDescriptor(
        vendor: .appleDART, displayName: "Apple DART",
        words: ["apple-dart", "apple_dart"], namingWords: ["apple-dart", "apple_dart"],
        // 5.15–6.2 apple_dart_irq(); 6.3+ per hardware type.
        ratelimitedFunctions: ["apple_dart_irq", "apple_dart_t8020_irq", "apple_dart_t8110_irq"],
        // apple_dart_probe(): request_irq(dart->irq, …, IRQF_SHARED, "apple-dart fault handler",
        // dart) — one name for every DART.
        interrupts: [.fixed("apple-dart fault handler", vector: "fault")],
        otherKinds: ["translation-fault", "permission-fault", "unknown-fault"], drivers: ["apple-dart"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in AppleDARTParser() }
}

/// `dev_err_ratelimited(dart->dev, "translation fault: status:0x%x stream:%d code:0x%x (%s) at
/// 0x%llx", error, stream_idx, error_code, fault_name, addr)` — no `\n` (verified in 5.15,
/// 46d1fb072e76, and the 6.3+ t8020/t8110 handlers). `fault_name`: `READ FAULT`, `WRITE FAULT`
/// (a permission fault, with its direction), `NO PTE FOR IOVA`, `NO PMD FOR IOVA`, `NO TTBR FOR
/// IOVA`, `NO PGD FOR IOVA` (t8110) (nothing mapped), `unknown`. `stream` is the DART stream
/// index masters name in `iommus = <&dart N>`: the StreamID.
///
/// RECOVERABLE (kernel-formats.md §8.1): never — the error is cleared, nothing is retried.
struct AppleDARTParser: LineFamilyParser {
    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let unit = s.devicePrefix(driver: ["apple-dart"]), s.skip("translation fault: ") else { return false }
            guard s.skip("status:"), let status = s.hex0x(), s.skip(" stream:"), let stream = s.decimal32(),
                s.skip(" code:"), let code = s.hex0x(), s.skip(" (")
            else {
                out.append(.unparsed(vendor: .appleDART, text: r.text, seq: r.seq))
                return true
            }
            let nameRange = s.token(until: UInt8(ascii: ")"))
            guard nameRange.count <= 32, s.skip(") at "), let address = s.hex0x(), s.atEndIgnoringSpaces else {
                out.append(.unparsed(vendor: .appleDART, text: r.text, seq: r.seq))
                return true
            }
            let name = s.string(nameRange)
            let kind: FaultKind
            var access: Access?
            switch name {
            case "READ FAULT":
                (kind, access) = ("permission-fault", .read)
            case "WRITE FAULT":
                (kind, access) = ("permission-fault", .write)
            case _ where name.hasPrefix("NO ") && name.hasSuffix(" FOR IOVA"):
                kind = "translation-fault"
            default:
                kind = "unknown-fault"
            }
            var f = Fault(.appleDART, kind, unit: unit, address: address, access: access, record: r)
            f.sourceID = stream
            f.reasonText = name
            f.detail = "status " + hex0x(status) + ", code " + hex0x(code)
            out.append(.fault(f))
            return true
        }
    }
}
