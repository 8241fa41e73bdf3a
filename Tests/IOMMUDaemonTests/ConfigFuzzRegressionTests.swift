import IOMMUCore
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
            case .failure(let p):
                // Every problem names its line and quotes input cut short (a config error never
                // echoes a long key or value back whole).
                #expect(p.problems.allSatisfy { $0.line != nil && $0.description.utf8.count < 1000 }, "\(name): \(p)")
            }
        }
    }

    @Test("the web config")
    func yaml() {
        for (name, text) in Self.inputs("yaml") {
            switch WebConfigParser.parse(path: name, text: text) {
            case .success(let c):
                if let r = c.rateLimit { _ = RequestRateLimiter(r).allow() }
            case .failure(let p):
                // Every problem names its line and quotes input cut short (a config error never
                // echoes a long key or value back whole).
                #expect(p.problems.allSatisfy { $0.line != nil && $0.description.utf8.count < 1000 }, "\(name): \(p)")
            }
        }
    }
}

/// The /proc/interrupts input a fresh clone's fuzz phase once trapped on, as the target runs it.
@Suite("fuzz regressions: /proc/interrupts")
struct InterruptRegressionTests {
    @Test("every input parses and folds twice, its totals read, without trapping")
    func interrupts() {
        let inputs = ConfigFuzzRegressionTests.inputs("interrupts")
        #expect(!inputs.isEmpty)
        for (_, text) in inputs {
            let obs = InterruptSampler.observations(ProcInterruptsParser.parse(text), topology: Topology())
            var ledger = InterruptLedger()
            ledger.fold(obs)
            ledger.fold(obs)
            for o in obs { _ = ledger.total(unit: o.unit) }
        }
    }
}

/// The Authorization header the `auth` target once broke its invariant on.
@Suite("fuzz regressions: Authorization")
struct AuthRegressionTests {
    @Test("no user name with a colon, never more credentials than header")
    func auth() {
        let dir = packageRoot + "/Tests/fuzz/regressions/auth"
        let names = listDirectory(dir)
        #expect(!names.isEmpty)
        for name in names {
            let bytes = readTestFileBytes(dir + "/" + name)
            let header = String(decoding: bytes, as: UTF8.self)
            if let (user, password) = BasicCredentials.parseBasic(header) {
                #expect(!user.utf8.contains(UInt8(ascii: ":")), "\(name)")
                #expect(user.utf8.count + password.count < bytes.count, "\(name)")
            }
        }
    }
}
