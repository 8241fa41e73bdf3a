/// The inside of an AMD `Event logged [...]`: event names, `key=value` fields, IO_PAGE_FAULT
/// flags (kernel-formats.md §2.3, AMD IOMMU spec "IO_PAGE_FAULT Event") and the likely owner per
/// event type (§8.2 — asserted only where the table gives one answer).
///
/// Names and fields as `iommu_print_event()` prints them (drivers/iommu/amd/iommu.c, event codes
/// 0x1–0x9, 0xd, 0xe); the field separator is a space, or `, ` in the RMP events; widths vary by
/// era (`address=0x%016llx` ≤ ~5.9, `0x%llx` later; `pasid=0x%05x` / `0x%04x`), so values are
/// read as hex of any width.
enum AMDEventDecoder {
    // IO_PAGE_FAULT flags, `(event[1] >> 16) & 0xfff`.
    static let gn: UInt64 = 0x001  // guest/PASID request: domain= is a PASID
    static let nx: UInt64 = 0x002
    static let us: UInt64 = 0x004  // user when set
    static let interrupt: UInt64 = 0x008  // EVENT_FLAG_I: MSI hit the interrupt range
    static let present: UInt64 = 0x010
    static let write: UInt64 = 0x020  // EVENT_FLAG_RW
    static let permission: UInt64 = 0x040
    static let reserved: UInt64 = 0x080
    static let translation: UInt64 = 0x100  // ATS translation request

    /// The event types `iommu_print_event()` names, in event-code order (the AMD IOMMU spec's
    /// event log, codes 0x1–0x9, 0xd, 0xe), with what each means and, where kernel-formats.md
    /// §8.2 gives one answer, who has to fix it. The kernel prints `UNKNOWN` for other codes.
    static let events: [EventDescriptor] = [
        EventDescriptor(
            "ILLEGAL_DEV_TABLE_ENTRY", code: 0x1, reasonText: "Illegal device table entry",
            // 6.x dev_err "Control Reg : 0x%llx", then dump_dte_entry() "DTE[%d]: %016llx" x4.
            followUps: FollowUpLines("DTE[", count: 4, extra: ["Control Reg : 0x"])),
        EventDescriptor("IO_PAGE_FAULT", code: 0x2, reasonText: "Page fault"),
        EventDescriptor(
            "DEV_TAB_HARDWARE_ERROR", code: 0x3, reasonText: "Device table hardware error", owner: .hardware),
        EventDescriptor(
            "PAGE_TAB_HARDWARE_ERROR", code: 0x4, reasonText: "Page table hardware error", owner: .hardware),
        EventDescriptor(
            "ILLEGAL_COMMAND_ERROR", code: 0x5, reasonText: "Illegal command", owner: .iommuDriver,
            // dump_command(): "CMD[%d]: %08x" x4.
            followUps: FollowUpLines("CMD[", count: 4)),
        EventDescriptor(
            "COMMAND_HARDWARE_ERROR", code: 0x6, reasonText: "Command hardware error", owner: .hardware),
        EventDescriptor(
            "IOTLB_INV_TIMEOUT", code: 0x7,
            reasonText: "IOTLB invalidation timeout (ATS device not responding)"),
        EventDescriptor("INVALID_DEVICE_REQUEST", code: 0x8, reasonText: "Invalid device request"),
        EventDescriptor(
            "INVALID_PPR_REQUEST", code: 0x9, reasonText: "Invalid page request (PPR refused by the IOMMU)"),
        EventDescriptor("RMP_PAGE_FAULT", code: 0xd, reasonText: "RMP page fault (SEV-SNP ownership)"),
        EventDescriptor("RMP_HW_ERROR", code: 0xe, reasonText: "RMP hardware error", owner: .hardware),
        // Any other code: `UNKNOWN event[0]=0x%08x … event[3]=0x%08x` (≤4.8 `UNKNOWN type=0x%02x]`).
        EventDescriptor("UNKNOWN", kind: "unknown-event", reasonText: "Unknown event"),
    ]

    /// The event whose name is at the cursor (followed by a space, `]` or the end), if any.
    static func knownEvent(at s: ByteScanner, in events: [EventDescriptor]) -> EventDescriptor? {
        for e in events {
            var t = s
            if t.skip(text: e.name), t.isAtEnd || t.peek == 0x20 || t.peek == UInt8(ascii: "]") { return e }
        }
        return nil
    }

    /// The `key=value` fields of one event line.
    struct Fields: Sendable {
        var event: EventDescriptor
        var device: PCIAddress?
        var domain: UInt64?
        var pasid: UInt64?
        var address: UInt64?
        var flags: UInt64?
        var tag: UInt64?
        var vmgTag: UInt64?
        var gpa: UInt64?
        var spa: UInt64?
        var flagsRMP: UInt64?
        /// UNKNOWN's raw words, as printed.
        var raw: String?
    }

