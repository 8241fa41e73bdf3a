import IOMMUCore
import Testing

/// Every log shape a person has (Fixtures/shapes/, made by its generate.py from the records of
/// base.kmsg): each must give what the raw /dev/kmsg records give — the same `replay --json`
/// lines, in the same order, and the same suppressed counts. What a shape cannot carry is left out
/// of the comparison, and only that: the kmsg sequence number (no text shape has it), the
/// kmsg time stamp where the shape prints none or only wall-clock time (shapes.tsv says which),
/// and — in a quote, which turned tabs into spaces — which blanks the raw text had.
@Suite("Log shapes")
struct LogShapesTests {
    struct Shape: CustomStringConvertible, Sendable {
        let file: String
        let timestamps: Bool
        /// The shape changed the blanks inside lines (a quote's tabs became spaces).
        let blanksChanged: Bool
        var description: String { file }
    }

    static let dir = Fixtures.root + "/shapes/"

    static let manifest: [Shape] = readFile(dir + "shapes.tsv").split(separator: "\n").compactMap { line in
        guard !line.hasPrefix("#") else { return nil }
        let f = line.split(separator: "\t")
        return Shape(
            file: String(f[0]), timestamps: f[1] == "yes", blanksChanged: f.count > 2 && f[2].hasPrefix("a mail"))
    }

    /// The `--json` lines of a replay, without what a shape cannot carry.
    static func json(_ faults: [Fault], timestamps: Bool, blanks: Bool = false) -> [String] {
        faults.map { f in
            var f = f
            f.seq = nil
            if !timestamps { f.timestampUsec = nil }
            if blanks {
                f.text = String(
                    f.text.split(separator: "\n", omittingEmptySubsequences: false).map {
                        $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
                    }.joined(separator: "\n"))
            }
            return f.jsonLine()
        }
    }

    static let reference = PipelineReplay.run([readBytes(dir + "kmsg.log")[...]])

    @Test("the reference: the raw records give the faults of every vendor")
    func referenceFaults() {
        let vendors = Set(Self.reference.1.map(\.vendor.rawValue))
        #expect(vendors == ["intel", "amd", "arm-smmu-v3", "arm-smmu"])
        #expect(Self.reference.1.count == 11)
        #expect(Self.reference.0.resolvedFormat == .kmsg)
    }

    @Test("every shape gives the --json of the raw records", arguments: manifest)
    func shape(_ s: Shape) throws {
        let bytes = readBytes(Self.dir + s.file)
        try #require(!bytes.isEmpty, "\(s.file) is missing")
        let want = Self.json(Self.reference.1, timestamps: s.timestamps, blanks: s.blanksChanged)
        // Whole, and cut at a few places (chunk boundaries must not matter).
        for cut in [bytes.count, 1, bytes.count / 3, bytes.count / 2 + 7] {
            let (p, faults) = PipelineReplay.run([bytes[..<cut], bytes[cut...], []])
            let got = Self.json(faults, timestamps: s.timestamps, blanks: s.blanksChanged)
            #expect(got.count == want.count, "\(s.file) cut at \(cut): \(got.count) faults, not \(want.count)")
            if let i = got.indices.first(where: { $0 < want.count && got[$0] != want[$0] }) {
                Issue.record("\(s.file) cut at \(cut), fault \(i):\n got  \(got[i])\n want \(want[i])")
                break
            }
            #expect(p.ledger.suppressed == Self.reference.0.ledger.suppressed, "\(s.file): suppressed")
            #expect(p.ledger.unparsed.isEmpty, "\(s.file): unparsed \(p.ledger.unparsed)")
        }
    }

    @Test("the manifest names every shape file, and every file is in it")
    func manifestComplete() {
        let files = Set(listFiles(Self.dir).filter { $0.hasSuffix(".log") })
        #expect(Set(Self.manifest.map(\.file)) == files)
        #expect(Self.manifest.count >= 40)
    }
}
