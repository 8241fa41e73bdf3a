/// A syntax error in a configuration file, with its 1-based line: what `TOMLSubset` and
/// `YAMLSubset` throw, and what the config loaders turn into "file:line: message".
public struct ConfigSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var message: String
    public var description: String { "line \(line): \(message)" }
}
