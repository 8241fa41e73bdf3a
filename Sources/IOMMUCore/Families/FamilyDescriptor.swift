/// What one IOMMU family tells the rest of the code about itself, declared once in the
/// family's own file: the words that let its records through the byte-level prefilter, the
/// words that name it in a line nobody understood, the kernel functions whose `N callbacks
/// suppressed` lines are its own, the names of its fault vectors in /proc/interrupts, and the
/// events it reports. The prefilter, the ratelimit table, the interrupt mapping and the list of
/// kinds are all derived from these (`FamilyCatalog`), never kept beside them.
///
/// Adding a kernel event to a family is one `EventDescriptor` in its file plus a fixture;
/// adding a family is one file with its descriptor and parser, and one line in
/// `FamilyCatalog.standard`.
public struct FamilyDescriptor: Sendable {
    public var vendor: Vendor
    /// A person's name for the family (`Intel VT-d`), for `status` and journal sentences.
    public var displayName: String
    /// Every record a parser of this family claims carries at least one of these words (in
    /// its prefix or its function name): the prefilter lets nothing else through.
    public var words: [PrefilterWord]
    /// Words that say a line is this family's, when no parser understood it (the `vendor`
    /// label of `iommud_unparsed_iommu_lines_total`). Families are asked in catalog order.
    public var namingWords: [PrefilterWord]
    /// Kernel functions whose `<function>: N callbacks suppressed` lines count as this
    /// family's suppressed messages (lib/ratelimit.c).
    public var ratelimitedFunctions: [String]
    /// The action names of the family's fault vectors in /proc/interrupts.
    public var interrupts: [InterruptName]
    /// Events reported by name or code (AMD event log types, SMMUv3 event ids).
    public var events: [EventDescriptor]
    /// Event names may start a record of their own, without any prefix (AMD 4.9–4.17 printed
    /// the body of an event as a second record): such records pass the prefilter too.
    public var eventNamesStartRecords: Bool
    /// Kinds the family reports besides its events' (Intel `dma-read`, AMD `ppr-request`).
    public var otherKinds: [FaultKind]
    /// The kernel driver names of the family's units (`rk_iommu`, `virtio_iommu`): the driver
    /// word of its `<driver> <dev>: ` prefix, and how a /sys/class/iommu entry whose name says
    /// nothing (`ff8f3f00.iommu`) is known to be this family's (its device's `driver` link, or a
    /// child device's, as virtio-iommu's `virtioN` under its PCI function).
    public var drivers: [String]

    public init(
        vendor: Vendor, displayName: String, words: [PrefilterWord], namingWords: [PrefilterWord],
        ratelimitedFunctions: [String] = [], interrupts: [InterruptName] = [], events: [EventDescriptor] = [],
        eventNamesStartRecords: Bool = false, otherKinds: [FaultKind] = [], drivers: [String] = []
    ) {
        self.vendor = vendor
        self.displayName = displayName
        self.words = words
        self.namingWords = namingWords
        self.ratelimitedFunctions = ratelimitedFunctions
        self.interrupts = interrupts
        self.events = events
        self.eventNamesStartRecords = eventNamesStartRecords
        self.otherKinds = otherKinds
        self.drivers = drivers
    }

    /// Every kind this family's faults can have, events first.
    public var kinds: [FaultKind] {
        var out: [FaultKind] = []
        for k in events.map(\.kind) + otherKinds where !out.contains(k) { out.append(k) }
        return out
    }

    /// The event of that name (as the kernel prints it).
    public func event(named name: some StringProtocol) -> EventDescriptor? {
        events.first { $0.name == name }
    }

    /// The event of that code.
    public func event(code: UInt32) -> EventDescriptor? {
        events.first { $0.code == code }
    }
}

/// A word the prefilter looks for, as bytes: exactly, or ignoring ASCII case.
public struct PrefilterWord: Sendable, Hashable, ExpressibleByStringLiteral {
    public var bytes: [UInt8]
    public var anyCase: Bool

    public init(_ word: String, anyCase: Bool = false) {
        self.bytes = Array(word.utf8)
        self.anyCase = anyCase
    }

    public init(stringLiteral value: String) { self.init(value) }

    /// `word`, upper or lower case or mixed.
    public static func anyCase(_ word: String) -> PrefilterWord { PrefilterWord(word, anyCase: true) }

    /// Whether the word occurs in `text`.
    public func occurs(in text: some StringProtocol) -> Bool {
        let t = Array(text.utf8)
        guard bytes.count <= t.count, !bytes.isEmpty else { return false }
        for start in 0...(t.count - bytes.count) where matches(t, at: start) { return true }
        return false
    }

