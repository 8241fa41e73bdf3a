extension DMARFaultEstimator {
    public mutating func observe(_ o: Observation) {
        switch o {
        case .statusLine(let status, let ts):
            line(ts: ts, isRecord: false)
            printedStatus = satAdd(printedStatus, 1)
            window.printed = satAdd(window.printed, 1)
            window.status = satAdd(window.status, 1)
            if let status {
                if status & 0x1 != 0 { overflows = satAdd(overflows, 1) }
                if status & 0x2 == 0 {
                    statusWithoutPPF = satAdd(statusWithoutPPF, 1)
                    window.statusWithoutPPF = satAdd(window.statusWithoutPPF, 1)
                }
            }
            if isPerCall && !window.uncertain && window.status &- window.statusWithoutPPF > burst / 3 + 1 {
                shapeMismatch = true
            }
        case .record(let unit, let ts):
            line(ts: ts, isRecord: true)
            if window.printed == 0 { window.beganMidRun = true }
            window.printed = satAdd(window.printed, 1)
            if let unit, units[unit] != nil || units.count < Self.unitLimit {
                units[unit, default: UnitCounts()].printedRecords = satAdd(units[unit]?.printedRecords ?? 0, 1)
            } else {
                unattributedRecords = satAdd(unattributedRecords, 1)
            }
        case .suppressed(let count, let ts):
            reportedSuppressed = satAdd(reportedSuppressed, count)
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
            interruptsCounted = true
            guard units[unit] != nil || units.count < Self.unitLimit else { return }
            units[unit, default: UnitCounts()].interrupts = max(units[unit]?.interrupts ?? 0, total)
        case .lost(let n):
            lostRecords = satAdd(lostRecords, n)
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
        let silence = lastLineUsec.map { ts > $0 && ts - $0 > satAdd(intervalUsec, slackUsec) } ?? false
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
        let ambiguous = gap <= satAdd(intervalUsec, slackUsec) && !silence
        if window.printed == 0 && !ambiguous {
            window.startUsec = ts
            if silence { unanchored = false }
            return
        }
        // The run whose status line the old window printed goes on in the new one.
        if isRecord { window.endsMovedOn = true }
        let carried = ambiguous ? satAdd(satAdd(window.printed, window.endCalls), window.carriedUsed) : 0
        if ambiguous { window.uncertain = true }
        close(refused: false)
        window = Window(startUsec: ts, uncertain: ambiguous, carriedUsed: carried)
        if ambiguous { unanchored = true } else if silence { unanchored = false }
    }

    /// Ends the open window; `refused`: its `N callbacks suppressed` was printed.
    private mutating func close(refused: Bool) {
        defer { closedWindows = satAdd(closedWindows, 1) }
        var w = window
        if unanchored { w.uncertain = true }
        guard isPerCall else { return }
        let ends = w.endCalls
        if refused {
            // It allowed exactly `burst` calls: the printed lines and the end calls.
            let fromBurst = burst >= w.printed ? burst - w.printed : nil
            if let e = fromBurst, !w.uncertain, e <= satAdd(ends, 1), satAdd(e, 1) >= ends {
                endCallsLow = satAdd(endCallsLow, e)
                endCallsHigh = satAdd(endCallsHigh, e)
            } else {
                uncertainWindows = satAdd(uncertainWindows, 1)
                let e = fromBurst ?? 0
                endCallsLow = satAdd(endCallsLow, min(ends &- (ends > 0 ? 1 : 0), e))
                endCallsHigh = satAdd(endCallsHigh, max(ends, e))
            }
        } else {
            // Nothing refused: every handler run it printed also had its end call allowed. More
            // than `burst` calls without a count means a lost line or a wrong boundary.
            if w.uncertain || satAdd(w.printed, ends) > burst || (w.beganMidRun && w.endsMovedOn && w.status == 0) {
                uncertainWindows = satAdd(uncertainWindows, 1)
                endCallsLow = satAdd(endCallsLow, ends &- (ends > 0 ? 1 : 0))
            } else {
                endCallsLow = satAdd(endCallsLow, ends)
            }
            endCallsHigh = satAdd(endCallsHigh, ends)
        }
    }
}
