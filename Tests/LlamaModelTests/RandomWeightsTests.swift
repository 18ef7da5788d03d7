// Random weights for shapes without a checkpoint (LlamaWeights+Random.swift): a rank's slice is
// exactly the matching part of the single-rank random model (NF4 codes and double-quantized
// scales byte for byte, fp32 values and bf16 embedding rows bit for bit), the values are small
// (std 0.02, as HF initialises), the seed changes them, and the model runs.

import Foundation
import ProcessGroups
import Testing
import TestSupport
import Kernels
@testable import LlamaModel
@testable import ModelIO
import Quantization

@Suite struct RandomWeightsTests {
    /// 4 query heads of 64 in 2 KV groups, FFN 512, vocab 512: tp 2 splits heads 2 + 2 and FFN
    /// 256 + 256, tp 4 one head and 128 FFN columns each (o_proj slices of 64 columns: whole NF4 blocks).
    let config = LlamaConfig(hiddenSize: 256, intermediateSize: 512, numHiddenLayers: 2, numAttentionHeads: 4,
                             numKeyValueHeads: 2, vocabSize: 512)

    func shards(tp: Int) -> [LlamaShard] {
        (0..<tp).map { r in
            LlamaShard(queryHeads: (4 * r / tp)..<(4 * (r + 1) / tp), ffnColumns: (512 * r / tp)..<(512 * (r + 1) / tp),
                       vocabRows: (512 * r / tp)..<(512 * (r + 1) / tp), queriesPerKVHead: 2, headDim: config.headDim)
        }
    }

    func ranks(_ shards: [LlamaShard], _ target: BaseQuantization, seed: UInt64 = 0) throws -> [LlamaWeights] {
        let groups = ThreadedHub.groups(size: shards.count)
        let config = self.config
        return try runOnThreads(shards.count) { rank in
            try LlamaWeights.random(config: config, shard: shards[rank], target: target, group: groups[rank], seed: seed, threads: 1)
        }.map { try $0.get() }
    }

    @Test(arguments: [2, 4])
    func nf4SlicesEqualTheSingleRankModel(_ tp: Int) throws {
        let whole = try LlamaWeights.random(config: config, shard: .whole(config), target: .default, group: SingleRankGroup())
        let shards = shards(tp: tp)
        let local = try ranks(shards, .default)
        for (rank, shard) in shards.enumerated() {
            for l in 0..<config.numHiddenLayers {
                let full = whole.layers[l].linears, mine = local[rank].layers[l].linears
                for i in 0..<7 {
                    let (rows, columns) = LlamaWeights.sliceRanges(i, shard, config)
                    let expected = try #require(full[i].nf4).sliced(full[i].nf4BlockSlice(rows: rows, columns: columns))
                    #expect(try #require(mine[i].nf4) == expected, "rank \(rank) \(mine[i].name)")
                    #expect(mine[i].storageDescription == "NF4+DQ")
                }
            }
            let v = shard.vocabRows, c = config.hiddenSize
            #expect(try local[rank].embedding.dequantized() == Array(try whole.embedding.dequantized()[(v.lowerBound * c)..<(v.upperBound * c)]))
        }
    }

    @Test func fp32SlicesAreTheSameValues() throws {
        let whole = try LlamaWeights.random(config: config, shard: .whole(config), target: .none, group: SingleRankGroup())
        let shards = shards(tp: 2)
        let local = try ranks(shards, .none)
        for (rank, shard) in shards.enumerated() {
            for i in 0..<7 {
                let (rows, columns) = LlamaWeights.sliceRanges(i, shard, config)
                let full = whole.layers[1].linears[i]
                let values = try full.dequantized()
                let cut = rows.flatMap { r in values[(r * full.columns + columns.lowerBound)..<(r * full.columns + columns.upperBound)] }
                #expect(try local[rank].layers[1].linears[i].dequantized().map(\.bitPattern) == cut.map(\.bitPattern))
            }
        }
    }

    /// Small values, std about 0.02, mean about 0, bf16-representable; a new seed, new values;
    /// norms are ones.
    @Test func valuesAreSmallAndSeeded() throws {
        let weights = try LlamaWeights.random(config: config, shard: .whole(config), target: .none, group: SingleRankGroup())
        let values = try weights.layers[0].gate.dequantized()
        let mean = values.reduce(0, +) / Float(values.count)
        let std = (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
        #expect(abs(mean) < 0.001 && abs(std - 0.02) < 0.001, "mean \(mean), std \(std)")
        #expect(values.allSatisfy { BFloat16.toFloat(BFloat16.fromFloat($0)) == $0 && abs($0) < 0.07 })
        #expect(weights.layers[0].attentionNorm.array.allSatisfy { $0 == 1 })
        let other = try LlamaWeights.random(config: config, shard: .whole(config), target: .none, group: SingleRankGroup(), seed: 1)
        #expect(try other.layers[0].gate.dequantized() != values)
    }

    /// A model on random weights runs: its loss is finite and near that of uniform logits, ln V
    /// (small weights, so small logits).
    @Test func randomModelRuns() throws {
        let weights = try LlamaWeights.random(config: config, shard: .whole(config), target: .default, group: SingleRankGroup())
        let model = try Llama(config: config, weights: weights, maxPositions: 16)
        let result = try model.evaluate(sequences: [[1, 2, 3, 4, 5, 6, 7, 8]])
        #expect(result.loss.isFinite && abs(result.loss - log(512)) < 0.5, "loss \(result.loss)")
    }
}
