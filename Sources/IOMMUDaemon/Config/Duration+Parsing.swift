import ConfigSyntax

/// The config's durations as Swift `Duration`s: read with `DurationSyntax` (µs), shown the way
/// the config writes them, and converted to whole units without ever trapping.
extension Duration {
    /// `"5s"`, `"250ms"`, `"1h30m"` (`DurationSyntax`); the problem when it is not a duration.
    static func parse(config text: String) -> Result<Duration, DurationSyntax.Problem> {
        DurationSyntax.microseconds(text).map { .microseconds($0) }
    }

    /// As the config writes it: `"1h30m"`, `"250ms"` (whole µs; less is dropped).
    var configText: String { DurationSyntax.text(microseconds: totalMicroseconds) }

    /// Whole milliseconds, saturated at `Int64.min`/`.max` (a config value is far inside).
    var totalMilliseconds: Int64 { total(per: 1_000_000_000_000_000) }

    /// Whole microseconds, saturated at `Int64.min`/`.max` (a config value is far inside).
    var totalMicroseconds: Int64 { total(per: 1_000_000_000_000) }

    /// Whole units of `per` attoseconds (a divisor of 10^18).
    private func total(per: Int64) -> Int64 {
        let (seconds, attoseconds) = components
        let (whole, o1) = seconds.multipliedReportingOverflow(by: 1_000_000_000_000_000_000 / per)
        let (sum, o2) = whole.addingReportingOverflow(attoseconds / per)
        if o1 || o2 { return seconds < 0 ? .min : .max }
        return sum
    }
}
