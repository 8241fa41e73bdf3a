/// One `NAME=value` pair of a journal entry.
public struct JournalField: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    public var description: String { "\(name)=\(value)" }

    /// A name journald keeps: `[A-Z0-9_]`, not starting with `_` or a digit, at most 64 bytes.
    /// journald drops other names silently, so every name here is checked by a unit test.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64 else { return false }
        guard first != UInt8(ascii: "_"), !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else { return false }
        return name.utf8.allSatisfy {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "_")
        }
    }
}

/// The journal entries iommud writes (ARCHITECTURE.md "Journal entries", contract), built
/// purely from faults, storms and losses so they can be tested without a journal. The
/// daemon's JournalSink sends them; actions get the same fields as their environment.
public enum JournalEntries {
    /// PRIORITY values (syslog levels).
    public enum Priority {
        public static let nonRecoverable = 3
        public static let recoverable = 5
        /// A fault an `[[expected]]` rule matched (info: it pages no one).
        public static let expected = 6
        public static let storm = 2
        public static let stormEnds = 5
        public static let recordsLost = 4
        public static let daemon = 6
    }

    /// What the topology knows about a device, for the sentence and the extra fields.
    public struct DeviceInfo: Sendable, Equatable {
        public var driver: String?
        public var group: Int?
        public var name: String?

        public init(driver: String? = nil, group: Int? = nil, name: String? = nil) {
            self.driver = driver
            self.group = group
            self.name = name
        }

        public init(_ d: Topology.Device?) {
            self.init(driver: d?.driver, group: d?.group, name: d?.name)
        }
    }

    // MARK: - Faults

    /// The entry for one fault. `realtimeOffsetUsec` (realtime − monotonic, now) turns the kmsg
    /// timestamp into the fault's wall time — never the time it was read. A fault an
    /// `[[expected]]` rule matched is PRIORITY 6 and names the rule in IOMMUD_EXPECTED_RULE.
    public static func fault(_ f: Fault, device: DeviceInfo, realtimeOffsetUsec: Int64?)
        -> [JournalField]
    {
        var message = sentence(f, device: device)
        let priority: Int
        if let rule = f.expectedRule {
            message += " (expected: rule \(rule) in iommud.toml)"
            priority = Priority.expected
        } else {
            priority = f.recoverable ? Priority.recoverable : Priority.nonRecoverable
        }
        var out: [JournalField] = [
            JournalField("MESSAGE", message),
            JournalField("MESSAGE_ID", MessageID.fault),
            JournalField("PRIORITY", String(priority)),
            JournalField("SYSLOG_IDENTIFIER", "iommud"),
        ]
        out += faultFields(f, device: device, realtimeOffsetUsec: realtimeOffsetUsec)
        if let rule = f.expectedRule { out.append(JournalField("IOMMUD_EXPECTED_RULE", rule)) }
        return out
    }

    /// The IOMMU_* and KMSG_* fields of a fault (null fields left out, IOMMU_UNIT always).
    public static func faultFields(_ f: Fault, device: DeviceInfo, realtimeOffsetUsec: Int64?)
        -> [JournalField]
    {
        var out: [JournalField] = []
        func add(_ name: String, _ value: String?) {
            if let value { out.append(JournalField(name, value)) }
        }
        add("IOMMU_VENDOR", f.vendor.rawValue)
        add("IOMMU_UNIT", f.unit ?? unknownLabel)
        add("IOMMU_DEVICE", f.deviceLabel)
        add("IOMMU_KIND", f.kind.rawValue)
        add("IOMMU_REASON", f.reasonString)
        add("IOMMU_REASON_TEXT", f.reasonText)
        add("IOMMU_OWNER", f.owner?.rawValue)
        add("IOMMU_ADDRESS", f.address.map { hex0x($0) })
        add("IOMMU_PASID", f.pasid.map { hex0x(UInt64($0)) })
        add("IOMMU_ACCESS", f.access?.rawValue)
        add("IOMMU_RECOVERABLE", f.recoverable ? "true" : "false")
        add(
            "IOMMU_FAULT_REALTIME_USEC",
            realtimeUsec(f.timestampUsec, offset: realtimeOffsetUsec).map(String.init))
        add("IOMMU_DRIVER", device.driver ?? f.driver)
        add("IOMMU_GROUP", device.group.map(String.init))
        add("IOMMU_DEVICE_NAME", device.name)
        add("IOMMU_SID", f.sourceID.map { hex0x(UInt64($0)) })
        if f.deviceAssumed { add("IOMMU_DEVICE_ASSUMED", "true") }
        add("IOMMU_CLIENT", f.client)
        if f.partial { add("IOMMU_PARTIAL", "true") }
        add("IOMMU_DETAIL", f.detail)
        add("KMSG_SEQ", f.seq.map(String.init))
        add("KMSG_TS_USEC", f.timestampUsec.map(String.init))
        add("KMSG_TEXT", f.text)
        return out
    }

