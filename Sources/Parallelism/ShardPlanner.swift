// Which slice of the model each tensor-parallel rank holds (DESIGN §3, §5).
//
// Attention is split by whole KV-head groups (a KV head with its query heads), so attention is
// local to a rank; an uneven count is fine (SmolLM2's 3 groups over 2 ranks: 2 + 1). The FFN
// columns are then split so that each rank's total work — its attention projections plus its
// FFN columns — is as equal as possible, not just its head count. FFN boundaries fall on
// multiples of the quantization block (64 for NF4, or the stored format's block when larger),
// so every rank's slice is made of whole blocks of the single-rank layout. The vocabulary
// (embedding and head rows) is split evenly.
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
        let c = config.hiddenSize, d = config.headDim, f = config.intermediateSize, v = config.vocabSize
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

        // Work in multiply-adds per token: a KV group's q, k, v, o projections plus its heads'
        // causal attention (q heads × 2·T·D at a nominal sequence length; a fixed T keeps the
        // plan — and so checkpoint slices — the same for every run), and one FFN column's
        // gate, up and down.
        let groupWork = Double((2 * q + 2) * d * c) + Double(q * 2 * nominalSequenceLength * d)
        let columnWork = Double(3 * c)
        let units = (f + columnAlignment - 1) / columnAlignment
        let totalWork = Double(g) * groupWork + Double(f) * columnWork
        var ffnRanges: [Range<Int>] = []
        var unitStart = 0
        for rank in 0..<tp {
            let remainingUnits = units - unitStart
            let ranksLeft = tp - rank
            var take: Int
            if ranksLeft == 1 {
                take = remainingUnits
            } else {
                let want = (totalWork / Double(tp) - Double(kvRanges[rank].count) * groupWork) / (columnWork * Double(columnAlignment))
                take = Int(want.rounded())
                // Keep at least one unit for every later rank when there are enough.
                take = max(0, min(take, remainingUnits - min(ranksLeft - 1, remainingUnits)))
            }
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

    /// Relative work of each shard (1 = an even share), for reports and tests.
    public static func workShares(_ shards: [LlamaShard], _ config: LlamaConfig) -> [Double] {
        let q = config.numAttentionHeads / max(config.numKeyValueHeads, 1)
        let groupWork = Double((2 * q + 2) * config.headDim * config.hiddenSize)
            + Double(q * 2 * nominalSequenceLength * config.headDim)
        let work = shards.map { shard in
            groupWork * Double(shard.kvHeads.count) + Double(3 * config.hiddenSize * shard.ffnColumns.count)
        }
        let mean = work.reduce(0, +) / Double(max(work.count, 1))
        return work.map { $0 / mean }
    }
}
