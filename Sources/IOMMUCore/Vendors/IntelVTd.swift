/// Intel VT-d messages from drivers/iommu/intel/dmar.c (`dmar_fault()`, `dmar_fault_do_one()`),
/// by era — kernel-formats.md §1. Adding a format: one fixture in Fixtures/intel/ and one case here.
///
/// Recoverable rule (§8.1): everything `dmar_fault()` prints — DMA and interrupt-remapping
/// records — was aborted by the hardware: non-recoverable. Only page requests (PRQ) are the
/// recoverable path.
struct IntelVTdParser: Sendable {
    /// First line of a ≤4.6 record pasted from dmesg (its `\n` split it in two lines).
    var pendingFirstLine: (fault: Fault, seq: UInt64?)?

    var pendingSince: UInt64? { pendingFirstLine?.seq }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        if var pending = pendingFirstLine {
            pendingFirstLine = nil
            if r.text.withBytes({ Self.secondLine($0, completing: &pending.fault) }) {
                pending.fault.text += "\n" + r.text
                pending.fault.seq = r.seq ?? pending.fault.seq
                out.append(.fault(pending.fault))
                return true
            }
            // The second line never came: keep what the first one said rather than drop it.
            out.append(.unparsed(vendor: .intel, text: pending.fault.text, seq: pending.seq))
        }
        return r.text.withBytes { bytes in
            var s = ByteScanner(bytes)
            Self.skipPrefix(&s)
            if s.skip("DRHD: handling fault status reg ") {
                guard let status = s.hex(maxDigits: 8) else { return false }
                // FSTS bit 0 = PFO (Primary Fault Overflow): fault records were lost in hardware.
                // The kernel clears it silently; this bit in the status line is the only trace.
                if status & 0x1 != 0 {
                    out.append(.marker(.overflow(vendor: .intel, unit: nil, log: "fault"), seq: r.seq))
                }
                return true
            }
            if s.looksAt("[DMA Read") || s.looksAt("[DMA Write") {
                guard var f = Self.dmaFault(&s, record: r) else { return false }
                if f.reason == nil {
                    // ≤4.6 pasted as text: the reason is on the next line.
                    pendingFirstLine = (f, r.seq)
                    return true
                }
                Self.decorate(&f)
                out.append(.fault(f))
                return true
            }
            if s.looksAt("[INTR-REMAP]") || s.looksAt("INTR-REMAP: Request device") {
                guard var f = Self.interruptRemappingFault(&s, record: r) else { return false }
                if f.reason == nil {
                    pendingFirstLine = (f, r.seq)
                    return true
                }
                Self.decorate(&f)
                out.append(.fault(f))
                return true
            }
            return false
        }
    }

    mutating func flush(into out: inout [ClassifierOutput]) {
        // A pasted first line waits for its second line across idle periods; nothing to flush.
    }

    /// `dmar: ` (~3.10–4.0 pr_fmt), `DMAR: ` (4.1+), and the per-record `DMAR:` that ≤4.6
    /// strings carried themselves (giving `DMAR: DMAR:[DMA Write]`).
    static func skipPrefix(_ s: inout ByteScanner) {
        _ = s.skip("dmar: ") || s.skip("DMAR: ")
        if s.looksAt("DMAR:[") || s.looksAt("DMAR: [") {
            _ = s.skip("DMAR:")
            s.skipSpaces()
        }
    }

    /// `[DMA Read|Write( NO_PASID| PASID 0x%x)?] Request device [BDF]( PASID %x)? fault addr
    /// [0x]%llx [fault reason [0x]NN] text` — every one-line era (4.7+) and the first line of
    /// the ≤4.6 form.
    static func dmaFault(_ s: inout ByteScanner, record r: KmsgRecord) -> Fault? {
        let isRead: Bool
        if s.skip("[DMA Read") {
            isRead = true
        } else if s.skip("[DMA Write") {
            isRead = false
        } else {
            return nil
        }
        var pasid: UInt32?
        if s.skip(" NO_PASID") {
            pasid = nil
        } else if s.skip(" PASID 0x") {
            guard let p = s.hex(maxDigits: 8) else { return nil }
            pasid = UInt32(p)
        }
        guard s.skip("] Request device ["), let device = PCIAddress.scan(&s), s.skip("] ") else { return nil }
        // v5.4–v5.13: `PASID %x`, ffffffff meaning none.
        if s.skip("PASID ") {
            guard let p = s.hex(maxDigits: 8) else { return nil }
            pasid = p == 0xffff_ffff ? nil : UInt32(p)
            s.skipSpaces()
        }
        guard s.skip("fault addr "), let address = s.hexOptionalPrefix() else { return nil }
        var f = Fault(
            vendor: .intel, kind: isRead ? .dmaRead : .dmaWrite, recoverable: false, device: device,
            address: address, pasid: pasid, access: isRead ? .read : .write, seq: r.seq,
            timestampUsec: r.timestampUsec, text: r.text)
        guard reasonTail(&s, into: &f) else { return nil }
        return f
    }

    /// `[INTR-REMAP] Request device [BDF] fault index [0x]%llx [fault reason [0x]NN] text`
    /// (4.7+) and ≤4.6's `INTR-REMAP: Request device [[BDF] fault index %llx` + second line.
    static func interruptRemappingFault(_ s: inout ByteScanner, record r: KmsgRecord) -> Fault? {
        if s.skip("[INTR-REMAP] Request device [") {
        } else if s.skip("INTR-REMAP: Request device [") {
            _ = s.skip("[")  // the doubled `[[` of the old string
        } else {
            return nil
        }
        guard let device = PCIAddress.scan(&s), s.skip("] fault index "), let index = s.hexOptionalPrefix()
        else { return nil }
        var f = Fault(
            vendor: .intel, kind: .interruptRemapping, recoverable: false, device: device, address: index,
            seq: r.seq, timestampUsec: r.timestampUsec, text: r.text)
        f.detail = "IRTE index " + hex0x(index)
        guard reasonTail(&s, into: &f) else { return nil }
        return f
    }

    /// After the address: ` [fault reason NN] text` on the same line, or (≤4.6) an embedded
    /// newline then `DMAR:[fault reason NN] text`, or the end of a pasted first line (reason
    /// left nil: the caller waits for the second line).
    static func reasonTail(_ s: inout ByteScanner, into f: inout Fault) -> Bool {
        s.skipSpaces()
        if s.isAtEnd { return true }
        if s.skip(byte: 0x0a) {
            return secondLineBody(&s, into: &f)
        }
        return reasonBracket(&s, into: &f)
    }

    /// `[fault reason 0x06] …` (5.14+, hex) or `[fault reason 06] …` (≤5.13, decimal).
    static func reasonBracket(_ s: inout ByteScanner, into f: inout Fault) -> Bool {
        guard s.skip("[fault reason ") else { return false }
        let code: UInt64?
        if s.skip("0x") {
            code = s.hex(maxDigits: 4)
        } else {
            code = s.decimal()
        }
        guard let code, code <= 0xffff, s.skip(byte: UInt8(ascii: "]")) else { return false }
        f.reason = UInt16(code)
        return true
    }

    /// The second line of the ≤4.6 form: `[dmar: |DMAR: ]DMAR:[fault reason 05] text` or
    /// `INTR-REMAP:[fault reason 37] text`.
    static func secondLineBody(_ s: inout ByteScanner, into f: inout Fault) -> Bool {
        _ = s.skip("dmar: ") || s.skip("DMAR: ")
        guard s.skip("DMAR:") || s.skip("INTR-REMAP:") else { return false }
        s.skipSpaces()
        return reasonBracket(&s, into: &f)
    }

    static func secondLine(_ bytes: UnsafeBufferPointer<UInt8>, completing f: inout Fault) -> Bool {
        var s = ByteScanner(bytes)
        guard secondLineBody(&s, into: &f) else { return false }
        decorate(&f)
        return true
    }

    /// Reason text and owner from the tables; reasons 0x20–0x26 are interrupt-remapping faults
    /// whatever bracket they came in (`dmar_get_fault_reason()`).
    static func decorate(_ f: inout Fault) {
        guard let code = f.reason else { return }
        f.reasonText = IntelFaultReasons.text(for: code)
        f.owner = IntelFaultReasons.owner(for: code)
        if IntelFaultReasons.table(for: code) == .interruptRemapping && f.kind != .interruptRemapping {
            f.kind = .interruptRemapping
            f.access = nil
        }
    }
}
