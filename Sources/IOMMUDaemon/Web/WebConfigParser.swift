import ConfigSyntax

/// Reads `WebConfig` from the exporter-toolkit YAML (ConfigSyntax's YAMLSubset) the way
/// exporter-toolkit does, with the line of every problem and the range of every number.
public enum WebConfigParser {
    public static func parse(path: String, text: String) -> Result<WebConfig, WebConfigProblems> {
        var p = ParseState(file: path)
        let root: Node?
        do {
            root = try YAMLSubset.compose(text)
        } catch {
            return .failure(
                WebConfigProblems([
                    WebConfigProblem(file: path, line: error.line, "YAML syntax error: \(error.message)")
                ]))
        }
        var config = WebConfig(file: path)
        guard let root, !root.isNull else { return .success(config) }  // an empty file: plain HTTP, no auth
        guard let top = p.mapping(root, "the file") else {
            return .failure(WebConfigProblems(p.problems))
        }
        for (k, v) in top {
            guard let key = p.key(k) else { continue }
            if v.isNull { continue }
            switch key {
            case "tls_server_config": config.tls = p.tls(v, keyLine: k.line)
            case "http_server_config": p.http(v, into: &config)
            case "basic_auth_users": config.users = p.users(v)
            case "rate_limit": config.rateLimit = p.rateLimit(v)
            default: p.unknown(k, key)
            }
        }
        return p.problems.isEmpty ? .success(config) : .failure(WebConfigProblems(p.problems))
    }

    /// `$2a$`, `$2b$` or `$2y$`, a two-digit cost from 04 to 31, 22 salt and 31 hash characters.
    public static func isBcryptHash(_ h: String) -> Bool {
        let b = Array(h.utf8)
        guard b.count == 60, b[0] == UInt8(ascii: "$"), b[1] == UInt8(ascii: "2"),
            [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(b[2]),
            b[3] == UInt8(ascii: "$"),
            b[6] == UInt8(ascii: "$")
        else { return false }
        guard let d1 = digit(b[4]), let d2 = digit(b[5]), (4...31).contains(d1 * 10 + d2) else {
            return false
        }
        return b[7...].allSatisfy { c in
            (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
                || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "/")
        }
    }

    static func digit(_ c: UInt8) -> Int? { c >= 48 && c <= 57 ? Int(c - 48) : nil }
}

private typealias Node = YAMLSubset.Node

/// Walks the YAML tree, collecting every problem with its line.
private struct ParseState {
    let file: String
    var problems: [WebConfigProblem] = []

    init(file: String) { self.file = file }

    mutating func problem(_ node: Node?, _ message: String) {
        problems.append(WebConfigProblem(file: file, line: node?.line, message))
    }

    mutating func mapping(_ n: Node, _ what: String) -> [(key: Node, value: Node)]? {
        guard let m = n.mapping else {
            problem(n, "\(what) must be a mapping of keys to values")
            return nil
        }
        return m.map { ($0.key, $0.value) }
    }

    mutating func key(_ k: Node) -> String? {
        guard let s = k.string else {
            problem(k, "keys must be plain strings")
            return nil
        }
        return s
    }

    mutating func unknown(_ k: Node, _ path: String) {
        problem(k, "unknown key '\(ConfigSyntaxError.excerpt(path, limit: 80))'")
    }

    mutating func string(_ v: Node, _ path: String) -> String? {
        guard let s = v.string else {
            problem(v, "'\(path)' must be a string")
            return nil
        }
        return s
    }

    mutating func strings(_ v: Node, _ path: String) -> [String]? {
        guard let seq = v.sequence else {
            problem(v, "'\(path)' must be a list of strings")
            return nil
        }
        var out: [String] = []
        for e in seq {
            guard let s = e.string else {
                problem(e, "'\(path)' must be a list of strings")
                return nil
            }
            out.append(s)
        }
        return out
    }

