import CLinux
import CSystemd
import Glibc
import IOMMUCore

/// Reads the journal back through libsystemd's sd_journal API (sd_journal_open,
/// sd_journal_add_match, sd_journal_seek_*): where a restart finds the last KMSG_SEQ it
/// journaled, and what `iommud log` prints. No text parsing of journalctl output.
///
/// Only entries journald vouches for count: fields a client sends (MESSAGE_ID, KMSG_SEQ,
/// IOMMUD_*) can be written by any local user (`logger --journald`), so every read also
/// matches a *trusted* field journald itself adds — the writer's unit (`_SYSTEMD_UNIT`) or uid
/// (`_UID`) — that no client can choose (systemd.journal-fields(7)).
///
/// The journal's data is copied out of its mapping by `CLinux` (`clinux_journal_field`,
/// `clinux_journal_entry`); this side sees arrays.
public final class JournalReader {
    /// Whose entries to read.
    public enum Writer: Sendable, Equatable {
        /// This very daemon: its systemd unit when it runs under one, else its uid.
        case thisDaemon
        /// The daemon as `iommud log` knows it from outside: the `iommud.service` unit, or root.
        case iommudService

        /// The trusted matches, each alone enough (ORed).
        var matches: [(String, String)] {
            switch self {
            case .thisDaemon:
                if let unit = Self.ownUnit() { return [("_SYSTEMD_UNIT", unit)] }
                return [("_UID", String(getuid()))]
            case .iommudService:
                return [("_SYSTEMD_UNIT", "iommud.service"), ("_UID", "0")]
            }
        }

        /// The systemd unit this process runs in, if any (its cgroup says; sd_pid_get_unit).
        static func ownUnit() -> String? {
            guard let unit = clinux_own_unit() else { return nil }
            defer { free(unit) }
            let name = String(cString: unit)
            return name.hasSuffix(".service") ? name : nil
        }
    }

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    let j: OpaquePointer

    /// Opens the local journal (system and, for root, every user's files).
    public init() throws(Failure) {
        var handle: OpaquePointer?
        let rc = sd_journal_open(&handle, Int32(SD_JOURNAL_LOCAL_ONLY))
        guard rc >= 0, let handle else {
            throw Failure(message: "cannot open the journal: \(String(cString: strerror(-rc)))")
        }
        j = handle
    }

    deinit { sd_journal_close(j) }

    /// Bytes of journal files this process can read: 0 means none (journald never ran here,
    /// or no permission — reading needs root or group systemd-journal/adm).
    public var usageBytes: UInt64 {
        var b: UInt64 = 0
        return sd_journal_get_usage(j, &b) >= 0 ? b : 0
    }

    /// Fields of different names are ANDed, the same name ORed (sd_journal_add_match(3)).
    public func addMatch(_ field: String, _ value: String) {
        let m = Array("\(field)=\(value)".utf8)
        _ = sd_journal_add_match(j, m, m.count)
    }

    /// The matches added so far form one alternative; those after it another (ORed).
    public func addDisjunction() { sd_journal_add_disjunction(j) }

    /// `common` ANDed with one of the writer's trusted fields.
    public func addMatches(_ common: [(String, String)], writer: Writer) {
        for (i, trusted) in writer.matches.enumerated() {
            if i > 0 { addDisjunction() }
            for (f, v) in common { addMatch(f, v) }
            addMatch(trusted.0, trusted.1)
        }
    }

    public func seekTail() { sd_journal_seek_tail(j) }
    public func seekHead() { sd_journal_seek_head(j) }
    public func seekRealtime(usec: UInt64) { sd_journal_seek_realtime_usec(j, usec) }

    public func next() -> Bool { sd_journal_next(j) > 0 }
    public func previous() -> Bool { sd_journal_previous(j) > 0 }

    /// One short field of the current entry (a seq, an id): nil when it is longer than
    /// `maxBytes`, as no value the daemon writes there is.
    public func field(_ name: String, maxBytes: Int = 256) -> String? {
        var value = [UInt8](repeating: 0, count: maxBytes)
        let n = clinux_journal_field(j, name, &value, value.count)
        guard n >= 0, n <= value.count else { return nil }
        return String(decoding: value[..<n], as: UTF8.self)
    }

    /// The most an entry the daemon wrote can hold: the record's text (at most
    /// `KmsgPipeline.maxRecordBytes`) twice over, and room for the other fields.
    static let maxEntryBytes = 1 << 20

    /// Every field of the current entry; none for an entry over `maxEntryBytes` (not one the
    /// daemon wrote: read no further).
    public func fields() -> [String: String] {
        var packed = [UInt8](repeating: 0, count: 64 * 1024)
        var n = clinux_journal_entry(j, &packed, packed.count)
        if n > packed.count {
            guard n <= Self.maxEntryBytes else { return [:] }
            packed = [UInt8](repeating: 0, count: n)
            n = clinux_journal_entry(j, &packed, packed.count)
        }
        return Self.unpack(packed[..<min(max(n, 0), packed.count)])
    }

    /// The fields `clinux_journal_entry` packed: a 4-byte little-endian length, then `NAME=value`.
    static func unpack(_ packed: ArraySlice<UInt8>) -> [String: String] {
        var out: [String: String] = [:]
        var i = packed.startIndex
        while packed.endIndex - i >= 4 {
            let len = (0..<4).reduce(0) { $0 | Int(packed[i + $1]) << (8 * $1) }
            let start = i + 4
            guard len <= packed.endIndex - start else { break }
            let datum = packed[start..<(start + len)]
            i = start + len
            guard let eq = datum.firstIndex(of: UInt8(ascii: "=")) else { continue }
            out[String(decoding: datum[..<eq], as: UTF8.self)] = String(decoding: datum[(eq + 1)...], as: UTF8.self)
        }
        return out
    }

    public var realtimeUsec: UInt64 {
        var u: UInt64 = 0
        sd_journal_get_realtime_usec(j, &u)
        return u
    }

    /// This boot's id as journald writes `_BOOT_ID` (32 hex digits).
    public static func currentBootID() -> String? {
        var id = [CChar](repeating: 0, count: 33)
        guard clinux_boot_id(&id) >= 0 else { return nil }
        return String(decoding: id.prefix(32).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The highest KMSG_SEQ this instance (its kmsg source and state directory) already
    /// journaled in this boot: the entries with a KMSG_SEQ, newest first. Entries are written
    /// in seq order except storm summaries and ends sent a little later, so the last few
    /// hundred are enough.
    public static func highestJournaledSeq(source: String, stateDirectory: String, writer: Writer) throws(Failure)
        -> UInt64?
    {
        guard let boot = currentBootID() else { throw Failure(message: "cannot read this boot's id") }
        let r = try JournalReader()
        var common = MessageID.withKmsgSeq.map { ("MESSAGE_ID", $0) }
        common += [("_BOOT_ID", boot), (JournalSink.sourceField, source), (JournalSink.stateField, stateDirectory)]
        r.addMatches(common, writer: writer)
        r.seekTail()
        var best: UInt64?
        var n = 0
        while n < 512, r.previous() {
            n += 1
            if let s = r.field("KMSG_SEQ").flatMap({ $0.utf8.count <= 20 ? UInt64($0) : nil }) {
                best = max(best ?? 0, s)
            }
        }
        return best
    }
}
