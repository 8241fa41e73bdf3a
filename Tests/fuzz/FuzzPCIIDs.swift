// libFuzzer target: the pci.ids database (PCIIDs): a file the daemon reads from the system,
// asked for a few vendor:device pairs.

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPCIIDs(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let ids: Set<PCIID> = [
        PCIID(vendor: "8086", device: "10d3"), PCIID(vendor: "0x1234", device: "0x11e8"),
        PCIID(vendor: "10de", device: "1eb8"), PCIID(vendor: "ffff", device: "ffff"),
    ]
    let names = PCIIDs.names(for: ids, in: text)
    precondition(Set(names.keys).isSubset(of: ids))
    return 0
}
