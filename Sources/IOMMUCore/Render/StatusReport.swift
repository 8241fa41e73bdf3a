/// Facts about the running daemon for `status` (absent for `replay`).
public struct DaemonInfo: Sendable, Equatable {
    public var version: String
    public var pid: Int32
    public var startedRealtimeUsec: Int64
    public var nowRealtimeUsec: Int64
    public var bootID: String?
    public var kmsgPath: String
    /// Wall time of the last successful checkpoint write.
    public var lastCheckpointRealtimeUsec: Int64?
    public var ready: Bool

    public init(
        version: String, pid: Int32, startedRealtimeUsec: Int64, nowRealtimeUsec: Int64, bootID: String?,
        kmsgPath: String, lastCheckpointRealtimeUsec: Int64?, ready: Bool
    ) {
        self.version = version
        self.pid = pid
        self.startedRealtimeUsec = startedRealtimeUsec
        self.nowRealtimeUsec = nowRealtimeUsec
        self.bootID = bootID
        self.kmsgPath = kmsgPath
        self.lastCheckpointRealtimeUsec = lastCheckpointRealtimeUsec
        self.ready = ready
    }
}

/// A figure and how much it can be trusted (ARCHITECTURE.md "Counting honestly").
public struct BoundedFigure: Sendable, Equatable {
    /// exact, lower, upper, unbounded.
    public var kind: String
    public var value: UInt64?
}

/// Per unit: faults logged, and the bounds on the faults that really happened.
public struct UnitStatus: Sendable, Equatable {
    public var name: String
    public var vendor: Vendor?
    public var logged: UInt64
    public var recoverable: UInt64
    public var nonRecoverable: UInt64
    public var interrupts: UInt64
    public var suppressed: UInt64
    public var overflowSeen: Bool
    public var lower: BoundedFigure
    public var upper: BoundedFigure
    public var unit: Topology.Unit?
}

/// Everything `iommud status` shows, computed from the ledger and the topology. `replay` uses
/// the same report without `DaemonInfo`.
public struct StatusReport: Sendable {
    public var daemon: DaemonInfo?
    public var ledger: FaultLedger
    public var topology: Topology
    public var platform: PlatformSummary
    public var units: [UnitStatus]
    /// Totals across boots including this one (daemon only: replay has no history).
    public var lifetime: LifetimeTotals?
    /// Devices in a fault storm now (StormTracker), for the daemon's status.
    public var storms: [StormTracker.Storm] = []

    public init(ledger: FaultLedger, topology: Topology, daemon: DaemonInfo?) {
        self.daemon = daemon
        self.ledger = ledger
        self.topology = topology
        self.platform = PlatformSummary(topology: topology, inventory: ledger.inventory)
        let perUnit = ledger.unitFaults()
        var names = Set(topology.units.keys).union(perUnit.keys)
        for k in ledger.interrupts.totals.keys { names.insert(k.unit) }
        var units: [UnitStatus] = []
        for name in names.sorted(by: { $0.compareNatural($1) }) {
            let u = topology.units[name]
            let counts = perUnit[name] ?? UnitFaults()
            // A unit sysfs does not know takes the vendor of most of its faults (`unknown` can
            // hold several vendors'); ties go to the first in `Vendor.allCases`.
            let vendor = u?.vendor ?? counts.mostFaultsVendor
            let logged = counts.recoverable + counts.nonRecoverable
            let suppressed = vendor.map { ledger.suppressed(for: $0) } ?? 0
            let overflow = vendor.map { ledger.overflowSeen(vendor: $0, unit: name) } ?? false
            let lost = ledger.lostRecords
            let exact = suppressed == 0 && !overflow && lost == 0
            let lower = BoundedFigure(kind: exact ? "exact" : "lower", value: logged)
            let upper: BoundedFigure
            if overflow {
                upper = BoundedFigure(kind: "unbounded", value: nil)
            } else {
                upper = BoundedFigure(kind: exact ? "exact" : "upper", value: logged + suppressed + lost)
            }
            units.append(
                UnitStatus(
                    name: name, vendor: vendor, logged: logged, recoverable: counts.recoverable,
                    nonRecoverable: counts.nonRecoverable, interrupts: ledger.interrupts.total(unit: name),
                    suppressed: suppressed, overflowSeen: overflow, lower: lower, upper: upper, unit: u))
        }
        self.units = units
    }

