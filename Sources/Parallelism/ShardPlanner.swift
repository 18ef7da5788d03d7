// Which slice of the model each tensor-parallel rank holds (docs/architecture.md §5.1, §8).
//
// Attention is split by query heads, evenly (the first H % tp ranks take one more). A rank
// holds the KV heads its query heads read; where a split falls inside a KV group, both
// neighbouring ranks hold that KV head, one of them (the lighter) projects its k and v and
// sends them to the other, which returns its partial dk, dv in the backward (tp 2 on SmolLM2,
// alternating runs: 591–599 tokens/s with both projecting it, 601–605 with the hand-over); its
// k/v LoRA B rows are reduced over the group (docs/architecture.md §5.3). Why not
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

        let transfers = keyValueTransfers(headRanges: headRanges, config)
        var shards: [LlamaShard] = []
        for rank in 0..<tp {
            let vocabLower = v * rank / tp, vocabUpper = v * (rank + 1) / tp
            shards.append(LlamaShard(queryHeads: headRanges[rank], ffnColumns: ffnRanges[rank], vocabRows: vocabLower..<vocabUpper,
                                     queriesPerKVHead: q, headDim: d, keyValueTransfers: transfers[rank]))
        }
        return shards
    }

    /// Who projects each KV head held by several ranks: one owner per head, the holder whose
    /// attention half is lightest so far (heads in order; ties to the lower rank). The owner
    /// sends k, v to the other holders and gets their partial dk, dv back, so the head's
    /// projections run once instead of on every holder (SmolLM2 at tp 2: rank 1, 4 query heads,
    /// projects the shared middle head; rank 0, 5 query heads, projects one KV head).
    static func keyValueTransfers(headRanges: [Range<Int>], _ config: LlamaConfig) -> [[LlamaShard.KeyValueTransfer]] {
        let q = config.numAttentionHeads / max(config.numKeyValueHeads, 1)
        let plain = headRanges.map {
            LlamaShard(queryHeads: $0, ffnColumns: 0..<0, vocabRows: 0..<0, queriesPerKVHead: q, headDim: config.headDim)
        }
        let holders = (0..<config.numKeyValueHeads).map { g in plain.indices.filter { plain[$0].kvHeads.contains(g) } }
        // Work so far: query heads and the KV heads held by one rank only.
        var work = plain.indices.map { rank in
            Double(plain[rank].queryHeads.count) * queryHeadWork(config)
                + Double(plain[rank].kvHeads.filter { holders[$0].count == 1 }.count) * keyValueHeadWork(config)
        }
        var transfers = [[LlamaShard.KeyValueTransfer]](repeating: [], count: headRanges.count)
        for (g, ranks) in holders.enumerated() where ranks.count > 1 {
            guard let owner = ranks.min(by: { work[$0] < work[$1] || (work[$0] == work[$1] && $0 < $1) }) else { continue }
            work[owner] += keyValueHeadWork(config)
            for other in ranks where other != owner {
                transfers[owner].append(.init(kvHead: g, peer: other, sends: true))
                transfers[other].append(.init(kvHead: g, peer: owner, sends: false))
            }
        }
        return transfers
    }

    /// Whether TP rank `rank` keeps every layer's q under selective checkpointing instead of
    /// recomputing it in the backward's attention half, where every rank waits for the slowest.
    /// The lightest rank always recomputes (as one rank does); another keeps q only when its
    /// attention work plus the q GEMM would outlast both the heaviest rank's attention work
    /// and the lightest rank's with its recomputation. SmolLM2 at tp 2: rank 0 (5 query heads,
    /// 1 KV head projected) keeps, rank 1 (4, 2) recomputes; at tp 4 only rank 0 (3 heads)
    /// keeps. Keeping costs the rank (L - 1)·N·QL floats.
    public static func keepsQueries(_ shards: [LlamaShard], rank: Int, _ config: LlamaConfig) -> Bool {
        guard shards.indices.contains(rank) else { return false }
        let work = shards.map { attentionWork($0, config) }
        func recompute(_ shard: LlamaShard) -> Double { Double(shard.queryWidthLocal * config.hiddenSize) }
        guard let heaviest = work.max(), let lightest = work.indices.min(by: { work[$0] < work[$1] }) else { return false }
        let floor = max(heaviest, work[lightest] + recompute(shards[lightest]))
        return rank != lightest && work[rank] + recompute(shards[rank]) > floor
    }

    /// Multiply-adds per token of a shard's attention half: q and o for each query head, k and v
    /// for each KV head it projects, and each head's causal attention (2·T·D at a nominal
    /// sequence length).
    static func attentionWork(_ shard: LlamaShard, _ config: LlamaConfig) -> Double {
        Double(shard.queryHeads.count) * queryHeadWork(config) + Double(shard.computedKVHeads.count) * keyValueHeadWork(config)
    }

    /// Multiply-adds per token of one query head: its q and o columns and its attention.
    static func queryHeadWork(_ config: LlamaConfig) -> Double {
        let d = Double(config.headDim)
        return 2 * d * Double(config.hiddenSize) + 2 * Double(nominalSequenceLength) * d
    }

    /// Multiply-adds per token of projecting one KV head (its k and v columns).
    static func keyValueHeadWork(_ config: LlamaConfig) -> Double {
        2 * Double(config.headDim) * Double(config.hiddenSize)
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
