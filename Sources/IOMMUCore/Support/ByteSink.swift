/// A growable byte buffer written through a pointer: the output of `JSONWriter`.
///
/// `replay --json` writes about forty small pieces per fault (keys, values, punctuation). Each
/// `Array.append(contentsOf:)` checks uniqueness and capacity through a generic call; here a
/// piece is a capacity test and a copy. Owned and freed by the one value (not copyable), so no
/// reference counting is involved either.
public struct ByteSink: ~Copyable {
    private var base: UnsafeMutablePointer<UInt8>
    public private(set) var count = 0
    private var capacity: Int

    public init(capacity: Int = 256) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Room for `n` more bytes.
    @inline(__always)
    public mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(to: count + n) }
    }

    private mutating func grow(to needed: Int) {
        var c = capacity
        while c < needed { c *= 2 }
        let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        larger.update(from: base, count: count)
        base.deallocate()
        base = larger
        capacity = c
    }

    @inline(__always)
    public mutating func append(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    @inline(__always)
    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let p = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).update(from: p, count: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    public mutating func append(_ s: StaticString) {
        append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    public mutating func append(_ s: String) {
        var s = s
        s.withUTF8 { append($0) }
    }

    /// Writes up to `maxCount` bytes straight into the buffer; `body` returns how many it wrote.
    @inline(__always)
    public mutating func write(maxCount: Int, _ body: (UnsafeMutableBufferPointer<UInt8>) -> Int) {
        reserve(maxCount)
        count += body(UnsafeMutableBufferPointer(start: base + count, count: maxCount))
    }

    /// `n` in decimal, written in place (no String per number: `replay --json` writes two per
    /// fault, the status table three per device).
    public mutating func append(decimal n: UInt64) {
        write(maxCount: 20) { d in
            var v = n
            var digits = 0
            repeat {
                digits += 1
                v /= 10
            } while v > 0
            v = n
            for i in stride(from: digits - 1, through: 0, by: -1) {
                d[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            return digits
        }
    }

    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// Empties the buffer, keeping its memory.
    public mutating func removeAll() { count = 0 }

    public var string: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}
