import ConfigSyntax
import Foundation
import Testing

@testable import IOMMUDaemon

/// The config files as read from disk (`iommud run`, `check-config`, reloads): size and depth
/// bounds end in a clear problem naming the file, never a crash, a hang or a file read in part.
@Suite("config files: size and depth bounds")
struct ConfigFileLimitTests {
    final class Dir {
        let path = NSTemporaryDirectory() + "iommud-cfglimits-\(getpid())-\(Int.random(in: 0..<1_000_000_000))"
        init() { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }

        func write(_ name: String, _ text: String) -> String {
            let file = path + "/" + name
            #expect(FileManager.default.createFile(atPath: file, contents: Data(text.utf8)))
            return file
        }
    }

    static let kib = "# " + String(repeating: "x", count: 1021) + "\n"

    @Test("iommud.toml: 2 MiB is refused as too large; exactly 1 MiB is read")
    func tomlSize() throws {
        let dir = Dir()
        let big = dir.write("big.toml", String(repeating: Self.kib, count: 2048))
        guard case .failure(let p) = loadConfiguration(path: big) else {
            Issue.record("a 2 MiB config was accepted")
            return
        }
        #expect(
            p.description
                == "\(big): cannot read the config file: it is larger than 1 MiB (1048576 bytes); a config file is a few KiB"
        )
        let fits = dir.write("fits.toml", "[storm]\nthreshold = 7\n" + String(repeating: Self.kib, count: 1023))
        #expect(try loadConfiguration(path: fits).get().stormThreshold == 7)
        // A device that never ends is refused as well, not read forever.
        if case .failure(let z) = loadConfiguration(path: "/dev/zero") {
            #expect(z.description.contains("larger than 1 MiB"))
        } else {
            Issue.record("/dev/zero was read as a config")
        }
    }

    @Test("iommud.toml: 100 000 nested arrays are a syntax error on their line (it used to crash)")
    func tomlDepth() throws {
        let dir = Dir()
        let file = dir.write("deep.toml", "[storm]\nthreshold = " + String(repeating: "[", count: 100_000) + "\n")
        guard case .failure(let p) = loadConfiguration(path: file) else {
            Issue.record("accepted")
            return
        }
        #expect(p.description.hasPrefix("\(file):2: TOML syntax error: arrays nested deeper than 32 levels"), "\(p)")
    }

    @Test("iommud.toml: a line of almost 1 MiB is read (and refused for what it says, not its length)")
    func tomlLongLine() throws {
        let dir = Dir()
        let path = "/" + String(repeating: "a", count: (1 << 20) - 64)
        let file = dir.write("long.toml", "[control]\nsocket = \"\(path)\"\n")
        #expect(try loadConfiguration(path: file).get().controlSocket == path)
        let bad = dir.write("long-bad.toml", "[control]\nsocket = \"\(path.dropFirst())\"\n")
        guard case .failure(let p) = loadConfiguration(path: bad) else {
            Issue.record("accepted")
            return
        }
        #expect(p.description.count < 300, "the message quotes a little of the value, not a megabyte")
    }

    @Test("the web config: 2 MiB, 100 000 levels deep, a line of 1 MiB")
    func webConfig() throws {
        let dir = Dir()
        let big = dir.write("big.yml", String(repeating: Self.kib, count: 2048))
        #expect(
            WebSecurity.validate(path: big)?.description
                == "\(big): cannot read the web config file ([http] web_config): it is larger than 1 MiB (1048576 bytes); a config file is a few KiB"
        )
        for (name, text, line) in [
            ("flow.yml", "rate_limit: " + String(repeating: "[", count: 100_000) + "\n", 1),
            ("map.yml", "# c\nrate_limit: " + String(repeating: "{a: ", count: 100_000) + "\n", 2),
            ("seq.yml", "a:\n- " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), 2),
            ("block.yml", (0..<1000).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n"), 33),
        ] {
            let file = dir.write(name, text)
            let d = WebSecurity.validate(path: file)?.description ?? "accepted"
            #expect(d.hasPrefix("\(file):\(line): YAML syntax error: "), "\(name): \(d)")
            #expect(d.contains("nested deeper than 32 levels"), "\(name): \(d)")
        }
        let long = dir.write(
            "long.yml",
            "http_server_config:\n  headers:\n    X-XSS-Protection: \"" + String(repeating: "1", count: (1 << 20) - 80)
                + "\"\n")
        #expect(WebSecurity.validate(path: long) == nil)
    }
}
