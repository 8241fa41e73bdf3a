/// Device names from the pci.ids database (Debian package `pci.ids`,
/// /usr/share/misc/pci.ids): `8086` → "Intel Corporation", `8086:10d3` → "82574L Gigabit
/// Network Connection". Only the ids asked for are kept, so a scan does not hold the whole
/// 1.3 MB database in memory.
public enum PCIIDs {
    /// Names for `ids` (vendor, device as lower-case 4-hex-digit strings without 0x) from the
    /// database's text. Missing ids are absent from the result; a device whose vendor is known
    /// but not the device gets the vendor's name.
    public static func names(for ids: Set<PCIID>, in text: String) -> [PCIID: String] {
        let vendors = Set(ids.map(\.vendor))
        var out: [PCIID: String] = [:]
        var vendorNames: [String: String] = [:]
        var vendor: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let first = line.first, first != "#" else { continue }
            // The class list at the end starts with "C xx": no more vendors.
            if line.hasPrefix("C ") { break }
            if first != "\t" {
                // "vvvv  Vendor Name"
                guard line.utf8.count > 6 else { continue }
                let id = line.prefix(4).lowercased()
                vendor = vendors.contains(id) ? id : nil
                if let v = vendor { vendorNames[v] = String(line.dropFirst(6)) }
                continue
            }
            // "\tdddd  Device Name" (two tabs = subsystem: skip).
            guard let v = vendor, line.utf8.count > 7, !line.hasPrefix("\t\t") else { continue }
            let key = PCIID(vendor: v, device: String(line.dropFirst(1).prefix(4)))
            if ids.contains(key), let vendorName = vendorNames[v] {
                out[key] = vendorName + " " + line.dropFirst(7)
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
