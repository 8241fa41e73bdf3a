import Glibc
import IOMMUCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The control socket `iommud status` talks to: HTTP/1.1 over a Unix socket in the runtime
/// directory, mode 0660, group adm — others get a one-line permission error from the client.
final class ControlServer: Service, Sendable {
    let group: MultiThreadedEventLoopGroup
    let views: DaemonViews
    let path: String
    let logger: Logger
    let channel = Mutex<Channel?>(nil)
    /// Its connections (the same limits as the metrics endpoint's, fewer of them: `status` is
    /// one request now and then).
    let table = ConnectionTable(limits: ConnectionLimits(maxConnections: 16, requestTimeout: .seconds(10)))

    init(group: MultiThreadedEventLoopGroup, views: DaemonViews, path: String, logger: Logger) {
        self.group = group
        self.views = views
        self.path = path
        self.logger = logger
    }

    static func routes(views: DaemonViews) -> HTTPRoutes {
        { @Sendable _, path in
            switch path {
            case "/status":
                return .text(views.status().text())
            case "/status.json":
                return HTTPResponse(contentType: "application/json", body: Array((views.status().json() + "\n").utf8))
            case "/metrics":
                return HTTPResponse(contentType: "text/plain; version=0.0.4; charset=utf-8", body: views.metrics())
            default:
                return nil
            }
        }
    }

    func bind() async throws {
        let dir = String(path[path.startIndex..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty && !isDirectory(dir) {
            if mkdir(dir, 0o755) != 0 && errno != EEXIST {
                throw DaemonFailure(
                    .stateUnusable,
                    "cannot create \(dir) for the control socket: \(String(cString: strerror(errno))). Set [control] socket to a writable place."
                )
            }
        }
        // A socket file left by a crash: remove it unless a daemon still answers there.
        if fileExists(path) {
            if UnixSocket.answers(path: path) {
                throw DaemonFailure(
                    .config, "another iommud already answers on \(path). Stop it first or set another [control] socket."
                )
            }
            unlink(path)
        }
        let routes = Self.routes(views: views)
        let ch: Channel
        do {
            let table = self.table
            ch = try await ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.backlog, value: 64)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try HTTPHandler.configure(channel, routes: routes, table: table)
                    }
                }
                .bind(unixDomainSocketPath: path).get()
        } catch {
            throw DaemonFailure(.stateUnusable, "cannot create the control socket \(path): \(error).")
        }
        chmod(path, 0o660)
        if let adm = getgrnam("adm") {
            if chown(path, uid_t.max, adm.pointee.gr_gid) != 0 {
                logger.debug("could not give \(path) to group adm: \(String(cString: strerror(errno)))")
            }
        }
        channel.withLock { $0 = ch }
        logger.info("control socket at \(path)")
    }

    func run() async throws {
        try? await gracefulShutdown()
        if let ch = channel.withLock({ $0 }) { try? await ch.close() }
        unlink(path)
    }
}
