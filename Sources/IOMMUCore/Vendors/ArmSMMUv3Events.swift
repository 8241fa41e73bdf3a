/// ARM SMMUv3 event records: the architectural event table and the decoding of the four raw
/// dwords (Arm IHI 0070 "SMMU architecture", chapter 7.3 "Event records"; the kernel's
/// `EVTQ_0_*`/`EVTQ_1_*` masks in drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h), plus the 6.14+
/// decoded line (d814b70b9b90). kernel-formats.md §3.1.
///
///   dw0 [7:0] event id, bit 11 SSV, [31:12] SSID, [63:32] StreamID
///   dw1 [15:0] STAG, bit 31 STALL, bit 33 PnU, bit 34 InD, bit 35 RnW (1 = read), bit 39 S2,
///       [41:40] CLASS, bit 44 TTRnW
///   dw2 input address (IOVA);  dw3 IPA, or the fetch address of F_STE/CD/VMS_FETCH
///
/// RECOVERABLE (kernel-formats.md §8.1), decided here for SMMUv3: the STALL bit of a
/// translation-class event means the master is stalled waiting for a resume/terminate — the
/// recoverable model; every other event was terminated: `recoverable: false`.
enum ArmSMMUv3Events {
    /// Architectural name of an event id; nil for ids the architecture does not define.
    static func name(_ id: UInt8) -> String? {
        switch id {
        case 0x01: return "F_UUT"
        case 0x02: return "C_BAD_STREAMID"
        case 0x03: return "F_STE_FETCH"
        case 0x04: return "C_BAD_STE"
        case 0x05: return "F_BAD_ATS_TREQ"
        case 0x06: return "F_STREAM_DISABLED"
        case 0x07: return "F_TRANSL_FORBIDDEN"
        case 0x08: return "C_BAD_SUBSTREAMID"
        case 0x09: return "F_CD_FETCH"
        case 0x0a: return "C_BAD_CD"
        case 0x0b: return "F_WALK_EABT"
        case 0x10: return "F_TRANSLATION"
        case 0x11: return "F_ADDR_SIZE"
        case 0x12: return "F_ACCESS"
        case 0x13: return "F_PERMISSION"
        case 0x20: return "F_TLB_CONFLICT"
        case 0x21: return "F_CFG_CONFLICT"
        case 0x24: return "E_PAGE_REQUEST"
        case 0x25: return "F_VMS_FETCH"
        default: return nil
        }
    }

    /// Events about a transaction: dw1 holds RnW/InD/PnU/STALL and dw2 the input address.
    static func isTransactionEvent(_ id: UInt8) -> Bool {
        switch id {
        case 0x01, 0x05, 0x07, 0x0b, 0x10, 0x11, 0x12, 0x13, 0x20, 0x24: return true
        default: return false
        }
    }

    /// Events whose dw3 is the address of a structure the SMMU failed to fetch.
    static func isFetchEvent(_ id: UInt8) -> Bool { id == 0x03 || id == 0x09 || id == 0x25 }

    /// Owner per kernel-formats.md §8.2, only where the table gives one answer.
    static func owner(_ id: UInt8) -> Owner? {
        switch id {
        case 0x02: return .firmware  // SID not in the stream table: DT iommu-map / IORT
        case 0x10, 0x11, 0x12, 0x13: return .driver  // unmapped / wrongly mapped IOVA
        case 0x03, 0x09, 0x25, 0x0b: return .hardware  // fetch / walk external aborts
        default: return nil
        }
    }

    static let classNames = [
        "CD fetch", "Stage 1 translation table fetch", "Input address caused fault", "Reserved",
    ]

    /// A fault from a raw dump (header id + dw0…dw3).
    static func fault(
        id headerID: UInt8, dwords d: [UInt64], unit: String?, seq: UInt64?, ts: UInt64?, text: String
    )
        -> Fault
    {
        let dw0 = d.count > 0 ? d[0] : UInt64(headerID)
        let dw1 = d.count > 1 ? d[1] : 0
        let id = UInt8(truncatingIfNeeded: dw0)
        let kind = name(id).map { FaultKind(kernelEventName: $0) } ?? "unknown-event"
        var f = Fault(
            vendor: .armSMMUv3, kind: kind, recoverable: false, unit: unit,
            sourceID: UInt32(truncatingIfNeeded: dw0 >> 32), seq: seq, timestampUsec: ts, text: text)
        if dw0 & (1 << 11) != 0 { f.pasid = UInt32(truncatingIfNeeded: (dw0 >> 12) & 0xfffff) }
        f.owner = owner(id)
        f.reasonText = name(id).map { describe($0) } ?? "Unknown event " + hex0x(UInt64(id), width: 2)
        if isTransactionEvent(id) {
            f.recoverable = dw1 & (1 << 31) != 0
            f.access = dw1 & (1 << 35) != 0 ? .read : .write
            if d.count > 2 { f.address = d[2] }
            let cls = Int((dw1 >> 40) & 3)
            var words = [
                dw1 & (1 << 33) != 0 ? "priv" : "unpriv", dw1 & (1 << 34) != 0 ? "inst" : "data",
                dw1 & (1 << 35) != 0 ? "read" : "write", dw1 & (1 << 39) != 0 ? "s2" : "s1",
                classNames[cls],
            ]
            if f.recoverable { words.append("stall") }
            words.append("stag " + hex0x(dw1 & 0xffff))
            if d.count > 3, d[3] != 0 { words.append("ipa " + hex0x(d[3])) }
            f.detail = words.joined(separator: ", ")
        } else if isFetchEvent(id), d.count > 3 {
            f.address = d[3]
            f.detail = "fetch address " + hex0x(d[3])
        }
        return f
    }

