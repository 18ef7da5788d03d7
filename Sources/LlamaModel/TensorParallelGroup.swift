// The collectives the model needs inside a tensor-parallel group, as a protocol so the model
// code stays free of MPI: Parallelism supplies an MPI-backed group, and a group of one is a
// no-op, so one rank runs the same code as many (docs/architecture.md §3).

/// Sum and max reductions (and a load-time gather) over the ranks of a tensor-parallel group.
public protocol TensorParallelGroup: AnyObject, Sendable {
    /// This rank's index in the group.
    var rank: Int { get }
    /// Ranks in the group.
    var size: Int { get }
    /// In-place element-wise sum over the group.
    func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// In-place element-wise max over the group.
    func allReduceMax(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// Every rank's `values` (counts may differ), in rank order, bit for bit. Used at load
    /// (global double-quantization statistics), never in the step loop.
    func allGather(_ values: [Float]) throws -> [[Float]]
    /// Starts sending `count` floats to group rank `peer`; returns a handle for `waitTransfer`.
    /// The buffer stays untouched until then. Used for the k/v of a KV head two ranks share.
    func startSend(_ buffer: UnsafePointer<Float>, count: Int, to peer: Int, tag: Int) throws -> Int
    /// Starts receiving `count` floats from group rank `peer`; read the buffer after `waitTransfer`.
    func startReceive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from peer: Int, tag: Int) throws -> Int
    /// Completes a started send or receive.
    func waitTransfer(_ handle: Int) throws
}

extension TensorParallelGroup {
    /// Groups without point-to-point transfers: only shards that hand KV heads over need them.
    public func startSend(_ buffer: UnsafePointer<Float>, count: Int, to peer: Int, tag: Int) throws -> Int {
        throw LlamaModelError.invalidInput("this tensor-parallel group has no point-to-point transfers; plan shards without KV head transfers")
    }
    public func startReceive(_ buffer: UnsafeMutablePointer<Float>, count: Int, from peer: Int, tag: Int) throws -> Int {
        throw LlamaModelError.invalidInput("this tensor-parallel group has no point-to-point transfers; plan shards without KV head transfers")
    }
    public func waitTransfer(_ handle: Int) throws {
        throw LlamaModelError.invalidInput("this tensor-parallel group has no point-to-point transfers")
    }
}

extension TensorParallelGroup {
    /// A gather built from two sum-reductions, for groups without a native one: each rank adds
    /// its values into a zeroed buffer at its own offset, and `x + 0 = x` keeps them exact
    /// (except that -0 would come back as +0). Counts travel as floats, exact below 2^24.
    public func allGather(_ values: [Float]) throws -> [[Float]] {
        guard size > 1 else { return [values] }
        guard values.count < 1 << 24 else {
            throw LlamaModelError.invalidWeights("allGather of \(values.count) values needs a group with a native gather")
        }
        var counts = [Float](repeating: 0, count: size)
        counts[rank] = Float(values.count)
        try counts.withUnsafeMutableBufferPointer { p in
            if let base = p.baseAddress { try allReduceSum(base, count: size) }
        }
        let sizes = counts.map { Int($0) }
        var offsets = [0]
        for n in sizes { offsets.append(offsets[offsets.count - 1] + n) }
        var all = [Float](repeating: 0, count: offsets[size])
        try all.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            for (i, v) in values.enumerated() { base[offsets[rank] + i] = v }
            try allReduceSum(base, count: offsets[size])
        }
        return (0..<size).map { Array(all[offsets[$0]..<offsets[$0 + 1]]) }
    }
}

/// The group of one: every reduction is the identity.
public final class SingleRankGroup: TensorParallelGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func allReduceMax(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {}
    public func allGather(_ values: [Float]) throws -> [[Float]] { [values] }
}
