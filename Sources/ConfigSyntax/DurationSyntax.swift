/// Durations as iommud's config files and `iommud log` write them, the way Prometheus and the
/// exporter-toolkit do: whole numbers, each followed by its unit, the largest unit first and
/// each unit at most once — `"5s"`, `"250ms"`, `"1h30m"`, `"2d"`; `"0"` alone is zero. Units:
/// `w` (7 days), `d`, `h`, `m`, `s`, `ms`, `us`. No fractions, signs or spaces.
///
/// The one parser for iommud.toml's durations, the web config's `rate_limit.interval` and the
/// relative forms of `iommud log --since/--until`. The value is microseconds in an `Int64`; what
/// does not fit is refused, never wrapped or trapped on. Ranges are the schema's business.
public enum DurationSyntax {
    /// Why a text is not a duration: a clause that follows "is not a duration: ".
    public struct Problem: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        /// Well formed, but more microseconds than an `Int64` holds (out of every range).
        public var tooLarge = false
        public init(_ message: String, tooLarge: Bool = false) {
            self.message = message
            self.tooLarge = tooLarge
        }
        public var description: String { message }
    }

    /// The units, largest first, with their length in µs.
    public static let units: [(name: String, microseconds: Int64)] = [
        ("w", 604_800_000_000), ("d", 86_400_000_000), ("h", 3_600_000_000), ("m", 60_000_000),
        ("s", 1_000_000), ("ms", 1000), ("us", 1),
    ]

    /// `text` in microseconds.
    public static func microseconds(_ text: some StringProtocol) -> Result<Int64, Problem> {
        microseconds(Array(text.utf8))
    }

    static func microseconds(_ b: [UInt8]) -> Result<Int64, Problem> {
        guard !b.isEmpty else { return .failure(Problem("it is empty (write e.g. \"5s\")")) }
        if b.count == 1 && b[0] == UInt8(ascii: "0") { return .success(0) }
        var total: Int64 = 0
        var previous = -1  // the index in `units` of the last unit read
        var i = 0
        while i < b.count {
            guard isDigit(b[i]) else {
                return .failure(Problem(i == 0 ? "it must start with a number" : "a unit must be followed by a number"))
            }
            var n: Int64 = 0
            var tooLarge = false
            while i < b.count, isDigit(b[i]) {
                if !tooLarge {
                    let (m, o1) = n.multipliedReportingOverflow(by: 10)
                    let (a, o2) = m.addingReportingOverflow(Int64(b[i] - 48))
                    if o1 || o2 { tooLarge = true } else { n = a }
                }
                i += 1
            }
            let unitStart = i
            while i < b.count, !isDigit(b[i]) { i += 1 }
            guard i > unitStart else { return .failure(Problem("a number needs a unit (ms, s, m, h, d)")) }
            let name = String(decoding: b[unitStart..<i], as: UTF8.self)
            guard let k = units.firstIndex(where: { $0.name == name }) else {
                return .failure(Problem("'\(ConfigSyntaxError.excerpt(name))' is not a unit (ms, s, m, h, d)"))
            }
            guard k > previous else {
                return .failure(Problem("units go from the largest to the smallest, each once (e.g. \"1h30m\")"))
            }
            previous = k
            let (v, o1) = n.multipliedReportingOverflow(by: units[k].microseconds)
            let (sum, o2) = total.addingReportingOverflow(v)
            guard !tooLarge, !o1, !o2 else { return .failure(Problem("it is too long to count", tooLarge: true)) }
            total = sum
        }
        return .success(total)
    }

    /// The shortest text that reads back as `microseconds`: `"1h30m"`, `"250ms"`, `"0s"`. Weeks
    /// are written as days. Negative values (never read) get a leading `-`.
    public static func text(microseconds: Int64) -> String {
        guard microseconds != 0 else { return "0s" }
        var rest = microseconds.magnitude
        var out = microseconds < 0 ? "-" : ""
        for (name, per) in units.dropFirst() {
            let q = rest / UInt64(per)
            if q > 0 { out += "\(q)\(name)" }
            rest %= UInt64(per)
        }
        return out
    }
}
