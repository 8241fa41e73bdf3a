// libFuzzer target: `[http] listen` addresses (ListenAddress) over arbitrary text.
//
// Invariants: an address has a host and a port from 1 to 65535, and its description (what
// check-config prints) reads back as the same address.

@testable import IOMMUConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzListen(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    switch ListenAddress.parse(text) {
    case .success(let a):
        precondition((1...65535).contains(a.port) && !a.host.isEmpty)
        guard case .success(let back) = ListenAddress.parse(a.description) else {
            preconditionFailure("\(a) does not read back")
        }
        precondition(back == a)
    case .failure(let r):
        if case .badValue(let m) = r { precondition(m.utf8.count < 300) }
    }
    return 0
}
