import ArgumentParser
import Glibc
import IOMMUCore
import IOMMUDaemon

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify saved kernel logs offline with the daemon's own pipeline.",
        discussion: """
            Input: raw /dev/kmsg records, dmesg (with [ seconds] or -T stamps), journalctl -k / -o short*, \
            or journalctl -o json — detected automatically. With --json, one JSON object per fault on stdout \
            and the summary on stderr; without it, the same summary `iommud status` prints. With --config, \
            the file's [[expected]] rules apply: matching faults are counted apart, as the daemon counts them. \
            Exit codes: 0 the input was read (whatever it found), 1 it could not be read, 78 the --config \
            file is not valid.
            """)

    @Argument(help: "Files to read; - or nothing for stdin.")
    var files: [String] = []

    @Flag(name: .long, help: "One JSON object per fault, one per line.")
    var json = false

    @Option(name: .long, help: "Input format: auto, kmsg, dmesg, journal, journal-json.")
    var format: String = "auto"

    @Flag(name: .long, help: "Also classify records written from userspace (facility ≠ 0).")
    var acceptUserFacility = false

    @Option(
        name: .long,
        help: "Attribute faults to units and devices with this sysfs root (e.g. /sys when the log is this machine's).")
    var sysfs: String?

    @Option(
        name: .long,
        help: "Apply the [[expected]] rules of this iommud.toml (e.g. /etc/iommud/iommud.toml).")
    var config: String?

    func validate() throws {
        guard ReplayFormat(rawValue: format) != nil else {
            throw ValidationError("unknown format '\(format)': use auto, kmsg, dmesg, journal or journal-json")
        }
    }

    func run() throws {
        var o = ReplayDriver.Options()
        o.files = files
        o.json = json
        o.format = ReplayFormat(rawValue: format) ?? .auto
        o.acceptUserFacility = acceptUserFacility
        o.sysfs = sysfs
        if let config {
            switch loadConfiguration(path: config) {
            case .success(let c): o.expectedRules = c.expectedRules
            case .failure(let problems):
                for p in problems.problems { writeStderr("iommud replay: \(p)\n") }
                throw ExitCode(78)
            }
        }
        let outcome = ReplayDriver.run(o)
        let report = StatusReport(ledger: outcome.ledger, topology: outcome.topology, daemon: nil).text()
        writeAll(json ? 2 : 1, report)
        if outcome.failed && !outcome.readAny { throw ExitCode(1) }
    }
}
