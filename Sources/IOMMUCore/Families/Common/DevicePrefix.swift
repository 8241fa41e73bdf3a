// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

/// The `<driver> <devname>: ` prefix that `dev_err()`/`dev_info()` put before a message
/// (drivers/base/core.c `dev_printk_emit()` → `"%s %s: "`, driver then device name):
/// `arm-smmu-v3 arm-smmu-v3.0.auto: `, `arm-smmu 15000000.iommu: `, `iommu ivhd0: `,
/// `nvme 0000:01:00.0: `. Both words are printable, without spaces; the driver word carries no
/// colon (which keeps `IOMMU: dmar0: …` from reading as a prefix).
struct DevicePrefix {
    var driver: Range<Int>
    var device: Range<Int>

    /// Scans the prefix at the cursor; on success the cursor is after `": "`, else unchanged.
    static func scan(_ s: inout ByteScanner) -> DevicePrefix? {
        let start = s.position
        let b = s.bytes
        var i = start
        while i < b.count, b[i] > 0x20, b[i] < 0x7f, b[i] != UInt8(ascii: ":") { i += 1 }
        guard i > start, i < b.count, b[i] == 0x20 else { return nil }
        let driver = start..<i
        i += 1
        let devStart = i
        // The device name may hold colons itself (`0000:01:00.0`): it ends at the first ": ".
        while i + 1 < b.count, b[i] > 0x20, b[i] < 0x7f {
            if b[i] == UInt8(ascii: ":") && b[i + 1] == 0x20 { break }
            i += 1
        }
        guard i > devStart, i + 1 < b.count, b[i] == UInt8(ascii: ":"), b[i + 1] == 0x20 else {
            return nil
        }
        s.position = i + 2
        return DevicePrefix(driver: driver, device: devStart..<i)
    }
}

extension ByteScanner {
    /// True when the bytes in `range` are exactly `literal`.
    func bytesEqual(_ range: Range<Int>, _ literal: StaticString) -> Bool {
        ByteSearch.equals(UnsafeBufferPointer(rebasing: bytes[range]), literal)
    }

    /// True when the bytes in `range` contain `literal`.
    func range(_ range: Range<Int>, contains literal: StaticString) -> Bool {
        guard let i = find(literal, from: range.lowerBound) else { return false }
        return i + literal.utf8CodeUnitCount <= range.upperBound
    }

    /// Only spaces remain.
    var atEndIgnoringSpaces: Bool {
        var i = position
        while i < bytes.count, bytes[i] == 0x20 { i += 1 }
        return i == bytes.count
    }

    /// `key=` then a hex value with optional `0x`; nil (cursor unchanged) when absent or bad.
    mutating func hexField(_ key: StaticString) -> UInt64? {
        let save = position
        guard skip(key), let v = hexOptionalPrefix() else {
            position = save
            return nil
        }
        return v
    }
}

extension ClassifierOutput {
    /// The unit an output names, for a stable order among outputs of one sequence number.
    var unitName: String {
        switch self {
        case .fault(let f): return f.unit ?? ""
        default: return ""
        }
    }
}
