import Glibc
import IOMMUCore

/// `iommud replay`: saved logs through the daemon's own pipeline (`KmsgPipeline`), the same
/// calls the daemon's reader makes, chunk after chunk — gzip and zstd files decompressed on the
/// way (`ReplayInput`). With `--json` each fault goes to stdout as it is counted; the report
/// (`StatusReport`, the text `iommud status` prints) follows, on stdout, or on stderr with `--json`.
public struct ReplayDriver {
    /// `--fail-on`: what makes replay exit 2 (a CI gate). `non-recoverable`: a fault that was not
    /// recoverable. `any`: any fault, and any unit-level condition the ledger counts per unit
    /// rather than per device — unit errors (`iommu_unit_errors_total`: SMMUv3 GERROR, Service
    /// Failure Mode, MSI and queue aborts, CMDQ and tegra241-cmdqv errors, AMD Completion-Wait
    /// timeouts, SMMUv2 TLB sync timeouts, RISC-V queue errors) and overflows
    /// (`iommu_fault_overflows_total`: records the hardware dropped, so faults that were never
    /// printed). Intel QI errors and SMMUv2 global faults are faults already. Unparsed lines and
    /// suppressed-message counts do not fail the gate.
    public enum FailOn: String, Sendable, CaseIterable {
        case nonRecoverable = "non-recoverable"
        case any

        /// A fault an `[[expected]]` rule matched is known and harmless: it never fails the gate.
        func matches(_ f: Fault) -> Bool { f.expectedRule == nil && (self == .any || !f.recoverable) }

        /// What one counted output weighs at the gate: a fault as `matches(_:)` says; a unit error
        /// or an overflow only for `any`.
        func matches(_ o: ClassifierOutput) -> Bool {
            switch o {
            case .fault(let f): return matches(f)
            case .marker(.unitError, _, _), .marker(.overflow, _, _): return self == .any
            default: return false
            }
        }
    }

    public struct Options: Sendable {
        public var files: [String] = []
        public var json = false
        public var format: ReplayFormat = .auto
        public var acceptUserFacility = false
        /// Attribute with this sysfs root (the log is this machine's); nil: only what the lines say.
        public var sysfs: String?
        /// `--config`'s `[[expected]]` rules (none: every fault counts as the daemon counts it
        /// without rules).
        public var expectedRules = ExpectedRules()
        public var failOn: FailOn?
        /// The ratelimit model of the Intel fault estimate: that of the kernel the log came from.
        public var intelRatelimit: DMARFaultEstimator.KernelShape = .perCall

        public init() {}
    }

    /// What a replay found and whether it could read its input.
    public struct Outcome: Sendable {
        public var ledger: FaultLedger
        public var topology: Topology
        /// Some input could not be read in full (missing, unreadable, corrupt or truncated).
        public var failed = false
        /// At least one input was read.
        public var readAny = false
        /// Faults (and, for `any`, unit errors and overflows) `--fail-on` asks about were found.
        public var matched = 0

        /// The exit code (contract, ARCHITECTURE.md): 2 when `--fail-on` found its faults, else 1
        /// when an input could not be read in full, else 0.
        public var exitCode: Int32 { matched > 0 ? 2 : failed ? 1 : 0 }
    }

    /// Reads every input (- or none: stdin), writing `--json` lines to `out`. A progress line goes
    /// to stderr when it is a terminal and the input is large or slow (`ReplayProgress`).
    public static func run(_ o: Options, out: Int32 = 1) -> Outcome {
        let topology = o.sysfs.map { TopologyScanner(sysfsRoot: $0).scan() } ?? Topology()
        var outcome = Outcome(ledger: FaultLedger(), topology: topology)
        outcome.ledger.dmarEstimator.shape = o.intelRatelimit
        let progress = ReplayProgress()
        var json = JSONWriter()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for name in o.files.isEmpty ? ["-"] : o.files {
            let fd: Int32 = name == "-" ? 0 : open(name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                writeStderr("iommud replay: cannot read \(terminalSafe(name)): \(String(cString: strerror(errno)))\n")
                outcome.failed = true
                continue
            }
            defer { if fd != 0 { close(fd) } }
            var st = stat()
            let size = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int64(st.st_size) : nil
            let input = ReplayInput(fd: fd)
            // Each file is a log of its own: its own sequence numbers, its own groups; the
            // counts add up in one ledger.
            var pipeline = KmsgPipeline(
                options: Classifier.Options(acceptUserFacility: o.acceptUserFacility),
                input: o.format == .kmsg ? .kmsg : .text(o.format), fromStartOfBoot: false, ledger: outcome.ledger,
                topology: topology)
            pipeline.setExpectedRules(o.expectedRules)
            progress.begin(name: name, size: size)
            while true {
                var n = 0
                do {
                    n = try input.read(into: &chunk)
                } catch {
                    writeStderr("iommud replay: \(terminalSafe(name)): \(error)\n")
                    outcome.failed = true
                }
                pipeline.read(stream: chunk[0..<n], isFinal: n == 0)
                let commit = pipeline.commit()
                if let failOn = o.failOn {
                    for o in commit.outputs where failOn.matches(o) { outcome.matched += 1 }
                }
                if o.json {
                    for f in commit.faults { f.appendJSONLine(to: &json) }
                    if json.sink.count >= 1 << 20 { flush(&json, to: out) }
                }
                progress.update(read: input.bytesRead, records: pipeline.ledger.records)
                if n == 0 { break }
            }
            outcome.ledger = pipeline.ledger
            outcome.readAny = true
        }
        flush(&json, to: out)
        progress.finish()
        return outcome
    }

    static func flush(_ w: inout JSONWriter, to fd: Int32) {
        writeAll(fd, w.sink.bytes)
        w.sink.removeAll()
    }
}

/// A progress line on stderr while a large input is read — only when stderr is a terminal, and
/// only for an input over 64 MiB or one that has taken over a second: bytes read (of how many,
/// when the size is known; compressed bytes for a compressed file), records per second. Redrawn
/// at most four times a second, erased at the end: a pipe or a log never sees it.
final class ReplayProgress {
    let enabled: Bool
    private var name = ""
    private var size: Int64?
    private var startMs: Int64 = 0
    private var lastMs: Int64 = 0
    private var shown = false

    init(enabled: Bool = isatty(2) == 1) { self.enabled = enabled }

    func begin(name: String, size: Int64?) {
        self.name = terminalSafe(name)
        self.size = size
        startMs = Clocks.monotonicUsec() / 1000
        lastMs = startMs - 250  // a large file shows its line from the first chunk on
    }

    func update(read: Int64, records: UInt64) {
        guard enabled else { return }
        let now = Clocks.monotonicUsec() / 1000
        guard now - lastMs >= 250 else { return }
        let elapsed = now - startMs
        guard (size ?? 0) > 64 << 20 || elapsed >= 1000 else { return }
        lastMs = now
        var s = "\r\(name): \(Self.mib(read))"
        if let size, size > 0 { s += " of \(Self.mib(size)) (\(min(100, read * 100 / size))%)" }
        s += ", \(UInt64(Double(records) * 1000 / Double(max(elapsed, 1))) / 1000)k records/s"
        writeStderr(s + "\u{1B}[K")
        shown = true
    }

    func finish() {
        if shown { writeStderr("\r\u{1B}[K") }
        shown = false
    }

    static func mib(_ bytes: Int64) -> String { "\(bytes >> 20) MiB" }
}
