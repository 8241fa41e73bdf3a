import ConfigSyntax

enum ConfigValueKind: Sendable {
    case path, optionalPath, bool, listenArray, logLevel
    /// A command: an array of strings, the first an absolute path (run without a shell).
    case argv
    /// A duration string (`DurationSyntax`) within these µs.
    case duration(ClosedRange<Int64>)
    /// A whole number within these.
    case integer(ClosedRange<Int>)
    /// One of these strings.
    case oneOf([String])

    var expected: String {
        switch self {
        case .path: return "a path string"
        case .optionalPath: return "an absolute path string, or \"\" for none"
        case .bool: return "true or false"
        case .duration: return "a duration string such as \"5s\" or \"2m\""
        case .listenArray: return "an array of \"HOST:PORT\" strings"
        case .logLevel: return "one of " + ConfigLogLevel.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        case .integer: return "a whole number"
        case .argv: return "an array of strings: an absolute program path, then its arguments"
        case .oneOf(let choices): return "one of " + choices.map { "\"\($0)\"" }.joined(separator: ", ")
        }
    }

    /// The documented range, as config/iommud.toml writes it: "from 1s to 1d".
    var rangeText: String? {
        switch self {
        case .duration(let r):
            let (low, high) = (
                DurationSyntax.text(microseconds: r.lowerBound), DurationSyntax.text(microseconds: r.upperBound)
            )
            return "from \(low) to \(high)"
        case .integer(let r): return "from \(r.lowerBound) to \(r.upperBound)"
        default: return nil
        }
    }
}

enum ConfigValue: Sendable {
    case string(String)
    case bool(Bool)
    case duration(Duration)
    case listen([ListenAddress])
    case logLevel(ConfigLogLevel)
    case strings([String])
    case int(Int)
}

/// Everything wrong with a config file, each with its line.
public struct ConfigProblems: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]
    public init(_ problems: [ConfigProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// One thing wrong with a config file, with where it is.
public struct ConfigProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Error, Sendable, Equatable {
        case syntax(String)
        case unknownSection
        case unknownKey
        case wrongType(expected: String)
        case badValue(String)
        /// `value` as written, `range` as "from 1s to 1d".
        case outOfRange(value: String, range: String)
        case unreadable(String)
    }

    public var file: String
    public var line: Int?
    public var key: String?
    public var reason: Reason

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        let key = self.key.map { ConfigSyntaxError.excerpt($0, limit: 80) }
        switch reason {
        case .syntax(let m): s += "TOML syntax error: \(m)"
        case .unknownSection: s += "unknown section [\(key ?? "")]"
        case .unknownKey: s += "unknown key '\(key ?? "")'"
        case .wrongType(let e): s += "'\(key ?? "")' must be \(e)"
        case .badValue(let m): s += "bad value for '\(key ?? "")': \(m)"
        case .outOfRange(let v, let r): s += "'\(key ?? "")' must be \(r), not \(v)"
        case .unreadable(let m): s += "cannot read the config file: \(m)"
        }
        return s
    }
}

/// Reads and validates a TOML config (ConfigSyntax's TOMLSubset), naming the line of every problem.
public enum ConfigLoader {
    public static func load(path: String, text: String) -> Result<Configuration, ConfigProblems> {
        let table: TOMLSubset.Table
        do {
            table = try TOMLSubset.parse(text)
        } catch {
            return .failure(
                ConfigProblems([ConfigProblem(file: path, line: error.line, key: nil, reason: .syntax(error.message))]))
        }
        var config = Configuration()
        config.file = path
        var problems: [ConfigProblem] = []
        for section in table.keys.sorted() {
            let line = table.line(of: section)
            if section == ExpectedRulesConfig.section {
                let (rules, found) = ExpectedRulesConfig.load(table[section]!, line: line, path: path)
                config.expectedRules = rules
                problems += found
                continue
            }
            guard let sub = table[section]?.table else {
                // A key above every [section].
                let reason: ConfigProblem.Reason =
                    Configuration.schema[section] != nil ? .wrongType(expected: "a table ([\(section)])") : .unknownKey
                problems.append(ConfigProblem(file: path, line: line, key: section, reason: reason))
                continue
            }
            guard let keys = Configuration.schema[section] else {
                problems.append(ConfigProblem(file: path, line: line, key: section, reason: .unknownSection))
                continue
            }
            for key in sub.keys.sorted() {
                let line = sub.line(of: key)
                guard let kind = keys[key] else {
                    problems.append(
                        ConfigProblem(file: path, line: line, key: "\(section).\(key)", reason: .unknownKey))
                    continue
                }
                switch convert(sub[key]!, kind: kind) {
                case .success(let v): config.apply(section: section, key: key, value: v)
                case .failure(let reason):
                    problems.append(ConfigProblem(file: path, line: line, key: "\(section).\(key)", reason: reason))
                }
            }
        }
        return problems.isEmpty
            ? .success(config) : .failure(ConfigProblems(problems.sorted { ($0.line ?? 0) < ($1.line ?? 0) }))
    }

