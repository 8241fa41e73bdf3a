import CLinux
import IOMMUCore
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Writes the checkpoint at a bounded rate while records flow (one write at most every
/// `checkpoint_interval`, scheduled only when something changed — no timer when idle), again
/// every interval while a write fails (a full disk, a state directory made read-only), and on
/// every clean stop.
final class CheckpointService: Service, Sendable {
    struct Written: Sendable, Equatable {
        var generation: UInt64
        var journaledSeq: UInt64?
    }

    let core: DaemonCore
    let store: CheckpointStore
    let interval: Duration
    let logger: Logger
    /// The journal's mark, saved with the counters (nil: journal off).
    let journaledSeq: @Sendable () -> UInt64?
    let last = Mutex<(written: Written?, atUsec: Int64?, failing: Bool)>((nil, nil, false))
    let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    init(
        core: DaemonCore, store: CheckpointStore, interval: Duration, logger: Logger,
        journaledSeq: @escaping @Sendable () -> UInt64?
    ) {
        self.core = core
        self.store = store
        self.interval = interval
        self.logger = logger
        self.journaledSeq = journaledSeq
    }

    /// Something may have changed: write within `interval`.
    func recordsArrived() { wake.yield(()) }

    /// Wall time of the last successful write.
    var lastSuccessUsec: Int64? { last.withLock { $0.atUsec } }

    var current: Written { Written(generation: core.snapshot().generation, journaledSeq: journaledSeq()) }

    var isDirty: Bool { last.withLock { $0.written } != current }

    func run() async throws {
        await withGracefulShutdownHandler {
            var it = wakeups.makeAsyncIterator()
            while !Task.isShuttingDownGracefully {
                if !last.withLock({ $0.failing }) {
                    guard await it.next() != nil else { break }
                }
                guard isDirty || last.withLock({ $0.failing }) else { continue }
                // Let records that arrive meanwhile ride along in the same write; a stop cuts
                // the wait short (the final write below covers it).
                try? await cancelWhenGracefulShutdown { try await quietSleep(for: self.interval) }
                let (written, state) = capture()
                let store = self.store
                guard let result = try? await Self.writer.runIfActive({ Self.save(state, to: store) }) else {
                    break  // cancelled: the final write below
                }
                finish(result, written: written, state: state)
            }
        } onGracefulShutdown: {
            self.wake.finish()
        }
        // On the stop, here: nothing else is left for the event loop to do.
        let (written, state) = capture()
        finish(Self.save(state, to: store), written: written, state: state)
    }

    static func save(_ state: CheckpointState, to store: CheckpointStore) -> Result<Void, FileError> {
        Result { () throws(FileError) in try store.save(state) }
    }

    /// The thread the writes run on: encoding, write, fsync and rename off the event loop, which
    /// the reader waits for when it is behind — a slow fsync (tens of ms) there made the kernel
    /// ring buffer overflow in a 20 k records/s storm. Started at the first write and kept for the
    /// life of the process (shutting a pool down goes through libdispatch, which the daemon avoids).
    static let writer: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    func capture() -> (Written, CheckpointState) {
        let written = current
        return (written, core.checkpointState(journaledSeq: written.journaledSeq))
    }

    func finish(_ result: Result<Void, FileError>, written: Written, state: CheckpointState) {
        switch result {
        case .success:
            let wasFailing = last.withLock { l in
                defer { l = (written, state.writtenUsec, false) }
                return l.failing
            }
            if wasFailing { logger.notice("the checkpoint \(store.path) is written again") }
        case .failure(let error):
            let first = last.withLock { l in
                defer { l.failing = true }
                return !l.failing
            }
            if first {
                logger.error(
                    "cannot write the checkpoint \(store.path): \(error). Counts are kept in memory and the write is retried every \(interval.configText); a crash now would re-read from the previous checkpoint."
                )
            }
        }
        // The one place the heap is trimmed: every burst of records (the backlog, a storm) ends
        // with this write, and encoding the ledger is the daemon's largest short-lived
        // allocation; glibc keeps what it freed until told.
        _ = clinux_malloc_trim()
    }
}
