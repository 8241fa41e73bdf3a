// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

extension Vendor {
    public static let intel = Vendor(rawValue: "intel")
}

/// The Intel VT-d family: what it declares (kernel-formats.md §1) and its parser below.
public enum IntelVTd {
    public static let descriptor = FamilyDescriptor(
        vendor: .intel, displayName: "Intel VT-d",
        // Every era's prefix (`dmar: `, `DMAR: `, `DMAR:[`), the status line's `DRHD`, the ≤4.6
        // `INTR-REMAP:` records, the PRQ lines' `dmarN`, and `prq_event_thread`, the one
        // ratelimited function without `dmar` in its name.
        words: [.anyCase("dmar"), .anyCase("drhd"), "INTR-REMAP", "prq_"],
        namingWords: [.anyCase("dmar"), .anyCase("drhd"), "INTR-REMAP"],
        // One static state in dmar_fault() covers every unit (c43fce4eebae, v4.7); the PRQ
        // lines are pr_info_ratelimited in prq_event_thread() / handle_bad_prq_event().
        ratelimitedFunctions: ["dmar_fault", "prq_event_thread", "handle_bad_prq_event"],
        // dmar_alloc_hwirq(): "dmar%d" for the fault event, "dmar%d-prq" for page requests
        // (and "dmar%d-perf" for the perfmon, not a fault vector).
        interrupts: [faultVector, .numbered("dmar", "-prq", unit: "dmar", vector: "prq")],
        otherKinds: [.dmaRead, .dmaWrite, .interruptRemapping, .pageRequest, .invalidationError])

    public static let family = FamilyCatalog.Family(descriptor) { _ in IntelVTdParser() }

    /// `dmar_fault()`'s fault event vector, `dmar%d`: the interrupts the estimator counts.
    static let faultVector = InterruptName.numbered("dmar", "", unit: "dmar", vector: "fault")
    /// The function whose one ratelimit state gates the status line and every record it prints.
    public static let faultHandlerFunction = "dmar_fault"
    /// What `dmar_fault()` prints behind that ratelimit (not page requests, not the QI errors).
    public static let ratelimitedKinds: Set<FaultKind> = [.dmaRead, .dmaWrite, .interruptRemapping]

    /// Whether a /proc/interrupts total is a unit's `dmar%d` fault vector.
    static func isFaultVector(_ key: InterruptKey) -> Bool {
        key.vector == faultVector.vector && key.unit.hasPrefix(faultVector.unitPrefix ?? faultVector.prefix)
    }
}

