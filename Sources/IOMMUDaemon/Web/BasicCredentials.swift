/// The credentials of an HTTP `Authorization: Basic …` header (RFC 7617): parsed from what a
/// network client sends, so every byte is checked and nothing is trusted to be small.
/// Pure (no NIO, no crypt): the fuzz target `auth` links it alone.
enum BasicCredentials {
    /// `Basic base64(user:password)` → (user, password bytes). The scheme is case-insensitive.
    static func parseBasic(_ header: String?) -> (String, [UInt8])? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = base64Decode(String(parts[1].drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())),
            let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
            // A user name that is not UTF-8 names no configured user (and must not become one
            // by the replacement character standing in for its bytes).
            let user = String(validating: decoded[..<colon], as: UTF8.self)
        else { return nil }
        return (user, Array(decoded[(colon + 1)...]))
    }

    /// Standard base64 with optional `=` padding; nil for any other byte, or data after the padding.
    static func base64Decode(_ s: String) -> [UInt8]? {
        // A header is bounded by the HTTP parser; this bounds the work on its own too.
        guard s.utf8.count <= 64 * 1024 else { return nil }
        var out: [UInt8] = []
        var acc: UInt32 = 0
        var bits = 0
        var padding = 0
        for c in s.utf8 {
            let v: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default: return nil
            }
            guard padding == 0 else { return nil }
            acc = (acc << 6) | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xff))
            }
        }
        guard padding <= 2 else { return nil }
        return out
    }
}
