// One protocol for every group of ranks that computes together (docs/architecture.md §3): the
// tensor-parallel group the model reduces over, the data-parallel group the gradients are summed
// over, and the world. The model, the gradient synchronizer and the trainer call only this, so
// they never see MPI: Collectives makes `Communicator` a group (MPI), `SingleRankGroup` is the
// group of one (every collective the identity), and the tests join threads with an in-memory
// group (Tests/TestSupport/ThreadedProcessGroup.swift). This module depends on nothing, so the
// lowest modules that need a group (LlamaModel, Collectives) can both see it.

/// Element types a group can reduce, gather and broadcast.
public protocol GroupScalar: BitwiseCopyable, Sendable {
    /// Which of the supported types this is (an implementation maps it to its own datatype).
    static var groupScalarKind: GroupScalarKind { get }
}

/// The element types of `GroupScalar`.
public enum GroupScalarKind: Sendable, Equatable {
    case float32, float64, int32, int64, uint8
}

extension Float: GroupScalar { public static var groupScalarKind: GroupScalarKind { .float32 } }
extension Double: GroupScalar { public static var groupScalarKind: GroupScalarKind { .float64 } }
extension Int32: GroupScalar { public static var groupScalarKind: GroupScalarKind { .int32 } }
extension Int64: GroupScalar { public static var groupScalarKind: GroupScalarKind { .int64 } }
extension UInt8: GroupScalar { public static var groupScalarKind: GroupScalarKind { .uint8 } }

/// A reduction applied element-wise across ranks.
public enum ReduceOperation: Sendable, CustomStringConvertible {
    case sum, max, min

    public var description: String {
        switch self {
        case .sum: return "sum"
        case .max: return "max"
        case .min: return "min"
        }
    }
}

/// An allReduce in flight (`ProcessGroup.startAllReduce`). Call `wait()` before reading the
/// buffer; the buffer must stay alive and untouched until then.
public protocol PendingReduction: AnyObject {
    /// True once `wait()` or a successful `test()` has completed the reduction.
    var isComplete: Bool { get }
    /// Blocks until the reduction has finished on this rank.
    func wait() throws
    /// Advances progress without blocking; true when the reduction has finished.
    func test() throws -> Bool
}

/// `size` ranks that run the same sequence of collectives; this one is `rank`.
/// Every rank of a group must call the collectives in the same order with matching counts.
public protocol ProcessGroup: AnyObject, Sendable {
    /// This rank's index in the group, `0..<size`.
    var rank: Int { get }
    /// Ranks in the group.
    var size: Int { get }

    /// Combines `buffer` element-wise across the ranks with `op`, in place on every rank.
    func allReduce<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation) throws
    /// Starts an in-place allReduce of `buffer` and returns at once (the overlapped data-parallel
    /// gradient reduction). Ranks start their reductions in the same order.
    func startAllReduce<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation) throws -> any PendingReduction
    /// Gathers blocks of different sizes: rank r contributes `counts[r]` elements, concatenated
    /// in rank order into `destination`, bit for bit.
    func allGatherV<T: GroupScalar>(_ source: UnsafeBufferPointer<T>, counts: [Int], into destination: UnsafeMutableBufferPointer<T>) throws
    /// Copies `buffer` from `root` to every rank (each passes a buffer of the same count).
    func broadcast<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) throws

    /// Starts sending `count` floats to group rank `peer`; returns a handle for `waitTransfer`.
    /// The buffer stays untouched until then. Used for the k/v of a KV head two TP ranks share.
    func startSend(_ buffer: UnsafePointer<Float>, count: Int, to peer: Int, tag: Int) throws -> Int
    /// Starts receiving `count` floats from group rank `peer`; read the buffer after `waitTransfer`.
    func startReceive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from peer: Int, tag: Int) throws -> Int
    /// Completes a started send or receive.
    func waitTransfer(_ handle: Int) throws
}