    static func realtimeUsec(_ ts: UInt64?, offset: Int64?) -> Int64? {
        guard let ts, let offset else { return nil }
        return Int64(truncatingIfNeeded: ts) &+ offset
    }

    /// A sentence a person understands: "DMA write by 0000:03:00.0 (nvme, group 14, dmar3)
    /// to 0xfffff000 blocked: PTE Write access is not set — likely driver bug".
    public static func sentence(_ f: Fault, device: DeviceInfo) -> String {
        var s = kindPhrase(f)
        s += " by " + who(f.deviceLabel, unit: f.unit, device: device, driver: f.driver, fault: f)
        if let p = f.pasid { s += " with PASID \(hex0x(UInt64(p)))" }
        if let a = f.address {
            s += f.kind == .interruptRemapping ? " for IRTE index \(hex0x(a))" : " to \(hex0x(a))"
        }
        s +=
            f.recoverable
            ? " faulted (recoverable: the device waits for the OS to resolve it)" : " blocked"
        if let t = f.reasonText {
            s += ": " + t
        } else if let r = f.reasonString {
            s += ": reason \(r)"
        }
        if let o = f.owner { s += " — " + ownerPhrase(o) }
        if f.partial { s += " (from part of the kernel's report: its other lines are not in the log)" }
        return s
    }

    static func kindPhrase(_ f: Fault) -> String {
        switch f.kind {
        case .dmaRead: return "DMA read"
        case .dmaWrite: return "DMA write"
        case .interruptRemapping: return "Interrupt request"
        case .pageRequest: return "Page request"
        case .invalidationError: return "Invalidation request"
        case "io-page-fault":
            return "I/O page fault (" + (f.access.map { "DMA \($0.rawValue)" } ?? "DMA") + ")"
        default:
            var name = vendorName(f.vendor) + " " + f.kind.rawValue
            if let a = f.access { name += " (\(a.rawValue))" }
            return name
        }
    }

    /// `0000:03:00.0 (nvme, group 14, dmar3)`; `memory client display0a on …`; `an unknown
    /// device (StreamID 0x8) on smmu3.0x…`; `an unknown device on dmar3`.
    static func who(_ dev: String?, unit: String?, device: DeviceInfo, driver: String?, fault f: Fault? = nil)
        -> String
    {
        guard let dev else {
            let on = unit.map { " on \($0)" } ?? ""
            if let c = f?.client { return "memory client \(c)" + on }
            if let f, let sid = f.sourceID {
                let what = f.vendor == .intel || f.vendor == .amd ? "source id" : "StreamID"
                return "an unknown device (\(what) \(hex0x(UInt64(sid))))" + on
            }
            return "an unknown device" + on
        }
        var parts: [String] = []
        if let d = device.driver ?? driver { parts.append(d) }
        if let g = device.group { parts.append("group \(g)") }
        if let u = unit { parts.append(u) }
        return parts.isEmpty ? dev : "\(dev) (\(parts.joined(separator: ", ")))"
    }

    static func ownerPhrase(_ o: Owner) -> String {
        switch o {
        case .driver: return "likely driver bug"
        case .firmware: return "likely firmware bug (BIOS/ACPI tables)"
        case .hardware: return "likely hardware problem"
        case .iommuDriver: return "likely IOMMU driver bug"
        }
    }

    /// The family's name for people, from its descriptor.
    public static func vendorName(_ v: Vendor) -> String { StatusReport.displayName(v) }

    // MARK: - Storms

