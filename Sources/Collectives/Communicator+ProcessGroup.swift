// The MPI-backed process group (docs/architecture.md §3): a communicator is a `ProcessGroup`.
// The collectives are Communicator's own (Communicator+Collectives.swift, PendingReduction.swift);
// the nonblocking point-to-point transfers go through the communicator's own `TransferSlots`.
import ProcessGroups

extension Communicator: ProcessGroup {
    /// Starts sending `count` floats to `peer`; the buffer stays untouched until `waitTransfer`.
    public func startSend(_ buffer: UnsafePointer<Float>, count: Int, to peer: Int, tag: Int) throws(CollectivesError) -> Int {
        try transfers.startSend(buffer, count: count, to: peer, tag: tag)
    }

    /// Starts receiving `count` floats from `peer`; read the buffer only after `waitTransfer`.
    public func startReceive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from peer: Int, tag: Int) throws(CollectivesError) -> Int {
        try transfers.startReceive(buffer, count: count, from: peer, tag: tag)
    }

    /// Completes a started send or receive.
    public func waitTransfer(_ handle: Int) throws(CollectivesError) {
        try transfers.wait(handle)
    }
}
