import Glibc
import IOMMUCore

/// `iommud log`: past faults from the journal, through sd_journal_open / add_match /
/// seek_realtime_usec — no daemon needed. Filters on the fault's own time
/// (IOMMU_FAULT_REALTIME_USEC), not on when it was journaled.
public enum JournalLog {
    public struct Options: Sendable {
        public var device: String?
        public var unit: String?
        public var kind: String?
        public var sinceUsec: Int64?
        public var untilUsec: Int64?
        public var json = false
        /// Whose entries count (tests point it at themselves).
        public var writer: JournalReader.Writer = .iommudService

        public init() {}
    }

    public struct Entry: Sendable {
        public var messageID: String
        /// The fault's (or storm's) own wall time.
        public var timeUsec: Int64
        public var fault: Fault?
        public var fields: [String: String]
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case unreadable(String)
        public var description: String {
            switch self {
            case .unreadable(let m): return m
            }
        }
    }

    /// Fault entries (and, for the table, storm entries) matching the options, oldest first,
    /// each kmsg record once even if two daemons journaled it.
    public static func read(_ o: Options, includeStorms: Bool) throws(Failure) -> [Entry] {
        let r: JournalReader
        do {
            r = try JournalReader()
        } catch {
            throw .unreadable(
                "\(error.message). Reading the journal needs root or membership in group systemd-journal or adm.")
        }
        if r.usageBytes == 0 {
            throw .unreadable(
                "no journal files are readable here: systemd-journald has not stored anything yet, or this user may not read them (run as root, or join group systemd-journal or adm)."
            )
        }
        // Only the daemon's own entries: journald's trusted fields say who wrote them (a local
        // user can write any MESSAGE_ID and IOMMU_* field it likes).
        var common = [("MESSAGE_ID", MessageID.fault)]
        if includeStorms {
            common += [MessageID.stormBegins, MessageID.stormSummary, MessageID.stormEnds].map { ("MESSAGE_ID", $0) }
        }
        if let d = o.device { common.append(("IOMMU_DEVICE", d)) }
        if let u = o.unit { common.append(("IOMMU_UNIT", u)) }
        if let k = o.kind { common.append(("IOMMU_KIND", k)) }
        r.addMatches(common, writer: o.writer)
        // A fault is journaled after it happened: entries journaled before `since` cannot hold
        // a fault after it.
        if let since = o.sinceUsec, since > 0 { r.seekRealtime(usec: UInt64(since)) } else { r.seekHead() }
        var seen = Set<String>()
        var out: [Entry] = []
        while r.next() {
            let f = r.fields()
            guard let id = f["MESSAGE_ID"] else { continue }
            let journaled = Int64(r.realtimeUsec)
            let time: Int64
            switch id {
            case MessageID.fault: time = f["IOMMU_FAULT_REALTIME_USEC"].flatMap { Int64($0) } ?? journaled
            case MessageID.stormBegins: time = f["IOMMU_STORM_BEGAN_REALTIME_USEC"].flatMap { Int64($0) } ?? journaled
            case MessageID.stormEnds: time = f["IOMMU_STORM_ENDED_REALTIME_USEC"].flatMap { Int64($0) } ?? journaled
            default: time = journaled
            }
            if let s = o.sinceUsec, time < s { continue }
            if let u = o.untilUsec, time > u { continue }
            if let seq = f["KMSG_SEQ"] {
                let key = [id, f["_BOOT_ID"] ?? "", f[JournalSink.sourceField] ?? "", seq].joined(separator: "\u{0}")
                guard seen.insert(key).inserted else { continue }
            }
            let fault = id == MessageID.fault ? JournalEntries.fault(fromFields: f) : nil
            if id == MessageID.fault && fault == nil { continue }
            out.append(Entry(messageID: id, timeUsec: time, fault: fault, fields: f))
        }
        out.sort { a, b in
            if a.timeUsec != b.timeUsec { return a.timeUsec < b.timeUsec }
            return (a.fault?.seq ?? 0) < (b.fault?.seq ?? 0)
        }
        return out
    }

    /// One JSON object per fault: the `replay --json` shape plus `time` and `realtime_usec`.
    public static func jsonLine(_ e: Entry) -> String? {
        guard let f = e.fault else { return nil }
        var w = JSONWriter()
        w.beginObject()
        f.writeFields(into: &w)
        w.string("time", isoMicros(e.timeUsec))
        w.number("realtime_usec", e.timeUsec)
        w.string("boot_id", e.fields["_BOOT_ID"])
        w.string("message", e.fields["MESSAGE"])
        w.endObject()
        return w.output
    }

    /// `2026-11-26T07:44:19.037166Z`.
    public static func isoMicros(_ usec: Int64) -> String {
        // Floor division, without `usec - 999_999` (which traps near Int64.min).
        var s = usec / 1_000_000
        var micros = usec % 1_000_000
        if micros < 0 {
            s -= 1
            micros += 1_000_000
        }
        let frac = String(micros)
        let iso = CivilTime.iso8601(unixSeconds: s)
        return String(iso.dropLast()) + "." + String(repeating: "0", count: 6 - frac.count) + frac + "Z"
    }

    public static func table(_ entries: [Entry]) -> String {
        guard !entries.isEmpty else { return "" }
        var t = TextTable(["TIME", "DEVICE", "UNIT", "KIND", "REASON", "ADDRESS", "WHAT"])
        for e in entries {
            let time = CivilTime.iso8601(unixSeconds: e.timeUsec / 1_000_000)
            if let f = e.fault {
                var what = f.reasonText ?? "-"
                if let o = f.owner { what += " (\(o.rawValue))" }
                if let rule = f.expectedRule { what += " — expected: rule \(rule)" }
                t.add([
                    time, f.device?.description ?? "-", f.unit ?? "-", f.kind.rawValue, f.reasonString ?? "-",
                    f.address.map { hex0x($0) } ?? "-", what,
                ])
            } else {
                let f = e.fields
                let what: String
                switch e.messageID {
                case MessageID.stormBegins: what = "storm began"
                case MessageID.stormSummary:
                    what =
                        "storm goes on: \(f["IOMMU_STORM_FAULTS"] ?? "?") faults (\(f["IOMMU_STORM_TOTAL"] ?? "?") in all)"
                default: what = "storm ended: \(f["IOMMU_STORM_TOTAL"] ?? "?") faults"
                }
                let began = e.messageID == MessageID.stormBegins
                var range = [f["IOMMU_ADDRESS_MIN"], f["IOMMU_ADDRESS_MAX"]].compactMap { $0 }.joined(separator: "–")
                if began || range.isEmpty { range = "-" }
                t.add([
                    time, f["IOMMU_DEVICE"] ?? "-", f["IOMMU_UNIT"] ?? "-", "storm",
                    began ? "-" : (f["IOMMU_STORM_REASONS"] ?? "-"), range, what,
                ])
            }
        }
        return t.render()
    }
}
