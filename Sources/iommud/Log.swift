import ArgumentParser
import ConfigSyntax
import Glibc
import IOMMUCore
import IOMMUDaemon

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Past IOMMU faults from the journal (no daemon needed).",
        discussion: """
            Reads the entries iommud wrote to the journal (sd_journal API) and prints them oldest first: a \
            table (faults, and the storms whose faults were summarised), or with --json one object per fault \
            — the `replay --json` keys plus "time" and "realtime_usec". --since and --until apply to the \
            time each fault happened, and take ISO 8601 (2026-11-26T05:53:14Z), "YYYY-MM-DD HH:MM:SS" \
            (local time), "today", "yesterday", or relative times such as -1h, "7d ago", "30 min ago". \
            Exit codes: 0 the journal was read (whatever it held), 1 it could not be read, 64 a bad option.
            """)

    @Option(name: .long, help: "Only this device (SSSS:BB:DD.F or BB:DD.F).")
    var device: String?

    @Option(name: .long, help: "Only this remapping unit (dmar0, ivhd0, …).")
    var unit: String?

    @Option(name: .long, help: "Only this kind (dma-read, dma-write, io-page-fault, …).")
    var kind: String?

    @Option(name: .long, help: "Faults that happened at or after this time.")
    var since: String?

    @Option(name: .long, help: "Faults that happened at or before this time.")
    var until: String?

    @Flag(name: .long, help: "One JSON object per fault, one per line.")
    var json = false

    func run() throws {
        var o = JournalLog.Options()
        let now = Int64(time(nil)) * 1_000_000
        if let d = device {
            guard let a = PCIAddress(parsing: d) else {
                throw ValidationError("'\(d)' is not a PCI address: use SSSS:BB:DD.F or BB:DD.F")
            }
            o.device = a.description
        }
        o.unit = unit
        o.kind = kind
        func instant(_ option: String, _ text: String) throws -> Int64 {
            switch TimeSpec.read(text, nowUsec: now) {
            case .success(let t): return t
            case .failure(let why): throw ValidationError("cannot read the time '\(text)' for \(option): \(why)")
            }
        }
        if let s = since { o.sinceUsec = try instant("--since", s) }
        if let u = until { o.untilUsec = try instant("--until", u) }
        o.json = json
        let entries: [JournalLog.Entry]
        do {
            entries = try JournalLog.read(o, includeStorms: !json)
        } catch {
            writeStderr("iommud log: \(error)\n")
            throw ExitCode(1)
        }
        if json {
            var out = ""
            for e in entries { if let line = JournalLog.jsonLine(e) { out += line + "\n" } }
            writeAll(1, out)
        } else if entries.isEmpty {
            writeStderr(
                "no IOMMU faults in the journal" + (since != nil || until != nil ? " in that time range" : "") + ".\n")
        } else {
            writeAll(1, JournalLog.table(entries))
        }
    }
}
