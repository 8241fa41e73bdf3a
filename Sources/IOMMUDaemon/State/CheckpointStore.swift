import Glibc
import IOMMUCore
import Logging

/// The checkpoint file in the state directory: written atomically (temp file, fsync, rename,
/// fsync of the directory) so a crash leaves either the old or the new file, never a mix.
public struct CheckpointStore: Sendable {
    public let directory: String
    public var path: String { directory + "/checkpoint" }

    public init(directory: String) { self.directory = directory }

    /// Creates the directory if needed and checks it is writable (exit 74 otherwise).
    public func prepare() throws(DaemonFailure) {
        if !isDirectory(directory) {
            if mkdir(directory, 0o750) != 0 && errno != EEXIST {
                throw DaemonFailure(
                    .stateUnusable,
                    "cannot create the state directory \(directory): \(String(cString: strerror(errno))). Create it or set [state] directory."
                )
            }
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw DaemonFailure(
                .stateUnusable,
                "the state directory \(directory) is not writable: \(String(cString: strerror(errno))). Fix its owner/permissions or set [state] directory."
            )
        }
    }

    public enum Loaded: Sendable {
        case none
        case loaded(CheckpointState)
        /// Unreadable or corrupt: moved aside to `movedTo`, start clean.
        case corrupt(reason: String, movedTo: String?)
    }

    public func load() -> Loaded {
        guard fileExists(path) else { return .none }
        let text: String
        do {
            text = try readSmallFile(path, limit: 256 << 20)
        } catch {
            return moveAside(reason: "\(error)")
        }
        do {
            return .loaded(try CheckpointCodec.decode(text))
        } catch {
            return moveAside(reason: error.description)
        }
    }

    func moveAside(reason: String) -> Loaded {
        let target = path + ".corrupt-\(Clocks.realtimeUsec() / 1_000_000)"
        if rename(path, target) == 0 { return .corrupt(reason: reason, movedTo: target) }
        unlink(path)
        return .corrupt(reason: reason, movedTo: nil)
    }

    public func save(_ state: CheckpointState) throws(FileError) {
        let text = CheckpointCodec.encode(state)
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw FileError(path: tmp, errno: errno) }
        var ok = text.withBytes { b -> Bool in
            var off = 0
            while off < b.count {
                let n = write(fd, b.baseAddress! + off, b.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                off += n
            }
            return true
        }
        let writeErrno = errno
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok else {
            unlink(tmp)
            throw FileError(path: tmp, errno: writeErrno == 0 ? errno : writeErrno)
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw FileError(path: path, errno: e)
        }
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }
}
