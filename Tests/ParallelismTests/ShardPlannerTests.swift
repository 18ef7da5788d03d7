import Testing
@testable import Parallelism
import LlamaModel
import ModelIO

@Suite struct ShardPlannerTests {
    let smol = LlamaConfig(hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9,
                           numKeyValueHeads: 3, rmsNormEps: 1e-5, ropeTheta: 100_000, vocabSize: 49152,
                           maxPositionEmbeddings: 8192, tieWordEmbeddings: true)

    @Test func oneRankHoldsEverything() throws {
        let shards = try ShardPlanner.plan(smol, tp: 1)
        #expect(shards == [LlamaShard.whole(smol)])
    }

    @Test(arguments: [2, 3, 4, 9])
    func shardsCoverTheModelExactlyOnce(_ tp: Int) throws {
        let shards = try ShardPlanner.plan(smol, tp: tp)
        #expect(shards.count == tp)
        #expect(shards.first?.queryHeads.lowerBound == 0 && shards.last?.queryHeads.upperBound == 9)
        #expect(shards.first?.kvHeads.lowerBound == 0 && shards.last?.kvHeads.upperBound == 3)
        #expect(shards.first?.ffnColumns.lowerBound == 0 && shards.last?.ffnColumns.upperBound == 1536)
        #expect(shards.first?.vocabRows.lowerBound == 0 && shards.last?.vocabRows.upperBound == 49152)
        for (a, b) in zip(shards, shards.dropFirst()) {
            #expect(a.queryHeads.upperBound == b.queryHeads.lowerBound)
            // KV heads are contiguous and overlap by at most the one group a split falls in.
            #expect(b.kvHeads.lowerBound == a.kvHeads.upperBound || b.kvHeads.lowerBound == a.kvHeads.upperBound - 1)
            #expect(a.ffnColumns.upperBound == b.ffnColumns.lowerBound)
            #expect(a.vocabRows.upperBound == b.vocabRows.lowerBound)
        }
        // FFN boundaries fall on NF4 blocks.
        for shard in shards { #expect(shard.ffnColumns.lowerBound % 64 == 0) }
    }

    @Test func queryHeadsSplitEvenlySharingAKVGroup() throws {
        let shards = try ShardPlanner.plan(smol, tp: 2)
        // 5 + 4 query heads; the middle KV group (heads 3, 4 | 5) is held by both ranks.
        #expect(shards.map(\.queryHeads) == [0..<5, 5..<9])
        #expect(shards.map(\.kvHeads) == [0..<2, 1..<3])
        #expect(shards.map { $0.localKVHead(ofLocalQueryHead: 0) } == [0, 0])
        #expect(shards[0].localKVHead(ofLocalQueryHead: 4) == 1 && shards[1].localKVHead(ofLocalQueryHead: 3) == 1)
        // Each layer waits for the slowest rank twice, so FFN columns are split evenly rather than
        // shifted onto the rank with fewer heads (which would lengthen the FFN segment).
        #expect(shards.map(\.ffnColumns.count) == [768, 768])
        // Rank 1 (fewer query heads) projects the shared KV head and hands it to rank 0.
        #expect(shards.map(\.computedKVHeads) == [0..<1, 1..<3])
        #expect(shards[0].keyValueTransfers == [.init(kvHead: 1, peer: 1, sends: false)])
        #expect(shards[1].keyValueTransfers == [.init(kvHead: 1, peer: 0, sends: true)])
        #expect(shards[0].computedKeyValueRowsLocal == 0..<64 && shards[1].computedKeyValueRowsLocal == 0..<128)
        #expect(abs(1 / ShardPlanner.stepShare(shards, smol) - 1.983) < 0.001)
        // Both projecting it: 1.910×.
        let both = shards.map {
            LlamaShard(queryHeads: $0.queryHeads, ffnColumns: $0.ffnColumns, vocabRows: $0.vocabRows, queriesPerKVHead: 3, headDim: 64)
        }
        #expect(abs(1 / ShardPlanner.stepShare(both, smol) - 1.910) < 0.001)
        // Whole KV groups (2 + 1) with the even FFN split: 1.81×; with the total-balancing FFN
        // split (640 + 896 columns): 1.64×.
        let groups = [LlamaShard(kvHeads: 0..<2, ffnColumns: 0..<768, vocabRows: 0..<24576, queriesPerKVHead: 3, headDim: 64),
                      LlamaShard(kvHeads: 2..<3, ffnColumns: 768..<1536, vocabRows: 24576..<49152, queriesPerKVHead: 3, headDim: 64)]
        #expect(abs(1 / ShardPlanner.stepShare(groups, smol) - 1.814) < 0.001)
        let old = [LlamaShard(kvHeads: 0..<2, ffnColumns: 0..<640, vocabRows: 0..<24576, queriesPerKVHead: 3, headDim: 64),
                   LlamaShard(kvHeads: 2..<3, ffnColumns: 640..<1536, vocabRows: 24576..<49152, queriesPerKVHead: 3, headDim: 64)]
        #expect(abs(1 / ShardPlanner.stepShare(old, smol) - 1.643) < 0.001)
        #expect(ShardPlanner.workShares(old, smol).allSatisfy { abs($0 - 1) < 0.05 })
        // Extra FFN blocks go to the last ranks (which have fewer heads): 24 blocks over 5 ranks.
        let wide = LlamaConfig(hiddenSize: 640, intermediateSize: 1536, numHiddenLayers: 2, numAttentionHeads: 10,
                               numKeyValueHeads: 5, vocabSize: 100)
        #expect(try ShardPlanner.plan(wide, tp: 5).map(\.ffnColumns.count) == [256, 320, 320, 320, 320])
    }

    @Test func tpBeyondTheKVHeadsSharesThem() throws {
        // 4 ranks over 3 KV groups: heads 3 + 2 + 2 + 2; groups 1 and 2 are each held twice.
        let shards = try ShardPlanner.plan(smol, tp: 4)
        #expect(shards.map(\.queryHeads) == [0..<3, 3..<5, 5..<7, 7..<9])
        #expect(shards.map(\.kvHeads) == [0..<1, 1..<2, 1..<3, 2..<3])
        // Each shared head is projected once, by the lighter holder so far (ties: the lower rank):
        // group 1 by rank 1, group 2 by rank 2; rank 3 projects none.
        #expect(shards.map(\.computedKVHeads) == [0..<1, 1..<2, 2..<3, 3..<3])
        #expect(shards[2].keyValueTransfers == [.init(kvHead: 1, peer: 1, sends: false), .init(kvHead: 2, peer: 3, sends: true)])
        #expect(shards[3].computedKeyValueRowsLocal.isEmpty)
    }

    @Test func heavierRanksKeepTheirQueries() throws {
        let keeps = { (tp: Int) in
            let shards = try ShardPlanner.plan(self.smol, tp: tp)
            return shards.indices.map { ShardPlanner.keepsQueries(shards, rank: $0, self.smol) }
        }
        #expect(try keeps(1) == [false])
        #expect(try keeps(2) == [true, false])                 // 5 + 4 heads
        #expect(try keeps(3) == [false, false, false])         // whole groups, even
        #expect(try keeps(4) == [true, false, false, false])   // 3 heads / 1 KV projected, 2 / 1, 2 / 1, 2 / 0
    }

    @Test func tpBeyondTheHeadsNamesTheLargestThatWorks() {
        #expect(throws: ParallelismError.unshardable("tp 10 exceeds the model's 9 attention heads (every rank needs at least one); the largest tp that works is 9")) {
            try ShardPlanner.plan(smol, tp: 10)
        }
    }

    @Test func meshMustDivideTheWorld() throws {
        #expect(try MeshShape(world: 6, tp: 3).dp == 2)
        #expect(throws: ParallelismError.self) { try MeshShape(world: 4, tp: 3) }
        let shape = try MeshShape(world: 4, tp: 2)
        #expect(shape.coordinates(ofWorldRank: 3) == (tp: 1, dp: 1))
    }
}
