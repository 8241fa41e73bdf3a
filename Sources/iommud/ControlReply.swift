/// A reply on the control socket, as `iommud status` reads it: an `HTTP/1.x` status line, the
/// headers, a blank line, the body. Whatever answers on the socket path is outside input (a
/// stale file, another program): it is read bounded (`ControlClient.maxReplyBytes`) and taken
/// apart here, in one pass over the bytes, without I/O — the fuzz target `control` runs it.
enum ControlReply: Equatable {
    /// `200`: the body.
    case ok(String)
    /// Another status: the body (the daemon's sentence, or whatever the impostor sent).
    case refused(String)
    /// No status line, or no blank line after the headers.
    case malformed

    static func parse(_ bytes: [UInt8]) -> ControlReply {
        guard let end = headEnd(bytes) else { return .malformed }
        let head = bytes[..<end]
        guard head.starts(with: Array("HTTP/1.".utf8)) else { return .malformed }
        // "HTTP/1.0 200 OK": the second word of the status line.
        let statusLine = head.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        let words = statusLine.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        let body = String(decoding: bytes[(end + 4)...], as: UTF8.self)
        return words.count > 1 && words[1].elementsEqual("200".utf8) ? .ok(body) : .refused(body)
    }

    /// Where the first `\r\n\r\n` starts.
    static func headEnd(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i + 3 < bytes.count {
            if bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }
}