    func matches(_ t: [UInt8], at start: Int) -> Bool {
        for (k, b) in bytes.enumerated() {
            let c = t[start + k]
            if anyCase ? c.lowercasedASCII != b.lowercasedASCII : c != b { return false }
        }
        return true
    }
}

/// A fault vector's action name in /proc/interrupts (kernel-formats.md §6.2, §11.17): a fixed
/// name shared by every unit (`arm-smmu-v3-evtq`, `AMD-Vi` before 6.6), a name with the unit's
/// number in it (`dmar%d`, `AMD-Vi%d-Evt`), which names the unit (`dmar%d`, `ivhd%d`), or the
/// kernel name of the unit's own device (`devm_request_irq(…, dev_name(dev), …)`: Rockchip,
/// MediaTek, Exynos, …), which only the topology can tell from any other device's interrupt.
public struct InterruptName: Sendable, Hashable {
    public var prefix: String
    /// After the number, for numbered names; after the device name for `namedAfterUnit`; nil
    /// for a fixed name.
    public var suffix: String?
    /// The unit a numbered name stands for is this prefix and the number.
    public var unitPrefix: String?
    /// The contract's `vector` label (fault, prq, evt, …).
    public var vector: String
    /// The action is the name of one of the family's units' devices (plus `suffix`): matched
    /// only against a scanned topology, never by the shape of the name alone.
    public var namedAfterUnit: Bool = false

    /// `dev_name()` of the unit's device (as the topology knows it), then `suffix`.
    public static func unitDevice(suffix: String = "", vector: String) -> InterruptName {
        InterruptName(prefix: "", suffix: suffix, unitPrefix: nil, vector: vector, namedAfterUnit: true)
    }

    /// A fixed name, shared by every unit of the family.
    public static func fixed(_ name: String, vector: String) -> InterruptName {
        InterruptName(prefix: name, suffix: nil, unitPrefix: nil, vector: vector)
    }

    /// `prefix` + a decimal number + `suffix`, naming unit `unitPrefix` + the number.
    public static func numbered(_ prefix: String, _ suffix: String, unit unitPrefix: String, vector: String)
        -> InterruptName
    {
        InterruptName(prefix: prefix, suffix: suffix, unitPrefix: unitPrefix, vector: vector)
    }

    /// The unit the action names (nil for a fixed name) when `action` is this vector.
    func match(_ action: String) -> (unit: String?, matched: Bool) {
        if namedAfterUnit { return (nil, false) }
        guard let suffix else { return (nil, action == prefix) }
        guard action.hasPrefix(prefix), action.hasSuffix(suffix),
            action.utf8.count > prefix.utf8.count + suffix.utf8.count
        else { return (nil, false) }
        let digits = action.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.utf8.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt32(digits)
        else { return (nil, false) }
        return ((unitPrefix ?? prefix) + String(n), true)
    }
}

/// One event a family reports by name or code.
public struct EventDescriptor: Sendable, Hashable {
    /// As the kernel prints it (`IO_PAGE_FAULT`, `F_TRANSLATION`).
    public var name: String
    /// The event's number in the hardware's log (AMD event code, SMMUv3 event id), if any.
    public var code: UInt32?
    public var kind: FaultKind
    public var reasonText: String
    /// Who most likely has to fix it, only where kernel-formats.md §8.2 gives one answer.
    public var owner: Owner?
    /// Lines the kernel prints right after the event, adding detail to it (AMD `DTE[n]:`).
    public var followUps: FollowUpLines?

    public init(
        _ name: String, code: UInt32? = nil, kind: FaultKind? = nil, reasonText: String, owner: Owner? = nil,
        followUps: FollowUpLines? = nil
    ) {
        self.name = name
        self.code = code
        self.kind = kind ?? FaultKind(kernelEventName: name)
        self.reasonText = reasonText
        self.owner = owner
        self.followUps = followUps
    }
}

/// Detail lines that follow an event (after the family's prefix): `count` lines starting with
/// `counted`, and any number starting with one of `extra` before them. The event is complete
/// when the counted lines have come, or another record of the family says it is over.
public struct FollowUpLines: Sendable, Hashable {
    public var counted: String
    public var count: Int
    public var extra: [String]

    public init(_ counted: String, count: Int, extra: [String] = []) {
        self.counted = counted
        self.count = count
        self.extra = extra
    }
}
