// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let amd = Vendor(rawValue: "amd")
}

/// The AMD-Vi family: what it declares (kernel-formats.md §2) and its parser below.
public enum AMDVi {
    public static let descriptor = FamilyDescriptor(
        vendor: .amd, displayName: "AMD-Vi",
        // pr_fmt/dev_fmt `AMD-Vi: `, the unit's `iommu ivhdN: ` prefix, and `Event logged` (the
        // 4.19.89+ per-device lines carry neither of the others).
        words: ["AMD-Vi", "Event logged", "ivhd", "amd_iommu", "PPR logged"],
        namingWords: ["AMD-Vi", "ivhd", "amd_iommu"],
        // Per device in report_page_fault, per call site elsewhere; 6.6+ init.c
        // amd_iommu_restart_log(), the 6.5 stable GA-log backport.
        ratelimitedFunctions: [
            "amd_iommu_report_page_fault", "iommu_print_event", "amd_iommu_int_thread",
            "amd_iommu_int_thread_evtlog", "amd_iommu_int_thread_pprlog", "amd_iommu_int_thread_galog",
            "iommu_poll_events", "iommu_poll_ppr_log", "amd_iommu_report_rmp_fault",
            "amd_iommu_report_rmp_hw_error", "iommu_handle_ppr_entry", "amd_iommu_handle_ppr_log",
            "iommu_call_iopf_notifier", "amd_iommu_restart_log", "amd_iommu_restart_ga_log",
        ],
        // One "AMD-Vi" vector per unit before 6.6; x2APIC mode 6.6+: "AMD-Vi%d-Evt", "-PPR",
        // "-GA", %d the N of ivhdN (init.c iommu_setup_intcapxt()).
        interrupts: [
            .fixed("AMD-Vi", vector: "shared"), .numbered("AMD-Vi", "-Evt", unit: "ivhd", vector: "evt"),
            .numbered("AMD-Vi", "-PPR", unit: "ivhd", vector: "ppr"),
            .numbered("AMD-Vi", "-GA", unit: "ivhd", vector: "ga"),
        ],
        events: AMDEventDecoder.events,
        // 4.9–4.17 printed an event's body (`IO_PAGE_FAULT device=…]`) as a record of its own.
        eventNamesStartRecords: true,
        otherKinds: ["ppr-request"])

    public static let family = FamilyCatalog.Family(descriptor) { AMDViParser(events: $0.events) }
}

/// AMD-Vi event-log messages, every era of kernel-formats.md §2: drivers/iommu/amd_iommu.c
/// (≤ ~5.9) and drivers/iommu/amd/iommu.c, `iommu_print_event()`,
/// `amd_iommu_report_page_fault()`, `amd_iommu_report_rmp_fault()`/`_rmp_hw_error()`. Event
/// fields and their meaning are in AMDEventDecoder.swift; overflow, PPR and command-queue lines
/// in AMDViMessages.swift.
///
/// Shapes, by era:
/// * ≤4.8: `printk(KERN_ERR "AMD-Vi: Event logged [")` + a level-less `printk("IO_PAGE_FAULT
///   device=%02x:%02x.%x …]\n")` that printk joined: one record.
/// * 4.9–~4.17: the same two printks are two records (no KERN_CONT): a header ending in
///   `Event logged [` and a body `TYPE key=value …]` at the default level, without prefix.
/// * ~4.18–5.4: `dev_err(dev, "AMD-Vi: Event logged [")` then `dev_err(dev, "TYPE …]\n")`:
///   two records, both `iommu ivhdN: `-prefixed; IO_PAGE_FAULT per device with `dev_err(&pdev->dev,
///   "AMD-Vi: Event logged [IO_PAGE_FAULT domain=… address=… flags=…]\n")`.
/// * 5.5+ (1a21ee1aabf7, stable 4.19.89): one record, `Event logged [TYPE …]`, after the
///   `iommu ivhdN: ` or `<driver> SSSS:BB:DD.F: ` prefix and `AMD-Vi: ` (dev_fmt, ~5.0+).
/// * 6.0+ (964d21a7654c): `device=%04x:%02x:%02x.%x`. `Event logged [Device not attached to
///   domain properly]` + `"  device=%04x:%02x:%02x.%x domain=0x%04x\n"`: two records, one fault.
/// * `UNKNOWN event[0]=0x%08x … event[3]=0x%08x` has no closing `]`; 4.18–5.4 passed KERN_ERR
///   inside dev_err, leaving `\x01` + `3` in the text.
/// ILLEGAL_DEV_TABLE_ENTRY is followed by `Control Reg : 0x…` (6.x) and `DTE[n]: …` lines,
/// ILLEGAL_COMMAND_ERROR by `CMD[n]: …`: the event is held until they arrive (they are added to
/// its text) or the next AMD record, or `flush`. Released before they all came (`flush`, another
/// family's record), it stays pending (`Due`) until they did: a late line is still its detail, and
/// a restart in between re-reads the event (not counting it again) and knows them. The same lines
/// without their event are a dump of their own (`OrphanDump`): unparsed, once per dump.
///
/// RECOVERABLE (kernel-formats.md §8.1), decided here for AMD: every `Event logged [...]` comes
/// from the event log — the IOMMU aborted the transaction — so these faults are
/// `recoverable: false`, INVALID_PPR_REQUEST included (the IOMMU refused the request). Only
/// PPR-log anomalies (AMDViMessages.swift) are the recoverable path.
struct AMDViParser: FamilyParser {
    /// The event types this parser knows (the descriptor's).
    let events: [EventDescriptor]
    /// Every line that may follow an event with detail (the events' follow-up prefixes).
    let followUpPrefixes: [String]
    /// The events' follow-up lines, to find which dump a prefix belongs to.
    let followUpSets: [FollowUpLines]

