import CLinux
import Glibc

/// A Unix stream socket, client side: the daemon asks whether a server answers at a path (a
/// stale socket file left by a crash refuses the connection); `iommud status` connects to ask.
public enum UnixSocket {
    public enum ConnectError: Error, Sendable, Equatable {
        /// The path does not fit `sun_path`.
        case pathTooLong
        /// socket(2) or connect(2) failed with this errno.
        case system(Int32)
    }

    /// A connected socket (close-on-exec) to `path`, which the caller closes.
    public static func connect(path: String) -> Result<Int32, ConnectError> {
        let fd = clinux_unix_connect(path)
        if fd >= 0 { return .success(fd) }
        let e = errno
        return .failure(e == ENAMETOOLONG ? .pathTooLong : .system(e))
    }

    /// True when connect(2) to the socket succeeds: a daemon listens there.
    static func answers(path: String) -> Bool {
        guard case .success(let fd) = connect(path: path) else { return false }
        close(fd)
        return true
    }
}
