// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let armSMMUv3 = Vendor(rawValue: "arm-smmu-v3")
}

/// The ARM SMMUv3 family: what it declares (kernel-formats.md §3.1), its parser below, its
/// event table in ArmSMMUv3Events.swift.
public enum ArmSMMUv3 {
    public static let descriptor = FamilyDescriptor(
        vendor: .armSMMUv3, displayName: "ARM SMMUv3",
        // Every line carries the `arm-smmu-v3 <devname>: ` prefix; the ratelimited functions are
        // `arm_smmu_…`.
        // tegra241-cmdqv.c's lines start with its dev_fmt `tegra241_cmdqv: `.
        words: [.anyCase("smmu"), "tegra241_cmdqv"],
        namingWords: ["arm-smmu-v3", "smmuv3", "arm_smmu_evtq", "arm_smmu_priq", "tegra241_cmdqv"],
        // The event-queue thread's static state (~5.13), the 6.14+ dump helper.
        ratelimitedFunctions: [
            "arm_smmu_evtq_thread", "arm_smmu_priq_thread", "arm_smmu_dump_event", "arm_smmu_handle_evt",
            "arm_smmu_decode_event", "arm_smmu_handle_ppr",
        ],
        // arm_smmu_setup_unique_irqs() / arm_smmu_setup_irqs(): one name per queue, shared by units.
        interrupts: [
            .fixed("arm-smmu-v3-evtq", vector: "evtq"), .fixed("arm-smmu-v3-priq", vector: "priq"),
            .fixed("arm-smmu-v3-gerror", vector: "gerror"), .fixed("arm-smmu-v3-combined-irq", vector: "combined"),
        ],
        events: ArmSMMUv3Events.events,
        otherKinds: ["unknown-event", "pri-request"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in ArmSMMUv3Parser() }
}

/// ARM SMMUv3 messages (drivers/iommu/arm-smmu-v3.c ≤ ~5.9, then
/// drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c) — kernel-formats.md §3.1. Every line carries
/// the `arm-smmu-v3 <devname>: ` prefix; groups are joined per device name, so other records,
/// other SMMUs and userspace may sit between the records of one event.
///
/// * ≤ v6.13 `arm_smmu_evtq_thread()`: `dev_info("event 0x%02x received:\n")` then four
///   `dev_info("\t0x%016llx\n")` — five level-6 records; the fourth dword completes the event.
/// * v6.14+ (d814b70b9b90, `arm_smmu_dump_event()`): the same raw dump at level 3 (dev_err),
///   FOLLOWED by `"event: %s client: %s sid: %#x ssid: %#x …"` and, for translation events, a
///   second `"%s %s %s %s \"%s\"%s%s stag: %#x"` line. One event, counted once: a raw dump
///   that is not level 6 waits for its decoded line (which adds the client device); `flush`
///   releases it with what the raw dump says, and the decoded line that may still come is
///   then recognised and not counted again.
/// * `arm_smmu_handle_ppr()`: `"unexpected PRI request received:\n"` + `"\tsid 0x%08x.0x%05x:
///   [%u%s] %sprivileged %s%s%s access at iova 0x%016llx\n"` — two records, one PRI request.
/// * `"EVTQ overflow detected -- events lost\n"`, `"PRIQ overflow detected -- requests lost\n"`
///   → overflow markers; `arm_smmu_gerror_handler()`: `"unexpected global error reported
///   (0x%08x), this could be serious\n"`, `"device has entered Service Failure Mode!\n"`,
///   `"(GERROR|PRIQ|EVTQ|CMDQ) MSI write aborted\n"`, `"(PRIQ|EVTQ) write aborted -- events may
///   have been lost\n"`, and `arm_smmu_cmdq_skip_err()` `"CMDQ error (cons 0x%08x): %s\n"` →
///   unit-error markers; its `"skipping command in error state:\n"` + two `"\t0x%016llx\n"`
///   command words and `"retrying command fetch\n"` are detail.
///
/// RECOVERABLE (kernel-formats.md §8.1), decided for SMMUv3 in ArmSMMUv3Events.swift (STALL bit
/// of the event record) and here for PRI: a PRI request is the recoverable mechanism by
/// design (upstream denies it), so `pri-request` faults are `recoverable: true`.
struct ArmSMMUv3Parser: FamilyParser {
    struct RawGroup: Sendable {
        var id: UInt8
        var level: UInt8
        var firstSeq: UInt64?
        var lastSeq: UInt64?
        var lastTimestamp: UInt64?
        var dwords: [UInt64] = []
        var text: String
    }

