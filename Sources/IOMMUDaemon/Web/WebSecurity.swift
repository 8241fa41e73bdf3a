import Glibc
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// One loaded web config: what new connections (TLS) and requests (auth, headers, rate
/// limit) use. Immutable; a reload swaps in another one.
final class WebSnapshot: Sendable {
    /// nil: `web_config = ""` — plain HTTP, no authentication, exactly as without the feature.
    let config: WebConfig?
    let sslContext: NIOSSLContext?
    let rateLimiter: RequestRateLimiter?
    /// For the log: what is being served.
    let summary: String

    init(config: WebConfig?, sslContext: NIOSSLContext?, summary: String) {
        self.config = config
        self.sslContext = sslContext
        self.rateLimiter = config?.rateLimit.map(RequestRateLimiter.init)
        self.summary = summary
    }

    static let plain = WebSnapshot(
        config: nil, sslContext: nil, summary: "plain HTTP, no authentication")
}

/// Identity of a file for change detection: a rename-over (new inode) and an in-place
/// rewrite (mtime in ns, size, ctime) both change it.
struct FileIdentity: Equatable, Sendable {
    var dev: UInt64 = 0
    var ino: UInt64 = 0
    var size: Int64 = -1
    var mtimeNs: Int64 = 0
    var ctimeNs: Int64 = 0

    init(path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return }
        dev = UInt64(st.st_dev)
        ino = UInt64(st.st_ino)
        size = Int64(st.st_size)
        mtimeNs = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        ctimeNs = Int64(st.st_ctim.tv_sec) * 1_000_000_000 + Int64(st.st_ctim.tv_nsec)
    }
}

/// `[http] web_config` at run time. The file and the PEM files it names are checked (stat
/// only) at most once per second, when a connection or request arrives; a change is loaded
/// right there, so a rotated certificate is served from the next connection on. A file that
/// does not load keeps the running snapshot, is logged once, and holds
/// `iommud_config_last_reload_successful` at 0 until a later version loads. SIGHUP reloads
/// unconditionally (`reload(path:)`).
public final class WebSecurity: Sendable {
    struct State {
        var path: String
        var active: WebSnapshot
        /// The files of the last attempt (success or not) and their identity then.
        var watched: [String]
        var identity: [FileIdentity]
        var lastCheckUsec: Int64
    }

    static let checkIntervalUsec: Int64 = 1_000_000

    let logger: Logger
    let verifier = BasicAuthVerifier()
    /// Told whether the web config in use is the one on disk (false: a newer one failed).
    private let statusSink = Mutex<(@Sendable (Bool) -> Void)?>(nil)
    private let state: Mutex<State>

    /// Loads `path` ("" = plain HTTP) or fails with every problem found (start: exit 78).
    public init(path: String, logger: Logger) throws(WebConfigProblems) {
        self.logger = logger
        let (result, files) = Self.load(path: path)
        let identity = files.map(FileIdentity.init(path:))
        switch result {
        case .success(let snap):
            for w in snap.config?.warnings ?? [] { logger.warning("\(w)") }
            state = Mutex(
                State(
                    path: path, active: snap, watched: files, identity: identity,
                    lastCheckUsec: Clocks.monotonicUsec()))
        case .failure(let problems):
            throw problems
        }
    }

    /// Checks a web config without running anything (`iommud check-config`).
    public static func validate(path: String) -> WebConfigProblems? {
        if case .failure(let p) = load(path: path).0 { return p }
        return nil
    }

    var summary: String { state.withLock { $0.active.summary } }
    var scheme: String { state.withLock { $0.active.sslContext == nil ? "http" : "https" } }

    /// Where load results go (DaemonCore: `iommud_config_last_reload_successful`).
    func reportStatus(to sink: @escaping @Sendable (Bool) -> Void) {
        statusSink.withLock { $0 = sink }
    }

    private func onStatus(_ ok: Bool) { statusSink.withLock { $0 }?(ok) }

