import Glibc
import Logging

/// The flags of `iommud run` that operators expect from node_exporter and the other Prometheus
/// exporters (`--web.listen-address`, `--web.config.file`, `--web.telemetry-path`,
/// `--log.level`, `--log.format`). Each one beats its key in iommud.toml — at start and on every
/// reload, since SIGHUP re-reads the file and then applies these again.
public struct CommandLineOverrides: Sendable, Equatable {
    /// Replaces `[http] listen` (ignored under systemd socket activation, like the key).
    public var listen: [ListenAddress]?
    /// Replaces `[http] web_config` ("" turns TLS and basic auth off).
    public var webConfig: String?
    /// Where the metrics are served; `/metrics` unless given.
    public var telemetryPath: String?
    /// Replaces `[log] level`.
    public var logLevel: Logger.Level?
    /// The shape of the daemon's own log lines on stderr; nil keeps the short terminal lines.
    public var logFormat: LogFormat?

    public init() {}

    /// Paths the metrics endpoint may not take: the landing page and the probes.
    static let reservedPaths: Set<String> = ["/", "/-/healthy", "/-/ready"]

    /// Parses the flags' texts; every problem is a sentence that names its flag (`run` prints
    /// them and exits 78, as for a bad config file).
    public static func parse(
        listen: [String], webConfigFile: String?, telemetryPath: String?, logLevel: String?, logFormat: String?,
        workingDirectory: String? = nil
    ) -> Result<CommandLineOverrides, ConfigProblems> {
        var o = CommandLineOverrides()
        var problems: [ConfigProblem] = []
        func problem(_ flag: String, _ message: String) {
            problems.append(ConfigProblem(file: "command line", line: nil, key: flag, reason: .badValue(message)))
        }
        if !listen.isEmpty {
            var addresses: [ListenAddress] = []
            for text in listen {
                // node_exporter's ":9100" means every address; the TOML key spells it "[::]:9100".
                let spelled = text.hasPrefix(":") ? "[::]" + text : text
                switch ListenAddress.parse(spelled) {
                case .success(let a): addresses.append(a)
                case .failure(.badValue(let why)): problem("--web.listen-address", "\"\(text)\": \(why)")
                case .failure: problem("--web.listen-address", "\"\(text)\" is not HOST:PORT")
                }
            }
            o.listen = addresses
        }
        if let file = webConfigFile {
            // A relative path is relative to where the command was typed, as for any other tool.
            if file.isEmpty || file.hasPrefix("/") {
                o.webConfig = file
            } else {
                let cwd = workingDirectory ?? currentDirectory()
                o.webConfig = cwd.hasSuffix("/") ? cwd + file : cwd + "/" + file
            }
        }
        if let path = telemetryPath {
            if !path.hasPrefix("/") || path.contains("?") || path.contains(" ") {
                problem("--web.telemetry-path", "\"\(path)\" must be a URL path starting with '/', e.g. /metrics")
            } else if reservedPaths.contains(path) {
                problem("--web.telemetry-path", "\"\(path)\" is taken by the landing page or a probe endpoint")
            } else {
                o.telemetryPath = path
            }
        }
        if let level = logLevel {
            if let l = Logger.Level(rawValue: level) {
                o.logLevel = l
            } else {
                problem("--log.level", "\"\(level)\": one of trace, debug, info, notice, warning, error, critical")
            }
        }
        if let format = logFormat {
            if let f = LogFormat(rawValue: format) {
                o.logFormat = f
            } else {
                problem("--log.format", "\"\(format)\": one of logfmt, json")
            }
        }
        return problems.isEmpty ? .success(o) : .failure(ConfigProblems(problems))
    }

    /// The configuration with the flags that were given in place of their keys.
    public func applied(to config: Configuration) -> Configuration {
        var c = config
        if let listen { c.listen = listen }
        if let webConfig { c.webConfig = webConfig }
        if let telemetryPath { c.telemetryPath = telemetryPath }
        if let logLevel { c.logLevel = logLevel }
        return c
    }

    static func currentDirectory() -> String {
        var buf = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buf, buf.count) != nil else { return "/" }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// `--log.format`: the two formats of Prometheus' own tools (promslog).
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// `time=… level=info msg="…" key=value`
    case logfmt
    /// `{"time":"…","level":"info","msg":"…","key":"value"}`
    case json
}
