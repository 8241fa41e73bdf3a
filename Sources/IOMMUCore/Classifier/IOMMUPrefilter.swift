// Unsafe pointers here: the prefilter scans every record's raw bytes (hot path: every record).

/// The hot path's first and only test for most records: could this message be an IOMMU's?
///
/// Nine in ten kernel records have nothing to do with an IOMMU (USB, network, audit, …). This
/// check looks at the still-escaped message bytes and answers without allocating, decoding or
/// copying; only records that pass become Strings for the family parsers. It is built from the
/// families' descriptors (`FamilyDescriptor.words`, and their event names where an event may
/// start a record of its own), so it accepts every record a parser claims by construction;
/// `PrefilterTests` checks that against every fixture.
///
/// How: each word is found through one two-byte *anchor* inside it — the pair least likely in
/// ordinary text (punctuation, a doubled letter, rare letters: `r-` of `INTR-`, `mm` of
/// `iommu`). Two 256-entry tables of 64-bit masks say which anchors a byte may start and end;
/// one pass over the text ANDs the mask of each byte with the one before, and only a hit is
/// checked against the whole words of that anchor.
public struct IOMMUPrefilter: Sendable {
    struct Candidate: Sendable {
        var bytes: [UInt8]
        var anyCase: Bool
        /// Where the anchor's first byte sits in the word.
        var anchorOffset: Int
    }

    /// Per byte value: the anchors (bits) it may start; then per byte value, those it may end.
    private var starts = [UInt64](repeating: 0, count: 256)
    private var ends = [UInt64](repeating: 0, count: 256)
    /// The words of each anchor.
    private var candidates: [[Candidate]] = []
    /// Event names that may start a record (AMD split bodies): first byte, length range, names.
    private var nameFirstBytes = [Bool](repeating: false, count: 256)
    private var nameLengths: ClosedRange<Int> = 0...0
    private var names: [[UInt8]] = []
    /// The shortest word: texts shorter than it cannot match.
    private var shortest = Int.max

    public init(words: [PrefilterWord], eventNames: [String] = []) {
        var anchorIndex: [UInt16: Int] = [:]
        for w in Set(words) where w.bytes.count >= 2 {
            let offset = Self.anchorOffset(w)
            let a = w.bytes[offset]
            let b = w.bytes[offset + 1]
            let key = UInt16(w.anyCase ? a.lowercasedASCII : a) << 8 | UInt16(w.anyCase ? b.lowercasedASCII : b)
            let index: Int
            if let i = anchorIndex[key] {
                index = i
            } else {
                precondition(candidates.count < 64, "more than 64 distinct prefilter anchors")
                index = candidates.count
                anchorIndex[key] = index
                candidates.append([])
            }
            let bit = UInt64(1) << UInt64(index)
            for c in w.anyCase ? [a.lowercasedASCII, a.uppercasedASCII] : [a] { starts[Int(c)] |= bit }
            for c in w.anyCase ? [b.lowercasedASCII, b.uppercasedASCII] : [b] { ends[Int(c)] |= bit }
            candidates[index].append(Candidate(bytes: w.bytes, anyCase: w.anyCase, anchorOffset: offset))
            shortest = min(shortest, w.bytes.count)
        }
        // Longer words first: a hit is confirmed by the first word that matches.
        for i in candidates.indices { candidates[i].sort { $0.bytes.count > $1.bytes.count } }
        let nameBytes = eventNames.map { Array($0.utf8) }.filter { !$0.isEmpty }
        if let lo = nameBytes.map(\.count).min(), let hi = nameBytes.map(\.count).max() {
            nameLengths = lo...hi
            for n in nameBytes { nameFirstBytes[Int(n[0])] = true }
            names = nameBytes
        }
    }

    /// Builds the prefilter every family of the catalog needs.
    public init(catalog: FamilyCatalog) {
        var names: [String] = []
        for f in catalog.descriptors where f.eventNamesStartRecords { names += f.events.map(\.name) }
        self.init(words: catalog.prefilterWords, eventNames: names)
    }

