/// The Intel estimator's state as checkpoint lines, `key=value` fields so a later revision can add
/// a field an older one skips. Lines: `dmar_estimator` (the totals and the model's parameters),
/// `dmar_window` (the open ratelimit window), one `dmar_unit` per unit.
enum EstimatorCodec {
    static func encode(_ e: DMARFaultEstimator) -> [[String]] {
        func b(_ v: Bool) -> String { v ? "1" : "0" }
        func o(_ v: UInt64?) -> String { v.map(String.init) ?? "-" }
        let w = e.window
        var lines: [[String]] = [
            [
                "dmar_estimator", "shape=\(e.shape.rawValue)", "burst=\(e.burst)", "interval=\(e.intervalUsec)",
                "slack=\(e.slackUsec)", "unattributed=\(e.unattributedRecords)", "status=\(e.printedStatus)",
                "status_no_ppf=\(e.statusWithoutPPF)", "suppressed=\(e.reportedSuppressed)",
                "end_low=\(e.endCallsLow)", "end_high=\(e.endCallsHigh)", "closed=\(e.closedWindows)",
                "uncertain=\(e.uncertainWindows)", "overflows=\(e.overflows)", "lost=\(e.lostRecords)",
                "unanchored=\(b(e.unanchored))", "last_line=\(o(e.lastLineUsec))",
                "shape_mismatch=\(b(e.shapeMismatch))", "started_late=\(b(e.startedLate))",
                "interrupts_counted=\(b(e.interruptsCounted))",
            ],
            [
                "dmar_window", "start=\(o(w.startUsec))", "printed=\(w.printed)", "status=\(w.status)",
                "status_no_ppf=\(w.statusWithoutPPF)", "uncertain=\(b(w.uncertain))",
                "began_mid_run=\(b(w.beganMidRun))", "ends_moved_on=\(b(w.endsMovedOn))",
                "carried_used=\(w.carriedUsed)",
            ],
        ]
        for (name, u) in e.units.sorted(by: { $0.key < $1.key }) {
            lines.append(["dmar_unit", name, "records=\(u.printedRecords)", "interrupts=\(u.interrupts)"])
        }
        return lines
    }

    /// Reads one line's `key=value` fields into `e`. Unknown keys are skipped; a bad value is an
    /// error (the checkpoint is then moved aside, like any corrupt one).
    static func decode(_ f: [String], into e: inout DMARFaultEstimator) -> String? {
        var fields: [String: String] = [:]
        let start = f.first == "dmar_unit" ? 2 : 1
        for kv in f.dropFirst(start) {
            guard let eq = kv.firstIndex(of: "=") else { return "bad field '\(kv)'" }
            fields[String(kv[..<eq])] = String(kv[kv.index(after: eq)...])
        }
        var problem: String?
        func u(_ k: String) -> UInt64? {
            guard let v = fields[k] else { return nil }
            guard let n = UInt64(v) else {
                problem = "bad number '\(v)' for \(k)"
                return nil
            }
            return n
        }
        func ou(_ k: String) -> UInt64?? {
            guard let v = fields[k] else { return nil }
            if v == "-" { return .some(nil) }
            return u(k).map { .some($0) }
        }
        func b(_ k: String) -> Bool? {
            guard let v = fields[k] else { return nil }
            if v != "0" && v != "1" { problem = "bad flag '\(v)' for \(k)" }
            return v == "1"
        }
        switch f.first {
        case "dmar_estimator":
            if let s = fields["shape"] {
                guard let shape = DMARFaultEstimator.KernelShape(rawValue: s) else { return "unknown shape '\(s)'" }
                e.shape = shape
            }
            e.unattributedRecords = u("unattributed") ?? e.unattributedRecords
            e.printedStatus = u("status") ?? e.printedStatus
            e.statusWithoutPPF = u("status_no_ppf") ?? e.statusWithoutPPF
            e.reportedSuppressed = u("suppressed") ?? e.reportedSuppressed
            e.endCallsLow = u("end_low") ?? e.endCallsLow
            e.endCallsHigh = u("end_high") ?? e.endCallsHigh
            e.closedWindows = u("closed") ?? e.closedWindows
            e.uncertainWindows = u("uncertain") ?? e.uncertainWindows
            e.overflows = u("overflows") ?? e.overflows
            e.lostRecords = u("lost") ?? e.lostRecords
            e.unanchored = b("unanchored") ?? e.unanchored
            if let v = ou("last_line") { e.lastLineUsec = v }
            e.shapeMismatch = b("shape_mismatch") ?? e.shapeMismatch
            e.startedLate = b("started_late") ?? e.startedLate
            e.interruptsCounted = b("interrupts_counted") ?? e.interruptsCounted
        case "dmar_window":
            var w = DMARFaultEstimator.Window()
            if let v = ou("start") { w.startUsec = v }
            w.printed = u("printed") ?? 0
            w.status = u("status") ?? 0
            w.statusWithoutPPF = u("status_no_ppf") ?? 0
            w.uncertain = b("uncertain") ?? false
            w.beganMidRun = b("began_mid_run") ?? false
            w.endsMovedOn = b("ends_moved_on") ?? false
            w.carriedUsed = u("carried_used") ?? 0
            e.window = w
        case "dmar_unit":
            guard f.count >= 2, !f[1].isEmpty else { return "dmar_unit without a name" }
            guard e.units[f[1]] != nil || e.units.count < DMARFaultEstimator.unitLimit else { return nil }
            e.units[f[1]] = DMARFaultEstimator.UnitCounts(
                printedRecords: u("records") ?? 0, interrupts: u("interrupts") ?? 0)
        default:
            return "not an estimator line"
        }
        return problem
    }
}
