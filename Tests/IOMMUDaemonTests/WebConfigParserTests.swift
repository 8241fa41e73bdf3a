import Foundation
import Testing

@testable import IOMMUDaemon

/// `[http] web_config`: the exporter-toolkit YAML, parsed the way exporter-toolkit does, with
/// every problem named by file and line.
@Suite("web config parsing")
struct WebConfigParserTests {
    static let hash = "$2y$04$GaQWYG5JKFYSOVXu55lQ6.EGJCHO60Lk0XozCIUkOkEh8YJCxXomC"  // "secret"

    func parse(_ text: String) -> Result<WebConfig, WebConfigProblems> {
        WebConfigParser.parse(path: "/etc/iommud/web.yml", text: text)
    }

    func problems(_ text: String) -> [WebConfigProblem] {
        if case .failure(let p) = parse(text) { return p.problems }
        return []
    }

    @Test("a full file: TLS, mTLS, versions, suites, curves, headers, users, rate limit")
    func full() throws {
        let c = try parse(
            """
            tls_server_config:
              cert_file: server.crt
              key_file: /etc/iommud/server.key
              client_auth_type: RequireAndVerifyClientCert
              client_ca_file: ca.crt
              client_allowed_sans: ["prometheus.example.com", "10.0.0.1"]
              min_version: TLS13
              max_version: TLS13
              cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
              curve_preferences: [X25519, CurveP256]
              prefer_server_cipher_suites: true
            http_server_config:
              http2: false
              headers:
                X-Frame-Options: deny
                Strict-Transport-Security: max-age=31536000
                X-XSS-Protection: ""
            basic_auth_users:
              alice: \(Self.hash)
            rate_limit:
              interval: 1s
              burst: 20
            """
        ).get()
        let tls = try #require(c.tls)
        #expect(tls.certificate == .file("server.crt"))
        #expect(tls.key == .file("/etc/iommud/server.key"))
        #expect(tls.clientCA == .file("ca.crt"))
        #expect(tls.clientAuth == .requireAndVerifyClientCert)
        #expect(tls.clientAllowedSANs == ["prometheus.example.com", "10.0.0.1"])
        #expect(tls.minVersion == .tls13 && tls.maxVersion == .tls13)
        #expect(tls.cipherSuites == [0xC02F])  // TLS 1.3 suites are accepted and ignored, as in Go
        #expect(tls.curves == [0x1D, 0x17])
        #expect(tls.lines["cert_file"] == 2 && tls.lines["key_file"] == 3)
        #expect(c.headers.map(\.name) == ["X-Frame-Options", "Strict-Transport-Security"])  // blank: unset
        #expect(c.users == ["alice": Self.hash])
        #expect(c.rateLimit == WebConfig.RateLimit(interval: .seconds(1), burst: 20))
        #expect(c.warnings.isEmpty)
    }

    @Test("defaults: TLS 1.2 to 1.3, no client certificates; no TLS keys means plain HTTP")
    func defaults() throws {
        let tls = try #require(try parse("tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n").get().tls)
        #expect(tls.minVersion == .tls12 && tls.maxVersion == .tls13 && tls.clientAuth == .noClientCert)
        #expect(tls.cipherSuites.isEmpty && tls.curves.isEmpty && tls.clientCA == nil)
        let plain = try parse("basic_auth_users:\n  bob: \(Self.hash)\n").get()
        #expect(plain.tls == nil && plain.requiresAuth)
        #expect(try parse("").get() == WebConfig(file: "/etc/iommud/web.yml"))
        #expect(try parse("# nothing yet\n").get().tls == nil)
        #expect(try parse("tls_server_config:\n").get().tls == nil)
    }