/// Intel VT-d messages, every era of kernel-formats.md §1. This file holds `dmar_fault()`'s
/// output (status line, DMA and interrupt-remapping records) and the v5.16+ page-table dump;
/// the invalidation queue is in IntelQueuedInvalidation.swift, page requests in
/// IntelPageRequest.swift, reason texts and owners in IntelFaultReasons.swift.
///
/// Formats, by the kernel that prints them (`dmar_fault_do_one()`):
/// * ≤ v4.6 (drivers/pci/intel-iommu.c, drivers/pci/dmar.c, drivers/iommu/dmar.c): ONE printk
///   with an embedded newline, `"DMAR:[%s] Request device [%02x:%02x.%d] fault addr %llx \n"
///   "DMAR:[fault reason %02d] %s\n"` and `"INTR-REMAP: Request device [[%02x:%02x.%d] fault
///   index %llx\nINTR-REMAP:[fault reason %02d] %s\n"`; pr_fmt prefix none (≤3.9), `dmar: `
///   (~3.10–4.0, KBUILD_MODNAME), `DMAR: ` (4.1+, giving `DMAR: DMAR:[`). /dev/kmsg keeps it as
///   one record (`\x0a`); dmesg/syslog text shows two lines, which this parser joins.
/// * v4.7–v5.3 (a0fe14d7dcf5): `"[%s] Request device [%02x:%02x.%d] fault addr %llx [fault
///   reason %02d] %s\n"`, `"[INTR-REMAP] Request device [%02x:%02x.%d] fault index %llx [fault
///   reason %02d] %s\n"` — reasons DECIMAL.
/// * v5.4–v5.13: `… [%02x:%02x.%d] PASID %x fault addr %llx …` (ffffffff = no PASID).
/// * v5.14 (719a19335692): `[%s NO_PASID]` / `[%s PASID 0x%x]`, `0x` on bus and device, hex
///   address, reason `0x%02x`.
/// * v5.15+ (Bjorn Helgaas, "drop 0x prefix from PCI bus & device addresses"): as 5.14
///   without the `0x` on the BDF. Vendor trees may add a `%04x:` segment (linux-ct).
/// * `"DRHD: handling fault status reg %x\n"` before the records: FSTS bit 0 (PFO) set means the
///   hardware dropped fault records; there is no other trace of that.
/// * v5.16+ with CONFIG_DMAR_DEBUG (914ff7719e8a, intel/iommu.c `dmar_fault_dump_ptes()`):
///   `"Dump %s table entries for IOVA 0x%llx\n"` right after a DMA record — the only place the
///   unit (`dmarN`) is named next to a fault — then root/context/pasid/pte lines
///   (IntelPageTableDump.swift: their order, the dump's last line, and what lines without their
///   DMA record count as).
///
/// RECOVERABLE (kernel-formats.md §8.1), decided here for Intel: everything `dmar_fault()`
/// prints — DMA and interrupt-remapping records — was aborted by the hardware, so these faults
/// are `recoverable: false`; so are QI errors (IntelQueuedInvalidation.swift). Only page requests
/// (IntelPageRequest.swift) are the recoverable path.
struct IntelVTdParser: FamilyParser {
    /// The first half of a ≤4.6 record pasted as two lines, waiting for `DMAR:[fault reason …]`.
    var pendingFirstLine: Fault?
    /// A DMA fault held for the `Dump dmarN table entries for IOVA …` line that may follow it
    /// (it names the unit). Released by the dump line, by the next Intel record, or by `flush`.
    var held: Fault?
    /// A page-request reason line (`IOMMU: dmarN: Address is not canonical`, …) waiting for the
    /// `dmarN: Invalid page request: …` line `handle_bad_prq_event()` prints right after it for
    /// the same request (IntelPageRequest.swift): a group of two records.
    var pendingPRQReason: Fault?
    /// The seq of a DMA fault released before its `Dump` line came (`flush`, another family's
    /// record): a dump that follows before the next Intel record is its, not one of its own.
    ///
    /// NOT pending: the dump is printed only with CONFIG_DMAR_DEBUG (distro kernels build without
    /// it), so after the reader went idle nothing says one will come, and nothing but the next
    /// Intel record would end the wait — keeping every DMA fault pending until then would hold the
    /// checkpoint before the last fault on every machine. So a restart between a fault and its
    /// `Dump` line (the daemon stopped in the microseconds between two printks, after the reader
    /// went idle there) reads that dump alone and counts it as one unparsed record. Once the
    /// `Dump` line came (`dump`), the resume point stays before the fault until the dump's last
    /// line, and a restart inside the dump counts nothing more.
    var released: FaultSeq?
    /// The seq of the fault a dump belongs to.
    struct FaultSeq: Sendable {
        var seq: UInt64?
    }
    /// The dump of a fault, under way (its `Dump` line came, or, that line lost, dump lines right
    /// after the fault): the lines that continue it are detail. Pending from the fault's seq until
    /// its last line, so a restart inside it re-reads the fault (not counting it again).
    var dump: (progress: PageTableDump, fault: FaultSeq)?
    /// Dump lines without their fault (see `PageTableDump`): one unparsed record per dump.
    struct OrphanDump: OrphanRun {
        var progress: PageTableDump
        var lines: OrphanLines
    }
    var orphan: OrphanDump?

