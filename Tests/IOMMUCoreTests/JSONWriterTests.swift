import IOMMUCore
import Testing

@Suite("JSON writer")
struct JSONWriterTests {
    /// The escaping rules, one byte at a time: what the eight-bytes-at-a-time scan must match.
    static func reference(_ s: String) -> String {
        var out = Array("\"".utf8)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
            case 0x0a: out += Array("\\n".utf8)
            case 0x0d: out += Array("\\r".utf8)
            case 0x09: out += Array("\\t".utf8)
            case 0..<0x20: out += Array(("\\u00" + hex(UInt64(b), width: 2)).utf8)
            default: out.append(b)
            }
        }
        return String(decoding: out + Array("\"".utf8), as: UTF8.self)
    }

    static func escaped(_ s: String) -> String {
        var b: [UInt8] = []
        JSONWriter.appendEscaped(s, to: &b)
        return String(decoding: b, as: UTF8.self)
    }

    @Test("every escape, at every offset of an eight-byte word, beside plain and multi-byte text")
    func escapesAtEveryOffset() {
        let specials = ["\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1f}"]
        let plain = ["", " ", "!", "#", "[", "]", "~", "\u{7f}", "é", "—", "≥", "A", "0x1f ! \" #"]
        for special in specials {
            for before in 0..<17 {
                for after in [0, 1, 7, 8, 9] {
                    let s = String(repeating: "a", count: before) + special + String(repeating: "z", count: after)
                    #expect(Self.escaped(s) == Self.reference(s), "\(Array(s.utf8))")
                }
            }
        }
        for p in plain {
            let s = String(repeating: p, count: 11)
            #expect(Self.escaped(s) == Self.reference(s))
        }
    }

    @Test("bytes next to the escaped ones pass the word test: 0x20, 0x21, 0x23, 0x5b, 0x5d, 0x80+")
    func neighboursAreNotEscaped() {
        let s = String(
            decoding: [0x20, 0x21, 0x23, 0x5b, 0x5d, 0xc3, 0xa9, 0x7e, 0x20, 0x21, 0x23, 0x5b], as: UTF8.self)
        #expect(Self.escaped(s) == "\"" + s + "\"")
        let kernelLine = "DMAR: [DMA Write NO_PASID] Request device [00:02.0] fault addr 0xfffff000 [fault reason 0x05]"
        #expect(Self.escaped(kernelLine) == "\"" + kernelLine + "\"")
        #expect(Self.escaped("a\u{1}b") == "\"a\\u0001b\"")
    }
}
