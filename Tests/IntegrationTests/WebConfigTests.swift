import Foundation
import Glibc
import Testing

/// `[http] web_config`: the real daemon serving /metrics over TLS with basic auth, checked
/// with curl and openssl s_client against certificates made here. No root needed: kmsg is a
/// file of records.
@Suite("web config: TLS and basic auth", .serialized)
struct WebConfigTests {
    init() throws {
        guard Binary.exists else { throw HarnessError("no iommud binary at \(Binary.path)") }
        for tool in ["openssl", "curl"] where Env.which(tool) == nil {
            throw HarnessError("\(tool) is needed (scripts/install-deps.sh test installs it)")
        }
    }

    /// The web config of most tests: `tls_server_config` with the test server's certificate and
    /// key, `settings` added inside it, then `rest` (top-level keys, YAML lines).
    static func tls(_ settings: [String] = [], rest: String = "") -> String {
        (["tls_server_config:", "  cert_file: server.crt", "  key_file: server.key"] + settings.map { "  " + $0 })
            .joined(separator: "\n") + "\n" + rest
    }

    /// Client certificates required, and verified against the test CA.
    static let verifyClients = ["client_auth_type: RequireAndVerifyClientCert", "client_ca_file: ca.crt"]

    /// A daemon on a file of kmsg records with `web.yml` as its web config.
    func start(_ pki: TestPKI, _ yaml: String) throws -> Daemon {
        pki.writeWebConfig(yaml)
        let d = Daemon(kmsg: pki.kmsg, httpConfig: "web_config = \"\(pki.webConfig)\"")
        try d.start()
        try d.waitReady()
        return d
    }

    @Test("TLS + basic auth: the right password gets /metrics, a wrong or missing one 401, plain HTTP a clean error")
    func tlsAndBasicAuth() throws {
        let pki = try TestPKI()
        let d = try start(
            pki,
            Self.tls(
                rest:
                    "basic_auth_users:\n  alice: \(pki.hash)\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
            ))
        let ok = try pki.curl(d, ["-u", "alice:\(pki.password)"])
        #expect(ok.code == 200, "\(ok)\n\(d.log)")
        #expect(ok.body.contains("iommud_kmsg_records_total"))
        #expect(ok.headers.contains("X-Frame-Options: deny"))
        // A second scrape answers from the verification cache (same answer).
        #expect(try pki.curl(d, ["-u", "alice:\(pki.password)"]).code == 200)

        let wrong = try pki.curl(d, ["-u", "alice:nope"])
        #expect(wrong.code == 401)
        #expect(wrong.headers.contains("WWW-Authenticate: Basic realm=\"iommud\""), "\(wrong.headers)")
        #expect(try pki.curl(d, ["-u", "mallory:\(pki.password)"]).code == 401)
        let none = try pki.curl(d, [])
        #expect(none.code == 401)
        #expect(none.headers.contains("WWW-Authenticate: Basic realm=\"iommud\""))

        // Plain HTTP to the TLS port: a clean curl error (400 "…HTTPS server"), no hang, no crash.
        let (rc, out) = try runCommand(
            Env.which("curl")!, ["-sS", "-f", "--max-time", "5", "http://127.0.0.1:\(d.port)/metrics"])
        #expect(rc != 0 && rc != 28, "plain HTTP to the TLS port should fail quickly: rc \(rc) \(out)")
        let (_, plainBody) = try runCommand(
            Env.which("curl")!, ["-s", "--max-time", "5", "http://127.0.0.1:\(d.port)/metrics"])
        #expect(plainBody.contains("HTTPS"), "\(plainBody)")
        #expect(d.process?.isRunning == true)
        #expect(try pki.curl(d, ["-u", "alice:\(pki.password)"]).code == 200)
        #expect(d.stop() == 0)
    }

    @Test("RequireAndVerifyClientCert: no certificate or one from another CA is refused in the handshake")
    func clientCertificates() throws {
        let pki = try TestPKI()
        let d = try start(
            pki,
            Self.tls(Self.verifyClients))
        let without = try pki.curl(d, [])
        #expect(without.code == 0 && without.rc != 0, "a client without a certificate must be refused: \(without)")
        let with = try pki.curl(d, ["--cert", pki.dir.path + "/client.crt", "--key", pki.dir.path + "/client.key"])
        #expect(with.code == 200, "\(with)\n\(d.log)")
        let stranger = try pki.curl(
            d, ["--cert", pki.dir.path + "/stranger.crt", "--key", pki.dir.path + "/stranger.key"])
        #expect(stranger.code == 0 && stranger.rc != 0, "a certificate of another CA must be refused: \(stranger)")
        #expect(d.process?.isRunning == true)
    }