    /// The devices in report order: by fault count, then address — as positions in the ledger's
    /// table, so each summary is read where it lies, neither looked up again nor copied to be
    /// sorted (a replay of a large log ends with tens of thousands of devices).
    func sortedDevices() -> [Int] {
        var order: [(total: UInt64, device: String, index: Int)] = []
        order.reserveCapacity(ledger.devices.count)
        ledger.devices.values.withUnsafeBufferPointer { all in
            for i in all.indices { order.append((all[i].total, all[i].device, i)) }
        }
        order.sort { a, b in a.total != b.total ? a.total > b.total : a.device < b.device }
        return order.map(\.index)
    }

    // MARK: - JSON

    public func json() -> String {
        var w = JSONWriter()
        w.beginObject()
        if let d = daemon {
            w.beginObject("daemon")
            w.string("version", d.version)
            w.number("pid", Int64(d.pid))
            w.number("started_unix_usec", d.startedRealtimeUsec)
            w.number("uptime_seconds", (d.nowRealtimeUsec - d.startedRealtimeUsec) / 1_000_000)
            w.string("boot_id", d.bootID)
            w.string("kmsg", d.kmsgPath)
            w.number("last_checkpoint_unix_usec", d.lastCheckpointRealtimeUsec)
            w.bool("ready", d.ready)
            w.endObject()
        }
        w.beginObject("platform")
        w.string("mode", platform.mode)
        w.string("why", platform.why)
        w.bool("iommu_enabled", platform.enabled)
        w.beginArray("vendors")
        for v in platform.vendors { w.string(nil, v.rawValue) }
        w.endArray()
        w.number("units", platform.units)
        w.number("groups", platform.groups)
        w.number("devices", platform.devices)
        w.string("interrupt_remapping", platform.interruptRemapping)
        w.beginArray("rmrr")
        for r in platform.rmrr {
            w.beginObject()
            w.string("start", hex0x(r.start))
            w.string("end", hex0x(r.end))
            w.endObject()
        }
        w.endArray()
        if platform.mode == "off" { w.string("advice", PlatformSummary.enableAdvice) }
        w.endObject()
        w.beginArray("units")
        for u in units {
            w.beginObject()
            w.string("name", u.name)
            w.string("vendor", u.vendor?.rawValue)
            w.string("version", u.unit?.version)
            w.string("cap", u.unit?.cap)
            w.string("ecap", u.unit?.ecap)
            w.beginObject("faults")
            w.number("logged", u.logged)
            w.number("recoverable", u.recoverable)
            w.number("non_recoverable", u.nonRecoverable)
            w.endObject()
            w.number("interrupts", u.interrupts)
            w.number("suppressed", u.suppressed)
            w.bool("overflow_seen", u.overflowSeen)
            w.beginObject("bounds")
            for (k, b): (JSONKey, BoundedFigure) in [("lower", u.lower), ("upper", u.upper)] {
                w.beginObject(k)
                w.number("value", b.value)
                w.string("kind", b.kind)
                w.endObject()
            }
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.beginArray("devices")
        for i in sortedDevices() {
            let d = ledger.devices.values[i]
            let topo = topologyDevice(d.device)
            w.beginObject()
            w.string("device", d.device)
            w.string("unit", d.unit)
            w.string("group", topo?.group.map(String.init))
            w.string("name", topo?.name)
            w.string("driver", topo?.driver)
            w.bool("gone", topo?.gone ?? false)
            w.bool("storm", storms.contains { $0.device == d.device })
            w.number("faults", d.total)
            w.number("recoverable", d.recoverable)
            w.number("non_recoverable", d.nonRecoverable)
            w.beginObject("by_kind")
            for (k, n) in d.byKind.sorted(by: { $0.key < $1.key }) { w.number(JSONKey(k.rawValue), n) }
            w.endObject()
            w.string("top_reason", d.topReason?.reason)
            w.number("last_fault_unix_usec", d.lastFaultRealtimeUsec)
            if let f = d.lastFault {
                w.beginObject("last_fault")
                f.writeFields(into: &w)
                w.endObject()
            }
            w.endObject()
        }
        w.endArray()
        w.beginArray("storms")
        for st in storms {
            w.beginObject()
            w.string("device", st.device)
            w.string("unit", st.unit)
            w.number("began_ts_usec", st.beganUsec)
            w.number("last_fault_ts_usec", st.lastFaultUsec)
            w.number("faults", st.total.faults)
            w.number("summaries", st.summaries)
            w.endObject()
        }
        w.endArray()
        w.beginObject("kmsg")
        w.number("records", ledger.records)
        w.number("lost_records", ledger.lostRecords)
        w.number("last_seq", ledger.lastSeq)
        w.number("overruns", ledger.overruns)
        w.beginArray("losses")
        for l in ledger.losses {
            w.beginObject()
            w.number("after_seq", l.afterSeq)
            w.number("before_seq", l.beforeSeq)
            w.number("count", l.count)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        if let t = lifetime {
            w.beginObject("lifetime")
            w.number("boots", t.previousBoots)
            w.number("faults", t.faults)
            w.number("recoverable", t.recoverable)
            w.number("non_recoverable", t.nonRecoverable)
            w.number("lost_records", t.lostRecords)
            w.number("suppressed", t.suppressed)
            w.number("since_unix_usec", t.sinceUsec)
            w.endObject()
        }
        w.beginObject("suppressed")
        for (k, v) in ledger.suppressed.sorted(by: { $0.key < $1.key }) { w.number(JSONKey(k), v) }
        w.endObject()
        w.beginArray("overflows")
        for (k, v) in ledger.overflows.sorted(by: { $0.key < $1.key }) {
            w.beginObject()
            w.string("vendor", k.vendor.rawValue)
            w.string("unit", k.unit)
            w.string("log", k.log)
            w.number("count", v)
            w.endObject()
        }
        w.endArray()
        w.beginArray("unit_errors")
        for (k, v) in ledger.unitErrors.sorted(by: { $0.key < $1.key }) {
            w.beginObject()
            w.string("vendor", k.vendor.rawValue)
            w.string("unit", k.unit)
            w.string("what", k.what)
            w.number("count", v)
            w.endObject()
        }
        w.endArray()
        w.beginObject("unparsed")
        w.number("total", ledger.unparsed.values.reduce(0, +))
        w.beginObject("by_vendor")
        for (k, v) in ledger.unparsed.sorted(by: { $0.key < $1.key }) { w.number(JSONKey(k), v) }
        w.endObject()
        w.beginArray("recent")
        for u in ledger.recentUnparsed {
            w.beginObject()
            w.string("vendor", u.vendor?.rawValue)
            w.number("seq", u.seq)
            w.string("text", u.text)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        w.endObject()
        return w.output
    }

    // MARK: - Text

    public func text() -> String {
        var out = ByteSink()
        text(into: &out)
        return out.string
    }

    /// The text report, appended to `out`. `flush`, when given, gets `out` whenever it holds
    /// 64 KiB or more, to write out and empty: a large replay's device table (megabytes) is then
    /// never whole in memory.
    public func text(into out: inout ByteSink, flush: ((inout ByteSink) -> Void)? = nil) {
        if flush == nil { out.reserve(256 + 160 * ledger.devices.count) }
        if let d = daemon {
            let up = CivilTime.duration(seconds: (d.nowRealtimeUsec - d.startedRealtimeUsec) / 1_000_000)
            out.append("iommud \(d.version) — pid \(d.pid), up \(up)")
            if let seq = ledger.lastSeq { out.append(", kmsg seq \(seq)") }
            if !d.ready { out.append(" (still reading the ring buffer backlog)") }
            out.append("\n")
        }
        out.append("Platform: IOMMU \(platform.mode)")
        if !platform.vendors.isEmpty {
            out.append(" (" + platform.vendors.map(vendorName).joined(separator: ", ") + ")")
        }
        out.append(" — \(platform.why)\n")
        if platform.mode == "off" {
            out.append("  " + PlatformSummary.enableAdvice + "\n")
        } else {
            out.append(
                "  \(platform.units) unit\(platform.units == 1 ? "" : "s"), \(platform.groups) group\(platform.groups == 1 ? "" : "s"), \(platform.devices) device\(platform.devices == 1 ? "" : "s") behind an IOMMU"
            )
            if let ir = platform.interruptRemapping { out.append(", interrupt remapping \(ir)") }
            out.append("\n")
            for r in platform.rmrr { out.append("  RMRR \(hex0x(r.start))–\(hex0x(r.end)) (DMA here is firmware's)\n") }
        }
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
        }
        out.append("\nDevices with faults")
        if ledger.devices.isEmpty {
            out.append(": none\n")
        } else {
            out.append("\n")
            var t = TextTable(
                ["DEVICE", "NAME/DRIVER", "GROUP", "UNIT", "FAULTS", "NON-REC", "REC", "LAST FAULT", "TOP REASON"],
                rows: ledger.devices.count)
            // Rows are written in the ledger's order (its summaries, and their last faults, lie
            // in memory about in that order) and put out in the report's: each summary is read
            // once, in passing, instead of in a jump to wherever the next one lies.
            ledger.devices.values.withUnsafeBufferPointer { all in
                for i in all.indices { deviceRow(all.baseAddress! + i, into: &t) }
            }
            t.render(into: &out, rows: sortedDevices(), flush: flush)
        }
        if daemon != nil {
            out.append("\nFault storms")
            if storms.isEmpty {
                out.append(": none\n")
            } else {
                out.append("\n")
                var t = TextTable(["DEVICE", "UNIT", "FAULTS SINCE IT BEGAN", "FOR"])
                let now = storms.map(\.lastFaultUsec).max() ?? 0
                for st in storms {
                    t.add([
                        st.device, st.unit ?? "-", String(st.total.faults),
                        CivilTime.duration(seconds: Int64((max(now, st.lastFaultUsec) - st.beganUsec) / 1_000_000)),
                    ])
                }
                t.render(into: &out)
            }
        }
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
            let parts = ledger.suppressed.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            out.append(
                "  suppressed by the kernel ratelimit (messages, not faults): " + parts.joined(separator: ", ") + "\n")
        }
        if !ledger.overflows.isEmpty {
            let parts = ledger.overflows.sorted { $0.key < $1.key }.map {
                "\($0.key.unit) \($0.key.log) log ×\($0.value)"
            }
            out.append(
                "  hardware queue overflows (faults lost, count unknown): " + parts.joined(separator: ", ") + "\n")
        }
        if !ledger.unitErrors.isEmpty {
            let parts = ledger.unitErrors.sorted { $0.key < $1.key }.map {
                "\($0.key.unit) \($0.key.what) ×\($0.value)"
            }
            out.append("  unit errors: " + parts.joined(separator: ", ") + "\n")
        }
        if let t = lifetime {
            out.append("\nLifetime (\(t.previousBoots) boot\(t.previousBoots == 1 ? "" : "s") including this one")
            if let since = t.sinceUsec { out.append(", since " + CivilTime.iso8601(unixSeconds: since / 1_000_000)) }
            out.append("): \(t.faults) faults (\(t.nonRecoverable) non-recoverable, \(t.recoverable) recoverable), ")
            out.append("\(t.lostRecords) kmsg records lost, \(t.suppressed) messages suppressed\n")
        }
        let unparsedTotal = ledger.unparsed.values.reduce(0, +)
        out.append("\nUnparsed IOMMU lines: \(unparsedTotal)\n")
        for u in ledger.recentUnparsed.suffix(5) {
            out.append(
                "  " + (u.seq.map { "[\($0)] " } ?? "") + u.text.split(separator: "\n").joined(separator: " ⏎ ") + "\n")
        }
    }

    /// What sysfs says of a device that faulted (nothing without a topology: a replay's address
    /// is then not even parsed).
    func topologyDevice(_ device: String) -> Topology.Device? {
        topology.devices.isEmpty ? nil : PCIAddress(parsing: device).flatMap { topology.devices[$0] }
    }

    /// One row of the devices table, written into the table's buffer piece by piece. The
    /// summary is read where it lies in the ledger: passed as a value, each was copied first,
    /// retaining its strings and its last fault's box (tens of thousands in a large replay).
    func deviceRow(_ d: UnsafePointer<DeviceSummary>, into t: inout TextTable) {
        let top = DeviceSummary.topReason(d.pointee.firstSeries, d.pointee.moreSeries)
        t.cell(d.pointee.device)
        if let topo = topologyDevice(d.pointee.device) {
            var name = [topo.name, topo.driver.map { "[\($0)]" }].compactMap { $0 }.joined(separator: " ")
            if topo.gone { name += " (gone)" }
            t.cell(name.isEmpty ? "-" : name)
            t.cell(topo.group.map(String.init) ?? "-")
        } else {
            t.cell("-")
            t.cell("-")
        }
        t.cell(d.pointee.unit)
        t.cell(d.pointee.total)
        t.cell(d.pointee.nonRecoverable)
        t.cell(d.pointee.recoverable)
        let last = d.pointee.withLastFault { f in (kind: f.kind, address: f.address, reasonText: f.reasonText) }
        if let f = last {
            if let usec = d.pointee.lastFaultRealtimeUsec {
                t.append(CivilTime.iso8601(unixSeconds: usec / 1_000_000))
                t.append(" ")
            }
            t.append(f.kind.rawValue)
            if let a = f.address {
                t.append(" ")
                t.append(hex0x(a))
            }
            t.endCell()
        } else {
            t.cell("-")
        }
        if let r = top {
            t.append(r.reason)
            if d.pointee.vendor == .intel {
                let text = IntelFaultReasons.text(for: UInt16(r.reason.dropFirst(2), radix: 16) ?? 0)
                if !text.isEmpty {
                    t.append(" ")
                    t.append(text)
                }
            }
            t.append(" (")
            t.append(r.count)
            t.append(")")
            t.endCell()
        } else {
            t.cell(last?.reasonText ?? "-")
        }
    }

    func boundsText(_ u: UnitStatus) -> String {
        if u.lower.kind == "exact" { return "exactly \(u.logged)" }
        let upper = u.upper.value.map { "≤ \($0) (upper)" } ?? "unbounded (overflow)"
        return "≥ \(u.logged) (lower), \(upper)"
    }

    func vendorName(_ v: Vendor) -> String {
        switch v {
        case .intel: return "Intel VT-d"
        case .amd: return "AMD-Vi"
        case .armSMMUv3: return "ARM SMMUv3"
        case .armSMMU: return "ARM SMMUv2"
        }
    }
}

/// Left-aligned columns, two spaces apart.
///
/// Cells are written into one byte buffer as they come, with each cell's end and width beside
/// it: the devices table of a large replay has tens of thousands of rows, and an array and a few
/// Strings per row cost more than the rest of its rendering (bench/: replay throughput).
public struct TextTable: ~Copyable {
    /// Every cell's bytes, one after another.
    var bytes = ByteSink(capacity: 4096)
    /// Where each cell ends in `bytes`, and its width in Unicode scalars (≥, ≤, —: one each).
    /// 32 bits each: a large replay's device table has a quarter of a million cells.
    var cells: [(end: UInt32, width: UInt32)] = []
    var widths: [Int]
    var cellStart = 0

