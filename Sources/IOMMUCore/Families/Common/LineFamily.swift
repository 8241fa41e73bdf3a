// Unsafe pointers here: byte-level record parsers over the record's bytes (ByteScanner).

/// A family whose every fault is one record, complete on its own (most drivers of
/// kernel-formats.md §11): it holds nothing, so there is nothing to release at a flush or at the
/// end of the input.
protocol LineFamilyParser: FamilyParser {}

extension LineFamilyParser {
    var pendingSince: UInt64? { nil }
    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int) {}
    mutating func flush(into out: inout [ClassifierOutput]) {}
    mutating func finish(into out: inout [ClassifierOutput]) {}
}

extension ByteScanner {
    /// The `<driver> <devname>: ` prefix of `dev_err()` when the driver word is one of
    /// `drivers`: the device name (the unit), the cursor after the prefix. nil and the cursor
    /// unchanged otherwise.
    mutating func devicePrefix(driver drivers: [StaticString]) -> String? {
        let save = position
        guard let dp = DevicePrefix.scan(&self) else { return nil }
        guard drivers.contains(where: { bytesEqual(dp.driver, $0) }) else {
            position = save
            return nil
        }
        return string(dp.device)
    }

    /// `0x` and up to 16 hex digits (`%pad`, `%pa`, `%#llx`, `0x%x`).
    mutating func hex0x() -> UInt64? {
        let save = position
        guard skip("0x"), let v = hex(maxDigits: 16) else {
            position = save
            return nil
        }
        return v
    }

    /// A decimal that fits in 32 bits (`%d`, `%u` of an int).
    mutating func decimal32() -> UInt32? {
        let save = position
        guard let v = decimal(), v <= UInt64(UInt32.max) else {
            position = save
            return nil
        }
        return UInt32(v)
    }

    /// The value of the first literal found at the cursor (the cursor then after it).
    mutating func oneOf<T>(_ options: KeyValuePairs<StaticString, T>) -> T? {
        for (literal, value) in options where skip(literal) { return value }
        return nil
    }

    /// A word up to the next space or the end, as a String (at most 64 bytes, else nil).
    mutating func word(maxBytes: Int = 64) -> String? {
        let r = token(until: 0x20)
        guard !r.isEmpty, r.count <= maxBytes else { return nil }
        return string(r)
    }
}

extension Fault {
    /// A non-recoverable fault of a §11 driver as one record states it.
    init(
        _ vendor: Vendor, _ kind: FaultKind, unit: String?, address: UInt64? = nil, access: Access? = nil,
        record r: KmsgRecord
    ) {
        self.init(
            vendor: vendor, kind: kind, recoverable: false, unit: unit, address: address, access: access, seq: r.seq,
            timestampUsec: r.timestampUsec, text: r.text)
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
