import NIOCore
import NIOHTTP1

/// One HTTP/1.1 request handler for both listeners: the metrics endpoint (TCP, or the socket
/// systemd passes) and the control socket (Unix). Routes map a path to a rendered response;
/// rendering is synchronous and in-memory (the core's lock), so it runs on the event loop.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: [UInt8]
    /// More headers, e.g. `WWW-Authenticate` on a 401.
    public var extraHeaders: [(String, String)] = []

    public init(status: HTTPResponseStatus = .ok, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public static func text(_ s: String, status: HTTPResponseStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(s.utf8))
    }
}

public typealias HTTPRoutes = @Sendable (_ method: HTTPMethod, _ path: String) -> HTTPResponse?

final class HTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let routes: HTTPRoutes
    /// `[http] web_config`: rate limit, basic auth and extra headers (nil: none, as on the
    /// control socket).
    let gate: HTTPGate?
    /// The connection's deadline and place in its listener's table (nil: no limits, tests).
    let connection: ConnectionState?
    let maxBodyBytes: Int
    var request: HTTPRequestHead?
    var bodyBytes = 0

    init(
        routes: @escaping HTTPRoutes, gate: HTTPGate? = nil, connection: ConnectionState? = nil,
        maxBodyBytes: Int = ConnectionLimits.default.maxBodyBytes
    ) {
        self.routes = routes
        self.gate = gate
        self.connection = connection
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
            bodyBytes = 0
            connection?.requestStarted()
        case .body(let chunk):
            // The endpoints take no body; a large one is refused, not read into memory.
            bodyBytes += chunk.readableBytes
            if bodyBytes > maxBodyBytes {
                request = nil
                context.close(promise: nil)
            }
        case .end:
            guard let head = request else { return }
            request = nil
            guard let gate else { return respond(context: context, head: head) }
            // The HTTP pipeline handler holds back pipelined requests until this one's .end is
            // written, so one decision at a time is pending.
            gate.decide(head, context.eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                case .success(let d): self.respond(context: context, head: head, gate: d)
                case .failure:
                    self.respond(
                        context: context, head: head,
                        gate: HTTPGate.Decision(
                            denial: .text("internal error\n", status: .internalServerError), headers: []))
                }
            }
        }
    }

    func respond(context: ChannelHandlerContext, head: HTTPRequestHead, gate: HTTPGate.Decision? = nil) {
        let path = String(head.uri.split(separator: "?", maxSplits: 1).first ?? "/")
        let response: HTTPResponse
        if let denial = gate?.denial {
            response = denial
        } else if head.method != .GET && head.method != .HEAD {
            response = .text("only GET is supported\n", status: .methodNotAllowed)
        } else {
            response = routes(head.method, path) ?? .text("not found: \(path)\n", status: .notFound)
        }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        for (name, value) in response.extraHeaders { headers.add(name: name, value: value) }
        for h in gate?.headers ?? [] { headers.add(name: h.name, value: h.value) }
        let keepAlive = head.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))),
            promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
            // A client that asks for `Connection: close` and never reads the answer would hold
            // its slot for good (busy, so never the one evicted): it has the timeout to take it.
            connection?.armDeadline(busy: true)
        } else {
            // The next request head must come within the timeout too.
            connection?.armDeadline()
        }
    }

    /// A new connection's pipeline: admitted by `table` (its limits: ConnectionLimits.swift),
    /// TLS first when the web config has it, then HTTP/1.1 and the routes.
    static func configure(
        _ channel: Channel, routes: @escaping HTTPRoutes, table: ConnectionTable, security: WebSecurity? = nil
    ) throws {
        guard let connection = try table.install(on: channel) else { return }
        try security?.configureTLS(channel.pipeline.syncOperations)
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(
            HTTPHandler(
                routes: routes, gate: security?.gate, connection: connection, maxBodyBytes: table.limits.maxBodyBytes))
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