    /// A human reading of the event name.
    static func describe(_ name: String) -> String {
        switch name {
        case "F_UUT": return "Unsupported upstream transaction"
        case "C_BAD_STREAMID": return "StreamID not in the stream table"
        case "F_STE_FETCH": return "Stream table entry fetch aborted"
        case "C_BAD_STE": return "Invalid stream table entry"
        case "F_BAD_ATS_TREQ": return "Bad ATS translation request"
        case "F_STREAM_DISABLED": return "Stream disabled by its STE"
        case "F_TRANSL_FORBIDDEN": return "ATS translation forbidden for the stream"
        case "C_BAD_SUBSTREAMID": return "Invalid SubstreamID (PASID)"
        case "F_CD_FETCH": return "Context descriptor fetch aborted"
        case "C_BAD_CD": return "Invalid context descriptor"
        case "F_WALK_EABT": return "External abort on a translation table walk"
        case "F_TRANSLATION": return "Translation fault (no valid mapping)"
        case "F_ADDR_SIZE": return "Address size fault"
        case "F_ACCESS": return "Access flag fault"
        case "F_PERMISSION": return "Permission fault"
        case "F_TLB_CONFLICT": return "TLB conflict"
        case "F_CFG_CONFLICT": return "Configuration cache conflict"
        case "E_PAGE_REQUEST": return "Speculative page request hint"
        case "F_VMS_FETCH": return "VMS fetch aborted"
        default: return name
        }
    }

    /// The 6.14+ decoded line: `event: %s client: %s sid: %#x ssid: %#x[ iova: %#llx ipa:
    /// %#llx| fetch_addr: %#llx]` (zero printed as `0x0`; a bare `0` is accepted too).
    struct Decoded {
        var name: String
        var client: PCIAddress?
        var sid: UInt64
        var ssid: UInt64
        var iova: UInt64?
        var fetch: UInt64?
    }

    static func parseDecoded(_ s: inout ByteScanner) -> Decoded? {
        guard s.skip("event: ") else { return nil }
        let nameRange = s.token(until: 0x20)
        guard !nameRange.isEmpty, s.skip(" client: ") else { return nil }
        // The client is a device name, or `(unassigned sid)`: it ends at ` sid: `.
        let clientStart = s.position
        guard let sidAt = s.find(" sid: ") else { return nil }
        var c = ByteScanner(UnsafeBufferPointer(rebasing: s.bytes[clientStart..<sidAt]))
        var client = PCIAddress.scan(&c)
        if !c.isAtEnd { client = nil }
        s.position = sidAt
        guard s.skip(" sid: "), let sid = s.hexOptionalPrefix(), s.skip(" ssid: "),
            let ssid = s.hexOptionalPrefix()
        else { return nil }
        var d = Decoded(name: s.string(nameRange), client: client, sid: sid, ssid: ssid)
        if s.skip(" iova: ") {
            guard let iova = s.hexOptionalPrefix(), s.skip(" ipa: "), s.hexOptionalPrefix() != nil else {
                return nil
            }
            d.iova = iova
        } else if s.skip(" fetch_addr: ") {
            guard let a = s.hexOptionalPrefix() else { return nil }
            d.fetch = a
        }
        guard s.atEndIgnoringSpaces else { return nil }
        return d
    }

    /// A fault from a decoded line alone (its raw dump was not seen).
    static func fault(decoded d: Decoded, unit: String?, seq: UInt64?, ts: UInt64?, text: String)
        -> Fault
    {
        let kind: FaultKind = d.name == "UNKNOWN" ? "unknown-event" : FaultKind(kernelEventName: d.name)
        var f = Fault(
            vendor: .armSMMUv3, kind: kind, recoverable: false, device: d.client, unit: unit,
            sourceID: UInt32(truncatingIfNeeded: d.sid), seq: seq, timestampUsec: ts, text: text)
        if d.ssid != 0 { f.pasid = UInt32(truncatingIfNeeded: d.ssid) }
        f.address = d.iova ?? d.fetch
        f.reasonText = describe(d.name)
        switch d.name {
        case "C_BAD_STREAMID": f.owner = .firmware
        case "F_TRANSLATION", "F_ADDR_SIZE", "F_ACCESS", "F_PERMISSION": f.owner = .driver
        case "F_STE_FETCH", "F_CD_FETCH", "F_VMS_FETCH": f.owner = .hardware
        default: break
        }
        return f
    }
}
