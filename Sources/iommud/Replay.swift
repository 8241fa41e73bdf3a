import ArgumentParser
import Glibc
import IOMMUCore
import IOMMUDaemon

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify saved kernel logs offline with the daemon's own pipeline.",
        discussion: """
            Input: any kernel log as people keep it, each line read in its own shape (a file may be a \
            concatenation): raw /dev/kmsg records; dmesg with any flags; console and serial captures; \
            kern.log, syslog and messages as rsyslog, busybox or a collector write them (RFC 3164, RFC 5424); \
            journalctl in every output mode that prints the message (short*, cat, json*, verbose, export). \
            gzip and zstd files (rotated logs) are decompressed, told by their first bytes. \
            With --json, one JSON object per fault on stdout and the summary on stderr; without it, the \
            same summary `iommud status` prints. With --config, the file's [[expected]] rules apply: \
            matching faults are counted apart, as the daemon counts them, and --fail-on passes them. \
            --fail-on=non-recoverable fails on faults that were not recoverable; --fail-on=any on any fault, \
            and on the unit-level conditions counted per unit rather than per device: unit errors (SMMU \
            GERROR and Service Failure Mode, queue and command errors, AMD Completion-Wait timeouts, ...) \
            and overflows (fault records the hardware dropped). Unparsed lines do not fail it. \
            Exit codes: 0 the input was read (whatever it found, without --fail-on); 1 an input could not \
            be read in full (missing, unreadable, corrupt or truncated compressed data); 2 --fail-on found \
            what it names (a fault no [[expected]] rule matches, or for any a unit error or overflow); 78 the \
            --config file is not valid.
            """)

    @Argument(help: "Files to read (plain, gzip or zstd); - or nothing for stdin.")
    var files: [String] = []

    @Flag(name: .long, help: "One JSON object per fault, one per line.")
    var json = false

    @Option(
        name: .long,
        help:
            "Input format: auto (each line in its own shape), kmsg, dmesg, journal (syslog and journalctl text), journal-json (journalctl json*, verbose, export)."
    )
    var format: String = "auto"

    @Option(
        name: .customLong("fail-on"),
        help:
            "Exit 2 when this is found (a CI gate): non-recoverable (a fault that was not recoverable) or any (any fault, unit error or overflow)."
    )
    var failOn: ReplayDriver.FailOn?

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

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The kernel release the log came from (uname -r, e.g. 6.1.0-18-amd64): picks the ratelimit model of the Intel fault estimate.",
            valueName: "release"))
    var kernelRelease: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The ratelimit model of the Intel fault estimate, as [estimate] intel_ratelimit names it (default: from --kernel-release, else per-call, v4.19-v6.15).",
            valueName: "model"))
    var intelRatelimit: String?

    func validate() throws {
        if let intelRatelimit, DMARFaultEstimator.KernelShape(rawValue: intelRatelimit) == nil {
            let names = DMARFaultEstimator.KernelShape.allCases.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("unknown --intel-ratelimit '\(intelRatelimit)': use \(names)")
        }
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
        o.failOn = failOn
        if let named = intelRatelimit.flatMap(DMARFaultEstimator.KernelShape.init(rawValue:)) {
            o.intelRatelimit = named
        } else if let kernelRelease {
            o.intelRatelimit = .forRelease(kernelRelease)
        }
        let outcome = ReplayDriver.run(o)
        let report = StatusReport(ledger: outcome.ledger, topology: outcome.topology, daemon: nil).text()
        writeAll(json ? 2 : 1, report)
        if outcome.matched > 0, let failOn = o.failOn {
            writeStderr(
                "iommud replay: \(outcome.matched) \(failOn == .any ? "fault(s), unit error(s) or overflow(s)" : "non-recoverable fault(s)") found (--fail-on=\(failOn.rawValue))\n"
            )
        }
        if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
    }
}

extension ReplayDriver.FailOn: ExpressibleByArgument {}
