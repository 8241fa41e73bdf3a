// Unsafe pointers here: the prefixes of text-log lines are read in place (hot path of text replay).

/// The time stamps and small prefixes that text logs put before a kernel message, read from a
/// line's bytes. Each reader takes the line and a position; on success it moves the position past
/// what it read, on failure it leaves the position alone. Every reader is bounded: a stamp is a
/// few dozen bytes, never searched for further.
///
/// Shapes (util-linux 2.38 dmesg, systemd 252 journalctl, rsyslog, the kernel's own console and
/// syslog(2) prefix `print_time()`/`print_caller()` in kernel/printk/printk.c):
/// * `[    5.413744]` (dmesg, console, syslog(2)), `[ 5.4 <    0.000012>]` (dmesg -d),
///   `[ 2994.193802                ]` and `[ 2994.193802 <  295.673725 >]` (journalctl
///   -o short-delta), `[<    0.000012>]` (dmesg --time-format=delta), `[Mon Dec  7 11:23:10 2026]`
///   (dmesg -T), `[Dec 7 11:23]` and `[  +0.000271]` (dmesg -H / reltime);
/// * the caller id of CONFIG_PRINTK_CALLER, `[  T340]` / `[    C1]` (`"[%6s]"`), right after
///   the time stamp (util-linux ≥ 2.39 prints it after a space);
/// * `2026-12-07T09:00:00,123456+00:00` (dmesg --time-format=iso: a comma),
///   `2026-12-07T09:00:00.123456+00:00` (rsyslog RFC3339 / high precision),
///   `2026-12-07T09:00:00+0000` and `…T09:00:00.123456+0000` (journalctl -o short-iso[-precise]);
/// * `Dec  7 09:00:00` (RFC 3164, rsyslog's traditional file format), `Dec 07 09:00:00[.123456]`
///   (journalctl -o short[-precise]); `Mon 2026-12-07 09:00:00[.123456] UTC` (journalctl -o
///   short-full, with-unit, verbose); `1796634000.123456` (journalctl -o short-unix);
/// * `<N>` (dmesg -r, /proc/kmsg, syslog PRI), `kern  :err   : ` (dmesg -x).
enum LineStamps {
    /// What a bracketed dmesg stamp says.
    enum Bracket: Equatable {
        /// Seconds since boot (monotonic, the kmsg time stamp), in µs.
        case monotonic(UInt64)
        /// Wall-clock or relative time: no monotonic stamp to keep.
        case clock
    }

    static let months: [StaticString] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    static let weekdays: [StaticString] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    /// Digits at `i` (at most `max`), their value; nil when there are none.
    static func digits(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, max: Int) -> (value: UInt64, count: Int)? {
        var v: UInt64 = 0
        var n = 0
        while i < b.count, n < max, isDigit(b[i]) {
            v = v &* 10 &+ UInt64(b[i] &- 0x30)
            i += 1
            n += 1
        }
        return n > 0 ? (v, n) : nil
    }

    /// Exactly `n` digits.
    static func fixedDigits(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ n: Int) -> Bool {
        guard i + n <= b.count else { return false }
        for k in 0..<n where !isDigit(b[i + k]) { return false }
        i += n
        return true
    }

    @inline(__always) static func byte(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ c: UInt8) -> Bool {
        guard i < b.count, b[i] == c else { return false }
        i += 1
        return true
    }

    static func skipSpaces(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < b.count, b[i] == 0x20 { i += 1 }
    }

    /// One of `names` (three letters) at `i`.
    static func name(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ names: [StaticString]) -> Int? {
        guard i + 3 <= b.count else { return nil }
        for (k, n) in names.enumerated() {
            let p = n.utf8Start
            if b[i] == p[0] && b[i + 1] == p[1] && b[i + 2] == p[2] {
                i += 3
                return k
            }
        }
        return nil
    }