    /// The snapshot to use now, after at most one change check per second.
    func current() -> WebSnapshot {
        let now = Clocks.monotonicUsec()
        return state.withLock { s in
            guard now - s.lastCheckUsec >= Self.checkIntervalUsec else { return s.active }
            s.lastCheckUsec = now
            let identity = s.watched.map(FileIdentity.init(path:))
            guard identity != s.identity else { return s.active }
            attempt(&s, path: s.path, identity: identity, why: "changed on disk")
            return s.active
        }
    }

    /// SIGHUP: re-read `path` (which may differ from the running one) whether or not it
    /// changed. On failure the running snapshot stays and the new path is watched.
    @discardableResult
    func reload(path: String) -> Bool {
        state.withLock { s in
            s.lastCheckUsec = Clocks.monotonicUsec()
            return attempt(&s, path: path, identity: nil, why: "reload")
        }
    }

    @discardableResult
    private func attempt(_ s: inout State, path: String, identity: [FileIdentity]?, why: String)
        -> Bool
    {
        let (result, files) = Self.load(path: path)
        s.path = path
        // The identity seen *before* reading, when the same files are read: a write that races
        // the read is then seen as a change at the next check.
        s.identity =
            identity != nil && files == s.watched ? identity! : files.map(FileIdentity.init(path:))
        s.watched = files
        switch result {
        case .success(let snap):
            s.active = snap
            for w in snap.config?.warnings ?? [] { logger.warning("\(w)") }
            let what = why == "reload" ? "reloaded" : "\(why), reloaded"
            logger.info("web config \(path.isEmpty ? "(none)" : path) \(what): \(snap.summary)")
            onStatus(true)
            return true
        case .failure(let problems):
            for p in problems.problems {
                logger.error(
                    "web config \(why == "reload" ? "reload" : "\(why) but") failed, keeping the running one (\(s.active.summary)): \(p)"
                )
            }
            onStatus(false)
            return false
        }
    }

    // MARK: loading

