/// How many Intel VT-d fault records really happened behind `dmar_fault()`'s printk ratelimit
/// (docs/intel-ratelimit-model.md).
///
/// `dmar_fault()` shares ONE `static DEFINE_RATELIMIT_STATE(rs, 5 s, 10)` across every unit. Since
/// v4.19 each fault interrupt calls `__ratelimit()` once for the status line, once per fault record
/// and once more for the loop iteration that finds the next record clear, so
/// `dmar_fault: N callbacks suppressed` counts refused *calls*. A window that refused anything
/// allowed exactly `burst` calls, and the printed lines show all of them but the end calls; the
/// end calls it allowed are `burst − printed lines`, a window without refusals allowed one per
/// printed status line. Then, with every interrupt costing one status call and one end call:
///
///     records = printed lines + allowed end calls + Σ N − 2 · interrupts (+ status lines without PPF)
///
/// exactly, once every window's count has been printed. Where it has not (the last window of a
/// storm that just stopped), each interrupt still carries at least one record, which bounds the
/// count from below. The estimator keeps counters only (per unit and for the open window), so it
/// is a few dozen bytes however long the storm, and it is `Equatable` plain data: the daemon
/// checkpoints it beside the ledger and restores it with the same kmsg sequence number.
///
/// Observations come in kmsg order; an interrupt sample comes after the records read before it
/// was taken (the daemon samples /proc/interrupts after each batch), as a cumulative count since
/// boot. Input arithmetic saturates: a corrupt `N` never traps.
public struct DMARFaultEstimator: Sendable, Equatable {
    /// The shape of `dmar_fault()` and `___ratelimit()` in the running kernel.
    public enum KernelShape: String, Sendable, Equatable, CaseIterable {
        /// Before v4.7: no ratelimit, every record is printed.
        case unlimited
        /// v4.7 – v4.18 (c43fce4eebae "iommu/vt-d: Ratelimit fault handler"): one `__ratelimit()`
        /// per handler run, gating its status line and all its records; N counts interrupts.
        case perInterrupt
        /// v4.19 – v6.15 ("iommu/vt-d: Ratelimit each dmar fault printing"): one call for the
        /// status line and one per loop iteration. A call that finds the state's lock taken (two
        /// units' handlers at once) is refused and NOT counted in N.
        case perCall
        /// v6.16+ (the 2025 lib/ratelimit.c rework): as `perCall`, and contended calls are
        /// counted in N too.
        case perCallCountsContention

        /// The shape upstream has at this release (`uname -r`, e.g. `6.1.0-18-amd64`). Distribution
        /// kernels may carry the v4.19 change earlier (SUSE backported it to 4.4 and 4.12).
        public static func forRelease(_ release: String) -> KernelShape {
            var parts: [Int] = []
            var n = 0
            var digits = false
            for c in release.utf8 {
                if c >= 0x30 && c <= 0x39 {
                    n = n &* 10 &+ Int(c - 0x30)
                    digits = true
                } else {
                    if digits { parts.append(n) }
                    n = 0
                    digits = false
                    if c != UInt8(ascii: ".") || parts.count >= 2 { break }
                }
            }
            if digits && parts.count < 2 { parts.append(n) }
            guard parts.count >= 2 else { return .perCall }
            let v = (parts[0], parts[1])
            if v < (4, 7) { return .unlimited }
            if v < (4, 19) { return .perInterrupt }
            if v < (6, 16) { return .perCall }
            return .perCallCountsContention
        }
    }

    public enum Observation: Sendable, Equatable {
        /// `DRHD: handling fault status reg %x`: the FSTS value when parsed (PFO bit 0, PPF bit 1).
        case statusLine(status: UInt32?, tsUsec: UInt64?)
        /// A printed fault record (`[DMA Read …]`, `[DMA Write …]`, `[INTR-REMAP]`) of a unit.
        case record(unit: String?, tsUsec: UInt64?)
        /// `dmar_fault: N callbacks suppressed`.
        case suppressed(count: UInt64, tsUsec: UInt64?)
        /// A unit's `DMAR-MSI` fault-interrupt count since boot (cumulative, summed over CPUs).
        case interrupts(unit: String, total: UInt64)
        /// kmsg records the daemon never read (seq gaps, EPIPE, wrapped before it started).
        case lost(records: UInt64)
    }

