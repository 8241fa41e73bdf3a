import Glibc

/// Reads a small file (sysfs, procfs) whole. procfs files report size 0, so read until EOF.
/// At most about `limit` bytes are read; with `refuseLonger`, a file longer than `limit` is an
/// error (`EFBIG`) instead of being cut short — for files that must be read whole or not at all.
public func readSmallFile(_ path: String, limit: Int = 1 << 20, refuseLonger: Bool = false) throws(FileError)
    -> String
{
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(path: path, errno: errno) }
    defer { close(fd) }
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 16 * 1024)
    while out.count < limit || refuseLonger {
        if refuseLonger && out.count > limit { throw FileError(path: path, errno: EFBIG) }
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw FileError(path: path, errno: errno)
        }
        if n == 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Runs `body` over a regular file's bytes mapped read-only (nil when it cannot be opened or
/// mapped). For large read-only data files read once (pci.ids): the pages are the page cache's
/// and leave with the mapping, where a read into the heap leaves freed pages behind in RSS.
public func withMappedFile<R>(_ path: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    let size = Int(st.st_size)
    guard size > 0 else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
    guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else { return nil }
    defer { munmap(p, size) }
    return body(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: size))
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
        let name = withUnsafePointer(to: e.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
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
public func writeStderr(_ s: String) {
    var copy = s
    copy.withUTF8 { writeAll(2, $0) }
}

/// Writes all of `b` to `fd` (retrying short writes and EINTR); stops at the first error.
public func writeAll(_ fd: Int32, _ b: UnsafeBufferPointer<UInt8>) {
    var off = 0
    while off < b.count {
        let n = write(fd, b.baseAddress! + off, b.count - off)
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { break }
        off += n
    }
}
