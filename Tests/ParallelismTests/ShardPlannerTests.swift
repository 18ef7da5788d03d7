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

    @Test func unevenHeadsAreBalancedWithFFNColumns() throws {
        let shards = try ShardPlanner.plan(smol, tp: 2)
        #expect(shards.map(\.kvHeads.count) == [2, 1])
        // The rank with fewer heads takes more FFN columns.
        #expect(shards[1].ffnColumns.count > shards[0].ffnColumns.count)
        let shares = ShardPlanner.workShares(shards, smol)
        #expect(shares.allSatisfy { abs($0 - 1) < 0.05 }, "work shares \(shares)")
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