    public struct Estimate: Sendable, Equatable {
        /// The model's figure: fault records that happened.
        public var value: UInt64
        /// Fewer records than this cannot have happened (under the model's premises).
        public var lower: UInt64
        /// More than this cannot have happened; nil: no bound (a count not printed yet, lost
        /// records, uncounted refusals, hardware overflow).
        public var upper: UInt64?
        /// The value is determined by the model, not guessed.
        public var exact: Bool
        /// Why it is exact, or what widens the bounds (a sentence).
        public var condition: String

        public init(value: UInt64, lower: UInt64, upper: UInt64?, exact: Bool, condition: String) {
            self.value = value
            self.lower = lower
            self.upper = upper
            self.exact = exact
            self.condition = condition
        }
    }

    /// Per unit: what the log attributed to it and its interrupt count.
    struct UnitCounts: Sendable, Equatable {
        var printedRecords: UInt64 = 0
        var interrupts: UInt64 = 0
    }

    /// The ratelimit window the kernel is in, as far as the printed lines show it.
    struct Window: Sendable, Equatable {
        /// Timestamp of its first visible line (the window began at its first call).
        var startUsec: UInt64?
        /// Printed lines (status lines + records) in it.
        var printed: UInt64 = 0
        /// Printed status lines in it, and those of them without PPF (no record loop, no end call).
        var status: UInt64 = 0
        var statusWithoutPPF: UInt64 = 0
        /// Its boundary with the previous window is not certain (no timestamp, a gap within the
        /// jiffy slack, a suppressed count earlier than the interval).
        var uncertain = false
        /// Its first line is a record: the handler run began (status call) in the window before,
        /// and its end call is in this one.
        var beganMidRun = false
        /// End calls of the runs whose status line it printed, moved to the next window when that
        /// one began in the middle of its last run.
        var endsMovedOn = false
        /// Calls the window before used, when the boundary with it is ambiguous: the two may be
        /// one window, whose calls could have run out.
        var carriedUsed: UInt64 = 0
        /// Handler runs with a record loop that end in it: one end call each.
        var endCalls: UInt64 {
            let own = status &- min(status, statusWithoutPPF)
            let moved: UInt64 = endsMovedOn && own > 0 ? 1 : 0
            return sat(own - moved, beganMidRun ? 1 : 0)
        }
    }

    public let shape: KernelShape
    public let burst: UInt64
    public let intervalUsec: UInt64
    /// Beyond `interval`, a gap shorter than this may or may not have crossed the jiffies test
    /// (`time_is_before_jiffies(begin + interval)`): 2 jiffies at HZ=100.
    public let slackUsec: UInt64

    var units: [String: UnitCounts] = [:]
    /// Records the log did not attribute to a unit.
    var unattributedRecords: UInt64 = 0
    var printedStatus: UInt64 = 0
    var statusWithoutPPF: UInt64 = 0
    var reportedSuppressed: UInt64 = 0
    /// Allowed end calls of the closed windows: a range when a boundary was uncertain.
    var endCallsLow: UInt64 = 0
    var endCallsHigh: UInt64 = 0
    var window = Window()
    var closedWindows: UInt64 = 0
    var uncertainWindows: UInt64 = 0
    var overflows: UInt64 = 0
    var lostRecords: UInt64 = 0
    /// Since an ambiguous boundary (or a line without a timestamp), the window starts may be
    /// wrong, and so may every boundary after them, until something fixes a start again: a
    /// printed count (it opens a window) or a silence longer than the interval (any window
    /// that was open has expired by the next line).
    var unanchored = false
    var lastLineUsec: UInt64?
    /// A window printed more status lines than the v4.19+ shape allows (`burst / 3 + 1`).
    var shapeMismatch = false

