import CLinux
import Glibc

/// sd_journal_sendv(3): one entry from `KEY=value` fields (binary-safe, multi-line values fine).
/// Field names must be `[A-Z0-9_]`, not starting with `_`; journald drops invalid ones silently,
/// so callers build names from constants.
public enum Journal {
    /// The return value of sd_journal_sendv: 0, or a negative errno (-ECONNREFUSED when
    /// journald is not running).
    @discardableResult
    public static func send(_ fields: [String]) -> Int32 {
        var bytes: [UInt8] = []
        var lengths: [Int] = []
        for f in fields {
            let start = bytes.count
            bytes.append(contentsOf: f.utf8)
            lengths.append(bytes.count - start)
        }
        guard !bytes.isEmpty, lengths.count <= Int(Int32.max) else { return -Int32(EINVAL) }
        return clinux_journal_send_packed(bytes, lengths, Int32(lengths.count))
    }

    /// True when a field name is one journald keeps.
    public static func isValidFieldName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != "_", name.utf8.count <= 64 else { return false }
        return name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            && !("0"..."9").contains(first)
    }
}
