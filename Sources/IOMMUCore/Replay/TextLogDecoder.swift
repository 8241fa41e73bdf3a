/// Turns one line of a text log (dmesg, journalctl) into a record the classifier takes. Pasted
/// text has no sequence numbers and no facility: lines are taken as kernel records, level 4.
public enum TextLogDecoder {
    /// `[    5.413744] text` → (5413744, text); `[Thu Nov 26 05:53:01 2026] text` → (nil, text);
    /// a line without a stamp is returned whole.
    public static func dmesg(_ line: Substring) -> KmsgRecord? {
        var rest = line
        var ts: UInt64?
        if rest.hasPrefix("<"), let close = rest.firstIndex(of: ">"), rest.distance(from: rest.startIndex, to: close) <= 4 {
            rest = rest[rest.index(after: close)...]
        }
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let stamp = rest[rest.index(after: rest.startIndex)..<close].trimmingSpaces()
            ts = parseSeconds(stamp)
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix(" ") { rest = rest.dropFirst() }
        }
        guard !rest.isEmpty else { return nil }
        return KmsgRecord(priority: 4, seq: nil, timestampUsec: ts, text: String(rest))
    }

    /// `Nov 26 05:53:01 host kernel: text`, `2026-11-26T05:53:01+0000 host kernel: text`,
    /// `[    5.413744] host kernel: text` — anything up to ` kernel: `. Lines of other
    /// processes are not kernel records.
    public static func journal(_ line: Substring) -> KmsgRecord? {
        guard let r = line.range(of: " kernel: ") else { return nil }
        var ts: UInt64?
        if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
            ts = parseSeconds(line[line.index(after: line.startIndex)..<close].trimmingSpaces())
        }
        let text = line[r.upperBound...]
        guard !text.isEmpty else { return nil }
        return KmsgRecord(priority: 4, seq: nil, timestampUsec: ts, text: String(text))
    }

    /// `5.413744` → 5413744 µs.
    static func parseSeconds(_ s: String) -> UInt64? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let sec = UInt64(parts[0]), parts[1].count <= 6, let frac = UInt64(parts[1]) else {
            return nil
        }
        var usec = frac
        for _ in parts[1].count..<6 { usec *= 10 }
        return sec * 1_000_000 + usec
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        guard !needle.isEmpty, needle.count <= count else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}
