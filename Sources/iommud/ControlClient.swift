import Glibc
import IOMMUDaemon

/// The client side of the control socket, for `iommud status` (no NIO: one request, one reply).
public enum ControlClient {
    public enum Failure: Error, Sendable {
        /// Nobody listens (no socket file, or a stale one).
        case notRunning(String)
        case permission(String)
        case protocolError(String)
    }

    /// The most of a reply read: status for the most devices `[ledger] max_devices` allows is
    /// tens of MiB; whatever answers on the socket cannot make the CLI grow without end.
    public static let maxReplyBytes = 512 << 20

    public static func isAlive(path: String) -> Bool {
        if case .success = get(path: path, target: "/status.json", timeoutMs: 1000) { return true }
        return false
    }

    /// GET `target` over the Unix socket at `path`; the body on success. The whole reply must
    /// come within `timeoutMs` — a peer that sends a byte now and then is not waited for without end.
    public static func get(path: String, target: String, timeoutMs: Int32 = 10_000) -> Result<String, Failure> {
        let fd: Int32
        switch UnixSocket.connect(path: path) {
        case .success(let s): fd = s
        case .failure(.pathTooLong): return .failure(.protocolError("socket path too long: \(path)"))
        case .failure(.system(let e)) where e == EACCES || e == EPERM: return .failure(.permission(path))
        case .failure(.system(let e)): return .failure(.notRunning(String(cString: strerror(e))))
        }
        defer { close(fd) }
        let deadline = Clocks.monotonicUsec() + Int64(timeoutMs) * 1000
        let request = "GET \(target) HTTP/1.0\r\nHost: iommud\r\n\r\n"
        let sent = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        guard sent > 0 else { return .failure(.notRunning("send: \(String(cString: strerror(errno)))")) }
        var response = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let left = deadline - Clocks.monotonicUsec()
            let late = Failure.protocolError("no whole answer within \(timeoutMs / 1000) s")
            guard left > 0 else { return .failure(late) }
            var tv = timeval(tv_sec: Int(left / 1_000_000), tv_usec: Int(left % 1_000_000))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 {
                guard response.count + n <= maxReplyBytes else {
                    return .failure(.protocolError("the reply goes on past \(maxReplyBytes >> 20) MiB"))
                }
                response.append(contentsOf: buf[0..<n])
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return .failure(late) }
            if n < 0 { return .failure(.protocolError("no answer: \(String(cString: strerror(errno)))")) }
            break
        }
        switch ControlReply.parse(response) {
        case .ok(let body): return .success(body)
        case .refused(let body): return .failure(.protocolError(body))
        case .malformed: return .failure(.protocolError("malformed reply"))
        }
    }
}
