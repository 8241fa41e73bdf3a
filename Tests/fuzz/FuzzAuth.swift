// libFuzzer target: the `Authorization: Basic …` header a network client sends
// (BasicCredentials: the scheme, base64, the user:password split).

@testable import IOMMUConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAuth(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let header = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    if let (user, password) = BasicCredentials.parseBasic(header) {
        precondition(!user.utf8.contains(UInt8(ascii: ":")), "a user name with a colon")
        precondition(user.utf8.count + password.count < size, "more credentials than header")
    }
    if let bytes = BasicCredentials.base64Decode(header) { precondition(bytes.count <= size) }
    return 0
}
