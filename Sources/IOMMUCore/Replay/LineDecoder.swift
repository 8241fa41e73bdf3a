// Unsafe pointers here: each line of a text log is taken apart in place (hot path of text replay).

/// How a line's message is escaped in its shape; undone when a record is made (`TextLogRecord`).
enum TextEscapes: UInt8, Sendable {
    /// The message as the kernel logged it (journalctl -o cat, json*, verbose, export).
    case none
    /// /dev/kmsg: every byte < 0x20, ≥ 0x7f and `\` itself is `\xNN`.
    case kmsg
    /// util-linux dmesg: what is not printable is `\xNN`; tab and newline are kept.
    case dmesg
    /// rsyslog: control characters are `#ooo` (or `\ooo`); journalctl -o short* prints a tab as
    /// eight spaces (systemd 252, measured).
    case syslog
}

/// One line of a text log taken apart: where the kernel's message starts, and what the prefix
/// before it said.
struct DecodedLine: Sendable {
    enum Kind: Sendable, Equatable {
        /// A kernel record (or one of unknown origin: dmesg shapes carry no tag).
        case record
        /// A /dev/kmsg record line (`prio,seq,ts,flag;text`): its dictionary lines may follow.
        case kmsg
        /// Another program's line in a syslog or journal shape: not a kernel record.
        case otherProgram
        /// journalctl's `-- Boot … --`, `-- No entries --`.
        case separator
        case blank
        /// No shape the input's format allows (`--format journal`: a line with no syslog prefix).
        case unshaped
    }

    var kind: Kind
    /// Where the message starts in the line.
    var text: Int
    var priority: UInt32 = 4
    var timestamp: UInt64?
    var seq: UInt64?
    /// Some prefix was recognised: an indented unprefixed line after it continues its record.
    var prefixed = true
    var escapes: TextEscapes = .dmesg
}

/// Takes one line of a text log apart, whatever shape it has (`LineStamps` names them): the
/// shape is decided per line, so a file may be a concatenation of several. The dispatch is on the
/// first byte, so the common cases (`[` dmesg, a month name for syslog) cost one test each.
///
/// Which lines are kernel records: a syslog or journal line tagged `kernel` (without a pid: a
/// program logging under that name gets one from journald — `kernel[123]:`), an RFC 5424 line of
/// APP-NAME `kernel`; with a priority (`<N>`, `dmesg -x`, busybox's `kern.info`) its facility
/// decides, as in /dev/kmsg. dmesg shapes carry no tag: their lines are taken as the kernel's.
struct LineDecoder: Sendable {
    struct Shapes: OptionSet, Sendable {
        let rawValue: UInt8
        static let dmesg = Shapes(rawValue: 1)
        static let syslog = Shapes(rawValue: 2)
        static let kmsg = Shapes(rawValue: 4)
        static let all: Shapes = [.dmesg, .syslog, .kmsg]
    }

    let shapes: Shapes
    /// Hosts named before ` kernel: ` in this input (at most `maxHosts`): `[ts] HOST name: …` is
    /// then a journalctl -o short-monotonic line of another program, not a dmesg line.
    private(set) var hosts: [[UInt8]] = []
    static let maxHosts = 8

    init(shapes: Shapes) { self.shapes = shapes }

    mutating func decode(_ b: UnsafeBufferPointer<UInt8>) -> DecodedLine {
        let n = b.count
        var i = 0
        // A serial console's stray bytes before the stamp (NUL, 0xff, a half-read escape).
        if n > 0, Self.isJunk(b[0]) {
            var j = 0
            while j < n, j < 32, Self.isJunk(b[j]) { j += 1 }
            if j < n, b[j] == UInt8(ascii: "[") || b[j] == UInt8(ascii: "<") { i = j }
        }
        // A mail or forum quote: `> `, `>> `, `> > ` before the line it quotes (no log shape
        // starts with `>`).
        if i < n, b[i] == UInt8(ascii: ">") {
            var j = i
            while j < n, j - i < 16, b[j] == UInt8(ascii: ">") || b[j] == 0x20 { j += 1 }
            i = j
        }
        var k = i
        while k < n, b[k] == 0x20 || b[k] == 0x09 { k += 1 }
        if k == n { return DecodedLine(kind: .blank, text: n, prefixed: false) }
        let c = b[i]
        switch c {
        case UInt8(ascii: "["):
            if let d = bracketed(b, i) { return d }
        case UInt8(ascii: "<"):
            if let d = angle(b, i) { return d }
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            if let d = numeric(b, i) { return d }
        case UInt8(ascii: "A")...UInt8(ascii: "Z"):
            if shapes.contains(.syslog), let d = wallClock(b, i) { return d }
        case UInt8(ascii: "a")...UInt8(ascii: "z"):
            if let d = lowercase(b, i) { return d }
        case UInt8(ascii: "-"):
            if shapes.contains(.syslog), n - i >= 6, b[i + 1] == UInt8(ascii: "-"), b[i + 2] == 0x20,
                b[n - 1] == UInt8(ascii: "-"), b[n - 2] == UInt8(ascii: "-"), b[n - 3] == 0x20
            {
                return DecodedLine(kind: .separator, text: n)
            }
        default: break
        }
        return DecodedLine(kind: shapes.contains(.dmesg) ? .record : .unshaped, text: i, prefixed: false)
    }

