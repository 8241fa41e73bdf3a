import Glibc
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// What the web config does to a request before routing: the rate limit, basic auth, and
/// the headers every response carries.
struct HTTPGate: Sendable {
    struct Decision: Sendable {
        /// Sent instead of the routed response (401, 429).
        var denial: HTTPResponse?
        var headers: [HTTPHeaderSetting]
    }

    let decide: @Sendable (_ head: HTTPRequestHead, _ eventLoop: EventLoop) -> EventLoopFuture<Decision>
}

extension WebSecurity {
    var gate: HTTPGate {
        HTTPGate { [self] head, loop in
            let snap = current()
            guard let config = snap.config else {
                return loop.makeSucceededFuture(HTTPGate.Decision(denial: nil, headers: []))
            }
            let headers = config.headers
            if let limiter = snap.rateLimiter, !limiter.allow() {
                return loop.makeSucceededFuture(
                    HTTPGate.Decision(
                        denial: .text("too many requests\n", status: .tooManyRequests), headers: headers))
            }
            // Probes carry no credentials (ProbeEndpoints.swift); they reveal only up or not.
            guard config.requiresAuth, !ProbeEndpoints.isProbe(uri: head.uri) else {
                return loop.makeSucceededFuture(HTTPGate.Decision(denial: nil, headers: headers))
            }
            return verifier.verify(
                authorization: head.headers.first(name: "Authorization"), users: config.users, on: loop
            ).map {
                decision in
                switch decision {
                case .allowed:
                    return HTTPGate.Decision(denial: nil, headers: headers)
                case .busy:
                    var r = HTTPResponse.text(
                        "429 Too Many Requests: too many password checks under way, try again\n",
                        status: .tooManyRequests)
                    r.extraHeaders.append(("Retry-After", "1"))
                    return HTTPGate.Decision(denial: r, headers: headers)
                case .denied:
                    var r = HTTPResponse.text(
                        "401 Unauthorized: this endpoint needs a user and password (HTTP basic auth)\n",
                        status: .unauthorized)
                    r.extraHeaders.append(("WWW-Authenticate", "Basic realm=\"iommud\""))
                    return HTTPGate.Decision(denial: r, headers: headers)
                }
            }
        }
    }

    /// Puts TLS in front of a new connection's HTTP handlers when the web config asks for it
    /// — the same for sockets we bound and sockets systemd passed.
    func configureTLS(_ pipeline: ChannelPipeline.SynchronousOperations) throws {
        let snap = current()
        guard let ssl = snap.sslContext, let tls = snap.config?.tls else { return }
        try pipeline.addHandler(PlainHTTPOnTLSPortHandler(logger: logger))
        switch tls.clientAuth {
        case .requestClientCert, .requireAnyClientCert:
            // Ask for a certificate but accept any (Go's RequestClientCert / RequireAnyClientCert;
            // BoringSSL still refuses a handshake without one when it is required).
            try pipeline.addHandler(
                NIOSSLServerHandler(
                    context: ssl,
                    customVerificationCallback: { _, promise in
                        promise.succeed(.certificateVerified)
                    }))
        default:
            try pipeline.addHandler(NIOSSLServerHandler(context: ssl))
        }
        try pipeline.addHandler(TLSFailureLogger(logger: logger))
        if let sans = tls.clientAllowedSANs {
            try pipeline.addHandler(ClientSANCheck(allowed: Set(sans), logger: logger))
        }
    }
}

/// A plain HTTP request sent to the TLS port gets a short plain-text 400 and the connection is
/// closed, instead of a TLS alert the client cannot read (what Go's servers do too).
final class PlainHTTPOnTLSPortHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let logger: Logger
    var answered = false

    init(logger: Logger) { self.logger = logger }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answered else { return }
        let buffer = unwrapInboundIn(data)
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return }
        // 0x16: a TLS handshake record. Anything else is not TLS; an ASCII letter is HTTP.
        if first == 0x16 || !(UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) {
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
            return
        }
        logger.debug(
            "plain HTTP on the TLS port from \(context.remoteAddress.map { "\($0)" } ?? "?"): answered 400"
        )
        let body = "Client sent an HTTP request to an HTTPS server.\n"
        let response =
            "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        let out = context.channel.allocator.buffer(string: response)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(out)).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Handshake failures (no client certificate, a version below min_version, …) are the
/// client's business: logged at debug, the connection closed, nothing else.
final class TLSFailureLogger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    let logger: Logger

    init(logger: Logger) { self.logger = logger }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if error is NIOSSLError || error is BoringSSLError {
            logger.debug(
                "TLS connection from \(context.remoteAddress.map { "\($0)" } ?? "?") failed: \(error)")
            context.close(promise: nil)
            return
        }
        context.fireErrorCaught(error)
    }
}

/// `client_allowed_sans`: after the handshake, the client certificate must carry one of the
/// listed DNS names, IP addresses, e-mail addresses or URIs; otherwise the connection is
/// closed before a byte of HTTP is read.
final class ClientSANCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let allowed: Set<String>
    let logger: Logger
    var passed = false

    init(allowed: Set<String>, logger: Logger) {
        self.allowed = allowed
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if passed { context.fireChannelRead(data) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted? = event as? TLSUserEvent {
            let cert = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
                .peerCertificate
            let names = cert.map(Self.sanStrings) ?? []
            if names.contains(where: allowed.contains) {
                passed = true
            } else {
                logger.debug("client certificate SANs \(names) are not in client_allowed_sans: closing")
                context.close(promise: nil)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    static func sanStrings(_ cert: NIOSSLCertificate) -> [String] {
        cert._subjectAlternativeNames().compactMap { name -> String? in
            switch name.nameType {
            case .dnsName, .email, .uri: return String(decoding: name.contents, as: UTF8.self)
            case .ipAddress:
                let bytes = Array(name.contents)
                var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
                let family = bytes.count == 4 ? AF_INET : bytes.count == 16 ? AF_INET6 : -1
                guard family >= 0, inet_ntop(family, bytes, &out, socklen_t(out.count)) != nil else {
                    return nil
                }
                return String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            default: return nil
            }
        }
    }
}
