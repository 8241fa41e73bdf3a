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
        /// Corrupt (torn, a bad checksum, not a checkpoint at all): moved aside to `movedTo`.
        case corrupt(reason: String, movedTo: String?)
        /// Sound for all we know, but not usable by this iommud: written by a newer one, or not
        /// readable (permissions). Left where it is: the caller decides.
        case unusable(reason: String)
    }

    /// The largest checkpoint read back: far above what `[ledger] max_devices` devices need.
    public static let sizeLimit = 256 << 20

    public func load() -> Loaded {
        guard fileExists(path) else { return .none }
        let text: String
        do {
            text = try readSmallFile(path, limit: Self.sizeLimit)
        } catch {
            if error.errno == EFBIG {
                return .corrupt(reason: "larger than \(Self.sizeLimit >> 20) MiB", movedTo: moveAside())
            }
            return .unusable(reason: "it cannot be read: \(error)")
        }
        do {
            return .loaded(try CheckpointCodec.decode(text))
        } catch {
            if error.isNewerFormat { return .unusable(reason: error.description) }
            return .corrupt(reason: error.description, movedTo: moveAside())
        }
    }

    /// Renames the checkpoint to `checkpoint.corrupt-<time>` (or deletes it when that fails);
    /// where it went.
    public func moveAside() -> String? {
        let target = path + ".corrupt-\(Clocks.realtimeUsec() / 1_000_000)"
        if rename(path, target) == 0 { return target }
        unlink(path)
        return nil
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
