import CSystemd
import Glibc

// Unsafe pointers here: sd_journal_sendv takes an array of iovec.

/// sd_journal_sendv(3): one entry from `KEY=value` fields (binary-safe, multi-line values fine).
/// Field names must be `[A-Z0-9_]`, not starting with `_`; journald drops invalid ones silently,
/// so callers build names from constants.
public enum Journal {
    /// The return value of sd_journal_sendv: 0, or a negative errno (-ECONNREFUSED when
    /// journald is not running).
    @discardableResult
    public static func send(_ fields: [String]) -> Int32 {
        var bytes: [UInt8] = []
        var ranges: [(offset: Int, count: Int)] = []
        for f in fields {
            let start = bytes.count
            bytes.append(contentsOf: f.utf8)
            ranges.append((start, bytes.count - start))
        }
        guard !bytes.isEmpty else { return -Int32(EINVAL) }
        return bytes.withUnsafeMutableBytes { raw -> Int32 in
            let iov = ranges.map { iovec(iov_base: raw.baseAddress! + $0.offset, iov_len: $0.count) }
            return iov.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
    }

    /// True when a field name is one journald keeps.
    public static func isValidFieldName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first != "_", name.utf8.count <= 64 else { return false }
        return name.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
            && !("0"..."9").contains(first)
    }
}