    public init(
        shape: KernelShape = .perCall, burst: UInt64 = 10, intervalUsec: UInt64 = 5_000_000,
        slackUsec: UInt64 = 25_000
    ) {
        self.shape = shape
        self.burst = burst
        self.intervalUsec = intervalUsec
        self.slackUsec = slackUsec
    }

    // MARK: - Observing

    public mutating func observe(_ o: Observation) {
        switch o {
        case .statusLine(let status, let ts):
            line(ts: ts, isRecord: false)
            printedStatus = sat(printedStatus, 1)
            window.printed = sat(window.printed, 1)
            window.status = sat(window.status, 1)
            if let status {
                if status & 0x1 != 0 { overflows = sat(overflows, 1) }
                if status & 0x2 == 0 {
                    statusWithoutPPF = sat(statusWithoutPPF, 1)
                    window.statusWithoutPPF = sat(window.statusWithoutPPF, 1)
                }
            }
            if isPerCall && !window.uncertain && window.status &- window.statusWithoutPPF > burst / 3 + 1 {
                shapeMismatch = true
            }
        case .record(let unit, let ts):
            line(ts: ts, isRecord: true)
            if window.printed == 0 { window.beganMidRun = true }
            window.printed = sat(window.printed, 1)
            if let unit {
                var u = units[unit] ?? UnitCounts()
                u.printedRecords = sat(u.printedRecords, 1)
                units[unit] = u
            } else {
                unattributedRecords = sat(unattributedRecords, 1)
            }
        case .suppressed(let count, let ts):
            reportedSuppressed = sat(reportedSuppressed, count)
            // Printed by the first call after the window expired: it closes a window that refused
            // something, and that call opens the next one.
            if let ts, let start = window.startUsec, ts >= start,
                ts - start < intervalUsec &- min(slackUsec, intervalUsec)
            {
                window.uncertain = true
            }
            if ts == nil { window.uncertain = true }
            close(refused: true)
            window = Window(startUsec: ts, uncertain: ts == nil)
            unanchored = ts == nil
            if let ts { lastLineUsec = ts }
        case .interrupts(let unit, let total):
            var u = units[unit] ?? UnitCounts()
            u.interrupts = max(u.interrupts, total)
            units[unit] = u
        case .lost(let n):
            lostRecords = sat(lostRecords, n)
        }
    }

    var isPerCall: Bool { shape == .perCall || shape == .perCallCountsContention }

    /// A printed line at `ts`: does it open a new window (the previous one refused nothing)?
    private mutating func line(ts: UInt64?, isRecord: Bool) {
        guard let ts else {
            window.uncertain = true
            unanchored = true
            return
        }
        let silence = lastLineUsec.map { ts > $0 && ts - $0 > sat(intervalUsec, slackUsec) } ?? false
        lastLineUsec = ts
        guard let start = window.startUsec else {
            // The first line of a window opened by a suppressed count without a timestamp, or of
            // the first window seen.
            window.startUsec = ts
            return
        }
        // A new window begins at the first call after `begin + interval` in jiffies; printk's clock
        // and jiffies differ by up to a jiffy or two, so a gap near the interval is ambiguous.
        let gap = ts >= start ? ts - start : 0
        if gap < intervalUsec &- min(slackUsec, intervalUsec) { return }
        let ambiguous = gap <= sat(intervalUsec, slackUsec) && !silence
        if window.printed == 0 && !ambiguous {
            window.startUsec = ts
            if silence { unanchored = false }
            return
        }
        // The run whose status line the old window printed goes on in the new one.
        if isRecord { window.endsMovedOn = true }
        let carried = ambiguous ? sat(sat(window.printed, window.endCalls), window.carriedUsed) : 0
        if ambiguous { window.uncertain = true }
        close(refused: false)
        window = Window(startUsec: ts, uncertain: ambiguous, carriedUsed: carried)
        if ambiguous { unanchored = true } else if silence { unanchored = false }
    }

