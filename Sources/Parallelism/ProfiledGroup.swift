// The group the model's training step computes with: any process group, with the step's
// reductions and transfer waits counted as communication in the step profile (`StepProfile`,
// `tessera bench train`). ProcessGroups and Collectives cannot see Kernels, so the timing lives
// in this wrapper. A group of one skips the reductions (they are the identity).
import Kernels
import ProcessGroups

/// `inner`, with allReduce and `waitTransfer` timed as `.communication`.
public final class ProfiledGroup: ProcessGroup {
    public let inner: any ProcessGroup

    public init(_ inner: any ProcessGroup) { self.inner = inner }

    public var rank: Int { inner.rank }
    public var size: Int { inner.size }

    public func allReduce<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation) throws {
        guard size > 1 else { return }
        try StepProfile.measure(.communication) { try inner.allReduce(buffer, op) }
    }

    public func startAllReduce<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation) throws -> any PendingReduction {
        try inner.startAllReduce(buffer, op)
    }

    public func allGatherV<T: GroupScalar>(_ source: UnsafeBufferPointer<T>, counts: [Int], into destination: UnsafeMutableBufferPointer<T>) throws {
        try inner.allGatherV(source, counts: counts, into: destination)
    }

    public func broadcast<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) throws {
        try inner.broadcast(buffer, root: root)
    }

    public func startSend(_ buffer: UnsafePointer<Float>, count: Int, to peer: Int, tag: Int) throws -> Int {
        try inner.startSend(buffer, count: count, to: peer, tag: tag)
    }

    public func startReceive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from peer: Int, tag: Int) throws -> Int {
        try inner.startReceive(buffer, count: count, from: peer, tag: tag)
    }

    /// Waiting is communication time (the step profile counts it so).
    public func waitTransfer(_ handle: Int) throws {
        try StepProfile.measure(.communication) { try inner.waitTransfer(handle) }
    }
}
