import ConfigSyntax
import Glibc

/// Loads a config file, or the built-in defaults when the default path does not exist
/// (`iommud run`, `check-config`, reloads).
public func loadConfiguration(path: String?) -> Result<Configuration, ConfigProblems> {
    let file = path ?? Configuration.defaultPath
    if path == nil && !fileExists(file) { return .success(Configuration()) }
    switch readConfigFile(file) {
    case .failure(let e):
        return .failure(ConfigProblems([ConfigProblem(file: file, line: nil, key: nil, reason: .unreadable(e.reason))]))
    case .success(let text):
        return ConfigLoader.load(path: file, text: text)
    }
}

/// Why a config file could not be read: the clause after "cannot read …: ".
struct ConfigReadError: Error {
    var reason: String
}

/// A config file's text (iommud.toml, the web config), whole: one larger than
/// `ConfigSyntaxLimits.maxBytes` (1 MiB) is refused rather than read in part.
func readConfigFile(_ path: String) -> Result<String, ConfigReadError> {
    do {
        return .success(try readSmallFile(path, limit: ConfigSyntaxLimits.maxBytes))
    } catch  where error.errno == EFBIG {
        return .failure(
            ConfigReadError(
                reason: "it is larger than 1 MiB (\(ConfigSyntaxLimits.maxBytes) bytes); a config file is a few KiB"))
    } catch {
        return .failure(ConfigReadError(reason: String(cString: strerror(error.errno))))
    }
}
