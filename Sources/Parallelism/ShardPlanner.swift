// Which slice of the model each tensor-parallel rank holds (DESIGN §3, §5).
//
// Attention is split by query heads, evenly (the first H % tp ranks take one more). A rank
// holds the KV heads its query heads read; where a split falls inside a KV group, both
// neighbouring ranks hold that KV head and compute its k and v (a copy of 2·D·C multiply-adds
// per token each), and its k/v LoRA B rows are reduced over the group (DESIGN §4). Why not
// whole KV groups per rank: SmolLM2 has 9 query heads in 3 groups, and 2 + 1 groups at tp 2
// gave rank 0 two thirds of the attention half; the other rank waited at the allReduce after
// o_proj, and the step measured 1.71–1.75× one rank. 5 + 4 heads (the middle group shared)
// leaves rank 0 with 14/24 of the attention projections instead of 16/24. Splitting by heads
// also allows tp up to H (Megatron's KV replication, by a different route).
// The FFN columns are split evenly too. A layer synchronises twice (the allReduce after o_proj
// and after down_proj), so a step takes Σ over those two segments of the SLOWEST rank's work
// (`stepShare`); shifting FFN columns onto the rank that is fast in attention only lengthens
// the FFN segment (measured: 640 + 896 columns gave 1.61×, 768 + 768 1.71–1.75×). The last
// ranks take the extra FFN column blocks. FFN boundaries fall on multiples of the quantization
// block (64 for NF4, or the stored format's block when larger), so every rank's slice is made
// of whole blocks of the single-rank layout. The vocabulary (embedding and head rows) is split
// evenly.
// Legend: C = hidden, D = head dim, G = KV heads, H = query heads, F = FFN size.
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
        let g = config.numKeyValueHeads, h = config.numAttentionHeads, q = h / max(g, 1)
        let d = config.headDim, f = config.intermediateSize, v = config.vocabSize
        guard tp >= 1 else { throw .invalidMesh("tp must be at least 1, got \(tp)") }
        guard tp <= h else {
            throw .unshardable("tp \(tp) exceeds the model's \(h) attention heads (every rank needs at least one); the largest tp that works is \(h)")
        }
        guard columnAlignment >= 1 else { throw .invalidMesh("column alignment must be positive") }
        let units = (f + columnAlignment - 1) / columnAlignment
        guard tp <= units else {
            throw .unshardable("tp \(tp) exceeds the \(units) FFN column blocks of \(columnAlignment) (every rank needs at least one); the largest tp that works is \(min(h, units))")
        }

        // Query heads: the first (h % tp) ranks take one more.
        var headRanges: [Range<Int>] = []
        var start = 0
        for rank in 0..<tp {
            let count = h / tp + (rank < h % tp ? 1 : 0)
            headRanges.append(start..<(start + count))
            start += count
        }

        // FFN column blocks: an even share each, the last (units % tp) ranks one more.
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
            shards.append(LlamaShard(queryHeads: headRanges[rank], ffnColumns: ffnRanges[rank], vocabRows: vocabLower..<vocabUpper,
                                     queriesPerKVHead: q, headDim: d))
        }
        return shards
    }

    /// Whether TP rank `rank` keeps every layer's q under selective checkpointing instead of
    /// recomputing it in the backward: the ranks whose attention half is heavier than the
    /// lightest rank's (SmolLM2 at tp 2: rank 0, 5 query heads against 4). Every layer's
    /// attention segment waits for the slowest rank, so the q GEMM they skip (1/7 of rank 0's
    /// attention-half GEMMs at tp 2) shortens the step; it costs them (L - 1)·N·QL floats.
    public static func keepsQueries(_ shards: [LlamaShard], rank: Int, _ config: LlamaConfig) -> Bool {
        guard shards.indices.contains(rank), let lightest = shards.map({ attentionWork($0, config) }).min() else {
            return false
        }
        return attentionWork(shards[rank], config) > lightest
    }

    /// Multiply-adds per token of a shard's attention half: q and o for each query head, k and v
    /// for each KV head it reads, and each head's causal attention (2·T·D at a nominal sequence
    /// length).
    static func attentionWork(_ shard: LlamaShard, _ config: LlamaConfig) -> Double {
        let d = Double(config.headDim), c = Double(config.hiddenSize)
        return Double(shard.queryHeads.count) * (2 * d * c + 2 * Double(nominalSequenceLength) * d)
            + Double(shard.kvHeads.count) * 2 * d * c
    }

    /// Multiply-adds per token of a shard's FFN half (gate, up, down columns).
    static func ffnWork(_ shard: LlamaShard, _ config: LlamaConfig) -> Double {
        Double(3 * config.hiddenSize * shard.ffnColumns.count)
    }

    /// Relative total work of each shard (1 = an even share), for reports and tests.
    public static func workShares(_ shards: [LlamaShard], _ config: LlamaConfig) -> [Double] {
        let work = shards.map { attentionWork($0, config) + ffnWork($0, config) }
        let mean = work.reduce(0, +) / Double(max(work.count, 1))
        return work.map { $0 / mean }
    }

    /// Predicted step time of a layer on these shards relative to one rank, when every rank
    /// waits for the slowest at the two allReduces of a layer: (max attention work + max FFN
    /// work) / the single rank's work. Its inverse is the predicted tensor-parallel speed-up.
    public static func stepShare(_ shards: [LlamaShard], _ config: LlamaConfig) -> Double {
        let attention = shards.map { attentionWork($0, config) }.max() ?? 0
        let ffn = shards.map { ffnWork($0, config) }.max() ?? 0
        let whole = LlamaShard.whole(config)
        return (attention + ffn) / (attentionWork(whole, config) + ffnWork(whole, config))
    }
}
