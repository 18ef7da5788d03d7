// The training step on a tiny model (4 query heads in 2 KV groups) split over two or three
// "ranks" (threads joined by TestSupport's in-memory ThreadedProcessGroup), against the same
// step on one rank: loss, and every LoRA gradient once the partial ones (column-parallel gradA, the k/v
// gradB rows of a shared KV head) are reduced. Splits: whole KV groups (heads 2 + 2), a KV group
// split between ranks (heads 3 + 1), and three ranks with both groups split (1 + 2 + 1); a
// shared KV head projected by every holder or handed over by one (either end); uneven FFN and
// vocab slices; with and without dropout; every checkpointing mode, rank 0 keeping q. The MPI
// group (a Communicator) runs the same model code.

import Foundation
import Kernels
import ProcessGroups
import Testing
import TestSupport
@testable import LlamaModel
@testable import ModelIO

/// Rows `rows` and columns `columns` of a `[R, C]` row-major matrix.
private func slice(_ values: [Float], columnsTotal: Int, rows: Range<Int>, columns: Range<Int>) -> [Float] {
    rows.flatMap { r in columns.map { values[r * columnsTotal + $0] } }
}

/// This shard's slice of a full model (what the loader of a TP rank will produce).
private func shardModel(_ full: Llama, _ shard: LlamaShard) throws -> Llama {
    let cfg = full.config, c = cfg.hiddenSize
    func cut(_ m: FrozenMatrix, rows: Range<Int>? = nil, columns: Range<Int>? = nil) throws -> FrozenMatrix {
        let r = rows ?? 0..<m.rows, k = columns ?? 0..<m.columns
        return try FrozenMatrix(name: m.name, rows: r.count, columns: k.count,
                                values: slice(try m.dequantized(), columnsTotal: m.columns, rows: r, columns: k))
    }
    func cut(_ b: FloatBuffer?, _ range: Range<Int>) -> FloatBuffer? { b.map { FloatBuffer(Array($0.array[range])) } }
    let q = shard.queryRows, kv = shard.keyValueRows, f = shard.ffnColumns
    let layers = try full.weights.layers.map { w in
        LlamaLayerWeights(attentionNorm: w.attentionNorm, q: try cut(w.q, rows: q), k: try cut(w.k, rows: kv),
                          v: try cut(w.v, rows: kv), o: try cut(w.o, columns: q),
                          qBias: cut(w.qBias, q), kBias: cut(w.kBias, kv), vBias: cut(w.vBias, kv),
                          ffnNorm: w.ffnNorm, gate: try cut(w.gate, rows: f), up: try cut(w.up, rows: f),
                          down: try cut(w.down, columns: f))
    }
    let embedding = try cut(full.weights.embedding, rows: shard.vocabRows)
    precondition(embedding.columns == c)
    let weights = LlamaWeights(embedding: embedding, layers: layers, outputNorm: full.weights.outputNorm,
                               output: embedding, ropeFrequencyFactors: nil)
    return try Llama(config: cfg, weights: weights)
}

/// A shard's factors: column-parallel keep A and slice B by rows; row-parallel slice A by
/// columns and keep B.
private final class ShardAdapters: LowRankAdapters, @unchecked Sendable {
    var entries: [Int: TestLowRankAdapters.Entry] = [:]
    let rank: Int, scaling: Float, dropout: Float
    init(_ full: TestLowRankAdapters, config: LlamaConfig, shard: LlamaShard) {
        rank = full.rank; scaling = full.scaling; dropout = full.dropout
        for l in 0..<config.numHiddenLayers {
            for module in LinearModule.allCases {
                guard let e = full.entry(l, module) else { continue }
                let (i, o) = module.features(in: config)
                let local = Self.localRange(module, shard)
                let a = module.isRowParallel ? slice(e.a.array, columnsTotal: i, rows: 0..<rank, columns: local) : e.a.array
                let b = module.isRowParallel ? e.b.array : slice(e.b.array, columnsTotal: rank, rows: local, columns: 0..<rank)
                _ = o
                entries[l * 8 + module.order] = .init(a: FloatBuffer(a), b: FloatBuffer(b),
                                                      gradA: FloatBuffer(count: a.count), gradB: FloatBuffer(count: b.count))
            }
        }
    }
    /// Output rows (column-parallel) or input columns (row-parallel) held.
    static func localRange(_ module: LinearModule, _ shard: LlamaShard) -> Range<Int> {
        switch module {
        case .qProj, .oProj: return shard.queryRows
        case .kProj, .vProj: return shard.keyValueRows
        case .gateProj, .upProj, .downProj: return shard.ffnColumns
        }
    }
    func factors(layer: Int, module: LinearModule) -> LowRankFactors? {
        entries[layer * 8 + module.order].map {
            LowRankFactors(a: $0.a.pointer, b: $0.b.pointer, gradA: $0.gradA.pointer, gradB: $0.gradB.pointer,
                           rank: rank, scaling: scaling, dropout: dropout)
        }
    }
}

private final class RankResult: @unchecked Sendable {
    var loss: (lossSum: Double, counted: Int)?
    var error: Error?
}

@Suite struct TensorParallelTrainStepTests {
    static let splits: [[(heads: Range<Int>, ffn: Range<Int>, vocab: Range<Int>)]] = [
        [(0..<2, 0..<10, 0..<20), (2..<4, 10..<24, 20..<37)],
        [(0..<3, 0..<10, 0..<20), (3..<4, 10..<24, 20..<37)],
        [(0..<1, 0..<8, 0..<12), (1..<3, 8..<16, 12..<25), (3..<4, 16..<24, 25..<37)],
    ]

