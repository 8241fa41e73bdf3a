/// AMD-Vi lines other than `Event logged [...]` (kernel-formats.md §2.2, §2.5): aux detail,
/// log overflow / restart, PPR-log anomalies, command-queue timeouts.
///
/// Sources (drivers/iommu/amd_iommu.c ≤ ~5.9, amd/iommu.c, amd/init.c, amd/ppr.c 6.9+; pr_fmt /
/// dev_fmt `"AMD-Vi: "`):
/// (The detail lines after an event — `Control Reg`, `DTE[n]`, `CMD[n]` — are declared with the
/// event, `FollowUpLines` in AMDEventDecoder.swift.)
/// * `pr_info_ratelimited("IOMMU event log overflow\n")` (~5.17–6.5, amd_iommu_int_thread),
///   `"IOMMU GA Log restarting\n"` (6.5 stable), `"IOMMU %s log restarting\n"` with Event / PPR /
///   GA (6.6+, init.c amd_iommu_restart_log): the hardware log dropped entries → overflow marker.
/// * `pr_alert("Completion-Wait loop timed out\n")` (wait_on_sem), since Oct 2025 `"IOMMU
///   %04x:%02x:%02x.%01x: Completion-Wait loop timed out\n"`: the command queue stopped → unit
///   error. `"GA log notifier failed.\n"` (AVIC, not faults) → nothing.
/// * PPR log: `"Unknown PPR request received\n"` (iommu_handle_ppr_entry ≤6.8, ppr.c 6.9+),
///   `"Invalid PASID : 0x%x, device : 0x%x\n"` (6.9+, device = raw requester id), and the
///   dev_dbg `"PPR logged [Request ignored due to GN=0 (device=… pasid=… address=… flags=…
///   tag=…]\n"` / `"PPR logged [Invalid request format (device=…"`.
///
/// RECOVERABLE (§8.1), decided here: the PPR log is AMD's recoverable path (the device waits
/// for the page-request response), so PPR anomalies are `kind: ppr-request, recoverable: true`.
enum AMDViMessages {
    static func consume(
        _ s: inout ByteScanner, prefix: AMDViParser.Prefix, record r: KmsgRecord,
        into out: inout [ClassifierOutput]
    ) -> Bool {
        if s.skip("IOMMU ") {
            if s.skip("event log overflow") {
                out.append(.marker(.overflow(vendor: .amd, unit: prefix.unit, log: "event"), of: r))
                return true
            }
            let log: String?
            if s.skip("Event log restarting") {
                log = "event"
            } else if s.skip("PPR log restarting") {
                log = "ppr"
            } else if s.skip("GA log restarting") || s.skip("GA Log restarting") {
                log = "ga"
            } else {
                log = nil
            }
            if let log {
                out.append(.marker(.overflow(vendor: .amd, unit: prefix.unit, log: log), of: r))
                return true
            }
            // `IOMMU SSSS:BB:DD.F: Completion-Wait loop timed out` (names the IOMMU's PCI function).
            guard PCIAddress.scan(&s) != nil, s.skip(": ") else { return false }
        }
        if s.skip("Completion-Wait loop timed out") {
            out.append(
                .marker(
                    .unitError(vendor: .amd, unit: prefix.unit, what: "completion-wait-timeout"), of: r))
            return true
        }
        if s.skip("GA log notifier failed") { return true }

        var f = Fault(
            vendor: .amd, kind: "ppr-request", recoverable: true, device: prefix.device,
            unit: prefix.unit,
            seq: r.seq, timestampUsec: r.timestampUsec, text: r.text)
        if s.skip("Unknown PPR request received") {
            f.reasonText = "Unknown PPR request received"
            out.append(.fault(f))
            return true
        }
        if s.skip("Invalid PASID : ") {
            guard let pasid = s.hexOptionalPrefix(), pasid <= UInt64(UInt32.max), s.skip(", device : "),
                let devid = s.hexOptionalPrefix(), devid <= 0xffff
            else { return false }
            f.pasid = UInt32(pasid)
            f.sourceID = UInt32(devid)
            f.device = PCIAddress(requesterID: UInt16(devid))
            f.reasonText = "Page request for an invalid PASID"
            out.append(.fault(f))
            return true
        }
        if s.skip("PPR logged [") {
            let ignoredGN0 = s.looksAt("Request ignored due to GN=0")
            guard s.skip(past: "(") else { return false }
            f.reasonText = ignoredGN0 ? "PPR request ignored (GN=0)" : "Invalid PPR request format"
            guard s.skip("device="), let d = PCIAddress.scan(&s) else { return false }
            f.device = d
            s.skipSpaces()
            if let p = s.hexField("pasid="), !ignoredGN0 { f.pasid = UInt32(truncatingIfNeeded: p) }
            s.skipSpaces()
            f.address = s.hexField("address=")
            f.detail = s.rest
            out.append(.fault(f))
            return true
        }
        return false
    }
}
