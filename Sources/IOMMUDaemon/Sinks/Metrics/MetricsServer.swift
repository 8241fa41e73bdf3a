import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The Prometheus endpoint: `/metrics` (or `--web.telemetry-path`), the probes `/-/healthy` and
/// `/-/ready` (ProbeEndpoints.swift), and a small landing page at `/`. Under systemd the
/// listening socket comes from iommud.socket (sd_listen_fds) and the service itself has no
/// network; outside systemd it binds `[http] listen`.
final class MetricsServer: Service, Sendable {
    let group: MultiThreadedEventLoopGroup
    let views: DaemonViews
    let logger: Logger
    let passedFDs: [Int32]
    let listen: [ListenAddress]
    let channels = Mutex<[Channel]>([])
    /// The connections of every listener of this server together (their limits).
    let table: ConnectionTable
    /// `[http] web_config`: TLS, basic auth, headers; nil only where no daemon runs (tests).
    let security: WebSecurity?

    init(
        group: MultiThreadedEventLoopGroup, views: DaemonViews, listen: [ListenAddress], passedFDs: [Int32],
        logger: Logger,
        security: WebSecurity? = nil, limits: ConnectionLimits = .default
    ) {
        self.table = ConnectionTable(limits: limits)
        self.security = security
        self.group = group
        self.views = views
        self.listen = listen
        self.passedFDs = passedFDs
        self.logger = logger
    }

    static func routes(views: DaemonViews) -> HTTPRoutes {
        // `--web.telemetry-path`: fixed for the process (a flag, not a reloadable key).
        let telemetryPath = views.core.configuration.telemetryPath
        return { @Sendable _, path in
            switch path {
            case telemetryPath:
                return HTTPResponse(contentType: "text/plain; version=0.0.4; charset=utf-8", body: views.metrics())
            case "/":
                return HTTPResponse(
                    contentType: "text/html; charset=utf-8",
                    body: Array(
                        """
                        <html><head><title>iommud</title></head><body>
                        <h1>iommud \(BuildInfo.version)</h1>
                        <p>IOMMU / DMA-remapping fault exporter.</p>
                        <ul>
                        <li><a href="\(telemetryPath)">\(telemetryPath)</a>: metrics</li>
                        <li><a href="\(ProbeEndpoints.healthy)">\(ProbeEndpoints.healthy)</a>: 200 while the kernel log reader and the event loop run</li>
                        <li><a href="\(ProbeEndpoints.ready)">\(ProbeEndpoints.ready)</a>: 200 once the ring-buffer backlog is read (503 before)</li>
                        </ul>
                        <p>Run <code>iommud status</code> on the host for the platform view and per-device faults.</p>
                        </body></html>

                        """.utf8))
            default:
                return ProbeEndpoints.response(path: path, core: views.core)
            }
        }
    }

    /// An HTTP server: every connection admitted by `table` (its limits: ConnectionLimits.swift),
    /// TLS first when the web config has it, then HTTP/1.1 and the routes.
    static func bootstrap(
        group: EventLoopGroup, routes: @escaping HTTPRoutes, table: ConnectionTable, security: WebSecurity? = nil
    ) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 128)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try HTTPHandler.configure(channel, routes: routes, table: table, security: security)
                }
            }
    }

    /// Binds before the service group starts, so a bad address fails the start clearly.
    func bind() async throws {
        let routes = Self.routes(views: views)
        var bound: [Channel] = []
        if !passedFDs.isEmpty {
            for fd in passedFDs {
                let ch = try await Self.bootstrap(group: group, routes: routes, table: table, security: security)
                    .withBoundSocket(fd)
                    .get()
                logger.info(
                    "serving \(views.core.configuration.telemetryPath) on the socket systemd passed (fd \(fd)): \(security?.summary ?? "plain HTTP")"
                )
                bound.append(ch)
            }
        } else {
            for a in listen {
                do {
                    let ch = try await Self.bootstrap(group: group, routes: routes, table: table, security: security)
                        .bind(
                            host: a.host, port: a.port
                        ).get()
                    logger.info(
                        "serving \(security?.scheme ?? "http")://\(a)\(views.core.configuration.telemetryPath): \(security?.summary ?? "plain HTTP")"
                    )
                    bound.append(ch)
                } catch {
                    for c in bound { try? await c.close() }
                    throw DaemonFailure(
                        .config,
                        "cannot listen on \(a) ([http] listen): \(error). Another process may hold the port, or the address is not on this host."
                    )
                }
            }
        }
        channels.withLock { $0 = bound }
    }

    func run() async throws {
        // Runs until the group shuts down; the listeners may be replaced by a reload meanwhile.
        try? await gracefulShutdown()
        for c in channels.withLock({ $0 }) { try? await c.close() }
    }

    /// SIGHUP with new `[http] listen` addresses (outside systemd): bind the new set first, then
    /// close the old one, so a bad address keeps the old listeners.
    func rebind(_ addresses: [ListenAddress]) async throws {
        guard passedFDs.isEmpty else { return }
        let routes = Self.routes(views: views)
        var fresh: [Channel] = []
        for a in addresses {
            do {
                fresh.append(
                    try await Self.bootstrap(group: group, routes: routes, table: table, security: security).bind(
                        host: a.host, port: a.port
                    ).get())
            } catch {
                for c in fresh { try? await c.close() }
                throw DaemonFailure(.config, "cannot listen on \(a): \(error)")
            }
        }
        let old = channels.withLock { chans in
            let o = chans
            chans = fresh
            return o
        }
        for c in old { try? await c.close() }
    }
}
