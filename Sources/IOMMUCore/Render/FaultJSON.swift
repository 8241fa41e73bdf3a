extension Fault {
    /// One `iommud replay --json` line (ARCHITECTURE.md contract): the contract's keys first,
    /// then extras (`sid`, `device_assumed`, `driver`, `master`/`client` when known, `partial` when
    /// true, `detail`, `ts_usec`; `expected`, the rule's name, only for a fault an `[[expected]]`
    /// rule matched).
    public func jsonLine() -> String {
        var w = JSONWriter()
        w.beginObject()
        writeFields(into: &w)
        w.endObject()
        return w.output
    }

    /// The same line and a newline, written after what `w` holds (replay's output buffer).
    public func appendJSONLine(to w: inout JSONWriter) {
        w.beginObject()
        writeFields(into: &w)
        w.endObject()
        w.endLine()
    }

    public func writeFields(into w: inout JSONWriter) {
        w.string("vendor", vendor.rawValue)
        w.string("unit", unit)
        w.string("device", deviceLabel)
        w.string("kind", kind.rawValue)
        w.string("reason", reasonString)
        w.string("reason_text", reasonText)
        w.hex("address", address)
        w.hex("pasid", pasid.map { UInt64($0) })
        w.string("access", access?.rawValue)
        w.bool("recoverable", recoverable)
        w.string("owner", owner?.rawValue)
        w.number("seq", seq)
        w.string("text", text)
        w.hex("sid", sourceID.map { UInt64($0) })
        w.bool("device_assumed", deviceAssumed)
        w.string("driver", driver)
        if master != nil { w.string("master", master) }
        if client != nil { w.string("client", client) }
        if partial { w.bool("partial", true) }
        w.string("detail", detail)
        w.number("ts_usec", timestampUsec)
        if expectedRule != nil { w.string("expected", expectedRule) }
    }
}
