// The two communication mappings of tensor parallelism, as Megatron-LM names them
// (`copy_to_tensor_model_parallel_region` f and `reduce_from_tensor_model_parallel_region` g),
// each with its forward and its backward side by side. They are conjugates: what one does in
// the forward the other does in the backward, so every collective the layers run is one of
// these four calls, and a reader can check the pairing in one place. For a group of one every
// call is the identity. Legend: N = tokens, W = width of the replicated activation.

/// A conjugate pair of tensor-parallel communications over a replicated activation `[N, W]`.
public enum TensorParallelMapping: Sendable {
    /// Entering a column-parallel region (the shared input of q, k, v or gate, up): every rank
    /// already holds the whole input, so the forward is the identity; each rank's input
    /// gradient is a partial sum over its slice of the outputs, so the backward allReduces it.
    case copyToRegion
    /// Leaving a row-parallel region (the output of o_proj, down_proj, the LoRA bottleneck of a
    /// row-parallel module, the vocab-parallel embedding): each rank holds a partial sum, so the
    /// forward allReduces it; the gradient of a replicated output is already whole on every
    /// rank, so the backward is the identity.
    case reduceFromRegion

    /// The forward communication over `x` (`[rows, columns]` with leading dimension `ld`).
    public func forward(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ld: Int? = nil,
                        group: ProcessGroup) throws {
        if self == .reduceFromRegion { try Self.allReduceSum(x, rows: rows, columns: columns, ld: ld ?? columns, group) }
    }

    /// The backward communication over the gradient `dx` (same layout as `forward`).
    public func backward(_ dx: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ld: Int? = nil,
                         group: ProcessGroup) throws {
        if self == .copyToRegion { try Self.allReduceSum(dx, rows: rows, columns: columns, ld: ld ?? columns, group) }
    }

    /// allReduceSum of `[rows, columns]` stored with leading dimension `ld` (one call when dense).
    private static func allReduceSum(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ld: Int,
                                     _ group: ProcessGroup) throws {
        guard group.size > 1 else { return }
        if ld == columns { try group.allReduceSum(x, count: rows * columns); return }
        for t in 0..<rows { try group.allReduceSum(x + t * ld, count: columns) }
    }
}