    @Test("client_allowed_sans: a verified certificate without a listed SAN is closed")
    func allowedSANs() throws {
        let pki = try TestPKI()
        let d = try start(
            pki,
            Self.tls(Self.verifyClients + ["client_allowed_sans: [\"someone-else.example\"]"]))
        let client = ["--cert", pki.dir.path + "/client.crt", "--key", pki.dir.path + "/client.key"]
        #expect(try pki.curl(d, client).code != 200)
        pki.writeWebConfig(
            Self.tls(Self.verifyClients + ["client_allowed_sans: [\"prometheus.test\"]"]))
        d.signal(SIGHUP)
        try eventually("the SAN prometheus.test is accepted") { try pki.curl(d, client).code == 200 }
    }

    @Test("min_version TLS13 refuses a TLS 1.2 client")
    func minVersion() throws {
        let pki = try TestPKI()
        let d = try start(
            pki,
            Self.tls(["min_version: TLS13"]))
        let old = try pki.curl(d, ["--tls-max", "1.2"])
        #expect(old.code == 0 && old.rc != 0, "TLS 1.2 must be refused: \(old)")
        #expect(try pki.curl(d, ["--tlsv1.3"]).code == 200)
    }

    @Test("rotated certificate and key files are served without a restart")
    func rotation() throws {
        let pki = try TestPKI()
        let d = try start(
            pki,
            Self.tls())
        let pid = d.process?.processIdentifier
        #expect(try pki.servedSerial(d) == "03E9")
        try pki.issueServer(serial: 2002, name: "next")
        // Rotate the way cert managers do: the new files renamed over the old ones.
        #expect(rename(pki.dir.path + "/next.key", pki.dir.path + "/server.key") == 0)
        #expect(rename(pki.dir.path + "/next.crt", pki.dir.path + "/server.crt") == 0)
        try eventually("the new certificate (serial 07D2) is served") { try pki.servedSerial(d) == "07D2" }
        #expect(d.process?.processIdentifier == pid && d.process?.isRunning == true)
        #expect(d.log.contains("serial 07d2"))
        #expect(try pki.curl(d, []).code == 200)
    }

    @Test(
        "a bad web config stops the start with exit 78, naming the file (and line)",
        arguments: [
            ("syntax", "tls_server_config:\n  cert_file: [server.crt\n", ":3: YAML syntax error"),
            (
                "unknown key",
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth: x\n",
                ":4: unknown key 'tls_server_config.client_auth'"
            ),
            (
                "missing cert", "tls_server_config:\n  cert_file: gone.crt\n  key_file: server.key\n",
                ":2: cannot read cert_file"
            ),
            ("bad hash", "basic_auth_users:\n  alice: secret\n", ":2: 'basic_auth_users.alice' is not a bcrypt hash"),
            (
                "key of another cert", "tls_server_config:\n  cert_file: server.crt\n  key_file: client.key\n",
                "does the key belong to the certificate?"
            ),
        ])
    func badAtStart(_ what: String, _ yaml: String, _ message: String) throws {
        let pki = try TestPKI()
        pki.writeWebConfig(yaml)
        let d = Daemon(kmsg: pki.kmsg, httpConfig: "web_config = \"\(pki.webConfig)\"")
        try d.start()
        d.process?.waitUntilExit()
        #expect(d.process?.terminationStatus == 78, "\(what): \(d.log)")
        #expect(d.log.contains(pki.webConfig + (message.hasPrefix(":") ? message : "")), "\(what): \(d.log)")
        #expect(d.log.contains(message), "\(what): \(d.log)")
        let (rc, out) = try runCommand(Binary.path, ["check-config", d.configPath])
        #expect(rc == 78 && out.contains(pki.webConfig) && out.contains(message), "check-config, \(what): \(out)")
    }

