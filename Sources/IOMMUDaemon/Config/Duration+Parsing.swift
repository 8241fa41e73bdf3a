extension Duration {
    /// `"5s"`, `"250ms"`, `"5m"`, `"1h30m"`, `"2d"`. nil when malformed or not positive.
    static func parse(config text: String) -> Duration? {
        var total: Int64 = 0  // milliseconds
        var number: Int64?
        var unit = ""
        func flush() -> Bool {
            guard let n = number else { return unit.isEmpty }
            let ms: Int64
            switch unit {
            case "ms": ms = n
            case "s": ms = n * 1000
            case "m": ms = n * 60_000
            case "h": ms = n * 3_600_000
            case "d": ms = n * 86_400_000
            default: return false
            }
            total += ms
            number = nil
            unit = ""
            return true
        }
        for c in text {
            if let d = c.wholeNumberValue, c.isASCII {
                if !unit.isEmpty { guard flush() else { return nil } }
                number = (number ?? 0) * 10 + Int64(d)
                guard number! < 1_000_000_000 else { return nil }
            } else if c.isLetter {
                guard number != nil else { return nil }
                unit.append(c)
            } else {
                return nil
            }
        }
        guard number == nil || !unit.isEmpty, flush(), total > 0 else { return nil }
        return .milliseconds(total)
    }

    var configText: String {
        let ms = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        if ms % 86_400_000 == 0 { return "\(ms / 86_400_000)d" }
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    var totalMilliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