    mutating func bool(_ v: Node, _ path: String) -> Bool? {
        guard let b = v.bool else {
            problem(v, "'\(path)' must be true or false")
            return nil
        }
        return b
    }

    mutating func tls(_ node: Node, keyLine: Int?) -> WebConfig.TLS? {
        guard let m = mapping(node, "'tls_server_config'") else { return nil }
        var certText: String?
        var keyText: String?
        var clientCA: String?
        var certFile: String?
        var keyFile: String?
        var clientCAFile: String?
        var clientAuthText: String?
        var tls = WebConfig.TLS(certificate: .inline(""), key: .inline(""))
        var lines: [String: Int] = [:]
        let before = problems.count
        for (k, v) in m {
            guard let name = key(k) else { continue }
            let path = "tls_server_config.\(name)"
            lines[name] = k.line
            if v.isNull { continue }
            switch name {
            case "cert": certText = string(v, path)
            case "key": keyText = string(v, path)
            case "client_ca": clientCA = string(v, path)
            case "cert_file": certFile = string(v, path)
            case "key_file": keyFile = string(v, path)
            case "client_ca_file": clientCAFile = string(v, path)
            case "client_auth_type":
                clientAuthText = string(v, path)
                if let t = clientAuthText, !t.isEmpty {
                    // "RequireClientCert" is exporter-toolkit's old name for RequireAnyClientCert.
                    if let a = WebConfig.ClientAuth(
                        rawValue: t == "RequireClientCert" ? "RequireAnyClientCert" : t)
                    {
                        tls.clientAuth = a
                    } else {
                        problem(
                            v,
                            "bad value for '\(path)': \(shown(t)) is not one of "
                                + WebConfig.ClientAuth.allCases.map(\.rawValue).joined(separator: ", "))
                    }
                }
            case "client_allowed_sans": tls.clientAllowedSANs = strings(v, path)
            case "min_version", "max_version":
                if let t = string(v, path) {
                    if let ver = WebConfig.TLSVersion(rawValue: t) {
                        if name == "min_version" { tls.minVersion = ver } else { tls.maxVersion = ver }
                    } else {
                        problem(v, "bad value for '\(path)': \(shown(t)) is not one of TLS10, TLS11, TLS12, TLS13")
                    }
                }
            case "cipher_suites":
                for (i, s) in (strings(v, path) ?? []).enumerated() {
                    if let code = WebConfig.cipherSuites[s] {
                        tls.cipherSuites.append(code)
                    } else if !WebConfig.tls13Suites.contains(s) {
                        problem(
                            v.sequence?[i] ?? v,
                            "unknown cipher suite \(shown(s)) in '\(path)' (use Go's names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)"
                        )
                    }
                }
            case "curve_preferences":
                for (i, s) in (strings(v, path) ?? []).enumerated() {
                    if let code = WebConfig.curves[s] {
                        tls.curves.append(code)
                    } else {
                        problem(
                            v.sequence?[i] ?? v,
                            "unknown curve \(shown(s)) in '\(path)' (one of CurveP256, CurveP384, CurveP521, X25519)"
                        )
                    }
                }
            case "prefer_server_cipher_suites":
                // Go ignores it too since 1.18; BoringSSL servers prefer their own order.
                _ = bool(v, path)
            default: unknown(k, path)
            }
        }
        tls.lines = lines
        let line = keyLine ?? node.line
        func both(_ a: String, _ b: String) {
            problems.append(
                WebConfigProblem(
                    file: file, line: lines[a] ?? line, "give 'tls_server_config.\(a)' or '\(b)', not both"))
        }
        let enabled = [certText, keyText, clientCA, certFile, keyFile, clientCAFile, clientAuthText]
            .contains { !($0 ?? "").isEmpty }
        guard enabled else { return nil }  // as in exporter-toolkit: no TLS settings, plain HTTP
        if nonEmpty(certText) && nonEmpty(certFile) { both("cert", "cert_file") }
        if nonEmpty(keyText) && nonEmpty(keyFile) { both("key", "key_file") }
        if nonEmpty(clientCA) && nonEmpty(clientCAFile) { both("client_ca", "client_ca_file") }
        // A file wins over inline text (both given is reported above); neither: nil.
        func pem(file: String?, text: String?) -> WebConfig.PEMSource? {
            if let f = file, !f.isEmpty { return .file(f) }
            if let t = text, !t.isEmpty { return .inline(t) }
            return nil
        }
        if let c = pem(file: certFile, text: certText) {
            tls.certificate = c
        } else {
            problems.append(
                WebConfigProblem(
                    file: file, line: line, "'tls_server_config' needs 'cert_file' (or 'cert')"))
        }
        if let k = pem(file: keyFile, text: keyText) {
            tls.key = k
        } else {
            problems.append(
                WebConfigProblem(file: file, line: line, "'tls_server_config' needs 'key_file' (or 'key')"))
        }
        tls.clientCA = pem(file: clientCAFile, text: clientCA)
        if tls.clientCA != nil && tls.clientAuth == .noClientCert {
            problems.append(
                WebConfigProblem(
                    file: file, line: lines["client_ca_file"] ?? lines["client_ca"],
                    "client CAs are configured but 'tls_server_config.client_auth_type' is NoClientCert (use RequireAndVerifyClientCert)"
                ))
        }
        if tls.clientAuth.verifies && tls.clientCA == nil {
            problems.append(
                WebConfigProblem(
                    file: file, line: lines["client_auth_type"],
                    "'tls_server_config.client_auth_type' \(tls.clientAuth.rawValue) needs 'client_ca_file' (the CA that signs client certificates)"
                ))
        }
        if tls.clientAllowedSANs != nil && !tls.clientAuth.requiresCertificate {
            problems.append(
                WebConfigProblem(
                    file: file, line: lines["client_allowed_sans"],
                    "'tls_server_config.client_allowed_sans' needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert"
                ))
        }
        if tls.minVersion > tls.maxVersion {
            problems.append(
                WebConfigProblem(
                    file: file, line: lines["min_version"],
                    "'tls_server_config.min_version' \(tls.minVersion.rawValue) is above max_version \(tls.maxVersion.rawValue)"
                ))
        }
        return problems.count == before ? tls : nil
    }

