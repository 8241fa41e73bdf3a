/// A small JSON writer: the status, replay and control-socket outputs are built with it so the
/// pure core needs no Foundation. Keys are written in the order given (stable output).
public struct JSONWriter {
    public private(set) var output: String = ""
    var needsComma: [Bool] = [false]

    public init() {}

    mutating func separator() {
        if needsComma[needsComma.count - 1] { output += "," }
        needsComma[needsComma.count - 1] = true
    }

    mutating func key(_ k: String) {
        separator()
        JSONWriter.appendEscaped(k, to: &output)
        output += ":"
        needsComma[needsComma.count - 1] = false
    }

    public mutating func beginObject(_ k: String? = nil) {
        if let k { key(k) } else { separator() }
        output += "{"
        needsComma.append(false)
    }

    public mutating func endObject() {
        needsComma.removeLast()
        output += "}"
        needsComma[needsComma.count - 1] = true
    }

    public mutating func beginArray(_ k: String? = nil) {
        if let k { key(k) } else { separator() }
        output += "["
        needsComma.append(false)
    }

    public mutating func endArray() {
        needsComma.removeLast()
        output += "]"
        needsComma[needsComma.count - 1] = true
    }

    public mutating func string(_ k: String?, _ v: String?) {
        if let k { key(k) } else { separator() }
        if let v { JSONWriter.appendEscaped(v, to: &output) } else { output += "null" }
        needsComma[needsComma.count - 1] = true
    }

    public mutating func number(_ k: String?, _ v: UInt64?) {
        if let k { key(k) } else { separator() }
        output += v.map { String($0) } ?? "null"
        needsComma[needsComma.count - 1] = true
    }

    public mutating func number(_ k: String?, _ v: Int64?) {
        if let k { key(k) } else { separator() }
        output += v.map { String($0) } ?? "null"
        needsComma[needsComma.count - 1] = true
    }

    public mutating func number(_ k: String?, _ v: Int?) {
        number(k, v.map { Int64($0) })
    }

    public mutating func double(_ k: String?, _ v: Double?) {
        if let k { key(k) } else { separator() }
        if let v, v.isFinite { output += String(v) } else { output += "null" }
        needsComma[needsComma.count - 1] = true
    }

    public mutating func bool(_ k: String?, _ v: Bool?) {
        if let k { key(k) } else { separator() }
        output += v.map { $0 ? "true" : "false" } ?? "null"
        needsComma[needsComma.count - 1] = true
    }

    public static func appendEscaped(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    out += "\\u00" + hex(UInt64(u.value), width: 2)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }
}