    /// Bytes no log shape starts with: control characters (not tab), DEL, bytes ≥ 0x80.
    static func isJunk(_ c: UInt8) -> Bool {
        (c < 0x20 && c != 0x09) || c >= 0x7f
    }

    // MARK: - by first byte

    /// `[ts] text` (dmesg, console), `[ts] host kernel: text` (journalctl short-monotonic, -delta).
    private mutating func bracketed(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> DecodedLine? {
        var j = i
        guard shapes.contains(.dmesg) || shapes.contains(.syslog), let stamp = LineStamps.bracket(b, &j) else {
            return nil
        }
        var ts: UInt64?
        if case .monotonic(let t) = stamp { ts = t }
        if shapes.contains(.syslog), var d = syslogTail(b, j, priority: nil, hostRequired: true) {
            if d.kind == .record, d.timestamp == nil { d.timestamp = ts }
            return d
        }
        guard shapes.contains(.dmesg) else { return nil }
        return DecodedLine(kind: .record, text: j, timestamp: ts)
    }

    /// `<N>[ts] text` (dmesg -r, /proc/kmsg), `<N>Dec  7 …` (RFC 3164), `<N>1 …` (RFC 5424).
    private mutating func angle(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> DecodedLine? {
        var j = i
        guard let pri = LineStamps.priority(b, &j) else { return nil }
        if shapes.contains(.syslog) {
            if j + 1 < b.count, b[j] == UInt8(ascii: "1"), b[j + 1] == 0x20 {
                if let d = rfc5424(b, j + 2, priority: pri) { return d }
            }
            var k = j
            if LineStamps.bsd(b, &k) || LineStamps.iso(b, &k) != nil {
                return syslogTail(b, k, priority: pri, hostRequired: false)
                    ?? DecodedLine(kind: .otherProgram, text: k)
            }
        }
        guard shapes.contains(.dmesg) else { return nil }
        return inner(b, j, priority: pri, timestamp: nil, escapes: .dmesg)
    }

    /// A kmsg record line, an ISO stamp (dmesg --time-format=iso, rsyslog, journalctl short-iso),
    /// or journalctl -o short-unix.
    private mutating func numeric(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> DecodedLine? {
        if shapes.contains(.kmsg), i == 0, let l = KmsgRecordParser.layout(b, firstLineEnd: b.count) {
            return DecodedLine(
                kind: .kmsg, text: l.text.lowerBound, priority: l.priority, timestamp: l.timestampUsec, seq: l.seq,
                escapes: .kmsg)
        }
        var k = i
        if let comma = LineStamps.iso(b, &k) {
            if comma, shapes.contains(.dmesg) { return DecodedLine(kind: .record, text: k) }
            if shapes.contains(.syslog), let d = syslogTail(b, k, priority: nil, hostRequired: false) { return d }
            if shapes.contains(.dmesg) { return DecodedLine(kind: .record, text: k) }
            return nil
        }
        k = i
        if shapes.contains(.syslog), LineStamps.unix(b, &k) {
            return syslogTail(b, k, priority: nil, hostRequired: false) ?? DecodedLine(kind: .otherProgram, text: k)
        }
        return nil
    }

    /// `Dec  7 09:00:00 host kernel: …` (RFC 3164, journalctl short), `Mon 2026-12-07 … UTC host
    /// kernel: …` (journalctl short-full, with-unit).
    private mutating func wallClock(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> DecodedLine? {
        var k = i
        if LineStamps.bsd(b, &k) || LineStamps.full(b, &k) {
            return syslogTail(b, k, priority: nil, hostRequired: false) ?? DecodedLine(kind: .otherProgram, text: k)
        }
        return nil
    }

    /// `kernel: text` alone, or dmesg -x `kern  :err   : …`.
    private mutating func lowercase(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> DecodedLine? {
        if shapes.contains(.syslog), Self.kernelTag(b, i) {
            var j = i + 7
            _ = LineStamps.byte(b, &j, 0x20)
            return inner(b, j, priority: 4, timestamp: nil, escapes: .syslog)
        }
        var k = i
        if shapes.contains(.dmesg), let pri = LineStamps.decoded(b, &k) {
            return inner(b, k, priority: pri, timestamp: nil, escapes: .dmesg)
        }
        return nil
    }

    // MARK: - layers

    /// What may follow an outer prefix: a dmesg stamp (rsyslog's kern.log keeps the kernel's
    /// own `[ts]`, with its caller id), or dmesg -x's ISO stamp; then the message.
    private func inner(
        _ b: UnsafeBufferPointer<UInt8>, _ i: Int, priority: UInt32, timestamp: UInt64?, escapes: TextEscapes
    ) -> DecodedLine {
        var j = i
        var ts = timestamp
        if j < b.count {
            if b[j] == UInt8(ascii: "[") {
                if case .monotonic(let t)? = LineStamps.bracket(b, &j) { ts = t }
            } else if LineStamps.isDigit(b[j]) {
                _ = LineStamps.iso(b, &j)
            }
        }
        return DecodedLine(kind: .record, text: j, priority: priority, timestamp: ts, escapes: escapes)
    }

    /// After a syslog stamp: `[HOST ][FACILITY.LEVEL ]TAG: message`. A tag `kernel` is the kernel
    /// (its message may carry the kernel's own `[ts]`); any other tag is another program. With
    /// `hostRequired` (after a bracketed stamp, where a dmesg line could look the same) the host
    /// must be there, and an untagged-pid tag counts only after a host this input named before.
    private mutating func syslogTail(
        _ b: UnsafeBufferPointer<UInt8>, _ i: Int, priority: UInt32?, hostRequired: Bool
    ) -> DecodedLine? {
        let n = b.count
        var j = i
        func token() -> Range<Int>? {
            let s = j
            while j < n, j - s < 256, b[j] != 0x20 { j += 1 }
            return j > s ? s..<j : nil
        }
        guard let t1 = token() else { return nil }
        var host: Range<Int>?
        var tag = t1
        var pri = priority
        if b[t1.upperBound - 1] != UInt8(ascii: ":") || hostRequired {
            guard LineStamps.byte(b, &j, 0x20), let t2 = token() else { return nil }
            host = t1
            tag = t2
            if b[t2.upperBound - 1] != UInt8(ascii: ":") {
                guard let fl = LineStamps.facilityLevel(b, t2), LineStamps.byte(b, &j, 0x20), let t3 = token(),
                    b[t3.upperBound - 1] == UInt8(ascii: ":")
                else { return nil }
                pri = fl
                tag = t3
            }
        }
        guard b[tag.upperBound - 1] == UInt8(ascii: ":") else { return nil }
        let name = tag.lowerBound..<(tag.upperBound - 1)
        _ = LineStamps.byte(b, &j, 0x20)
        if name.count == 6, Self.kernelTag(b, name.lowerBound) {
            if let host { learn(UnsafeBufferPointer(rebasing: b[host])) }
            return inner(b, j, priority: pri ?? 4, timestamp: nil, escapes: .syslog)
        }
        if hostRequired, let host, !name.contains(where: { b[$0] == UInt8(ascii: "[") }),
            !knows(UnsafeBufferPointer(rebasing: b[host]))
        {
            return nil
        }
        return DecodedLine(kind: .otherProgram, text: j)
    }

    /// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]` (RFC 5424; the
    /// position is after `1 `). APP-NAME `kernel` is the kernel; MSG may start with a BOM.
    private func rfc5424(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, priority: UInt32) -> DecodedLine? {
        let n = b.count
        var j = i
        if j + 1 < n, b[j] == UInt8(ascii: "-"), b[j + 1] == 0x20 {
            j += 2
        } else if LineStamps.iso(b, &j) == nil {
            return nil
        }
        var fields: [Range<Int>] = []
        for _ in 0..<4 {
            let s = j
            while j < n, j - s < 256, b[j] != 0x20 { j += 1 }
            guard j > s, j < n else { return nil }
            fields.append(s..<j)
            j += 1
        }
        guard j < n else { return nil }
        // STRUCTURED-DATA: `-`, or `[id k="v"]…` (`\]`, `\"`, `\\` escaped inside values).
        if b[j] == UInt8(ascii: "-") {
            j += 1
        } else {
            while j < n, b[j] == UInt8(ascii: "[") {
                var quoted = false
                j += 1
                while j < n {
                    let c = b[j]
                    if c == UInt8(ascii: "\\") && quoted {
                        j += 2
                        continue
                    }
                    if c == UInt8(ascii: "\"") { quoted.toggle() }
                    j += 1
                    if c == UInt8(ascii: "]") && !quoted { break }
                }
            }
        }
        guard j <= n else { return nil }
        _ = LineStamps.byte(b, &j, 0x20)
        if j + 3 <= n, b[j] == 0xEF, b[j + 1] == 0xBB, b[j + 2] == 0xBF { j += 3 }
        let app = fields[1]
        guard app.count == 6, Self.kernelTag(b, app.lowerBound, colon: false) else {
            return DecodedLine(kind: .otherProgram, text: j)
        }
        return inner(b, j, priority: priority, timestamp: nil, escapes: .syslog)
    }

    /// `kernel:` (or the bare name, without `colon`) at `i`.
    static func kernelTag(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, colon: Bool = true) -> Bool {
        let word: StaticString = "kernel:"
        let n = colon ? 7 : 6
        guard b.count - i >= n else { return false }
        let p = word.utf8Start
        for k in 0..<n where b[i + k] != p[k] { return false }
        return true
    }

    private func knows(_ host: UnsafeBufferPointer<UInt8>) -> Bool {
        hosts.contains { $0.elementsEqual(host) }
    }

    private mutating func learn(_ host: UnsafeBufferPointer<UInt8>) {
        guard hosts.count < Self.maxHosts, !knows(host) else { return }
        hosts.append(Array(host))
    }
}
