/// `iommud status` and the summary of `iommud replay`: the report as text for a person. Every
/// value that comes from outside — kernel text, device and driver names — goes through
/// `terminalSafe`, so a line a process crafted cannot move the admin's cursor or recolour the
/// terminal.
extension StatusReport {
    public func text() -> String {
        var out = ByteSink(capacity: 1024 + 160 * ledger.devices.count)
        text(into: &out)
        return out.string
    }

    public func text(into out: inout ByteSink) {
        if let d = daemon {
            let up = CivilTime.duration(seconds: (d.nowRealtimeUsec - d.startedRealtimeUsec) / 1_000_000)
            out.append("iommud \(d.version) — pid \(d.pid), up \(up)")
            if let seq = ledger.lastSeq { out.append(", kmsg seq \(seq)") }
            if !d.ready { out.append(" (still reading the ring buffer backlog)") }
            out.append("\n")
        }
        platformSection(into: &out)
        if !units.isEmpty {
            out.append("\nUnits\n")
            var t = TextTable([
                "UNIT", "VENDOR", "CAP/ECAP", "FAULTS", "NON-REC", "REC", "IRQS", "SUPPRESSED", "FAULTS THAT HAPPENED",
            ])
            for u in units {
                let cap = [u.unit?.cap, u.unit?.ecap].compactMap { $0 }.joined(separator: "/")
                t.add([
                    u.name, u.vendor?.rawValue ?? "-", cap.isEmpty ? "-" : cap, String(u.logged),
                    String(u.nonRecoverable), String(u.recoverable), String(u.interrupts), String(u.suppressed),
                    boundsText(u),
                ])
            }
            t.render(into: &out)
            expectedUnitsNote(into: &out)
            estimateSection(into: &out)
        }
        out.append("\nDevices with faults")
        if ledger.devices.isEmpty {
            out.append(": none\n")
        } else {
            out.append("\n")
            var t = TextTable([
                "DEVICE", "NAME/DRIVER", "GROUP", "UNIT", "FAULTS", "NON-REC", "REC", "LAST FAULT", "TOP REASON",
            ])
            for d in sortedDevices { t.add(deviceRow(d)) }
            t.render(into: &out)
        }
        if ledger.overflowFaults > 0 {
            out.append(
                "  …and \(ledger.overflowFaults) faults of further devices, counted under device \"\(FaultLedger.overflowDevice)\" (more than \(ledger.deviceLimit) devices faulted)\n"
            )
        }
        expectedSection(into: &out)
        if daemon != nil { stormSection(into: &out) }
        lossSection(into: &out)
        if let t = lifetime {
            out.append("\nLifetime (\(t.previousBoots) boot\(t.previousBoots == 1 ? "" : "s") including this one")
            if let since = t.sinceUsec { out.append(", since " + CivilTime.iso8601(unixSeconds: since / 1_000_000)) }
            out.append("): \(t.faults) faults (\(t.nonRecoverable) non-recoverable, \(t.recoverable) recoverable), ")
            out.append("\(t.lostRecords) kmsg records lost, \(t.suppressed) messages suppressed\n")
        }
        out.append("\nUnparsed IOMMU lines: \(ledger.unparsed.values.saturatingSum())\n")
        for u in ledger.recentUnparsed.suffix(5) {
            let text = u.text.split(separator: "\n").joined(separator: " ⏎ ")
            out.append("  " + (u.seq.map { "[\($0)] " } ?? "") + terminalSafe(text) + "\n")
        }
    }

    func platformSection(into out: inout ByteSink) {
        out.append("Platform: IOMMU \(platform.mode)")
        if !platform.vendors.isEmpty {
            out.append(" (" + platform.vendors.map(Self.displayName).joined(separator: ", ") + ")")
        }
        out.append(" — \(platform.why)\n")
        if platform.mode == "off" {
            out.append("  " + PlatformSummary.enableAdvice + "\n")
            return
        }
        out.append(
            "  \(platform.units) unit\(platform.units == 1 ? "" : "s"), \(platform.groups) group\(platform.groups == 1 ? "" : "s"), \(platform.devices) device\(platform.devices == 1 ? "" : "s") behind an IOMMU"
        )
        if let ir = platform.interruptRemapping { out.append(", interrupt remapping \(terminalSafe(ir))") }
        out.append("\n")
        for r in platform.rmrr { out.append("  RMRR \(hex0x(r.start))–\(hex0x(r.end)) (DMA here is firmware's)\n") }
    }

