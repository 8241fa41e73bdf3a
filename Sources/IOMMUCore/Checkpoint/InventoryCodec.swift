/// Boot inventory items as one line each in the checkpoint (they come from records before the
/// resume point, which a restart does not read again).
enum InventoryCodec {
    static func encode(_ i: InventoryItem) -> String {
        func o(_ v: UInt64?) -> String { v.map { hex0x($0) } ?? "-" }
        func s(_ v: String?) -> String { v ?? "-" }
        switch i {
        case .iommuEnabled(let v): return "enabled \(v.rawValue)"
        case .iommuDisabled(let v, let r): return "disabled \(v?.rawValue ?? "-") \(r)"
        case .passthrough(let src): return "passthrough \(src)"
        case .unit(let v, let name, let addr, let ver, let cap, let ecap):
            return "unit \(v.rawValue) \(s(name)) \(o(addr)) \(s(ver)) \(o(cap)) \(o(ecap))"
        case .amdFound(let d, let cap): return "amd-found \(d?.description ?? "-") \(o(cap))"
        case .rmrr(let a, let b): return "rmrr \(hex0x(a)) \(hex0x(b))"
        case .interruptRemapping(let m): return "ir \(m)"
        case .commandLine(let c): return "cmdline \(c)"
        }
    }

    static func decode(_ line: String) -> InventoryItem? {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        guard let kind = parts.first else { return nil }
        let rest = parts.count > 1 ? parts[1] : ""
        let f = rest.split(separator: " ").map(String.init)
        func h(_ s: String) -> UInt64? { s == "-" ? nil : UInt64(s.dropFirst(2), radix: 16) }
        func s(_ v: String) -> String? { v == "-" ? nil : v }
        switch kind {
        case "enabled": return Vendor(validating: rest).map { .iommuEnabled($0) }
        case "disabled":
            let p = rest.split(separator: " ", maxSplits: 1).map(String.init)
            guard p.count == 2 else { return nil }
            return .iommuDisabled(Vendor(validating: p[0]), reason: p[1])
        case "passthrough": return .passthrough(source: rest)
        case "unit":
            guard f.count == 6, let v = Vendor(validating: f[0]) else { return nil }
            return .unit(vendor: v, name: s(f[1]), address: h(f[2]), version: s(f[3]), cap: h(f[4]), ecap: h(f[5]))
        case "amd-found":
            guard f.count == 2 else { return nil }
            return .amdFound(device: f[0] == "-" ? nil : PCIAddress(parsing: f[0]), cap: h(f[1]))
        case "rmrr":
            guard f.count == 2, let a = h(f[0]), let b = h(f[1]) else { return nil }
            return .rmrr(start: a, end: b)
        case "ir": return .interruptRemapping(mode: rest)
        case "cmdline": return .commandLine(rest)
        default: return nil
        }
    }
}
