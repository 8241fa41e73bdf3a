import ArgumentParser
import Glibc
import IOMMUDaemon

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon (what systemd starts). It never forks.",
        discussion: """
            Exit codes: 0 clean stop, 78 configuration error, 77 no permission to read /dev/kmsg, \
            69 a source is missing, 74 the state directory is unusable.
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

    func run() async throws {
        let code = await Daemon.run(configPath: config, foreground: foreground, freshStart: freshStart)
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
