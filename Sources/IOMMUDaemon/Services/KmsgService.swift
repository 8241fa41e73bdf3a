import IOMMUCore
import Logging
import ServiceLifecycle

/// The event loop's side of the kmsg pipeline: takes each batch the reader counted and hands
/// it on — storms, journal entries, actions, the checkpoint — then tells systemd when the
/// ring buffer's backlog is done.
final class KmsgService: Service, Sendable {
    let reader: KmsgReader
    let core: DaemonCore
    let storms: StormService
    let journal: JournalSink
    let actions: ActionService
    let checkpoints: CheckpointService
    let views: DaemonViews
    let logger: Logger

    init(
        reader: KmsgReader, core: DaemonCore, storms: StormService, journal: JournalSink, actions: ActionService,
        checkpoints: CheckpointService, views: DaemonViews, logger: Logger
    ) {
        self.views = views
        self.reader = reader
        self.core = core
        self.storms = storms
        self.journal = journal
        self.actions = actions
        self.checkpoints = checkpoints
        self.logger = logger
    }

    func run() async throws {
        let stream = reader.start()
        var announcedReady = false
        await withGracefulShutdownHandler {
            for await batch in stream {
                let commit = batch.commit
                let items = storms.observe(commit.faults)
                journal.handle(items, losses: commit.losses, topology: commit.topology, live: announcedReady)
                actions.handle(items, topology: commit.topology)
                for l in commit.losses {
                    logger.warning(
                        "\(l.count) kernel log records lost between \(l.afterSeq.map { "seq \($0)" } ?? "the start of this boot") and seq \(l.beforeSeq)"
                    )
                }
                if batch.endOfBacklog && !announcedReady {
                    announcedReady = true
                    // A journal mark beyond the last record of the ring buffer cannot be ours.
                    journal.bound(byLastSeq: core.snapshot().ledger.lastSeq)
                    StartupPages.warmUpAndRelease(views: views, controlSocket: core.configuration.controlSocket)
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
