// Unsafe pointers here: addresses are scanned out of record bytes and written into Strings for every fault counted (hot path).

/// A PCI function address, `SSSS:BB:DD.F`. Kernel fault lines mostly print only `BB:DD.F`
/// (Intel never prints the segment; AMD added it in v6.0, 964d21a7654c); the segment is then
/// 0000 and the topology decides whether that is unambiguous.
public struct PCIAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var segment: UInt16
    public var bus: UInt8
    public var device: UInt8
    public var function: UInt8

    public init(segment: UInt16 = 0, bus: UInt8, device: UInt8, function: UInt8) {
        self.segment = segment
        self.bus = bus
        self.device = device & 0x1f
        self.function = function & 0x7
    }

    /// From a 16-bit PCI requester id (source id / StreamID on an identity iommu-map).
    public init(segment: UInt16 = 0, requesterID: UInt16) {
        self.init(
            segment: segment, bus: UInt8(requesterID >> 8), device: UInt8((requesterID >> 3) & 0x1f),
            function: UInt8(requesterID & 0x7))
    }

    public var requesterID: UInt16 { UInt16(bus) << 8 | UInt16(device) << 3 | UInt16(function) }

    /// Parses `SSSS:BB:DD.F` or `BB:DD.F` (also with the `0x` prefixes of v5.14's Intel lines).
    public init?(parsing text: some StringProtocol) {
        var s = String(text)
        var result: PCIAddress?
        s.withBytes { bytes in
            var scanner = ByteScanner(bytes)
            result = PCIAddress.scan(&scanner)
            if !scanner.isAtEnd { result = nil }
        }
        guard let result else { return nil }
        self = result
        s = ""
    }

    /// Scans `[0x]SSSS:[0x]BB:[0x]DD.F` or `[0x]BB:[0x]DD.F` at the cursor.
    public static func scan(_ s: inout ByteScanner) -> PCIAddress? {
        let start = s.position
        _ = s.skip("0x")
        guard let a = s.hex(maxDigits: 4), s.skip(byte: UInt8(ascii: ":")) else {
            s.position = start
            return nil
        }
        _ = s.skip("0x")
        guard let b = s.hex(maxDigits: 4) else {
            s.position = start
            return nil
        }
        if s.skip(byte: UInt8(ascii: ":")) {
            // segment:bus:dev.fn
            guard a <= 0xffff, b <= 0xff, let d = s.hex(maxDigits: 2), s.skip(byte: UInt8(ascii: ".")),
                let f = s.hex(maxDigits: 1), d < 32, f < 8
            else {
                s.position = start
                return nil
            }
            return PCIAddress(segment: UInt16(a), bus: UInt8(b), device: UInt8(d), function: UInt8(f))
        }
        guard a <= 0xff, b < 32, s.skip(byte: UInt8(ascii: ".")), let f = s.hex(maxDigits: 1), f < 8 else {
            s.position = start
            return nil
        }
        return PCIAddress(segment: 0, bus: UInt8(a), device: UInt8(b), function: UInt8(f))
    }

    /// `SSSS:BB:DD.F` — 12 bytes, so a small (inline, unallocated) String; built byte by byte
    /// because it is made for every fault counted.
    public var description: String {
        let digits: StaticString = "0123456789abcdef"
        let d = digits.utf8Start
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 12) { b in
            b[0] = d[Int(segment >> 12 & 0xf)]
            b[1] = d[Int(segment >> 8 & 0xf)]
            b[2] = d[Int(segment >> 4 & 0xf)]
            b[3] = d[Int(segment & 0xf)]
            b[4] = UInt8(ascii: ":")
            b[5] = d[Int(bus >> 4)]
            b[6] = d[Int(bus & 0xf)]
            b[7] = UInt8(ascii: ":")
            b[8] = d[Int(device >> 4)]
            b[9] = d[Int(device & 0xf)]
            b[10] = UInt8(ascii: ".")
            b[11] = UInt8(ascii: "0") + function
            return String(decoding: UnsafeBufferPointer(b), as: UTF8.self)
        }
    }

    /// Whether `text` names this address with its segment (`ssss:bb:dd.f`, as `description`
    /// spells it). A byte search (`ByteSearch`), not `String.contains`: it runs for every
    /// attributed fault.
    public func isPrintedWithSegment(in text: String) -> Bool { text[...].range(of: description) != nil }

    public static func < (l: PCIAddress, r: PCIAddress) -> Bool {
        (l.segment, l.bus, l.device, l.function) < (r.segment, r.bus, r.device, r.function)
    }
}

/// Lower-case hex without prefix, zero-padded to `width`.
public func hex(_ value: UInt64, width: Int = 0) -> String { hexString(value, width: width, prefix: false) }

/// `0x`-prefixed lower-case hex — the contract's form for addresses, reasons, PASIDs and SIDs.
public func hex0x(_ value: UInt64, width: Int = 0) -> String { hexString(value, width: width, prefix: true) }

/// Written byte by byte into the String's own storage: these are made for every fault counted
/// and rendered (an address, a reason), and up to 15 bytes stay a small, unallocated String.
func hexString(_ value: UInt64, width: Int, prefix: Bool) -> String {
    String(unsafeUninitializedCapacity: hexCount(value, width: width, prefix: prefix)) {
        writeHex(value, width: width, prefix: prefix, into: $0)
    }
}

/// How many bytes `writeHex` writes.
@inline(__always)
func hexCount(_ value: UInt64, width: Int, prefix: Bool) -> Int {
    max(width, (67 - value.leadingZeroBitCount) / 4, 1) + (prefix ? 2 : 0)
}

/// Writes `value` as `hex`/`hex0x` spell it at the start of `b` (which has room for
/// `hexCount` bytes) and returns the count.
@inline(__always)
func writeHex(_ value: UInt64, width: Int, prefix: Bool, into b: UnsafeMutableBufferPointer<UInt8>) -> Int {
    let count = hexCount(value, width: width, prefix: prefix)
    let digits = count - (prefix ? 2 : 0)
    if prefix {
        b[0] = UInt8(ascii: "0")
        b[1] = UInt8(ascii: "x")
    }
    var v = value
    for i in stride(from: count - 1, through: count - digits, by: -1) {
        let d = UInt8(truncatingIfNeeded: v & 0xf)
        b[i] = d < 10 ? 0x30 + d : 0x57 + d
        v >>= 4
    }
    return count
}

extension Substring {
    /// First occurrence of `needle`, compared byte by byte.
    func range(of needle: String) -> Range<Substring.Index>? {
        let n = needle.utf8
        guard let first = n.first, n.count <= utf8.count else { return nil }
        var i = utf8.startIndex
        while i < utf8.endIndex {
            if utf8[i] == first {
                var j = i
                var k = n.startIndex
                while k < n.endIndex, j < utf8.endIndex, utf8[j] == n[k] {
                    j = utf8.index(after: j)
                    k = n.index(after: k)
                }
                if k == n.endIndex { return i..<j }
            }
            i = utf8.index(after: i)
        }
        return nil
    }
}