    func stormSection(into out: inout ByteSink) {
        out.append("\nFault storms")
        guard !storms.isEmpty else {
            out.append(": none\n")
            return
        }
        out.append("\n")
        var t = TextTable(["DEVICE", "UNIT", "FAULTS SINCE IT BEGAN", "FOR"])
        let now = storms.map(\.lastFaultUsec).max() ?? 0
        for st in storms {
            let seconds = Int64(clamping: (max(now, st.lastFaultUsec) - st.beganUsec) / 1_000_000)
            t.add([st.device, st.unit ?? "-", String(st.total.faults), CivilTime.duration(seconds: seconds)])
        }
        t.render(into: &out)
    }

    func lossSection(into out: inout ByteSink) {
        out.append("\nLosses\n")
        let lostKind = ledger.lostRecords == 0 ? "exact" : "exact count of records; their content unknown"
        out.append("  kmsg records never seen by the daemon: \(ledger.lostRecords) (\(lostKind))\n")
        for l in ledger.losses {
            let after = l.afterSeq.map { "seq \($0)" } ?? "the start of this boot"
            out.append("    records lost between \(after) and seq \(l.beforeSeq): \(l.count)\n")
        }
        if ledger.suppressed.isEmpty {
            out.append("  suppressed by the kernel ratelimit: none\n")
        } else {
            let parts = ledger.suppressed.sorted { $0.key < $1.key }.map { "\(terminalSafe($0.key)) \($0.value)" }
            out.append(
                "  suppressed by the kernel ratelimit (messages, not faults): " + parts.joined(separator: ", ") + "\n")
        }
        if !ledger.overflows.isEmpty {
            let parts = ledger.overflows.sorted { $0.key < $1.key }.map {
                "\(terminalSafe($0.key.unit)) \($0.key.log) log ×\($0.value)"
            }
            out.append(
                "  hardware queue overflows (faults lost, count unknown): " + parts.joined(separator: ", ") + "\n")
        }
        if !ledger.unitErrors.isEmpty {
            let parts = ledger.unitErrors.sorted { $0.key < $1.key }.map {
                "\(terminalSafe($0.key.unit)) \($0.key.what) ×\($0.value)"
            }
            out.append("  unit errors: " + parts.joined(separator: ", ") + "\n")
        }
        if ledger.malformedRecords > 0 || ledger.oversizedRecords > 0 {
            out.append(
                "  input skipped: \(ledger.malformedRecords) lines that are not kernel records, \(ledger.oversizedRecords) over the size limit\n"
            )
        }
    }

    /// One row of the devices table.
    func deviceRow(_ d: DeviceSummary) -> [String] {
        var row = [d.device]
        if let topo = topologyDevice(d.device) {
            var name = [topo.name, topo.driver.map { "[\($0)]" }].compactMap { $0 }.joined(separator: " ")
            if topo.gone { name += " (gone)" }
            row += [name.isEmpty ? "-" : name, topo.group.map(String.init) ?? "-"]
        } else {
            row += ["-", "-"]
        }
        row += [d.unit, String(d.total), String(d.nonRecoverable), String(d.recoverable)]
        if let f = d.lastFault {
            var last = d.lastFaultRealtimeUsec.map { CivilTime.iso8601(unixSeconds: $0 / 1_000_000) + " " } ?? ""
            last += f.kind.rawValue
            if let a = f.address { last += " " + hex0x(a) }
            row.append(last)
        } else {
            row.append("-")
        }
        if let r = d.topReason {
            var top = r.reason
            if d.vendor == .intel, let code = UInt16(r.reason.dropFirst(2), radix: 16) {
                let text = IntelFaultReasons.text(for: code)
                if !text.isEmpty { top += " " + text }
            }
            row.append(top + " (\(r.count))")
        } else {
            row.append(d.lastFault?.reasonText ?? "-")
        }
        return row
    }

