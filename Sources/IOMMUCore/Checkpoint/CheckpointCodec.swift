/// What the checkpoint file holds: the ledger and the position it is consistent with. Counters
/// and seq are always written together, so a crash never loses or doubles anything.
public struct CheckpointState: Sendable, Equatable {
    public static let currentVersion = 2

    public var version: Int = CheckpointState.currentVersion
    public var bootID: String
    /// Records up to here need not be read again. Never inside an unfinished multi-record
    /// group: it is the seq before the group's first record.
    public var resumeSeq: UInt64?
    /// The highest seq the counters include (≥ resumeSeq). Records in between are replayed to
    /// rebuild the group, not counted again.
    public var countedSeq: UInt64?
    public var writtenUsec: Int64
    public var ledger: FaultLedger
    public var lifetime: LifetimeTotals
    /// The highest KMSG_SEQ already sent to the journal in this boot (journal sink).
    public var journaledSeq: UInt64?
    /// `CountedPosition.countedAfterResume`: what the counters hold of the records a restart
    /// reads again (nil: not known, a checkpoint of an older iommud).
    public var countedOutputs: [UInt64: UInt32]?

    public init(
        bootID: String, resumeSeq: UInt64?, countedSeq: UInt64?, writtenUsec: Int64, ledger: FaultLedger,
        lifetime: LifetimeTotals, journaledSeq: UInt64? = nil, countedOutputs: [UInt64: UInt32]? = [:]
    ) {
        self.countedOutputs = countedOutputs
        self.bootID = bootID
        self.resumeSeq = resumeSeq
        self.countedSeq = countedSeq
        self.writtenUsec = writtenUsec
        self.ledger = ledger
        self.lifetime = lifetime
        self.journaledSeq = journaledSeq
    }
}

public struct CheckpointDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int?
    public var message: String
    /// Written by a newer iommud: not corrupt, only not understood here.
    public var isNewerFormat = false
    public var description: String { (line.map { "line \($0): " } ?? "") + message }
}

/// The checkpoint's text format. Line-oriented, tab-separated, `%`-escaped fields, ending in a
/// line count and FNV-1a hash so a truncated or corrupt file is recognised (and moved aside,
/// never half-loaded). Version 1 (the first release's format: faults and seq only) is migrated.
/// Lines added within version 2 (`expected`, `expected_last`: the expected-fault rules' counts)
/// are absent from older files, which load as before, and skipped by an iommud that predates them.
public enum CheckpointCodec {
    public static let magic = "iommud-checkpoint"

