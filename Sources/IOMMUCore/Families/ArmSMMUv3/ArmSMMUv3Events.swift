// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

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
    /// The architecture's event records (IHI 0070 §7.3), by id, with what each means and, where
    /// kernel-formats.md §8.2 gives one answer, who has to fix it. Ids the architecture does
    /// not define are `unknown-event`.
    static let events: [EventDescriptor] = [
        EventDescriptor("F_UUT", code: 0x01, reasonText: "Unsupported upstream transaction"),
        // SID not in the stream table: DT iommu-map / IORT.
        EventDescriptor("C_BAD_STREAMID", code: 0x02, reasonText: "StreamID not in the stream table", owner: .firmware),
        EventDescriptor("F_STE_FETCH", code: 0x03, reasonText: "Stream table entry fetch aborted", owner: .hardware),
        EventDescriptor("C_BAD_STE", code: 0x04, reasonText: "Invalid stream table entry"),
        EventDescriptor("F_BAD_ATS_TREQ", code: 0x05, reasonText: "Bad ATS translation request"),
        EventDescriptor("F_STREAM_DISABLED", code: 0x06, reasonText: "Stream disabled by its STE"),
        EventDescriptor("F_TRANSL_FORBIDDEN", code: 0x07, reasonText: "ATS translation forbidden for the stream"),
        EventDescriptor("C_BAD_SUBSTREAMID", code: 0x08, reasonText: "Invalid SubstreamID (PASID)"),
        EventDescriptor("F_CD_FETCH", code: 0x09, reasonText: "Context descriptor fetch aborted", owner: .hardware),
        EventDescriptor("C_BAD_CD", code: 0x0a, reasonText: "Invalid context descriptor"),
        EventDescriptor(
            "F_WALK_EABT", code: 0x0b, reasonText: "External abort on a translation table walk", owner: .hardware),
        // Unmapped or wrongly mapped IOVAs: the device's driver.
        EventDescriptor(
            "F_TRANSLATION", code: 0x10, reasonText: "Translation fault (no valid mapping)", owner: .driver),
        EventDescriptor("F_ADDR_SIZE", code: 0x11, reasonText: "Address size fault", owner: .driver),
        EventDescriptor("F_ACCESS", code: 0x12, reasonText: "Access flag fault", owner: .driver),
        EventDescriptor("F_PERMISSION", code: 0x13, reasonText: "Permission fault", owner: .driver),
        EventDescriptor("F_TLB_CONFLICT", code: 0x20, reasonText: "TLB conflict"),
        EventDescriptor("F_CFG_CONFLICT", code: 0x21, reasonText: "Configuration cache conflict"),
        EventDescriptor("E_PAGE_REQUEST", code: 0x24, reasonText: "Speculative page request hint"),
        EventDescriptor("F_VMS_FETCH", code: 0x25, reasonText: "VMS fetch aborted", owner: .hardware),
    ]

    static func event(_ id: UInt8) -> EventDescriptor? { events.first { $0.code == UInt32(id) } }

    /// Events about a transaction: dw1 holds RnW/InD/PnU/STALL and dw2 the input address.
    static let transactionEvents: Set<UInt8> = [0x01, 0x05, 0x07, 0x0b, 0x10, 0x11, 0x12, 0x13, 0x20, 0x24]

    /// Events whose dw3 is the address of a structure the SMMU failed to fetch.
    static let fetchEvents: Set<UInt8> = [0x03, 0x09, 0x25]

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
        let event = event(id)
        let kind = event?.kind ?? "unknown-event"
        var f = Fault(
            vendor: .armSMMUv3, kind: kind, recoverable: false, unit: unit,
            sourceID: UInt32(truncatingIfNeeded: dw0 >> 32), seq: seq, timestampUsec: ts, text: text)
        if dw0 & (1 << 11) != 0 { f.pasid = UInt32(truncatingIfNeeded: (dw0 >> 12) & 0xfffff) }
        f.owner = event?.owner
        f.reasonText = event?.reasonText ?? "Unknown event " + hex0x(UInt64(id), width: 2)
        if transactionEvents.contains(id) {
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
        } else if fetchEvents.contains(id), d.count > 3 {
            f.address = d[3]
            f.detail = "fetch address " + hex0x(d[3])
        }
        return f
    }

    /// The 6.14+ decoded line: `event: %s client: %s sid: %#x ssid: %#x[ iova: %#llx ipa:
    /// %#llx| fetch_addr: %#llx]` (zero printed as `0x0`; a bare `0` is accepted too).
    struct Decoded {
        var name: String
        var client: PCIAddress?
        /// A client that is not a PCI function: the platform device's name (`ff1a0000.usb`).
        var master: String?
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
        let clientName = s.string(clientStart..<sidAt)
        let master =
            client == nil && !clientName.isEmpty && clientName.utf8.count <= 128 && !clientName.contains(" ")
                && !clientName.hasPrefix("(") ? clientName : nil
        s.position = sidAt
        guard s.skip(" sid: "), let sid = s.hexOptionalPrefix(), s.skip(" ssid: "),
            let ssid = s.hexOptionalPrefix()
        else { return nil }
        var d = Decoded(name: s.string(nameRange), client: client, master: master, sid: sid, ssid: ssid)
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
        let event = events.first { $0.name == d.name }
        let kind: FaultKind = d.name == "UNKNOWN" ? "unknown-event" : FaultKind(kernelEventName: d.name)
        var f = Fault(
            vendor: .armSMMUv3, kind: kind, recoverable: false, device: d.client, unit: unit,
            sourceID: UInt32(truncatingIfNeeded: d.sid), seq: seq, timestampUsec: ts, text: text)
        if d.ssid != 0 { f.pasid = UInt32(truncatingIfNeeded: d.ssid) }
        f.master = d.master
        f.address = d.iova ?? d.fetch
        f.reasonText = event?.reasonText ?? d.name
        f.owner = event?.owner
        return f
    }
}
