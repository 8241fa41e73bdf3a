// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let armSMMU = Vendor(rawValue: "arm-smmu")
}

/// The ARM SMMUv1/v2 family with its Qualcomm and NVIDIA implementations (arm-smmu-qcom*.c,
/// arm-smmu-nvidia.c) and the Qualcomm downstream shapes: what it declares (kernel-formats.md
/// §3.2, §3.3, §11.16), its parser below, its line decoders in ArmSMMUv2Lines.swift. qcom_iommu.c
/// is a family of its own (QcomIOMMU).
public enum ArmSMMUv2 {
    public static let descriptor = FamilyDescriptor(
        vendor: .armSMMU, displayName: "ARM SMMUv2",
        words: [.anyCase("smmu")], namingWords: ["arm-smmu", "smmu"],
        ratelimitedFunctions: [
            "arm_smmu_context_fault", "arm_smmu_global_fault", "qcom_smmu_context_fault",
            "arm_smmu_print_context_fault_info", "nvidia_smmu_global_fault_inst", "nvidia_smmu_context_fault_bank",
        ],
        // arm_smmu_device_probe(): "arm-smmu global fault"; arm_smmu_init_domain_context():
        // "arm-smmu-context-fault".
        interrupts: [
            .fixed("arm-smmu global fault", vector: "global"), .fixed("arm-smmu-context-fault", vector: "context"),
        ],
        otherKinds: ["context-fault", "global-fault"], drivers: ["arm-smmu"])

    public static let family = FamilyCatalog.Family(descriptor) { _ in ArmSMMUv2Parser() }
}

/// ARM SMMUv1/v2 context and global faults — kernel-formats.md §3.2, §3.3, §11.16. Sources:
/// drivers/iommu/arm-smmu.c (≤ ~5.9) / drivers/iommu/arm/arm-smmu/arm-smmu.c, arm-smmu-qcom-debug.c,
/// arm-smmu-nvidia.c, verified in several versions:
/// * `arm_smmu_context_fault()`: 3.x–~4.x `"Unhandled context fault: iova=0x%08lx, fsynr=0x%x,
///   cb=%d\n"`; ~4.x–5.1 `"Unhandled context fault: fsr=0x%x, iova=0x%08lx, fsynr=0x%x, cb=%d\n"`;
///   5.2+ adds `cbfrsynra=0x%x, ` before `cb=`; 6.11+ (d525b0af0c3b,
///   `arm_smmu_print_context_fault_info()`) follows it with `"FSR    = %08x [...], SID=0x%x\n"`
///   and `"FSYNR0 = %08x [...]\n"` — decoded copies of the same registers, joined to the fault.
///   Qualcomm's debug handler (6.10: an `FSR` line with the old tokens, then soft/hard
///   iova-to-phys lines) and NVIDIA's per-instance handlers print the same first line.
/// * `arm_smmu_global_fault()`: `"Unexpected global fault, this could be serious\n"` or, with
///   bypass disabled and GFSR.USF, `"Blocked unknown Stream ID 0x%hx; boot with
///   \"arm-smmu.disable_bypass=0\" to allow, but this may have security implications\n"`, then
///   `"\tGFSR 0x%08x, GFSYNR0 0x%08x, GFSYNR1 0x%08x, GFSYNR2 0x%08x\n"`: one fault, joined per
///   device name. Where the two lines are ratelimited apart (≤5.1, NVIDIA) they fall out of step
///   in a storm: every GFSR line is a global fault, and so is a first line whose GFSR line never
///   came (the unit's next first line, or the end of the input, shows it) — both `partial`.
/// * Qualcomm downstream (Android msm-4.x `print_fault_regs()`, in no mainline kernel):
///   `"Unhandled arm-smmu context fault from %s!\n"` naming the MASTER, `"FAR    = 0x%016lx"`,
///   `"PAR    = 0x%pK"`, `"FSR    = 0x%08x [TF W …]"` — the FSR record carries the fault; msm-3.x
///   prints the context-fault line with the fields in another order.
/// * `"TLB sync timed out -- SMMU may be deadlocked"` (`__arm_smmu_tlb_sync()`,
///   `qcom_smmu_tlb_sync_debug()`): a unit error.
/// StreamID: `cbfrsynra & 0xffff`, or GFSYNR1 & 0xffff when GFSR.USF (0x2) is set. FSYNR0 WNR
/// (0x10) → write, else read. Owner: FSR.TF/PF → driver; GFSR.USF → firmware (§8.2).
///
/// RECOVERABLE (kernel-formats.md §8.1), decided here for SMMUv2: FSR.SS (bit 30) means the
/// context bank stalled the transaction (stall model) and it can be resumed → `recoverable:
/// true`; everything else (terminate model, global faults, and the 3.x line without fsr=) is
/// `recoverable: false`.
struct ArmSMMUv2Parser: FamilyParser {
    struct UnitState: PendingUnitState {
        /// A context fault held for its follow-up lines (FSR, FSYNR0, Qualcomm's walk lines).
        var held: Fault?
        var heldLines = 0
        /// The held fault's FSR / FSYNR0 line came: another one belongs to another fault.
        var heldHasFSR = false
        var heldHasFSYNR0 = false
        /// A global-fault first line waiting for its `\tGFSR` line.
        var global: Fault?
        /// A downstream `…context fault from <master>!` group waiting for its FSR record (its seq
        /// that of its last record so far), and where it began.
        var downstream: Fault?
        var downstreamSince: UInt64?
        /// A held fault released by `flush` before its FSR / FSYNR0 lines came (the reader
        /// caught the kernel between two printks): those lines, when they come, are its own,
        /// not a fault of their own. true: that line came.
        var released: (fsr: Bool, fsynr0: Bool)?

