import CLinux
import Glibc
import IOMMUCore
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The event loop: consumes the reader's batches, folds them into the ledger, tells systemd
/// when the ring-buffer backlog is done, and asks for a checkpoint while records flow.
final class KmsgService: Service, Sendable {
    let reader: KmsgReader
    let core: DaemonCore
    let checkpoints: CheckpointService
    let logger: Logger
    /// Journal entries and actions for what each batch brought (nil: neither).
    let journal: JournalSink?

    init(
        reader: KmsgReader, core: DaemonCore, checkpoints: CheckpointService, logger: Logger,
        journal: JournalSink? = nil
    ) {
        self.reader = reader
        self.core = core
        self.checkpoints = checkpoints
        self.logger = logger
        self.journal = journal
    }

    func run() async throws {
        let stream = reader.start()
        var announcedReady = false
        await withGracefulShutdownHandler {
            for await batch in stream {
                let faults = core.ingest(batch)
                let items = core.trackStorms(faults)
                journal?.handle(items, losses: batch.losses, live: announcedReady)
                if !batch.losses.isEmpty {
                    for l in batch.losses {
                        logger.warning(
                            "\(l.count) kernel log records lost between \(l.afterSeq.map { "seq \($0)" } ?? "the start of this boot") and seq \(l.beforeSeq)"
                        )
                    }
                }
                if batch.endOfBacklog && !announcedReady {
                    announcedReady = true
                    StartupPages.warmUpAndRelease(controlSocket: core.configuration.controlSocket)
                    SystemdNotify.send("READY=1\nSTATUS=\(core.statusLine())")
                    logger.info("ring buffer backlog read: \(core.statusLine())")
                }
                checkpoints.recordsArrived()
                reader.batchDone()
            }
        } onGracefulShutdown: {
            self.reader.stop()
        }
        // The stream ends when the reader stops: on shutdown, or if reading failed.
        core.readerStopped()
    }
}

/// Writes the checkpoint at a bounded rate while records flow (one write at most every
/// `checkpoint_interval`, scheduled only when something changed — no timer when idle) and on
/// every clean stop.
final class CheckpointService: Service, Sendable {
    let core: DaemonCore
    let store: CheckpointStore
    let interval: Duration
    let logger: Logger
    let (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))

    init(core: DaemonCore, store: CheckpointStore, interval: Duration, logger: Logger) {
        self.core = core
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    func recordsArrived() { wake.yield(()) }

    func run() async throws {
        for await _ in wakeups.cancelOnGracefulShutdown() {
            guard core.isDirty else { continue }
            // Let records that arrive meanwhile ride along in the same write; a stop cuts the
            // wait short (the final write below covers it).
            try? await cancelWhenGracefulShutdown { try await quietSleep(for: self.interval) }
            write()
        }
        write()
    }

    func write() {
        let state = core.checkpointState()
        do {
            try store.save(state)
            core.checkpointWritten(at: state.writtenUsec)
        } catch {
            logger.error(
                "cannot write the checkpoint \(store.path): \(error). Counts are kept in memory; a crash now would re-read from the previous checkpoint."
            )
        }
        // The one place the heap is trimmed. Every burst of records (the backlog, a storm) ends
        // with this write, checkpoint_interval after its first record, and encoding the whole
        // ledger is the daemon's largest short-lived allocation: glibc keeps the pages the burst
        // and the encoding freed until told (~1 ms on a 10 MB heap, at most once an interval).
        _ = clinux_malloc_trim()
    }
}

/// WATCHDOG=1 every half interval, but only while the event loop is healthy — a stuck loop or
/// a dead reader lets systemd restart the service.
final class WatchdogService: Service, Sendable {
    let core: DaemonCore
    let interval: Duration
    let logger: Logger

    init(core: DaemonCore, interval: Duration, logger: Logger) {
        self.core = core
        self.interval = interval
        self.logger = logger
    }

    func run() async throws {
        var warned = false
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if core.isHealthy(limit: interval / 2) {
                SystemdNotify.send("WATCHDOG=1")
                warned = false
            } else if !warned {
                warned = true
                logger.error("event loop unhealthy: not sending WATCHDOG=1, systemd will restart iommud")
            }
            do {
                try await quietSleep(for: interval / 2)
            } catch {
                break
            }
        }
    }
}

/// SIGHUP: reload the config without re-reading kmsg and without resetting any counter. A
/// broken new config keeps the old one running and says why.
final class ReloadService: Service, Sendable {
    let daemon: DaemonRuntime

    init(daemon: DaemonRuntime) { self.daemon = daemon }

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            await daemon.reload()
        }
    }
}

/// A stop signal that arrived while the daemon was still starting (before the service group
/// owned SIGTERM/SIGINT) is remembered here and turned into a graceful shutdown once it runs.
let earlyStopSignal = Atomic<Int32>(0)

func rememberEarlyStopSignals() {
    for sig in [SIGTERM, SIGINT] {
        signal(sig) { s in earlyStopSignal.store(s, ordering: .relaxed) }
    }
    // A reload request while starting needs no action: the config is being read right now.
    signal(SIGHUP, SIG_IGN)
}

final class EarlyStopService: Service, Sendable {
    func run() async throws {
        if earlyStopSignal.load(ordering: .relaxed) != 0 { return }  // ends the group gracefully
        try? await gracefulShutdown()
    }
}

/// Rescans sysfs every `[topology] rescan_interval` — the only timer besides the watchdog.
final class TopologyService: Service, Sendable {
    let core: DaemonCore

    init(core: DaemonCore) { self.core = core }

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            let interval = core.configuration.rescanInterval
            do {
                try await cancelWhenGracefulShutdown { try await quietSleep(for: interval) }
            } catch {
                return
            }
            core.periodicRescan()
        }
    }
}
