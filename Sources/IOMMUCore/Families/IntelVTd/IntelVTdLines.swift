// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

/// The Intel line decoders (the formats are listed in IntelVTd.swift and kernel-formats.md §1):
/// each takes the scanner at the record's text; `IntelVTdParser.consume` decides which applies.
extension IntelVTdParser {
    /// `dmar: ` (~3.10–4.0 pr_fmt), `DMAR: ` (4.1+), and the per-record `DMAR:` that ≤4.6
    /// strings carried themselves (giving `DMAR: DMAR:[DMA Write]`). True if a pr_fmt prefix
    /// was there.
    static func skipPrefix(_ s: inout ByteScanner) -> Bool {
        let prefixed = s.skip("dmar: ") || s.skip("DMAR: ")
        if s.looksAt("DMAR:[DMA ") || s.looksAt("DMAR: [DMA ") {
            _ = s.skip("DMAR:")
            s.skipSpaces()
        }
        return prefixed
    }

    /// The ≤4.6 string shapes — `DMAR:[DMA …` (the record's own `DMAR:` glued to the bracket)
    /// and `INTR-REMAP: Request device [[` — the only ones whose reason may be on a second line.
    static func isLegacyRecord(_ b: UnsafeBufferPointer<UInt8>, at position: Int) -> Bool {
        let s = ByteScanner(b, position: position)
        if s.looksAt("INTR-REMAP: Request device [") { return true }
        guard position >= 5 else { return false }
        return ByteScanner(b, position: position - 5).looksAt("DMAR:[DMA ")
    }

    /// Records this file or its QI/PRQ companions handle (cursor after the pr_fmt prefix).
    static func isIntelRecord(_ s: ByteScanner) -> Bool {
        s.looksAt("DRHD: ") || s.looksAt("[DMA ") || s.looksAt("[INTR-REMAP]")
            || s.looksAt("INTR-REMAP: ")
            || IntelQueuedInvalidation.looksLikeQI(s) || IntelPageRequest.looksLikePRQ(s)
    }

    /// `[DMA Read|Write( NO_PASID| PASID 0x%x)?] Request device [BDF]( PASID %x)? fault addr
    /// [0x]%llx [fault reason [0x]NN] text` — every one-line era (4.7+) and the first line of
    /// the ≤4.6 form (with or without its embedded second line).
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
        guard s.skip("] Request device ["), let device = PCIAddress.scan(&s), s.skip("] ") else {
            return nil
        }
        // v5.4–v5.13: `PASID %x`, ffffffff meaning none.
        if s.skip("PASID ") {
            guard let p = s.hex(maxDigits: 8), s.skip(byte: 0x20) else { return nil }
            pasid = p == 0xffff_ffff ? nil : UInt32(p)
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
    /// The index is an IRTE index, not an address: it goes to `detail`.
    static func interruptRemappingFault(_ s: inout ByteScanner, record r: KmsgRecord) -> Fault? {
        if s.skip("[INTR-REMAP] Request device [") {
        } else if s.skip("INTR-REMAP: Request device [") {
            _ = s.skip("[")  // the doubled `[[` of the old string
        } else {
            return nil
        }
        guard let device = PCIAddress.scan(&s), s.skip("] fault index "),
            let index = s.hexOptionalPrefix()
        else { return nil }
        var f = Fault(
            vendor: .intel, kind: .interruptRemapping, recoverable: false, device: device, seq: r.seq,
            timestampUsec: r.timestampUsec, text: r.text)
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
        guard let code, code <= 0xff, s.skip(byte: UInt8(ascii: "]")) else { return false }
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

    /// Reason text and owner from the tables; reasons 0x20–0x26 are interrupt-remapping faults
    /// whatever bracket they came in (`dmar_get_fault_reason()`).
    static func decorate(_ f: inout Fault) {
        guard let code = f.reason else { return }
        f.reasonText = IntelFaultReasons.text(for: code)
        f.owner = IntelFaultReasons.owner(for: code)
        if IntelFaultReasons.table(for: code) == .interruptRemapping && f.kind != .interruptRemapping {
            f.kind = .interruptRemapping
            f.access = nil
            f.address = nil
        }
    }
}
