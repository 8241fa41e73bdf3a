import CLinux
import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// HTTP basic authentication against the bcrypt hashes of `basic_auth_users`, verified by the
/// system's crypt(3) (libxcrypt knows `$2a$`, `$2b$` and `$2y$`), never by code of our own.
final class BasicAuthVerifier: Sendable {
    /// A bcrypt cost-10 hash of a password nobody has: an unknown user costs the same bcrypt
    /// as a known one, so response times do not tell which user names exist.
    static let decoyHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

    /// How long a successful verification is remembered.
    ///
    /// Why caching is safe: an entry is only used when the presented user *and password* are
    /// byte-for-byte (constant-time compared) the ones that passed bcrypt, *and* the user's hash
    /// in the running web config is still the one they passed against — bcrypt is
    /// deterministic, so the cache answers exactly what bcrypt would have answered. Changing
    /// or removing a user in the file takes effect at once (the hash no longer matches), wrong
    /// passwords are never cached (each costs a full bcrypt), and the expiry bounds how long a
    /// password stays in this process's memory. Without it, a 1 s scrape would burn a ~70 ms
    /// bcrypt (cost 10) every second.
    static let cacheLifetimeUsec: Int64 = 60_000_000

    struct Entry {
        var password: [UInt8]
        var hash: String
        var expiresUsec: Int64
    }

    private let cache = Mutex<[String: Entry]>([:])
    /// One bcrypt at a time, on a thread pool thread: a flood of wrong passwords costs one
    /// core at most and never stalls the event loop.
    private let bcryptLock = Mutex<Void>(())
    /// Verifications waiting for or running a bcrypt. Past `maxPending` a request is answered
    /// 429 at once: wrong passwords cannot queue work (and memory) without bound.
    private let pending = Mutex<Int>(0)
    static let maxPending = 8
    /// nil: NIO's shared pool, reached only when a bcrypt is due — touching `.singleton` starts
    /// its threads, which a daemon without `basic_auth_users` never needs.
    private let pool: NIOThreadPool?

    init(pool: NIOThreadPool? = nil) {
        self.pool = pool
    }

    enum Decision: Sendable, Equatable {
        case allowed(user: String)
        case denied
        /// Too many verifications under way: try again in a moment.
        case busy
    }

    /// Decides for one request; completes on `eventLoop`. A cache hit completes at once.
    func verify(authorization: String?, users: [String: String], on eventLoop: EventLoop)
        -> EventLoopFuture<Decision>
    {
        guard let (user, password) = BasicCredentials.parseBasic(authorization) else {
            return eventLoop.makeSucceededFuture(.denied)
        }
        let hash = users[user]
        if let hash, cachedOK(user: user, password: password, hash: hash) {
            return eventLoop.makeSucceededFuture(.allowed(user: user))
        }
        let admitted = pending.withLock { n in
            guard n < Self.maxPending else { return false }
            n += 1
            return true
        }
        guard admitted else { return eventLoop.makeSucceededFuture(.busy) }
        return (pool ?? .singleton).runIfActive(eventLoop: eventLoop) { [self] in
            defer { pending.withLock { $0 -= 1 } }
            let ok = bcryptLock.withLock { _ in
                Self.check(password: password, hash: hash ?? Self.decoyHash)
            }
            guard ok, let hash else { return Decision.denied }
            remember(user: user, password: password, hash: hash)
            return .allowed(user: user)
        }
    }

    func cachedOK(user: String, password: [UInt8], hash: String) -> Bool {
        let now = Clocks.monotonicUsec()
        return cache.withLock { c in
            guard let e = c[user] else { return false }
            guard e.expiresUsec > now else {
                c[user] = nil
                return false
            }
            return Self.constantTimeEqual(e.password, password)
                && Self.constantTimeEqual(Array(e.hash.utf8), Array(hash.utf8))
        }
    }

    func remember(user: String, password: [UInt8], hash: String) {
        let now = Clocks.monotonicUsec()
        cache.withLock { c in
            c = c.filter { $0.value.expiresUsec > now }
            c[user] = Entry(password: password, hash: hash, expiresUsec: now + Self.cacheLifetimeUsec)
        }
    }

    /// Forgets every cached verification (a new web config was loaded).
    func clear() { cache.withLock { $0 = [:] } }

    /// bcrypt through crypt_rn: hashing the password with the stored hash as the setting must
    /// give the stored hash back. Compared in constant time.
    static func check(password: [UInt8], hash: String) -> Bool {
        // bcrypt reads at most 72 bytes; a NUL would end the C string early — refuse it rather
        // than let "a\0anything" match "a".
        guard !password.contains(0) else { return false }
        guard let out = cryptRN(password: password, setting: hash) else { return false }
        return constantTimeEqual(out, Array(hash.utf8))
    }

    /// crypt_rn(3) through `clinux_crypt` (its 32 KiB `struct crypt_data` on the heap, wiped
    /// after). nil when libxcrypt refuses the setting.
    static func cryptRN(password: [UInt8], setting: String) -> [UInt8]? {
        var phrase = password.map { CChar(bitPattern: $0) }
        phrase.append(0)
        defer { for i in phrase.indices { phrase[i] = 0 } }
        var out = [CChar](repeating: 0, count: 128)
        guard clinux_crypt(phrase, setting, &out, out.count) == 0 else { return nil }
        let s = out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        // libxcrypt's failure token starts with '*'; crypt_rn returns NULL, but be sure.
        return s.first == UInt8(ascii: "*") ? nil : s
    }

    /// Whether this system's crypt(3) does bcrypt at all (Debian 12's libxcrypt does; an
    /// old glibc libcrypt does not) — checked once when users are configured.
    static let systemSupportsBcrypt: Bool = {
        guard
            let out = cryptRN(password: Array("iommud".utf8), setting: "$2b$04$abcdefghijklmnopqrstuu")
        else { return false }
        return out.count == 60 && out.starts(with: Array("$2b$04$".utf8))
    }()

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        let n = max(a.count, b.count)
        for i in 0..<n {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            diff |= x ^ y
        }
        return diff == 0
    }
}
