import Glibc

/// A Unix stream socket, client side: the daemon asks whether a server answers at a path (a
/// stale socket file left by a crash refuses the connection); `iommud status` connects to ask.
/// (Unsafe: sockaddr_un is a C struct filled through a pointer.)
public enum UnixSocket {
    public enum ConnectError: Error, Sendable, Equatable {
        /// The path does not fit `sun_path`.
        case pathTooLong
        /// socket(2) or connect(2) failed with this errno.
        case system(Int32)
    }

    /// A connected socket (close-on-exec) to `path`, which the caller closes.
    public static func connect(path: String) -> Result<Int32, ConnectError> {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return .failure(.pathTooLong) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.system(errno)) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            return .failure(.system(e))
        }
        return .success(fd)
    }

    /// True when connect(2) to the socket succeeds: a daemon listens there.
    static func answers(path: String) -> Bool {
        guard case .success(let fd) = connect(path: path) else { return false }
        close(fd)
        return true
    }
}