    @Test("a broken new web config keeps the running one (on change and on SIGHUP) and the reload metric goes to 0")
    func badOnReload() throws {
        let pki = try TestPKI()
        let good = Self.tls(rest: "basic_auth_users:\n  alice: \(pki.hash)\n")
        let d = try start(pki, good)
        let auth = ["-u", "alice:\(pki.password)"]
        func reloadMetric() throws -> Double? {
            let r = try pki.curl(d, auth)
            return r.code == 200 ? Scrape(r.body).sum("iommud_config_last_reload_successful") : nil
        }
        #expect(try reloadMetric() == 1)

        // Changed on disk to something broken: noticed within a second, the old config serves.
        pki.writeWebConfig(good + "bogus_key: 1\n")
        try eventually("the failed reload is logged") {
            _ = try? pki.curl(d, auth)
            return d.log.contains("unknown key 'bogus_key'")
        }
        #expect(d.log.contains(pki.webConfig + ":6: unknown key 'bogus_key'"), "\(d.log)")
        #expect(d.log.contains("keeping the running one"))
        #expect(try reloadMetric() == 0)
        #expect(try pki.curl(d, []).code == 401)  // still the old config: TLS and auth
        #expect(try pki.servedSerial(d) == "03E9")

        // Fixed: loaded again, the metric back to 1.
        pki.writeWebConfig(good)
        try eventually("the fixed file is loaded") { try reloadMetric() == 1 }

        // SIGHUP with a certificate file that does not exist: the old one still serves.
        pki.writeWebConfig(good.replacingOccurrences(of: "server.crt", with: "missing.crt"))
        d.signal(SIGHUP)
        try eventually("the SIGHUP failure is logged") {
            d.log.contains("cannot read cert_file \(pki.dir.path)/missing.crt")
        }
        #expect(try reloadMetric() == 0)
        #expect(try pki.servedSerial(d) == "03E9")
        #expect(d.process?.isRunning == true)
    }

    @Test("web_config = \"\" is plain HTTP as before; SIGHUP can switch TLS on")
    func plainThenTLS() throws {
        let pki = try TestPKI()
        let d = Daemon(kmsg: pki.kmsg, httpConfig: "web_config = \"\"")
        try d.start()
        try d.waitReady()
        #expect(try d.metrics().sum("iommud_config_last_reload_successful") == 1)
        pki.writeWebConfig(Self.tls())
        try d.editConfig { $0.replacingOccurrences(of: "web_config = \"\"", with: "web_config = \"\(pki.webConfig)\"") }
        d.signal(SIGHUP)
        try eventually("https is served after SIGHUP") { try pki.curl(d, []).code == 200 }
    }

    @Test(
        "TLS on a socket systemd passes (systemd-socket-activate)",
        .enabled(if: Env.which("systemd-socket-activate") != nil, "systemd-socket-activate (package systemd)"))
    func socketActivation() throws {
        let activate = try #require(Env.which("systemd-socket-activate"))
        let pki = try TestPKI()
        pki.writeWebConfig(
            Self.tls(rest: "basic_auth_users:\n  alice: \(pki.hash)\n")
        )
        let d = Daemon(kmsg: pki.kmsg, httpConfig: "web_config = \"\(pki.webConfig)\"")
        // Started through a shell that exits at once: systemd-socket-activate closes the fds it
        // inherited, which Foundation's Process takes for an exit and then blocks in waitpid().
        let (rc, out) = try runCommand(
            "/bin/sh",
            [
                "-c",
                "env -u NOTIFY_SOCKET -u LISTEN_FDS -u LISTEN_PID \"$0\" -l 127.0.0.1:\(d.port) \"$1\" run --config \"$2\" --foreground >\"$3\" 2>&1 </dev/null & echo $!",
                activate, Binary.path, d.configPath, d.logPath,
            ])
        guard rc == 0, let pid = Int32(out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("cannot start systemd-socket-activate: \(out)")
        }
        defer {
            kill(pid, SIGTERM)
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(50_000) }
        }
        // The first connection starts the daemon; it then serves TLS on the passed socket.
        try eventually("TLS with basic auth on the passed socket", timeout: 20) {
            try pki.curl(d, ["-u", "alice:\(pki.password)"]).code == 200
        }
        #expect(d.log.contains("on the socket systemd passed"), "\(d.log)")
        #expect(try pki.curl(d, []).code == 401)
    }
}

/// A CA, a server certificate for localhost/127.0.0.1 (serial 1001), a client certificate
/// (SAN prometheus.test), a certificate of another CA, a bcrypt hash and a kmsg file.
final class TestPKI {
    let dir = TempDir("iommud-tls")
    let password = "s3cret-\(Int.random(in: 1000..<9999))"
    var hash = ""
    var kmsg: String { dir.path + "/kmsg" }
    var webConfig: String { dir.path + "/web.yml" }

