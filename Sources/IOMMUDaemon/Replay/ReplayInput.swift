import Glibc

// Unsafe pointers here: read(2) and the decompressor fill the caller's chunk buffer.

/// One input of `iommud replay` — a file or stdin — read a chunk at a time, decompressed when it
/// is gzip or zstd. The compression is told by the first bytes, never by the name, so `-` and a
/// renamed file work too.
final class ReplayInput {
    enum Failure: Error, CustomStringConvertible {
        case read(Int32)
        case corrupt(Decompressor.Format, String)
        case truncated(Decompressor.Format)
        case unsupported(String)

        var description: String {
            switch self {
            case .read(let e): return "read error: \(String(cString: strerror(e)))"
            case .corrupt(let f, let why): return "corrupt \(f.rawValue) data (\(why))"
            case .truncated(let f): return "\(f.rawValue) data ends early (truncated file?)"
            case .unsupported(let name):
                return
                    "\(name)-compressed input is not read: decompress it first (e.g. \(name == "xz" ? "xzcat" : name == "bzip2" ? "bzcat" : "lz4cat") FILE | iommud replay -)"
            }
        }
    }

    private let fd: Int32
    /// Compressed (or plain) bytes read ahead, and how far they are used.
    private var pending: [UInt8]
    private var pendingStart = 0
    private var pendingEnd = 0
    private var decompressor: Decompressor?
    private var eof = false
    private var started = false
    /// Bytes read from the file so far (compressed ones, for a compressed file).
    private(set) var bytesRead: Int64 = 0

    init(fd: Int32, bufferSize: Int = 1 << 20) {
        self.fd = fd
        pending = [UInt8](repeating: 0, count: bufferSize)
    }

    var format: Decompressor.Format? { decompressor?.format }

    /// The next bytes of the (decompressed) input at the start of `chunk`; 0 at the end.
    func read(into chunk: inout [UInt8]) throws -> Int {
        try chunk.withUnsafeMutableBufferPointer { try read(into: $0) }
    }

    /// The next bytes of the (decompressed) input into `out`; 0 at the end.
    func read(into out: UnsafeMutableBufferPointer<UInt8>) throws -> Int {
        if !started { try start() }
        guard let d = decompressor else {
            if pendingStart < pendingEnd {
                let n = min(out.count, pendingEnd - pendingStart)
                _ = out.initialize(from: pending[pendingStart..<(pendingStart + n)])
                pendingStart += n
                return n
            }
            return try readFile(into: out)
        }
        while true {
            if pendingStart == pendingEnd && !eof { try refill() }
            let (used, made) = try pending.withUnsafeBufferPointer { p in
                try decompress(d, UnsafeBufferPointer(rebasing: p[pendingStart..<pendingEnd]), out)
            }
            pendingStart += used
            if made > 0 { return made }
            if pendingStart == pendingEnd && eof {
                guard d.atStreamEnd else { throw Failure.truncated(d.format) }
                return 0
            }
            if used == 0 && pendingStart < pendingEnd {
                throw Failure.corrupt(d.format, "no progress")  // never loop on input the library refuses
            }
        }
    }

    private func decompress(
        _ d: Decompressor, _ input: UnsafeBufferPointer<UInt8>, _ out: UnsafeMutableBufferPointer<UInt8>
    ) throws -> (Int, Int) {
        do {
            return try d.step(input, into: out)
        } catch Decompressor.Failure.corrupt(let why) {
            throw Failure.corrupt(d.format, why)
        }
    }

    /// Reads until the magic can be told (or the input ends), then picks the decoder.
    private func start() throws {
        started = true
        while pendingEnd < Decompressor.magicLength && !eof { try refill(keep: true) }
        let (format, unsupported) = Decompressor.detect(pending[0..<pendingEnd])
        if let unsupported { throw Failure.unsupported(unsupported) }
        if let format {
            do {
                decompressor = try Decompressor(format)
            } catch {
                throw Failure.corrupt(format, "\(error)")
            }
        }
    }

    /// More file bytes into `pending` (after what is there when `keep`, else replacing it).
    private func refill(keep: Bool = false) throws {
        if !keep {
            pendingStart = 0
            pendingEnd = 0
        }
        let n = try pending.withUnsafeMutableBufferPointer { p in
            try readFile(into: UnsafeMutableBufferPointer(rebasing: p[pendingEnd...]))
        }
        if n == 0 { eof = true }
        pendingEnd += n
    }

    private func readFile(into out: UnsafeMutableBufferPointer<UInt8>) throws -> Int {
        while true {
            let n = Glibc.read(fd, out.baseAddress, out.count)
            if n >= 0 {
                bytesRead += Int64(n)
                return n
            }
            if errno != EINTR { throw Failure.read(errno) }
        }
    }
}
