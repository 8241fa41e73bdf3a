import ConfigSyntax
import Testing

/// The inputs the fuzz targets (Tests/fuzz/) once crashed on, replayed here too, so `swift
/// test` keeps them fixed without libFuzzer (run.sh replays them through the harnesses).
@Suite("fuzz regressions: syntaxes")
struct SyntaxFuzzRegressionTests {
    @Test("toml: an answer or an error on a line of the text")
    func toml() {
        for (name, text) in fuzzRegressions("toml") {
            let lines = text.utf8.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
            if let e = thrown({ () throws(ConfigSyntaxError) in _ = try TOMLSubset.parse(text) }) {
                #expect((1...lines).contains(e.line), "\(name): \(e)")
            }
        }
    }

    @Test("yaml: an answer or an error on a line of the text")
    func yaml() {
        for (name, text) in fuzzRegressions("yaml") {
            let lines = text.utf8.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
            if let e = thrown({ () throws(ConfigSyntaxError) in _ = try YAMLSubset.compose(text) }) {
                #expect((1...lines).contains(e.line), "\(name): \(e)")
            }
        }
    }

    @Test("duration: a value that prints and reads back, or a reason")
    func duration() {
        for (name, text) in fuzzRegressions("duration") {
            if case .success(let us) = DurationSyntax.microseconds(text) {
                #expect(
                    us >= 0 && DurationSyntax.microseconds(DurationSyntax.text(microseconds: us)) == .success(us),
                    "\(name)")
            }
        }
    }

    @Test("timespec: within the years 1 to 9999, or a reason")
    func timespec() {
        for (name, text) in fuzzRegressions("timespec") {
            for now: Int64 in [1_795_679_059_000_000, .max, .min] {
                if case .success(let t) = TimeSpec.read(text, nowUsec: now) {
                    #expect((TimeSpec.earliestUsec...TimeSpec.latestUsec).contains(t), "\(name)")
                }
            }
        }
    }

    @Test("the regression inputs are there")
    func present() {
        #expect(fuzzRegressions("toml").count >= 5 && fuzzRegressions("timespec").count >= 2)
    }
}
