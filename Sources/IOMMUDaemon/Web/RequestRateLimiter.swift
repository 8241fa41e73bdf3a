import Synchronization

/// The web config's `rate_limit` of HTTP requests: a token bucket (golang.org/x/time/rate
/// semantics, as exporter-toolkit: one token per interval, up to `burst` saved). Not the
/// kernel's printk ratelimit, nor the journal's or the actions' `WindowBudget`.
final class RequestRateLimiter: Sendable {
    let intervalUsec: Int64
    let burst: Int
    private let state: Mutex<(tokens: Double, lastUsec: Int64)>

    init(_ limit: WebConfig.RateLimit) {
        intervalUsec = max(1, limit.interval.totalMicroseconds)
        burst = limit.burst
        state = Mutex((Double(limit.burst), Clocks.monotonicUsec()))
    }

    func allow() -> Bool {
        let now = Clocks.monotonicUsec()
        return state.withLock { s in
            s.tokens = min(Double(burst), s.tokens + Double(max(0, now - s.lastUsec)) / Double(intervalUsec))
            s.lastUsec = now
            guard s.tokens >= 1 else { return false }
            s.tokens -= 1
            return true
        }
    }
}
