import IOMMUDaemon
import Testing

@Suite("Configuration loading")
struct ConfigLoaderTests {
    static func load(_ text: String) -> Result<Configuration, ConfigProblems> {
        ConfigLoader.load(path: "/etc/iommud/iommud.toml", text: text)
    }

    @Test("defaults when empty")
    func defaults() throws {
        let c = try Self.load("").get()
        #expect(c.kmsgPath == "/dev/kmsg")
        #expect(c.listen == [ListenAddress(host: "::", port: 10111)])
        #expect(c.controlSocket == "/run/iommud/control.sock")
        #expect(c.checkpointInterval == .seconds(5))
        #expect(!c.acceptUserFacility)
    }

    @Test("every key of the shipped file parses to its documented default")
    func shipped() throws {
        let text = readTestFile(packageRoot + "/config/iommud.toml")
        #expect(!text.isEmpty)
        var c = try Self.load(text).get()
        c.file = nil
        #expect(c == Configuration())
    }

    @Test(
        "values are taken",
        arguments: [
            ("[http]\nlisten = [\"127.0.0.1:9100\", \"[::1]:9101\"]", "listen"),
            ("[state]\ncheckpoint_interval = \"1m30s\"", "interval"),
            ("[log]\nlevel = \"debug\"", "level"),
            ("[http]\nlisten = [\"0.0.0.0:1\"]", "listen0"),
        ])
    func values(_ text: String, _ what: String) throws {
        let c = try Self.load(text).get()
        switch what {
        case "listen":
            #expect(c.listen == [ListenAddress(host: "127.0.0.1", port: 9100), ListenAddress(host: "::1", port: 9101)])
        case "interval": #expect(c.checkpointInterval == .seconds(90))
        case "level": #expect(c.logLevel == .debug)
        default: #expect(c.listen == [ListenAddress(host: "0.0.0.0", port: 1)])
        }
    }

    @Test("every problem is reported with its line, not just the first")
    func allProblems() {
        guard
            case .failure(let e) = Self.load(
                "[sources]\nkmsg = 3\n\n[http]\nlisen = 1\n[state]\ncheckpoint_interval = \"0s\"\n")
        else {
            Issue.record("accepted a bad config")
            return
        }
        #expect(e.problems.map(\.line) == [2, 5, 7])
        #expect(e.description.contains("/etc/iommud/iommud.toml:5: unknown key 'http.lisen'"))
    }
}
