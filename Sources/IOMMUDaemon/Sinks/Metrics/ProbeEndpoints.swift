import NIOHTTP1

/// `/-/healthy` and `/-/ready`, named as Prometheus and its exporters name them, for liveness and
/// readiness probes (Kubernetes, podman's HEALTHCHECK, load balancers). Both only read two flags
/// under the core's lock — no rendering, no file read — and are answered without the web config's
/// basic auth (a kubelet probe carries no credentials); TLS and the rate limit still apply.
enum ProbeEndpoints {
    static let healthy = "/-/healthy"
    static let ready = "/-/ready"

    /// A batch the event loop has been folding in for longer than this means it is stuck
    /// (batches take milliseconds, even in a storm; the systemd watchdog allows 15 s).
    static let stuckAfter: Duration = .seconds(10)

    static func isProbe(uri: String) -> Bool {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return path == healthy || path == ready
    }

    static func response(path: String, core: DaemonCore) -> HTTPResponse? {
        switch path {
        case healthy:
            // The reader thread is alive and the event loop is not stuck in one batch.
            return core.isHealthy(limit: stuckAfter)
                ? .text("iommud is healthy.\n")
                : .text(
                    "iommud is unhealthy: the kernel log reader stopped or the event loop is stuck.\n",
                    status: .serviceUnavailable)
        case ready:
            // Set by the batch that ends the ring-buffer backlog, after the checkpoint was loaded:
            // from then on the counters are this boot's totals, not a partial read.
            return core.isReady
                ? .text("iommud is ready.\n")
                : .text(
                    "iommud is not ready: still reading the kernel ring buffer backlog.\n",
                    status: .serviceUnavailable)
        default:
            return nil
        }
    }
}
