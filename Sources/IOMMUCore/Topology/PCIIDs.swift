/// Device names from the pci.ids database (Debian package `pci.ids`,
/// /usr/share/misc/pci.ids): `8086` → "Intel Corporation", `8086:10d3` → "82574L Gigabit
/// Network Connection". Only the ids asked for are kept, so a scan does not hold the whole
/// 1.3 MB database in memory.
public enum PCIIDs {
    /// Names for `ids` (vendor, device as lower-case 4-hex-digit strings without 0x), parsed out of
    /// the database's bytes where they lie (the daemon maps the file: read into the heap, its
    /// 1.3 MB left freed pages there that stayed in the idle daemon's RSS). Missing ids are
    /// absent from the result.
    public static func names(for ids: Set<PCIID>, in b: UnsafeBufferPointer<UInt8>) -> [PCIID: String] {
        let vendors = Set(ids.map(\.vendor))
        var out: [PCIID: String] = [:]
        var vendorNames: [String: String] = [:]
        var vendor: String?
        var vendorName = ""
        var i = 0
        while i < b.count {
            let end = ByteSearch.index(of: 0x0a, in: b, from: i)
            let line = UnsafeBufferPointer(rebasing: b[i..<end])
            i = end + 1
            guard let first = line.first, first != UInt8(ascii: "#") else { continue }
            // The class list at the end starts with "C xx": no more vendors.
            if first == UInt8(ascii: "C") && line.count > 1 && line[1] == 0x20 { break }
            if first != 0x09 {
                // "vvvv  Vendor Name"
                guard line.count > 6 else { continue }
                let id = String(decoding: UnsafeBufferPointer(rebasing: line[0..<4]), as: UTF8.self).lowercased()
                vendor = vendors.contains(id) ? id : nil
                vendorName =
                    vendor == nil ? "" : String(decoding: UnsafeBufferPointer(rebasing: line[6...]), as: UTF8.self)
                if let v = vendor { vendorNames[v] = vendorName }
                continue
            }
            guard let v = vendor else { continue }
            // "\tdddd  Device Name" (two tabs = subsystem: skip).
            guard line.count > 7, line[1] != 0x09 else { continue }
            let dev = String(decoding: UnsafeBufferPointer(rebasing: line[1..<5]), as: UTF8.self).lowercased()
            let key = PCIID(vendor: v, device: dev)
            if ids.contains(key) {
                out[key] =
                    vendorName + " " + String(decoding: UnsafeBufferPointer(rebasing: line[7...]), as: UTF8.self)
            }
        }
        // Devices whose vendor is known but not the device: the vendor name alone.
        for id in ids where out[id] == nil {
            if let v = vendorNames[id.vendor] { out[id] = v + " device " + id.device }
        }
        return out
    }
}

/// A PCI vendor:device pair as sysfs gives it (`0x8086` → `8086`).
public struct PCIID: Hashable, Sendable {
    public var vendor: String
    public var device: String

    public init(vendor: String, device: String) {
        self.vendor = PCIID.normalise(vendor)
        self.device = PCIID.normalise(device)
    }

    static func normalise(_ s: String) -> String {
        var t = s.lowercased()
        if t.hasPrefix("0x") { t.removeFirst(2) }
        return String(repeating: "0", count: max(0, 4 - t.count)) + t
    }
}