    /// A header whose body is the next record of the same source (`iommu ivhdN: ` prefix, or
    /// none): 4.9–5.4 split events and `Device not attached to domain properly`.
    struct Header: Sendable {
        var key: String
        var unit: String?
        var device: PCIAddress?
        var driver: String?
        var notAttached: Bool
        var seq: UInt64?
        var text: String
        var timestampUsec: UInt64? = nil
    }
    var headers: [Header] = []
    /// An event waiting for its follow-up lines (`Control Reg`, `DTE[n]`, `CMD[n]`).
    var held: Fault?
    var heldFollowUps: FollowUpLines?
    var heldAuxLeft = 0

    /// An event released (by `flush` or another family's record) before all its counted follow-up
    /// lines came: the kernel prints them right after it, unconditionally, so they are still due —
    /// detail of that event, not a dump of their own. Pending (the event's seq) until they came or
    /// the next AMD record shows they will not.
    struct Due: Sendable {
        var followUps: FollowUpLines
        var left: Int
        var seq: UInt64?
    }
    var due: Due?

    /// Follow-up lines with no event before them: the event line was lost (a seq gap) or not pasted.
    /// They do not repeat the event's device or address, and the kind is only implied by which dump
    /// it is — so, as for SMMUv3 dump words without their header, no fault is made of them: a run of
    /// them that forms one dump counts as ONE unparsed record (AMD), carried by its last line. A run
    /// is one event's output — `Control Reg` (6.x) then `DTE[0]`…`DTE[3]`, or `CMD[0]`…`CMD[3]` —
    /// so it ends with its line of index 3, with a line that cannot continue it (another dump, an
    /// index not above the last one), with the next AMD record, or at the end of the input; `flush`
    /// keeps it (the kernel may be between two printks), pending from its first line.
    struct OrphanDump: OrphanRun {
        var followUps: FollowUpLines
        /// Counted lines (`DTE[n]`, `CMD[n]`) so far, and the index of the last.
        var counted = 0
        var lastIndex: Int?
        var lines: OrphanLines
    }
    var orphan: OrphanDump?

    init(events: [EventDescriptor]) {
        self.events = events
        var prefixes: [String] = []
        let sets = events.compactMap(\.followUps)
        for f in sets { prefixes += [f.counted] + f.extra }
        self.followUpPrefixes = prefixes
        self.followUpSets = sets
    }

    var pendingSince: UInt64? {
        var m = held?.seq
        for h in headers {
            if let s = h.seq { m = m.map { min($0, s) } ?? s }
        }
        for s in [due?.seq, orphan?.lines.firstSeq].compactMap({ $0 }) { m = m.map { min($0, s) } ?? s }
        return m
    }

