import IOMMUCore

/// Runs one fixture file (grammar: Fixtures/README.md) through the same gate and classifier the
/// daemon uses, and returns every mismatch as a readable line.
struct FixtureRunner {
    struct Expectation {
        var line: Int
        var kind: String
        var fields: [String: String]
        var text: String
    }

    struct Record {
        var line: Int
        var raw: String
        var seq: UInt64
        var expectations: [Expectation] = []
    }

    enum Step {
        case record(Int)
        case flush
        /// End of replay input (`Classifier.finish`): groups still missing records are counted.
        case end
    }

    var records: [Record] = []
    var steps: [Step] = []
    var problems: [String] = []
    let name: String

    init(name: String, text: String) {
        self.name = name
        var current: Int?
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let n = i + 1
            if line.hasPrefix("#") || line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            if line.hasPrefix("=> ") {
                guard let c = current else {
                    problems.append("\(name):\(n): expectation before any record")
                    continue
                }
                records[c].expectations.append(Self.parseExpectation(String(line.dropFirst(3)), line: n))
            } else if line == "@flush" {
                steps.append(.flush)
                current = nil
            } else if line == "@end" {
                steps.append(.end)
                current = nil
            } else if line.hasPrefix(" ") {
                guard let c = current else {
                    problems.append("\(name):\(n): dictionary line before any record")
                    continue
                }
                records[c].raw += "\n" + line
            } else {
                guard let r = KmsgRecordParser.parse(String(line)), let seq = r.seq else {
                    problems.append("\(name):\(n): not a kmsg record: \(line)")
                    continue
                }
                if records.contains(where: { $0.seq == seq }) {
                    problems.append("\(name):\(n): seq \(seq) appears twice in the file")
                }
                records.append(Record(line: n, raw: String(line), seq: seq))
                current = records.count - 1
                steps.append(.record(records.count - 1))
            }
        }
        for r in records where r.expectations.isEmpty {
            problems.append("\(name):\(r.line): record without an expectation (write `=> none`)")
        }
    }

    static func parseExpectation(_ text: String, line: Int) -> Expectation {
        var tokens: [String] = []
        var cur = ""
        var inQuote = false
        for c in text {
            if c == "\"" {
                inQuote.toggle()
                continue
            }
            if c == " " && !inQuote {
                if !cur.isEmpty { tokens.append(cur) }
                cur = ""
            } else {
                cur.append(c)
            }
        }
        if !cur.isEmpty { tokens.append(cur) }
        var fields: [String: String] = [:]
        for t in tokens.dropFirst() {
            if let eq = t.firstIndex(of: "=") {
                fields[String(t[..<eq])] = String(t[t.index(after: eq)...])
            }
        }
        return Expectation(line: line, kind: tokens.first ?? "", fields: fields, text: text)
    }

    /// The outputs, through the daemon's own pipeline (framing, sequence numbers, facility and
    /// prefilter gate, classifier, attribution with no topology): a record at a time, `@flush`
    /// where the daemon's reader would have gone idle.
    func run(options: Classifier.Options = Classifier.Options(), catalog: FamilyCatalog = .standard)
        -> [ClassifierOutput]
    {
        var pipeline = KmsgPipeline(options: options, catalog: catalog)
        var out: [ClassifierOutput] = []
        for step in steps {
            switch step {
            case .flush:
                pipeline.idle()
            case .end:
                pipeline.idle()
                pipeline.endOfInput()
            case .record(let i):
                (records[i].raw + "\n").withBytes { pipeline.read(record: $0) }
            }
            out += pipeline.commit().outputs
        }
        pipeline.idle()
        out += pipeline.commit().outputs
        return out
    }

    /// Every difference between the file's expectations and what the classifier produced.
    func check(options: Classifier.Options = Classifier.Options(), catalog: FamilyCatalog = .standard) -> [String] {
        var problems = self.problems
        // The Intel status line's handler-run marker feeds the estimator only; the estimator's
        // traces (Fixtures/estimate/) test it, the fixtures' expectations leave it out.
        let outputs = run(options: options, catalog: catalog).filter {
            if case .marker(.faultStatus, _, _) = $0 { return false }
            return true
        }
        var bySeq: [UInt64: [ClassifierOutput]] = [:]
        for o in outputs {
            guard let s = o.seq else {
                problems.append("\(name): an output without a seq: \(Self.describe(o))")
                continue
            }
            bySeq[s, default: []].append(o)
        }
        let known = Set(records.map(\.seq))
        for (s, os) in bySeq where !known.contains(s) {
            problems.append("\(name): outputs for seq \(s), which is not a record: \(os.map(Self.describe))")
        }
        for r in records {
            let got = bySeq[r.seq] ?? []
            let wanted = r.expectations.filter { $0.kind != "none" }
            if wanted.isEmpty {
                if !got.isEmpty {
                    problems.append(
                        "\(name):\(r.line): expected nothing, got \(got.map(Self.describe).joined(separator: "; "))")
                }
                continue
            }
            if got.count != wanted.count {
                problems.append(
                    "\(name):\(r.line): expected \(wanted.count) output(s) [\(wanted.map(\.text).joined(separator: "; "))], got \(got.count) [\(got.map(Self.describe).joined(separator: "; "))]"
                )
                continue
            }
            for (e, o) in zip(wanted, got) {
                let actual = Self.fields(of: o)
                guard actual["_kind"] == e.kind else {
                    problems.append("\(name):\(e.line): expected \(e.kind), got \(Self.describe(o))")
                    continue
                }
                for (k, v) in e.fields.sorted(by: { $0.key < $1.key }) {
                    let a = actual[k] ?? "null"
                    if a != v {
                        problems.append("\(name):\(e.line): \(k): expected \(v), got \(a)   [\(Self.describe(o))]")
                    }
                }
            }
        }
        return problems
    }

    /// An output as the fixture grammar's key=value fields.
    static func fields(of o: ClassifierOutput) -> [String: String] {
        func h(_ v: UInt64?) -> String { v.map { hex0x($0) } ?? "null" }
        switch o {
        case .fault(let f):
            return [
                "_kind": "fault", "vendor": f.vendor.rawValue, "kind": f.kind.rawValue,
                "recoverable": f.recoverable ? "true" : "false", "device": f.deviceLabel ?? "null",
                "unit": f.unit ?? "null", "sid": h(f.sourceID.map(UInt64.init)), "reason": f.reasonString ?? "null",
                "reason_text": f.reasonText ?? "null", "owner": f.owner?.rawValue ?? "null", "address": h(f.address),
                "pasid": h(f.pasid.map(UInt64.init)), "access": f.access?.rawValue ?? "null",
                "client": f.client ?? "null", "partial": f.partial ? "true" : "false",
            ]
        case .marker(let m, _, _):
            switch m {
            case .suppressed(let source, let vendor, let count):
                return [
                    "_kind": "suppressed", "source": source, "vendor": vendor?.rawValue ?? "null",
                    "count": String(count),
                ]
            case .overflow(let vendor, let unit, let log):
                return ["_kind": "overflow", "vendor": vendor.rawValue, "unit": unit ?? "null", "log": log]
            case .unitError(let vendor, let unit, let what):
                return ["_kind": "unit-error", "vendor": vendor.rawValue, "unit": unit ?? "null", "what": what]
            case .faultStatus(let vendor, let status):
                return ["_kind": "fault-status", "vendor": vendor.rawValue, "status": hex0x(UInt64(status))]
            }
        case .inventory(let item, _):
            var d: [String: String] = ["_kind": "inventory"]
            switch item {
            case .iommuEnabled(let v):
                d["item"] = "iommu-enabled"
                d["vendor"] = v.rawValue
            case .iommuDisabled(let v, let reason):
                d["item"] = "iommu-disabled"
                d["vendor"] = v?.rawValue ?? "null"
                d["reason"] = reason
            case .passthrough(let source):
                d["item"] = "passthrough"
                d["source"] = source
            case .unit(let v, let name, let address, let version, let cap, let ecap):
                d["item"] = "unit"
                d["vendor"] = v.rawValue
                d["unit"] = name ?? "null"
                d["address"] = h(address)
                d["version"] = version ?? "null"
                d["cap"] = h(cap)
                d["ecap"] = h(ecap)
            case .amdFound(let device, let cap):
                d["item"] = "amd-found"
                d["vendor"] = "amd"
                d["device"] = device?.description ?? "null"
                d["cap"] = h(cap)
            case .rmrr(let start, let end):
                d["item"] = "rmrr"
                d["start"] = hex0x(start)
                d["end"] = hex0x(end)
            case .interruptRemapping(let mode):
                d["item"] = "interrupt-remapping"
                d["mode"] = mode
            case .commandLine(let c):
                d["item"] = "cmdline"
                d["cmdline"] = c
            }
            return d
        case .unparsed(let vendor, _, _):
            return ["_kind": "unparsed", "vendor": vendor?.rawValue ?? "null"]
        }
    }

    static func describe(_ o: ClassifierOutput) -> String {
        let f = fields(of: o)
        return (f["_kind"] ?? "?") + " "
            + f.filter { $0.key != "_kind" && $0.value != "null" }.sorted { $0.key < $1.key }.map {
                "\($0.key)=\($0.value)"
            }
            .joined(separator: " ")
    }
}
