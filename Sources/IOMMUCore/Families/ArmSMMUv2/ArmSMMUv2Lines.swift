// Unsafe pointers here: byte-level record parser over the record's bytes (ByteScanner).

/// The SMMUv2 line decoders (the formats are listed in ArmSMMUv2.swift and kernel-formats.md
/// §3.2, §11.16). Each takes the scanner after the `arm-smmu <dev>: ` prefix.
enum ArmSMMUv2Lines {
    // FSR bits.
    static let fsrTF: UInt64 = 0x2
    static let fsrPF: UInt64 = 0x8
    static let fsrSS: UInt64 = 1 << 30
    static let fsynrWNR: UInt64 = 0x10
    static let gfsrUSF: UInt64 = 0x2

    /// After `Unhandled context fault: `: mainline `[fsr=0x%x, ]iova=0x%lx, fsynr=0x%x,
    /// [cbfrsynra=0x%x, ]cb=%d`, or msm-3.x `iova=0x%08lx, fsr=0x%x, fsynr=0x%x, cb=%d`; NVIDIA's
    /// L4T kernels (Jetson TX2, 4.x) follow `cb=%d` with `, sid=%d(0x%x - %s), pgd=%llx, pud=%llx,
    /// pmd=%llx, pte=%llx`: the StreamID in decimal and hex, the memory client's name, the walk.
    static func contextFault(_ s: inout ByteScanner, unit: String?, record r: KmsgRecord) -> Fault? {
        var fsr = s.hexField("fsr=")
        if fsr != nil { guard s.skip(", ") else { return nil } }
        guard let iova = s.hexField("iova="), s.skip(", ") else { return nil }
        if fsr == nil, let f = s.hexField("fsr=") {
            guard s.skip(", ") else { return nil }
            fsr = f
        }
        guard let fsynr = s.hexField("fsynr="), s.skip(", ") else { return nil }
        let cbfrsynra = s.hexField("cbfrsynra=")
        if cbfrsynra != nil { guard s.skip(", ") else { return nil } }
        guard s.skip("cb="), let cb = s.decimal() else { return nil }
        let l4t = s.atEndIgnoringSpaces ? nil : l4tTail(&s)
        guard s.atEndIgnoringSpaces else { return nil }
        var f = Fault(
            vendor: .armSMMU, kind: "context-fault", recoverable: false, unit: unit, address: iova,
            access: fsynr & fsynrWNR != 0 ? .write : .read, seq: r.seq, timestampUsec: r.timestampUsec,
            text: r.text)
        if let c = cbfrsynra { f.sourceID = UInt32(c & 0xffff) }
        var detail = "cb \(cb), fsynr " + hex0x(fsynr)
        if let l4t {
            f.sourceID = UInt32(truncatingIfNeeded: l4t.sid & 0xffff)
            f.master = l4t.client
            if !l4t.walk.isEmpty { detail += ", " + l4t.walk }
        }
        if let fsr {
            decode(fsr: fsr, into: &f)
            detail = "fsr " + hex0x(fsr) + ", " + detail
        } else {
            f.reasonText = "Context fault"
        }
        f.detail = detail
        return f
    }

    /// L4T's `, sid=17(0x11 - AFI), pgd=25bec9003, pud=…, pmd=…, pte=0` (nil: not that shape).
    static func l4tTail(_ s: inout ByteScanner) -> (sid: UInt64, client: String?, walk: String)? {
        guard s.skip(", sid="), let sid = s.decimal(), s.skip("(0x"), let hexSID = s.hex(), hexSID == sid,
            s.skip(" - ")
        else { return nil }
        let name = s.token(until: UInt8(ascii: ")"))
        guard s.skip(")"), name.count <= 64 else { return nil }
        let client = s.string(name)
        var walk = ""
        if s.skip(", ") {
            let rest = s.token(until: 0x0A)
            guard rest.count <= 256 else { return nil }
            walk = s.string(rest)
        }
        return (sid, client.isEmpty || client.contains(" ") ? nil : client, walk)
    }

    /// Recoverable (FSR.SS), reason and owner from an FSR value.
    static func decode(fsr: UInt64, into f: inout Fault) {
        f.recoverable = fsr & fsrSS != 0
        if fsr & fsrTF != 0 {
            f.reasonText = "Translation fault"
            f.owner = .driver
        } else if fsr & fsrPF != 0 {
            f.reasonText = "Permission fault"
            f.owner = .driver
        } else {
            f.reasonText = "Context fault"
        }
    }