    /// What precedes the message: `iommu ivhdN: `, `<driver> SSSS:BB:DD.F: `, then `AMD-Vi: `.
    struct Prefix {
        var unit: String?
        var device: PCIAddress?
        var driver: String?
        var sawAMDVi = false
        var key: String { unit ?? "" }
    }

    static func scanPrefix(_ s: inout ByteScanner, record r: KmsgRecord) -> Prefix {
        var p = Prefix()
        let save = s.position
        if let dp = DevicePrefix.scan(&s) {
            if s.bytesEqual(dp.driver, "iommu") {
                p.unit = s.string(dp.device)
            } else {
                var d = ByteScanner(UnsafeBufferPointer(rebasing: s.bytes[dp.device]))
                if let dev = PCIAddress.scan(&d), d.isAtEnd {
                    p.device = dev
                    p.driver = s.string(dp.driver)
                } else {
                    s.position = save  // not a prefix of ours
                }
            }
        }
        if s.skip("AMD-Vi: ") { p.sawAMDVi = true }
        // 4.18–5.4 UNKNOWN: dev_err(dev, KERN_ERR "UNKNOWN …") leaves SOH + level in the text.
        // (dmesg prints that SOH as the four characters `\x01`.)
        if s.peek == 0x01, s.remaining >= 2, isLevelDigit(s.bytes[s.position + 1]) {
            s.position += 2
        } else if s.looksAt("\\x01"), s.remaining >= 5, isLevelDigit(s.bytes[s.position + 4]) {
            s.position += 5
        }
        if p.unit == nil, let u = r.dictionaryDevice(bus: "iommu") { p.unit = String(u) }
        if p.device == nil, let d = r.dictionaryDevice(bus: "pci") { p.device = PCIAddress(parsing: d) }
        return p
    }

