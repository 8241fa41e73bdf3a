/// The one byte writer of the outputs people and programs read (`replay --json`, the status
/// report, the Prometheus text): UTF-8 bytes appended to an array, turned into a String or
/// written to a file descriptor once, at the end.
public struct ByteSink: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    /// Room for `n` more bytes.
    public mutating func reserve(_ n: Int) { bytes.reserveCapacity(bytes.count + n) }

    public mutating func append(_ b: UInt8) { bytes.append(b) }

    public mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }

    public mutating func append(_ s: Substring) { bytes.append(contentsOf: s.utf8) }

    public mutating func append(contentsOf other: [UInt8]) { bytes.append(contentsOf: other) }

    /// `n` bytes of `b`.
    public mutating func append(repeating b: UInt8, count n: Int) {
        if n > 0 { bytes.append(contentsOf: repeatElement(b, count: n)) }
    }

    /// `n` in decimal.
    public mutating func append(decimal n: UInt64) {
        if n < 10 {
            bytes.append(UInt8(ascii: "0") + UInt8(n))
            return
        }
        var digits: [UInt8] = []
        var v = n
        while v > 0 {
            digits.append(UInt8(ascii: "0") + UInt8(v % 10))
            v /= 10
        }
        bytes.append(contentsOf: digits.reversed())
    }

    public mutating func removeLast() { bytes.removeLast() }

    /// Empties the buffer, keeping its memory.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    public var string: String { String(decoding: bytes, as: UTF8.self) }
}
