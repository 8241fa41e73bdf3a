import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Testing

@testable import IOMMUDaemon

/// The HTTP handler, basic auth and the connection limits, in memory (NIOEmbedded): no socket,
/// every byte of every answer seen.
@Suite("HTTP handler in memory")
struct HTTPHandlerTests {
    static let routes: HTTPRoutes = { _, path in
        switch path {
        case "/metrics": return HTTPResponse(contentType: "text/plain; version=0.0.4", body: Array("up 1\n".utf8))
        default: return nil
        }
    }

    /// A channel with the server pipeline the daemon builds for each connection.
    static func channel(
        routes: @escaping HTTPRoutes = routes, security: WebSecurity? = nil,
        limits: ConnectionLimits = .default
    ) async throws -> (NIOAsyncTestingChannel, ConnectionTable) {
        let table = ConnectionTable(limits: limits)
        let channel = NIOAsyncTestingChannel()
        try await channel.eventLoop.submit {
            try HTTPHandler.configure(channel, routes: routes, table: table, security: security)
        }.get()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 10111)).get()
        return (channel, table)
    }

    /// Sends a request, returns the whole answer as text (status line, headers, body).
    static func exchange(_ channel: NIOAsyncTestingChannel, _ request: String) async throws -> String {
        try await channel.writeInbound(ByteBuffer(string: request))
        var out = ""
        // The answer may come after a hop through another thread (bcrypt): wait for it.
        for _ in 0..<200 {
            while let b = try await channel.readOutbound(as: ByteBuffer.self) { out += String(buffer: b) }
            if out.contains("\r\n\r\n"), let cl = Self.contentLength(out), Self.body(out).utf8.count >= cl { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        return out
    }

    static func contentLength(_ response: String) -> Int? {
        response.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
    }

    static func body(_ response: String) -> String {
        guard let r = response.range(of: "\r\n\r\n") else { return "" }
        return String(response[r.upperBound...])
    }

    @Test("GET answers with the route's body and length; unknown paths 404; only GET and HEAD")
    func routing() async throws {
        let (ch, _) = try await Self.channel()
        let ok = try await Self.exchange(ch, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(ok.contains("Content-Length: 5\r\n") && ok.contains("Connection: keep-alive\r\n"))
        #expect(Self.body(ok) == "up 1\n")
        let missing = try await Self.exchange(ch, "GET /nope?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(missing.hasPrefix("HTTP/1.1 404 Not Found\r\n") && Self.body(missing) == "not found: /nope\n")
        let post = try await Self.exchange(ch, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab")
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n"))
        let head = try await Self.exchange(ch, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.contains("Content-Length: 5\r\n"))
        #expect(Self.body(head).isEmpty)
        let close = try await Self.exchange(ch, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(close.contains("Connection: close\r\n"))
        try await ch.closeFuture.get()
    }

    @Test("a request body over the limit closes the connection without reading it")
    func bodyLimit() async throws {
        var limits = ConnectionLimits.default
        limits.maxBodyBytes = 100
        let (ch, _) = try await Self.channel(limits: limits)
        try await ch.writeInbound(
            ByteBuffer(
                string: "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                    + String(repeating: "a", count: 500)))
        try await ch.closeFuture.get()
    }

    @Test("no whole request head within the timeout: the connection is closed")
    func requestDeadline() async throws {
        var limits = ConnectionLimits.default
        limits.requestTimeout = .milliseconds(50)
        let (ch, table) = try await Self.channel(limits: limits)
        #expect(table.openCount == 1)
        try await ch.writeInbound(ByteBuffer(string: "GET /met"))  // a slow client's first bytes
        await ch.testingEventLoop.advanceTime(by: .milliseconds(60))
        try await ch.closeFuture.get()
        #expect(table.openCount == 0)
    }

    /// Holds every write at the socket's end, as a client that never reads its answer does.
    final class StalledClient: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = NIOAny
        var held: [EventLoopPromise<Void>?] = []
        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            held.append(promise)
        }
        func flush(context: ChannelHandlerContext) {}
    }

    @Test("a `Connection: close` client that never reads its answer loses the connection after the timeout")
    func stalledReader() async throws {
        var limits = ConnectionLimits.default
        limits.requestTimeout = .milliseconds(50)
        let (ch, table) = try await Self.channel(limits: limits)
        try await ch.pipeline.addHandler(StalledClient(), position: .first).get()
        try await ch.writeInbound(ByteBuffer(string: "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
        // The answer is written but never taken: the connection holds its slot, as busy…
        await ch.testingEventLoop.advanceTime(by: .milliseconds(40))
        #expect(table.openCount == 1 && ch.isActive)
        // …for the timeout, not for good.
        await ch.testingEventLoop.advanceTime(by: .milliseconds(20))
        await ch.testingEventLoop.run()
        #expect(!ch.isActive && table.openCount == 0)
    }

    /// Counts the reads that reach the socket's end of the pipeline.
    final class ReadCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = NIOAny
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    @Test("a connection that cannot be written to (its client does not read) is not read from until it can")
    func readWhenWritable() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(ReadWhenWritable())
        channel.read()
        #expect(counter.reads == 1)
        channel.isWritable = false
        channel.pipeline.fireChannelWritabilityChanged()
        channel.read()
        #expect(counter.reads == 1, "read while the client takes nothing")
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == 2, "the held read goes on once it can be written to")
        _ = try channel.finish()
    }

    @Test("at the cap a new connection takes the place of the oldest idle one; a busy one is kept")
    func cap() async throws {
        let table = ConnectionTable(limits: ConnectionLimits(maxConnections: 2, requestTimeout: .seconds(10)))
        let a = EmbeddedChannel()
        let b = EmbeddedChannel()
        let c = EmbeddedChannel()
        let idA = try #require(table.admit(a))
        let idB = try #require(table.admit(b))
        table.setBusy(idA, true)  // a is being answered
        let idC = try #require(table.admit(c))
        #expect(!b.isActive || (try? b.closeFuture.wait()) != nil)
        #expect(table.evicted == 1 && table.openCount == 2)
        table.setBusy(idC, true)
        // Every slot busy: the newcomer is refused.
        #expect(table.admit(EmbeddedChannel()) == nil)
        #expect(table.refused == 1)
        table.closed(idA)
        table.closed(idB)
        table.closed(idC)
        #expect(table.openCount == 0)
    }

    @Test("basic auth: no or wrong credentials 401, right ones 200 (bcrypt, then the cache)")
    func basicAuth() async throws {
        let dir = NSTemporaryDirectory() + "iommud-auth-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let hash = String(
            decoding: try #require(
                BasicAuthVerifier.cryptRN(password: Array("s3cret".utf8), setting: "$2b$04$abcdefghijklmnopqrstuu")),
            as: UTF8.self)
        try "basic_auth_users:\n  alice: \(hash)\n".write(toFile: dir + "/web.yml", atomically: true, encoding: .utf8)
        let security = try WebSecurity(path: dir + "/web.yml", logger: Logger(label: "test"))
        let (ch, _) = try await Self.channel(security: security)
        let none = try await Self.exchange(ch, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(none.hasPrefix("HTTP/1.1 401 Unauthorized\r\n") && none.contains("WWW-Authenticate: Basic"))
        let wrong = Data("alice:nope".utf8).base64EncodedString()
        let bad = try await Self.exchange(
            ch, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(wrong)\r\n\r\n")
        #expect(bad.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
        let right = Data("alice:s3cret".utf8).base64EncodedString()
        for _ in 0..<2 {
            let ok = try await Self.exchange(
                ch, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \(right)\r\n\r\n")
            #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n") && Self.body(ok) == "up 1\n")
        }
        let garbage = try await Self.exchange(
            ch, "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ***\r\n\r\n")
        #expect(garbage.hasPrefix("HTTP/1.1 401 Unauthorized\r\n"))
    }

    @Test("wrong passwords queue at most 8 bcrypt checks; the rest are answered busy (429) at once")
    func bcryptQueueBound() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer {
            try? pool.syncShutdownGracefully()
            try? group.syncShutdownGracefully()
        }
        let verifier = BasicAuthVerifier(pool: pool)
        let users = ["alice": BasicAuthVerifier.decoyHash]  // cost 10: each check takes a while
        let wrong = "Basic " + Data("alice:wrong".utf8).base64EncodedString()
        let loop = group.next()
        let decisions = (0..<20).map { _ in verifier.verify(authorization: wrong, users: users, on: loop) }
        let all = try decisions.map { try $0.wait() }
        #expect(all.filter { $0 == .denied }.count == BasicAuthVerifier.maxPending)
        #expect(all.filter { $0 == .busy }.count == 20 - BasicAuthVerifier.maxPending)
        // Once they are done, a new check is admitted again.
        #expect(try verifier.verify(authorization: wrong, users: users, on: loop).wait() == .denied)
    }

    @Test(
        "the Authorization header: Basic base64(user:password), anything else refused",
        arguments: [
            ("Basic YWxpY2U6czNjcmV0", "alice", "s3cret"), ("basic YWxpY2U6czNjcmV0", "alice", "s3cret"),
            ("Basic YWxpY2U6", "alice", ""), ("Basic OnBhc3M=", "", "pass"),
        ])
    func parseBasic(_ header: String, _ user: String, _ password: String) throws {
        let (u, p) = try #require(BasicCredentials.parseBasic(header))
        #expect(u == user && p == Array(password.utf8))
    }

    @Test(
        "malformed Authorization headers are refused",
        arguments: [
            "", "Basic", "Bearer YWxpY2U6czNjcmV0", "Basic YWxpY2Uk", "Basic ===", "Basic YW=xp", "Basic @@@@",
            "Basic /3VzZXI6cGFzcw==",  // a user name that is not UTF-8
        ])
    func parseBasicRefuses(_ header: String) {
        #expect(BasicCredentials.parseBasic(header) == nil)
    }
}
