import Testing
@testable import Parallelism
import LlamaModel

@Suite struct ShardPlannerTests {
    let smol = LlamaConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9,
                           numKeyValueHeads: 3, rmsNormEps: 1e-5, ropeTheta: 100_000, vocabSize: 49152,
                           maxPositionEmbeddings: 8192, tieWordEmbeddings: true)

    @Test func oneRankHoldsEverything() throws {
        let shards = try ShardPlanner.plan(smol, tp: 1)
        #expect(shards == [LlamaShard.whole(smol)])
    }

    @Test(arguments: [2, 3])
    func shardsCoverTheModelExactlyOnce(_ tp: Int) throws {
        let shards = try ShardPlanner.plan(smol, tp: tp)
        #expect(shards.count == tp)
        #expect(shards.first?.kvHeads.lowerBound == 0 && shards.last?.kvHeads.upperBound == 3)
        #expect(shards.first?.ffnColumns.lowerBound == 0 && shards.last?.ffnColumns.upperBound == 1536)
        #expect(shards.first?.vocabRows.lowerBound == 0 && shards.last?.vocabRows.upperBound == 49152)
        for (a, b) in zip(shards, shards.dropFirst()) {
            #expect(a.kvHeads.upperBound == b.kvHeads.lowerBound)
            #expect(a.ffnColumns.upperBound == b.ffnColumns.lowerBound)
            #expect(a.vocabRows.upperBound == b.vocabRows.lowerBound)
        }
        // FFN boundaries fall on NF4 blocks.
        for shard in shards { #expect(shard.ffnColumns.lowerBound % 64 == 0) }
    }

    @Test func unevenHeadsKeepAnEvenFFNSplit() throws {
        let shards = try ShardPlanner.plan(smol, tp: 2)
        #expect(shards.map(\.kvHeads.count) == [2, 1])
        // Each layer waits for the slowest rank twice, so FFN columns are split evenly rather than
        // shifted onto the rank with fewer heads (which would lengthen the FFN segment).
        #expect(shards.map(\.ffnColumns.count) == [768, 768])
        #expect(abs(1 / ShardPlanner.stepShare(shards, smol) - 1.814) < 0.001)
        // The total-balancing split it replaces: 640 + 896 columns, 1.64×.
        let old = [LlamaShard(kvHeads: 0..<2, ffnColumns: 0..<640, vocabRows: 0..<24576, queriesPerKVHead: 3, headDim: 64),
                   LlamaShard(kvHeads: 2..<3, ffnColumns: 640..<1536, vocabRows: 24576..<49152, queriesPerKVHead: 3, headDim: 64)]
        #expect(abs(1 / ShardPlanner.stepShare(old, smol) - 1.643) < 0.001)
        #expect(ShardPlanner.workShares(old, smol).allSatisfy { abs($0 - 1) < 0.05 })
        // Extra FFN blocks go to the last ranks (which have fewer heads): 24 blocks over 5 ranks.
        let wide = LlamaConfig(hiddenSize: 640, intermediateSize: 1536, numHiddenLayers: 2, numAttentionHeads: 10,
                               numKeyValueHeads: 5, vocabSize: 100)
        #expect(try ShardPlanner.plan(wide, tp: 5).map(\.ffnColumns.count) == [256, 320, 320, 320, 320])
    }

    @Test func tpBeyondTheKVHeadsNamesTheLargestThatWorks() {
        #expect(throws: ParallelismError.unshardable("tp 4 exceeds the model's 3 key/value heads (attention is split by whole KV-head groups); the largest tp that works is 3")) {
            try ShardPlanner.plan(smol, tp: 4)
        }
    }

    @Test func meshMustDivideTheWorld() throws {
        #expect(try MeshShape(world: 6, tp: 3).dp == 2)
        #expect(throws: ParallelismError.self) { try MeshShape(world: 4, tp: 3) }
        let shape = try MeshShape(world: 4, tp: 2)
        #expect(shape.coordinates(ofWorldRank: 3) == (tp: 1, dp: 1))
    }
}
