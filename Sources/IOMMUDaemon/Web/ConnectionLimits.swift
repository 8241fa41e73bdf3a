import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// What one listener (the metrics endpoint, the control socket) allows its clients, so that no
/// client — idle, slow (one byte a second), stuck in a TLS handshake, or just many — can take
/// the daemon's file descriptors or its event loop:
///
/// * at most `maxConnections` open at once. A connection beyond that takes the place of the
///   oldest connection that has not sent a whole request yet (an idle or slow one); when every
///   open connection is in the middle of a request, the new one is closed at once. A client
///   that connects and asks gets its answer, however many connections sit there doing nothing;
/// * a whole request head within `requestTimeout` of connecting (TLS handshake included) or of
///   the last answer on a kept-alive connection, else the connection is closed; and an answer
///   with `Connection: close` taken within `requestTimeout`, else the connection is closed;
/// * a request body of at most `maxBodyBytes` (the endpoints take none);
/// * no read while the connection cannot be written to: a client that does not read its
///   answers stops being read (`ReadWhenWritable`).
struct ConnectionLimits: Sendable {
    var maxConnections: Int
    var requestTimeout: TimeAmount
    var maxBodyBytes = 16 * 1024

    static let `default` = ConnectionLimits(maxConnections: 64, requestTimeout: .seconds(10))
}

/// The open connections of one listener, in the order they came, and whether each is in the
/// middle of a request. Used from every event loop of the group (one here), hence the lock.
final class ConnectionTable: Sendable {
    struct Entry {
        var channel: Channel
        /// A whole request head has come and its answer is not written yet.
        var busy = false
    }

    let limits: ConnectionLimits
    private let state = NIOLockedValueBox<(next: Int, open: [Int: Entry], refused: UInt64, evicted: UInt64)>(
        (0, [:], 0, 0))

    init(limits: ConnectionLimits) { self.limits = limits }

    /// Admits a new connection: its id, or nil when it must be closed (every slot busy).
    func admit(_ channel: Channel) -> Int? {
        let (id, victim) = state.withLockedValue { s -> (Int?, Channel?) in
            var victim: Channel?
            if s.open.count >= limits.maxConnections {
                // The oldest connection without a request under way makes room.
                guard let oldest = s.open.filter({ !$0.value.busy }).min(by: { $0.key < $1.key }) else {
                    s.refused += 1
                    return (nil, nil)
                }
                s.open[oldest.key] = nil
                s.evicted += 1
                victim = oldest.value.channel
            }
            let id = s.next
            s.next += 1
            s.open[id] = Entry(channel: channel)
            return (id, victim)
        }
        victim?.close(promise: nil)
        return id
    }

    func setBusy(_ id: Int, _ busy: Bool) {
        state.withLockedValue { s in s.open[id]?.busy = busy }
    }

    func closed(_ id: Int) {
        state.withLockedValue { s in s.open[id] = nil }
    }

    var openCount: Int { state.withLockedValue { $0.open.count } }
    var refused: UInt64 { state.withLockedValue { $0.refused } }
    var evicted: UInt64 { state.withLockedValue { $0.evicted } }

    /// The first handlers of a new connection's pipeline: admission, the request deadline and
    /// read backpressure. Returns the connection's bookkeeping for the HTTP handler, or nil
    /// when the connection was refused (and is being closed).
    func install(on channel: Channel) throws -> ConnectionState? {
        guard let id = admit(channel) else {
            channel.close(promise: nil)
            return nil
        }
        let state = ConnectionState(id: id, table: self, channel: channel)
        // A closed connection's deadline goes with it: a timer left behind would wake the idle
        // daemon once per connection, a request timeout after the client left.
        channel.closeFuture.whenComplete { _ in
            state.cancelDeadline()
            self.closed(id)
        }
        try channel.pipeline.syncOperations.addHandler(ReadWhenWritable())
        state.armDeadline()
        return state
    }
}

/// One connection's deadline and busy flag, shared by the pipeline's handlers. Touched only on
/// the channel's event loop.
final class ConnectionState: @unchecked Sendable {
    let id: Int
    let table: ConnectionTable
    let channel: Channel
    private var deadline: Scheduled<Void>?

    init(id: Int, table: ConnectionTable, channel: Channel) {
        self.id = id
        self.table = table
        self.channel = channel
    }

    /// A whole request head must come within the timeout, or the connection is closed.
    /// `busy`: the last answer is still being written (the connection closes after it), and
    /// must be taken within the timeout; the connection keeps its slot meanwhile.
    func armDeadline(busy: Bool = false) {
        deadline?.cancel()
        let channel = self.channel
        deadline = channel.eventLoop.scheduleTask(in: table.limits.requestTimeout) {
            channel.close(promise: nil)
        }
        table.setBusy(id, busy)
    }

    /// A request head came: no deadline while it is answered.
    func requestStarted() {
        cancelDeadline()
        table.setBusy(id, true)
    }

    func cancelDeadline() {
        deadline?.cancel()
        deadline = nil
    }
}

/// Stops reading from a connection while it cannot be written to (its client does not read
/// the answers), and reads again once it can.
final class ReadWhenWritable: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    private var readPending = false

    func read(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            context.read()
        } else {
            readPending = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && readPending {
            readPending = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }
}
