// libFuzzer target: `iommud replay`'s decompressor (IOMMUDaemon/Replay/Decompressor.swift, compiled
// in with this harness) over arbitrary bytes as gzip and as zstd, fed and drained in pieces whose
// sizes the input picks: a corrupt or truncated stream must end in an error or an incomplete
// stream, never a crash, a hang or more output than the room given.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecompress(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 2 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let inStep = Int(bytes[0]) + 1
    let outStep = Int(bytes[1]) * 16 + 1
    let payload = UnsafeBufferPointer(rebasing: bytes[2...])
    var room = [UInt8](repeating: 0, count: outStep)
    for format in [Decompressor.Format.gzip, .zstd] {
        guard let d = try? Decompressor(format) else { continue }
        var i = 0
        var total = 0
        var idle = 0
        // At most 8 MiB out: a 4 KiB input can describe far more (a bomb); it streams the same.
        while total < 8 << 20 {
            let end = min(payload.count, i + inStep)
            let step = room.withUnsafeMutableBufferPointer { r in
                try? d.step(UnsafeBufferPointer(rebasing: payload[i..<end]), into: r)
            }
            guard let (used, made) = step else { break }  // corrupt: said so
            precondition(used <= end - i && made <= outStep, "the decompressor overran its buffers")
            i += used
            total += made
            if used == 0 && made == 0 {
                idle += 1
                if i == payload.count || idle > 2 { break }
            } else {
                idle = 0
            }
        }
    }
    return 0
}