    /// `5.413744` (spaces around allowed) → µs; nil when not a number of seconds or too large.
    static func seconds(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> UInt64? {
        var j = i
        skipSpaces(b, &j)
        guard let sec = digits(b, &j, max: 12), byte(b, &j, UInt8(ascii: ".")) else { return nil }
        var k = j
        guard let frac = digits(b, &k, max: 9) else { return nil }
        var usec = frac.value
        if frac.count < 6 {
            for _ in frac.count..<6 { usec *= 10 }
        } else {
            for _ in 6..<frac.count { usec /= 10 }
        }
        i = k
        return sec.value * 1_000_000 + usec  // ≤ 10^12 s: no overflow
    }

    /// A bracketed dmesg stamp at `i`, and the caller id after it; the position moves past both
    /// and one following space.
    static func bracket(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bracket? {
        guard i < b.count, b[i] == UInt8(ascii: "[") else { return nil }
        // The closing bracket within 48 bytes, no `[` before it.
        var close = i + 1
        while close < b.count, close - i < 48, b[close] != UInt8(ascii: "]") {
            if b[close] == UInt8(ascii: "[") { return nil }
            close += 1
        }
        guard close < b.count, b[close] == UInt8(ascii: "]") else { return nil }
        let inner = UnsafeBufferPointer(rebasing: b[(i + 1)..<close])
        guard let stamp = bracketContent(inner) else { return nil }
        i = close + 1
        callerID(b, &i)
        _ = byte(b, &i, 0x20)
        return stamp
    }

    /// What is inside `[…]`, if it is a time stamp.
    static func bracketContent(_ c: UnsafeBufferPointer<UInt8>) -> Bracket? {
        var j = 0
        skipSpaces(c, &j)
        guard j < c.count else { return nil }
        let first = c[j]
        if isDigit(first) {
            // `5.413744`, then nothing, a dmesg -d `<delta>`, or short-delta's padding.
            guard let ts = seconds(c, &j) else { return nil }
            skipSpaces(c, &j)
            if j < c.count {
                guard byte(c, &j, UInt8(ascii: "<")), seconds(c, &j) != nil else { return nil }
                skipSpaces(c, &j)
                guard byte(c, &j, UInt8(ascii: ">")) else { return nil }
                skipSpaces(c, &j)
            }
            return j == c.count ? .monotonic(ts) : nil
        }
        if first == UInt8(ascii: "<") || first == UInt8(ascii: "+") {
            // `<    0.000012>` (--time-format=delta), `+0.000271` (-H, reltime).
            j += 1
            guard seconds(c, &j) != nil else { return nil }
            skipSpaces(c, &j)
            if first == UInt8(ascii: "<") { guard byte(c, &j, UInt8(ascii: ">")) else { return nil } }
            skipSpaces(c, &j)
            return j == c.count ? .clock : nil
        }
        // `Mon Dec  7 11:23:10 2026` (-T), `Dec 7 11:23` (-H, reltime): a name, digits and colons.
        var k = j
        if name(c, &k, weekdays) != nil {
            guard byte(c, &k, 0x20) else { return nil }
        }
        guard name(c, &k, months) != nil, byte(c, &k, 0x20) else { return nil }
        skipSpaces(c, &k)
        guard digits(c, &k, max: 2) != nil, byte(c, &k, 0x20), fixedDigits(c, &k, 2),
            byte(c, &k, UInt8(ascii: ":")), fixedDigits(c, &k, 2)
        else { return nil }
        while k < c.count, isDigit(c[k]) || c[k] == UInt8(ascii: ":") || c[k] == 0x20 { k += 1 }
        return k == c.count ? .clock : nil
    }

    /// `[  T340]`, `[    C1]` (CONFIG_PRINTK_CALLER), optionally after one space.
    static func callerID(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        var j = i
        _ = byte(b, &j, 0x20)
        guard byte(b, &j, UInt8(ascii: "[")) else { return }
        skipSpaces(b, &j)
        guard j < b.count, b[j] == UInt8(ascii: "T") || b[j] == UInt8(ascii: "C") else { return }
        j += 1
        guard digits(b, &j, max: 10) != nil, byte(b, &j, UInt8(ascii: "]")) else { return }
        i = j
    }

    /// `<N>`: a syslog priority, `(facility << 3) | level`, at most three digits.
    static func priority(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> UInt32? {
        var j = i
        guard byte(b, &j, UInt8(ascii: "<")), let p = digits(b, &j, max: 3), byte(b, &j, UInt8(ascii: ">"))
        else { return nil }
        i = j
        return UInt32(p.value)
    }

    /// An ISO 8601 stamp: `YYYY-MM-DDThh:mm:ss`, a fraction after `.` or `,`, then `Z`, `±hh:mm`
    /// or `±hhmm`, then one space. Returns whether the fraction had dmesg's comma; nil when no stamp.
    static func iso(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool? {
        var j = i
        guard fixedDigits(b, &j, 4), byte(b, &j, UInt8(ascii: "-")), fixedDigits(b, &j, 2),
            byte(b, &j, UInt8(ascii: "-")), fixedDigits(b, &j, 2), byte(b, &j, UInt8(ascii: "T")),
            clock(b, &j)
        else { return nil }
        var comma = false
        if j < b.count, b[j] == UInt8(ascii: ",") || b[j] == UInt8(ascii: ".") {
            comma = b[j] == UInt8(ascii: ",")
            j += 1
            guard digits(b, &j, max: 9) != nil else { return nil }
        }
        if byte(b, &j, UInt8(ascii: "Z")) {
        } else if j < b.count, b[j] == UInt8(ascii: "+") || b[j] == UInt8(ascii: "-") {
            j += 1
            guard fixedDigits(b, &j, 2) else { return nil }
            _ = byte(b, &j, UInt8(ascii: ":"))
            guard fixedDigits(b, &j, 2) else { return nil }
        }
        guard byte(b, &j, 0x20) else { return nil }
        i = j
        return comma
    }

    /// `hh:mm:ss`.
    static func clock(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        var j = i
        guard fixedDigits(b, &j, 2), byte(b, &j, UInt8(ascii: ":")), fixedDigits(b, &j, 2),
            byte(b, &j, UInt8(ascii: ":")), fixedDigits(b, &j, 2)
        else { return false }
        i = j
        return true
    }

    /// `Dec  7 09:00:00 ` / `Dec 07 09:00:00.123456 ` (RFC 3164, journalctl short, short-precise).
    static func bsd(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        var j = i
        guard name(b, &j, months) != nil, byte(b, &j, 0x20) else { return false }
        _ = byte(b, &j, 0x20)  // `Dec  7`
        guard digits(b, &j, max: 2) != nil, byte(b, &j, 0x20), clock(b, &j) else { return false }
        if byte(b, &j, UInt8(ascii: ".")) { guard digits(b, &j, max: 9) != nil else { return false } }
        guard byte(b, &j, 0x20) else { return false }
        i = j
        return true
    }

    /// `Mon 2026-12-07 09:00:00[.123456] ZONE ` (journalctl short-full, with-unit, verbose).
    static func full(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        var j = i
        guard name(b, &j, weekdays) != nil, byte(b, &j, 0x20), fixedDigits(b, &j, 4),
            byte(b, &j, UInt8(ascii: "-")), fixedDigits(b, &j, 2), byte(b, &j, UInt8(ascii: "-")),
            fixedDigits(b, &j, 2), byte(b, &j, 0x20), clock(b, &j)
        else { return false }
        if byte(b, &j, UInt8(ascii: ".")) { guard digits(b, &j, max: 9) != nil else { return false } }
        guard byte(b, &j, 0x20) else { return false }
        // The zone: `UTC`, `CET`, `+05`, … — one short word.
        let zone = j
        while j < b.count, j - zone < 8, b[j] != 0x20 { j += 1 }
        guard j > zone, byte(b, &j, 0x20) else { return false }
        i = j
        return true
    }

    /// `1796634000.123456 ` (journalctl -o short-unix: seconds since the epoch, µs).
    static func unix(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        var j = i
        guard let s = digits(b, &j, max: 12), s.count >= 9, byte(b, &j, UInt8(ascii: ".")), fixedDigits(b, &j, 6),
            byte(b, &j, 0x20)
        else { return false }
        i = j
        return true
    }

    static let facilities: [StaticString] = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    ]
    static let levels: [StaticString] = ["emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"]

    /// dmesg -x `%-6s:%-6s: ` (`kern  :err   : `): the colons are the 7th and 14th bytes.
    static func decoded(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> UInt32? {
        guard b.count - i > 14, b[i + 6] == UInt8(ascii: ":"), b[i + 13] == UInt8(ascii: ":") else { return nil }
        guard let f = word(b, i..<(i + 6), facilities), let l = word(b, (i + 7)..<(i + 13), levels) else { return nil }
        i += 14
        _ = byte(b, &i, 0x20)
        return UInt32(f) << 3 | UInt32(l)
    }

    /// busybox syslogd's `kern.info` between host and tag.
    static func facilityLevel(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UInt32? {
        guard let dot = (r.lowerBound..<r.upperBound).first(where: { b[$0] == UInt8(ascii: ".") }),
            let f = word(b, r.lowerBound..<dot, facilities), let l = word(b, (dot + 1)..<r.upperBound, levels)
        else { return nil }
        return UInt32(f) << 3 | UInt32(l)
    }

    /// Which of `names` the bytes in `r` are (trailing spaces ignored).
    static func word(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ names: [StaticString]) -> Int? {
        var end = r.upperBound
        while end > r.lowerBound, b[end - 1] == 0x20 { end -= 1 }
        let n = end - r.lowerBound
        for (k, name) in names.enumerated() where name.utf8CodeUnitCount == n {
            let p = name.utf8Start
            var same = true
            for x in 0..<n where b[r.lowerBound + x] != p[x] {
                same = false
                break
            }
            if same { return k }
        }
        return nil
    }
}