    /// A follow-up of a held context fault: the 6.11+ / Qualcomm `FSR    = %08x [...], SID=0x%x`
    /// and `FSYNR0 = %08x [...]` lines add their decoded flags (and what the fault lacks) to it.
    static func addFollowUp(_ s: inout ByteScanner, to f: inout Fault) {
        if s.skip("FSR    = ") {
            guard let fsr = s.hex(maxDigits: 8), s.skip(" ["), let flags = bracket(&s) else { return }
            if f.reasonText == nil || f.reasonText == "Context fault" { decode(fsr: fsr, into: &f) }
            f.detail = (f.detail.map { $0 + "; " } ?? "") + "FSR [" + flags + "]"
            if f.sourceID == nil, s.skip(", SID=0x"), let sid = s.hex(maxDigits: 8) {
                f.sourceID = UInt32(sid & 0xffff)
            }
        } else if s.skip("FSYNR0 = ") {
            guard let fsynr = s.hex(maxDigits: 8), s.skip(" ["), let flags = bracket(&s) else { return }
            if f.access == nil { f.access = fsynr & fsynrWNR != 0 ? .write : .read }
            f.detail = (f.detail.map { $0 + "; " } ?? "") + "FSYNR0 [" + flags + "]"
        }
    }

    /// The bracket's content up to `]` (at most 128 bytes), the cursor after it.
    static func bracket(_ s: inout ByteScanner) -> String? {
        guard let close = s.find("]"), close - s.position <= 128 else { return nil }
        let text = s.string(s.position..<close).trimmingTrailingSpaces()
        s.position = close + 1
        return text
    }

    /// `FSR    = %08x [...], SID=0x%x` with nothing before it: the context fault it proves.
    static func loneFSR(_ s: inout ByteScanner, unit: String, record r: KmsgRecord) -> Fault? {
        guard s.skip("FSR    = "), let fsr = s.hex(maxDigits: 8), s.skip(" ["), let flags = bracket(&s),
            s.skip(", SID=0x"), let sid = s.hex(maxDigits: 8), s.atEndIgnoringSpaces
        else { return nil }
        var f = Fault(
            vendor: .armSMMU, kind: "context-fault", recoverable: false, unit: unit, sourceID: UInt32(sid & 0xffff),
            seq: r.seq, timestampUsec: r.timestampUsec, text: r.text)
        decode(fsr: fsr, into: &f)
        f.detail = "FSR [" + flags + "]"
        return f
    }

    /// The downstream group's FSR record (`FSR    = 0x%08x [TF W …]`, msm-3.x `FSR    = %08x [TF ]`)
    /// with nothing before it: the context fault it proves (flags, direction), no master, no address.
    static func loneDownstreamFSR(_ s: inout ByteScanner, unit: String, record r: KmsgRecord) -> Fault? {
        var f = Fault(
            vendor: .armSMMU, kind: "context-fault", recoverable: false, unit: unit, seq: r.seq,
            timestampUsec: r.timestampUsec, text: r.text)
        guard downstreamFSR(&s, into: &f) else { return nil }
        return f
    }

    /// `FSYNR0 = %08x [...]` (6.11+) with nothing before it: the context fault it proves.
    static func loneFSYNR0(_ s: inout ByteScanner, unit: String, record r: KmsgRecord) -> Fault? {
        guard s.skip("FSYNR0 = "), let fsynr = s.hex(maxDigits: 8), s.skip(" ["), let flags = bracket(&s),
            s.atEndIgnoringSpaces
        else { return nil }
        var f = Fault(
            vendor: .armSMMU, kind: "context-fault", recoverable: false, unit: unit,
            access: fsynr & fsynrWNR != 0 ? .write : .read, seq: r.seq, timestampUsec: r.timestampUsec,
            text: r.text)
        f.reasonText = "Context fault"
        f.detail = "FSYNR0 [" + flags + "]"
        return f
    }

    /// Lines that only add detail to the fault before them (Qualcomm's walk results, the
    /// downstream register dump, msm-3.x's last words).
    static func isDetail(_ s: ByteScanner) -> Bool {
        for literal: StaticString in [
            "PAR    = ", "soft iova-to-phys", "SOFTWARE TABLE WALK FAILED!", "hard iova-to-phys", "SID=0x",
            "Unhandled context faults are fatal", "TBU: ", "context bank#", "FSYNR1    = ", "ATOS generated a fault",
        ] where s.looksAt(literal) {
            return true
        }
        return false
    }