    static func isLevelDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "7") }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        let start = out.count
        var followUp = false
        let mine = r.text.withBytes { b in consume(b, record: r, followUp: &followUp, into: &out) }
        if mine, !followUp {
            // Another AMD record: no follow-up line of an earlier event is coming any more.
            due = nil
            orphan.end(.amd, into: &out, at: start)
        }
        return mine
    }

    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int) {
        releaseHeld(into: &out, at: index, linesStillDue: true)
    }

    private mutating func consume(
        _ b: UnsafeBufferPointer<UInt8>, record r: KmsgRecord, followUp: inout Bool,
        into out: inout [ClassifierOutput]
    ) -> Bool {
        var s = ByteScanner(b)
        let prefix = Self.scanPrefix(&s, record: r)
        let ours = prefix.sawAMDVi || prefix.unit != nil

        if ours, let prefix = followUpPrefixes.first(where: { s.looksAt(text: $0) }) {
            followUp = true
            // Detail of the event before it: added to its text.
            if var f = held, let follow = heldFollowUps, prefix == follow.counted || follow.extra.contains(prefix) {
                f.text += "\n" + r.text
                held = f
                if prefix == follow.counted {
                    heldAuxLeft -= 1
                    if heldAuxLeft <= 0 { releaseHeld(into: &out) }
                }
                return true
            }
            // Detail of an event already released (the reader went idle, or another family spoke,
            // between the event and this line): counted with it, nothing more to count.
            if var d = due, prefix == d.followUps.counted || d.followUps.extra.contains(prefix) {
                if prefix == d.followUps.counted {
                    d.left -= 1
                    due = d.left > 0 ? d : nil
                }
                return true
            }
            // No event before it: a line of a dump of its own (see `OrphanDump`).
            s.position += prefix.utf8.count
            addOrphan(
                prefix: prefix, index: prefix.hasSuffix("[") ? s.decimal().map { Int($0) } : nil, record: r, into: &out)
            return true
        }
        // `No event written to event log` (an interrupt with an empty log): no output.
        if ours, s.looksAt("No event written to event log") { return true }

        if s.skip("Event logged [") {
            releaseHeld(into: &out)
            if s.atEndIgnoringSpaces {
                push(
                    Header(
                        key: prefix.key, unit: prefix.unit, device: prefix.device, driver: prefix.driver,
                        notAttached: false, seq: r.seq, text: r.text, timestampUsec: r.timestampUsec), into: &out)
                return true
            }
            if s.skip("Device not attached to domain properly]") && s.atEndIgnoringSpaces {
                push(
                    Header(
                        key: prefix.key, unit: prefix.unit, device: prefix.device, driver: prefix.driver,
                        notAttached: true, seq: r.seq, text: r.text, timestampUsec: r.timestampUsec), into: &out)
                return true
            }
            emit(
                Self.event(&s, events: events, prefix: prefix, record: r, text: r.text), text: r.text, seq: r.seq,
                into: &out)
            return true
        }

        // The body of a split event: `TYPE key=value …]` in a record of its own.
        if let c = s.peek, c >= UInt8(ascii: "A"), c <= UInt8(ascii: "Z"),
            AMDEventDecoder.knownEvent(at: s, in: events) != nil
        {
            releaseHeld(into: &out)
            var merged = prefix
            var text = r.text
            if let h = takeHeader(key: prefix.key, notAttached: false) {
                merged.unit = h.unit ?? prefix.unit
                merged.device = h.device ?? prefix.device
                merged.driver = h.driver ?? prefix.driver
                text = h.text + "\n" + r.text
            }
            emit(
                Self.event(&s, events: events, prefix: merged, record: r, text: text), text: text, seq: r.seq,
                into: &out)
            return true
        }

        // `Device not attached to domain properly` body: `AMD-Vi:   device=SSSS:BB:DD.F domain=0x…`.
        if prefix.sawAMDVi, s.looksAt("  device=") {
            releaseHeld(into: &out)
            let h = takeHeader(key: prefix.key, notAttached: true)
            let text = h.map { $0.text + "\n" + r.text } ?? r.text
            s.skipSpaces()
            guard let f = AMDEventDecoder.notAttached(&s, unit: prefix.unit, record: r, text: text) else {
                out.append(.unparsed(vendor: .amd, text: text, seq: r.seq))
                return true
            }
            out.append(.fault(f))
            return true
        }

        guard ours else { return false }
        let before = out.count
        guard AMDViMessages.consume(&s, prefix: prefix, record: r, into: &out) else { return false }
        releaseHeld(into: &out, at: before)  // another AMD message: no more aux lines coming
        return true
    }

    /// Emits a decoded event, holding the ones whose aux lines follow.
    private mutating func emit(
        _ decoded: (Fault, FollowUpLines?)?, text: String, seq: UInt64?, into out: inout [ClassifierOutput]
    ) {
        guard let (f, followUps) = decoded else {
            out.append(.unparsed(vendor: .amd, text: text, seq: seq))
            return
        }
        if let followUps {
            held = f
            heldFollowUps = followUps
            heldAuxLeft = followUps.count
        } else {
            out.append(.fault(f))
        }
    }

    private mutating func push(_ h: Header, into out: inout [ClassifierOutput]) {
        if let i = headers.firstIndex(where: { $0.key == h.key }) {
            // The body of the previous header of this source never came (lost records).
            out.append(Self.abandoned(headers.remove(at: i)))
        }
        if headers.count >= 16 {
            out.append(Self.abandoned(headers.removeFirst()))
        }
        headers.append(h)
    }

    private mutating func takeHeader(key: String, notAttached: Bool) -> Header? {
        guard let i = headers.firstIndex(where: { $0.key == key && $0.notAttached == notAttached })
        else { return nil }
        return headers.remove(at: i)
    }

    /// Adds a follow-up line without an event to the run of such lines (see `OrphanDump`).
    private mutating func addOrphan(
        prefix: String, index: Int?, record r: KmsgRecord, into out: inout [ClassifierOutput]
    ) {
        guard let set = followUpSets.first(where: { $0.counted == prefix || $0.extra.contains(prefix) }) else { return }
        let counted = prefix == set.counted
        if let o = orphan {
            // It continues the run only as the kernel prints one dump: the same dump, counted
            // lines in rising index order (the extra line, `Control Reg`, comes first).
            var rising = true
            if let index, let last = o.lastIndex { rising = index > last }
            let continues = o.followUps == set && counted && o.counted < set.count && rising
            if !continues { orphan.end(.amd, into: &out) }
        }
        var o: OrphanDump
        if let run = orphan {
            o = run
            o.lines.add(r)
        } else {
            o = OrphanDump(followUps: set, lines: OrphanLines(r))
        }
        orphan = nil
        if counted {
            o.counted += 1
            o.lastIndex = index ?? o.lastIndex.map { $0 + 1 } ?? 0
        }
        orphan = o
        // The dump's last line (index 3 of 4): nothing of this event follows.
        if counted, o.counted >= set.count || (o.lastIndex ?? 0) >= set.count - 1 { orphan.end(.amd, into: &out) }
    }

    /// Emits the held event (at `index` in `out`, to keep the input order, else at the end).
    /// `linesStillDue`: released while its follow-up lines may still come (`flush`, another
    /// family's record) — they stay its detail (`Due`).
    mutating func releaseHeld(
        into out: inout [ClassifierOutput], at index: Int? = nil, linesStillDue: Bool = false
    ) {
        guard let f = held else { return }
        if linesStillDue, let follow = heldFollowUps, heldAuxLeft > 0 {
            due = Due(followUps: follow, left: heldAuxLeft, seq: f.seq)
        }
        held = nil
        heldFollowUps = nil
        heldAuxLeft = 0
        if let index, index <= out.count {
            out.insert(.fault(f), at: index)
        } else {
            out.append(.fault(f))
        }
    }

    /// Idle: an event held for its aux lines is emitted with what it has (the lines still due
    /// stay its, `Due`). A split header waits for its body, a dump without its event for its next
    /// line (the kernel prints them from the same function; the reader may simply have caught it
    /// in between).
    mutating func flush(into out: inout [ClassifierOutput]) {
        releaseHeld(into: &out, linesStillDue: true)
    }

    /// End of input: headers whose body never came are counted as what they prove, and a dump
    /// without its event as unparsed.
    mutating func finish(into out: inout [ClassifierOutput]) {
        releaseHeld(into: &out)
        due = nil
        orphan.end(.amd, into: &out)
        for h in headers { out.append(Self.abandoned(h)) }
        headers.removeAll()
    }

    /// A header whose body never came (lost records, the body's own ratelimit, a paste that ends
    /// there). `Event logged [Device not attached to domain properly]` is printed only by
    /// `amd_iommu_report_page_fault()`: it proves an IO_PAGE_FAULT (device and address were on
    /// the lost `  device=` line) — counted, partial. A bare `Event logged [` (4.9–5.4 split events)
    /// does NOT say which event was logged — the type is the first word of the lost body, and the
    /// event log holds faults (IO_PAGE_FAULT, …) as well as hardware and command errors — so no kind
    /// can be given: it counts as unparsed (AMD), never as a fault of a made-up kind.
    static func abandoned(_ h: Header) -> ClassifierOutput {
        guard h.notAttached else { return .unparsed(vendor: .amd, text: h.text, seq: h.seq) }
        var f = Fault(
            vendor: .amd, kind: "io-page-fault", recoverable: false, unit: h.unit, seq: h.seq,
            timestampUsec: h.timestampUsec, text: h.text)
        f.reasonText = "Device not attached to domain properly"
        f.partial = true
        return .fault(f)
    }

    /// `TYPE key=value …]` (fields separated by spaces, or `, ` for RMP events), or
    /// `UNKNOWN event[0]=… event[3]=…` with no closing bracket. nil when the name is not one the
    /// kernel prints or a field is mangled or missing its value.
    static func event(
        _ s: inout ByteScanner, events: [EventDescriptor], prefix: Prefix, record r: KmsgRecord, text: String
    ) -> (Fault, FollowUpLines?)? {
        guard let fields = AMDEventDecoder.scanFields(&s, events: events) else { return nil }
        var f = Fault(
            vendor: .amd, kind: fields.event.kind, recoverable: false, device: fields.device ?? prefix.device,
            unit: prefix.unit, driver: prefix.driver, seq: r.seq, timestampUsec: r.timestampUsec,
            text: text)
        AMDEventDecoder.decode(&f, fields: fields)
        return (f, fields.event.followUps)
    }
}
