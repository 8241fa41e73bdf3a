/// Input formats `iommud replay` understands. A user pastes what they have.
public enum ReplayFormat: String, Sendable, CaseIterable {
    case auto
    /// Raw /dev/kmsg records (`prio,seq,ts,flag;text` + dictionary lines).
    case kmsg
    /// `dmesg` output, with `[ seconds]` or `dmesg -T` `[Thu Nov 26 05:53:01 2026]` stamps, or none.
    case dmesg
    /// `journalctl -k` / `-o short*` lines (`… kernel: text`).
    case journal
    /// `journalctl -o json` (one JSON object per line).
    case journalJSON = "journal-json"

    /// Detects the format from the first non-empty lines of the input.
    public static func detect(_ sample: String) -> ReplayFormat {
        for line in sample.split(separator: "\n", omittingEmptySubsequences: true).prefix(20) {
            let l = line.drop { $0 == " " }
            if l.hasPrefix("{") { return .journalJSON }
            if KmsgRecordParser.parse(String(line)) != nil { return .kmsg }
            if l.hasPrefix("[") { return .dmesg }
            if l.contains(" kernel: ") { return .journal }
            if l.hasPrefix("-- ") { continue }  // journalctl's "-- Boot …" / "-- No entries --"
        }
        return .dmesg
    }
}