    func nonEmpty(_ s: String?) -> Bool { !(s ?? "").isEmpty }

    mutating func http(_ node: Node, into config: inout WebConfig) {
        guard let m = mapping(node, "'http_server_config'") else { return }
        for (k, v) in m {
            guard let name = key(k) else { continue }
            let path = "http_server_config.\(name)"
            if v.isNull { continue }
            switch name {
            case "http2":
                if bool(v, path) == true {
                    config.warnings.append(
                        "\(file):\(k.line): 'http2: true' is ignored: iommud serves HTTP/1.1 (Prometheus scrapes it the same)"
                    )
                }
            case "headers":
                guard let hm = mapping(v, "'\(path)'") else { continue }
                for (hk, hv) in hm {
                    guard let h = key(hk) else { continue }
                    guard let allowed = WebConfig.headers.first(where: { $0.0 == h }) else {
                        problem(
                            hk,
                            "HTTP header \(shown(h)) can not be configured (only "
                                + WebConfig.headers.map(\.0).joined(separator: ", ") + ")")
                        continue
                    }
                    if hv.isNull { continue }
                    guard let value = string(hv, "\(path).\(h)") else { continue }
                    if value.isEmpty { continue }  // "Unset if blank"
                    if let values = allowed.1, !values.contains(value) {
                        problem(
                            hv,
                            "bad value for '\(path).\(h)': \(shown(value)) is not one of \(values.joined(separator: ", "))"
                        )
                        continue
                    }
                    guard !value.utf8.contains(where: { $0 == 13 || $0 == 10 }) else {
                        problem(hv, "bad value for '\(path).\(h)': line breaks are not allowed")
                        continue
                    }
                    guard !value.utf8.contains(where: { ($0 < 0x20 && $0 != 9) || $0 == 0x7F }) else {
                        problem(hv, "bad value for '\(path).\(h)': control characters are not allowed")
                        continue
                    }
                    config.headers.append(HTTPHeaderSetting(name: h, value: value))
                }
            default: unknown(k, path)
            }
        }
    }