    /// Ends the open window; `refused`: its `N callbacks suppressed` was printed.
    private mutating func close(refused: Bool) {
        defer { closedWindows = sat(closedWindows, 1) }
        var w = window
        if unanchored { w.uncertain = true }
        guard isPerCall else { return }
        let ends = w.endCalls
        if refused {
            // It allowed exactly `burst` calls: the printed lines and the end calls.
            let fromBurst = burst >= w.printed ? burst - w.printed : nil
            if let e = fromBurst, !w.uncertain, e <= sat(ends, 1), sat(e, 1) >= ends {
                endCallsLow = sat(endCallsLow, e)
                endCallsHigh = sat(endCallsHigh, e)
            } else {
                uncertainWindows = sat(uncertainWindows, 1)
                let e = fromBurst ?? 0
                endCallsLow = sat(endCallsLow, min(ends &- (ends > 0 ? 1 : 0), e))
                endCallsHigh = sat(endCallsHigh, max(ends, e))
            }
        } else {
            // Nothing refused: every handler run it printed also had its end call allowed. More
            // than `burst` calls without a count means a lost line or a wrong boundary.
            if w.uncertain || sat(w.printed, ends) > burst || (w.beganMidRun && w.endsMovedOn && w.status == 0) {
                uncertainWindows = sat(uncertainWindows, 1)
                endCallsLow = sat(endCallsLow, ends &- (ends > 0 ? 1 : 0))
            } else {
                endCallsLow = sat(endCallsLow, ends)
            }
            endCallsHigh = sat(endCallsHigh, ends)
        }
    }

    // MARK: - Estimating

