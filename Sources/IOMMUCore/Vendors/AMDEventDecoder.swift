/// Meaning of AMD event-log entries: IO_PAGE_FAULT flags (kernel-formats.md §2.3) and the likely
/// owner per event type (§8.2).
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

    static func decode(_ f: inout Fault, name: String, fields: AMDEventFields) {
        if let p = fields.pasid { f.pasid = UInt32(truncatingIfNeeded: p) }
        let flags = fields.flags
        switch name {
        case "IO_PAGE_FAULT":
            guard let flags else {
                f.owner = .driver
                return
            }
            f.access = flags & write != 0 ? .write : .read
            if flags & gn != 0, let d = fields.domain { f.pasid = UInt32(truncatingIfNeeded: d) }
            var words: [String] = []
            if flags & interrupt != 0 { words.append("interrupt request") }
            words.append(flags & write != 0 ? "write" : "read")
            words.append(flags & us != 0 ? "user" : "supervisor")
            if flags & present != 0 { words.append("page present") } else { words.append("page not present") }
            if flags & permission != 0 { words.append("permission violation") }
            if flags & reserved != 0 { words.append("reserved bit set") }
            if flags & nx != 0 { words.append("no-execute") }
            if flags & translation != 0 { words.append("ATS translation request") }
            if flags & gn != 0 { words.append("guest (PASID) request") }
            f.detail = "flags " + hex0x(flags, width: 4) + ": " + words.joined(separator: ", ")
            if flags & interrupt != 0 {
                f.reasonText = "Interrupt request without a valid remapping entry"
                f.owner = .driver
            } else if flags & reserved != 0 {
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
        case "ILLEGAL_DEV_TABLE_ENTRY":
            f.reasonText = "Illegal device table entry"
            f.owner = .firmware
            if let flags { f.access = flags & write != 0 ? .write : .read }
        case "DEV_TAB_HARDWARE_ERROR":
            f.reasonText = "Device table hardware error"
            f.owner = .hardware
        case "PAGE_TAB_HARDWARE_ERROR":
            f.reasonText = "Page table hardware error"
            f.owner = .hardware
        case "ILLEGAL_COMMAND_ERROR":
            f.reasonText = "Illegal command"
            f.owner = .iommuDriver
        case "COMMAND_HARDWARE_ERROR":
            f.reasonText = "Command hardware error"
            f.owner = .hardware
        case "IOTLB_INV_TIMEOUT":
            f.reasonText = "IOTLB invalidation timeout (ATS device not responding)"
            f.owner = .hardware
        case "INVALID_DEVICE_REQUEST":
            f.reasonText = "Invalid device request"
            f.owner = .hardware
        case "INVALID_PPR_REQUEST":
            f.reasonText = "Invalid page request (PPR)"
            f.owner = .driver
        case "RMP_PAGE_FAULT":
            f.reasonText = "RMP page fault (SEV-SNP ownership)"
            f.owner = .driver
        case "RMP_HW_ERROR":
            f.reasonText = "RMP hardware error"
            f.owner = .hardware
        default:
            break
        }
        if f.detail == nil, let flags { f.detail = "flags " + hex0x(flags, width: 4) }
    }
}
