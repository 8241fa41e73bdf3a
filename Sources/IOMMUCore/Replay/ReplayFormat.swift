// Unsafe pointers here: the first lines of an input are looked at in place.

/// Input formats `iommud replay` understands: a user pastes what they have. With `auto` (the
/// default) every line is read in its own shape, so a file may be a concatenation of several;
/// the others restrict the shapes tried (`--format` as an explicit override).
public enum ReplayFormat: String, Sendable, CaseIterable {
    case auto
    /// Raw /dev/kmsg records (`prio,seq,ts,flag;text` + dictionary lines), strictly: a line that
    /// is not a record is counted as malformed.
    case kmsg
    /// `dmesg` output, with any of `-T`, `-H`, `-x`, `-r`, `-t`, `-d`, `--time-format=…`, the
    /// console's and syslog(2)'s `[ts]` with a caller id, a serial capture's stray bytes.
    case dmesg
    /// Syslog and `journalctl` text: RFC 3164 (rsyslog's kern.log, with or without host, `<N>` and
    /// the kernel's `[ts]`), RFC 5424, rsyslog's RFC 3339 stamps, `kernel: …` alone, journalctl
    /// `-o short*` / `with-unit`. Only lines tagged `kernel` are kernel records.
    case journal
    /// journalctl's field formats: `-o json`, `json-seq`, `json-sse`, `json-pretty`, `verbose`,
    /// `export`. Only entries with `_TRANSPORT=kernel` are kernel records.
    case journalJSON = "journal-json"

    /// The format the first lines of `sample` show (up to 50 lines): which path reads a saved
    /// /dev/kmsg stream, and what `KmsgPipeline.resolvedFormat` reports.
    public static func detect(_ sample: String) -> ReplayFormat {
        sample.withBytes { detect($0) }
    }

    static func detect(_ b: UnsafeBufferPointer<UInt8>) -> ReplayFormat {
        var decoder = LineDecoder(shapes: .all)
        var start = 0
        var lines = 0
        while start < b.count, lines < 50 {
            let nl = ByteSearch.index(of: 0x0a, in: b, from: start)
            var end = nl
            while end > start, b[end - 1] == 0x0d { end -= 1 }
            let line = UnsafeBufferPointer(rebasing: b[start..<end])
            start = nl + 1
            lines += 1
            if let first = line.first,
                TextLog.jsonObject(line, first: first) != nil
                    || JournalEntryReader.start(line) != nil
            {
                return .journalJSON
            }
            let d = decoder.decode(line)
            switch d.kind {
            case .kmsg: return .kmsg
            case .otherProgram: return .journal
            case .record where d.prefixed: return d.escapes == .syslog ? .journal : .dmesg
            default: continue
            }
        }
        return .dmesg
    }
}
