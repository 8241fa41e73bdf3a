import Glibc

/// Times as `iommud log --since/--until` take them (like journalctl): ISO 8601
/// (`2026-11-26T05:53:14Z`, `…+01:00`), `YYYY-MM-DD HH:MM[:SS]` and `YYYY-MM-DD` in local
/// time, `@UNIXSECONDS`, `now`, `today`, `yesterday`, `tomorrow`, and relative times: `-1h`,
/// `+30m`, `1h30m ago`, `7d ago`, `2 hours ago` (the durations of `DurationSyntax`, with long
/// unit names and spaces allowed). In µs since the epoch, within the years 1 to 9999 (what
/// `iommud log` prints); anything else is a `Problem` that says why.
public enum TimeSpec {
    /// Why a text is not a time: a clause that follows "cannot read the time '…': ".
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z.
    public static let earliestUsec: Int64 = -62_135_596_800_000_000
    public static let latestUsec: Int64 = 253_402_300_799_999_999

    static let outOfRange = Problem("it is outside the years 1 to 9999")
    static let usage = Problem("use e.g. 2026-11-26T05:53:14Z, \"2026-11-26 05:53:14\", -1h or \"7d ago\"")

    public static func read(_ raw: String, nowUsec: Int64) -> Result<Int64, Problem> {
        let text = trimmed(raw)
        guard !text.isEmpty else { return .failure(Problem("it is empty")) }
        switch text.lowercased() {
        case "now": return inRange(nowUsec)
        case "today": return midnight(nowUsec, days: 0)
        case "yesterday": return midnight(nowUsec, days: -1)
        case "tomorrow": return midnight(nowUsec, days: 1)
        default: break
        }
        if text.hasPrefix("@") { return epoch(text.dropFirst()) }
        if let rel = relative(text, nowUsec: nowUsec) { return rel }
        return absolute(text)
    }

    /// `read`, without the reason.
    public static func parse(_ raw: String, nowUsec: Int64) -> Int64? { try? read(raw, nowUsec: nowUsec).get() }

    static func inRange(_ usec: Int64) -> Result<Int64, Problem> {
        (earliestUsec...latestUsec).contains(usec) ? .success(usec) : .failure(outOfRange)
    }

    static func trimmed(_ s: String) -> String {
        let ws: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(s.drop(while: ws).reversed().drop(while: ws).reversed())
    }

    /// `@1700000000`, `@1700000000.25`: seconds since 1970.
    static func epoch(_ s: Substring) -> Result<Int64, Problem> {
        guard let seconds = Double(s), seconds.isFinite else {
            return .failure(Problem("'@' takes seconds since 1970, e.g. @1700000000"))
        }
        // Converted only where Int64 surely holds it (a Double near the ends of the range
        // rounds), then checked exactly.
        let usec = seconds * 1_000_000
        guard usec.magnitude < 1e18 else { return .failure(outOfRange) }
        return inRange(Int64(usec))
    }

    /// `-1h`, `+5m`, `1h ago`, `7 days ago` → now ± that; nil when the text is not relative.
    static func relative(_ text: String, nowUsec: Int64) -> Result<Int64, Problem>? {
        var t = Substring(text.lowercased())
        var sign: Int64 = 0
        if t.hasPrefix("-") {
            sign = -1
            t = t.dropFirst()
        } else if t.hasPrefix("+") {
            sign = 1
            t = t.dropFirst()
        }
        if t.hasSuffix("ago") {
            guard sign == 0 else { return .failure(usage) }
            sign = -1
            t = t.dropLast(3)
        }
        guard sign != 0 else { return nil }
        // Long unit names and spaces to the short form DurationSyntax reads.
        var compact = ""
        var word = ""
        func flushWord() -> Bool {
            guard !word.isEmpty else { return true }
            guard let unit = units[word] else { return false }
            compact += unit
            word = ""
            return true
        }
        for c in t.unicodeScalars {
            if c.properties.numericType != nil {
                guard c.isASCII, flushWord() else { return .failure(usage) }
                compact.unicodeScalars.append(c)
            } else if c.isASCII && c.properties.isAlphabetic {
                word.unicodeScalars.append(c)
            } else if c != " " {
                return .failure(usage)
            }
        }
        guard flushWord(), compact.first?.isNumber == true else { return .failure(usage) }
        switch DurationSyntax.microseconds(compact) {
        case .failure(let p): return .failure(Problem("'\(ConfigSyntaxError.excerpt(text))' is not a duration: \(p)"))
        case .success(let usec):
            let (v, overflow) = nowUsec.addingReportingOverflow(sign < 0 ? -usec : usec)
            return overflow ? .failure(outOfRange) : inRange(v)
        }
    }

