/// A small JSON writer: the status, replay and control-socket outputs are built with it so the
/// pure core needs no Foundation. Keys are written in the order given (stable output).
///
/// Built as UTF-8 bytes, not by appending to a String: `replay --json` writes one object per
/// fault, and String appends (scalar by scalar for escaping) were most of its time.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next value of each open object or array needs a comma before it, one bit per
    /// level, the innermost in bit 0 (no array to allocate per writer: replay makes one per
    /// fault). The shapes written here nest a few levels; 64 is the limit.
    var needsComma: UInt64 = 0
    var depth = 0

    public var output: String { String(decoding: bytes, as: UTF8.self) }

    public init() {}

    /// Continues after what `bytes` already holds (e.g. a caller's output buffer).
    public init(appendingTo bytes: [UInt8]) { self.bytes = bytes }

    /// Hands the bytes back, leaving the writer empty (no copy).
    public mutating func take() -> [UInt8] {
        var out: [UInt8] = []
        swap(&out, &bytes)
        return out
    }

    @inline(__always)
    mutating func raw(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func separator() {
        if needsComma & 1 != 0 { raw(",") }
        needsComma |= 1
    }

    mutating func key(_ k: String) {
        separator()
        JSONWriter.appendEscaped(k, to: &bytes)
        raw(":")
        needsComma &= ~1
    }

    public mutating func beginObject(_ k: String? = nil) { begin(k, "{") }
    public mutating func endObject() { end("}") }
    public mutating func beginArray(_ k: String? = nil) { begin(k, "[") }
    public mutating func endArray() { end("]") }

    /// A new level: its first value needs no comma.
    mutating func begin(_ k: String?, _ bracket: StaticString) {
        if let k { key(k) } else { separator() }
        raw(bracket)
        precondition(depth < 63, "JSONWriter nests at most 63 levels")
        depth += 1
        needsComma <<= 1
    }

    /// Back to the enclosing level, whose next value needs a comma.
    mutating func end(_ bracket: StaticString) {
        depth -= 1
        needsComma >>= 1
        raw(bracket)
        needsComma |= 1
    }

    public mutating func string(_ k: String?, _ v: String?) {
        if let k { key(k) } else { separator() }
        if let v { JSONWriter.appendEscaped(v, to: &bytes) } else { raw("null") }
        needsComma |= 1
    }

    public mutating func number(_ k: String?, _ v: UInt64?) {
        if let k { key(k) } else { separator() }
        if let v { bytes.append(contentsOf: String(v).utf8) } else { raw("null") }
        needsComma |= 1
    }

    public mutating func number(_ k: String?, _ v: Int64?) {
        if let k { key(k) } else { separator() }
        if let v { bytes.append(contentsOf: String(v).utf8) } else { raw("null") }
        needsComma |= 1
    }

    public mutating func number(_ k: String?, _ v: Int?) {
        number(k, v.map { Int64($0) })
    }

    public mutating func double(_ k: String?, _ v: Double?) {
        if let k { key(k) } else { separator() }
        if let v, v.isFinite { bytes.append(contentsOf: String(v).utf8) } else { raw("null") }
        needsComma |= 1
    }

    public mutating func bool(_ k: String?, _ v: Bool?) {
        if let k { key(k) } else { separator() }
        if let v { v ? raw("true") : raw("false") } else { raw("null") }
        needsComma |= 1
    }

    public static func appendEscaped(_ s: String, to out: inout String) {
        var b: [UInt8] = []
        appendEscaped(s, to: &b)
        out += String(decoding: b, as: UTF8.self)
    }

    /// `s` as a JSON string: runs of bytes that need no escape are copied whole.
    ///
    /// The scan tests eight bytes at a time (`needsEscape`): most strings, and every kernel line
    /// `replay --json` writes, have nothing to escape.
    public static func appendEscaped(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        s.withBytes { b in
            var start = 0
            var i = 0
            while i < b.count {
                if i + 8 <= b.count {
                    let word = UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: UInt64.self)
                    if !needsEscape(word) {
                        i += 8
                        continue
                    }
                }
                let c = b[i]
                i += 1
                guard c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") else { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<i - 1]))
                start = i
                out.append(UInt8(ascii: "\\"))
                switch c {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x0a: out.append(UInt8(ascii: "n"))
                case 0x0d: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    out.append(contentsOf: "u00".utf8)
                    out.append(contentsOf: hex(UInt64(c), width: 2).utf8)
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[start..<b.count]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Does any of the eight bytes need an escape: a control byte (< 0x20), `"` or `\`? The
    /// classic "has a zero byte" test: `(x - 0x01…) & ~x & 0x80…` is non-zero when a byte of `x`
    /// is zero; the first term flags bytes below 0x20 the same way (bytes ≥ 0x80 never do).
    @inline(__always)
    static func needsEscape(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let control = (w &- ones &* 0x20) & ~w & high
        let quote = w ^ (ones &* 0x22)
        let backslash = w ^ (ones &* 0x5c)
        return control | ((quote &- ones) & ~quote & high) | ((backslash &- ones) & ~backslash & high) != 0
    }
}
