// Opening a model as one tensor-parallel rank: the file is mapped, and only this rank's slice of
// each matrix is read, converted and kept (LlamaWeights+Shard.swift).
import LlamaModel
import Kernels
import ProcessGroups

extension ModelPath {
    /// Opens the model holding only `shard`'s slice of the weights, the seven linears of every
    /// layer as `baseQuantization`. Every rank of `group` must call this together (double
    /// quantization gathers the block statistics over the group). The bytes a rank holds are
    /// exactly the matching slice of what `load(maxPositions:baseQuantization:threads:)` holds
    /// on one rank.
    public func load(maxPositions: Int? = nil, baseQuantization: BaseQuantization, shard: LlamaShard,
                     group: ProcessGroup, threads: Int = BLAS.threadCount) throws -> Llama {
        let stored = try load(maxPositions: maxPositions)   // mapped, nothing expanded yet
        let weights = try stored.weights.sharded(shard, config: stored.config, target: baseQuantization,
                                                 group: group, threads: threads)
        ProcessMemory.releaseFreedHeap()
        return try Llama(config: stored.config, weights: weights, maxPositions: stored.maxPositions)
    }
}
