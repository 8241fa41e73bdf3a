/// `<function>: N callbacks suppressed` (lib/ratelimit.c, KERN_WARNING, no pr_fmt prefix): the
/// kernel's printk ratelimit dropped N *messages* of that call site — not faults — and says so
/// late, when the next message of that call site is allowed. Which family the function belongs
/// to is each family's declaration (`FamilyDescriptor.ratelimitedFunctions`).
enum SuppressedMessagesLine {
    /// False when the record is not such a line; true (and no output) when it is one of a
    /// function that has nothing to do with an IOMMU.
    static func consume(_ r: KmsgRecord, catalog: FamilyCatalog, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in
            var s = ByteScanner(b)
            let name = s.token(until: UInt8(ascii: ":"))
            guard !name.isEmpty, name.count <= 128, s.skip(": "), let count = s.decimal(),
                s.skip(" callbacks suppressed")
            else {
                return false
            }
            s.skipSpaces()
            guard s.isAtEnd else { return false }
            for i in name {
                let c = b[i]
                guard
                    c == UInt8(ascii: "_") || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "z"))
                        || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
                else { return false }
            }
            let function = s.string(name)
            if case .some(let vendor) = catalog.vendor(ofRatelimitedFunction: function) {
                out.append(.marker(.suppressed(source: function, vendor: vendor, count: count), of: r))
            }
            return true
        }
    }
}
