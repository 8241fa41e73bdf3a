import ConfigSyntax
import Testing

@testable import IOMMUDaemon

/// The web config's numbers have ranges too (`WebConfig.intervalRange`, `burstRange`,
/// `bcryptCostRange`, documented in config/web-config.example.yml); what it accepts, a reload
/// can run.
@Suite("web config ranges")
struct WebConfigRangeTests {
    static let hash = WebConfigParserTests.hash  // cost 4

    static func parse(_ text: String) -> Result<WebConfig, WebConfigProblems> {
        WebConfigParser.parse(path: "/etc/iommud/web.yml", text: text)
    }

    @Test("the ends of every range are accepted, and the token bucket runs at each")
    func extremes() throws {
        for interval in ["1ms", "1d", "0", "0s"] {
            for burst in [1, 1_000_000] {
                let c = try Self.parse("rate_limit:\n  interval: \(interval)\n  burst: \(burst)\n").get()
                guard interval.hasPrefix("0") == false else {
                    #expect(c.rateLimit == nil)
                    continue
                }
                let r = try #require(c.rateLimit)
                #expect(r.burst == burst)
                // What a reload builds (WebSnapshot), and what its summary says.
                let limiter = RequestRateLimiter(r)
                #expect(limiter.intervalUsec == r.interval.totalMicroseconds)
                var allowed = 0
                for _ in 0..<3 where limiter.allow() { allowed += 1 }
                #expect(allowed == min(3, burst))
                #expect(r.interval.configText == interval)
            }
        }
        let cost17 = "$2y$17$" + Self.hash.dropFirst(7)
        #expect(try Self.parse("basic_auth_users:\n  a: \(cost17)\n").get().users.count == 1)
    }

    @Test(
        "out-of-range values are refused with file, line and key (999999999d used to crash a reload)",
        arguments: [
            (
                "rate_limit:\n  interval: 999999999d\n  burst: 1\n", 2,
                "'rate_limit.interval' must be from 1ms to 1d, or 0"
            ),
            ("rate_limit:\n  interval: 99999999999999999999d\n", 2, "'rate_limit.interval' must be from 1ms to 1d"),
            ("rate_limit:\n  interval: 1d1ms\n  burst: 1\n", 2, "not \"1d1ms\""),
            ("rate_limit:\n  interval: 999us\n  burst: 1\n", 2, "'rate_limit.interval' must be from 1ms to 1d"),
            (
                "rate_limit:\n  interval: 1s\n  burst: 1000001\n", 3,
                "'rate_limit.burst' must be a whole number from 1 to 1000000"
            ),
            ("rate_limit:\n  interval: 1s\n  burst: -1\n", 3, "'rate_limit.burst' must be a whole number"),
            (
                "rate_limit:\n  interval: 1s\n  burst: 9223372036854775808\n", 3,
                "'rate_limit.burst' must be a whole number"
            ),
            ("rate_limit:\n  interval: 1.5s\n", 2, "is not a duration"),
            (
                "basic_auth_users:\n  alice: $2y$18$" + String(repeating: "a", count: 53) + "\n", 2,
                "the bcrypt cost of 'basic_auth_users.alice' must be from 4 to 17, not 18"
            ),
            (
                "basic_auth_users:\n  alice: $2y$31$" + String(repeating: "a", count: 53) + "\n", 2,
                "must be from 4 to 17, not 31"
            ),
            ("http_server_config:\n  headers:\n    X-XSS-Protection: \"1\\u0001\"\n", 3, "control characters"),
        ])
    func refused(_ text: String, _ line: Int, _ message: String) {
        guard case .failure(let p) = Self.parse(text) else {
            Issue.record("accepted: \(text)")
            return
        }
        let hit = p.problems.first { $0.description.contains(message) }
        #expect(hit != nil, "\(p) should say \(message)")
        #expect(hit?.line == line, "\(p)")
        #expect(hit?.description.hasPrefix("/etc/iommud/web.yml:\(line): ") == true)
    }

    @Test("config/web-config.example.yml documents the ranges")
    func documented() {
        let text = readTestFile(packageRoot + "/config/web-config.example.yml")
        #expect(text.contains("Range: 1ms to 1d, or 0."))
        #expect(text.contains("Range: 1 to 1000000."))
        #expect(text.contains("cost from 4 to 17"))
    }
}
