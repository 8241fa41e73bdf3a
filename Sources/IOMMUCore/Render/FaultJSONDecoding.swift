extension Fault {
    /// Reads back a `jsonLine()` (checkpoint, journal). nil when a required key is missing.
    public init?(json text: String) {
        guard case .object(let o)? = MiniJSON.parse(text) else { return nil }
        func str(_ k: String) -> String? {
            if case .string(let s)? = o[k] { return s }
            return nil
        }
        func hexValue(_ k: String) -> UInt64? {
            guard let s = str(k), s.hasPrefix("0x") else { return nil }
            return UInt64(s.dropFirst(2), radix: 16)
        }
        guard let vendor = str("vendor").flatMap(Vendor.init(validating:)), let kind = str("kind"),
            case .bool(let recoverable)? = o["recoverable"], let text = str("text")
        else { return nil }
        self.init(vendor: vendor, kind: FaultKind(rawValue: kind), recoverable: recoverable, text: text)
        unit = str("unit")
        device = str("device").flatMap { PCIAddress(parsing: $0) }
        if device == nil { master = str("device") }
        client = str("client")
        if case .bool(let p)? = o["partial"] { partial = p }
        reason = hexValue("reason").map { UInt16(truncatingIfNeeded: $0) }
        reasonText = str("reason_text")
        owner = str("owner").flatMap(Owner.init(rawValue:))
        address = hexValue("address")
        pasid = hexValue("pasid").map { UInt32(truncatingIfNeeded: $0) }
        access = str("access").flatMap(Access.init(rawValue:))
        sourceID = hexValue("sid").map { UInt32(truncatingIfNeeded: $0) }
        if case .bool(let a)? = o["device_assumed"] { deviceAssumed = a }
        driver = str("driver")
        detail = str("detail")
        if case .number(let n)? = o["seq"] { seq = UInt64(exactly: n) }
        if case .number(let n)? = o["ts_usec"] { timestampUsec = UInt64(exactly: n) }
        expectedRule = str("expected").flatMap { ExpectedRules.isValidName($0) ? $0 : nil }
    }
}
