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
    FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
}