    mutating func users(_ node: Node) -> [String: String] {
        guard let m = mapping(node, "'basic_auth_users'") else { return [:] }
        var out: [String: String] = [:]
        for (k, v) in m {
            guard let user = key(k) else { continue }
            if user.contains(":") || user.isEmpty {
                problem(k, "user name \(shown(user)) in 'basic_auth_users' must not be empty nor contain ':'")
                continue
            }
            guard let hash = v.isNull == false ? string(v, "basic_auth_users.\(user)") : nil else {
                if v.isNull { problem(v, "'basic_auth_users.\(user)' has no password hash") }
                continue
            }
            guard WebConfigParser.isBcryptHash(hash) else {
                problem(
                    v,
                    "'basic_auth_users.\(user)' is not a bcrypt hash (\"$2y$10$\" and 53 more characters; make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                )
                continue
            }
            // isBcryptHash checked the two digits of the cost.
            let cost = hash.utf8.dropFirst(4).prefix(2).reduce(0) { $0 * 10 + Int($1 - 48) }
            let costs = WebConfig.bcryptCostRange
            guard costs.contains(cost) else {
                problem(
                    v,
                    "the bcrypt cost of 'basic_auth_users.\(user)' must be from \(costs.lowerBound) to \(costs.upperBound), not \(cost) (each step doubles the time of every login check; `htpasswd -nBC 10` makes one of 10)"
                )
                continue
            }
            out[user] = hash
        }
        return out
    }

    mutating func rateLimit(_ node: Node) -> WebConfig.RateLimit? {
        guard let m = mapping(node, "'rate_limit'") else { return nil }
        var intervalUsec: Int64 = 0
        var burst = 0
        let range = WebConfig.intervalRange
        let rangeText =
            "from \(DurationSyntax.text(microseconds: range.lowerBound)) to "
            + "\(DurationSyntax.text(microseconds: range.upperBound)), or 0 for no limit"
        for (k, v) in m {
            guard let name = key(k) else { continue }
            let path = "rate_limit.\(name)"
            switch name {
            case "interval":
                guard let s = string(v, path) else { continue }
                switch DurationSyntax.microseconds(s) {
                case .success(let us) where us == 0 || range.contains(us): intervalUsec = us
                case .success:
                    problem(v, "'\(path)' must be \(rangeText), not \(shown(s))")
                case .failure(let p) where p.tooLarge:
                    problem(v, "'\(path)' must be \(rangeText), not \(shown(s))")
                case .failure(let p):
                    problem(v, "bad value for '\(path)': \(shown(s)) is not a duration: \(p) (e.g. \"1s\", \"500ms\")")
                }
            case "burst":
                let r = WebConfig.burstRange
                guard let i = v.int, i == 0 || r.contains(i) else {
                    problem(v, "'\(path)' must be a whole number from \(r.lowerBound) to \(r.upperBound)")
                    continue
                }
                burst = i
            default: unknown(k, path)
            }
        }
        guard intervalUsec > 0 else { return nil }
        guard burst > 0 else {
            problem(
                node,
                "'rate_limit.burst' must be at least 1 when an interval is set (0 would refuse every request)"
            )
            return nil
        }
        return WebConfig.RateLimit(interval: .microseconds(intervalUsec), burst: burst)
    }

    /// A value quoted for a message, cut short when long.
    func shown(_ s: String) -> String { "\"" + ConfigSyntaxError.excerpt(s) + "\"" }
}