    /// `rows`: how many rows will follow, when known (room is made for them at once).
    public init(_ header: [String], rows: Int = 0) {
        widths = [Int](repeating: 0, count: header.count)
        cells.reserveCapacity((rows + 1) * header.count)
        bytes.reserve(rows * 12 * header.count)
        add(header)
    }

    /// A whole row; missing cells are empty, extra ones are dropped.
    public mutating func add(_ row: [String]) {
        for i in 0..<widths.count { cell(i < row.count ? row[i] : "") }
    }

    public mutating func cell(_ s: String) {
        append(s)
        endCell()
    }

    public mutating func cell(_ n: UInt64) {
        append(n)
        endCell()
    }

    /// Appends to the cell being written; `endCell` ends it.
    public mutating func append(_ s: String) { bytes.append(s) }

    public mutating func append(_ n: UInt64) { bytes.append(decimal: n) }

    public mutating func endCell() {
        let end = bytes.count
        let width = bytes.withBytes { b in
            var width = 0
            for k in cellStart..<end where b[k] & 0xC0 != 0x80 { width += 1 }
            return width
        }
        precondition(end <= Int(UInt32.max), "a text table of 4 GiB")
        let column = cells.count % widths.count
        widths[column] = max(widths[column], width)
        cells.append((UInt32(end), UInt32(width)))
        cellStart = end
    }