    struct UnitState: PendingUnitState {
        /// A raw dump with fewer than four dwords so far.
        var open: RawGroup?
        /// A complete raw dump (6.14+, or of unknown level) waiting for its decoded line.
        var awaiting: RawGroup?
        /// StreamID of an awaiting dump released by `flush`: its decoded line is not a new event.
        var releasedSID: UInt32?
        /// Command words of `skipping command in error state:` still to come.
        var commandWords = 0
        /// `unexpected PRI request received:` waiting for its `\tsid …` record.
        var pri: (seq: UInt64?, text: String)?
        /// Dword records with no header before them (see `Orphan`).
        var orphan: Orphan?
        /// A 6.14+ decoded line of a translation event came (its seq): its second line (`priv|unpriv
        /// … stag: …`), printed right after it, is detail. Without it, that second line is a line of
        /// a fault nobody counted. Pending until it comes, so a restart in between knows it.
        var decodedSecondLineDue = false
        var decodedSeq: UInt64?

        /// Where this unit's oldest unfinished group began.
        var since: UInt64? {
            [open?.firstSeq, awaiting?.firstSeq, pri?.seq, orphan?.lines.firstSeq, decodedSeq]
                .compactMap { $0 }.min()
        }

        var isEmpty: Bool {
            open == nil && awaiting == nil && releasedSID == nil && commandWords == 0 && pri == nil && orphan == nil
                && !decodedSecondLineDue
        }
    }

    /// `\t0x%016llx` records of an event dump whose `event 0x.. received:` header is not in the
    /// input (lost in a sequence gap, or a paste that begins mid-dump). They belong to a fault, but
    /// nothing says which dword the first of them is — a paste that begins mid-dump shows dw2 and
    /// dw3 only — so reading the first as dw0 (event id, StreamID) could invent a kind. They are
    /// counted as ONE unparsed record per run, framed as a dump is (one event, at most four words):
    /// the run ends with its fourth word (≤ 6.13, level 6: nothing follows), with the unit's next
    /// record that is not a word, or at the end of the input. A 6.14+ decoded line after the run
    /// is the same event and supersedes it: the decoded line counts (partial), the words are its.
    struct Orphan: OrphanRun {
        var words = 1
        var lines: OrphanLines
    }

    var units: [String: UnitState] = [:]
    static let maxUnits = 64

    var pendingSince: UInt64? { units.pendingSince }

