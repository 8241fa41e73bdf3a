/// Device names from the pci.ids database (Debian package `pci.ids`,
/// /usr/share/misc/pci.ids): `8086` → "Intel Corporation", `8086:10d3` → "82574L Gigabit
/// Network Connection". Only the ids asked for are kept, so a scan does not hold the whole
/// 1.3 MB database in memory.
public enum PCIIDs {
    /// Names for `ids` (vendor, device as lower-case 4-hex-digit strings without 0x) from the
    /// database's text. Missing ids are absent from the result; a device whose vendor is known
    /// but not the device gets the vendor's name.
    ///
    /// Line by line over the bytes, making Strings only for the vendors asked for: a hotplug rescan
    /// runs this on the kmsg reader's thread, which must be back at the ring buffer within tens
    /// of milliseconds in a storm.
    public static func names(for ids: Set<PCIID>, in text: String) -> [PCIID: String] {
        let vendors = Set(ids.map(\.vendor))
        var out: [PCIID: String] = [:]
        var vendorNames: [String: String] = [:]
        var vendor: String?
        let bytes = Array(text.utf8)
        let tab = UInt8(ascii: "\t")
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let line = bytes[start..<end]
            start = end + 1
            guard let first = line.first, first != UInt8(ascii: "#") else { continue }
            // The class list at the end starts with "C xx": no more vendors.
            if line.starts(with: "C ".utf8) { break }
            if first != tab {
                // "vvvv  Vendor Name"
                guard line.count > 6 else { continue }
                let id = String(decoding: line.prefix(4), as: UTF8.self).lowercased()
                vendor = vendors.contains(id) ? id : nil
                if let v = vendor { vendorNames[v] = String(decoding: line.dropFirst(6), as: UTF8.self) }
                continue
            }
            // "\tdddd  Device Name" (two tabs = subsystem: skip).
            guard let v = vendor, line.count > 7, line[line.startIndex + 1] != tab else { continue }
            let key = PCIID(vendor: v, device: String(decoding: line.dropFirst(1).prefix(4), as: UTF8.self))
            if ids.contains(key), let vendorName = vendorNames[v] {
                out[key] = vendorName + " " + String(decoding: line.dropFirst(7), as: UTF8.self)
            }
        }
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
