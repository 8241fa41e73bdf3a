import IOMMUCore
import Prometheus

/// The families with a small, fixed number of series — per unit and vector, per kernel
/// function, the platform, the daemon itself, the process — exported through a swift-prometheus
/// registry, which owns their names, help texts, label escaping and formatting.
///
/// (The families that grow with the devices that faulted — `iommu_faults_total` and the
/// per-device ones — are written by `MetricsExporter.renderBulk` straight from the ledger:
/// registering a series in the registry copies its family's table, so thousands of devices cost
/// a quadratic number of copies; see BENCHMARKS.md.)
final class RegistryFamilies {
    let registry = PrometheusCollectorRegistry()
    /// Counters by family and label values, with the value last exported (counters are advanced
    /// by the difference: the ledger holds the totals).
    var counters: [String: (Counter, UInt64)] = [:]
    var gauges: [String: Gauge] = [:]
    /// Info series (value 1) whose labels can change (driver rebinds, a new mode): re-registered.
    var infos: [String: (Gauge, [(String, String)])] = [:]
    var cpu: (Counter, Double)?

    static func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: MetricsExporter.help[name] ?? name)
    }

    static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { $0 + "\u{0}" + $1.1 }
    }

    func counter(_ name: String, _ value: UInt64) { counter(name, [], value) }

    func counter(_ name: String, _ labels: [(String, String)], _ value: UInt64) {
        let k = Self.key(name, labels)
        var e =
            counters[k]
            ?? (
                labels.isEmpty
                    ? registry.makeCounter(descriptor: Self.descriptor(name))
                    : registry.makeCounter(descriptor: Self.descriptor(name), labels: labels), 0
            )
        if value > e.1 {
            e.0.increment(by: Int64(value - e.1))
            e.1 = value
        }
        counters[k] = e
    }

    func gauge(_ name: String, _ value: Double) {
        let g = gauges[name] ?? registry.makeGauge(descriptor: Self.descriptor(name))
        gauges[name] = g
        g.set(value)
    }

    /// An info series: `name{labels} 1`, one per `key`.
    func info(_ name: String, key: String, _ labels: [(String, String)]) {
        let k = name + "\u{0}" + key
        if let old = infos[k] {
            if old.1.elementsEqual(labels, by: { $0 == $1 }) { return }
            registry.unregisterGauge(old.0)
        }
        let g = registry.makeGauge(descriptor: Self.descriptor(name), labels: labels)
        g.set(Int64(1))
        infos[k] = (g, labels)
    }

    /// Process CPU time is read, not counted: the counter is advanced to it.
    func cpuSeconds(_ seconds: Double) {
        if cpu == nil { cpu = (registry.makeCounter(descriptor: Self.descriptor("process_cpu_seconds_total")), 0) }
        if seconds > cpu!.1 {
            cpu!.0.increment(by: seconds - cpu!.1)
            cpu!.1 = seconds
        }
    }

    func emit(into out: inout [UInt8]) { registry.emit(into: &out) }
}
