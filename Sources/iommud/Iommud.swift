import ArgumentParser
import IOMMUDaemon

struct Iommud: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iommud",
        abstract: "Watch IOMMU / DMA-remapping faults: kernel log → typed faults → Prometheus, journal, status.",
        discussion: """
            iommud tails /dev/kmsg and the IOMMU fault interrupts in /proc/interrupts, reads the IOMMU \
            topology from sysfs, classifies Intel VT-d, AMD-Vi and ARM SMMU faults of every kernel era, and \
            counts each one exactly once — across restarts, crashes, reloads and ring-buffer overruns.
            """,
        version: "iommud \(BuildInfo.version) (swift \(BuildInfo.swift))",
        subcommands: [Run.self, Status.self, Replay.self, Log.self, CheckConfig.self, Version.self]
    )
}