    /// The estimate for all units together (the ratelimit state is shared by all of them).
    public func total() -> Estimate {
        var reasons: [String] = []
        var exactCause = ""
        let printedRecords = units.values.reduce(unattributedRecords) { sat($0, $1.printedRecords) }
        let interrupts = units.values.reduce(UInt64(0)) { sat($0, $1.interrupts) }
        let activeUnits = units.values.filter { $0.interrupts > 0 || $0.printedRecords > 0 }.count
        // Each interrupt whose status showed no PPF ran no record loop: no record, no end call.
        let recordInterrupts = interrupts &- min(interrupts, statusWithoutPPF)
        // P3: every fault interrupt drained at least one record, and a unit has at least what it
        // printed: the least the interrupts and the records seen allow.
        let floor = floors().values.reduce(0, sat)
        var value: UInt64
        var lower: UInt64
        var upper: UInt64?
        var exact: Bool
        var uncertainOpen: UInt64 = 0

        switch shape {
        case .unlimited:
            value = printedRecords
            lower = printedRecords
            upper = printedRecords
            exact = true
            exactCause = "exact: this kernel prints every fault record (no ratelimit before v4.7)"
            if floor > printedRecords {
                reasons.append(
                    "\(recordInterrupts) fault interrupts but \(printedRecords) records in the log (lines not read yet?)"
                )
                exact = false
                upper = nil
            }

        case .perInterrupt:
            // One call per handler run: runs printed = status lines, the rest were refused whole.
            let refusedRuns = interrupts &- min(interrupts, printedStatus)
            value = sat(printedRecords, refusedRuns)
            lower = value
            upper = refusedRuns == 0 ? printedRecords : nil
            exact = refusedRuns == 0
            exactCause = "exact: every fault interrupt's records were printed (v4.7-v4.18 ratelimit per interrupt)"
            if refusedRuns > 0 {
                reasons.append(
                    "\(refusedRuns) fault interrupts were refused whole by the v4.7-v4.18 ratelimit: at least one record each, how many more is not said"
                )
            }

        case .perCall, .perCallCountsContention:
            // The open window: below `burst` calls it refused nothing; at `burst` it may have.
            let w = window
            let used = sat(w.printed, w.endCalls)
            let pendingPossible = sat(used, w.carriedUsed) >= burst || unanchored
            let openEnds = used >= burst ? min(w.endCalls, burst &- min(burst, w.printed)) : w.endCalls
            let openUncertain = w.uncertain || unanchored
            let openLow = openUncertain ? min(openEnds, w.endCalls &- min(w.endCalls, 1)) : openEnds
            if openUncertain && openLow != openEnds { uncertainOpen = 1 }
            let callsLow = sat(sat(sat(printedStatus, printedRecords), sat(endCallsLow, openLow)), reportedSuppressed)
            let callsHigh = sat(
                sat(sat(printedStatus, printedRecords), sat(endCallsHigh, openEnds)), reportedSuppressed)
            // records = calls − status calls − end calls; status calls = interrupts, end calls =
            // interrupts − runs without PPF.
            let twoI = sat(interrupts, recordInterrupts)
            let fromCallsLow = callsLow &- min(callsLow, twoI)
            let fromCallsHigh = callsHigh &- min(callsHigh, twoI)
            lower = max(printedRecords, fromCallsLow)
            value = max(
                printedRecords,
                fromCallsHigh == fromCallsLow ? fromCallsLow : fromCallsLow + (fromCallsHigh - fromCallsLow) / 2)
            upper = max(printedRecords, fromCallsHigh)
            exact = fromCallsLow == fromCallsHigh
            exactCause =
                "exact: every ratelimit window's suppressed count is in (or none was due), and each fault interrupt cost a status call, its records and an end call (v4.19+ dmar_fault)"
            if !exact {
                reasons.append(
                    "\(uncertainWindows + uncertainOpen) ratelimit window(s) with an uncertain boundary (no timestamp, a gap within \(slackUsec / 1000) ms of the \(intervalUsec / 1_000_000) s interval, or a line missing): +/- one end call each"
                )
            }
            if fromCallsHigh < floor {
                // Fewer records than interrupts that carry one: interrupts the log does not explain.
                if pendingPossible {
                    reasons.append(
                        "the last ratelimit window refused calls whose count is not printed yet (it comes with the next fault at least 5 s after the window began, or never): the value takes one record per fault interrupt, there may be more"
                    )
                } else {
                    reasons.append(
                        "\(floor - fromCallsHigh) fault interrupt(s) not explained by the log yet (their lines not read, or interrupts without a record): the value takes one record per fault interrupt"
                    )
                }
                upper = nil
                exact = false
            } else if pendingPossible && unanchored {
                reasons.append(
                    "a window boundary fell within \(slackUsec / 1000) ms of the interval (or a line had no timestamp): until the next suppressed count or a silence of more than the interval, a window may have run out of calls and its count may be pending"
                )
                upper = nil
                exact = false
            } else if pendingPossible {
                reasons.append(
                    "the last ratelimit window used all its \(burst) calls and its suppressed count is not printed yet (it comes with the next fault at least 5 s after the window began, or never)"
                )
                upper = nil
                exact = false
            }
            if shape == .perCall && activeUnits > 1 {
                reasons.append(
                    "\(activeUnits) units fault: before v6.16 a call that meets another unit's handler inside the shared ratelimit is refused without being counted"
                )
                upper = nil
                exact = false
            }
            if shapeMismatch {
                reasons.append(
                    "a window printed more status lines than v4.19+ allows (\(burst / 3 + 1)): the kernel looks like v4.7-v4.18 (ratelimit per interrupt)"
                )
                upper = nil
                exact = false
            }
        }

        if lostRecords > 0 {
            reasons.append("\(lostRecords) kmsg record(s) were never read (ring overrun or gap)")
            upper = nil
            exact = false
        }
        if overflows > 0 {
            reasons.append(
                "\(overflows) status line(s) with PFO: the hardware dropped faults it could not record, in any number")
            upper = nil
            exact = false
        }
        value = max(value, floor)
        lower = max(lower, floor)
        if let u = upper, u < floor {
            reasons.append("more fault interrupts than the records the log allows: lines not read yet, or P3 fails")
            upper = nil
            exact = false
        }
        if let u = upper {
            upper = max(u, value)
        }
        lower = min(lower, value)
        return Estimate(
            value: value, lower: lower, upper: upper, exact: exact,
            condition: exact ? exactCause : reasons.joined(separator: "; "))
    }