    /// Reads and checks everything: the YAML, the PEM files, the TLS context. Returns the
    /// files involved even on failure, so a fix to any of them is noticed.
    static func load(path: String) -> (Result<WebSnapshot, WebConfigProblems>, [String]) {
        guard !path.isEmpty else { return (.success(.plain), []) }
        var files = [path]
        func fail(_ line: Int?, _ m: String) -> (Result<WebSnapshot, WebConfigProblems>, [String]) {
            (.failure(WebConfigProblems([WebConfigProblem(file: path, line: line, m)])), files)
        }
        let text: String
        switch readConfigFile(path) {
        case .success(let t): text = t
        case .failure(let e): return fail(nil, "cannot read the web config file ([http] web_config): \(e.reason)")
        }
        let config: WebConfig
        switch WebConfigParser.parse(path: path, text: text) {
        case .success(let c): config = c
        case .failure(let p): return (.failure(p), files)
        }
        if config.requiresAuth && !BasicAuthVerifier.systemSupportsBcrypt {
            return fail(
                nil,
                "'basic_auth_users' needs bcrypt, and this system's crypt(3) does not do it (install libxcrypt: Debian's libcrypt1)"
            )
        }
        var auth =
            config.requiresAuth
            ? "basic auth (\(config.users.count) user\(config.users.count == 1 ? "" : "s"))"
            : "no authentication"
        if let r = config.rateLimit { auth += ", rate limit \(r.burst) per \(r.interval.configText)" }
        guard let tls = config.tls else {
            return (
                .success(
                    WebSnapshot(config: config, sslContext: nil, summary: "plain HTTP, \(auth)")
                ), files
            )
        }
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") ? p : (dir.isEmpty ? "/" : dir + "/") + p
        }
        func pemBytes(_ source: WebConfig.PEMSource, key: String, inlineKey: String)
            throws(WebConfigProblem) -> (
                [UInt8], String
            )
        {
            switch source {
            case .inline(let s): return (Array(s.utf8), "'tls_server_config.\(inlineKey)'")
            case .file(let f):
                let full = resolve(f)
                files.append(full)
                do {
                    return (Array(try readSmallFile(full, limit: 4 << 20).utf8), "\(key) \(full)")
                } catch {
                    throw WebConfigProblem(
                        file: path, line: tls.lines[key],
                        "cannot read \(key) \(full): \(String(cString: strerror(error.errno)))")
                }
            }
        }
        do throws(WebConfigProblem) {
            let (certBytes, certWhat) = try pemBytes(tls.certificate, key: "cert_file", inlineKey: "cert")
            let (keyBytes, keyWhat) = try pemBytes(tls.key, key: "key_file", inlineKey: "key")
            let chain = (try? NIOSSLCertificate.fromPEMBytes(certBytes)) ?? []
            guard let leaf = chain.first else {
                throw WebConfigProblem(
                    file: path, line: tls.lines["cert_file"] ?? tls.lines["cert"],
                    "\(certWhat) holds no PEM certificate")
            }
            let privateKey: NIOSSLPrivateKey
            do {
                privateKey = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem)
            } catch {
                throw WebConfigProblem(
                    file: path, line: tls.lines["key_file"] ?? tls.lines["key"],
                    "\(keyWhat) holds no usable PEM private key (an encrypted key cannot be used)")
            }
            var conf = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
            conf.minimumTLSVersion = tls.minVersion.nio
            conf.maximumTLSVersion = tls.maxVersion.nio
            if !tls.cipherSuites.isEmpty {
                conf.cipherSuiteValues = tls.cipherSuites.map { NIOTLSCipher(rawValue: $0) }
            }
            if !tls.curves.isEmpty { conf.curves = tls.curves.map { NIOTLSCurve(rawValue: $0) } }
            var caNote = ""
            if let ca = tls.clientCA {
                let (caBytes, caWhat) = try pemBytes(ca, key: "client_ca_file", inlineKey: "client_ca")
                let cas = (try? NIOSSLCertificate.fromPEMBytes(caBytes)) ?? []
                guard !cas.isEmpty else {
                    throw WebConfigProblem(
                        file: path, line: tls.lines["client_ca_file"] ?? tls.lines["client_ca"],
                        "\(caWhat) holds no PEM certificate")
                }
                conf.trustRoots = .certificates(cas)
                conf.sendCANameList = true
                caNote = ", \(cas.count) client CA\(cas.count == 1 ? "" : "s")"
            }
            switch tls.clientAuth {
            case .noClientCert: conf.certificateVerification = .none
            // Request (or require) a certificate without checking it: `optionalVerification` /
            // `noHostnameVerification` ask for one, and the connection's custom callback
            // (MetricsServer) accepts whatever is sent.
            case .requestClientCert, .verifyClientCertIfGiven:
                conf.certificateVerification = .optionalVerification
            case .requireAnyClientCert, .requireAndVerifyClientCert:
                conf.certificateVerification = .noHostnameVerification
            }
            let context: NIOSSLContext
            do {
                context = try NIOSSLContext(configuration: conf)
            } catch {
                throw WebConfigProblem(
                    file: path, line: tls.lines["key_file"] ?? tls.lines["cert_file"],
                    "cannot use \(certWhat) with \(keyWhat) (does the key belong to the certificate?): \(error)"
                )
            }
            let serial = leaf.serialNumber.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            // NIOSSL keeps commonName() internal; its description carries it.
            let cn =
                leaf.description.split(separator: ";").first { $0.hasPrefix("common_name=") }
                .map { String($0.dropFirst(12).prefix { $0 != ">" }) } ?? "-"
            let summary =
                "TLS \(tls.minVersion.rawValue)–\(tls.maxVersion.rawValue) (certificate CN=\(cn) serial \(serial), client certificates: \(tls.clientAuth.rawValue)\(caNote)), \(auth)"
            return (
                .success(WebSnapshot(config: config, sslContext: context, summary: summary)),
                files
            )
        } catch {
            return (.failure(WebConfigProblems([error])), files)
        }
    }
}

extension WebConfig.TLSVersion {
    var nio: NIOSSL.TLSVersion {
        switch self {
        case .tls10: return .tlsv1
        case .tls11: return .tlsv11
        case .tls12: return .tlsv12
        case .tls13: return .tlsv13
        }
    }
}