    /// `%s!` after `Unhandled arm-smmu context fault from `: the master's device name.
    static func downstreamHeader(_ s: inout ByteScanner, unit: String, record r: KmsgRecord) -> Fault {
        var f = Fault(
            vendor: .armSMMU, kind: "context-fault", recoverable: false, unit: unit, seq: r.seq,
            timestampUsec: r.timestampUsec, text: r.text)
        var end = s.bytes.count
        while end > s.position, s.bytes[end - 1] == 0x20 { end -= 1 }
        if end > s.position, s.bytes[end - 1] == UInt8(ascii: "!"), end - 1 - s.position <= 128 {
            let name = s.string(s.position..<(end - 1))
            if !name.isEmpty, !name.contains(" ") { f.master = name }
        }
        f.reasonText = "Context fault"
        return f
    }

    /// `FAR    = 0x%016lx` (downstream) or `FAR    = %016lx` (msm-3.x): the address.
    static func downstreamFAR(_ s: inout ByteScanner, into f: inout Fault, record r: KmsgRecord) {
        f.text += "\n" + r.text
        guard s.skip("FAR    = "), let far = s.hexOptionalPrefix(), s.atEndIgnoringSpaces else { return }
        f.address = far
    }

    /// `FSR    = 0x%08x [TF W …]` of the downstream group: kind details, direction, SS.
    static func downstreamFSR(_ s: inout ByteScanner, into f: inout Fault) -> Bool {
        guard s.skip("FSR    = "), let fsr = s.hexOptionalPrefix(), fsr <= 0xffff_ffff, s.skip(" ["),
            let flags = bracket(&s), s.atEndIgnoringSpaces
        else { return false }
        decode(fsr: fsr, into: &f)
        let words = flags.split(separator: " ")
        for (i, w) in words.enumerated() where (w == "TF" || w == "PF") && i + 1 < words.count {
            if words[i + 1] == "W" { f.access = .write } else if words[i + 1] == "R" { f.access = .read }
        }
        f.detail = "FSR " + hex0x(fsr, width: 8) + " [" + flags + "]"
        return true
    }

    /// `Unexpected global fault, …` / `Blocked unknown Stream ID 0x%hx; …`: the fault that
    /// first line announces (completed by the GFSR line, or on its own, partial).
    static func globalHeader(_ s: inout ByteScanner, unit: String, record r: KmsgRecord) -> Fault {
        var f = Fault(
            vendor: .armSMMU, kind: "global-fault", recoverable: false, unit: unit, seq: r.seq,
            timestampUsec: r.timestampUsec, text: r.text)
        if s.skip("Blocked unknown Stream ID 0x"), let sid = s.hex(maxDigits: 4) {
            f.sourceID = UInt32(sid)
            f.owner = .firmware
            f.reasonText = "Unidentified stream (StreamID not in the SMR/S2CR tables)"
        } else {
            f.reasonText = "Global fault"
        }
        return f
    }

    /// After `\tGFSR 0x`: `%08x, GFSYNR0 0x%08x, GFSYNR1 0x%08x, GFSYNR2 0x%08x`.
    static func gfsr(_ s: inout ByteScanner, unit: String, record r: KmsgRecord, text: String) -> Fault? {
        guard let gfsr = s.hex(maxDigits: 8), s.skip(", GFSYNR0 0x"), let g0 = s.hex(maxDigits: 8),
            s.skip(", GFSYNR1 0x"), let g1 = s.hex(maxDigits: 8), s.skip(", GFSYNR2 0x"),
            let g2 = s.hex(maxDigits: 8), s.atEndIgnoringSpaces
        else { return nil }
        var f = Fault(
            vendor: .armSMMU, kind: "global-fault", recoverable: false, unit: unit, seq: r.seq,
            timestampUsec: r.timestampUsec, text: text)
        if gfsr & gfsrUSF != 0 {
            f.sourceID = UInt32(g1 & 0xffff)
            f.owner = .firmware
            f.reasonText = "Unidentified stream (StreamID not in the SMR/S2CR tables)"
        } else {
            f.reasonText = "Global fault"
        }
        f.detail =
            "GFSR " + hex0x(gfsr, width: 8) + ", GFSYNR0 " + hex0x(g0, width: 8) + ", GFSYNR1 "
            + hex0x(g1, width: 8) + ", GFSYNR2 " + hex0x(g2, width: 8)
        return f
    }
}
