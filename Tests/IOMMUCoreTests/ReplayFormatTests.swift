import IOMMUCore
import Testing

/// `iommud replay` over every input format a user may paste: the hand-written samples of
/// Fixtures/replay/ (README there), and every classifier fixture rendered the way dmesg and
/// journalctl would print it, which must give the same faults as the raw kmsg records.
@Suite("Replay input formats")
struct ReplayFormatTests {
    static let samples: [String] = listFiles(Fixtures.root + "/replay").filter { $0.hasSuffix(".log") }.sorted()

    // MARK: - Fixtures/replay samples

    @Test("replay samples", arguments: samples)
    func sample(_ name: String) throws {
        let input = Fixtures.read("replay/" + name)
        let expect = Fixtures.read("replay/" + name.dropLast(4) + ".expect")
        try #require(!expect.isEmpty, "no .expect for \(name)")
        var wantFaults: [FixtureRunner.Expectation] = []
        var want: [String: String] = [:]
        for (i, line) in expect.split(separator: "\n").enumerated() {
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("=> ") {
                wantFaults.append(FixtureRunner.parseExpectation(String(line.dropFirst(3)), line: i + 1))
            } else if let eq = line.firstIndex(of: "=") {
                want[String(line[..<eq])] = String(line[line.index(after: eq)...])
            }
        }
        #expect(ReplayFormat.detect(input).rawValue == want["format"], "detected format of \(name)")
        // Whole, and cut at a few places (chunk boundaries must not matter).
        let bytes = Array(input.utf8)
        for cut in [bytes.count, 1, bytes.count / 3, bytes.count / 2 + 7] where cut <= bytes.count {
            let (e, faults) = PipelineReplay.run([bytes[..<cut], bytes[cut...], []])
            let label = "\(name) cut at \(cut)"
            #expect(e.resolvedFormat?.rawValue == want["format"], "\(label): resolved format")
            if let r = want["records"] { #expect(String(e.ledger.records) == r, "\(label): records") }
            #expect(faults.count == wantFaults.count, "\(label): \(faults.map { FixtureRunner.describe(.fault($0)) })")
            for (f, w) in zip(faults, wantFaults) {
                var got = FixtureRunner.fields(of: .fault(f))
                if f.deviceAssumed { got["device"] = "null" }  // the replay topology's StreamID guess
                for (k, v) in w.fields.sorted(by: { $0.key < $1.key }) {
                    #expect(got[k] ?? "null" == v, "\(label) line \(w.line): \(k)")
                }
            }
            let l = e.ledger
            if let s = want["suppressed"], let colon = s.firstIndex(of: ":") {
                #expect(l.suppressed[String(s[..<colon])].map(String.init) == String(s[s.index(after: colon)...]))
            }
            if let o = want["overflows"] {
                #expect(String(l.overflows.values.reduce(0, +)) == o, "\(label): overflows")
            }
            if let u = want["unparsed"] { #expect(String(l.unparsed.values.reduce(0, +)) == u, "\(label): unparsed") }
            if let i = want["inventory"] { #expect(String(l.inventory.count) == i, "\(label): inventory") }
        }
    }

    // MARK: - every classifier fixture, rendered as text

    enum Rendering: String, CaseIterable {
        case dmesg, dmesgSyslog, dmesgRaw, dmesgCtime, dmesgBare, journalShort, journalMonotonic, journalJSON, kernLog
        case consoleCaller
    }

    static let classifierFixtures = Fixtures.files(in: ["intel", "amd", "arm-smmu-v3", "arm-smmu", "common", "real"])

    @Test("a fixture reads the same as dmesg and journal text", arguments: classifierFixtures)
    func rendered(_ file: String) {
        let runner = FixtureRunner(name: file, text: Fixtures.read(file))
        // Kernel records only: text formats cannot tell a userspace record from a kernel one
        // except dmesg -r and JSON, which the userspace fixtures cover on their own.
        let records = runner.records.compactMap { r -> (raw: String, record: KmsgRecord)? in
            guard let k = KmsgRecordParser.parse(r.raw), k.isKernel else { return nil }
            return (r.raw, k)
        }
        let kmsg = records.map(\.raw).joined(separator: "\n") + "\n"
        let reference = Self.summaries(Self.replay(kmsg, .kmsg))
        for rendering in Rendering.allCases {
            let text = Self.render(records.map(\.record), rendering)
            let format = ReplayFormat.detect(text)
            let got = Self.summaries(Self.replay(text, .auto))
            #expect(got == reference, "\(file) as \(rendering.rawValue) (detected \(format.rawValue))")
        }
    }

    static func replay(_ text: String, _ format: ReplayFormat) -> [Fault] {
        PipelineReplay.run(text, format: format).1
    }

    /// What a text log can carry of a fault (not seq, not the exact text), sorted.
    static func summaries(_ faults: [Fault]) -> [String] {
        faults.map { f in
            var d = FixtureRunner.fields(of: .fault(f))
            d["reason_text"] = nil
            return d.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }.sorted()
    }

    static func stamp(_ ts: UInt64?) -> String {
        let t = ts ?? 0
        let sec = String(t / 1_000_000)
        let usec = String(t % 1_000_000)
        return String(repeating: " ", count: max(0, 5 - sec.count)) + sec + "."
            + String(repeating: "0", count: 6 - usec.count) + usec
    }

    /// util-linux dmesg: non-printable bytes as `\xNN`, tabs and newlines as they are.
    static func dmesgEscaped(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars {
            if u.value < 0x20 && u != "\n" && u != "\t" {
                let h = String(u.value, radix: 16)
                out += "\\x" + (h.count < 2 ? "0" + h : h)
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    static func render(_ records: [KmsgRecord], _ how: Rendering) -> String {
        var out = ""
        if how == .journalShort || how == .journalMonotonic { out += "-- Boot 5d1c2f0e4b7a4c0f9a1e2b3c4d5e6f70 --\n" }
        for (i, r) in records.enumerated() {
            let lines = (how == .journalJSON ? r.text : dmesgEscaped(r.text)).split(
                separator: "\n", omittingEmptySubsequences: false)
            switch how {
            case .dmesg, .dmesgRaw, .dmesgCtime:
                var prefix = how == .dmesgCtime ? "[Thu Nov 26 05:53:01 2026] " : "[" + stamp(r.timestampUsec) + "] "
                if how == .dmesgRaw { prefix = "<\(r.priority)>" + prefix }
                let indent = String(
                    repeating: " ", count: prefix.count - (how == .dmesgRaw ? "<\(r.priority)>".count : 0))
                out += prefix + lines.joined(separator: "\n" + indent) + "\n"
            case .dmesgSyslog:
                for l in lines { out += "[" + stamp(r.timestampUsec) + "] " + l + "\n" }
            case .dmesgBare:
                for l in lines { out += l + "\n" }
            case .consoleCaller:
                for l in lines { out += "[" + stamp(r.timestampUsec) + "][  T\(i)] " + l + "\n" }
            case .kernLog:
                // rsyslog: every line of a record from /proc/kmsg with its stamp, a tab as #011.
                for l in lines {
                    out +=
                        "Dec  7 09:00:00 host kernel: [" + stamp(r.timestampUsec) + "] "
                        + l.replacingTabs(with: "#011") + "\n"
                }
            case .journalShort, .journalMonotonic:
                let prefix =
                    how == .journalShort
                    ? "Nov 26 05:53:01 host kernel: " : "[" + stamp(r.timestampUsec) + "] host kernel: "
                // journalctl prints a tab as eight spaces.
                out +=
                    prefix
                    + lines.map { $0.replacingTabs(with: "        ") }
                    .joined(separator: "\n" + String(repeating: " ", count: prefix.count)) + "\n"
                if i % 7 == 3 { out += "Nov 26 05:53:01 host systemd[1]: Started something.service.\n" }
            case .journalJSON:
                var fields = [
                    ("_TRANSPORT", "\"kernel\""), ("PRIORITY", "\"\(r.level)\""), ("SYSLOG_FACILITY", "\"0\""),
                    ("_SOURCE_MONOTONIC_TIMESTAMP", "\"\(r.timestampUsec ?? 0)\""),
                ]
                if let s = r.subsystem { fields.append(("_KERNEL_SUBSYSTEM", jsonString(s))) }
                if let d = r.device { fields.append(("_KERNEL_DEVICE", jsonString(d))) }
                // journalctl prints a message that is not printable text as an array of bytes.
                let binary = r.text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }
                fields.append(
                    (
                        "MESSAGE",
                        binary ? "[" + r.text.utf8.map(String.init).joined(separator: ",") + "]" : jsonString(r.text)
                    ))
                out += "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}\n"
            }
        }
        return out
    }

    static func jsonString(_ s: String) -> String {
        var out = ""
        JSONWriter.appendEscaped(s, to: &out)
        return out
    }

    // MARK: - detection and line decoding

    @Test(
        "format detection",
        arguments: [
            ("<3>[    5.413744] DMAR: DRHD: handling fault status reg 2", ReplayFormat.dmesg),
            ("kern  :err   : [    5.413744] DMAR: DRHD: handling fault status reg 2", .dmesg),
            ("2026-11-26T05:53:01,413744+00:00 DMAR: DRHD: handling fault status reg 2", .dmesg),
            ("DMAR: DRHD: handling fault status reg 2", .dmesg),
            ("[    5.413744] host kernel: DMAR: x", .journal),
            ("Thu 2026-11-26 05:53:01 UTC host kernel: DMAR: x", .journal),
            ("Nov 26 05:53:01.123456 host kernel: DMAR: x", .journal),
            ("-- Boot 1 --\nNov 26 05:53:01 host systemd[1]: x\nNov 26 05:53:01 host kernel: DMAR: x", .journal),
            ("2026-11-26T05:53:01+0000 host systemd[1]: x\n2026-11-26T05:53:02+0000 host kernel: y", .journal),
            ("6,1,2,-,caller=T1;DMAR: x\n SUBSYSTEM=pci", .kmsg),
            ("[    0.5] x86/fpu: Supporting XSAVE feature 0x001: 'x87 floating point registers' kernel: no", .dmesg),
            ("[    2.5] Loading compiled-in X.509 certificates for the kernel: ok", .dmesg),
        ])
    func detect(_ sample: String, _ expected: ReplayFormat) {
        #expect(ReplayFormat.detect(sample) == expected)
    }

    @Test("dmesg line shapes")
    func dmesgLines() throws {
        let raw = try #require(TextLog.records("<14>[   12.000001] hello").first)
        #expect(raw.priority == 14 && !raw.isKernel && raw.timestampUsec == 12_000_001)
        let x = try #require(TextLog.records("kern  :err   : [    5.413744] DMAR: x").first)
        #expect(x.priority == 3 && x.text == "DMAR: x")
        let iso = try #require(TextLog.records("2026-11-26T05:53:01,413744+00:00 DMAR: x").first)
        #expect(iso.text == "DMAR: x")
        // An indented unstamped line continues the stamped record before it.
        let two = TextLog.records(
            "[ 1.000000] DMAR: a \n" + String(repeating: " ", count: 12) + "DMAR:[fault reason 05] x")
        #expect(two.map(\.text) == ["DMAR: a \nDMAR:[fault reason 05] x"])
        #expect(TextLog.records("Nov 26 05:53:05 host myapp[1]: the kernel: DMAR: x").isEmpty)
    }

    @Test("each shape's escapes are undone, and only those")
    func escapes() {
        // dmesg: what is not printable is \xNN; a literal `\x41` stays.
        #expect(
            TextLog.records("[ 1.0] iommu ivhd0: \\x013UNKNOWN \\x41").map(\.text) == [
                "iommu ivhd0: \u{1}3UNKNOWN \\x41"
            ])
        // rsyslog: control characters as #ooo.
        #expect(
            TextLog.records("Dec  7 09:00:07 h kernel: [ 7.0] arm-smmu-v3 a.auto: #0110x0000010000000010").map(\.text)
                == ["arm-smmu-v3 a.auto: \t0x0000010000000010"])
        // journalctl -o short*: a tab is printed as eight spaces.
        #expect(
            TextLog.records("Dec 07 09:00:07 h kernel: arm-smmu 1.iommu:         GFSR 0x2").map(\.text)
                == ["arm-smmu 1.iommu: \tGFSR 0x2"])
        // journalctl -o cat, json: as logged.
        #expect(
            TextLog.records("{\"_TRANSPORT\":\"kernel\",\"MESSAGE\":\"a \\\\x41  #011\"}").map(\.text) == [
                "a \\x41  #011"
            ])
    }

    @Test("a kmsg stream that turns into text reads on in text, to a last line without newline")
    func kmsgThenText() {
        let kmsg =
            "3,1,5443162,-;DMAR: [DMA Read NO_PASID] Request device [00:01.0] fault addr 0x1000 [fault reason 0x06] PTE Read access is not set\n SUBSYSTEM=pci\n"
        let text =
            "[    6.000000] DMAR: [DMA Write NO_PASID] Request device [00:02.0] fault addr 0x2000 [fault reason 0x05] PTE Write access is not set"
        let bytes = Array((kmsg + text).utf8)
        for cut in [bytes.count, 10, kmsg.utf8.count, kmsg.utf8.count + 5] {
            let (p, faults) = PipelineReplay.run([bytes[..<cut], bytes[cut...], []])
            #expect(faults.map(\.address) == [0x1000, 0x2000], "cut at \(cut)")
            #expect(p.ledger.records == 2 && p.resolvedFormat == .kmsg, "cut at \(cut)")
        }
    }

    /// The issue's case: a SMMUv3 event pasted without stamps (`dmesg -t`, `journalctl -o cat`, a
    /// quote) after stamped lines is read line by line, not as the continuation of what came before.
    @Test("a multi-record event without prefixes after stamped lines")
    func unprefixedEvent() {
        let event = [
            "arm-smmu-v3 arm-smmu-v3.0.auto: event 0x02 received:",
            "arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000080000000002",
            "arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000000000000",
            "arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000000000000",
            "arm-smmu-v3 arm-smmu-v3.0.auto: \t0x0000000000000000",
        ]
        for before in ["", "[    1.000000] usb 1-1: new device\n", "Dec  7 09:00:00 h kernel: [ 1.0] x\n"] {
            let (_, faults) = PipelineReplay.run(before + event.joined(separator: "\n") + "\n")
            #expect(faults.map(\.kind) == ["c-bad-streamid"], "after \(before.debugDescription)")
        }
    }
}

extension Substring {
    func replacingTabs(with s: String) -> String {
        split(separator: "\t", omittingEmptySubsequences: false).joined(separator: s)
    }
}