/// Misuse of a group that every implementation reports the same way.
public enum ProcessGroupError: Error, Equatable, CustomStringConvertible {
    /// A call's arguments are inconsistent on this rank (counts, peers, roots).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidArgument(let detail): return "invalid collective call: \(detail)"
        }
    }
}

// MARK: Conveniences, the same for every group

extension ProcessGroup {
    /// True on rank 0.
    public var isRoot: Bool { rank == 0 }

    /// In-place element-wise sum of `count` floats over the group (the model's reductions).
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        try allReduce(UnsafeMutableBufferPointer(start: buffer, count: count), .sum)
    }

    /// In-place element-wise max of `count` floats over the group.
    public func allReduceMax(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        try allReduce(UnsafeMutableBufferPointer(start: buffer, count: count), .max)
    }

    /// The element-wise combination of `values` across the ranks.
    public func allReduce<T: GroupScalar>(_ values: [T], _ op: ReduceOperation) throws -> [T] {
        var result = values
        try result.withUnsafeMutableBufferPointer { try allReduce($0, op) }
        return result
    }

    /// Every rank's `values` (counts may differ), in rank order, bit for bit: the counts first,
    /// then one variable-size gather.
    public func allGatherV<T: GroupScalar>(_ values: [T]) throws -> [[T]] {
        guard size > 1 else { return [values] }
        var counts64 = [Int64](repeating: 0, count: size)
        try [Int64(values.count)].withUnsafeBufferPointer { source in
            try counts64.withUnsafeMutableBufferPointer { destination in
                try allGatherV(source, counts: [Int](repeating: 1, count: size), into: destination)
            }
        }
        let counts = counts64.map { Int($0) }
        var all = [T](unsafeUninitializedCapacity: counts.reduce(0, +)) { _, n in n = counts.reduce(0, +) }
        try values.withUnsafeBufferPointer { source in
            try all.withUnsafeMutableBufferPointer { destination in
                try allGatherV(source, counts: counts, into: destination)
            }
        }
        var out: [[T]] = []
        var start = 0
        for n in counts {
            out.append(Array(all[start..<(start + n)]))
            start += n
        }
        return out
    }
}

// MARK: The group of one

/// A reduction of a group of one: complete when started.
public final class CompletedReduction: PendingReduction {
    public init() {}
    public var isComplete: Bool { true }
    public func wait() throws {}
    public func test() throws -> Bool { true }
}

/// The group of one: every collective is the identity, so one rank runs the code of many.
public final class SingleRankGroup: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }

    public func allReduce<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation) throws {}

    public func startAllReduce<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation) throws -> any PendingReduction {
        CompletedReduction()
    }

    public func allGatherV<T: GroupScalar>(_ source: UnsafeBufferPointer<T>, counts: [Int], into destination: UnsafeMutableBufferPointer<T>) throws {
        guard counts == [source.count], destination.count == source.count else {
            throw ProcessGroupError.invalidArgument("allGatherV on a group of one: counts \(counts), source \(source.count), destination \(destination.count)")
        }
        if let base = source.baseAddress { destination.baseAddress?.update(from: base, count: source.count) }
    }

    public func broadcast<T: GroupScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int) throws {
        guard root == 0 else { throw ProcessGroupError.invalidArgument("broadcast: root \(root) is outside 0..<1") }
    }

    public func startSend(_ buffer: UnsafePointer<Float>, count: Int, to peer: Int, tag: Int) throws -> Int {
        throw ProcessGroupError.invalidArgument("a group of one has no peer to send to; plan shards without KV head transfers")
    }

    public func startReceive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from peer: Int, tag: Int) throws -> Int {
        throw ProcessGroupError.invalidArgument("a group of one has no peer to receive from; plan shards without KV head transfers")
    }

    public func waitTransfer(_ handle: Int) throws {
        throw ProcessGroupError.invalidArgument("a group of one has no transfers to wait for")
    }
}
