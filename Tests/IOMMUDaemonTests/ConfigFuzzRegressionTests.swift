import Testing

@testable import IOMMUDaemon

/// The config inputs the fuzz targets (Tests/fuzz/) once crashed on, through the loaders:
/// refused with a problem on a line, or accepted and run as the daemon runs a configuration.
@Suite("fuzz regressions: config loaders")
struct ConfigFuzzRegressionTests {
    static func inputs(_ target: String) -> [(name: String, text: String)] {
        let dir = packageRoot + "/Tests/fuzz/regressions/" + target
        return listDirectory(dir).sorted().map { ($0, readTestFile(dir + "/" + $0)) }
    }

    @Test("iommud.toml")
    func toml() async throws {
        let inputs = Self.inputs("toml")
        #expect(!inputs.isEmpty)
        for (name, text) in inputs {
            switch ConfigLoader.load(path: name, text: text) {
            case .success(let c): try await ConfigRangeTests.runDerived(c)
            case .failure(let p): #expect(p.problems.allSatisfy { $0.line != nil }, "\(name): \(p)")
            }
        }
    }

    @Test("the web config")
    func yaml() {
        for (name, text) in Self.inputs("yaml") {
            switch WebConfigParser.parse(path: name, text: text) {
            case .success(let c):
                if let r = c.rateLimit { _ = RequestRateLimiter(r).allow() }
            case .failure(let p): #expect(p.problems.allSatisfy { $0.line != nil }, "\(name): \(p)")
            }
        }
    }
}