    static func convert(_ v: TOMLSubset.Value, kind: ConfigValueKind) -> Result<ConfigValue, ConfigProblem.Reason> {
        switch kind {
        case .path:
            guard let s = v.string else { return .failure(.wrongType(expected: kind.expected)) }
            guard s.hasPrefix("/") else { return .failure(.badValue("\(shown(s)) must be an absolute path")) }
            return .success(.string(s))
        case .optionalPath:
            guard let s = v.string else { return .failure(.wrongType(expected: kind.expected)) }
            guard s.isEmpty || s.hasPrefix("/") else {
                return .failure(.badValue("\(shown(s)) must be an absolute path, or \"\""))
            }
            return .success(.string(s))
        case .bool:
            guard let b = v.bool else { return .failure(.wrongType(expected: kind.expected)) }
            return .success(.bool(b))
        case .duration(let range):
            guard let s = v.string else { return .failure(.wrongType(expected: kind.expected)) }
            switch DurationSyntax.microseconds(s) {
            case .failure(let p) where p.tooLarge:
                return .failure(.outOfRange(value: shown(s), range: kind.rangeText!))
            case .failure(let p):
                return .failure(
                    .badValue("\(shown(s)) is not a duration: \(p) (write e.g. \"500ms\", \"5s\", \"2m\", \"1h30m\")"))
            case .success(let us):
                guard range.contains(us) else { return .failure(.outOfRange(value: shown(s), range: kind.rangeText!)) }
                return .success(.duration(.microseconds(us)))
            }
        case .integer(let range):
            guard let i = v.int else { return .failure(.wrongType(expected: kind.expected)) }
            guard range.contains(i) else { return .failure(.outOfRange(value: String(i), range: kind.rangeText!)) }
            return .success(.int(i))
        case .oneOf(let choices):
            guard let s = v.string else { return .failure(.wrongType(expected: kind.expected)) }
            guard choices.contains(s) else { return .failure(.badValue("\(shown(s)): \(kind.expected)")) }
            return .success(.string(s))
        case .logLevel:
            guard let s = v.string else { return .failure(.wrongType(expected: kind.expected)) }
            guard let l = ConfigLogLevel(rawValue: s) else {
                return .failure(.badValue("\(shown(s)): \(kind.expected)"))
            }
            return .success(.logLevel(l))
        case .argv:
            guard let a = v.array else { return .failure(.wrongType(expected: kind.expected)) }
            var out: [String] = []
            for e in a {
                guard let s = e.string else { return .failure(.wrongType(expected: kind.expected)) }
                out.append(s)
            }
            if let first = out.first, !first.hasPrefix("/") {
                return .failure(
                    .badValue(
                        "\(shown(first)) must be an absolute path (actions run without a shell and without PATH lookup)"
                    ))
            }
            return .success(.strings(out))
        case .listenArray:
            guard let a = v.array else { return .failure(.wrongType(expected: kind.expected)) }
            var out: [ListenAddress] = []
            for e in a {
                guard let s = e.string else { return .failure(.wrongType(expected: kind.expected)) }
                switch ListenAddress.parse(s) {
                case .success(let addr): out.append(addr)
                case .failure(let r): return .failure(r)
                }
            }
            return .success(.listen(out))
        }
    }

    /// A value quoted for a message, cut short when long.
    static func shown(_ s: String) -> String { "\"" + ConfigSyntaxError.excerpt(s) + "\"" }
}

extension StringProtocol {
    /// Without spaces, tabs and line ends at either end.
    func trimmingCharacters() -> String {
        let ws: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        return String(self.drop(while: ws).reversed().drop(while: ws).reversed())
    }
}
