import Glibc
import IOMMUCore

// Unsafe pointers here: read(2) fills the chunk buffer.

/// `iommud replay`: saved logs through the daemon's own pipeline (`KmsgPipeline`), the same
/// calls the daemon's reader makes, file chunk after file chunk. With `--json` each fault goes
/// to stdout as it is counted; the report (`StatusReport`, the text `iommud status` prints)
/// follows, on stdout, or on stderr with `--json`.
public struct ReplayDriver {
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

        public init() {}
    }

    /// What a replay found and whether it could read its input.
    public struct Outcome: Sendable {
        public var ledger: FaultLedger
        public var topology: Topology
        /// Some input could not be read.
        public var failed = false
        /// At least one input was read.
        public var readAny = false
    }

    /// Reads every input (- or none: stdin), writing `--json` lines to `out`. Progress goes to
    /// stderr when it is a terminal.
    public static func run(_ o: Options, out: Int32 = 1) -> Outcome {
        let topology = o.sysfs.map { TopologyScanner(sysfsRoot: $0).scan() } ?? Topology()
        var outcome = Outcome(ledger: FaultLedger(), topology: topology)
        let progress = ReplayProgress()
        var json = JSONWriter()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for name in o.files.isEmpty ? ["-"] : o.files {
            let fd: Int32 = name == "-" ? 0 : open(name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                writeStderr("iommud replay: cannot read \(name): \(String(cString: strerror(errno)))\n")
                outcome.failed = true
                continue
            }
            defer { if fd != 0 { close(fd) } }
            var st = stat()
            let size = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int64(st.st_size) : nil
            // Each file is a log of its own: its own sequence numbers, its own groups; the
            // counts add up in one ledger.
            var pipeline = KmsgPipeline(
                options: Classifier.Options(acceptUserFacility: o.acceptUserFacility),
                input: o.format == .kmsg ? .kmsg : .text(o.format), fromStartOfBoot: false, ledger: outcome.ledger,
                topology: topology)
            pipeline.setExpectedRules(o.expectedRules)
            var done: Int64 = 0
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    writeStderr("iommud replay: error reading \(name): \(String(cString: strerror(errno)))\n")
                    outcome.failed = true
                    break
                }
                chunk.withUnsafeBufferPointer { b in
                    pipeline.read(stream: UnsafeBufferPointer(rebasing: b[0..<n]), isFinal: n == 0)
                }
                let commit = pipeline.commit()
                if o.json {
                    for f in commit.faults { f.appendJSONLine(to: &json) }
                    if json.sink.count >= 1 << 20 { flush(&json, to: out) }
                }
                done += Int64(n)
                progress.update(
                    name: name, done: done, size: size, records: pipeline.ledger.records,
                    faults: pipeline.ledger.totalFaults)
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
        w.sink.bytes.withUnsafeBufferPointer { writeAll(fd, $0) }
        w.sink.removeAll()
    }
}

/// Progress on stderr while a large file is read, only when stderr is a terminal.
final class ReplayProgress {
    let enabled = isatty(2) == 1
    var lastMs: Int64 = 0
    var shown = false

    func update(name: String, done: Int64, size: Int64?, records: UInt64, faults: @autoclosure () -> UInt64) {
        guard enabled else { return }
        let now = Clocks.monotonicUsec() / 1000
        guard now - lastMs >= 250 else { return }
        lastMs = now
        var s = "\r\(terminalSafe(name)): \(records) records, \(faults()) faults"
        if let size, size > 0 { s += ", \(done * 100 / size)% of \(size / 1_048_576) MiB" }
        writeStderr(s + "   ")
        shown = true
    }

    func finish() {
        if shown { writeStderr("\r\u{1B}[K") }
    }
}
