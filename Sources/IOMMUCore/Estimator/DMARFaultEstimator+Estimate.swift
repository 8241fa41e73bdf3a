extension DMARFaultEstimator {
    /// The estimate for all units together (the ratelimit state is shared by all of them).
    public func total() -> Estimate {
        var reasons: [String] = []
        var exactCause = ""
        let printedRecords = units.values.reduce(unattributedRecords) { satAdd($0, $1.printedRecords) }
        let interrupts = units.values.reduce(UInt64(0)) { satAdd($0, $1.interrupts) }
        let activeUnits = units.values.filter { $0.interrupts > 0 || $0.printedRecords > 0 }.count
        // Each interrupt whose status showed no PPF ran no record loop: no record, no end call.
        let recordInterrupts = interrupts &- min(interrupts, statusWithoutPPF)
        // P3: every fault interrupt drained at least one record, and a unit has at least what it
        // printed: the least the interrupts and the records seen allow.
        let floor = floors().values.reduce(0, satAdd)
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
            // One call per handler run: runs printed = status lines, the rest were refused whole
            // (without interrupt counts: N counts them, once every window's N is printed).
            let refusedRuns =
                interruptsCounted ? interrupts &- min(interrupts, printedStatus) : reportedSuppressed
            value = satAdd(printedRecords, refusedRuns)
            lower = value
            upper = refusedRuns == 0 ? printedRecords : nil
            exact = refusedRuns == 0
            exactCause = "exact: every fault interrupt's records were printed (v4.7-v4.18 ratelimit per interrupt)"
            if refusedRuns > 0 {
                reasons.append(
                    "\(refusedRuns) fault interrupts were refused whole by the v4.7-v4.18 ratelimit: at least one record each, how many more is not said"
                )
            }
            if !interruptsCounted && (window.status >= burst || unanchored) {
                reasons.append(
                    "no fault interrupt counts, and the last ratelimit window used all its \(burst) calls: its suppressed count is not printed yet"
                )
                upper = nil
                exact = false
            }

        case .perCall, .perCallCountsContention:
            // The open window: below `burst` calls it refused nothing; at `burst` it may have.
            let w = window
            let used = satAdd(w.printed, w.endCalls)
            let pendingPossible = satAdd(used, w.carriedUsed) >= burst || unanchored
            let openEnds = used >= burst ? min(w.endCalls, burst &- min(burst, w.printed)) : w.endCalls
            let openUncertain = w.uncertain || unanchored
            let openLow = openUncertain ? min(openEnds, w.endCalls &- min(w.endCalls, 1)) : openEnds
            if openUncertain && openLow != openEnds { uncertainOpen = 1 }
            let callsLow = satAdd(
                satAdd(satAdd(printedStatus, printedRecords), satAdd(endCallsLow, openLow)), reportedSuppressed)
            let callsHigh = satAdd(
                satAdd(satAdd(printedStatus, printedRecords), satAdd(endCallsHigh, openEnds)), reportedSuppressed)
            // records = calls − status calls − end calls; status calls = interrupts, end calls =
            // interrupts − runs without PPF.
            let twoI = satAdd(interrupts, recordInterrupts)
            var fromCallsLow = callsLow &- min(callsLow, twoI)
            var fromCallsHigh = callsHigh &- min(callsHigh, twoI)
            var middle = fromCallsLow + (fromCallsHigh - fromCallsLow) / 2
            if !interruptsCounted {
                // Without interrupt counts, every printed status line is still an interrupt, and
                // (P3) each interrupt with PPF drained at least one record: calls = 2I + R with
                // R ≥ I when every status line had PPF, so R ≥ calls / 3 — equal to it when each
                // interrupt drained one record, the common case, which the value takes.
                let minI = satAdd(printedStatus, printedStatus &- min(printedStatus, statusWithoutPPF))
                let allPPF = statusWithoutPPF == 0
                fromCallsHigh = callsHigh &- min(callsHigh, minI)
                fromCallsLow = allPPF ? callsLow / 3 + (callsLow % 3 == 0 ? 0 : 1) : 0
                let meanCalls = callsLow / 2 + callsHigh / 2 + (callsLow % 2 & callsHigh % 2)
                middle = allPPF ? meanCalls / 3 + (meanCalls % 3 == 2 ? 1 : 0) : fromCallsLow
                if reportedSuppressed != 0 || pendingPossible {
                    reasons.append(
                        "no fault interrupt counts (a saved log has none, or /proc/interrupts has no dmar row): the value takes one record per fault interrupt, the common case; the bounds hold whatever the split"
                    )
                }
            }
            if reportedSuppressed == 0 && !pendingPossible {
                // Nothing was refused: every record is in the log (what the interrupts say beyond
                // it is checked against the floor below).
                fromCallsLow = printedRecords
                fromCallsHigh = printedRecords
                middle = printedRecords
            }
            lower = max(printedRecords, fromCallsLow)
            value = max(printedRecords, min(max(middle, fromCallsLow), fromCallsHigh))
            upper = max(printedRecords, fromCallsHigh)
            exact = fromCallsLow == fromCallsHigh
            exactCause =
                "exact: every ratelimit window's suppressed count is in (or none was due), and each fault interrupt cost a status call, its records and an end call (v4.19+ dmar_fault)"
            if !exact && (interruptsCounted || uncertainWindows + uncertainOpen > 0) {
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

        if startedLate {
            reasons.append(
                "the estimate began after this boot's first fault lines were counted (a checkpoint of an older iommud): what came before is not in it"
            )
            upper = nil
            exact = false
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
        let sumLower = lowers.values.reduce(0, satAdd)
        let surplus = t.value &- min(t.value, sumLower)
        // Largest remainder, by interrupts (by printed records when no unit had an interrupt).
        let weights = names.map { buckets[$0]!.interrupts }
        let w = weights.reduce(0, satAdd) > 0 ? weights : names.map { buckets[$0]!.printedRecords }
        let share = apportion(surplus, weights: w)
        var out: [String: Estimate] = [:]
        for (i, n) in names.enumerated() {
            let lo = lowers[n]!
            let othersLower = sumLower &- lo
            let up = t.upper.map { max(lo, $0 &- min($0, othersLower)) }
            let value = satAdd(lo, share[i])
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
            b[only]!.printedRecords = satAdd(b[only]!.printedRecords, unattributedRecords)
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
            let interrupts = units.values.reduce(UInt64(0)) { satAdd($0, $1.interrupts) }
            let printed = out.values.reduce(0, satAdd)
            let extra = interrupts &- min(interrupts, statusWithoutPPF)
            if extra > printed { out["unknown", default: 0] = satAdd(out["unknown"] ?? 0, extra - printed) }
        }
        return out
    }

    /// `total` in integers proportional to `weights` (largest remainder, ties to the first).
    func apportion(_ total: UInt64, weights: [UInt64]) -> [UInt64] {
        let sum = weights.reduce(0, satAdd)
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
            given = satAdd(given, q)
            rema.append((r, i))
        }
        var left = total &- min(total, given)
        for (_, i) in rema.sorted(by: { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }) where left > 0 {
            out[i] = satAdd(out[i], 1)
            left -= 1
        }
        return out
    }
}
