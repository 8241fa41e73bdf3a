import ConfigSyntax
import Glibc
import Testing

/// The error `body` throws, or nil when it returns.
func thrown<E: Error>(_ body: () throws(E) -> Void) -> E? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// A config parser's error table row: `text` fails, on `line`, with a message containing
/// `message` (TOMLSubset and YAMLSubset).
func expectSyntaxError(
    _ e: ConfigSyntaxError?, in text: String, line: Int, message: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(e != nil, "should fail: \(text)", sourceLocation: sourceLocation)
    #expect(e?.line == line, "\(String(describing: e))", sourceLocation: sourceLocation)
    #expect(
        e?.message.contains(message) == true, "\(String(describing: e)) should say \(message)",
        sourceLocation: sourceLocation)
}

let packageRoot: String = {
    var p = #filePath
    for _ in 0..<3 { p = String(p[..<p.lastIndex(of: "/")!]) }
    return p
}()

/// The inputs a fuzz target once crashed on (Tests/fuzz/regressions/<target>/), by name.
func fuzzRegressions(_ target: String) -> [(name: String, text: String)] {
    let dir = packageRoot + "/Tests/fuzz/regressions/" + target
    guard let d = opendir(dir) else { return [] }
    defer { closedir(d) }
    var out: [(String, String)] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        guard !name.hasPrefix("."), let f = fopen(dir + "/" + name, "r") else { continue }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        fclose(f)
        out.append((name, String(decoding: bytes, as: UTF8.self)))
    }
    return out.sorted { $0.0 < $1.0 }
}
