/// At most `limit` events in any `periodUsec` span — a token bucket whose burst is the limit
/// and whose tokens come back exactly `periodUsec` after they were spent, so no span of that
/// length ever holds more: the journal's budget (`journal_max_per_second`) and the actions'
/// (`max_per_minute`). (Not the kernel's printk ratelimit, whose `N callbacks suppressed` lines
/// are `SuppressedMessagesLine`, nor the web config's `rate_limit` of HTTP requests.) Time is
/// whatever monotonic µs the caller passes.
public struct WindowBudget: Sendable, Equatable {
    public let limit: Int
    public let periodUsec: Int64
    /// When the spent tokens come back, oldest first.
    var spent: [Int64] = []

    public init(limit: Int, periodUsec: Int64) {
        self.limit = min(max(1, limit), 1 << 20)
        self.periodUsec = max(1, periodUsec)
    }

    /// Takes a token if more than `reserve` are free at `now` (the reserve is kept for what
    /// must not wait).
    public mutating func take(now: Int64, reserve: Int = 0) -> Bool {
        refill(now)
        guard spent.count < limit - reserve else { return false }
        spent.append(now.addingReportingOverflow(periodUsec).overflow ? .max : now + periodUsec)
        return true
    }

    /// When the next token comes back (now when one is free).
    public mutating func nextFreeUsec(now: Int64) -> Int64 {
        refill(now)
        return spent.count < limit ? now : spent[0]
    }

    mutating func refill(_ now: Int64) {
        var n = 0
        while n < spent.count && spent[n] <= now { n += 1 }
        if n > 0 { spent.removeFirst(n) }
    }
}
