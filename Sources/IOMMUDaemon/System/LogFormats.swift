import ConfigSyntax
import IOMMUCore
import Logging

/// `--log.format`: the daemon's own log lines on stderr as Prometheus' tools write them
/// (promslog), so log pipelines that already parse node_exporter's lines parse these too.
/// Used with `--foreground`, and wherever the journal cannot be reached (a container).
struct FormattedStderrLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    let format: LogFormat

    init(format: LogFormat) { self.format = format }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { $1 } }
        let fields = all.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
        writeStderr(
            Self.line(format, time: CivilTimeNow.stamp(), level: event.level, message: "\(event.message)", fields))
    }

    /// One line, newline included.
    static func line(
        _ format: LogFormat, time: String, level: Logger.Level, message: String, _ fields: [(String, String)]
    ) -> String {
        switch format {
        case .logfmt:
            var s = "time=\(time) level=\(level.rawValue) msg=\(logfmtValue(message))"
            for (k, v) in fields { s += " \(logfmtKey(k))=\(logfmtValue(v))" }
            return s + "\n"
        case .json:
            var s = "{\"time\":\"\(time)\",\"level\":\"\(level.rawValue)\",\"msg\":"
            JSONWriter.appendEscaped(message, to: &s)
            for (k, v) in fields where !["time", "level", "msg"].contains(k) {
                s += ","
                JSONWriter.appendEscaped(k, to: &s)
                s += ":"
                JSONWriter.appendEscaped(v, to: &s)
            }
            return s + "}\n"
        }
    }

    /// logfmt (go-logfmt): bare when it can be, else double-quoted with \\, \", \n, \r, \t escaped.
    static func logfmtValue(_ v: String) -> String {
        let needsQuotes =
            v.isEmpty || v.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.value < 0x20 }
        guard needsQuotes else { return v }
        // A TOML basic string is the quoting logfmt readers take (Go's strconv escapes).
        return TOMLSubset.quoted(v)
    }

    /// Keys cannot be quoted in logfmt: anything but a letter, digit, `_`, `.` or `-` becomes `_`.
    static func logfmtKey(_ k: String) -> String {
        let ok: (Unicode.Scalar) -> Bool = {
            $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "." || $0 == "-"
        }
        let s = String(String.UnicodeScalarView(k.unicodeScalars.map { ok($0) ? $0 : "_" }))
        return s.isEmpty ? "_" : s
    }
}

/// stderr in the format asked for, or the short terminal lines when none was.
func stderrLogHandler(format: LogFormat?) -> LogHandler {
    guard let format else { return StderrLogHandler() }
    return FormattedStderrLogHandler(format: format)
}
