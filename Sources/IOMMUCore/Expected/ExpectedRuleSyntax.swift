/// How iommud.toml writes the criteria of an `[[expected]]` rule, one value at a time: the
/// config loader (IOMMUDaemon's `ExpectedRulesConfig`) calls these and turns a problem into
/// "file:line: bad value for 'expected.KEY': …". Every value is bounded; nothing here traps.
public enum ExpectedRuleSyntax {
    /// Why a value is refused: a clause that follows "bad value for 'expected.KEY': ".
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// Longest value of any criterion, in bytes (names and reason texts are short).
    public static let maxValueBytes = 128

    /// `0000:00:14.0` or `00:14.0` (segment 0000): a PCI function. Anything else made of
    /// `A-Z a-z 0-9 _ . : -` that is not a malformed PCI address (`ff8f0000.vop`): the kernel
    /// name of a non-PCI master.
    public static func device(_ s: String) throws(Problem) -> ExpectedRule.Device {
        if let a = PCIAddress(parsing: s) { return .pci(a) }
        guard isName(s, extra: [UInt8(ascii: ":")]) else {
            throw Problem("\(shown(s)) is not a device: write a PCI address (\"0000:00:14.0\") or a device name")
        }
        // Only hex digits, ':' and '.': a PCI address with a typo, not a name.
        if s.utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) {
            throw Problem("\(shown(s)) is not a PCI address (write SSSS:BB:DD.F, e.g. \"0000:00:14.0\")")
        }
        return .master(s)
    }

    /// `8086:1533`: vendor and device id, 4 hex digits each, as `lspci -nn` shows them.
    public static func pciID(_ s: String) throws(Problem) -> ExpectedRule.PCIID {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.utf8.count == 4 && $0.utf8.allSatisfy(isHexDigit) }),
            let v = UInt16(parts[0], radix: 16), let d = UInt16(parts[1], radix: 16)
        else {
            throw Problem("\(shown(s)) is not a PCI vendor:device id (write 4 hex digits each, e.g. \"8086:1533\")")
        }
        return ExpectedRule.PCIID(vendor: v, device: d)
    }

    /// A driver's name as sysfs links it (`xhci_hcd`, `ixgbe`, `vfio-pci`).
    public static func driver(_ s: String) throws(Problem) -> String {
        guard isName(s, extra: []) else { throw Problem("\(shown(s)) is not a driver name (A-Z a-z 0-9 _ . -)") }
        return s
    }

    /// A family the catalog knows (`intel`, `amd`, `arm-smmu-v3`, `arm-smmu`, …).
    public static func vendor(_ s: String, catalog: FamilyCatalog = .standard) throws(Problem) -> Vendor {
        guard let v = Vendor(validating: s), catalog.descriptor(of: v) != nil else {
            let known = catalog.descriptors.map { "\"\($0.vendor.rawValue)\"" }.joined(separator: ", ")
            throw Problem("\(shown(s)) is not an IOMMU family (one of \(known))")
        }
        return v
    }

    /// A kind some family reports (docs/families.md): `dma-read`, `io-page-fault`, ….
    public static func kind(_ s: String, catalog: FamilyCatalog = .standard) throws(Problem) -> FaultKind {
        let k = FaultKind(rawValue: s)
        guard catalog.descriptors.contains(where: { $0.kinds.contains(k) }) else {
            throw Problem("\(shown(s)) is not a fault kind any family reports (docs/families.md lists them)")
        }
        return k
    }

    /// `0x06` (a code, hex, as the `reason` label writes it) or the reason's text as the kernel
    /// prints it (`PTE Read access is not set`).
    public static func reason(_ s: String) throws(Problem) -> ExpectedRule.Reason {
        if s.hasPrefix("0x") || s.hasPrefix("0X") {
            let digits = s.dropFirst(2)
            guard (1...4).contains(digits.utf8.count), digits.utf8.allSatisfy(isHexDigit),
                let c = UInt16(digits, radix: 16)
            else { throw Problem("\(shown(s)) is not a reason code (write it in hex, 0x0 to 0xffff, e.g. \"0x06\")") }
            return .code(c)
        }
        guard (1...maxValueBytes).contains(s.utf8.count),
            s.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f })
        else {
            throw Problem(
                "\(shown(s)) is not a reason: a code in hex (\"0x06\") or the kernel's text, 1 to \(maxValueBytes) bytes"
            )
        }
        return .text(s)
    }

    /// `0x8d000000`: an address, hex, 64 bits at most.
    public static func address(_ s: String) throws(Problem) -> UInt64 {
        guard s.hasPrefix("0x") || s.hasPrefix("0X"), (1...16).contains(s.utf8.count - 2),
            s.utf8.dropFirst(2).allSatisfy(isHexDigit), let a = UInt64(s.dropFirst(2), radix: 16)
        else { throw Problem("\(shown(s)) is not an address (write it in hex, e.g. \"0x8d000000\")") }
        return a
    }

    /// An inclusive range from its two ends, low first.
    public static func range<T: Comparable>(_ low: T, _ high: T, shown text: String) throws(Problem)
        -> ClosedRange<T>
    {
        guard low <= high else { throw Problem("\(text): the first end must not be above the second") }
        return low...high
    }

    static func isName(_ s: String, extra: [UInt8]) -> Bool {
        (1...maxValueBytes).contains(s.utf8.count)
            && s.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f
                    || c == 0x2e || c == 0x2d || extra.contains(c)
            }
    }

    static func isHexDigit(_ c: UInt8) -> Bool { ByteScanner.hexValue(c) != nil }

    /// A value quoted for a message, cut short when long, control characters escaped.
    static func shown(_ s: String) -> String {
        var out = "\""
        var n = 0
        for u in s.unicodeScalars {
            if n == 40 { return out + "…\"" }
            out += u.value < 0x20 || u.value == 0x7f ? "\\u{\(String(u.value, radix: 16))}" : String(u)
            n += 1
        }
        return out + "\""
    }
}
