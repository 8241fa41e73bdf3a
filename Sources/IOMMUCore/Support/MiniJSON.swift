// Unsafe pointers here: journalctl JSON lines are parsed from their bytes (a parser of outside input).

/// A small JSON parser for the few JSON inputs the core reads (journalctl -o json lines).
/// Numbers are kept as Double; strings are unescaped (incl. \uXXXX and surrogate pairs).
public enum MiniJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([MiniJSON])
    case object([String: MiniJSON])

    public static func parse(_ text: String) -> MiniJSON? {
        text.withBytes { b in
            var p = Parser(b: b)
            guard let v = p.value() else { return nil }
            p.ws()
            return p.i == b.count ? v : nil
        }
    }

    struct Parser {
        let b: UnsafeBufferPointer<UInt8>
        var i = 0
        var depth = 0

        mutating func ws() {
            while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
        }

        mutating func value() -> MiniJSON? {
            ws()
            guard i < b.count, depth < 64 else { return nil }
            switch b[i] {
            case UInt8(ascii: "{"):
                i += 1
                depth += 1
                defer { depth -= 1 }
                var o: [String: MiniJSON] = [:]
                ws()
                if i < b.count, b[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(o)
                }
                while true {
                    ws()
                    guard case .string(let k)? = string() else { return nil }
                    ws()
                    guard i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
                    i += 1
                    guard let v = value() else { return nil }
                    o[k] = v
                    ws()
                    guard i < b.count else { return nil }
                    if b[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    if b[i] == UInt8(ascii: "}") {
                        i += 1
                        return .object(o)
                    }
                    return nil
                }
            case UInt8(ascii: "["):
                i += 1
                depth += 1
                defer { depth -= 1 }
                var a: [MiniJSON] = []
                ws()
                if i < b.count, b[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(a)
                }
                while true {
                    guard let v = value() else { return nil }
                    a.append(v)
                    ws()
                    guard i < b.count else { return nil }
                    if b[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    if b[i] == UInt8(ascii: "]") {
                        i += 1
                        return .array(a)
                    }
                    return nil
                }
            case UInt8(ascii: "\""):
                return string()
            case UInt8(ascii: "t"):
                return literal("true", .bool(true))
            case UInt8(ascii: "f"):
                return literal("false", .bool(false))
            case UInt8(ascii: "n"):
                return literal("null", .null)
            default:
                return number()
            }
        }

        mutating func literal(_ word: StaticString, _ v: MiniJSON) -> MiniJSON? {
            var s = ByteScanner(b, position: i)
            guard s.skip(word) else { return nil }
            i = s.position
            return v
        }

        mutating func number() -> MiniJSON? {
            let start = i
            while i < b.count, let c = Optional(b[i]),
                (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
                    || c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
            {
                i += 1
            }
            guard i > start else { return nil }
            return Double(String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)).map {
                .number($0)
            }
        }

        mutating func hex4() -> UInt32? {
            guard i + 4 <= b.count else { return nil }
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let d = ByteScanner.hexValue(b[i]) else { return nil }
                v = v << 4 | UInt32(d)
                i += 1
            }
            return v
        }

        mutating func string() -> MiniJSON? {
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var out: [UInt8] = []
            while i < b.count {
                let c = b[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return .string(String(decoding: out, as: UTF8.self))
                }
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard i < b.count else { return nil }
                    let e = b[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(0x0a)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0d)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0c)
                    case UInt8(ascii: "u"):
                        guard var cp = hex4() else { return nil }
                        if cp >= 0xd800 && cp < 0xdc00, i + 1 < b.count, b[i] == UInt8(ascii: "\\"),
                            b[i + 1] == UInt8(ascii: "u")
                        {
                            i += 2
                            guard let lo = hex4(), lo >= 0xdc00, lo < 0xe000 else { return nil }
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00)
                        }
                        let scalar = Unicode.Scalar(cp) ?? "\u{fffd}"
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: out.append(e)
                    }
                    continue
                }
                out.append(c)
                i += 1
            }
            return nil
        }
    }
}