    public static func storm(
        _ event: StormTracker.Event, policy: StormTracker.Policy, device: DeviceInfo,
        realtimeOffsetUsec: Int64?
    ) -> [JournalField] {
        let s = event.storm
        let id: String
        let priority: Int
        let message: String
        let subject = who(s.device, unit: s.unit, device: device, driver: nil)
        switch event {
        case .began:
            id = MessageID.stormBegins
            priority = Priority.storm
            message =
                "IOMMU fault storm on \(subject): more than \(policy.threshold) faults within \(durationText(policy.windowUsec)); "
                + "its faults are now summarised every \(durationText(policy.summaryIntervalUsec)) instead of logged one by one"
        case .summary:
            id = MessageID.stormSummary
            priority = Priority.storm
            message =
                "IOMMU fault storm on \(subject) goes on: \(s.sinceSummary.faults) faults in the last \(durationText(policy.summaryIntervalUsec)), "
                + "\(s.total.faults) since it began" + tallyText(s.sinceSummary)
        case .ended:
            id = MessageID.stormEnds
            priority = Priority.stormEnds
            let lasted = (s.endedUsec ?? s.lastFaultUsec) - s.beganUsec
            message =
                "IOMMU fault storm on \(subject) ended after \(durationText(lasted)): \(s.total.faults) faults in all"
                + tallyText(s.total)
        }
        var out: [JournalField] = [
            JournalField("MESSAGE", message), JournalField("MESSAGE_ID", id),
            JournalField("PRIORITY", String(priority)),
            JournalField("SYSLOG_IDENTIFIER", "iommud"), JournalField("IOMMU_VENDOR", s.vendor.rawValue),
            JournalField("IOMMU_UNIT", s.unit ?? unknownLabel), JournalField("IOMMU_DEVICE", s.device),
        ]
        func add(_ name: String, _ value: String?) {
            if let value { out.append(JournalField(name, value)) }
        }
        add("IOMMU_DRIVER", device.driver)
        add("IOMMU_GROUP", device.group.map(String.init))
        add(
            "IOMMU_STORM_BEGAN_REALTIME_USEC",
            realtimeUsec(s.beganUsec, offset: realtimeOffsetUsec).map(String.init))
        add("IOMMU_STORM_TOTAL", String(s.total.faults))
        let tally: StormTracker.Tally
        switch event {
        case .began: tally = s.total
        case .summary, .ended: tally = s.sinceSummary
        }
        add("IOMMU_STORM_FAULTS", String(tally.faults))
        add("IOMMU_STORM_KINDS", countsText(tally.kinds.map { ($0.key.rawValue, $0.value) }))
        add("IOMMU_STORM_REASONS", countsText(tally.reasons.map { ($0.key, $0.value) }))
        add("IOMMU_ADDRESS_MIN", tally.lowestAddress.map { hex0x($0) })
        add("IOMMU_ADDRESS_MAX", tally.highestAddress.map { hex0x($0) })
        if case .ended = event {
            add(
                "IOMMU_STORM_ENDED_REALTIME_USEC",
                realtimeUsec(s.endedUsec, offset: realtimeOffsetUsec).map(String.init))
            add("IOMMU_STORM_DURATION_USEC", String((s.endedUsec ?? s.lastFaultUsec) - s.beganUsec))
        }
        add("KMSG_SEQ", event.seq.map(String.init))
        return out
    }

    /// `dma-write:2990 dma-read:3`, most frequent first.
    static func countsText(_ counts: [(String, UInt64)]) -> String? {
        guard !counts.isEmpty else { return nil }
        return counts.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.map { "\($0.0):\($0.1)" }
            .joined(separator: " ")
    }

    static func tallyText(_ t: StormTracker.Tally) -> String {
        var s = ""
        if let k = countsText(t.kinds.map { ($0.key.rawValue, $0.value) }) { s += "; kinds \(k)" }
        if let r = countsText(t.reasons.map { ($0.key, $0.value) }) { s += "; reasons \(r)" }
        if let lo = t.lowestAddress, let hi = t.highestAddress {
            s += lo == hi ? "; address \(hex0x(lo))" : "; addresses \(hex0x(lo))–\(hex0x(hi))"
        }
        return s
    }

    /// `10s`, `1m30s`, `250ms`.
    public static func durationText(_ usec: UInt64) -> String {
        if usec < 1_000_000 { return "\(usec / 1000)ms" }
        let s = Int64(usec / 1_000_000)
        if s < 60 { return "\(s)s" }
        return CivilTime.duration(seconds: s)
    }

    // MARK: - Losses and the daemon

    public static func recordsLost(_ loss: LossRange) -> [JournalField] {
        let after = loss.afterSeq.map { "seq \($0)" } ?? "the start of this boot"
        return [
            JournalField(
                "MESSAGE",
                "\(loss.count) kernel log record\(loss.count == 1 ? "" : "s") lost between \(after) and seq \(loss.beforeSeq): "
                    + "iommud never saw \(loss.count == 1 ? "it" : "them"), so IOMMU faults among them are not counted"
            ),
            JournalField("MESSAGE_ID", MessageID.recordsLost),
            JournalField("PRIORITY", String(Priority.recordsLost)),
            JournalField("SYSLOG_IDENTIFIER", "iommud"),
            JournalField("KMSG_LOST", String(loss.count)),
        ] + (loss.afterSeq.map { [JournalField("KMSG_LOST_AFTER_SEQ", String($0))] } ?? []) + [
            JournalField("KMSG_SEQ", String(loss.beforeSeq))
        ]
    }

