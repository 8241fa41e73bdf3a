// Unsafe pointers here: the header and dictionary of every record are read in place (hot path).

/// Where the parts of a raw record sit in its bytes. Parsing stops here on the hot path: most
/// records are rejected by `IOMMUPrefilter` looking at `text` before any String is made.
public struct KmsgRecordLayout: Sendable {
    public var priority: UInt32
    public var seq: UInt64
    public var timestampUsec: UInt64
    public var flag: UInt8
    /// The escaped message text (without its newline).
    public var text: Range<Int>
    /// The dictionary lines (each starting with one space), possibly empty.
    public var dictionary: Range<Int>

    public var facility: UInt32 { priority >> 3 }
}

public enum KmsgRecordParser {
    /// Parses the header of one raw record. nil when the bytes are not a kmsg record.
    /// Unknown comma-separated header fields before `;` are ignored, as the ABI requires.
    /// `firstLineEnd`, when the caller knows it (KmsgFraming), is where the header line ends:
    /// the index of its newline, or `b.count`.
    public static func layout(_ b: UnsafeBufferPointer<UInt8>, firstLineEnd: Int? = nil) -> KmsgRecordLayout? {
        var s = ByteScanner(b)
        guard let prio = s.decimal(), prio <= UInt64(UInt32.max), s.skip(byte: UInt8(ascii: ",")),
            let seq = s.decimal(), s.skip(byte: UInt8(ascii: ",")),
            let ts = s.decimal(), s.skip(byte: UInt8(ascii: ","))
        else { return nil }
        var flag = UInt8(ascii: "-")
        if let f = s.peek, f != UInt8(ascii: ";"), f != UInt8(ascii: ",") { flag = f }
        // Skip the flag and any further fields (caller=T123, …) up to ';'.
        while let c = s.peek, c != UInt8(ascii: ";") {
            if c == 0x0a { return nil }
            s.position += 1
        }
        guard s.skip(byte: UInt8(ascii: ";")) else { return nil }
        let textStart = s.position
        let end = firstLineEnd.map { max($0, textStart) } ?? ByteSearch.index(of: 0x0a, in: b, from: textStart)
        let text = textStart..<end
        var dictStart = end < b.count ? end + 1 : end
        // Dictionary lines begin with one space; anything else ends the record.
        if dictStart < b.count && b[dictStart] != 0x20 { dictStart = b.count }
        return KmsgRecordLayout(
            priority: UInt32(prio), seq: seq, timestampUsec: ts, flag: flag, text: text,
            dictionary: dictStart..<b.count)
    }

    /// The full record: text unescaped, SUBSYSTEM/DEVICE taken from the dictionary. A value equal
    /// to `previous`'s is shared with it, not made again: a multi-record event (SMMUv3: five)
    /// repeats its `DEVICE=`, which is too long for a String without storage.
    public static func record(
        _ b: UnsafeBufferPointer<UInt8>, layout l: KmsgRecordLayout, previous: KmsgRecord? = nil
    ) -> KmsgRecord {
        var subsystem: String?
        var device: String?
        var i = l.dictionary.lowerBound
        while i < l.dictionary.upperBound {
            guard b[i] == 0x20 else { break }
            let end = min(ByteSearch.index(of: 0x0a, in: b, from: i + 1), l.dictionary.upperBound)
            let line = UnsafeBufferPointer(rebasing: b[(i + 1)..<end])
            if let eq = line.firstIndex(of: UInt8(ascii: "=")) {
                let key = UnsafeBufferPointer(rebasing: line[0..<eq])
                let raw = UnsafeBufferPointer(rebasing: line[(eq + 1)...])
                if ByteSearch.equals(key, "SUBSYSTEM") {
                    subsystem = unescape(raw, reusing: previous?.subsystem)
                } else if ByteSearch.equals(key, "DEVICE") {
                    device = unescape(raw, reusing: previous?.device)
                }
            }
            i = end + 1
        }
        return KmsgRecord(
            priority: l.priority, seq: l.seq, timestampUsec: l.timestampUsec, flag: l.flag,
            text: unescape(UnsafeBufferPointer(rebasing: b[l.text])), subsystem: subsystem, device: device)
    }

    public static func parse(_ b: UnsafeBufferPointer<UInt8>) -> KmsgRecord? {
        layout(b).map { record(b, layout: $0) }
    }

    public static func parse(_ text: String) -> KmsgRecord? {
        text.withBytes { parse($0) }
    }

    /// `unescape`, or `previous` itself when it is what the bytes say unescaped.
    static func unescape(_ b: UnsafeBufferPointer<UInt8>, reusing previous: String?) -> String {
        // Equal bytes count only without an escape among them: `\x41` would equal a previous
        // value whose own escape unescaped to those four characters.
        if let previous, ByteSearch.equals(previous, b),
            ByteSearch.index(of: UInt8(ascii: "\\"), in: b, from: 0) == b.count
        {
            return previous
        }
        return unescape(b)
    }

    /// Undoes the kernel's escaping: every byte < 0x20, >= 0x7f and `\` itself is `\xNN`.
    public static func unescape(_ b: UnsafeBufferPointer<UInt8>) -> String {
        // Nearly every record has no escape: found (or not) with memchr, not byte by byte.
        let first = ByteSearch.index(of: UInt8(ascii: "\\"), in: b, from: 0)
        guard first < b.count else { return String(decoding: b, as: UTF8.self) }
        // Unescaped into the String's own storage (never longer than the escaped bytes): one
        // allocation, not a byte array and then a String (SMMUv3 dumps escape their tab).
        // Invalid UTF-8 is repaired, as `String(decoding:)` does.
        return String(unsafeUninitializedCapacity: b.count) { out in
            var n = first
            _ = out.initialize(from: UnsafeBufferPointer(rebasing: b[..<first]))
            var i = first
            while i < b.count {
                if b[i] == UInt8(ascii: "\\"), i + 3 < b.count + 0, b[i + 1] == UInt8(ascii: "x"),
                    let h = ByteScanner.hexValue(b[i + 2]), let l = ByteScanner.hexValue(b[i + 3])
                {
                    out[n] = h << 4 | l
                    i += 4
                } else {
                    out[n] = b[i]
                    i += 1
                }
                n += 1
            }
            return n
        }
    }
}