    @Test("inline PEM and the old RequireClientCert name")
    func inlineAndAlias() throws {
        let tls = try #require(
            try parse(
                """
                tls_server_config:
                  cert: |
                    -----BEGIN CERTIFICATE-----
                  key: "k"
                  client_ca: "c"
                  client_auth_type: RequireClientCert
                """
            ).get().tls)
        #expect(tls.certificate == .inline("-----BEGIN CERTIFICATE-----\n"))
        #expect(tls.key == .inline("k") && tls.clientCA == .inline("c"))
        #expect(tls.clientAuth == .requireAnyClientCert)
    }

    @Test(
        "problems name the file, the line and the key",
        arguments: [
            ("tls_server_confg:\n  cert_file: a\n", 1, "unknown key 'tls_server_confg'"),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  certfile: c\n", 4,
                "unknown key 'tls_server_config.certfile'"
            ),
            ("http_server_config:\n  http3: true\n", 2, "unknown key 'http_server_config.http3'"),
            ("rate_limit:\n  interval: 1s\n  burst: 2\n  bucket: 3\n", 4, "unknown key 'rate_limit.bucket'"),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n", 4,
                "is not one of NoClientCert"
            ),
            ("tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n", 4, "is not one of TLS10"),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS13\n  max_version: TLS12\n", 4,
                "is above max_version"
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites:\n    - TLS_NOPE\n", 5,
                "unknown cipher suite \"TLS_NOPE\""
            ),
            ("tls_server_config:\n  cert_file: a\n  key_file: b\n  curve_preferences: [P999]\n", 4, "unknown curve"),
            ("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: ca\n", 4, "NoClientCert"),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n",
                4,
                "needs 'client_ca_file'"
            ),
            (
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_allowed_sans: [x]\n", 4,
                "client_allowed_sans' needs"
            ),
            ("tls_server_config:\n  key_file: b\n", 1, "needs 'cert_file'"),
            ("tls_server_config:\n  cert_file: a\n", 1, "needs 'key_file'"),
            ("tls_server_config:\n  cert_file: a\n  cert: b\n  key_file: c\n", 3, "not both"),
            ("tls_server_config: [a, b]\n", 1, "must be a mapping"),
            ("basic_auth_users:\n  alice: hunter2\n", 2, "'basic_auth_users.alice' is not a bcrypt hash"),
            ("basic_auth_users:\n  alice:\n", 2, "has no password hash"),
            ("basic_auth_users:\n  \"a:b\": \(hash)\n", 2, "must not be empty nor contain ':'"),
            (
                "http_server_config:\n  headers:\n    X-Powered-By: swift\n", 3,
                "HTTP header \"X-Powered-By\" can not be configured"
            ),
            ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", 3, "is not one of deny, sameorigin"),
            ("http_server_config:\n  http2: maybe\n", 2, "must be true or false"),
            ("rate_limit:\n  interval: soon\n", 2, "is not a duration"),
            ("rate_limit:\n  interval: 1s\n  burst: 0\n", 2, "burst' must be at least 1"),
            ("tls_server_config:\n  cert_file: [a\n", 3, "YAML syntax error"),
            ("basic_auth_users:\n  alice: \(hash)\n  alice: \(hash)\n", 3, "duplicate key 'alice' (first on line 2)"),
            ("- just\n- a list\n", 1, "the file must be a mapping"),
        ])
    func bad(_ text: String, _ line: Int, _ message: String) {
        let p = problems(text)
        #expect(!p.isEmpty, "should fail: \(text)")
        let hit = p.first { $0.description.contains(message) }
        #expect(hit != nil, "\(p) should say \(message)")
        #expect(hit?.line == line, "\(p): line")
        #expect(hit?.description.hasPrefix("/etc/iommud/web.yml:\(line): ") == true)
    }

    @Test("every problem is reported, not only the first")
    func allProblems() {
        let p = problems("nope: 1\nbasic_auth_users:\n  a: x\nrate_limit:\n  what: 2\n")
        #expect(p.map(\.line) == [1, 3, 5])
    }

    @Test("http2: true is accepted with a warning (HTTP/1.1 only)")
    func http2() throws {
        let c = try parse("http_server_config:\n  http2: true\n").get()
        #expect(c.warnings.count == 1 && c.warnings[0].contains("web.yml:2") && c.warnings[0].contains("http2"))
    }

    @Test("exporter-toolkit's own sample file parses")
    func toolkitSample() throws {
        let c = try parse(
            """
            # TLS and basic authentication configuration example.
            #
            # Additionally, a certificate and a key file are needed.
            tls_server_config:
              cert_file: server.crt
              key_file: server.key

            # Usernames and passwords required to connect.
            # Passwords are hashed with bcrypt: https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md#about-bcrypt.
            basic_auth_users:
              alice: $2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze
              bob: $2y$10$hLqFl9jSjoAAy95Z/zw8Ye8wkdMBM8c5Bn1ptYqP/AXyV0.oy0S8m

            # Rate limiting requests on the endpoint using a token bucket
            rate_limit:
              interval: "1s" # time interval between two requests, set to 0 to disable rate limiter
              burst: 20 # and permits a burst of up to 20 requests.
            """
        ).get()
        #expect(c.users.count == 2 && c.tls != nil && c.rateLimit?.burst == 20)
    }

    @Test("the shipped example web config is valid YAML for us")
    func shippedExample() throws {
        let path = packageRoot + "/config/web-config.example.yml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let c = try WebConfigParser.parse(path: path, text: text).get()
        #expect(c.tls != nil && c.requiresAuth)
    }

    @Test("bcrypt hash syntax")
    func hashSyntax() {
        #expect(WebConfigParser.isBcryptHash(Self.hash))
        #expect(WebConfigParser.isBcryptHash("$2b$12$" + String(repeating: "a", count: 53)))
        #expect(!WebConfigParser.isBcryptHash("$2x$12$" + String(repeating: "a", count: 53)))
        #expect(!WebConfigParser.isBcryptHash("$2y$03$" + String(repeating: "a", count: 53)))
        #expect(!WebConfigParser.isBcryptHash("$2y$32$" + String(repeating: "a", count: 53)))
        #expect(!WebConfigParser.isBcryptHash("$2y$10$" + String(repeating: "a", count: 52)))
        #expect(!WebConfigParser.isBcryptHash("$2y$10$" + String(repeating: "!", count: 53)))
        #expect(!WebConfigParser.isBcryptHash("$6$salt$hash"))
    }
}

