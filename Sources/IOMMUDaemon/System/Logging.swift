import CSystemd
import Glibc
import Logging

/// The daemon's own log lines go to the journal (with PRIORITY and SYSLOG_IDENTIFIER) when it
/// runs as a service, or to stderr with `--foreground`.
struct JournalLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    let label: String
    /// Where a line goes when journald cannot take it (`--log.format`'s stderr handler).
    var fallback: LogHandler?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = [
            "MESSAGE=\(event.message)", "PRIORITY=\(Self.priority(event.level))", "SYSLOG_IDENTIFIER=iommud",
        ]
        var all = metadata
        if let m = event.metadata { all.merge(m) { $1 } }
        for (k, v) in all {
            let key = k.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
            fields.append("IOMMUD_\(String(key))=\(v)")
        }
        // libsystemd reports success when the journal socket does not exist at all (a container):
        // that line would be lost, as would one journald refused.
        if !fileExists(JournalSink.journalSocket) || Journal.send(fields) < 0 {
            // journald is not there: do not lose the line.
            if let fallback {
                fallback.log(event: event)
            } else {
                writeStderr("iommud: \(event.level): \(event.message)\n")
            }
        }
    }

    static func priority(_ l: Logger.Level) -> Int {
        switch l {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }
}

/// stderr, one line per event: `LEVEL message key=value…` (journald adds its own timestamps
/// when stderr is captured; a terminal user sees short lines).
struct StderrLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var line = "\(CivilTimeNow.stamp()) \(event.level.rawValue.uppercased()) \(event.message)"
        var all = metadata
        if let m = event.metadata { all.merge(m) { $1 } }
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { line += " \(k)=\(v)" }
        writeStderr(line + "\n")
    }
}

enum CivilTimeNow {
    static func stamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var tm = tm()
        var t = ts.tv_sec
        gmtime_r(&t, &tm)
        func p(_ v: Int32, _ w: Int = 2) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return
            "\(p(tm.tm_year + 1900, 4))-\(p(tm.tm_mon + 1))-\(p(tm.tm_mday))T\(p(tm.tm_hour)):\(p(tm.tm_min)):\(p(tm.tm_sec)).\(p(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}

/// The level can change on SIGHUP without re-bootstrapping swift-log (which can only be done
/// once per process).
final class LogLevelBox: Sendable {
    let level: Mutex<Logger.Level>
    init(_ l: Logger.Level) { level = Mutex(l) }
}

import Synchronization

/// Applies the reloadable level to every handler.
struct LevelFilter: LogHandler {
    var inner: LogHandler
    let level: LogLevelBox

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { level.level.withLock { $0 } }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) { inner.log(event: event) }
}
