import ConfigSyntax
import Glibc
import Testing

/// The error `body` throws, or nil when it returns.
func thrown<E: Error>(_ body: () throws(E) -> Void) -> E? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// A config parser's error table row: `text` fails, on `line`, with a message containing
/// `message` (TOMLSubset and YAMLSubset).
func expectSyntaxError(
    _ e: ConfigSyntaxError?, in text: String, line: Int, message: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(e != nil, "should fail: \(text)", sourceLocation: sourceLocation)
    #expect(e?.line == line, "\(String(describing: e))", sourceLocation: sourceLocation)
    #expect(
        e?.message.contains(message) == true, "\(String(describing: e)) should say \(message)",
        sourceLocation: sourceLocation)
}