@Suite("basic auth through crypt(3)")
struct BasicAuthTests {
    @Test("libxcrypt verifies $2y$ and $2b$ hashes; wrong passwords and NULs fail")
    func crypt() {
        #expect(BasicAuthVerifier.systemSupportsBcrypt)
        let hash = WebConfigParserTests.hash
        #expect(BasicAuthVerifier.check(password: Array("secret".utf8), hash: hash))
        #expect(!BasicAuthVerifier.check(password: Array("Secret".utf8), hash: hash))
        #expect(!BasicAuthVerifier.check(password: Array("secret\0x".utf8), hash: hash))
        #expect(!BasicAuthVerifier.check(password: [], hash: hash))
        // The decoy used for unknown users is a real hash (of "fakepassword").
        #expect(BasicAuthVerifier.check(password: Array("fakepassword".utf8), hash: BasicAuthVerifier.decoyHash))
        let b = "$2b$" + hash.dropFirst(4)
        #expect(BasicAuthVerifier.check(password: Array("secret".utf8), hash: String(b)))
        #expect(BasicAuthVerifier.cryptRN(password: Array("x".utf8), setting: "$9$nonsense") == nil)
    }

    @Test("Authorization header parsing")
    func header() {
        // "alice:se:cret" — the password may hold colons, the user may not.
        #expect(
            BasicCredentials.parseBasic("Basic YWxpY2U6c2U6Y3JldA==").map {
                [$0.0, String(decoding: $0.1, as: UTF8.self)]
            } == [
                "alice", "se:cret",
            ])
        #expect(BasicCredentials.parseBasic("basic   YWxpY2U6").map { $0.0 } == "alice")
        #expect(BasicCredentials.parseBasic("Bearer YWxpY2U6c2VjcmV0") == nil)
        #expect(BasicCredentials.parseBasic("Basic !!!") == nil)
        #expect(BasicCredentials.parseBasic("Basic YWxpY2U=") == nil)  // no colon
        #expect(BasicCredentials.parseBasic(nil) == nil)
        #expect(BasicCredentials.base64Decode("aGVsbG8=") == Array("hello".utf8))
        #expect(BasicCredentials.base64Decode("aGVsbG8") == Array("hello".utf8))
        #expect(BasicCredentials.base64Decode("aG=VsbG8") == nil)
    }

    @Test("constant-time comparison")
    func compare() {
        #expect(BasicAuthVerifier.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!BasicAuthVerifier.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!BasicAuthVerifier.constantTimeEqual([1, 2], [1, 2, 0]))
        #expect(BasicAuthVerifier.constantTimeEqual([], []))
    }

    @Test("a success is cached only for the same password and the same hash")
    func cache() {
        let v = BasicAuthVerifier()
        let hash = WebConfigParserTests.hash
        v.remember(user: "alice", password: Array("secret".utf8), hash: hash)
        #expect(v.cachedOK(user: "alice", password: Array("secret".utf8), hash: hash))
        #expect(!v.cachedOK(user: "alice", password: Array("secreT".utf8), hash: hash))
        #expect(!v.cachedOK(user: "bob", password: Array("secret".utf8), hash: hash))
        let other = "$2y$04$" + String(repeating: "b", count: 53)
        #expect(!v.cachedOK(user: "alice", password: Array("secret".utf8), hash: other))
        v.clear()
        #expect(!v.cachedOK(user: "alice", password: Array("secret".utf8), hash: hash))
    }

    @Test("rate limit: a burst, then one per interval")
    func rateLimit() {
        let r = RequestRateLimiter(WebConfig.RateLimit(interval: .seconds(3600), burst: 3))
        #expect((0..<5).map { _ in r.allow() } == [true, true, true, false, false])
    }
}

@Suite("web config files")
struct WebConfigFileTests {
    @Test("missing or unreadable files are problems naming the web config, the line and the file")
    func missingFiles() throws {
        let dir = NSTemporaryDirectory() + "iommud-webcfg-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let yml = dir + "/web.yml"
        try "tls_server_config:\n  cert_file: nothere.crt\n  key_file: nothere.key\n".write(
            toFile: yml, atomically: true, encoding: .utf8)
        let p = try #require(WebSecurity.validate(path: yml)).problems
        #expect(p.count == 1)
        #expect(p[0].description == "\(yml):2: cannot read cert_file \(dir)/nothere.crt: No such file or directory")
        try "not a certificate\n".write(toFile: dir + "/nothere.crt", atomically: true, encoding: .utf8)
        try "not a key\n".write(toFile: dir + "/nothere.key", atomically: true, encoding: .utf8)
        #expect(
            WebSecurity.validate(path: yml)?.problems.first?.description.contains("holds no PEM certificate") == true)
        #expect(
            WebSecurity.validate(path: dir + "/absent.yml")?.problems.first?.description.contains(
                "cannot read the web config file") == true)
        #expect(WebSecurity.validate(path: "") == nil)
        try "basic_auth_users:\n  alice: \(WebConfigParserTests.hash)\n".write(
            toFile: yml, atomically: true, encoding: .utf8)
        #expect(WebSecurity.validate(path: yml) == nil)
    }
}
