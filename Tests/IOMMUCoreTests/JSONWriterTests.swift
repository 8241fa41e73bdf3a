import IOMMUCore
import Testing

@Suite("JSON writer")
struct JSONWriterTests {
    /// The escaping rules, one scalar at a time: JSON's, and every control character a
    /// terminal acts on (DEL, C1).
    static func reference(_ s: String) -> String {
        var out = Array("\"".utf8)
        for u in s.unicodeScalars {
            if u.value == 0x7f || (u.value >= 0x80 && u.value < 0xa0) {
                out += Array(("\\u00" + hex(UInt64(u.value), width: 2)).utf8)
                continue
            }
            guard u.value < 0x80 else {
                out += Array(String(u).utf8)
                continue
            }
            let b = UInt8(u.value)
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

    @Test("every escape, at every offset, beside plain and multi-byte text")
    func escapesAtEveryOffset() {
        let specials = [
            "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1f}", "\u{7f}", "\u{80}", "\u{9b}", "\u{9f}",
        ]
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

    @Test("literal and computed keys write the same; JSON lines take no comma between them")
    func keysAndLines() {
        var w = JSONWriter()
        for _ in 0..<2 {
            w.beginObject()
            w.string("a", "x")
            let computed = "a"
            w.string(JSONKey(computed), "x\"")
            w.hex("h", 0xfff0)
            w.hex("none", nil)
            w.number("n", UInt64(42))
            w.beginArray("list")
            w.number(nil, Int64(-1))
            w.string(nil, nil)
            w.endArray()
            w.endObject()
            w.endLine()
        }
        let line = #"{"a":"x","a":"x\"","h":"0xfff0","none":null,"n":42,"list":[-1,null]}"#
        #expect(w.output == line + "\n" + line + "\n")
    }

    @Test("numbers are written as Swift spells them, to the ends of their range")
    func numbers() {
        let unsigned: [UInt64] = [0, 7, 10, 99, 100, 4_294_967_296, .max]
        let signed: [Int64] = [0, -1, 9, -10, .min, .max]
        var w = JSONWriter()
        w.beginArray()
        for n in unsigned { w.number(nil, n) }
        for n in signed { w.number(nil, n) }
        w.endArray()
        #expect(w.output == "[" + (unsigned.map(String.init) + signed.map(String.init)).joined(separator: ",") + "]")
    }

    @Test("the byte sink grows past its capacity and keeps every byte")
    func sinkGrows() {
        var sink = ByteSink(capacity: 16)
        var expected: [UInt8] = []
        for i in 0..<1000 {
            let piece = String(repeating: Character(Unicode.Scalar(UInt8(0x61 + i % 26))), count: i % 37)
            sink.append(piece)
            sink.append(UInt8(ascii: "|"))
            expected += Array(piece.utf8) + [UInt8(ascii: "|")]
        }
        sink.append(repeating: 0x30, count: 200)
        expected += Array(repeating: 0x30, count: 200)
        #expect(sink.count == expected.count)
        #expect(sink.bytes == expected)
        sink.removeAll()
        #expect(sink.count == 0 && sink.string == "")
    }
}