    /// The faults behind the kernel's ratelimit, per family: Intel's model of `dmar_fault()` (once
    /// for the shared ratelimit, then per unit), AMD-Vi and SMMUv3 per unit (logged + Σ N); why
    /// each figure is exact or how far it can be off.
    func estimateSection(into out: inout ByteSink) {
        func figure(_ e: DMARFaultEstimator.Estimate) -> String {
            if e.exact { return "exactly \(e.value)" }
            return "about \(e.value) (at least \(e.lower), " + (e.upper.map { "at most \($0)" } ?? "no upper bound")
                + ")"
        }
        let intel = units.compactMap { u in u.vendor == .intel ? u.estimate.map { (u.name, $0) } : nil }
        // Nothing to estimate (no Intel fault, no fault interrupt): no section.
        if intel.contains(where: { !$0.1.exact || $0.1.value > 0 }) {
            out.append("\nIntel fault records behind the kernel's ratelimit (estimate)\n")
            if intel.count == 1, let (name, e) = intel.first {
                out.append("  \(terminalSafe(name)): \(figure(e))\n    \(e.condition)\n")
            } else {
                let total = ledger.dmarEstimator.total()
                out.append("  all units (one ratelimit): \(figure(total))\n    \(total.condition)\n")
                for (name, e) in intel where e.value > 0 { out.append("  \(terminalSafe(name)): \(figure(e))\n") }
            }
        }
        for vendor in [Vendor.amd, .armSMMUv3] {
            let rows = units.compactMap { u in u.vendor == vendor ? u.estimate.map { (u.name, $0) } : nil }
            // Only worth a section when the ratelimit hid something, or may have.
            guard !rows.isEmpty, rows.contains(where: { !$0.1.exact }) || ledger.eventSuppressed(vendor).events > 0
            else { continue }
            out.append("\n\(Self.displayName(vendor)) events behind the kernel's ratelimit (logged + suppressed)\n")
            for (name, e) in rows { out.append("  \(terminalSafe(name)): \(figure(e))\n    \(e.condition)\n") }
        }
    }

    func boundsText(_ u: UnitStatus) -> String {
        let happened = u.lower.value ?? u.logged
        if u.lower.kind == "exact" { return "exactly \(happened)" }
        let upper = u.upper.value.map { "≤ \($0) (upper)" } ?? "unbounded (\(u.upper.why ?? "overflow"))"
        return "≥ \(happened) (lower), \(upper)"
    }

    /// A family's name for people (`Intel VT-d`), from its descriptor.
    static func displayName(_ v: Vendor) -> String {
        FamilyCatalog.standard.descriptor(of: v)?.displayName ?? v.rawValue
    }
}

/// Left-aligned columns, two spaces apart. Cells are made terminal-safe.
public struct TextTable: Sendable {
    var rows: [[String]] = []
    var widths: [Int]

    public init(_ header: [String]) {
        widths = [Int](repeating: 0, count: header.count)
        add(header)
    }

    /// A whole row; missing cells are empty, extra ones are dropped.
    public mutating func add(_ row: [String]) {
        let cells = (0..<widths.count).map { i in i < row.count ? terminalSafe(row[i]) : "" }
        for (i, c) in cells.enumerated() { widths[i] = max(widths[i], c.unicodeScalars.count) }
        rows.append(cells)
    }

    public func render() -> String {
        var out = ByteSink()
        render(into: &out)
        return out.string
    }

    public func render(into out: inout ByteSink) {
        for row in rows {
            out.append("  " as StaticString)
            for (i, cell) in row.enumerated() {
                out.append(cell)
                if i < row.count - 1 {
                    out.append(repeating: 0x20, count: widths[i] - cell.unicodeScalars.count + 2)
                }
            }
            out.append(0x0a)
        }
    }
}

/// `s` with every character a terminal would act on — C0 controls (tab and newline included),
/// DEL, the C1 range (U+0080–U+009F, CSI among them) — written as `\xNN` / `\u{NN}`, as
/// /dev/kmsg itself escapes them.
public func terminalSafe(_ s: String) -> String {
    guard s.unicodeScalars.contains(where: isTerminalControl) else { return s }
    var out = ""
    out.reserveCapacity(s.utf8.count + 8)
    for u in s.unicodeScalars {
        if isTerminalControl(u) {
            out +=
                u.value < 0x80 ? "\\x" + hex(UInt64(u.value), width: 2) : "\\u{" + hex(UInt64(u.value), width: 2) + "}"
        } else {
            out.unicodeScalars.append(u)
        }
    }
    return out
}

func isTerminalControl(_ u: Unicode.Scalar) -> Bool {
    u.value < 0x20 || (u.value >= 0x7f && u.value < 0xa0)
}
