import CLinux
import Foundation
import Glibc
import IOMMUCore
import IOMMUDaemon
import Testing

/// A scratch directory removed at the end of the test.
final class TempDir {
    let path: String

    init(_ prefix: String = "iommud-test") {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    deinit { _ = try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ text: String) -> String {
        let p = path + "/" + name
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }
}

/// Picks a free loopback TCP port.
func freePort() -> Int {
    for _ in 0..<50 {
        let port = Int.random(in: 20000..<60000)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if ok == 0 { return port }
    }
    return 10_999
}

/// One HTTP GET over loopback TCP; (status, body).
func httpGet(port: Int, path: String) -> (Int, String)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard rc == 0 else { return nil }
    let req = "GET \(path) HTTP/1.0\r\nHost: localhost\r\n\r\n"
    _ = req.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    var data = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        data.append(contentsOf: buf[0..<n])
    }
    let text = String(decoding: data, as: UTF8.self)
    guard let sep = text.range(of: "\r\n\r\n") else { return nil }
    let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
    return (status, String(text[sep.upperBound...]))
}

/// Writes lines into the kernel log the way the tests must: one open per line (the kernel
/// ratelimits 10 writes per 5 s per open file) and level 6 (levels 0–3 also go to the slow
/// serial console). They arrive as facility 1, which only the test switch counts.
enum Kmsg {
    static func inject(_ line: String) {
        let fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC)
        precondition(fd >= 0, "cannot open /dev/kmsg for writing")
        defer { close(fd) }
        let record = "<14>" + line + "\n"
        _ = record.withCString { write(fd, $0, strlen($0)) }
    }

    /// The kernel ring buffer size (klogctl(10)), for pacing.
    static var ringSize: Int { Int(clinux_klog_buffer_size()) }

    /// A device bus nothing in the ring buffer mentions yet (it keeps old records of earlier
    /// runs and of other tests on this machine).
    static func uniqueBus() -> UInt8 {
        let ring = currentRecords()
        let used = Set(
            ring.split(separator: "\n").compactMap { line -> UInt8? in
                guard let r = line.range(of: "Request device [") else { return nil }
                var rest = line[r.upperBound...]
                if rest.hasPrefix("0x") { rest = rest.dropFirst(2) }
                let parts = rest.split(separator: ":")
                // [bb:dd.f] or [ssss:bb:dd.f]
                let bus = parts.count >= 3 ? parts[1] : parts.first ?? ""
                return UInt8(bus.prefix(2), radix: 16)
            })
        for _ in 0..<1000 {
            let b = UInt8.random(in: 0x20...0xef)
            if !used.contains(b) && !ring.contains(String(b, radix: 16).leftPad(2) + ":") { return b }
        }
        return UInt8.random(in: 0x20...0xef)
    }

    /// Every record in the ring buffer now (a non-blocking read from the oldest).
    static func currentRecords() -> String {
        let fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var out = ""
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 {
                out += String(decoding: buf[0..<n], as: UTF8.self)
                continue
            }
            if n < 0 && errno == EPIPE { continue }
            break
        }
        return out
    }
}

/// Parsed Prometheus text exposition.
struct Scrape {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    var samples: [Sample] = []
    let text: String

    init(_ text: String) {
        self.text = text
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            var name = ""
            var labels: [String: String] = [:]
            var rest = Substring(line)
            if let brace = line.firstIndex(of: "{") {
                name = String(line[..<brace])
                let close = line.lastIndex(of: "}")!
                var body = line[line.index(after: brace)..<close]
                while let eq = body.firstIndex(of: "=") {
                    let key = String(body[..<eq]).trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                    var i = body.index(eq, offsetBy: 2)
                    var value = ""
                    while i < body.endIndex && body[i] != "\"" {
                        if body[i] == "\\" { i = body.index(after: i) }
                        value.append(body[i])
                        i = body.index(after: i)
                    }
                    labels[key] = value
                    body = i < body.endIndex ? body[body.index(after: i)...] : ""
                }
                rest = line[line.index(after: close)...]
            } else {
                let parts = line.split(separator: " ")
                name = String(parts[0])
                rest = parts.count > 1 ? parts[1] : ""
            }
            let value = Double(rest.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") ?? .nan
            samples.append(Sample(name: name, labels: labels, value: value))
        }
    }

    func sum(_ name: String, where match: [String: String] = [:]) -> Double {
        samples.filter { s in s.name == name && match.allSatisfy { s.labels[$0.key] == $0.value } }.reduce(0) {
            $0 + $1.value
        }
    }

    func series(_ name: String) -> [Sample] { samples.filter { $0.name == name } }
}

/// A kmsg "ring buffer" the test controls: a regular file of kmsg records the daemon reads from
/// the start (as it reads /dev/kmsg from the oldest record) and follows with inotify. Losses,
/// restarts and kills can be exercised at any volume without touching the host's ring buffer.
final class RecordFile {
    let path: String
    private(set) var seq: UInt64
    var ts: UInt64 = 1_000_000
    let handle: FileHandle

    init(path: String, firstSeq: UInt64 = 0) {
        self.path = path
        seq = firstSeq
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        handle = FileHandle(forWritingAtPath: path)!
        handle.seekToEndOfFile()
    }

    /// Appends one record and returns its seq.
    @discardableResult
    func append(level: Int = 3, _ text: String, dictionary: [String] = []) -> UInt64 {
        let s = seq
        seq += 1
        ts += 137
        var rec = "\(level),\(s),\(ts),-;\(text)\n"
        for d in dictionary { rec += " \(d)\n" }
        handle.write(Data(rec.utf8))
        return s
    }

    /// Leaves a hole in the sequence, as records overwritten in the ring would.
    func skip(_ n: UInt64) { seq += n }

    deinit { try? handle.close() }
}

/// What the test wrote, per (device, kind): the truth the daemon must match exactly.
struct Truth {
    var counts: [String: [String: Int]] = [:]
    mutating func add(_ device: String, _ kind: String) { counts[device, default: [:]][kind, default: 0] += 1 }
    var total: Int { counts.values.flatMap(\.values).reduce(0, +) }
}

/// A datagram socket standing in for systemd's notify socket.
final class NotifySocket {
    let path: String
    let fd: Int32

    init(path: String) {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
    }

    func receive(timeoutMs: Int32) -> String? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeoutMs) > 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    deinit {
        close(fd)
        unlink(path)
    }
}