    public static func daemonStarted(
        version: String, source: String, units: Int, resumedAfterSeq: UInt64?
    ) -> [JournalField] {
        var message =
            "iommud \(version) started: watching \(source) for IOMMU faults (\(units) remapping unit\(units == 1 ? "" : "s"))"
        if let s = resumedAfterSeq { message += ", resuming after kmsg seq \(s)" }
        return [
            JournalField("MESSAGE", message), JournalField("MESSAGE_ID", MessageID.daemonStarted),
            JournalField("PRIORITY", String(Priority.daemon)),
            JournalField("SYSLOG_IDENTIFIER", "iommud"),
            JournalField("IOMMUD_VERSION", version),
        ]
    }

    public static func daemonStopped(version: String, faults: UInt64, lost: UInt64) -> [JournalField] {
        [
            JournalField(
                "MESSAGE",
                "iommud \(version) stopped: \(faults) IOMMU fault\(faults == 1 ? "" : "s") this boot, \(lost) kernel log records lost; "
                    + "nothing is lost while it is down — the next start reads the records it missed"),
            JournalField("MESSAGE_ID", MessageID.daemonStopped),
            JournalField("PRIORITY", String(Priority.daemon)),
            JournalField("SYSLOG_IDENTIFIER", "iommud"), JournalField("IOMMUD_VERSION", version),
            JournalField("IOMMU_FAULTS", String(faults)), JournalField("KMSG_LOST", String(lost)),
        ]
    }

    // MARK: - Actions

    /// An action's environment from an entry's fields: every field but MESSAGE_ID, PRIORITY
    /// and SYSLOG_IDENTIFIER; MESSAGE becomes IOMMU_MESSAGE.
    public static func environment(_ fields: [JournalField], event: String) -> [String] {
        var env = ["IOMMUD_EVENT=\(event)"]
        for f in fields {
            switch f.name {
            case "MESSAGE_ID", "PRIORITY", "SYSLOG_IDENTIFIER": continue
            case "MESSAGE": env.append("IOMMU_MESSAGE=\(f.value)")
            default: env.append("\(f.name)=\(f.value)")
            }
        }
        return env
    }
}

extension JournalEntries {
    /// A fault read back from its journal entry's fields (`iommud log`); nil when the entry
    /// lacks what every fault entry has.
    public static func fault(fromFields d: [String: String]) -> Fault? {
        func hexValue(_ k: String) -> UInt64? {
            guard let s = d[k], s.hasPrefix("0x") else { return nil }
            return UInt64(s.dropFirst(2), radix: 16)
        }
        guard let vendor = d["IOMMU_VENDOR"].flatMap(Vendor.init(validating:)), let kind = d["IOMMU_KIND"] else {
            return nil
        }
        var f = Fault(
            vendor: vendor, kind: FaultKind(rawValue: kind), recoverable: d["IOMMU_RECOVERABLE"] == "true",
            text: d["KMSG_TEXT"] ?? "")
        f.unit = d["IOMMU_UNIT"].flatMap { $0 == unknownLabel ? nil : $0 }
        f.device = d["IOMMU_DEVICE"].flatMap { PCIAddress(parsing: $0) }
        if f.device == nil { f.master = d["IOMMU_DEVICE"] }
        f.deviceAssumed = d["IOMMU_DEVICE_ASSUMED"] == "true"
        f.client = d["IOMMU_CLIENT"]
        f.partial = d["IOMMU_PARTIAL"] == "true"
        f.reason = hexValue("IOMMU_REASON").map { UInt16(truncatingIfNeeded: $0) }
        f.reasonText = d["IOMMU_REASON_TEXT"]
        f.owner = d["IOMMU_OWNER"].flatMap(Owner.init(rawValue:))
        f.address = hexValue("IOMMU_ADDRESS")
        f.pasid = hexValue("IOMMU_PASID").map { UInt32(truncatingIfNeeded: $0) }
        f.access = d["IOMMU_ACCESS"].flatMap(Access.init(rawValue:))
        f.sourceID = hexValue("IOMMU_SID").map { UInt32(truncatingIfNeeded: $0) }
        f.driver = d["IOMMU_DRIVER"]
        f.detail = d["IOMMU_DETAIL"]
        f.seq = d["KMSG_SEQ"].flatMap { UInt64($0) }
        f.timestampUsec = d["KMSG_TS_USEC"].flatMap { UInt64($0) }
        f.expectedRule = d["IOMMUD_EXPECTED_RULE"].flatMap { ExpectedRules.isValidName($0) ? $0 : nil }
        return f
    }
}