        var isEmpty: Bool { held == nil && global == nil && downstream == nil && released == nil }
        var since: UInt64? { [held?.seq, global?.seq, downstreamSince].compactMap { $0 }.min() }
    }

    var units: [String: UnitState] = [:]
    /// Some unit may hold a context fault (cleared when `releaseHeld` found none): another
    /// family's record, which comes far more often, then costs no look at the units.
    var mayHold = false
    static let maxUnits = 16
    /// Follow-up lines joined to one held fault at most (6.11+ prints 2, Qualcomm's debug 5).
    static let maxHeldLines = 16

    var pendingSince: UInt64? { units.pendingSince }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            guard let dp = DevicePrefix.scan(&s), s.bytesEqual(dp.driver, "arm-smmu") else { return false }
            let (mine, evicted) = units.withPendingUnit(
                named: UnsafeBufferPointer(rebasing: b[dp.device]), limit: Self.maxUnits,
                makeName: { s.string(dp.device) }
            ) { unit, st in
                (Self.consume(&s, unit: unit, state: &st, record: r, into: &out), st.held != nil)
            }
            if mine.1 { mayHold = true }
            if let evicted { Self.end(evicted.state, into: &out) }
            return mine.0
        }
    }

    private static func consume(
        _ s: inout ByteScanner, unit: String, state st: inout UnitState, record r: KmsgRecord,
        into out: inout [ClassifierOutput]
    ) -> Bool {
        if s.skip("Unhandled context fault: ") {
            guard let f = ArmSMMUv2Lines.contextFault(&s, unit: unit, record: r) else { return false }
            release(&st, into: &out)
            st.released = nil
            st.held = f
            return true
        }
        if s.skip("Unhandled arm-smmu context fault from ") {
            release(&st, into: &out)
            st.released = nil
            if let stale = st.downstream { out.append(.fault(partial(stale))) }
            st.downstream = ArmSMMUv2Lines.downstreamHeader(&s, unit: unit, record: r)
            st.downstreamSince = r.seq
            return true
        }
        if s.looksAt("FSR    = ") {
            if var d = st.downstream {
                // The downstream group's FSR record carries its fault.
                st.downstream = nil
                st.downstreamSince = nil
                d.text += "\n" + r.text
                guard ArmSMMUv2Lines.downstreamFSR(&s, into: &d) else {
                    out.append(.unparsed(vendor: .armSMMU, text: d.text, seq: r.seq))
                    return true
                }
                d.seq = r.seq
                d.timestampUsec = r.timestampUsec ?? d.timestampUsec
                out.append(.fault(d))
                return true
            }
            if st.held != nil, st.heldHasFSR { release(&st, into: &out) }
            if st.held != nil {
                follow(&st, s, record: r, into: &out)
                st.heldHasFSR = true
                return true
            }
            if let rel = st.released, !rel.fsr {
                st.released = (true, rel.fsynr0)
                return true
            }
            st.released = nil
            // Its first line is gone (lost records, a paste that begins here): the fault it proves —
            // the 6.10/6.11+ line with its SID, or the downstream (`FSR    = 0x%08x [TF W …]`) and
            // msm-3.x (`FSR    = %08x [TF ]`) record whose header and FAR lines are gone. A line of
            // that name that none of them reads is still an SMMU fault's: unparsed, never dropped.
            var lone = s
            guard
                var f = ArmSMMUv2Lines.loneFSR(&lone, unit: unit, record: r)
                    ?? ArmSMMUv2Lines.loneDownstreamFSR(&s, unit: unit, record: r)
            else {
                out.append(.unparsed(vendor: .armSMMU, text: r.text, seq: r.seq))
                return true
            }
            f.partial = true
            st.held = f
            st.heldHasFSR = true
            return true
        }
        if s.looksAt("FSYNR0 = ") || s.looksAt("FSYNR0    = ") {
            if st.held != nil, st.heldHasFSYNR0 { release(&st, into: &out) }
            if st.held != nil {
                follow(&st, s, record: r, into: &out)
                st.heldHasFSYNR0 = true
            } else if let rel = st.released, !rel.fsynr0 {
                st.released = rel.fsr ? nil : (false, true)
            } else if st.downstream == nil, var f = ArmSMMUv2Lines.loneFSYNR0(&s, unit: unit, record: r) {
                f.partial = true
                st.held = f
                st.heldHasFSYNR0 = true
            }
            return true
        }
        if s.looksAt("FAR    = ") {
            if st.downstream != nil {
                ArmSMMUv2Lines.downstreamFAR(&s, into: &st.downstream!, record: r)
                if let seq = r.seq { st.downstream!.seq = seq }
            } else {
                follow(&st, s, record: r, into: &out)
            }
            return true
        }
        if ArmSMMUv2Lines.isDetail(s) {
            if st.downstream != nil {
                st.downstream!.text += "\n" + r.text
                if let seq = r.seq { st.downstream!.seq = seq }
            } else {
                follow(&st, s, record: r, into: &out)
            }
            return true
        }
        if s.looksAt("Unexpected global fault") || s.looksAt("Blocked unknown Stream ID 0x") {
            release(&st, into: &out)
            if let stale = st.global { out.append(.fault(partial(stale))) }
            st.global = ArmSMMUv2Lines.globalHeader(&s, unit: unit, record: r)
            return true
        }
        if Self.skipGFSR(&s) {
            release(&st, into: &out)
            let header = st.global
            st.global = nil
            let text = header.map { $0.text + "\n" + r.text } ?? r.text
            guard var f = ArmSMMUv2Lines.gfsr(&s, unit: unit, record: r, text: text) else {
                out.append(.unparsed(vendor: .armSMMU, text: text, seq: r.seq))
                return true
            }
            // Without its first line (ratelimited apart, or not pasted) it is still one fault.
            f.partial = header == nil
            out.append(.fault(f))
            return true
        }
        if s.looksAt("TLB sync timed out") {
            release(&st, into: &out)
            out.append(.marker(.unitError(vendor: .armSMMU, unit: unit, what: "tlb-sync-timeout"), of: r))
            return true
        }
        return false
    }

    /// A follow-up line of the held context fault: joined to it (its text, and what it decodes).
    private static func follow(
        _ st: inout UnitState, _ s: ByteScanner, record r: KmsgRecord, into out: inout [ClassifierOutput]
    ) {
        guard var f = st.held else { return }
        var line = s
        ArmSMMUv2Lines.addFollowUp(&line, to: &f)
        f.text += "\n" + r.text
        st.held = f
        st.heldLines += 1
        if st.heldLines >= maxHeldLines { release(&st, into: &out) }
    }

    private static func release(_ st: inout UnitState, into out: inout [ClassifierOutput]) {
        if let f = st.held { out.append(.fault(f)) }
        st.held = nil
        st.heldLines = 0
        st.heldHasFSR = false
        st.heldHasFSYNR0 = false
    }

    private static func partial(_ f: Fault) -> Fault {
        var p = f
        p.partial = true
        return p
    }

    /// A unit's groups, ended: what is held is emitted, unfinished groups as the faults they prove.
    private static func end(_ st: UnitState, into out: inout [ClassifierOutput]) {
        if let f = st.held { out.append(.fault(f)) }
        if let g = st.global { out.append(.fault(partial(g))) }
        if let d = st.downstream { out.append(.fault(partial(d))) }
    }

    /// Another family spoke: held context faults are released where they belong in the input
    /// order (their follow-ups, should they still come, are recognised as theirs).
    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int) {
        releaseHeld(into: &out, at: index)
    }

    /// Idle: held context faults are complete. First lines waiting for the rest of their group
    /// stay (the reader may have caught the kernel between two printks).
    mutating func flush(into out: inout [ClassifierOutput]) {
        releaseHeld(into: &out, at: nil)
    }

    private mutating func releaseHeld(into out: inout [ClassifierOutput], at index: Int?) {
        guard mayHold else { return }
        mayHold = false
        var released: [ClassifierOutput] = []
        var emptied: [String] = []
        var i = units.startIndex
        while i != units.endIndex {
            if units.values[i].held != nil {
                Self.releaseAfterIdle(&units.values[i], into: &released)
                if units.values[i].isEmpty { emptied.append(units.keys[i]) }
            }
            i = units.index(after: i)
        }
        for unit in emptied { units[unit] = nil }
        guard !released.isEmpty else { return }
        released.sort { ($0.seq ?? 0, $0.unitName) < ($1.seq ?? 0, $1.unitName) }
        if let index, index <= out.count {
            out.insert(contentsOf: released, at: index)
        } else {
            out.append(contentsOf: released)
        }
    }

    /// Released before its follow-ups came: they will be recognised as its own.
    private static func releaseAfterIdle(_ st: inout UnitState, into out: inout [ClassifierOutput]) {
        if !(st.heldHasFSR && st.heldHasFSYNR0) { st.released = (st.heldHasFSR, st.heldHasFSYNR0) }
        release(&st, into: &out)
    }

    /// End of input: every group with what it has.
    mutating func finish(into out: inout [ClassifierOutput]) {
        for unit in units.keys.sorted() { Self.end(units[unit]!, into: &out) }
        units.removeAll()
    }
}

extension ArmSMMUv2Parser {
    /// `\tGFSR 0x` — or, in a quote (a mail, a web page), the spaces the tab became.
    static func skipGFSR(_ s: inout ByteScanner) -> Bool {
        if s.skip("\tGFSR 0x") { return true }
        var q = s
        q.skipSpaces()
        guard q.skip("GFSR 0x") else { return false }
        s = q
        return true
    }
}
