import ArgumentParser
import Glibc
import IOMMUCore
import IOMMUDaemon

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify saved kernel logs offline with the daemon's classifier and ledger.",
        discussion: """
            Input: raw /dev/kmsg records, dmesg (with [ seconds] or -T stamps), journalctl -k / -o short*, \
            or journalctl -o json — detected automatically. With --json, one JSON object per fault on stdout \
            and the summary on stderr; without it, the same summary `iommud status` prints. \
            Exit codes: 0 the input was read (whatever it found), 1 it could not be read.
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

    func validate() throws {
        guard ReplayFormat(rawValue: format) != nil else {
            throw ValidationError("unknown format '\(format)': use auto, kmsg, dmesg, journal or journal-json")
        }
    }

    func run() throws {
        let inputs = files.isEmpty ? ["-"] : files
        var ledger = FaultLedger()
        // Without --sysfs a log is taken as another machine's: only what the lines say counts.
        let topology = sysfs.map { TopologyScanner(sysfsRoot: $0).scan() } ?? Topology()
        var readAny = false
        var failed = false
        let out = OutputBuffer()
        let progress = Progress()
        for name in inputs {
            let fd: Int32 = name == "-" ? 0 : open(name, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                writeStderr("iommud replay: cannot read \(name): \(String(cString: strerror(errno)))\n")
                failed = true
                continue
            }
            defer { if fd != 0 { close(fd) } }
            var st = stat()
            let size = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int64(st.st_size) : nil
            // Room for a new device every 4 KiB of log, more than real logs have: the device
            // table is then not rehashed as it fills (room not used is address space only).
            if let size { ledger.reserveCapacity(devices: Int(min(size / 4096, 1 << 20))) }
            // One buffer: each read goes after the unfinished record the last feed left at its
            // front, so the engine sees whole records without copying every chunk.
            var capacity = 1 << 20
            var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
            defer { buffer.deallocate() }
            var pending = 0
            var engine: ReplayEngine?
            var done: Int64 = 0
            while true {
                if pending == capacity {  // a record longer than the buffer: make room for it
                    let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity * 2, alignment: 16)
                    larger.copyMemory(from: UnsafeRawBufferPointer(buffer))
                    buffer.deallocate()
                    buffer = larger
                    capacity *= 2
                }
                let n = read(fd, buffer.baseAddress! + pending, capacity - pending)
                if n < 0 {
                    if errno == EINTR { continue }
                    writeStderr("iommud replay: error reading \(name): \(String(cString: strerror(errno)))\n")
                    failed = true
                    break
                }
                let bytes = UnsafeBufferPointer(
                    start: buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), count: pending + n)
                if engine == nil {
                    var f = ReplayFormat(rawValue: format)!
                    if f == .auto { f = ReplayFormat.detect(String(decoding: bytes.prefix(64 * 1024), as: UTF8.self)) }
                    engine = ReplayEngine(format: f, options: .init(acceptUserFacility: acceptUserFacility))
                    engine!.ledger = ledger
                    ledger = FaultLedger()  // the engine's copy is then the only one: no copy on write
                    engine!.topology = topology
                }
                let used =
                    json
                    ? engine!.feed(buffered: bytes, isFinal: n == 0) { out.append($0) }
                    : engine!.feed(buffered: bytes, isFinal: n == 0)
                pending = bytes.count - used
                if pending > 0 && used > 0 { memmove(buffer.baseAddress!, buffer.baseAddress! + used, pending) }
                done += Int64(n)
                progress.update(
                    name: name, done: done, size: size, records: engine!.recordsRead,
                    faults: engine!.ledger.totalFaults)
                if n == 0 { break }
            }
            if let e = engine {
                ledger = e.ledger
                readAny = true
            }
        }
        out.flush()
        progress.finish()
        // The summary goes out as the bytes it was written in, 64 KiB at a time: a large log's
        // device table runs to megabytes, and a String of it would be one more copy, checked as
        // UTF-8 again.
        let fd: Int32 = json ? 2 : 1
        var summary = ByteSink()
        StatusReport(ledger: ledger, topology: topology, daemon: nil).text(into: &summary) { full in
            full.withBytes { writeAll(fd, $0) }
            full.removeAll()
        }
        summary.withBytes { writeAll(fd, $0) }
        // Done: end the process here rather than free the ledger's summaries one by one on the
        // way out (a large log leaves tens of thousands; it took 3 % of a replay).
        fflush(nil)
        Glibc.exit(failed && !readAny ? 1 : 0)
    }
}

/// Buffered stdout for --json: one write per MiB, not per line (a large replay writes tens of
/// megabytes; in 64 KiB writes to a file it took 3 % more CPU — bench/: replay throughput).
final class OutputBuffer {
    var writer = JSONWriter()

    func append(_ line: String) {
        writer.sink.append(line)
        writer.sink.append(0x0a)
        if writer.sink.count >= 1 << 20 { flush() }
    }

    /// A fault's JSON line, written straight into the buffer (no String per fault).
    func append(_ fault: borrowing Fault) {
        fault.appendJSONLine(to: &writer)
        if writer.sink.count >= 1 << 20 { flush() }
    }

    func flush() {
        writer.sink.withBytes { writeAll(1, $0) }
        writer.sink.removeAll()
    }
}

/// Progress on stderr, only when stderr is a terminal (never when piped).
final class Progress {
    let enabled = isatty(2) == 1
    var last: Int64 = 0
    var shown = false

    /// `faults` is summed over every counter: only when there is a line to show.
    func update(name: String, done: Int64, size: Int64?, records: UInt64, faults: @autoclosure () -> UInt64) {
        guard enabled else { return }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let now = Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
        guard now - last >= 250 else { return }
        last = now
        var s = "\r\(name): \(records) records, \(faults()) faults"
        if let size, size > 0 { s += ", \(done * 100 / size)% of \(size / 1_048_576) MiB" }
        writeStderr(s + "   ")
        shown = true
    }

    func finish() {
        if shown { writeStderr("\r\u{1B}[K") }
    }
}