    init() throws {
        _ = dir.write("kmsg", "6,1,100,-;hello\n6,2,200,-;world\n")
        _ = dir.write("server.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _ = dir.write("client.ext", "subjectAltName=DNS:prometheus.test\nextendedKeyUsage=clientAuth\n")
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key",
            "-out",
            "ca.crt", "-days", "2", "-subj", "/CN=iommud test CA",
        ])
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
            "stranger.key",
            "-out", "stranger.crt", "-days", "2", "-subj", "/CN=stranger",
        ])
        try issueServer(serial: 1001, name: "server")
        try issue(name: "client", cn: "prometheus", serial: 3003, ext: "client.ext")
        hash = try Self.bcrypt(password)
    }

    func issueServer(serial: Int, name: String) throws {
        try issue(name: name, cn: "localhost", serial: serial, ext: "server.ext")
    }

    func issue(name: String, cn: String, serial: Int, ext: String) throws {
        try openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(name).key",
            "-out",
            "\(name).csr", "-subj", "/CN=\(cn)",
        ])
        try openssl([
            "x509", "-req", "-in", "\(name).csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "\(serial)",
            "-days", "2",
            "-out", "\(name).crt", "-extfile", ext,
        ])
    }

    func openssl(_ args: [String]) throws {
        let (rc, out) = try runCommand("/bin/sh", ["-c", "cd '\(dir.path)' && exec openssl \"$@\"", "openssl"] + args)
        guard rc == 0 else { throw HarnessError("openssl \(args.joined(separator: " ")) failed: \(out)") }
    }

    /// A cost-4 bcrypt hash from htpasswd (apache2-utils), else Python's crypt module.
    static func bcrypt(_ password: String) throws -> String {
        if let htpasswd = Env.which("htpasswd") {
            let (rc, out) = try runCommand(htpasswd, ["-nbB", "-C", "4", "u", password])
            if rc == 0, let h = out.split(separator: "\n").first?.split(separator: ":").last { return String(h) }
        }
        let (rc, out) = try runCommand(
            Env.which("python3") ?? "/usr/bin/python3",
            [
                "-W", "ignore", "-c",
                "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))",
                password,
            ])
        guard rc == 0, out.hasPrefix("$2") else {
            throw HarnessError("no htpasswd nor python3 crypt to make a bcrypt hash: \(out)")
        }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Written to a temp file and renamed over, as an editor or a config manager does.
    func writeWebConfig(_ yaml: String) {
        _ = dir.write("web.yml.tmp", yaml)
        rename(dir.path + "/web.yml.tmp", webConfig)
    }

    struct Reply: CustomStringConvertible {
        var rc: Int32
        var code: Int
        var headers: String
        var body: String
        var description: String { "curl rc \(rc), HTTP \(code)\n\(headers)\(body.prefix(300))" }
    }

    /// GET https://127.0.0.1:PORT/metrics trusting the test CA. code 0: no HTTP answer.
    func curl(_ d: Daemon, _ args: [String]) throws -> Reply {
        let headers = dir.path + "/headers-\(Int.random(in: 0..<1_000_000))"
        defer { unlink(headers) }
        let (rc, out) = try runCommand(
            Env.which("curl")!,
            ["-sS", "--max-time", "10", "--cacert", dir.path + "/ca.crt", "-D", headers, "-w", "\n%{http_code}"] + args
                + ["https://127.0.0.1:\(d.port)/metrics"])
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        let code = Int(lines.last ?? "") ?? 0
        let head = (try? String(contentsOfFile: headers, encoding: .utf8)) ?? ""
        return Reply(rc: rc, code: code, headers: head, body: lines.dropLast().joined(separator: "\n"))
    }

    /// The serial number of the certificate the daemon serves now (hex, as openssl prints it).
    func servedSerial(_ d: Daemon) throws -> String? {
        let (_, out) = try runCommand(
            "/bin/sh",
            [
                "-c",
                "openssl s_client -connect 127.0.0.1:\(d.port) -servername localhost </dev/null 2>/dev/null | openssl x509 -noout -serial",
            ])
        return out.split(separator: "\n").first { $0.hasPrefix("serial=") }.map { String($0.dropFirst(7)) }
    }
}
