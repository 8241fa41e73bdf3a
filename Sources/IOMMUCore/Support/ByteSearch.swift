#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Finding a byte with the C library's vectorised `memchr` rather than a byte-at-a-time loop:
/// framing and header parsing look for the end of every record's line, so this runs over every
/// byte of the kernel log (bench/: replay throughput). Not I/O — a pure function of the bytes.
public enum ByteSearch {
    /// Index of the first `byte` in `b` at or after `start`, or `b.count`.
    @inline(__always)
    public static func index(of byte: UInt8, in b: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard start < b.count, let base = b.baseAddress else { return b.count }
        guard let hit = memchr(base + start, Int32(byte), b.count - start) else { return b.count }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }
}
