import ConfigSyntax
import IOMMUCore

/// `[[expected]]` in iommud.toml: the expected-fault rules, one table each, in the order they
/// are tried (ARCHITECTURE.md "Configuration"; the model and matcher are IOMMUCore's
/// `ExpectedRule`). Every problem names the file, the line and the key; a rule without a name,
/// without a criterion, or with a name used twice is refused, and so are more than
/// `ExpectedRules.maxRules` rules or `ExpectedRules.maxValues` values in one list.
///
/// ```toml
/// [[expected]]
/// name = "bmc-usb-rmrr"            # required: A-Z a-z 0-9 _ . -, at most 64 bytes
/// pci_id = "8086:a36d"             # each criterion: one value or a list of them
/// kind = ["dma-read", "dma-write"]
/// address = ["0x8d000000", "0x8d7fffff"]
/// boot_window = "2m"               # or ["10s", "2m"]
/// ```
enum ExpectedRulesConfig {
    static let section = "expected"

    /// The keys of one rule. Lists: any of their values meets the criterion.
    static let keys: Set<String> = [
        "name", "device", "pci_id", "driver", "vendor", "kind", "reason", "address", "boot_window",
    ]

    /// The criteria, as `check-config` and the messages name them.
    static let criteria = "device, pci_id, driver, vendor, kind, reason, address, boot_window"

    /// Reads the `expected` value of the document: the rules, or what is wrong with them.
    static func load(_ value: TOMLSubset.Value, line: Int?, path: String) -> (ExpectedRules, [ConfigProblem]) {
        var problems: [ConfigProblem] = []
        func problem(_ line: Int?, _ key: String, _ reason: ConfigProblem.Reason) {
            problems.append(ConfigProblem(file: path, line: line, key: key, reason: reason))
        }
        guard let tables = value.array, tables.allSatisfy({ $0.table != nil }) else {
            problem(line, section, .wrongType(expected: "an array of tables: one [[expected]] header per rule"))
            return (ExpectedRules(), problems)
        }
        var rules: [ExpectedRule] = []
        var names: [String: Int?] = [:]
        for case .table(let t) in tables {
            let at = t.headerLine ?? line
            guard rules.count < ExpectedRules.maxRules else {
                problem(
                    at, section,
                    .badValue("more than \(ExpectedRules.maxRules) [[expected]] rules (each is tried on every fault)"))
                break
            }
            let before = problems.count
            let rule = self.rule(t, at: at, problem: problem)
            guard problems.count == before, let rule else { continue }
            if let first = names[rule.name] {
                problem(
                    t.line(of: "name"), "\(section).name",
                    .badValue(
                        "the rule name \"\(rule.name)\" is used twice (first on line \(first.map(String.init) ?? "?"))")
                )
                continue
            }
            names[rule.name] = t.line(of: "name")
            rules.append(rule)
        }
        return (ExpectedRules(rules), problems)
    }

    /// One `[[expected]]` table.
    static func rule(
        _ t: TOMLSubset.Table, at: Int?, problem: (Int?, String, ConfigProblem.Reason) -> Void
    ) -> ExpectedRule? {
        for key in t.keys where !keys.contains(key) {
            problem(t.line(of: key), "\(section).\(key)", .unknownKey)
        }
        guard let nameValue = t["name"] else {
            problem(at, "\(section).name", .badValue("every [[expected]] rule needs a name (name = \"…\")"))
            return nil
        }
        guard let name = nameValue.string else {
            problem(t.line(of: "name"), "\(section).name", .wrongType(expected: "a string"))
            return nil
        }
        guard ExpectedRules.isValidName(name) else {
            problem(
                t.line(of: "name"), "\(section).name",
                .badValue(
                    "\(ConfigLoader.shown(name)) is not a rule name: 1 to \(ExpectedRules.maxNameBytes) bytes of A-Z a-z 0-9 _ . -"
                ))
            return nil
        }
        var r = ExpectedRule(name: name)
        /// A criterion's values: one string or a list of 1 to `maxValues` strings, each read by `read`.
        func list<T>(_ key: String, _ read: (String) throws(ExpectedRuleSyntax.Problem) -> T) -> [T] {
            guard let v = t[key] else { return [] }
            let where_ = (t.line(of: key), "\(section).\(key)")
            let strings: [String]
            if let s = v.string {
                strings = [s]
            } else if let a = v.array, a.allSatisfy({ $0.string != nil }) {
                strings = a.compactMap(\.string)
            } else {
                problem(where_.0, where_.1, .wrongType(expected: "a string or a list of strings"))
                return []
            }
            guard (1...ExpectedRules.maxValues).contains(strings.count) else {
                problem(
                    where_.0, where_.1,
                    .badValue(
                        strings.isEmpty
                            ? "an empty list matches nothing: leave the key out"
                            : "at most \(ExpectedRules.maxValues) values, not \(strings.count)"))
                return []
            }
            var out: [T] = []
            for s in strings {
                do throws(ExpectedRuleSyntax.Problem) {
                    out.append(try read(s))
                } catch {
                    problem(where_.0, where_.1, .badValue(error.message))
                    return []
                }
            }
            return out
        }
        r.devices = list("device", ExpectedRuleSyntax.device)
        r.pciIDs = list("pci_id", ExpectedRuleSyntax.pciID)
        r.drivers = list("driver", ExpectedRuleSyntax.driver)
        r.vendors = list("vendor") { s throws(ExpectedRuleSyntax.Problem) in try ExpectedRuleSyntax.vendor(s) }
        r.kinds = list("kind") { s throws(ExpectedRuleSyntax.Problem) in try ExpectedRuleSyntax.kind(s) }
        r.reasons = list("reason", ExpectedRuleSyntax.reason)
        r.address = range(t, "address", read: ExpectedRuleSyntax.address, single: { $0...$0 }, problem: problem)
        r.bootWindowUsec = range(t, "boot_window", read: bootOffset, single: { 0...$0 }, problem: problem)
        if !r.hasCriteria && t.keys.allSatisfy({ $0 == "name" }) {
            problem(
                at, section,
                .badValue(
                    "the rule \"\(name)\" has no criterion and would match every fault: give at least one of \(criteria)"
                ))
        }
        return r
    }