    public func render() -> String {
        var out = ByteSink()
        render(into: &out)
        return out.string
    }

    /// The table after what `out` holds: the header, then the rows in the order added, or in
    /// the order `rows` gives (positions among the rows added, from 0). `flush`, when given, gets
    /// `out` whenever it holds 64 KiB or more, to write out and empty.
    public func render(into out: inout ByteSink, rows order: [Int]? = nil, flush: ((inout ByteSink) -> Void)? = nil) {
        let columns = max(widths.count, 1)
        let rows = cells.count / columns
        if flush == nil { out.reserve(rows * (widths.reduce(0, +) + 2 * widths.count + 3)) }
        bytes.withBytes { b in
            func row(_ r: Int) {
                var start = r == 0 ? 0 : Int(cells[r * columns - 1].end)
                for column in 0..<widths.count {
                    let c = cells[r * columns + column]
                    if column == 0 { out.append("  " as StaticString) }
                    out.append(UnsafeBufferPointer(rebasing: b[start..<Int(c.end)]))
                    if column < widths.count - 1 {
                        let pad = widths[column] - Int(c.width) + 2
                        out.write(maxCount: pad) { p in
                            p.initialize(repeating: 0x20)
                            return pad
                        }
                    } else {
                        out.append(0x0a)
                    }
                    start = Int(c.end)
                }
                if let flush, out.count >= 1 << 16 { flush(&out) }
            }
            guard rows > 0 else { return }
            row(0)
            if let order {
                precondition(order.count == rows - 1, "a row order that is not one of every row")
                for r in order { row(r + 1) }
            } else {
                for r in 1..<rows { row(r) }
            }
        }
    }
}
