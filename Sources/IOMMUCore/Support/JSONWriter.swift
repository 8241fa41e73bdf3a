/// A key of a JSON object: a literal written in code, copied as it is, or a computed name,
/// escaped.
public struct JSONKey: ExpressibleByStringLiteral, Sendable {
    enum Storage: Sendable {
        case literal(StaticString)
        case text(String)
    }
    let storage: Storage

    public init(stringLiteral s: StaticString) { storage = .literal(s) }
    public init(_ s: String) { storage = .text(s) }
}

/// A small JSON writer: the status, replay and control-socket outputs are built with it so the
/// pure core needs no Foundation. Keys are written in the order given (stable output).
public struct JSONWriter: Sendable {
    /// What has been written so far.
    public var sink = ByteSink()
    /// Whether the next value of each open object or array needs a comma before it, one bit per
    /// level, the innermost in bit 0. The shapes written here nest a few levels; 63 is the limit.
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
            separator()
            sink.append(UInt8(ascii: "\""))
            sink.append(s)
            sink.append("\":" as StaticString)
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
        sink.append(UInt8(ascii: "\""))
        sink.append(hex0x(v))
        sink.append(UInt8(ascii: "\""))
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
        out.append(contentsOf: b.bytes)
    }

    /// `s` as a JSON string. Control characters — C0, DEL and the C1 range, which a terminal
    /// would act on — are escaped as `\u00XX` (JSON requires it only for C0).
    public static func appendEscaped(_ s: String, to out: inout ByteSink) {
        out.append(UInt8(ascii: "\""))
        var previous: UInt8 = 0
        for c in s.utf8 {
            defer { previous = c }
            switch c {
            case UInt8(ascii: "\""): out.append("\\\"" as StaticString)
            case UInt8(ascii: "\\"): out.append("\\\\" as StaticString)
            case 0x0a: out.append("\\n" as StaticString)
            case 0x0d: out.append("\\r" as StaticString)
            case 0x09: out.append("\\t" as StaticString)
            case 0x00..<0x20, 0x7f:
                out.append("\\u00" as StaticString)
                out.append(IOMMUCore.hex(UInt64(c), width: 2))
            case 0x80..<0xa0 where previous == 0xc2:
                // U+0080–U+009F (C1) is C2 80–9F in UTF-8: the C2 is already out; replace the pair.
                out.removeLast()
                out.append("\\u00" as StaticString)
                out.append(IOMMUCore.hex(UInt64(c), width: 2))
            default: out.append(c)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