    /// `address` and `boot_window`: one value (`single` makes the range) or two, low first.
    static func range<T: Comparable>(
        _ t: TOMLSubset.Table, _ key: String, read: (String) throws(ExpectedRuleSyntax.Problem) -> T,
        single: (T) -> ClosedRange<T>, problem: (Int?, String, ConfigProblem.Reason) -> Void
    ) -> ClosedRange<T>? {
        guard let v = t[key] else { return nil }
        let (line, name) = (t.line(of: key), "\(section).\(key)")
        do throws(ExpectedRuleSyntax.Problem) {
            if let s = v.string { return single(try read(s)) }
            if let a = v.array, a.count == 2, let lo = a[0].string, let hi = a[1].string {
                return try ExpectedRuleSyntax.range(try read(lo), try read(hi), shown: "[\"\(lo)\", \"\(hi)\"]")
            }
            problem(line, name, .wrongType(expected: "a string, or a list of two strings (its low and high end)"))
        } catch {
            problem(line, name, .badValue(error.message))
        }
        return nil
    }

    /// A `boot_window` end: a duration since boot (`"2m"`), from 0 to 365 days, in µs.
    static func bootOffset(_ s: String) throws(ExpectedRuleSyntax.Problem) -> UInt64 {
        let range = ConfigRanges.expectedBootWindow
        let rangeText =
            "from \(DurationSyntax.text(microseconds: range.lowerBound)) to \(DurationSyntax.text(microseconds: range.upperBound))"
        let outOfRange = ExpectedRuleSyntax.Problem("\(ConfigLoader.shown(s)): a time after boot must be \(rangeText)")
        switch DurationSyntax.microseconds(s) {
        case .success(let us):
            guard range.contains(us) else { throw outOfRange }
            return UInt64(us)
        case .failure(let p) where p.tooLarge:
            throw outOfRange
        case .failure(let p):
            throw ExpectedRuleSyntax.Problem("\(ConfigLoader.shown(s)) is not a duration: \(p) (write e.g. \"2m\")")
        }
    }

    /// The rules as `check-config` prints them (they load back as the same).
    static func rendered(_ rules: ExpectedRules) -> String {
        let q = TOMLSubset.quoted
        func list(_ items: [String]) -> String { "[" + items.map(q).joined(separator: ", ") + "]" }
        var s = ""
        for r in rules.rules {
            s += "\n[[expected]]\nname = \(q(r.name))\n"
            if !r.devices.isEmpty { s += "device = \(list(r.devices.map(\.description)))\n" }
            if !r.pciIDs.isEmpty { s += "pci_id = \(list(r.pciIDs.map(\.description)))\n" }
            if !r.drivers.isEmpty { s += "driver = \(list(r.drivers))\n" }
            if !r.vendors.isEmpty { s += "vendor = \(list(r.vendors.map(\.rawValue)))\n" }
            if !r.kinds.isEmpty { s += "kind = \(list(r.kinds.map(\.rawValue)))\n" }
            if !r.reasons.isEmpty { s += "reason = \(list(r.reasons.map(\.description)))\n" }
            if let a = r.address { s += "address = \(list([hex0x(a.lowerBound), hex0x(a.upperBound)]))\n" }
            if let w = r.bootWindowUsec {
                let ends = [w.lowerBound, w.upperBound].map { DurationSyntax.text(microseconds: Int64($0)) }
                s += "boot_window = \(list(ends))\n"
            }
        }
        return s
    }
}
