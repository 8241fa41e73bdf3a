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

    /// dmesg -x `facility:level: ` (`%-6s:%-6s: `): `kern  :err   : `.
    static let facilities = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    ]
    static let levels = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"]

    static func decodedPrefix(_ s: Substring) -> (UInt32, Substring)? {
        guard let c1 = s.firstIndex(of: ":") else { return nil }
        let fac = s[s.startIndex..<c1].trimmingSpaces()
        guard let f = facilities.firstIndex(of: fac) else { return nil }
        let afterFac = s[s.index(after: c1)...]
        guard let c2 = afterFac.firstIndex(of: ":") else { return nil }
        let lev = afterFac[afterFac.startIndex..<c2].trimmingSpaces()
        guard let l = levels.firstIndex(of: lev) else { return nil }
        var rest = afterFac[afterFac.index(after: c2)...]
        if rest.hasPrefix(" ") { rest = rest.dropFirst() }
        return (UInt32(f) << 3 | UInt32(l), rest)
    }

    /// `2026-11-26T05:53:01…` at the start of the line (dmesg --time-format=iso).
    static func isISOStamp(_ s: Substring) -> Bool {
        let u = Array(s.utf8.prefix(11))
        guard u.count == 11 else { return false }
        func digit(_ i: Int) -> Bool { u[i] >= 0x30 && u[i] <= 0x39 }
        return digit(0) && digit(1) && digit(2) && digit(3) && u[4] == UInt8(ascii: "-") && digit(5) && digit(6)
            && u[7] == UInt8(ascii: "-") && digit(8) && digit(9) && u[10] == UInt8(ascii: "T")
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
