import CZlib
import CZstd

// Unsafe pointers here: zlib and libzstd read and write the caller's buffers.

/// Streaming decompression of a rotated log (`kern.log.2.gz`, `messages-20261201.zst`) with the
/// system's zlib and libzstd. Memory is bounded whatever the input says: gzip's window is 32 KiB,
/// a zstd frame may not ask for a window over 128 MiB (`ZSTD_d_windowLogMax` 27, libzstd's own
/// default), and output goes to the caller's buffer, a chunk at a time — a small file that
/// inflates to terabytes streams through in constant memory, the replay's per-line bounds
/// applying to what comes out. Concatenated gzip members and zstd frames are read one after the
/// other, as `zcat` and `zstdcat` do.
final class Decompressor {
    enum Format: String, Sendable {
        case gzip, zstd
    }

    enum Failure: Error, Equatable {
        /// The data is not valid (the library's message).
        case corrupt(String)
    }

    /// What the first bytes say; `unsupported` names a compression that is recognised but not read.
    static func detect(_ b: ArraySlice<UInt8>) -> (format: Format?, unsupported: String?) {
        if b.starts(with: [0x1f, 0x8b]) { return (.gzip, nil) }
        if b.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return (.zstd, nil) }
        if b.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) { return (nil, "xz") }
        if b.starts(with: [0x42, 0x5a, 0x68]) { return (nil, "bzip2") }
        if b.starts(with: [0x04, 0x22, 0x4d, 0x18]) { return (nil, "lz4") }
        return (nil, nil)
    }

    /// Bytes `detect` needs to decide.
    static let magicLength = 6

    let format: Format
    private var gzip = z_stream()
    private var zstd: OpaquePointer?
    /// The last gzip member or zstd frame given is complete.
    private(set) var atStreamEnd = false

    init(_ format: Format) throws {
        self.format = format
        switch format {
        case .gzip:
            guard iommud_inflate_init_gzip(&gzip) == Z_OK else { throw Failure.corrupt("zlib could not start") }
        case .zstd:
            guard let d = ZSTD_createDCtx() else { throw Failure.corrupt("libzstd could not start") }
            zstd = d
            _ = ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27)
        }
    }

    deinit {
        switch format {
        case .gzip: inflateEnd(&gzip)
        case .zstd: ZSTD_freeDCtx(zstd)
        }
    }

    /// Decompresses from `input` into `output`: how much of the input it took and how much output
    /// it wrote. Call again with what is left; an empty input flushes what the library holds.
    func step(_ input: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<UInt8>) throws -> (
        consumed: Int, produced: Int
    ) {
        guard let out = output.baseAddress, output.count > 0 else { return (0, 0) }
        switch format {
        case .gzip:
            if atStreamEnd && !input.isEmpty {
                inflateReset(&gzip)  // a further member (`cat a.gz b.gz`)
                atStreamEnd = false
            }
            gzip.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
            gzip.avail_in = UInt32(min(input.count, Int(UInt32.max)))
            gzip.next_out = out
            gzip.avail_out = UInt32(min(output.count, Int(UInt32.max)))
            let before = (Int(gzip.avail_in), Int(gzip.avail_out))
            let r = inflate(&gzip, Z_NO_FLUSH)
            let done = (before.0 - Int(gzip.avail_in), before.1 - Int(gzip.avail_out))
            switch r {
            case Z_OK, Z_BUF_ERROR: break
            case Z_STREAM_END: atStreamEnd = true
            default:
                throw Failure.corrupt(gzip.msg.map { String(cString: $0) } ?? "zlib error \(r)")
            }
            return done
        case .zstd:
            var inb = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            var outb = ZSTD_outBuffer(dst: out, size: output.count, pos: 0)
            let r = ZSTD_decompressStream(zstd, &outb, &inb)
            if ZSTD_isError(r) != 0 { throw Failure.corrupt(String(cString: ZSTD_getErrorName(r))) }
            // 0: a frame is complete and all of it was written out. (Asked again with nothing,
            // libzstd answers how much the next frame's header needs: not a change of state.)
            if inb.pos > 0 || outb.pos > 0 { atStreamEnd = r == 0 }
            return (inb.pos, outb.pos)
        }
    }
}
