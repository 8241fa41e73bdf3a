import ArgumentParser
import Glibc
import IOMMUDaemon

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon (what systemd starts). It never forks.",
        discussion: """
            The --web.* and --log.* flags are named as node_exporter names them; each one beats its \
            key in the configuration file, also across reloads (SIGHUP). HTTP endpoints: the metrics \
            (/metrics unless --web.telemetry-path says otherwise), /-/healthy (200 while the kernel \
            log reader and the event loop run), /-/ready (200 once the ring-buffer backlog is read, \
            503 before) and a landing page at /. The probes are answered without basic auth.

            Exit codes: 0 clean stop, 78 configuration error (a bad flag too), 77 no permission to \
            read /dev/kmsg, 69 a source is missing, 74 the state directory is unusable.
            """)

    @Option(name: .long, help: "Configuration file (TOML).")
    var config: String?

    @Flag(name: .long, help: "Send the daemon's own log to stderr instead of the journal.")
    var foreground = false

    @Flag(
        name: .long,
        help:
            "Start from zero when the checkpoint cannot be used (written by a newer iommud, or unreadable); it is moved aside. Without it such a checkpoint stops the start (exit 74)."
    )
    var freshStart = false

    @Option(
        name: .customLong("web.listen-address"),
        help: ArgumentHelp(
            "Address to serve the metrics on, HOST:PORT, [IPv6]:PORT or :PORT (every address); repeat for more. Replaces [http] listen.",
            valueName: "address"))
    var webListenAddress: [String] = []

    @Option(
        name: .customLong("web.config.file"),
        help: ArgumentHelp(
            "Web config file (exporter-toolkit YAML: TLS, basic auth). Replaces [http] web_config; \"\" for plain HTTP.",
            valueName: "file"), completion: .file(extensions: ["yml", "yaml"]))
    var webConfigFile: String?

    @Option(
        name: .customLong("web.telemetry-path"),
        help: ArgumentHelp("Path under which the metrics are served. (default: /metrics)", valueName: "path"))
    var webTelemetryPath: String?

    @Option(
        name: .customLong("log.level"),
        help: ArgumentHelp(
            "Level of the daemon's own log: trace, debug, info, notice, warning, error, critical. Replaces [log] level.",
            valueName: "level"),
        completion: .list(["trace", "debug", "info", "notice", "warning", "error", "critical"]))
    var logLevel: String?

    @Option(
        name: .customLong("log.format"),
        help: ArgumentHelp(
            "Format of the daemon's own log lines on stderr (--foreground, or when the journal cannot be reached): logfmt or json. (default: short lines for a terminal)",
            valueName: "format"), completion: .list(LogFormat.allCases.map(\.rawValue)))
    var logFormat: String?

    func run() async throws {
        let overrides: CommandLineOverrides
        switch CommandLineOverrides.parse(
            listen: webListenAddress, webConfigFile: webConfigFile, telemetryPath: webTelemetryPath,
            logLevel: logLevel, logFormat: logFormat)
        {
        case .success(let o): overrides = o
        case .failure(let problems):
            for p in problems.problems { writeStderr("iommud: \(p)\n") }
            throw ExitCode(78)
        }
        let code = await Daemon.run(
            configPath: config, foreground: foreground, freshStart: freshStart, overrides: overrides)
        if code != 0 { throw ExitCode(code) }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration file and print the effective configuration.",
        discussion: "Exit codes: 0 valid, 78 not.")

    @Argument(help: "The file to check (default /etc/iommud/iommud.toml).")
    var file: String?

    func run() throws {
        switch loadConfiguration(path: file) {
        case .success(let c):
            if let problems = WebSecurity.validate(path: c.webConfig) {
                for p in problems.problems { writeStderr("iommud: \(p)\n") }
                throw ExitCode(78)
            }
            print(c.rendered(), terminator: "")
        case .failure(let problems):
            for p in problems.problems { writeStderr("iommud: \(p)\n") }
            throw ExitCode(78)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")

    func run() {
        print("iommud \(BuildInfo.version) (swift \(BuildInfo.swift))")
    }
}
