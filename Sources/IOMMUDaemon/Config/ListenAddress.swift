import ConfigSyntax

/// `host:port` for `[http] listen`: `[::]:10111`, `127.0.0.1:10111`, `localhost:10111`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// nil with the reason when the text is not an address.
    static func parse(_ text: String) -> Result<ListenAddress, ConfigProblem.Reason> {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                return .failure(.badValue("missing ']' after an IPv6 address"))
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(.badValue("expected ':PORT' after ']'")) }
            portText = rest.dropFirst()
            guard host.contains(":") || host.isEmpty else { return .failure(.badValue("'[…]' is for IPv6 addresses")) }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                return .failure(.badValue("expected HOST:PORT, e.g. \"127.0.0.1:10111\" or \"[::]:10111\""))
            }
            host = text[text.startIndex..<colon]
            portText = text[text.index(after: colon)...]
            guard !host.contains(":") else {
                return .failure(.badValue("write IPv6 addresses in brackets, e.g. \"[::1]:10111\""))
            }
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            return .failure(
                .badValue("port must be a number from 1 to 65535, got \"\(ConfigSyntaxError.excerpt(portText))\""))
        }
        guard !host.isEmpty else { return .failure(.badValue("missing host before the port (use 0.0.0.0 or [::])")) }
        for c in host.unicodeScalars {
            guard c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "." || c == ":" || c == "-" || c == "%"
            else { return .failure(.badValue("\"\(ConfigSyntaxError.excerpt(host))\" is not a host name or address")) }
        }
        return .success(ListenAddress(host: String(host), port: port))
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