    public static func encode(_ s: CheckpointState) -> String {
        var lines: [String] = []
        func add(_ fields: String...) { lines.append(fields.joined(separator: "\t")) }
        func opt(_ v: UInt64?) -> String { v.map(String.init) ?? "-" }
        func opt(_ v: Int64?) -> String { v.map(String.init) ?? "-" }
        let l = s.ledger
        lines.append("\(magic) \(CheckpointState.currentVersion)")
        add("boot_id", esc(s.bootID))
        add("resume_seq", opt(s.resumeSeq))
        add("counted_seq", opt(s.countedSeq))
        // What the counters hold of the records after resume_seq (absent: not known).
        if let outputs = s.countedOutputs {
            add("counted_outputs", String(outputs.count))
            for (seq, n) in outputs.sorted(by: { $0.key < $1.key }) { add("counted_output", String(seq), String(n)) }
        }
        add("written_usec", String(s.writtenUsec))
        add("journaled_seq", opt(s.journaledSeq))
        add("records", String(l.records))
        add("lost", String(l.lostRecords))
        add("overruns", String(l.overruns))
        add("last_seq", opt(l.lastSeq))
        for x in l.losses { add("loss", opt(x.afterSeq), String(x.beforeSeq), String(x.count)) }
        for (k, v) in l.faults.sorted(by: { $0.key < $1.key }) {
            add(
                "fault", esc(k.unit), esc(k.device), k.vendor.rawValue, esc(k.kind.rawValue),
                k.reason.isEmpty ? "-" : esc(k.reason),
                k.recoverable ? "1" : "0", String(v))
        }
        for (k, v) in l.suppressed.sorted(by: { $0.key < $1.key }) {
            add("suppressed", esc(k), l.suppressedVendor[k]?.rawValue ?? "-", String(v))
        }
        for (k, v) in l.overflows.sorted(by: { $0.key < $1.key }) {
            add("overflow", k.vendor.rawValue, esc(k.unit), esc(k.log), String(v))
        }
        for (k, v) in l.unitErrors.sorted(by: { $0.key < $1.key }) {
            add("unit_error", k.vendor.rawValue, esc(k.unit), esc(k.what), String(v))
        }
        for (k, v) in l.unparsed.sorted(by: { $0.key < $1.key }) { add("unparsed", esc(k), String(v)) }
        for u in l.recentUnparsed { add("unparsed_line", u.vendor?.rawValue ?? "-", opt(u.seq), esc(u.text)) }
        for (k, cpus) in l.interrupts.perCPUMax.sorted(by: { $0.key < $1.key }) {
            let counts = cpus.sorted { $0.key < $1.key }.map { "\(esc($0.key))=\($0.value)" }.joined(separator: ",")
            add("irq", String(k.irq), esc(k.unit), esc(k.vector), counts)
        }
        for d in l.devices.values.sorted(by: { $0.device < $1.device }) {
            guard let f = d.lastFault else { continue }
            add("device_last", esc(d.device), opt(d.lastFaultRealtimeUsec), esc(f.jsonLine()))
        }
        for t in l.expected.tallies {
            for (k, v) in t.series.sorted(by: { $0.key < $1.key }) {
                add(
                    "expected", esc(t.rule), esc(k.unit), esc(k.device), k.vendor.rawValue, esc(k.kind.rawValue),
                    k.reason.isEmpty ? "-" : esc(k.reason), k.recoverable ? "1" : "0", String(v))
            }
            if let f = t.lastMatch {
                add("expected_last", esc(t.rule), opt(t.lastMatchRealtimeUsec), esc(f.jsonLine()))
            }
        }
        for item in l.inventory { add("inventory", esc(InventoryCodec.encode(item))) }
        for fields in EstimatorCodec.encode(l.dmarEstimator) { lines.append(fields.map(esc).joined(separator: "\t")) }
        // The AMD-Vi / SMMUv3 ratelimit windows; `event_windows` says they were saved at all.
        add("event_windows", l.eventWindows.unknown.map(\.rawValue).sorted().joined(separator: ","))
        for (k, w) in l.eventWindows.windows.sorted(by: { $0.key < $1.key }) {
            add("event_window", k.vendor.rawValue, esc(k.state), opt(w.startUsec), String(w.printed))
        }
        let t = s.lifetime
        add(
            "lifetime", String(t.previousBoots), String(t.faults), String(t.recoverable), String(t.nonRecoverable),
            String(t.lostRecords), String(t.suppressed), opt(t.sinceUsec))
        let body = lines.joined(separator: "\n") + "\n"
        return body + "end\t\(lines.count)\t\(hex(fnv1a(body), width: 16))\n"
    }

    public static func decode(_ text: String) throws(CheckpointDecodeError) -> CheckpointState {
        guard let firstNL = text.firstIndex(of: "\n") else {
            throw CheckpointDecodeError(line: 1, message: "empty or truncated file")
        }
        let header = text[text.startIndex..<firstNL]
        guard header.hasPrefix(magic + " "), let version = Int(header.dropFirst(magic.count + 1)) else {
            throw CheckpointDecodeError(line: 1, message: "not an iommud checkpoint")
        }
        switch version {
        case 1: return try decodeV1(text)
        case 2: return try decodeV2(text)
        default:
            throw CheckpointDecodeError(
                line: 1, message: "format version \(version) is newer than this iommud understands", isNewerFormat: true
            )
        }
    }

