/// Turns one line of a text log (dmesg, journalctl) into a record the classifier takes. Pasted
/// text has no sequence numbers; the level is known only from `dmesg -r` (`<3>`) or `dmesg -x`
/// (`kern  :err   : `), else lines are taken as kernel records at level 4.
///
/// Shapes (util-linux dmesg, systemd journalctl):
/// * `dmesg`: `[    5.413744] text`; `dmesg -T`: `[Thu Nov 26 05:53:01 2026] text`;
///   `--time-format=iso`: `2026-11-26T05:53:01,413744+00:00 text`; `-t`: `text`;
///   `-r`: `<3>[    5.413744] text`; `-x`: `kern  :err   : [    5.413744] text`.
///   A record with an embedded newline (the ≤4.6 Intel fault) is printed with its second line
///   unstamped and indented when dmesg reads /dev/kmsg; through syslog(2) every line is stamped.
/// * `journalctl -k` / `-o short*`: `Nov 26 05:53:01 host kernel: text`, `2026-11-26T05:53:01+0000
///   host kernel: text`, `[    5.413744] host kernel: text` (short-monotonic), `Thu 2026-11-26
///   05:53:01 UTC host kernel: text` (short-full); further lines of a multi-line message are
///   indented, without a prefix.
public enum TextLogDecoder {
    /// A dmesg line: the record, and whether it carried a time stamp (nil: an empty line).
    public static func dmesg(_ line: Substring) -> KmsgRecord? {
        dmesgLine(line)?.record
    }

    public static func dmesgLine(_ line: Substring) -> (record: KmsgRecord, stamped: Bool)? {
        var rest = line
        var prio: UInt32 = 4
        var stamped = false
        // dmesg -r: `<N>` (facility << 3 | level).
        if rest.hasPrefix("<"), let close = rest.firstIndex(of: ">"),
            rest.distance(from: rest.startIndex, to: close) <= 4,
            let p = UInt32(rest[rest.index(after: rest.startIndex)..<close])
        {
            prio = p
            rest = rest[rest.index(after: close)...]
            stamped = true
        } else if let (p, after) = decodedPrefix(rest) {
            // dmesg -x: `kern  :err   : `
            prio = p
            rest = after
            stamped = true
        }
        var ts: UInt64?
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            let stamp = rest[rest.index(after: rest.startIndex)..<close].trimmingSpaces()
            ts = parseSeconds(stamp)
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix(" ") { rest = rest.dropFirst() }
            stamped = true
        } else if isISOStamp(rest), let space = rest.firstIndex(of: " ") {
            rest = rest[rest.index(after: space)...]
            stamped = true
        }
        guard !rest.isEmpty else { return nil }
        return (KmsgRecord(priority: prio, seq: nil, timestampUsec: ts, text: String(rest)), stamped)
    }

    /// `Nov 26 05:53:01 host kernel: text`, `2026-11-26T05:53:01+0000 host kernel: text`,
    /// `[    5.413744] host kernel: text` — the first ` kernel: ` with no `: ` before it (another
    /// process's line has its own `name[pid]: ` first). Lines of other processes are not kernel
    /// records.
    public static func journal(_ line: Substring) -> KmsgRecord? {
        guard let r = kernelMarker(line) else { return nil }
        var ts: UInt64?
        if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
            ts = parseSeconds(line[line.index(after: line.startIndex)..<close].trimmingSpaces())
        }
        let text = line[r.upperBound...]
        guard !text.isEmpty else { return nil }
        return KmsgRecord(priority: 4, seq: nil, timestampUsec: ts, text: String(text))
    }

    /// Where ` kernel: ` ends the prefix of a journal line, if it does.
    static func kernelMarker(_ line: Substring) -> Range<Substring.Index>? {
        guard let r = line.range(of: " kernel: ") else { return nil }
        if line[line.startIndex..<r.lowerBound].range(of: ": ") != nil { return nil }
        return r
    }

    static let facilities = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    ]
    static let levels = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"]

    /// dmesg -x `facility:level: ` (`%-6s:%-6s: `): `kern  :err   : `.
    static func decodedPrefix(_ s: Substring) -> (UInt32, Substring)? {
        let u = s.utf8
        // Fixed columns: the colons are the 7th and 14th bytes.
        guard u.count > 14, let c1 = u.index(u.startIndex, offsetBy: 6, limitedBy: u.endIndex),
            u[c1] == UInt8(ascii: ":"), let c2 = u.index(c1, offsetBy: 7, limitedBy: u.endIndex),
            u[c2] == UInt8(ascii: ":")
        else { return nil }
        let fac = s[s.startIndex..<c1].trimmingSpaces()
        let lev = s[u.index(after: c1)..<c2].trimmingSpaces()
        guard let f = facilities.firstIndex(of: fac), let l = levels.firstIndex(of: lev) else { return nil }
        var rest = s[u.index(after: c2)...]
        if rest.utf8.first == 0x20 { rest = rest.dropFirst() }
        return (UInt32(f) << 3 | UInt32(l), rest)
    }

    /// `2026-11-26T05:53:01…` at the start of the line (dmesg --time-format=iso).
    static func isISOStamp(_ s: Substring) -> Bool {
        let u = s.utf8
        var i = u.startIndex
        for k in 0..<11 {
            guard i < u.endIndex else { return false }
            let b = u[i]
            switch k {
            case 4, 7: guard b == UInt8(ascii: "-") else { return false }
            case 10: guard b == UInt8(ascii: "T") else { return false }
            default: guard b >= 0x30 && b <= 0x39 else { return false }
            }
            i = u.index(after: i)
        }
        return true
    }

    /// `5.413744` → 5413744 µs.
    static func parseSeconds(_ s: String) -> UInt64? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let sec = UInt64(parts[0]), parts[1].count <= 6, let frac = UInt64(parts[1]) else {
            return nil
        }
        var usec = frac
        for _ in parts[1].count..<6 { usec *= 10 }
        let (m, o1) = sec.multipliedReportingOverflow(by: 1_000_000)
        let (t, o2) = m.addingReportingOverflow(usec)
        return o1 || o2 ? nil : t
    }
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
