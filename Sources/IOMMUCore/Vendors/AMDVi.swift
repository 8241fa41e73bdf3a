/// AMD-Vi event-log messages from drivers/iommu/amd/iommu.c (`iommu_print_event()`,
/// `amd_iommu_report_page_fault()`), every era of kernel-formats.md §2.
///
/// Recoverable rule (§8.1): every `Event logged [...]` comes from the event log — the
/// transaction was aborted: non-recoverable. Only PPR-log anomalies are the recoverable path.
struct AMDViParser: Sendable {
    /// 4.9–5.4: `… Event logged [` ends one record and `TYPE …]` is the next one.
    struct SplitHeader: Sendable {
        var unit: String?
        var device: PCIAddress?
        var driver: String?
        var seq: UInt64?
        var text: String
    }
    var pendingHeader: SplitHeader?

    var pendingSince: UInt64? { pendingHeader?.seq }

    /// What precedes `Event logged [`: `iommu ivhdN: `, `<driver> SSSS:BB:DD.F: `, `AMD-Vi: `.
    struct Prefix {
        var unit: String?
        var device: PCIAddress?
        var driver: String?
        var sawAMDVi = false
    }

    static func scanPrefix(_ s: inout ByteScanner, record r: KmsgRecord) -> Prefix {
        var p = Prefix()
        if s.skip("iommu ivhd") {
            let start = s.position - 4
            _ = s.decimal()
            p.unit = s.string(start..<s.position)
            _ = s.skip(": ")
        } else {
            // `<driver> SSSS:BB:DD.F: ` — dev_err/pci_err on the endpoint.
            let save = s.position
            let word = s.token(until: UInt8(ascii: " "))
            if !word.isEmpty, s.skip(byte: UInt8(ascii: " ")), let dev = PCIAddress.scan(&s), s.skip(": ") {
                p.driver = s.string(word)
                p.device = dev
            } else {
                s.position = save
            }
        }
        if s.skip("AMD-Vi: ") { p.sawAMDVi = true }
        if p.unit == nil, let u = r.dictionaryDevice(bus: "iommu") { p.unit = String(u) }
        if p.device == nil, let d = r.dictionaryDevice(bus: "pci") { p.device = PCIAddress(parsing: d) }
        return p
    }

    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            let prefix = Self.scanPrefix(&s, record: r)
            if s.skip("Event logged [") {
                if s.isAtEnd {
                    // A split header: the body follows in the next record.
                    if let stale = pendingHeader {
                        out.append(.unparsed(vendor: .amd, text: stale.text, seq: stale.seq))
                    }
                    pendingHeader = SplitHeader(
                        unit: prefix.unit, device: prefix.device, driver: prefix.driver, seq: r.seq, text: r.text)
                    return true
                }
                guard let f = Self.event(&s, prefix: prefix, record: r, text: r.text) else {
                    out.append(.unparsed(vendor: .amd, text: r.text, seq: r.seq))
                    return true
                }
                out.append(.fault(f))
                return true
            }
            // The body of a split event (no `Event logged [` of its own).
            if let header = pendingHeader, IOMMUPrefilter.startsWithEventName(UnsafeBufferPointer(rebasing: b[s.position...])) {
                var merged = Prefix()
                merged.unit = header.unit ?? prefix.unit
                merged.device = header.device ?? prefix.device
                merged.driver = header.driver ?? prefix.driver
                pendingHeader = nil
                guard let f = Self.event(&s, prefix: merged, record: r, text: header.text + "\n" + r.text) else {
                    out.append(.unparsed(vendor: .amd, text: header.text + "\n" + r.text, seq: r.seq))
                    return true
                }
                out.append(.fault(f))
                return true
            }
            return false
        }
    }

    mutating func flush(into out: inout [ClassifierOutput]) {
        // A split header waits for its body across idle periods: the kernel prints both from
        // the same function, the reader may simply have caught it in between.
    }

    /// `TYPE key=value …]` (fields separated by spaces, or `, ` for RMP events), or
    /// `UNKNOWN event[0]=… event[3]=…` with no closing bracket.
    static func event(_ s: inout ByteScanner, prefix: Prefix, record r: KmsgRecord, text: String) -> Fault? {
        let nameRange = s.token(until: UInt8(ascii: " "))
        var name = s.string(nameRange)
        if name.hasSuffix("]") { name.removeLast() }
        guard !name.isEmpty else { return nil }
        var fields = AMDEventFields()
        while !s.isAtEnd {
            s.skipSpaces()
            if s.skip(byte: UInt8(ascii: "]")) || s.isAtEnd { break }
            let keyStart = s.position
            while let c = s.peek, c != UInt8(ascii: "="), c != UInt8(ascii: " "), c != UInt8(ascii: "]") {
                s.position += 1
            }
            let key = s.string(keyStart..<s.position)
            guard s.skip(byte: UInt8(ascii: "=")) else { continue }
            if key == "device" {
                fields.device = PCIAddress.scan(&s)
            } else {
                let v = s.hexOptionalPrefix()
                fields.set(key, v)
            }
            // Skip to the next separator.
            while let c = s.peek, c != UInt8(ascii: " "), c != UInt8(ascii: "]") { s.position += 1 }
            _ = s.skip(byte: UInt8(ascii: ","))
        }
        let kind: FaultKind = name == "UNKNOWN" ? "unknown-event" : FaultKind(kernelEventName: name)
        var f = Fault(
            vendor: .amd, kind: kind, recoverable: false, device: fields.device ?? prefix.device, unit: prefix.unit,
            address: fields.address ?? fields.gpa ?? fields.spa, driver: prefix.driver, seq: r.seq,
            timestampUsec: r.timestampUsec, text: text)
        AMDEventDecoder.decode(&f, name: name, fields: fields)
        return f
    }
}

/// The `key=value` fields of one AMD event line.
struct AMDEventFields: Sendable {
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

    mutating func set(_ key: String, _ value: UInt64?) {
        switch key {
        case "domain": domain = value
        case "pasid": pasid = value
        case "address": address = value
        case "flags": flags = value
        case "tag": tag = value
        case "vmg_tag": vmgTag = value
        case "gpa": gpa = value
        case "spa": spa = value
        case "flags_rmp": flagsRMP = value
        default: break
        }
    }
}
