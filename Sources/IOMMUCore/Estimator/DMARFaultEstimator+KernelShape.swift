extension DMARFaultEstimator {
    /// The shape of `dmar_fault()` and `___ratelimit()` in the running kernel (its raw value is
    /// how `[estimate] intel_ratelimit` and the checkpoint name it).
    public enum KernelShape: String, Sendable, Equatable, CaseIterable {
        /// Before v4.7: no ratelimit, every record is printed.
        case unlimited
        /// v4.7 – v4.18 (c43fce4eebae "iommu/vt-d: Ratelimit fault handler"): one `__ratelimit()`
        /// per handler run, gating its status line and all its records; N counts interrupts.
        case perInterrupt = "per-interrupt"
        /// v4.19 – v6.15 ("iommu/vt-d: Ratelimit each dmar fault printing"): one call for the
        /// status line and one per loop iteration. A call that finds the state's lock taken (two
        /// units' handlers at once) is refused and NOT counted in N.
        case perCall = "per-call"
        /// v6.16+ (the 2025 lib/ratelimit.c rework): as `perCall`, and contended calls are
        /// counted in N too.
        case perCallCountsContention = "per-call-counts-contention"

        /// The shape upstream has at this release (`uname -r`, e.g. `6.1.0-18-amd64`). Distribution
        /// kernels may carry the v4.19 change earlier (SUSE backported it to 4.4 and 4.12).
        public static func forRelease(_ release: String) -> KernelShape {
            var parts: [Int] = []
            var n = 0
            var digits = false
            for c in release.utf8 {
                if c >= 0x30 && c <= 0x39 {
                    n = min(n, 100_000) * 10 + Int(c - 0x30)  // saturates: a version number is small
                    digits = true
                } else {
                    if digits { parts.append(n) }
                    n = 0
                    digits = false
                    if c != UInt8(ascii: ".") || parts.count >= 2 { break }
                }
            }
            if digits && parts.count < 2 { parts.append(n) }
            guard parts.count >= 2 else { return .perCall }
            let v = (parts[0], parts[1])
            if v < (4, 7) { return .unlimited }
            if v < (4, 19) { return .perInterrupt }
            if v < (6, 16) { return .perCall }
            return .perCallCountsContention
        }
    }
}
