/// `[http] web_config`: the Prometheus exporter-toolkit web configuration file (YAML) —
/// `tls_server_config`, `http_server_config`, `basic_auth_users`, `rate_limit` — so iommud
/// is secured the way every other exporter is. This is the schema; `WebConfigParser` reads it
/// from YAML (pure: text in, model or problems out, with file and line); reading the
/// certificates and building the TLS context is `WebSecurity`'s job.
public struct WebConfig: Sendable, Equatable {
    /// How the server treats client certificates (Go's tls.ClientAuthType names).
    public enum ClientAuth: String, Sendable, Equatable, CaseIterable {
        case noClientCert = "NoClientCert"
        case requestClientCert = "RequestClientCert"
        case requireAnyClientCert = "RequireAnyClientCert"
        case verifyClientCertIfGiven = "VerifyClientCertIfGiven"
        case requireAndVerifyClientCert = "RequireAndVerifyClientCert"

        /// A certificate must be presented.
        public var requiresCertificate: Bool {
            self == .requireAnyClientCert || self == .requireAndVerifyClientCert
        }
        /// A presented certificate is checked against the client CAs.
        public var verifies: Bool {
            self == .verifyClientCertIfGiven || self == .requireAndVerifyClientCert
        }
    }

    public enum TLSVersion: String, Sendable, Equatable, Comparable, CaseIterable {
        case tls10 = "TLS10"
        case tls11 = "TLS11"
        case tls12 = "TLS12"
        case tls13 = "TLS13"

        public static func < (a: TLSVersion, b: TLSVersion) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    /// A PEM source: a file (relative paths are relative to the web config's directory, as
    /// in exporter-toolkit) or the PEM text itself.
    public enum PEMSource: Sendable, Equatable {
        case file(String)
        case inline(String)
    }

    public struct TLS: Sendable, Equatable {
        public var certificate: PEMSource
        public var key: PEMSource
        public var clientCA: PEMSource?
        public var clientAuth: ClientAuth = .noClientCert
        public var clientAllowedSANs: [String]?
        public var minVersion: TLSVersion = .tls12
        public var maxVersion: TLSVersion = .tls13
        /// IANA code points, in the order given; empty: BoringSSL's defaults. TLS ≤ 1.2 only.
        public var cipherSuites: [UInt16] = []
        /// IANA named-group code points; empty: BoringSSL's defaults.
        public var curves: [UInt16] = []
        /// The line of each key in the file, for messages about the files it names.
        public var lines: [String: Int] = [:]
    }

    /// `rate_limit`: `burst` requests at once, then one more per `interval` (a token bucket).
    public struct RateLimit: Sendable, Equatable {
        /// Within `WebConfig.intervalRange`.
        public var interval: Duration
        /// Within `WebConfig.burstRange`.
        public var burst: Int
    }

    /// The file it came from.
    public var file: String
    /// nil: plain HTTP (basic auth and headers still apply, as in exporter-toolkit).
    public var tls: TLS?
    /// Extra response headers, in the order written.
    public var headers: [HTTPHeaderSetting] = []
    /// user → bcrypt hash. Empty: no authentication.
    public var users: [String: String] = [:]
    public var rateLimit: RateLimit?
    /// Things that are accepted but do nothing here (http2: HTTP/1.1 only).
    public var warnings: [String] = []

    public init(file: String) { self.file = file }

    public var requiresAuth: Bool { !users.isEmpty }
}

public struct HTTPHeaderSetting: Sendable, Equatable {
    public var name: String
    public var value: String
}

/// One thing wrong with a web config file, with where it is.
public struct WebConfigProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, _ message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { file + (line.map { ":\($0)" } ?? "") + ": " + message }
}

public struct WebConfigProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [WebConfigProblem]
    public init(_ p: [WebConfigProblem]) { problems = p }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// What the file may say: exporter-toolkit's names, and the range of every number (documented
/// in config/web-config.example.yml).
extension WebConfig {
    /// Names exporter-toolkit (Go's crypto/tls `CipherSuites()` and `InsecureCipherSuites()`
    /// that BoringSSL implements) accepts for `cipher_suites`, with their IANA code points.
    static let cipherSuites: [String: UInt16] = [
        "TLS_RSA_WITH_AES_128_CBC_SHA": 0x002F,
        "TLS_RSA_WITH_AES_256_CBC_SHA": 0x0035,
        "TLS_RSA_WITH_AES_128_GCM_SHA256": 0x009C,
        "TLS_RSA_WITH_AES_256_GCM_SHA384": 0x009D,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": 0xC009,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": 0xC00A,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": 0xC014,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": 0xC02B,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 0xC02C,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": 0xC030,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA8,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA9,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": 0xCCA8,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": 0xCCA9,
    ]
    /// TLS 1.3 suites: Go accepts the names but ignores them (1.3 suites are not configurable).
    static let tls13Suites: Set<String> = [
        "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
    ]
    static let curves: [String: UInt16] = [
        "CurveP256": 0x17, "CurveP384": 0x18, "CurveP521": 0x19, "X25519": 0x1D,
    ]
    /// The only headers exporter-toolkit lets a config set, with the values it allows (nil: any).
    static let headers: [(String, [String]?)] = [
        ("Strict-Transport-Security", nil), ("X-Content-Type-Options", ["nosniff"]),
        ("X-Frame-Options", ["deny", "sameorigin"]), ("X-XSS-Protection", nil),
        ("Content-Security-Policy", nil),
    ]

    /// `rate_limit.interval` in µs: 1ms … 1d, or 0 (no limit). The token bucket counts whole ms.
    public static let intervalRange: ClosedRange<Int64> = 1000...86_400_000_000
    /// `rate_limit.burst`: 1 … 1 000 000 requests (0 only without an interval).
    public static let burstRange: ClosedRange<Int> = 1...1_000_000
    /// The cost of a `basic_auth_users` bcrypt hash: 4 … 17, as `htpasswd -B -C` takes. Each step
    /// doubles the time a check takes (17: seconds on a fast core; 31, which bcrypt allows, days).
    public static let bcryptCostRange: ClosedRange<Int> = 4...17
}