    /// Nothing is held for detail lines of another family.
    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int) {}

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let dp = DevicePrefix.scan(&s) else { return false }
            guard s.bytesEqual(dp.driver, "arm-smmu-v3") else {
                // tegra241-cmdqv.c after it printed through `cmdqv->dev` (the CMDQV's own ACPI device,
                // not the SMMU): the unit is not named.
                guard s.looksAt(Self.cmdqvError) else { return false }
                out.append(.marker(.unitError(vendor: .armSMMUv3, unit: nil, what: "vcmdq-error"), of: r))
                return true
            }
            // Four of an event's five records find their unit pending: its faults then share one
            // String for the unit (a name like `arm-smmu-v3.0.auto` is too long to be stored inline).
            let (mine, evicted) = units.withPendingUnit(
                named: UnsafeBufferPointer(rebasing: b[dp.device]), limit: Self.maxUnits,
                makeName: { s.string(dp.device) }
            ) { unit, st in
                Self.consume(&s, unit: unit, state: &st, record: r, into: &out)
            }
            if let evicted { Self.abandon(evicted.state, of: evicted.unit, into: &out) }
            return mine
        }
    }

    private static func consume(
        _ s: inout ByteScanner, unit: String, state st: inout UnitState, record r: KmsgRecord,
        into out: inout [ClassifierOutput]
    ) -> Bool {
        let secondLineDue = st.decodedSecondLineDue
        st.decodedSecondLineDue = false
        st.decodedSeq = nil
        if st.orphan != nil, !Self.isDword(s), !s.looksAt("event: ") { st.orphan.end(.armSMMUv3, into: &out) }
        if s.skip("event 0x") {
            guard let id = s.hex(maxDigits: 2), s.skip(" received:"), s.atEndIgnoringSpaces else {
                return false
            }
            releaseAwaiting(unit: unit, state: &st, into: &out)
            if let stale = st.open { out.append(.fault(Self.partialFault(stale, unit: unit))) }
            st.releasedSID = nil
            // Room for the four word records at once: the words and the text then grow in place.
            var g = RawGroup(
                id: UInt8(id), level: r.level, firstSeq: r.seq, lastSeq: r.seq,
                lastTimestamp: r.timestampUsec,
                text: r.text)
            g.dwords.reserveCapacity(4)
            g.text.reserveCapacity(5 * (r.text.utf8.count + 1))
            st.open = g
            return true
        }
        if Self.skipIndent(&s) {
            if s.skip("0x") {
                guard let word = s.hex(maxDigits: 16), s.atEndIgnoringSpaces else { return false }
                if st.commandWords > 0 {
                    st.commandWords -= 1  // a command of `skipping command in error state:`
                    return true
                }
                guard var g = st.open else {
                    addOrphan(word: r, level: r.level, state: &st, into: &out)
                    return true
                }
                st.open = nil  // g is then the only holder of its words and text
                g.dwords.append(word)
                g.text += "\n"
                g.text += r.text
                g.lastSeq = r.seq ?? g.lastSeq
                g.lastTimestamp = r.timestampUsec ?? g.lastTimestamp
                if g.dwords.count < 4 {
                    st.open = g
                    return true
                }
                st.open = nil
                if g.level >= 6 {
                    out.append(.fault(Self.fault(g, unit: unit)))  // ≤6.13: nothing follows
                } else {
                    st.awaiting = g  // 6.14+: the decoded line follows
                }
                return true
            }
            if s.skip("sid 0x") {
                let header = st.pri
                st.pri = nil
                let text = header.map { $0.text + "\n" + r.text } ?? r.text
                guard let f = Self.priRequest(&s, unit: unit, record: r, text: text) else {
                    out.append(.unparsed(vendor: .armSMMUv3, text: text, seq: r.seq))
                    return true
                }
                out.append(.fault(f))
                return true
            }
            return false
        }
        if s.looksAt("event: ") {
            guard let d = ArmSMMUv3Events.parseDecoded(&s) else { return false }
            if let g = st.awaiting {
                st.awaiting = nil
                var f = Self.fault(g, unit: unit)
                f.device = d.client
                f.master = d.master
                f.seq = r.seq ?? f.seq
                f.timestampUsec = r.timestampUsec ?? f.timestampUsec
                f.text = g.text + "\n" + r.text
                out.append(.fault(f))
            } else if let sid = st.releasedSID, UInt64(sid) == d.sid {
                st.releasedSID = nil  // its raw dump was already counted at the last flush
            } else {
                // No raw dump before it (6.14+ prints one first, from the same call): its records
                // were lost or not pasted. The line alone names the event, so it is the fault —
                // partial. A dump cut short, or words without their header, are superseded by it.
                var text = r.text
                if let o = st.orphan { text = o.lines.text + "\n" + r.text }
                st.open = nil
                st.orphan = nil
                var f = ArmSMMUv3Events.fault(decoded: d, unit: unit, seq: r.seq, ts: r.timestampUsec, text: text)
                f.partial = true
                out.append(.fault(f))
            }
            if d.iova != nil {
                st.decodedSecondLineDue = true
                st.decodedSeq = r.seq
            }
            return true
        }
        if s.looksAt("priv ") || s.looksAt("unpriv ") {
            // The second decoded line (dw1 again): detail of the line before it. Alone, it only
            // says one of the four translation events happened, not which: unparsed.
            guard s.find(" stag: ") != nil else { return false }
            if !secondLineDue { out.append(.unparsed(vendor: .armSMMUv3, text: r.text, seq: r.seq)) }
            return true
        }
        if s.looksAt(Self.cmdqvError) {
            // drivers/iommu/arm/arm-smmu-v3/tegra241-cmdqv.c tegra241_cmdqv_isr() (6.12+): an error of
            // the virtual command queues (kernel-formats.md 3.1, "Other SMMUv3 messages").
            out.append(.marker(.unitError(vendor: .armSMMUv3, unit: unit, what: "vcmdq-error"), of: r))
            return true
        }
        if s.skip("unexpected PRI request received:") {
            if let stale = st.pri {
                out.append(.unparsed(vendor: .armSMMUv3, text: stale.text, seq: stale.seq))
            }
            st.pri = (r.seq, r.text)
            return true
        }
        if s.skip("skipping command in error state:") {
            st.commandWords = 2
            return true
        }
        if s.skip("retrying command fetch") { return true }
        if let marker = Self.unitMarker(&s, unit: unit) {
            out.append(.marker(marker, of: r))
            return true
        }
        return false
    }

    /// `tegra241_cmdqv_isr()`'s line (dev_fmt `"tegra241_cmdqv: "`): `"unexpected error reported.
    /// vintf_map: %016llx, vcmdq_map: %016llx%016llx\n"` through `smmu->dev` (its first version, ~6.12),
    /// later `"unexpected error reported. %s\n"` with `"vintf_map: %016llx, vcmdq_map
    /// %08x:%08x:%08x:%08x"` through `cmdqv->dev`. The bad command itself is skipped by
    /// `__arm_smmu_cmdq_skip_err()`, whose `CMDQ error` line counts apart (`cmdq-error`).
    static let cmdqvError: StaticString = "tegra241_cmdqv: unexpected error reported. vintf_map: "

    /// A dword record (`\t0x%016llx`) is next.
    static func isDword(_ s: ByteScanner) -> Bool {
        var t = s
        return Self.skipIndent(&t) && t.looksAt("0x")
    }

    /// A dword with no open dump: added to the unit's run of orphan words (see `Orphan`).
    private static func addOrphan(
        word r: KmsgRecord, level: UInt8, state st: inout UnitState, into out: inout [ClassifierOutput]
    ) {
        if let o = st.orphan, o.words >= 4 { st.orphan.end(.armSMMUv3, into: &out) }  // a dump has four words
        var o: Orphan
        if var run = st.orphan {
            run.lines.add(r)
            run.words += 1
            o = run
        } else {
            o = Orphan(lines: OrphanLines(r))
        }
        st.orphan = o
        // ≤ 6.13 (level 6) nothing follows the fourth word; 6.14+ its decoded line may.
        if o.words >= 4, level >= 6 { st.orphan.end(.armSMMUv3, into: &out) }
    }

    /// Overflow and GERROR lines.
    static func unitMarker(_ s: inout ByteScanner, unit: String) -> Marker? {
        if s.skip("EVTQ overflow detected") {
            return .overflow(vendor: .armSMMUv3, unit: unit, log: "evtq")
        }
        if s.skip("PRIQ overflow detected") {
            return .overflow(vendor: .armSMMUv3, unit: unit, log: "priq")
        }
        let what: String
        if s.skip("unexpected global error reported (0x") {
            guard s.hex(maxDigits: 8) != nil, s.skip(")") else { return nil }
            what = "gerror"
        } else if s.skip("device has entered Service Failure Mode") {
            what = "service-failure"
        } else if s.looksAt("GERROR MSI write aborted") || s.looksAt("PRIQ MSI write aborted")
            || s.looksAt("EVTQ MSI write aborted") || s.looksAt("CMDQ MSI write aborted")
        {
            what = "msi-abort"
        } else if s.looksAt("PRIQ write aborted") || s.looksAt("EVTQ write aborted") {
            what = "queue-abort"
        } else if s.skip("CMDQ error (cons 0x") {
            guard s.hex(maxDigits: 8) != nil, s.skip("): ") else { return nil }
            what = "cmdq-error"
        } else {
            return nil
        }
        return .unitError(vendor: .armSMMUv3, unit: unit, what: what)
    }

    static func fault(_ g: RawGroup, unit: String) -> Fault {
        ArmSMMUv3Events.fault(
            id: g.id, dwords: g.dwords, unit: unit, seq: g.lastSeq, ts: g.lastTimestamp, text: g.text)
    }

    /// The tab that starts a dword or `sid` line — or, in a quote (a mail, a web page, a terminal
    /// copy), the spaces it became: then the line goes on with `0x` or `sid 0x` right after them.
    static func skipIndent(_ s: inout ByteScanner) -> Bool {
        if s.skip(byte: 0x09) { return true }
        var q = s
        q.skipSpaces()
        guard q.looksAt("0x") || q.looksAt("sid 0x") else { return false }
        s = q
        return true
    }

    /// `sid 0x%08x.0x%05x: [%u%s] %sprivileged %s%s%s access at iova 0x%016llx` (after the tab).
    static func priRequest(_ s: inout ByteScanner, unit: String, record r: KmsgRecord, text: String)
        -> Fault?
    {
        guard let sid = s.hex(maxDigits: 8), s.skip(".0x"), let ssid = s.hex(maxDigits: 5),
            s.skip(": ["),
            s.decimal() != nil
        else { return nil }
        let last = s.skip("L")
        guard s.skip("] ") else { return nil }
        let unprivileged = s.skip("un")
        guard s.skip("privileged ") else { return nil }
        let r0 = s.skip("R")
        let w0 = s.skip("W")
        let x0 = s.skip("X")
        guard s.skip(" access at iova 0x"), let iova = s.hex(maxDigits: 16), s.atEndIgnoringSpaces
        else { return nil }
        var f = Fault(
            vendor: .armSMMUv3, kind: "pri-request", recoverable: true, unit: unit, sourceID: UInt32(sid),
            address: iova, seq: r.seq, timestampUsec: r.timestampUsec, text: text)
        if ssid != 0 { f.pasid = UInt32(ssid) }
        if r0 != w0 { f.access = w0 ? .write : .read }
        f.reasonText = "Page request (PRI) denied: upstream Linux does not service PRI"
        f.detail =
            (unprivileged ? "unprivileged" : "privileged") + " " + (r0 ? "R" : "") + (w0 ? "W" : "")
            + (x0 ? "X" : "")
            + (last ? ", last in group" : "")
        return f
    }

    private static func releaseAwaiting(
        unit: String, state st: inout UnitState, into out: inout [ClassifierOutput]
    ) {
        if let g = st.awaiting {
            st.awaiting = nil
            out.append(.fault(Self.fault(g, unit: unit)))
        }
    }

    /// Idle: complete raw dumps stop waiting for their decoded line. Incomplete ones wait.
    mutating func flush(into out: inout [ClassifierOutput]) {
        for unit in units.keys.sorted() {
            guard var st = units[unit], let g = st.awaiting else { continue }
            st.awaiting = nil
            st.releasedSID = g.dwords.first.map { UInt32(truncatingIfNeeded: $0 >> 32) }
            out.append(.fault(Self.fault(g, unit: unit)))
            units[unit] = st
        }
    }

    /// End of input: also the groups cut short, as the faults they prove (`partial`).
    mutating func finish(into out: inout [ClassifierOutput]) {
        flush(into: &out)
        for unit in units.keys.sorted() { Self.abandon(units[unit]!, of: unit, into: &out) }
        units.removeAll()
    }

    /// A unit's groups, ended: what is complete as it is, what was cut short as the fault it proves.
    private static func abandon(_ st: UnitState, of unit: String, into out: inout [ClassifierOutput]) {
        if let g = st.awaiting { out.append(.fault(Self.fault(g, unit: unit))) }
        if let g = st.open { out.append(.fault(Self.partialFault(g, unit: unit))) }
        if let o = st.orphan { out.append(o.lines.unparsed(.armSMMUv3)) }
        if let p = st.pri {
            var f = Fault(
                vendor: .armSMMUv3, kind: "pri-request", recoverable: true, unit: unit, seq: p.seq, text: p.text)
            f.reasonText = "Page request (PRI) denied: upstream Linux does not service PRI"
            f.partial = true
            out.append(.fault(f))
        }
    }

    /// A raw dump cut short (its unit's next header came, or the input ended): the event id
    /// alone says what kind of fault it was; only what the words seen hold is filled in.
    static func partialFault(_ g: RawGroup, unit: String) -> Fault {
        var f = Self.fault(g, unit: unit)
        if g.dwords.count < 2 {
            f.access = nil
            f.recoverable = false
            f.detail = nil
        }
        if g.dwords.isEmpty {
            f.sourceID = nil
            f.pasid = nil
        }
        f.partial = true
        return f
    }
}
