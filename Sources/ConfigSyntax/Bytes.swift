/// The bytes both parsers branch on.
let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'"), hash = UInt8(ascii: "#")
let newline = UInt8(ascii: "\n"), carriageReturn = UInt8(ascii: "\r")
let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), backslash = UInt8(ascii: "\\")

func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

/// Hexadecimal digits (and nothing else) as a number; nil when any is not one or it overflows.
func hexValue(_ digits: ArraySlice<UInt8>) -> UInt32? {
    guard !digits.isEmpty, digits.count <= 8 else { return nil }
    var v: UInt32 = 0
    for c in digits {
        let d: UInt8
        switch c {
        case 0x30...0x39: d = c - 0x30
        case 0x41...0x46: d = c - 0x41 + 10
        case 0x61...0x66: d = c - 0x61 + 10
        default: return nil
        }
        v = v << 4 | UInt32(d)
    }
    return v
}
