import CLinux
import Glibc

/// Reads a small file (sysfs, procfs, a config) whole — procfs files report size 0, so it reads
/// until EOF — or fails with EFBIG when it is longer than `limit`: a file is never half read.
public func readSmallFile(_ path: String, limit: Int = 1 << 20) throws(FileError) -> String {
    String(decoding: try readSmallFileBytes(path, limit: limit), as: UTF8.self)
}

/// The same, as bytes (device-tree properties, ACPI tables).
public func readSmallFileBytes(_ path: String, limit: Int = 1 << 20) throws(FileError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(path: path, errno: errno) }
    defer { close(fd) }
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
        let n = read(fd, &buf, buf.count)
        if n < 0 {
            if errno == EINTR { continue }
            throw FileError(path: path, errno: errno)
        }
        if n == 0 { break }
        guard out.count + n <= limit else { throw FileError(path: path, errno: EFBIG) }
        out.append(contentsOf: buf[0..<n])
    }
    return out
}

public struct FileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "\(path): \(String(cString: strerror(errno)))" }
}

/// readlink(2) as a String.
public func readLink(_ path: String) -> String? {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buf, buf.count - 1)
    guard n > 0 else { return nil }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Names in a directory (without . and ..); empty when it cannot be read.
public func listDirectory(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var out: [String] = []
    while let e = readdir(d) {
        let name = String(cString: clinux_dirent_name(e))
        if name != "." && name != ".." { out.append(name) }
    }
    return out
}

public func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

public func isDirectory(_ path: String) -> Bool {
    var st = stat()
    return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
}

public func basename(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}

/// Wall-clock and monotonic microseconds.
public enum Clocks {
    public static func realtimeUsec() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    public static func monotonicUsec() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    /// realtime − monotonic: adds to a kmsg timestamp to give its wall time.
    public static func realtimeOffsetUsec() -> Int64 { realtimeUsec() - monotonicUsec() }
}

/// Writes to fd 2 directly (stdio's `stderr` is shared mutable state to Swift 6).
public func writeStderr(_ s: String) { writeAll(2, s) }

/// Writes all of `s` to `fd` (retrying short writes and EINTR); stops at the first error.
public func writeAll(_ fd: Int32, _ s: String) { writeAll(fd, Array(s.utf8)) }

public func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var rest = bytes
    while !rest.isEmpty {
        let n = write(fd, rest, rest.count)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        rest.removeFirst(n)
    }
}
