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

    /// Tests/fuzz/regressions/<target>/: the inputs a fuzz target once failed on.
    static func fuzzRegressions(_ target: String) -> String { root + "/../../fuzz/regressions/" + target }

    /// All fixture files of the given vendor folders (`.txt`), sorted.
    static func files(in folders: [String]) -> [String] {
        folders.flatMap { folder in
            listFiles(root + "/" + folder).filter { $0.hasSuffix(".txt") }.sorted().map { folder + "/" + $0 }
        }
    }
}

import Foundation

func readFile(_ path: String) -> String {
    String(decoding: readBytes(path), as: UTF8.self)
}

/// A file's bytes as they are (a fixture may hold bytes that are not UTF-8).
func readBytes(_ path: String) -> [UInt8] {
    FileManager.default.contents(atPath: path).map { Array($0) } ?? []
}

/// The names in a directory (no dot files).
func listFiles(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasPrefix(".") }
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
