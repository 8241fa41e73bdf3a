/// The "Expected faults" part of `status` (text and JSON): per `[[expected]]` rule, its matches
/// since boot, its last match and the devices it matched — and the rules that never matched
/// since boot, listed too (a stale allowlist is how a real fault hides).
extension StatusReport {
    /// The section, when the configuration has rules or the ledger has counts of earlier ones.
    func expectedSection(into out: inout ByteSink) {
        let e = ledger.expected
        guard !e.isEmpty else { return }
        out.append(
            "\nExpected faults ([[expected]] rules: counted apart from the faults above, journaled as info, no action)\n"
        )
        var t = TextTable(["RULE", "MATCHES", "LAST MATCH", "DEVICES"])
        for x in e.tallies {
            let name = x.configured ? x.rule : x.rule + " (no longer configured)"
            t.add([name, String(x.matches), lastMatchText(x), devicesText(x)])
        }
        t.render(into: &out)
    }

    /// Below the units table, when rules matched faults: what FAULTS leaves out and the bounds count.
    func expectedUnitsNote(into out: inout ByteSink) {
        let n = units.reduce(UInt64(0)) { $0.saturatingAdd($1.expected) }
        guard n > 0 else { return }
        out.append(
            "  FAULTS leaves out the \(n) fault\(n == 1 ? "" : "s") [[expected]] rules matched (below); FAULTS THAT HAPPENED counts \(n == 1 ? "it" : "them").\n"
        )
    }

    func lastMatchText(_ x: ExpectedLedger.Tally) -> String {
        guard let f = x.lastMatch else { return x.matches == 0 ? "never matched since boot" : "-" }
        var s = x.lastMatchRealtimeUsec.map { CivilTime.iso8601(unixSeconds: $0 / 1_000_000) + " " } ?? ""
        s += (f.deviceLabel ?? unknownLabel) + " " + f.kind.rawValue
        if let a = f.address { s += " " + hex0x(a) }
        return s
    }

    /// `0000:00:14.0 (3), 0000:00:14.1 (1)`, at most 3 devices, then how many more.
    func devicesText(_ x: ExpectedLedger.Tally) -> String {
        let devices = x.byDevice
        guard !devices.isEmpty else { return "-" }
        var parts = devices.prefix(3).map { "\($0.device) (\($0.count))" }
        if devices.count > 3 { parts.append("+\(devices.count - 3) more") }
        return parts.joined(separator: ", ")
    }

    /// `"expected": [{rule, configured, matches, devices, last_match_unix_usec, last_match}]`,
    /// the rules in the order of the configuration, then those no longer configured.
    func writeExpected(into w: inout JSONWriter) {
        w.beginArray("expected")
        for x in ledger.expected.tallies {
            w.beginObject()
            w.string("rule", x.rule)
            w.bool("configured", x.configured)
            w.number("matches", x.matches)
            w.beginObject("devices")
            for d in x.byDevice { w.number(JSONKey(d.device), d.count) }
            w.endObject()
            w.number("last_match_unix_usec", x.lastMatchRealtimeUsec)
            if let f = x.lastMatch {
                w.beginObject("last_match")
                f.writeFields(into: &w)
                w.endObject()
            }
            w.endObject()
        }
        w.endArray()
    }
}