    /// `NAME key=value …]`; nil when the name is unknown or a field is mangled or truncated.
    static func scanFields(_ s: inout ByteScanner, events: [EventDescriptor]) -> Fields? {
        guard let event = knownEvent(at: s, in: events) else { return nil }
        _ = s.skip(text: event.name)
        if event.code == nil {
            // UNKNOWN event[0]=0x%08x … (no closing bracket), ≤4.8 `UNKNOWN type=0x%02x]`.
            s.skipSpaces()
            return Fields(event: event, raw: s.rest)
        }
        var f = Fields(event: event)
        var count = 0
        while true {
            s.skipSpaces()
            if s.skip(byte: UInt8(ascii: "]")) { break }
            guard !s.isAtEnd else { return nil }  // truncated: no closing bracket
            let keyStart = s.position
            while let c = s.peek,
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || c == UInt8(ascii: "_")
            {
                s.position += 1
            }
            let key = keyStart..<s.position
            guard !key.isEmpty, s.skip(byte: UInt8(ascii: "=")) else { return nil }
            if s.bytesEqual(key, "device") {
                guard let d = PCIAddress.scan(&s) else { return nil }
                f.device = d
            } else {
                guard let v = s.hexOptionalPrefix() else { return nil }
                if s.bytesEqual(key, "domain") {
                    f.domain = v
                } else if s.bytesEqual(key, "pasid") {
                    f.pasid = v
                } else if s.bytesEqual(key, "address") {
                    f.address = v
                } else if s.bytesEqual(key, "flags") {
                    f.flags = v
                } else if s.bytesEqual(key, "tag") {
                    f.tag = v
                } else if s.bytesEqual(key, "vmg_tag") {
                    f.vmgTag = v
                } else if s.bytesEqual(key, "gpa") {
                    f.gpa = v
                } else if s.bytesEqual(key, "spa") {
                    f.spa = v
                } else if s.bytesEqual(key, "flags_rmp") {
                    f.flagsRMP = v
                }
            }
            count += 1
            _ = s.skip(byte: UInt8(ascii: ","))
            guard s.peek == 0x20 || s.peek == UInt8(ascii: "]") else { return nil }
        }
        return count > 0 ? f : nil
    }

    /// Fills address, PASID, access, reason text, owner and detail from the fields: what the
    /// event's descriptor says, then what only some events carry.
    static func decode(_ f: inout Fault, fields: Fields) {
        f.address = fields.address ?? fields.gpa ?? fields.spa
        if let p = fields.pasid { f.pasid = UInt32(truncatingIfNeeded: p) }
        f.reasonText = fields.event.reasonText
        f.owner = fields.event.owner
        let flags = fields.flags
        switch fields.event.name {
        case "IO_PAGE_FAULT":
            decodePageFault(&f, flags: flags, domain: fields.domain)
        case "ILLEGAL_DEV_TABLE_ENTRY":
            // Owner: the IOMMU driver or IVRS (firmware): left open.
            if let flags { f.access = flags & write != 0 ? .write : .read }
        case "RMP_PAGE_FAULT":
            if let t = fields.vmgTag, let r = fields.flagsRMP {
                f.detail = "vmg_tag " + hex0x(t) + ", flags_rmp " + hex0x(r)
            }
        case "UNKNOWN":
            f.detail = fields.raw
        default:
            break
        }
        if f.detail == nil, let flags { f.detail = "flags " + hex0x(flags, width: 4) }
    }

    /// IO_PAGE_FAULT: RW 0x020 → write else read; I 0x008 → an interrupt request, no memory
    /// access (and two possible owners); GN 0x001 → `domain=` is the PASID.
    static func decodePageFault(_ f: inout Fault, flags: UInt64?, domain: UInt64?) {
        guard let flags else {
            f.owner = .driver
            return
        }
        if flags & gn != 0, let d = domain { f.pasid = UInt32(truncatingIfNeeded: d) }
        // One String, grown in place (every AMD page fault has one).
        var detail = "flags "
        detail.reserveCapacity(96)
        detail += hex0x(flags, width: 4)
        detail += ": "
        if flags & interrupt != 0 { detail += "interrupt request, " }
        detail += flags & write != 0 ? "write" : "read"
        detail += flags & us != 0 ? ", user" : ", supervisor"
        detail += flags & present != 0 ? ", page present" : ", page not present"
        if flags & permission != 0 { detail += ", permission violation" }
        if flags & reserved != 0 { detail += ", reserved bit set" }
        if flags & nx != 0 { detail += ", no-execute" }
        if flags & translation != 0 { detail += ", ATS translation request" }
        if flags & gn != 0 { detail += ", guest (PASID) request" }
        f.detail = detail
        if flags & interrupt != 0 {
            f.reasonText = "Interrupt request without a valid remapping entry"
            f.access = nil  // driver teardown race or IVRS: owner left open
            return
        }
        f.access = flags & write != 0 ? .write : .read
        if flags & reserved != 0 {
            f.reasonText = "Reserved bit set or illegal level in a page table entry"
            f.owner = .iommuDriver
        } else if flags & present != 0 {
            f.reasonText = "Permission violation on a present page"
            f.owner = .driver
        } else {
            f.reasonText = "Page not present"
            f.owner = .driver
        }
        // The HyperTransport / interrupt / system-management window: firmware or platform.
        if let a = f.address, a >= 0xfd_f800_0000, a <= 0xfd_ffff_ffff { f.owner = .firmware }
    }

    /// 6.x `"  device=%04x:%02x:%02x.%x domain=0x%04x\n"` after `Event logged [Device not
    /// attached to domain properly]`: an IO_PAGE_FAULT of a device the driver knows but that has
    /// no domain; the address is not printed.
    static func notAttached(_ s: inout ByteScanner, unit: String?, record r: KmsgRecord, text: String)
        -> Fault?
    {
        guard s.skip("device="), let device = PCIAddress.scan(&s), s.skip(" domain="),
            s.hexOptionalPrefix() != nil,
            s.atEndIgnoringSpaces
        else { return nil }
        var f = Fault(
            vendor: .amd, kind: "io-page-fault", recoverable: false,
            device: device,
            unit: unit, seq: r.seq, timestampUsec: r.timestampUsec, text: text)
        f.reasonText = "Device not attached to domain properly"
        return f
    }
}
