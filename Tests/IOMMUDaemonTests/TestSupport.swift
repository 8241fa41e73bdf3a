import Foundation
import Glibc

let packageRoot: String = {
    var p = #filePath
    for _ in 0..<3 { p = String(p[..<p.lastIndex(of: "/")!]) }
    return p
}()

let fixturesRoot = packageRoot + "/Tests/IOMMUDaemonTests/Fixtures"

/// A fixture's text ("" when it cannot be read).
func readTestFile(_ path: String) -> String {
    String(decoding: readTestFileBytes(path), as: UTF8.self)
}

/// A fixture's bytes as they are (a fuzz input need not be UTF-8).
func readTestFileBytes(_ path: String) -> [UInt8] {
    FileManager.default.contents(atPath: path).map { Array($0) } ?? []
}
