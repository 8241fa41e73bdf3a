/// The IOMMU family that reported something, by its contract name (`intel`, `amd`,
/// `arm-smmu-v3`, `arm-smmu`, …). Each family declares its own value in its file
/// (`Families/`), beside its descriptor.
public struct Vendor: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    public static func < (l: Vendor, r: Vendor) -> Bool { l.rawValue < r.rawValue }

    /// A vendor read back from outside (a checkpoint, a journal entry, JSON): nil unless it has
    /// the shape of a contract name (lower-case letters, digits and `-`, at most 32).
    public init?(validating s: some StringProtocol) {
        guard (1...32).contains(s.utf8.count),
            s.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2d })
        else { return nil }
        self.init(rawValue: String(s))
    }
}

/// What the faulting transaction tried to do, when the kernel says.
public enum Access: String, Sendable, Hashable {
    case read
    case write
}

/// Who most likely has to fix it (kernel-formats.md §8.2). A heuristic, never a verdict.
public enum Owner: String, Sendable, Hashable {
    case driver
    case firmware
    case hardware
    case iommuDriver = "iommu-driver"
}

/// The fault's kind in the contract's spelling: Intel `dma-read`, `dma-write`, `intr-remap`,
/// `page-request`, `invalidation-error`; AMD and SMMUv3 the event name in lower-kebab-case;
/// SMMUv2 `context-fault`, `global-fault`.
public struct FaultKind: RawRepresentable, Hashable, Sendable, Comparable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }
    public static func < (l: FaultKind, r: FaultKind) -> Bool { l.rawValue < r.rawValue }

    public static let dmaRead: FaultKind = "dma-read"
    public static let dmaWrite: FaultKind = "dma-write"
    public static let interruptRemapping: FaultKind = "intr-remap"
    public static let pageRequest: FaultKind = "page-request"
    public static let invalidationError: FaultKind = "invalidation-error"

    /// `IO_PAGE_FAULT` → `io-page-fault`, `F_TRANSLATION` → `f-translation`.
    public init(kernelEventName name: some StringProtocol) {
        // Only ASCII bytes change, into ASCII bytes, so the result stays UTF-8.
        let bytes = name.utf8.map { c in c == UInt8(ascii: "_") ? UInt8(ascii: "-") : (c &- 0x41 < 26 ? c + 32 : c) }
        self.rawValue = String(decoding: bytes, as: UTF8.self)
    }
}

/// One fault the kernel reported, as classified from its log record(s).
public struct Fault: Sendable, Hashable {
    public var vendor: Vendor
    public var kind: FaultKind
    /// Recoverable: the device waits for a reply (page request, stall) — kernel-formats.md §8.1.
    public var recoverable: Bool
    /// The endpoint, when the line names it (or the topology resolved it).
    public var device: PCIAddress?
    /// True when `device` was inferred (SMMUv3 StreamID taken as requester id), not printed.
    public var deviceAssumed: Bool = false
    /// The faulting master's kernel device name when it is not a PCI function
    /// (`ff8f0000.vop`, a Qualcomm client), as the line prints it.
    public var master: String?
    /// The remapping unit: first what the line names (dmarN, ivhdN, the SMMU's device name),
    /// then the sysfs unit name once the topology resolved it.
    public var unit: String?
    /// Raw source id / StreamID when the line gives one (SMMU StreamID, virtio-iommu endpoint,
    /// MediaTek larb/port id, …): kept in its own field, a device only where the topology maps it.
    public var sourceID: UInt32?
    /// A hardware client the line names that is no kernel device (Tegra MC memory client).
    public var client: String?
    /// Proven by an incomplete group: the kernel printed more records for this fault than the
    /// input holds (a lone SMMUv3 event header, a follow-up whose header is gone, an event whose
    /// detail lines never came at the end of a replay). What the records seen say is filled in.
    public var partial: Bool = false
    public var reason: UInt16?
    public var reasonText: String?
    public var owner: Owner?
    public var address: UInt64?
    public var pasid: UInt32?
    public var access: Access?
    /// Driver name from a `<driver> SSSS:BB:DD.F: ` prefix, when present.
    public var driver: String?
    /// Vendor-specific decoded detail (AMD flags, SMMU class, …), for people, not for labels.
    public var detail: String?
    /// kmsg sequence number of the record that completed this fault (nil for pasted text).
    public var seq: UInt64?
    /// kmsg timestamp (µs since boot, monotonic) of that record.
    public var timestampUsec: UInt64?
    /// The `[[expected]]` rule the fault matched, set when the pipeline counts it (nil: none).
    public var expectedRule: String?
    /// The kernel's text (several records joined with newlines for multi-record events).
    public var text: String

    public init(
        vendor: Vendor, kind: FaultKind, recoverable: Bool, device: PCIAddress? = nil, unit: String? = nil,
        sourceID: UInt32? = nil, reason: UInt16? = nil, reasonText: String? = nil, owner: Owner? = nil,
        address: UInt64? = nil, pasid: UInt32? = nil, access: Access? = nil, driver: String? = nil,
        detail: String? = nil, seq: UInt64? = nil, timestampUsec: UInt64? = nil, text: String
    ) {
        self.vendor = vendor
        self.kind = kind
        self.recoverable = recoverable
        self.device = device
        self.unit = unit
        self.sourceID = sourceID
        self.reason = reason
        self.reasonText = reasonText
        self.owner = owner
        self.address = address
        self.pasid = pasid
        self.access = access
        self.driver = driver
        self.detail = detail
        self.seq = seq
        self.timestampUsec = timestampUsec
        self.text = text
    }

    /// The `device` label: the PCI address, else the master's name, else nil.
    public var deviceLabel: String? { device?.description ?? master }

    /// The reason as the contract spells it: `0x06`.
    public var reasonString: String? { reason.map { hex0x(UInt64($0), width: 2) } }
}