    /// Per unit (`dmarN`; `unknown` for records no unit was named for while several units exist).
    /// The shared total is split by interrupts: a unit has at least one record per fault interrupt
    /// (and at least what it printed); what the total has beyond that is given out in proportion
    /// to the units' interrupts, so the split is exact only when there is nothing beyond.
    public func estimates() -> [String: Estimate] {
        let t = total()
        let buckets = self.buckets()
        let names = buckets.keys.sorted()
        if names.count == 1 { return [names[0]: t] }
        if names.isEmpty { return [:] }
        let lowers = floors()
        let sumLower = lowers.values.reduce(0, sat)
        let surplus = t.value &- min(t.value, sumLower)
        // Largest remainder, by interrupts (by printed records when no unit had an interrupt).
        let weights = names.map { buckets[$0]!.interrupts }
        let w = weights.reduce(0, sat) > 0 ? weights : names.map { buckets[$0]!.printedRecords }
        let share = apportion(surplus, weights: w)
        var out: [String: Estimate] = [:]
        for (i, n) in names.enumerated() {
            let lo = lowers[n]!
            let othersLower = sumLower &- lo
            let up = t.upper.map { max(lo, $0 &- min($0, othersLower)) }
            let value = sat(lo, share[i])
            let exact = t.exact && surplus == 0
            let condition: String
            if exact {
                condition = t.condition + "; one record per fault interrupt in every unit, so the split is exact"
            } else if t.exact {
                condition =
                    "the total is exact, but \(surplus) record(s) beyond one per interrupt cannot be told apart by unit (the ratelimit state is shared): split by interrupts"
            } else {
                condition = t.condition + "; split by interrupts across \(names.count) units"
            }
            out[n] = Estimate(
                value: min(value, up ?? value), lower: min(lo, value), upper: up, exact: exact, condition: condition)
        }
        return out
    }

    /// The units, with the records no unit was named for given to the only unit there is, or to
    /// `unknown` when there are several.
    func buckets() -> [String: UnitCounts] {
        var b = units
        guard unattributedRecords > 0 else { return b }
        if units.count == 1, let only = units.keys.first {
            b[only]!.printedRecords = sat(b[only]!.printedRecords, unattributedRecords)
        } else {
            b["unknown", default: UnitCounts()].printedRecords = unattributedRecords
        }
        return b
    }

    /// Per unit, the fewest records it can have had: what it printed, and (P3) one per fault
    /// interrupt. Runs without PPF are not attributable to a unit: with any, interrupts bound
    /// only the total.
    func floors() -> [String: UInt64] {
        let b = buckets()
        var out: [String: UInt64] = [:]
        if statusWithoutPPF == 0 {
            for (n, u) in b { out[n] = max(u.printedRecords, u.interrupts) }
        } else {
            for (n, u) in b { out[n] = u.printedRecords }
            let interrupts = units.values.reduce(UInt64(0)) { sat($0, $1.interrupts) }
            let printed = out.values.reduce(0, sat)
            let extra = interrupts &- min(interrupts, statusWithoutPPF)
            if extra > printed { out["unknown", default: 0] = sat(out["unknown"] ?? 0, extra - printed) }
        }
        return out
    }

    /// `total` in integers proportional to `weights` (largest remainder, ties to the first).
    func apportion(_ total: UInt64, weights: [UInt64]) -> [UInt64] {
        let sum = weights.reduce(0, sat)
        guard sum > 0, total > 0 else {
            var out = [UInt64](repeating: 0, count: weights.count)
            if !out.isEmpty { out[0] = total }
            return out
        }
        var out: [UInt64] = []
        var rema: [(UInt64, Int)] = []
        var given: UInt64 = 0
        for (i, wt) in weights.enumerated() {
            let (hi, lo) = total.multipliedFullWidth(by: wt)
            let (q, r) = sum.dividingFullWidth((hi, lo))
            out.append(q)
            given = sat(given, q)
            rema.append((r, i))
        }
        var left = total &- min(total, given)
        for (_, i) in rema.sorted(by: { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }) where left > 0 {
            out[i] = sat(out[i], 1)
            left -= 1
        }
        return out
    }
}

/// Saturating addition: counts from the kernel are never trusted not to overflow.
@inline(__always)
private func sat(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (r, o) = a.addingReportingOverflow(b)
    return o ? .max : r
}
