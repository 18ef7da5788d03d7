// The collectives the model needs inside a tensor-parallel group, as a protocol so the model
// code stays free of MPI: Parallelism supplies an MPI-backed group, and a group of one is a
// no-op, so one rank runs the same code as many (DESIGN §3, STYLE habit 6).

/// Sum and max reductions over the ranks of a tensor-parallel group.
public protocol TensorParallelGroup: AnyObject, Sendable {
    /// This rank's index in the group.
    var rank: Int { get }
    /// Ranks in the group.
    var size: Int { get }
    /// In-place element-wise sum over the group.
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// In-place element-wise max over the group.
    func allReduceMax(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
}

/// The group of one: every reduction is the identity.
public final class SingleRankGroup: TensorParallelGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func allReduceMax(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
}