    /// The anchor of a word: the pair of adjacent bytes, neither a space, least common in
    /// ordinary kernel text by a fixed rarity score (ties: the first).
    static func anchorOffset(_ w: PrefilterWord) -> Int {
        var best = 0
        var bestScore = Int.max
        for i in 0..<(w.bytes.count - 1) {
            let a = w.bytes[i]
            let b = w.bytes[i + 1]
            guard a != 0x20, b != 0x20 else { continue }
            var score = commonness(a) + commonness(b)
            if a.lowercasedASCII == b.lowercasedASCII && isLetter(a) { score = min(score, 3) }
            if score < bestScore {
                best = i
                bestScore = score
            }
        }
        return best
    }

    static func isLetter(_ c: UInt8) -> Bool { c.lowercasedASCII >= 0x61 && c.lowercasedASCII <= 0x7a }

    /// How common a byte is in kernel messages: punctuation other than the usual is rare,
    /// letters by their frequency in English text.
    static func commonness(_ c: UInt8) -> Int {
        if isLetter(c) {
            // e t a o i n s r h l d c u m f p g w y b v k x j q z, most common first.
            let order: [UInt8] = Array("etaoinsrhldcumfpgwybvkxjqz".utf8)
            let rank = order.firstIndex(of: c.lowercasedASCII) ?? 25
            return 26 - rank
        }
        if c >= 0x30 && c <= 0x39 { return 14 }
        switch c {
        case UInt8(ascii: ":"), UInt8(ascii: ","), UInt8(ascii: "."), UInt8(ascii: "="): return 20
        default: return 1
        }
    }

    public func mightBeIOMMU(_ t: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = t.count
        guard n >= 2 else { return false }
        if startsWithEventName(t) { return true }
        guard n >= shortest else { return false }
        return starts.withUnsafeBufferPointer { s in
            ends.withUnsafeBufferPointer { e in
                var previous = s[Int(t[0])]
                var i = 1
                while i < n {
                    let c = Int(t[i])
                    let hit = previous & e[c]
                    if hit != 0, confirm(hit, anchorEnd: i, in: t) { return true }
                    previous = s[c]
                    i += 1
                }
                return false
            }
        }
    }

    /// Whether a word of one of the anchors in `hit` surrounds the anchor ending at `i`.
    private func confirm(_ hit: UInt64, anchorEnd i: Int, in t: UnsafeBufferPointer<UInt8>) -> Bool {
        var m = hit
        while m != 0 {
            let k = m.trailingZeroBitCount
            m &= m - 1
            for c in candidates[k] {
                let start = i - 1 - c.anchorOffset
                guard start >= 0, start + c.bytes.count <= t.count else { continue }
                var j = 0
                if c.anyCase {
                    while j < c.bytes.count, t[start + j].lowercasedASCII == c.bytes[j].lowercasedASCII { j += 1 }
                } else {
                    while j < c.bytes.count, t[start + j] == c.bytes[j] { j += 1 }
                }
                if j == c.bytes.count { return true }
            }
        }
        return false
    }

    /// The record starts with one of the event names (upper-case letters and `_`), then a space
    /// or the end: the body of an AMD event printed in a record of its own (4.9–4.17).
    public func startsWithEventName(_ t: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !names.isEmpty, !t.isEmpty, nameFirstBytes[Int(t[0])] else { return false }
        var i = 0
        while i < t.count, i <= nameLengths.upperBound, t[i] != 0x20 {
            let c = t[i]
            guard
                (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) || c == UInt8(ascii: "_")
                    || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
            else { return false }
            i += 1
        }
        guard nameLengths.contains(i) else { return false }
        return names.contains { name in name.count == i && name.indices.allSatisfy { name[$0] == t[$0] } }
    }
}

extension UInt8 {
    var lowercasedASCII: UInt8 { self >= 0x41 && self <= 0x5a ? self | 0x20 : self }
    var uppercasedASCII: UInt8 { self >= 0x61 && self <= 0x7a ? self & ~0x20 : self }
}
