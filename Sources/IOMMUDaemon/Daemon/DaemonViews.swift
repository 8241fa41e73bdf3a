import Glibc
import IOMMUCore

/// What the HTTP endpoint and the control socket show, put together from the daemon's parts:
/// the pipeline's snapshot (taken once per request), the storms, the journal's and the
/// actions' own counts, the checkpoint's last write. Rendering happens here, outside every
/// lock; the /proc/interrupts sample a scrape wants is taken first.
struct DaemonViews: Sendable {
    let core: DaemonCore
    let storms: StormService
    let journal: JournalSink
    let actions: ActionService
    let checkpoints: CheckpointService
    let exporter = MetricsExporter()
    let startTimeSeconds = ProcessStats.startTimeSeconds()

    func metrics() -> [UInt8] {
        core.refreshInterrupts()
        let snapshot = core.snapshot()
        let dropped = journal.dropped
        let extras = MetricsExporter.Extras(
            storming: Set(storms.storming.map(\.device)), journalErrors: journal.errors,
            journalDroppedForBudget: dropped.budget, journalDroppedFromQueue: dropped.queue,
            actionFailures: actions.failures, configReloadOK: core.configReloadOK,
            lastCheckpointUsec: checkpoints.lastSuccessUsec, zeroInitDevices: core.configuration.zeroInitDevices)
        return exporter.render(snapshot, extras: extras, process: ProcessStats.read(startTimeSeconds: startTimeSeconds))
    }

    func status() -> StatusReport {
        core.refreshInterrupts()
        let s = core.snapshot()
        let info = DaemonInfo(
            version: BuildInfo.version, pid: getpid(), startedRealtimeUsec: core.startedUsec,
            nowRealtimeUsec: Clocks.realtimeUsec(), bootID: core.bootID, kmsgPath: core.configuration.kmsgPath,
            lastCheckpointRealtimeUsec: checkpoints.lastSuccessUsec, ready: core.isReady)
        var r = StatusReport(ledger: s.ledger, topology: s.topology, daemon: info)
        r.lifetime = core.lifetime.including(s.ledger)
        r.storms = storms.storming
        return r
    }
}
