// Which slice of the model each tensor-parallel rank holds (DESIGN §3, §5).
//
// Attention is split by whole KV-head groups (a KV head with its query heads), so attention is
// local to a rank; an uneven count is fine (SmolLM2's 3 groups over 2 ranks: 2 + 1). The FFN
// columns are split evenly. Why not give the rank with fewer heads more FFN columns so totals
// match: a layer synchronises twice (the allReduce after o_proj and after down_proj), so a step
// takes Σ over those two segments of the SLOWEST rank's work, and shifting FFN columns onto the
// rank that is fast in attention only lengthens the FFN segment. For SmolLM2 at tp 2 the
// total-balancing split (640 + 896 columns) predicted 1.64× and measured 1.61× one rank, with
// ~15% of the step waiting in allReduce; the even split predicts 1.81× (`stepShares`). The
// first ranks take the extra KV group, the last ranks the extra FFN column blocks. FFN
// boundaries fall on multiples of the quantization block (64 for NF4, or the stored format's
// block when larger), so every rank's slice is made of whole blocks of the single-rank layout.
// The vocabulary (embedding and head rows) is split evenly.
// Legend: C = hidden, D = head dim, G = KV heads, q = query heads per KV head, F = FFN size.
import LlamaModel

public enum ShardPlanner {
    /// Sequence length at which attention's share of a rank's work is weighed.
    public static let nominalSequenceLength = 256

    /// One shard per TP rank, in rank order.
    ///
    /// - Parameters:
    ///   - columnAlignment: FFN boundaries are multiples of this (block size of the down
    ///     projection's row layout).
    public static func plan(_ config: LlamaConfig, tp: Int, columnAlignment: Int = 64) throws(ParallelismError) -> [LlamaShard] {
        let g = config.numKeyValueHeads, q = config.numAttentionHeads / max(g, 1)
        let d = config.headDim, f = config.intermediateSize, v = config.vocabSize
        guard tp >= 1 else { throw .invalidMesh("tp must be at least 1, got \(tp)") }
        guard tp <= g else {
            throw .unshardable("tp \(tp) exceeds the model's \(g) key/value heads (attention is split by whole KV-head groups); the largest tp that works is \(g)")
        }
        guard columnAlignment >= 1 else { throw .invalidMesh("column alignment must be positive") }

        // KV-head groups: the first (g % tp) ranks take one more.
        var kvRanges: [Range<Int>] = []
        var start = 0
        for rank in 0..<tp {
            let count = g / tp + (rank < g % tp ? 1 : 0)
            kvRanges.append(start..<(start + count))
            start += count
        }

        // FFN column blocks: an even share each, the last (units % tp) ranks one more.
        let units = (f + columnAlignment - 1) / columnAlignment
        var ffnRanges: [Range<Int>] = []
        var unitStart = 0
        for rank in 0..<tp {
            let take = units / tp + (rank >= tp - units % tp ? 1 : 0)
            let lower = min(unitStart * columnAlignment, f)
            let upper = min((unitStart + take) * columnAlignment, f)
            ffnRanges.append(lower..<upper)
            unitStart += take
        }

        var shards: [LlamaShard] = []
        for rank in 0..<tp {
            let vocabLower = v * rank / tp, vocabUpper = v * (rank + 1) / tp
            shards.append(LlamaShard(kvHeads: kvRanges[rank], ffnColumns: ffnRanges[rank], vocabRows: vocabLower..<vocabUpper,
                                     queriesPerKVHead: q, headDim: d))
        }
        return shards
    }

    /// Multiply-adds per token of one KV group: its q, k, v, o projections plus its heads' causal
    /// attention (q heads × 2·T·D at a nominal sequence length).
    static func groupWork(_ config: LlamaConfig) -> Double {
        let q = config.numAttentionHeads / max(config.numKeyValueHeads, 1)
        return Double((2 * q + 2) * config.headDim * config.hiddenSize)
            + Double(q * 2 * nominalSequenceLength * config.headDim)
    }

    /// Relative total work of each shard (1 = an even share), for reports and tests.
    public static func workShares(_ shards: [LlamaShard], _ config: LlamaConfig) -> [Double] {
        let work = shards.map { shard in
            groupWork(config) * Double(shard.kvHeads.count) + Double(3 * config.hiddenSize * shard.ffnColumns.count)
        }
        let mean = work.reduce(0, +) / Double(max(work.count, 1))
        return work.map { $0 / mean }
    }

    /// Predicted step time of a layer on these shards relative to one rank, when every rank
    /// waits for the slowest at the two allReduces of a layer: (max attention work + max FFN
    /// work) / the single rank's work. Its inverse is the predicted tensor-parallel speed-up.
    public static func stepShare(_ shards: [LlamaShard], _ config: LlamaConfig) -> Double {
        let attention = shards.map { groupWork(config) * Double($0.kvHeads.count) }.max() ?? 0
        let ffn = shards.map { Double(3 * config.hiddenSize * $0.ffnColumns.count) }.max() ?? 0
        let whole = groupWork(config) * Double(config.numKeyValueHeads) + Double(3 * config.hiddenSize * config.intermediateSize)
        return (attention + ffn) / whole
    }
}
