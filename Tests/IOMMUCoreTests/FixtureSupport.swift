import IOMMUCore
import Testing

/// Where the fixtures live: beside this file (tests never read ../shared).
enum Fixtures {
    static let root: String = {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures"
    }()

    static func read(_ relative: String) -> String {
        readFile(root + "/" + relative)
    }

    /// All fixture files of the given vendor folders (`.txt`), sorted.
    static func files(in folders: [String]) -> [String] {
        folders.flatMap { folder in
            listFiles(root + "/" + folder).filter { $0.hasSuffix(".txt") }.sorted().map { folder + "/" + $0 }
        }
    }
}

import Glibc

func readFile(_ path: String) -> String {
    String(decoding: readBytes(path), as: UTF8.self)
}

/// A file's bytes as they are (a fixture may hold bytes that are not UTF-8).
func readBytes(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "r") else { return [] }
    defer { fclose(f) }
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return out
}

func listFiles(_ dir: String) -> [String] {
    guard let d = opendir(dir) else { return [] }
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

/// Text through the daemon's pipeline as `iommud replay` feeds it: chunks, a commit after each.
enum PipelineReplay {
    static func run(_ chunks: [ArraySlice<UInt8>], format: ReplayFormat = .auto) -> (KmsgPipeline, [Fault]) {
        var p = KmsgPipeline(input: format == .kmsg ? .kmsg : .text(format), fromStartOfBoot: false)
        var faults: [Fault] = []
        for (i, c) in chunks.enumerated() {
            c.withUnsafeBufferPointer { p.read(stream: $0, isFinal: i == chunks.count - 1) }
            faults += p.commit().faults
        }
        return (p, faults)
    }

    static func run(_ text: String, format: ReplayFormat = .auto) -> (KmsgPipeline, [Fault]) {
        run([Array(text.utf8)[...]], format: format)
    }
}
