import Glibc

let packageRoot: String = {
    var p = #filePath
    for _ in 0..<3 { p = String(p[..<p.lastIndex(of: "/")!]) }
    return p
}()

let fixturesRoot = packageRoot + "/Tests/IOMMUDaemonTests/Fixtures"

func readTestFile(_ path: String) -> String {
    guard let f = fopen(path, "r") else { return "" }
    defer { fclose(f) }
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return String(decoding: out, as: UTF8.self)
}

/// The names in a directory (no dot files); empty when it cannot be read.
func listTestDirectory(_ path: String) -> [String] {
    guard let d = opendir(path) else { return [] }
    defer { closedir(d) }
    var out: [String] = []
    while let e = readdir(d) {
        let name = withUnsafePointer(to: e.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if !name.hasPrefix(".") { out.append(name) }
    }
    return out
}
