// libFuzzer target: the checkpoint file (CheckpointCodec): what the daemon reads back from its
// state directory at every start. Whatever the bytes, decoding returns a state or an error;
// a state decoded encodes and decodes to itself, and its counts are within their types.

@testable import IOMMUCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let state = try? CheckpointCodec.decode(text) else { return 0 }
    _ = state.ledger.totalFaults
    _ = state.ledger.unitFaults()
    _ = StatusReport(ledger: state.ledger, topology: Topology(), daemon: nil).json()
    _ = StatusReport(ledger: state.ledger, topology: Topology(), daemon: nil).text()
    let again = CheckpointCodec.encode(state)
    guard let back = try? CheckpointCodec.decode(again) else {
        preconditionFailure("a checkpoint the codec wrote does not read back")
    }
    precondition(back.ledger.totalFaults == state.ledger.totalFaults)
    precondition(back.ledger.expected.totalFaults == state.ledger.expected.totalFaults)
    precondition(CheckpointCodec.encode(back) == again, "encode(decode(encode(s))) != encode(s)")
    return 0
}
