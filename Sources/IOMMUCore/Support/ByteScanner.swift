// Unsafe pointers here: the cursor the record parsers share, over a record's bytes.

/// A cursor over the bytes of one kernel message. The vendor parsers are written against it
/// instead of regular expressions: the formats are fixed printf strings, and a scanner keeps the
/// hot path free of allocation (see `IOMMUPrefilter` for why that matters).
public struct ByteScanner {
    public let bytes: UnsafeBufferPointer<UInt8>
    public var position: Int

    public init(_ bytes: UnsafeBufferPointer<UInt8>, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    public var isAtEnd: Bool { position >= bytes.count }
    public var remaining: Int { bytes.count - position }
    public var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

    /// Consumes `literal` if the bytes at the cursor are exactly it.
    @discardableResult
    public mutating func skip(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard remaining >= n else { return false }
        let lit = literal.utf8Start
        for i in 0..<n where bytes[position + i] != lit[i] { return false }
        position += n
        return true
    }

    /// Consumes `text` (a String known only at run time, e.g. a descriptor's event name) if the
    /// bytes at the cursor are exactly it.
    @discardableResult
    public mutating func skip(text: String) -> Bool {
        let u = text.utf8
        guard remaining >= u.count else { return false }
        var i = position
        for c in u {
            guard bytes[i] == c else { return false }
            i += 1
        }
        position = i
        return true
    }

    /// True if the bytes at the cursor start with `text` (cursor unchanged).
    public func looksAt(text: String) -> Bool {
        var copy = self
        return copy.skip(text: text)
    }

    /// True if the bytes at the cursor start with `literal` (cursor unchanged).
    public func looksAt(_ literal: StaticString) -> Bool {
        var copy = self
        return copy.skip(literal)
    }

    public mutating func skipSpaces() {
        while let b = peek, b == 0x20 { position += 1 }
    }

    public mutating func skip(byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        position += 1
        return true
    }

    /// Hexadecimal digits (no prefix). Returns nil when there is none or it overflows 64 bits.
    public mutating func hex(maxDigits: Int = 16) -> UInt64? {
        var value: UInt64 = 0
        var digits = 0
        while let b = peek, let d = ByteScanner.hexValue(b) {
            guard digits < maxDigits else { return nil }
            value = value << 4 | UInt64(d)
            digits += 1
            position += 1
        }
        return digits > 0 ? value : nil
    }

    /// Hexadecimal with an optional `0x` prefix (the kernel's `%#x` prints a bare `0` for zero
    /// in C printf but `0x0` in vsprintf: accept both).
    public mutating func hexOptionalPrefix(maxDigits: Int = 16) -> UInt64? {
        let save = position
        _ = skip("0x") || skip("0X")
        if let v = hex(maxDigits: maxDigits) { return v }
        position = save
        return hex(maxDigits: maxDigits)
    }

    public mutating func decimal() -> UInt64? {
        // Every kmsg header has three of these: up to 19 digits cannot overflow, so only the
        // 20th needs the checked arithmetic.
        var value: UInt64 = 0
        var digits = 0
        while position < bytes.count {
            let d = bytes[position] &- 0x30
            guard d < 10 else { break }
            if digits < 19 {
                value = value &* 10 &+ UInt64(d)
            } else {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(d))
                guard !o1, !o2 else { return nil }
                value = a
            }
            digits += 1
            position += 1
        }
        return digits > 0 ? value : nil
    }

    /// Advances to the first occurrence of `literal` and past it. Cursor unchanged if absent.
    public mutating func skip(past literal: StaticString) -> Bool {
        guard let i = find(literal) else { return false }
        position = i + literal.utf8CodeUnitCount
        return true
    }

    /// Index of the first occurrence of `literal` at or after the cursor.
    public func find(_ literal: StaticString, from start: Int? = nil) -> Int? {
        let n = literal.utf8CodeUnitCount
        let lit = literal.utf8Start
        var i = start ?? position
        guard n > 0 else { return i }
        while i + n <= bytes.count {
            if bytes[i] == lit[0] {
                var j = 1
                while j < n && bytes[i + j] == lit[j] { j += 1 }
                if j == n { return i }
            }
            i += 1
        }
        return nil
    }

    /// Bytes up to (not including) the next `byte`, or to the end; the cursor ends on `byte`.
    public mutating func token(until byte: UInt8) -> Range<Int> {
        let start = position
        while let b = peek, b != byte { position += 1 }
        return start..<position
    }

    public func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    public var rest: String { string(position..<bytes.count) }

    @inline(__always)
    public static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x61...0x66: return b - 0x61 + 10
        case 0x41...0x46: return b - 0x41 + 10
        default: return nil
        }
    }
}

extension String {
    /// Runs `body` over the string's UTF-8 bytes without copying (native strings are contiguous).
    @inline(__always)
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = utf8.withContiguousStorageIfAvailable(body) { return r }
        var copy = self
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable(body)!
    }
}
