// Unsafe pointers here: a record's message bytes are read in place, unescaped only when classified.

/// A kernel record read from a text log, its message still escaped the way its shape escapes it:
/// the pipeline counts it and asks the prefilter about these bytes, and only a candidate becomes
/// a `KmsgRecord` (a String, escapes undone). The bytes are valid during the call that hands
/// the record over.
struct TextLogRecord {
    var priority: UInt32
    var seq: UInt64?
    var timestampUsec: UInt64?
    var text: UnsafeBufferPointer<UInt8>
    var escapes: TextEscapes
    var subsystem: String?
    var device: String?

    var facility: UInt32 { priority >> 3 }

    func record() -> KmsgRecord {
        KmsgRecord(
            priority: priority, seq: seq, timestampUsec: timestampUsec, text: Self.unescape(text, escapes),
            subsystem: subsystem, device: device)
    }

    static func unescape(_ b: UnsafeBufferPointer<UInt8>, _ escapes: TextEscapes) -> String {
        switch escapes {
        case .none: return String(decoding: b, as: UTF8.self)
        case .kmsg: return KmsgRecordParser.unescape(b)
        case .dmesg: return dmesg(b)
        case .syslog: return syslog(b)
        }
    }

    /// util-linux dmesg prints what is not printable as `\xNN` (`fwrite_hex`, sys-utils/dmesg.c):
    /// control characters other than tab and newline, DEL, and bytes of invalid UTF-8. Only those
    /// are undone — a literal `\x41` in a message stays as it is.
    static func dmesg(_ b: UnsafeBufferPointer<UInt8>) -> String {
        rewrite(b) { b, i, out, n in
            guard b[i] == UInt8(ascii: "\\"), i + 3 < b.count, b[i + 1] == UInt8(ascii: "x"),
                let h = ByteScanner.hexValue(b[i + 2]), let l = ByteScanner.hexValue(b[i + 3])
            else { return (0, 0) }
            let v = h << 4 | l
            guard (v < 0x20 && v != 0x09 && v != 0x0a) || v >= 0x7f else { return (0, 0) }
            out[n] = v
            return (4, 1)
        }
    }

    /// rsyslog escapes control characters as `#ooo` (`$ControlCharacterEscapePrefix`, `#` in
    /// rsyslog's code, `\` in sysklogd's), so a SMMUv3 dword line reads `…auto: #0110x…`; undone
    /// for control characters only. journalctl -o short* prints each tab as eight spaces: a run of
    /// 8k + r spaces becomes r spaces and k tabs (the kernel's tabs follow `: `, as in
    /// `…auto: \t0x…`, `…iommu: \tGFSR …`).
    static func syslog(_ b: UnsafeBufferPointer<UInt8>) -> String {
        rewrite(b) { b, i, out, n in
            let c = b[i]
            if c == UInt8(ascii: "#") || c == UInt8(ascii: "\\"), i + 3 < b.count,
                let v = octal(b[i + 1], b[i + 2], b[i + 3]), v < 0x20 || v == 0x7f
            {
                out[n] = v
                return (4, 1)
            }
            guard c == 0x20 else { return (0, 0) }
            var run = 0
            while i + run < b.count, b[i + run] == 0x20 { run += 1 }
            guard run >= 8 else { return (0, 0) }
            for k in 0..<(run % 8) { out[n + k] = 0x20 }
            for k in 0..<(run / 8) { out[n + run % 8 + k] = 0x09 }
            return (run, run % 8 + run / 8)
        }
    }

    static func octal(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8? {
        guard a &- 0x30 < 4, b &- 0x30 < 8, c &- 0x30 < 8 else { return nil }
        return (a &- 0x30) << 6 | (b &- 0x30) << 3 | (c &- 0x30)
    }

    /// Copies `b` into a String, letting `step` rewrite at each position: it returns how many
    /// input bytes it consumed and how many output bytes it wrote for them (never more), or
    /// (0, 0) to have the byte copied as it is. The result is never longer than the input.
    static func rewrite(
        _ b: UnsafeBufferPointer<UInt8>,
        _ step: (UnsafeBufferPointer<UInt8>, Int, UnsafeMutableBufferPointer<UInt8>, Int) -> (Int, Int)
    ) -> String {
        String(unsafeUninitializedCapacity: b.count) { out in
            var n = 0
            var i = 0
            while i < b.count {
                let (consumed, written) = step(b, i, out, n)
                if consumed > 0 {
                    i += consumed
                    n += written
                } else {
                    out[n] = b[i]
                    i += 1
                    n += 1
                }
            }
            return n
        }
    }
}