    static let units: [String: String] = [
        "us": "us", "usec": "us", "ms": "ms", "msec": "ms",
        "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
        "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
        "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
        "d": "d", "day": "d", "days": "d", "w": "w", "week": "w", "weeks": "w",
    ]

    /// `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|±HH[:]MM| UTC]`.
    static func absolute(_ text: String) -> Result<Int64, Problem> {
        let u = Array(text.utf8)
        var i = 0
        func num(_ digits: Int) -> Int? {
            guard i + digits <= u.count else { return nil }
            var v = 0
            for k in i..<(i + digits) {
                guard u[k] >= 48 && u[k] <= 57 else { return nil }
                v = v * 10 + Int(u[k] - 48)
            }
            i += digits
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < u.count, u[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = num(4), expect(UInt8(ascii: "-")), let month = num(2), expect(UInt8(ascii: "-")),
            let day = num(2)
        else { return .failure(usage) }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else {
            return .failure(Problem("\(String(decoding: u[0..<10], as: UTF8.self)) is not a date"))
        }
        var hour = 0
        var minute = 0
        var second = 0
        var micros = 0
        if i < u.count && (u[i] == UInt8(ascii: " ") || u[i] == UInt8(ascii: "T") || u[i] == UInt8(ascii: "t")) {
            i += 1
            guard let h = num(2), expect(UInt8(ascii: ":")), let m = num(2), h < 24, m < 60 else {
                return .failure(Problem("the time of day must be HH:MM or HH:MM:SS, from 00:00 to 23:59:60"))
            }
            hour = h
            minute = m
            if expect(UInt8(ascii: ":")) {
                guard let s = num(2), s < 61 else { return .failure(Problem("seconds go from 00 to 60")) }
                second = s
                if expect(UInt8(ascii: ".")) {
                    var digits = 0
                    while i < u.count, u[i] >= 48, u[i] <= 57 {
                        if digits < 6 { micros = micros * 10 + Int(u[i] - 48) }
                        digits += 1
                        i += 1
                    }
                    guard digits > 0 else { return .failure(usage) }
                    if digits < 6 { for _ in digits..<6 { micros *= 10 } }
                }
            }
        }
        // The zone: none (local), Z, ±HH:MM, ±HHMM, optionally after a space, or " UTC".
        _ = expect(UInt8(ascii: " "))
        var offsetSeconds: Int?
        if i == u.count {
            offsetSeconds = nil
        } else if expect(UInt8(ascii: "Z")) || expect(UInt8(ascii: "z")) {
            offsetSeconds = 0
        } else if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            let sign = u[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let h = num(2), h < 24 else { return .failure(Problem("a zone offset is ±HH:MM, e.g. +01:00")) }
            _ = expect(UInt8(ascii: ":"))
            let m = num(2) ?? 0
            guard m < 60 else { return .failure(Problem("a zone offset is ±HH:MM, e.g. +01:00")) }
            offsetSeconds = sign * (h * 3600 + m * 60)
        } else if i == u.count - 3 && u[i...].elementsEqual("UTC".utf8) {
            i = u.count
            offsetSeconds = 0
        } else {
            return .failure(usage)
        }
        guard i == u.count else { return .failure(usage) }
        let seconds: Int64
        if let off = offsetSeconds {
            seconds =
                days(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
                - Int64(off)
        } else {
            var t = tm()
            t.tm_year = Int32(year - 1900)
            t.tm_mon = Int32(month - 1)
            t.tm_mday = Int32(day)
            t.tm_hour = Int32(hour)
            t.tm_min = Int32(minute)
            t.tm_sec = Int32(second)
            t.tm_isdst = -1
            let r = mktime(&t)
            guard r != -1 else { return .failure(Problem("it is not a time this machine's time zone has")) }
            seconds = Int64(r)
        }
        // Years 0 to 9999, a day of offset at most: far inside Int64 µs.
        return inRange(seconds * 1_000_000 + Int64(micros))
    }

    /// Local midnight `days` days from the day of `nowUsec`.
    static func midnight(_ nowUsec: Int64, days: Int) -> Result<Int64, Problem> {
        guard case .success = inRange(nowUsec) else { return .failure(outOfRange) }
        var t = time_t(nowUsec / 1_000_000)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return .failure(outOfRange) }
        parts.tm_hour = 0
        parts.tm_min = 0
        parts.tm_sec = 0
        parts.tm_mday += Int32(days)
        parts.tm_isdst = -1
        let r = mktime(&parts)
        return r == -1 ? .failure(outOfRange) : inRange(Int64(r) * 1_000_000)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a civil date (Howard Hinnant's days-from-civil).
    static func days(year y0: Int, month m: Int, day d: Int) -> Int64 {
        let y = Int64(m <= 2 ? y0 - 1 : y0)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = Int64((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1)
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