    /// Who projects a KV head several ranks hold: every holder (no hand-over), the lowest or
    /// the highest holder (the others receive it; split 1 with the lowest and split 2 with
    /// either leave a rank projecting no KV head at all).
    enum Projection: CaseIterable { case everyHolder, lowestHolder, highestHolder }

    static func shards(_ split: Int, _ projection: Projection, _ config: LlamaConfig) -> [LlamaShard] {
        let plain = splits[split].map {
            LlamaShard(queryHeads: $0.heads, ffnColumns: $0.ffn, vocabRows: $0.vocab, queriesPerKVHead: 2, headDim: config.headDim)
        }
        var transfers = [[LlamaShard.KeyValueTransfer]](repeating: [], count: plain.count)
        if projection != .everyHolder {
            for g in 0..<config.numKeyValueHeads {
                let holders = plain.indices.filter { plain[$0].kvHeads.contains(g) }
                guard holders.count > 1, let owner = projection == .lowestHolder ? holders.first : holders.last else { continue }
                for other in holders where other != owner {
                    transfers[owner].append(.init(kvHead: g, peer: other, sends: true))
                    transfers[other].append(.init(kvHead: g, peer: owner, sends: false))
                }
            }
        }
        return plain.indices.map {
            LlamaShard(queryHeads: plain[$0].queryHeads, ffnColumns: plain[$0].ffnColumns, vocabRows: plain[$0].vocabRows,
                       queriesPerKVHead: 2, headDim: config.headDim, keyValueTransfers: transfers[$0])
        }
    }

    @Test(arguments: [Float(0), 0.3], 0..<3)
    func ranksEqualOneRank(dropout: Float, split: Int) throws {
        for projection in Projection.allCases where split > 0 || projection == .everyHolder {
            for checkpointing in ActivationCheckpointing.allCases {
                try ranksEqualOneRank(dropout: dropout, shards: Self.shards(split, projection, tinyConfig(bias: true)),
                                      checkpointing: checkpointing)
            }
        }
    }

    func ranksEqualOneRank(dropout: Float, shards: [LlamaShard], checkpointing: ActivationCheckpointing) throws {
        let config = tinyConfig(bias: true)
        let full = try tinyLlama(config: config, seed: 3)
        let tp = shards.count
        let label = "\(checkpointing) checkpointing, \(shards)"
        var rng = RandomFloats(state: 8)
        let ids = (0..<45).map { _ in Int((rng.next() + 1) / 2 * 36) }
        let segments = [0..<12, 12..<45]
        let key = LoRADropoutKey(seed: 4, step: 9, sampleIndices: [3, 8])

        // One rank.
        let reference = TestLowRankAdapters(config: config, rank: 3, dropout: dropout)
        let ws = TrainingWorkspace(model: full, shard: .whole(config), maxTokens: 45, maxLoRARank: 3)
        let expected = try full.trainStep(ids: ids, labels: ids, segments: segments, shard: .whole(config),
                                          group: SingleRankGroup(), adapters: reference, lossScale: 0.1,
                                          dropout: key, workspace: ws)

        // tp ranks on tp threads.
        let groups = ThreadedHub.groups(size: tp)
        let models = try shards.map { try shardModel(full, $0) }
        let adapters = shards.map { ShardAdapters(reference, config: config, shard: $0) }
        for a in adapters { for e in a.entries.values { e.gradA.zero(); e.gradB.zero() } }
        let results = shards.map { _ in RankResult() }
        let done = DispatchSemaphore(value: 0)
        for rank in 0..<tp {
            let model = models[rank], shard = shards[rank], adapter = adapters[rank], result = results[rank]
            let thread = Thread {
                do {
                    let group = groups[rank]
                    let ws = TrainingWorkspace(model: model, shard: shard, maxTokens: 45, maxLoRARank: 3,
                                               checkpointing: checkpointing, keepQuery: rank == 0)
                    result.loss = try model.trainStep(ids: ids, labels: ids, segments: segments, shard: shard, group: group,
                                                      adapters: adapter, lossScale: 0.1, dropout: key, workspace: ws)
                    try model.allReduceTensorParallelPartialGradients(adapters: adapter, shard: shard, group: group)
                } catch { result.error = error }
                done.signal()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        for _ in 0..<tp { done.wait() }
        for (rank, result) in results.enumerated() {
            #expect(result.error == nil, "rank \(rank): \(String(describing: result.error)); \(label)")
            let got = try #require(result.loss)
            #expect(got.counted == expected.counted)
            #expect(abs(got.lossSum - expected.lossSum) <= 1e-5 * abs(expected.lossSum), "rank \(rank): \(got.lossSum) vs \(expected.lossSum); \(label)")
        }

        // Every gradient: the shards' slices reassemble the one-rank gradient.
        for l in 0..<config.numHiddenLayers {
            for module in LinearModule.allCases {
                let e = try #require(reference.entry(l, module))
                let (i, _) = module.features(in: config)
                let r = reference.rank
                for (rank, shard) in shards.enumerated() {
                    let s = try #require(adapters[rank].entries[l * 8 + module.order])
                    let local = ShardAdapters.localRange(module, shard)
                    let expectA = module.isRowParallel
                        ? slice(e.gradA.array, columnsTotal: i, rows: 0..<r, columns: local) : e.gradA.array
                    let expectB = module.isRowParallel
                        ? e.gradB.array : slice(e.gradB.array, columnsTotal: r, rows: local, columns: 0..<r)
                    for (name, got, want) in [("A", s.gradA.array, expectA), ("B", s.gradB.array, expectB)] {
                        let scale = max(want.map { abs($0) }.max() ?? 0, 1e-6)
                        let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                        #expect(got.count == want.count && worst <= 1e-4 * scale,
                                "layer \(l) \(module) grad\(name) on rank \(rank): max difference \(worst) (scale \(scale)); \(label)")
                    }
                }
            }
        }
    }
}
