#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

// Unsafe pointers here: memchr/memcmp over record bytes, for framing and the parsers (hot path).

/// Finding a byte with the C library's vectorised `memchr` rather than a byte-at-a-time loop:
/// framing and header parsing look for the end of every record's line, so this runs over every
/// byte of the kernel log — the hot path. Not I/O — a pure function of the bytes.
public enum ByteSearch {
    /// Index of the first `byte` in `b` at or after `start`, or `b.count`.
    @inline(__always)
    public static func index(of byte: UInt8, in b: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard start < b.count, let base = b.baseAddress else { return b.count }
        guard let hit = memchr(base + start, Int32(byte), b.count - start) else { return b.count }
        return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
    }

    /// Whether the bytes are exactly `s` (`elementsEqual` with `s.utf8`'s String view goes
    /// index by index: this runs for every dictionary line of every IOMMU record).
    @inline(__always)
    public static func equals(_ b: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        b.count == s.utf8CodeUnitCount && (b.isEmpty || memcmp(b.baseAddress!, s.utf8Start, b.count) == 0)
    }

    /// Whether `s` is exactly these UTF-8 bytes, compared with memcmp (`String.utf8`'s own
    /// `elementsEqual` goes index by index; this runs for several records of every SMMUv3 event).
    public static func equals(_ s: String, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let u = s.utf8
        guard u.count == b.count else { return false }
        guard b.count > 0 else { return true }
        return u.withContiguousStorageIfAvailable { memcmp($0.baseAddress!, b.baseAddress!, b.count) == 0 }
            ?? u.elementsEqual(b)
    }
}
