// Unsafe pointers here: byte-level record parsers over the record's bytes (ByteScanner).

/// A family parser that reads a record's bytes in place and holds a complete fault back while
/// detail lines may still follow it (Intel VT-d, AMD-Vi): another family's record releases it.
protocol HoldingFamilyParser: FamilyParser {
    mutating func consume(
        _ b: UnsafeBufferPointer<UInt8>, record r: KmsgRecord, into out: inout [ClassifierOutput]
    ) -> Bool
    mutating func releaseHeld(into out: inout [ClassifierOutput], at index: Int?)
}

extension HoldingFamilyParser {
    mutating func consume(_ r: KmsgRecord, into out: inout [ClassifierOutput]) -> Bool {
        r.text.withBytes { b in consume(b, record: r, into: &out) }
    }

    mutating func anotherFamilySpoke(into out: inout [ClassifierOutput], at index: Int) {
        releaseHeld(into: &out, at: index)
    }
}