    static func decodeV2(_ text: String) throws(CheckpointDecodeError) -> CheckpointState {
        // Verify the trailer first: a torn write must not half-load.
        guard let endRange = text.range(ofLast: "end\t") else {
            throw CheckpointDecodeError(line: nil, message: "truncated (no end line)")
        }
        let body = String(text[text.startIndex..<endRange.lowerBound])
        let trailer = text[endRange.upperBound...].split(separator: "\t")
        let bodyLines = body.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        guard trailer.count == 2, Int(trailer[0]) == bodyLines.count,
            trailer[1].trimmingSpacesAndNewlines() == hex(fnv1a(body), width: 16)
        else {
            throw CheckpointDecodeError(line: nil, message: "corrupt (line count or checksum does not match)")
        }
        var bootID: String?
        var resume: UInt64?
        var counted: UInt64?
        var written: Int64 = 0
        var journaled: UInt64?
        var l = FaultLedger()
        var t = LifetimeTotals()
        var lasts: [String: (Fault, Int64?)] = [:]
        var expectedLasts: [(rule: String, fault: Fault, usec: Int64?)] = []
        var sawEstimator = false
        var sawEventWindows = false
        var countedOutputs: [UInt64: UInt32]?
        for (i, line) in bodyLines.enumerated().dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let n = i + 1
            func u(_ s: String) throws(CheckpointDecodeError) -> UInt64 {
                guard let v = UInt64(s) else { throw CheckpointDecodeError(line: n, message: "bad number '\(s)'") }
                return v
            }
            func ou(_ s: String) throws(CheckpointDecodeError) -> UInt64? { s == "-" ? nil : try u(s) }
            func oi(_ s: String) throws(CheckpointDecodeError) -> Int64? {
                if s == "-" { return nil }
                guard let v = Int64(s) else { throw CheckpointDecodeError(line: n, message: "bad number '\(s)'") }
                return v
            }
            func need(_ c: Int) throws(CheckpointDecodeError) {
                guard f.count == c else {
                    throw CheckpointDecodeError(line: n, message: "'\(f[0])' needs \(c - 1) fields, has \(f.count - 1)")
                }
            }
            func ruleName(_ s: String) throws(CheckpointDecodeError) -> String {
                let name = unesc(s)
                guard ExpectedRules.isValidName(name) else {
                    throw CheckpointDecodeError(line: n, message: "bad rule name '\(s)'")
                }
                return name
            }
            func vendor(_ s: String) throws(CheckpointDecodeError) -> Vendor {
                guard let v = Vendor(validating: s) else {
                    throw CheckpointDecodeError(line: n, message: "unknown vendor '\(s)'")
                }
                return v
            }
            switch f[0] {
            case "boot_id": try need(2); bootID = unesc(f[1])
            case "resume_seq": try need(2); resume = try ou(f[1])
            case "counted_seq": try need(2); counted = try ou(f[1])
            case "counted_outputs": try need(2); countedOutputs = [:]
            case "counted_output":
                try need(3)
                guard let count = UInt32(f[2]) else {
                    throw CheckpointDecodeError(line: n, message: "bad count '\(f[2])'")
                }
                let seq = try u(f[1])
                if countedOutputs != nil, countedOutputs!.count < CountedPosition.countedOutputsLimit {
                    countedOutputs![seq, default: 0] &+= count
                } else {
                    countedOutputs = nil  // more than a run ever writes: not known
                }
            case "written_usec": try need(2); written = try oi(f[1]) ?? 0
            case "journaled_seq": try need(2); journaled = try ou(f[1])
            case "records": try need(2); l.records = try u(f[1])
            case "lost": try need(2); l.lostRecords = try u(f[1])
            case "overruns": try need(2); l.overruns = try u(f[1])
            case "last_seq": try need(2); l.lastSeq = try ou(f[1])
            case "loss":
                try need(4)
                l.losses.append(LossRange(afterSeq: try ou(f[1]), beforeSeq: try u(f[2]), count: try u(f[3])))
            case "fault":
                try need(8)
                let key = FaultCounterKey(
                    unit: unesc(f[1]), device: unesc(f[2]), vendor: try vendor(f[3]),
                    kind: FaultKind(rawValue: unesc(f[4])),
                    reason: f[5] == "-" ? "" : unesc(f[5]), recoverable: f[6] == "1")
                l.addFaults(key, count: try u(f[7]))
            case "suppressed":
                try need(4)
                let src = unesc(f[1])
                l.suppressed[src] = try u(f[3])
                if f[2] != "-" { l.suppressedVendor[src] = try vendor(f[2]) }
            case "overflow":
                try need(5)
                l.overflows[OverflowKey(vendor: try vendor(f[1]), unit: unesc(f[2]), log: unesc(f[3]))] = try u(f[4])
            case "unit_error":
                try need(5)
                l.unitErrors[UnitErrorKey(vendor: try vendor(f[1]), unit: unesc(f[2]), what: unesc(f[3]))] = try u(f[4])
            case "unparsed": try need(3); l.unparsed[unesc(f[1])] = try u(f[2])
            case "unparsed_line":
                try need(4)
                l.recentUnparsed.append(
                    UnparsedLine(vendor: f[1] == "-" ? nil : try vendor(f[1]), seq: try ou(f[2]), text: unesc(f[3])))
            case "irq":
                try need(5)
                guard let irq = UInt32(f[1]) else { throw CheckpointDecodeError(line: n, message: "bad irq '\(f[1])'") }
                var cpus: [String: UInt64] = [:]
                for pair in f[4].split(separator: ",") {
                    let kv = pair.split(separator: "=")
                    guard kv.count == 2 else {
                        throw CheckpointDecodeError(line: n, message: "bad cpu count '\(pair)'")
                    }
                    cpus[unesc(String(kv[0]))] = try u(String(kv[1]))
                }
                l.interrupts.perCPUMax[InterruptLedger.Source(irq: irq, unit: unesc(f[2]), vector: unesc(f[3]))] = cpus
            case "device_last":
                try need(4)
                guard let fault = Fault(json: unesc(f[3])) else {
                    throw CheckpointDecodeError(line: n, message: "bad fault record")
                }
                lasts[unesc(f[1])] = (fault, try oi(f[2]))
            case "expected":
                try need(9)
                let rule = try ruleName(f[1])
                let key = FaultCounterKey(
                    unit: unesc(f[2]), device: unesc(f[3]), vendor: try vendor(f[4]),
                    kind: FaultKind(rawValue: unesc(f[5])), reason: f[6] == "-" ? "" : unesc(f[6]),
                    recoverable: f[7] == "1")
                l.expected.addFaults(rule: rule, key: key, count: try u(f[8]))
            case "expected_last":
                try need(4)
                guard let fault = Fault(json: unesc(f[3])) else {
                    throw CheckpointDecodeError(line: n, message: "bad fault record")
                }
                expectedLasts.append((try ruleName(f[1]), fault, try oi(f[2])))
            case "dmar_estimator", "dmar_window", "dmar_unit":
                sawEstimator = true
                if let problem = EstimatorCodec.decode(f.map(unesc), into: &l.dmarEstimator) {
                    throw CheckpointDecodeError(line: n, message: problem)
                }
            case "event_windows":
                try need(2)
                sawEventWindows = true
                for v in f[1].split(separator: ",") { l.eventWindows.markUnknown(try vendor(String(v))) }
            case "event_window":
                try need(5)
                let key = EventRatelimitWindows.StateKey(vendor: try vendor(f[1]), state: unesc(f[2]))
                l.eventWindows.restore(key, .init(startUsec: try ou(f[3]), printed: try u(f[4])))
            case "inventory":
                try need(2)
                if let item = InventoryCodec.decode(unesc(f[1])) { l.inventory.append(item) }
            case "lifetime":
                try need(8)
                t.previousBoots = try u(f[1])
                t.faults = try u(f[2])
                t.recoverable = try u(f[3])
                t.nonRecoverable = try u(f[4])
                t.lostRecords = try u(f[5])
                t.suppressed = try u(f[6])
                t.sinceUsec = try oi(f[7])
            default:
                // Unknown lines from a newer minor revision are ignored, not fatal.
                continue
            }
        }
        guard let bootID else { throw CheckpointDecodeError(line: nil, message: "no boot_id") }
        l.restoreLastFaults(lasts)
        for x in expectedLasts { l.expected.restoreLastMatch(rule: x.rule, fault: x.fault, realtimeUsec: x.usec) }
        if !sawEstimator { l.noteEstimatorMissing() }
        if !sawEventWindows { l.noteEventWindowsMissing() }
        return CheckpointState(
            bootID: bootID, resumeSeq: resume, countedSeq: counted, writtenUsec: written, ledger: l, lifetime: t,
            journaledSeq: journaled, countedOutputs: countedOutputs)
    }

    /// Version 1: `boot_id`, `seq`, and `fault unit device vendor kind reason recoverable count`
    /// lines (space-separated), `lost N`, no trailer. Everything it knew is carried over.
    static func decodeV1(_ text: String) throws(CheckpointDecodeError) -> CheckpointState {
        var bootID: String?
        var seq: UInt64?
        var l = FaultLedger()
        for (i, line) in text.split(separator: "\n").enumerated().dropFirst() {
            let f = line.split(separator: " ").map(String.init)
            guard let k = f.first else { continue }
            switch k {
            case "boot_id" where f.count == 2: bootID = f[1]
            case "seq" where f.count == 2: seq = UInt64(f[1])
            case "lost" where f.count == 2: l.lostRecords = UInt64(f[1]) ?? 0
            case "fault" where f.count == 8:
                guard let vendor = Vendor(validating: f[3]), let count = UInt64(f[7]) else {
                    throw CheckpointDecodeError(line: i + 1, message: "bad v1 fault line")
                }
                let key = FaultCounterKey(
                    unit: f[1], device: f[2], vendor: vendor, kind: FaultKind(rawValue: f[4]),
                    reason: f[5] == "-" ? "" : f[5], recoverable: f[6] == "true")
                l.addFaults(key, count: count)
            default:
                continue
            }
        }
        guard let bootID else { throw CheckpointDecodeError(line: nil, message: "no boot_id") }
        l.lastSeq = seq
        l.noteEstimatorMissing()
        var s = CheckpointState(
            bootID: bootID, resumeSeq: seq, countedSeq: seq, writtenUsec: 0, ledger: l, lifetime: LifetimeTotals())
        s.version = 1
        return s
    }

    static func esc(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "%": out += "%25"
            case "\t": out += "%09"
            case "\n": out += "%0A"
            case "\r": out += "%0D"
            default: out.unicodeScalars.append(u)
            }
        }
        return out.isEmpty ? "%00" : out
    }

    static func unesc(_ s: String) -> String {
        if s == "%00" { return "" }
        guard s.contains("%") else { return s }
        var out = [UInt8]()
        let b = Array(s.utf8)
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count, let h = ByteScanner.hexValue(b[i + 1]),
                let l = ByteScanner.hexValue(b[i + 2])
            {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }
}

extension StringProtocol {
    func range(ofLast needle: String) -> Range<Index>? {
        var i = endIndex
        let n = needle.count
        while i > startIndex {
            i = index(before: i)
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: n) }
        }
        return nil
    }

    func trimmingSpacesAndNewlines() -> String {
        String(self.drop { $0 == " " || $0 == "\n" }.reversed().drop { $0 == " " || $0 == "\n" }.reversed())
    }
}
