// libFuzzer target: the reply `iommud status` reads from the control socket
// (Sources/iommud/ControlReply.swift, compiled in with this harness) over arbitrary bytes — what
// an impostor or a stale program on the socket path could send.
//
// Invariants: no crash; `.ok` only for an `HTTP/1.` status line whose code is 200, with the body
// exactly the bytes after the first blank line; no blank line, no reply; and the same bytes as
// the body of a well-formed 200 reply come back whole.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlReply(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let parsed = ControlReply.parse(bytes)
    if let end = ControlReply.headEnd(bytes) {
        let body = String(decoding: bytes[(end + 4)...], as: UTF8.self)
        switch parsed {
        case .ok(let b):
            precondition(b == body && bytes.starts(with: Array("HTTP/1.".utf8)))
            precondition(String(decoding: bytes[..<end], as: UTF8.self).contains(" 200"))
        case .refused(let b): precondition(b == body)
        case .malformed: precondition(!bytes.starts(with: Array("HTTP/1.".utf8)))
        }
    } else {
        precondition(parsed == .malformed)
    }
    let wrapped = Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n".utf8) + bytes
    precondition(ControlReply.parse(wrapped) == .ok(String(decoding: bytes, as: UTF8.self)))
    return 0
}
