import Glibc
import IOMMUCore

/// Times as `iommud log --since/--until` take them (like journalctl): ISO 8601
/// (`2026-11-26T05:53:14Z`, `…+01:00`), `YYYY-MM-DD HH:MM[:SS]` and `YYYY-MM-DD` in local
/// time, `@UNIXSECONDS`, `now`, `today`, `yesterday`, `tomorrow`, and relative times: `-1h`,
/// `+30m`, `1h30m ago`, `7d ago`, `2 hours ago`. Returns µs since the epoch.
public enum TimeSpec {
    public static func parse(_ raw: String, nowUsec: Int64) -> Int64? {
        let text = raw.trimmingCharacters()
        guard !text.isEmpty else { return nil }
        switch text.lowercased() {
        case "now": return nowUsec
        case "today": return midnight(nowUsec, days: 0)
        case "yesterday": return midnight(nowUsec, days: -1)
        case "tomorrow": return midnight(nowUsec, days: 1)
        default: break
        }
        if text.hasPrefix("@"), let s = Double(text.dropFirst()) { return Int64(s * 1_000_000) }
        if let rel = relative(text) { return nowUsec + rel }
        return absolute(text)
    }

    /// `-1h`, `+5m`, `1h ago`, `7 days ago` → signed µs.
    static func relative(_ text: String) -> Int64? {
        var t = Substring(text.lowercased())
        var sign: Int64 = 0
        if t.hasPrefix("-") {
            sign = -1
            t = t.dropFirst()
        } else if t.hasPrefix("+") {
            sign = 1
            t = t.dropFirst()
        }
        if t.hasSuffix(" ago") || t.hasSuffix("ago") {
            guard sign == 0 else { return nil }
            sign = -1
            t = t.dropLast(3)
        }
        guard sign != 0 else { return nil }
        // Long unit names and spaces to the short form Duration understands.
        var compact = ""
        var word = ""
        func flushWord() -> Bool {
            guard !word.isEmpty else { return true }
            let unit: String
            switch word {
            case "us", "usec": unit = "us"
            case "ms", "msec": unit = "ms"
            case "s", "sec", "secs", "second", "seconds": unit = "s"
            case "m", "min", "mins", "minute", "minutes": unit = "m"
            case "h", "hr", "hour", "hours": unit = "h"
            case "d", "day", "days": unit = "d"
            case "w", "week", "weeks": unit = "w"
            default: return false
            }
            compact += unit
            word = ""
            return true
        }
        for c in t {
            if c.isNumber {
                guard flushWord() else { return nil }
                compact.append(c)
            } else if c.isLetter {
                word.append(c)
            } else if c != " " {
                return nil
            }
        }
        guard flushWord(), !compact.isEmpty, compact.first!.isNumber else { return nil }
        var total: Int64 = 0
        var n: Int64?
        var unit = ""
        func add() -> Bool {
            guard let v = n else { return unit.isEmpty }
            let per: Int64
            switch unit {
            case "us": per = 1
            case "ms": per = 1000
            case "s": per = 1_000_000
            case "m": per = 60_000_000
            case "h": per = 3_600_000_000
            case "d": per = 86_400_000_000
            case "w": per = 604_800_000_000
            default: return false
            }
            total += v * per
            n = nil
            unit = ""
            return true
        }
        for c in compact {
            if let d = c.wholeNumberValue {
                if !unit.isEmpty { guard add() else { return nil } }
                n = (n ?? 0) * 10 + Int64(d)
                guard n! < 10_000_000 else { return nil }
            } else {
                guard n != nil else { return nil }
                unit.append(c)
            }
        }
        guard !unit.isEmpty, add() else { return nil }
        return sign * total
    }

    /// `YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|±HH[:]MM]`.
    static func absolute(_ text: String) -> Int64? {
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
            let day = num(2), (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var hour = 0
        var minute = 0
        var second = 0
        var micros = 0
        if i < u.count && (u[i] == UInt8(ascii: " ") || u[i] == UInt8(ascii: "T") || u[i] == UInt8(ascii: "t")) {
            i += 1
            guard let h = num(2), expect(UInt8(ascii: ":")), let m = num(2), h < 24, m < 60 else { return nil }
            hour = h
            minute = m
            if expect(UInt8(ascii: ":")) {
                guard let s = num(2), s < 61 else { return nil }
                second = s
                if expect(UInt8(ascii: ".")) {
                    var digits = 0
                    while i < u.count, u[i] >= 48, u[i] <= 57 {
                        if digits < 6 { micros = micros * 10 + Int(u[i] - 48) }
                        digits += 1
                        i += 1
                    }
                    guard digits > 0 else { return nil }
                    if digits < 6 { for _ in digits..<6 { micros *= 10 } }
                }
            }
        }
        // The zone: none (local), Z, ±HH:MM, ±HHMM, optionally after a space.
        _ = expect(UInt8(ascii: " "))
        var offsetSeconds: Int?
        if i == u.count {
            offsetSeconds = nil
        } else if expect(UInt8(ascii: "Z")) || expect(UInt8(ascii: "z")) {
            offsetSeconds = 0
        } else if i < u.count, u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-") {
            let sign = u[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let h = num(2) else { return nil }
            _ = expect(UInt8(ascii: ":"))
            let m = num(2) ?? 0
            offsetSeconds = sign * (h * 3600 + m * 60)
        } else if text.hasSuffix(" UTC") && i == u.count - 3 {
            i = u.count
            offsetSeconds = 0
        } else {
            return nil
        }
        guard i == u.count else { return nil }
        let seconds: Int64
        if let off = offsetSeconds {
            let days = CivilTimeBridge.days(year: year, month: month, day: day)
            seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(off)
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
            guard r != -1 else { return nil }
            seconds = Int64(r)
        }
        return seconds * 1_000_000 + Int64(micros)
    }

    /// Local midnight `days` days from the day of `nowUsec`.
    static func midnight(_ nowUsec: Int64, days: Int) -> Int64? {
        var t = time_t(nowUsec / 1_000_000)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return nil }
        parts.tm_hour = 0
        parts.tm_min = 0
        parts.tm_sec = 0
        parts.tm_mday += Int32(days)
        parts.tm_isdst = -1
        let r = mktime(&parts)
        return r == -1 ? nil : Int64(r) * 1_000_000
    }
}

enum CivilTimeBridge {
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        CivilTime.days(year: Int64(year), month: Int64(month), day: Int64(day))
    }
}
