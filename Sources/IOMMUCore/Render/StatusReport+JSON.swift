/// `iommud status --json` and the summary of `replay --json` (stderr): the report as one JSON
/// object (ARCHITECTURE.md "Commands").
extension StatusReport {
    public func json() -> String {
        var w = JSONWriter()
        w.beginObject()
        if let d = daemon {
            w.beginObject("daemon")
            w.string("version", d.version)
            w.number("pid", Int64(d.pid))
            w.number("started_unix_usec", d.startedRealtimeUsec)
            w.number("uptime_seconds", (d.nowRealtimeUsec - d.startedRealtimeUsec) / 1_000_000)
            w.string("boot_id", d.bootID)
            w.string("kmsg", d.kmsgPath)
            w.number("last_checkpoint_unix_usec", d.lastCheckpointRealtimeUsec)
            w.bool("ready", d.ready)
            w.endObject()
        }
        w.beginObject("platform")
        w.string("mode", platform.mode)
        w.string("why", platform.why)
        w.bool("iommu_enabled", platform.enabled)
        w.beginArray("vendors")
        for v in platform.vendors { w.string(nil, v.rawValue) }
        w.endArray()
        w.number("units", platform.units)
        w.number("groups", platform.groups)
        w.number("devices", platform.devices)
        w.string("interrupt_remapping", platform.interruptRemapping)
        w.beginArray("rmrr")
        for r in platform.rmrr {
            w.beginObject()
            w.string("start", hex0x(r.start))
            w.string("end", hex0x(r.end))
            w.endObject()
        }
        w.endArray()
        if platform.mode == "off" { w.string("advice", PlatformSummary.enableAdvice) }
        w.endObject()
        w.beginArray("units")
        for u in units {
            w.beginObject()
            w.string("name", u.name)
            w.string("vendor", u.vendor?.rawValue)
            w.string("version", u.unit?.version)
            w.string("cap", u.unit?.cap)
            w.string("ecap", u.unit?.ecap)
            w.beginObject("faults")
            w.number("logged", u.logged)
            w.number("recoverable", u.recoverable)
            w.number("non_recoverable", u.nonRecoverable)
            w.number("expected", u.expected)
            w.endObject()
            w.number("interrupts", u.interrupts)
            w.number("suppressed", u.suppressed)
            w.bool("overflow_seen", u.overflowSeen)
            w.beginObject("bounds")
            for (k, b): (JSONKey, BoundedFigure) in [("lower", u.lower), ("upper", u.upper)] {
                w.beginObject(k)
                w.number("value", b.value)
                w.string("kind", b.kind)
                if let why = b.why { w.string("why", why) }
                w.endObject()
            }
            w.endObject()
            if let e = u.estimate {
                w.beginObject("estimate")
                w.number("value", e.value)
                w.number("lower", e.lower)
                w.number("upper", e.upper)
                w.bool("exact", e.exact)
                w.string("condition", e.condition)
                w.endObject()
            }
            w.endObject()
        }
        w.endArray()
        w.beginArray("devices")
        for d in sortedDevices {
            let topo = topologyDevice(d.device)
            w.beginObject()
            w.string("device", d.device)
            w.string("unit", d.unit)
            w.string("group", topo?.group.map(String.init))
            w.string("name", topo?.name)
            w.string("driver", topo?.driver)
            w.bool("gone", topo?.gone ?? false)
            w.bool("storm", storms.contains { $0.device == d.device })
            w.number("faults", d.total)
            w.number("recoverable", d.recoverable)
            w.number("non_recoverable", d.nonRecoverable)
            w.beginObject("by_kind")
            for (k, n) in d.byKind.sorted(by: { $0.key < $1.key }) { w.number(JSONKey(k.rawValue), n) }
            w.endObject()
            w.string("top_reason", d.topReason?.reason)
            w.number("last_fault_unix_usec", d.lastFaultRealtimeUsec)
            if let f = d.lastFault {
                w.beginObject("last_fault")
                f.writeFields(into: &w)
                w.endObject()
            }
            w.endObject()
        }
        w.endArray()
        // `[ledger] max_devices`: the faults of devices past it, counted under device `overflow`.
        w.beginObject("device_limit")
        w.number("max_devices", UInt64(ledger.deviceLimit))
        w.number("overflow_faults", ledger.overflowFaults)
        w.endObject()
        writeExpected(into: &w)
        w.beginArray("storms")
        for st in storms {
            w.beginObject()
            w.string("device", st.device)
            w.string("unit", st.unit)
            w.number("began_ts_usec", st.beganUsec)
            w.number("last_fault_ts_usec", st.lastFaultUsec)
            w.number("faults", st.total.faults)
            w.number("summaries", st.summaries)
            w.endObject()
        }
        w.endArray()
        w.beginObject("kmsg")
        w.number("records", ledger.records)
        w.number("lost_records", ledger.lostRecords)
        w.number("last_seq", ledger.lastSeq)
        w.number("overruns", ledger.overruns)
        w.beginArray("losses")
        for l in ledger.losses {
            w.beginObject()
            w.number("after_seq", l.afterSeq)
            w.number("before_seq", l.beforeSeq)
            w.number("count", l.count)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        if let t = lifetime {
            w.beginObject("lifetime")
            w.number("boots", t.previousBoots)
            w.number("faults", t.faults)
            w.number("recoverable", t.recoverable)
            w.number("non_recoverable", t.nonRecoverable)
            w.number("lost_records", t.lostRecords)
            w.number("suppressed", t.suppressed)
            w.number("since_unix_usec", t.sinceUsec)
            w.endObject()
        }
        w.beginObject("suppressed")
        for (k, v) in ledger.suppressed.sorted(by: { $0.key < $1.key }) { w.number(JSONKey(k), v) }
        w.endObject()
        w.beginArray("overflows")
        for (k, v) in ledger.overflows.sorted(by: { $0.key < $1.key }) {
            w.beginObject()
            w.string("vendor", k.vendor.rawValue)
            w.string("unit", k.unit)
            w.string("log", k.log)
            w.number("count", v)
            w.endObject()
        }
        w.endArray()
        w.beginArray("unit_errors")
        for (k, v) in ledger.unitErrors.sorted(by: { $0.key < $1.key }) {
            w.beginObject()
            w.string("vendor", k.vendor.rawValue)
            w.string("unit", k.unit)
            w.string("what", k.what)
            w.number("count", v)
            w.endObject()
        }
        w.endArray()
        w.beginObject("unparsed")
        w.number("total", ledger.unparsed.values.saturatingSum())
        w.beginObject("by_vendor")
        for (k, v) in ledger.unparsed.sorted(by: { $0.key < $1.key }) { w.number(JSONKey(k), v) }
        w.endObject()
        w.beginArray("recent")
        for u in ledger.recentUnparsed {
            w.beginObject()
            w.string("vendor", u.vendor?.rawValue)
            w.number("seq", u.seq)
            w.string("text", u.text)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        w.endObject()
        return w.output
    }

}
