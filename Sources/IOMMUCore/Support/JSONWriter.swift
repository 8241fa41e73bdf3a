/// A small JSON writer: the status, replay and control-socket outputs are built with it so the
/// pure core needs no Foundation. Keys are written in the order given (stable output).
///
/// Built as UTF-8 bytes, not by appending to a String: `replay --json` writes one object per
/// fault, and String appends (scalar by scalar for escaping) were most of its time.
/// A key of a JSON object: a literal written in code, copied as it is (`replay --json` writes
/// eighteen per fault, none needing an escape), or a computed name, escaped.
public struct JSONKey: ExpressibleByStringLiteral, Sendable {
    enum Storage: Sendable {
        case literal(StaticString)
        case text(String)
    }
    let storage: Storage

    public init(stringLiteral s: StaticString) { storage = .literal(s) }
    public init(_ s: String) { storage = .text(s) }
}

public struct JSONWriter: ~Copyable {
    /// What has been written so far.
    public var sink = ByteSink()
    /// Whether the next value of each open object or array needs a comma before it, one bit per
    /// level, the innermost in bit 0 (no array to allocate per writer: replay makes one per
    /// fault). The shapes written here nest a few levels; 64 is the limit.
    var needsComma: UInt64 = 0
    var depth = 0

    public var output: String { sink.string }

    public init() {}

    /// Ends a top-level value with a newline: the next one starts a new line (JSON lines) and
    /// takes no comma.
    public mutating func endLine() {
        precondition(depth == 0, "endLine inside an object or array")
        sink.append(0x0a)
        needsComma = 0
    }

    @inline(__always)
    mutating func raw(_ s: StaticString) { sink.append(s) }

    mutating func separator() {
        if needsComma & 1 != 0 { sink.append(UInt8(ascii: ",")) }
        needsComma |= 1
    }

    /// An object's key (or, nil, an array element's separator).
    mutating func key(_ k: JSONKey?) {
        switch k?.storage {
        case nil:
            separator()
        case .literal(let s)?:
            // `,"key":` in one piece: eighteen per fault of `replay --json`.
            let comma = needsComma & 1 != 0
            let n = s.utf8CodeUnitCount
            sink.write(maxCount: n + 4) { b in
                var i = 0
                if comma {
                    b[0] = UInt8(ascii: ",")
                    i = 1
                }
                b[i] = UInt8(ascii: "\"")
                UnsafeMutableRawPointer(b.baseAddress! + i + 1).copyMemory(from: s.utf8Start, byteCount: n)
                b[i + n + 1] = UInt8(ascii: "\"")
                b[i + n + 2] = UInt8(ascii: ":")
                return i + n + 3
            }
            needsComma &= ~1
        case .text(let s)?:
            separator()
            JSONWriter.appendEscaped(s, to: &sink)
            sink.append(UInt8(ascii: ":"))
            needsComma &= ~1
        }
    }

    public mutating func beginObject(_ k: JSONKey? = nil) { open(k, "{") }
    public mutating func endObject() { close("}") }
    public mutating func beginArray(_ k: JSONKey? = nil) { open(k, "[") }
    public mutating func endArray() { close("]") }

    // Values: `k` is the key in an object, nil for an array element.

    public mutating func string(_ k: JSONKey?, _ v: String?) {
        key(k)
        if let v { JSONWriter.appendEscaped(v, to: &sink) } else { raw("null") }
        needsComma |= 1
    }

    public mutating func number(_ k: JSONKey?, _ v: UInt64?) {
        key(k)
        if let v { sink.append(decimal: v) } else { raw("null") }
        needsComma |= 1
    }

    public mutating func number(_ k: JSONKey?, _ v: Int64?) {
        key(k)
        if let v {
            if v < 0 { sink.append(UInt8(ascii: "-")) }
            sink.append(decimal: v.magnitude)
        } else {
            raw("null")
        }
        needsComma |= 1
    }

    public mutating func number(_ k: JSONKey?, _ v: Int?) { number(k, v.map { Int64($0) }) }

    public mutating func double(_ k: JSONKey?, _ v: Double?) {
        key(k)
        if let v, v.isFinite { sink.append(String(v)) } else { raw("null") }
        needsComma |= 1
    }

    public mutating func bool(_ k: JSONKey?, _ v: Bool?) {
        key(k)
        if let v { v ? raw("true") : raw("false") } else { raw("null") }
        needsComma |= 1
    }

    /// `"0x…"` as `hex0x` spells it, written in place (no String per value).
    public mutating func hex(_ k: JSONKey?, _ v: UInt64?) {
        guard let v else { return string(k, nil) }
        key(k)
        sink.write(maxCount: 20) { b in
            b[0] = UInt8(ascii: "\"")
            let n = writeHex(v, width: 0, prefix: true, into: UnsafeMutableBufferPointer(rebasing: b[1...]))
            b[n + 1] = UInt8(ascii: "\"")
            return n + 2
        }
        needsComma |= 1
    }

    /// A new level: its first value needs no comma.
    mutating func open(_ k: JSONKey?, _ bracket: StaticString) {
        key(k)
        raw(bracket)
        precondition(depth < 63, "JSONWriter nests at most 63 levels")
        depth += 1
        needsComma <<= 1
    }

    /// Back to the enclosing level, whose next value needs a comma.
    mutating func close(_ bracket: StaticString) {
        depth -= 1
        needsComma >>= 1
        raw(bracket)
        needsComma |= 1
    }

    public static func appendEscaped(_ s: String, to out: inout String) {
        var b = ByteSink()
        appendEscaped(s, to: &b)
        out += b.string
    }

    public static func appendEscaped(_ s: String, to out: inout [UInt8]) {
        var b = ByteSink()
        appendEscaped(s, to: &b)
        b.withBytes { out.append(contentsOf: $0) }
    }

    /// `s` as a JSON string: runs of bytes that need no escape are copied whole.
    ///
    /// The scan tests eight bytes at a time (`needsEscape`): most strings, and every kernel line
    /// `replay --json` writes, have nothing to escape.
    public static func appendEscaped(_ s: String, to out: inout ByteSink) {
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
                out.append(UnsafeBufferPointer(rebasing: b[start..<i - 1]))
                start = i
                out.append(UInt8(ascii: "\\"))
                switch c {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x0a: out.append(UInt8(ascii: "n"))
                case 0x0d: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    out.append("u00" as StaticString)
                    out.append(IOMMUCore.hex(UInt64(c), width: 2))
                }
            }
            out.append(UnsafeBufferPointer(rebasing: b[start..<b.count]))
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