    var pendingSince: UInt64? {
        [pendingFirstLine?.seq, held?.seq, pendingPRQReason?.seq, dump?.fault.seq, orphan?.lines.firstSeq]
            .compactMap { $0 }.min()
    }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        let start = out.count
        var dumpLine = false
        let mine = r.text.withBytes { b in consume(b, record: r, dumpLine: &dumpLine, into: &out) }
        if mine, !dumpLine {
            // Another Intel record: the dump before it, if any, is over.
            released = nil
            dump = nil
            orphan.end(.intel, into: &out, at: start)
        }
        return mine
    }

    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int) {
        releaseHeld(into: &out, at: index, dumpMayFollow: true)
    }

    private mutating func consume(
        _ b: UnsafeBufferPointer<UInt8>, record r: KmsgRecord, dumpLine: inout Bool,
        into out: inout [ClassifierOutput]
    ) -> Bool {
        var s = ByteScanner(b)
        let prefixed = Self.skipPrefix(&s)
        let legacy = Self.isLegacyRecord(b, at: s.position)
        let body = s.position

        // The second line of a pasted ≤4.6 record completes the pending first line.
        if let first = pendingFirstLine,
            s.looksAt("DMAR:[fault reason") || s.looksAt("INTR-REMAP:[fault reason")
                || s.looksAt("DMAR: [fault reason")
        {
            var f = first
            if Self.secondLineBody(&s, into: &f) {
                pendingFirstLine = nil
                f.text += "\n" + r.text
                f.seq = r.seq ?? f.seq
                f.timestampUsec = r.timestampUsec ?? f.timestampUsec
                Self.decorate(&f)
                out.append(.fault(f))
                return true
            }
            s.position = body
        }

        if prefixed, s.skip("Dump ") {
            // `Dump dmarN table entries for IOVA 0x…`: names the unit of the fault before it.
            let unitStart = s.position
            guard s.skip("dmar"), s.decimal() != nil else { return false }
            let unit = s.string(unitStart..<s.position)
            guard s.skip(" table entries for IOVA "), let iova = s.hexOptionalPrefix() else {
                return false
            }
            dumpLine = true
            orphan.end(.intel, into: &out)
            dump = nil
            if var f = held {
                held = nil
                if f.address == iova { f.unit = unit }
                out.append(.fault(f))
                dump = (.header, FaultSeq(seq: f.seq))
            } else if let fault = released {
                released = nil
                dump = (.header, fault)  // its fault was counted when the reader went idle
            } else {
                // No fault before it: the unit and IOVA, not the direction — a dump of its own.
                orphan = OrphanDump(progress: .header, lines: OrphanLines(r))
            }
            return true
        }
        if prefixed, let line = PageTableDump.Line(s) {
            // root/context/pasid/pte lines: detail of the dump under way, else of the fault just
            // printed (its `Dump` line lost), else a dump without its fault.
            dumpLine = true
            if var d = dump, d.progress.add(line) {
                dump = d.progress.isComplete ? nil : d
                return true
            }
            dump = nil
            if var o = orphan, o.progress.add(line) {
                o.lines.add(r)
                orphan = o
                if o.progress.isComplete { orphan.end(.intel, into: &out) }
                return true
            }
            orphan.end(.intel, into: &out)
            var progress = PageTableDump()
            _ = progress.add(line)
            if let fault = held.map({ FaultSeq(seq: $0.seq) }) ?? released {
                released = nil
                if !progress.isComplete { dump = (progress, fault) }
            } else {
                orphan = OrphanDump(progress: progress, lines: OrphanLines(r))
                if progress.isComplete { orphan.end(.intel, into: &out) }
            }
            return true
        }

        // The second line of a pasted ≤4.6 record whose first line is gone (not pasted, or lost).
        if s.looksAt("DMAR:[fault reason") || s.looksAt("INTR-REMAP:[fault reason")
            || s.looksAt("DMAR: [fault reason")
        {
            releaseHeld(into: &out)
            if pendingFirstLine != nil { abandonFirstLine(into: &out) }
            Self.loneSecondLine(&s, record: r, into: &out)
            return true
        }

        // Anything else of ours ends a hold: the dump follows its record immediately.
        let mine = Self.isIntelRecord(s)
        guard mine else { return false }
        releaseHeld(into: &out)
        if pendingFirstLine != nil {
            abandonFirstLine(into: &out)
        }
        if IntelPageRequest.looksLikePRQ(s) {
            return consumePRQ(&s, record: r, into: &out)
        }

        if s.skip("DRHD: handling fault status reg ") {
            guard let status = s.hex(maxDigits: 8), s.atEndIgnoringSpaces else { return false }
            // FSTS bit 0 = PFO (Primary Fault Overflow): fault records were lost in hardware. The
            // kernel clears it silently; this bit in the status line is the only trace. Other
            // bits (QI 0x10/0x20/0x40, PRO 0x80) are counted from their own lines.
            out.append(.marker(.faultStatus(vendor: .intel, status: UInt32(truncatingIfNeeded: status)), of: r))
            if status & 0x1 != 0 {
                out.append(.marker(.overflow(vendor: .intel, unit: nil, log: "fault"), of: r))
            }
            return true
        }
        if s.looksAt("[DMA ") {
            guard var f = Self.dmaFault(&s, record: r) else { return false }
            if f.reason == nil {
                // ≤4.6 pasted as text: the reason is on the next line. A later-era line that
                // ends early is mangled, not half of a pair.
                guard legacy else { return false }
                pendingFirstLine = f
                return true
            }
            Self.decorate(&f)
            if f.kind == .interruptRemapping {
                out.append(.fault(f))
            } else {
                held = f  // may be followed by its page-table dump (v5.16+)
            }
            return true
        }
        if s.looksAt("[INTR-REMAP]") || s.looksAt("INTR-REMAP: Request device") {
            guard var f = Self.interruptRemappingFault(&s, record: r) else { return false }
            if f.reason == nil {
                guard legacy else { return false }
                pendingFirstLine = f
                return true
            }
            Self.decorate(&f)
            out.append(.fault(f))
            return true
        }
        if IntelQueuedInvalidation.consume(&s, record: r, into: &out) { return true }
        return false
    }

    /// A page-request line: a reason line waits for its `Invalid page request` line, which then
    /// carries the fault (with the reason). The two come from one thread, one after the other;
    /// the unit's next page-request line, or another reason line, ends a reason line still waiting
    /// (another unit's lines, and other Intel records from interrupt context, may come between).
    private mutating func consumePRQ(
        _ s: inout ByteScanner, record r: KmsgRecord, into out: inout [ClassifierOutput]
    ) -> Bool {
        if let reason = IntelPageRequest.reasonLine(s, record: r) {
            abandonPRQReason(into: &out)
            pendingPRQReason = reason
            return true
        }
        let unit = IntelPageRequest.unitName(s)
        var emitted: [ClassifierOutput] = []
        guard IntelPageRequest.consume(&s, record: r, into: &emitted) else { return false }
        if let reason = pendingPRQReason, reason.unit == unit {
            if emitted.count == 1, case .fault(var f) = emitted[0], f.reasonText == IntelPageRequest.invalidRequest {
                // The reason line and its `Invalid page request` line: one bad request, one fault.
                pendingPRQReason = nil
                f.text = reason.text + "\n" + f.text
                f.reasonText = reason.reasonText
                out.append(.fault(f))
                return true
            }
            abandonPRQReason(into: &out)
        }
        out.append(contentsOf: emitted)
        return true
    }

    /// A reason line whose `Invalid page request` line did not follow (lost records, a paste that
    /// ends there): the line alone says a page request of that unit was refused, and why.
    private mutating func abandonPRQReason(into out: inout [ClassifierOutput]) {
        guard var f = pendingPRQReason else { return }
        pendingPRQReason = nil
        f.partial = true
        out.append(.fault(f))
    }

    /// The reader went idle: a held fault is emitted without the unit its dump would have named
    /// (a dump that still comes is its, `released`). A dump under way, or dump lines without
    /// their fault, wait for their next line.
    mutating func flush(into out: inout [ClassifierOutput]) {
        releaseHeld(into: &out, dumpMayFollow: true)
    }

    /// End of input: also the half of a pasted record whose second line never came, a
    /// page-request reason line whose `Invalid page request` line never came, and dump lines
    /// without their fault.
    mutating func finish(into out: inout [ClassifierOutput]) {
        releaseHeld(into: &out)
        if pendingFirstLine != nil { abandonFirstLine(into: &out) }
        abandonPRQReason(into: &out)
        released = nil
        dump = nil
        orphan.end(.intel, into: &out)
    }

    /// Emits the held fault (at `index` in `out`, to keep the input order, else at the end).
    /// `dumpMayFollow`: released before its `Dump` line could come (`flush`, another family's
    /// record): a dump that still follows is its (`released`).
    mutating func releaseHeld(
        into out: inout [ClassifierOutput], at index: Int? = nil, dumpMayFollow: Bool = false
    ) {
        guard let f = held else { return }
        held = nil
        if dumpMayFollow { released = FaultSeq(seq: f.seq) }
        if let index, index <= out.count {
            out.insert(.fault(f), at: index)
        } else {
            out.append(.fault(f))
        }
    }

    /// A pasted first line whose second line did not follow: the fault is real (the line names
    /// its kind, device and address), its reason lost — `partial`.
    private mutating func abandonFirstLine(into out: inout [ClassifierOutput]) {
        guard var f = pendingFirstLine else { return }
        pendingFirstLine = nil
        f.partial = true
        out.append(.fault(f))
    }

    /// The second line of a pasted ≤4.6 record alone: `INTR-REMAP:[fault reason NN] text`, or a
    /// reason of the interrupt-remapping table (0x20–0x26, `dmar_get_fault_reason()`), proves an
    /// interrupt-remapping fault — counted, `partial`, without device or index. A DMA reason does
    /// NOT give the kind: `dma-read` or `dma-write` comes from the record's T bit, printed only on
    /// the lost first line (`type ? "DMA Read" : "DMA Write"`), and guessing it from the reason text
    /// would invent what the kernel did not print — so that line counts as unparsed (Intel).
    static func loneSecondLine(_ s: inout ByteScanner, record r: KmsgRecord, into out: inout [ClassifierOutput]) {
        let intr = s.looksAt("INTR-REMAP:")
        var f = Fault(
            vendor: .intel, kind: .interruptRemapping, recoverable: false, seq: r.seq,
            timestampUsec: r.timestampUsec, text: r.text)
        guard secondLineBody(&s, into: &f), let code = f.reason,
            intr || IntelFaultReasons.table(for: code) == .interruptRemapping
        else {
            out.append(.unparsed(vendor: .intel, text: r.text, seq: r.seq))
            return
        }
        decorate(&f)
        f.partial = true
        out.append(.fault(f))
    }
}
