/// Input formats `iommud replay` understands. A user pastes what they have.
public enum ReplayFormat: String, Sendable, CaseIterable {
    case auto
    /// Raw /dev/kmsg records (`prio,seq,ts,flag;text` + dictionary lines).
    case kmsg
    /// `dmesg` output: `[ seconds]`, `dmesg -T` `[Thu Nov 26 05:53:01 2026]`, `--time-format=iso`,
    /// `-r` `<3>[…]`, `-x` `kern  :err   : […]`, or no stamp at all (`-t`).
    case dmesg
    /// `journalctl -k` / `-o short*` lines (`… host kernel: text`, short-monotonic `[ s] host kernel:`).
    case journal
    /// `journalctl -o json` (one JSON object per line).
    case journalJSON = "journal-json"

    /// Detects the format from the first non-empty lines of the input.
    public static func detect(_ sample: String) -> ReplayFormat {
        var lines = 0
        for line in sample.split(separator: "\n", omittingEmptySubsequences: true) {
            if lines == 50 { break }
            lines += 1
            let l = line.drop { $0 == " " || $0 == "\t" }
            if l.isEmpty || l.hasPrefix("-- ") { continue }  // journalctl's "-- Boot …" / "-- No entries --"
            if l.hasPrefix("{") { return .journalJSON }
            if KmsgRecordParser.parse(String(line)) != nil { return .kmsg }
            // Before `[`: journalctl -o short-monotonic lines start with a bracketed stamp too,
            // then exactly one word (the host) before ` kernel: `.
            if let m = TextLogDecoder.kernelMarker(line) {
                // (A `]` past ` kernel: ` is not the stamp's: the line is not bracket-stamped.)
                guard l.hasPrefix("["), let close = l.firstIndex(of: "]"), close < m.lowerBound else { return .journal }
                let host = l[l.index(after: close)..<m.lowerBound].drop { $0 == " " }
                if !host.isEmpty && !host.contains(" ") { return .journal }
            }
            if l.hasPrefix("[") || l.hasPrefix("<") || TextLogDecoder.decodedPrefix(l) != nil
                || (TextLogDecoder.isISOStamp(l) && l.prefix { $0 != " " }.contains(","))  // dmesg's iso has `,µs`
            {
                return .dmesg
            }
        }
        return .dmesg
    }
}
