// Tensor-parallel loading (ModelPath.load(shard:group:)): tp "ranks" run on threads joined by an
// in-memory group, and every rank's slice must be exactly the matching part of the single-rank
// model: NF4 codes, absmax, double-quant codes, offset and nested absmax byte for byte (compared
// with the single-rank tensor cut by NF4Tensor.sliced), dequantized values bit for bit, fp32
// (`none`) values bit for bit, embedding rows as stored; and the bytes a rank holds shrink as
// 1/tp. Synthetic cases cover NF4 sources (bnb checkpoints), nested blocks that straddle a
// slice, and the refusals.

import Foundation
import ProcessGroups
import Testing
import TestSupport
import Kernels
@testable import LlamaModel
@testable import ModelIO
import Quantization

/// Splits of SmolLM2 (9 query heads in 3 KV groups, FFN 1536, vocab 49152): at tp 2 and 4 the
/// query heads split inside KV groups (5 + 4; 3 + 2 + 2 + 2), so neighbouring ranks hold the
/// same k/v rows and send the same absmax; FFN bounds on multiples of 64 (704 is not a multiple
/// of 256: nested DQ blocks straddle ranks in every matrix anyway).
private func smolShards(tp: Int, _ config: LlamaConfig) -> [LlamaShard] {
    let heads: [Range<Int>], ffn: [Range<Int>]
    switch tp {
    case 2: (heads, ffn) = ([0..<5, 5..<9], [0..<704, 704..<1536])
    case 3: (heads, ffn) = ([0..<3, 3..<6, 6..<9], [0..<512, 512..<1024, 1024..<1536])
    default: (heads, ffn) = ([0..<3, 3..<5, 5..<7, 7..<9], [0..<384, 384..<768, 768..<1152, 1152..<1536])
    }
    let v = config.vocabSize
    return (0..<tp).map { r in
        LlamaShard(queryHeads: heads[r], ffnColumns: ffn[r], vocabRows: (v * r / tp)..<(v * (r + 1) / tp),
                   queriesPerKVHead: config.numAttentionHeads / config.numKeyValueHeads, headDim: config.headDim)
    }
}

/// Loads every rank's slice concurrently, one thread per rank, joined by an in-memory group.
private func loadRanks(_ shards: [LlamaShard], _ target: BaseQuantization) throws -> [Llama] {
    let groups = ThreadedHub.groups(size: shards.count)
    return try runOnThreads(shards.count) { rank in
        try ModelPath(TestPaths.defaultModel.path).load(maxPositions: 64, baseQuantization: target, shard: shards[rank],
                                                        group: groups[rank], threads: 1)
    }.map { try $0.get() }
}

/// Single-rank models, loaded once per representation.
private let singleRank: [BaseQuantization: Result<Llama, Error>] = {
    var out: [BaseQuantization: Result<Llama, Error>] = [:]
    for q in [BaseQuantization.default, .none] {
        out[q] = Result { try ModelPath(TestPaths.defaultModel.path).load(maxPositions: 64, baseQuantization: q) }
    }
    return out
}()

/// Rows `rows`, columns `columns` of a row-major `[*, total]` array.
private func cut(_ values: [Float], total: Int, rows: Range<Int>, columns: Range<Int>) -> [Float] {
    rows.flatMap { r in values[(r * total + columns.lowerBound)..<(r * total + columns.upperBound)] }
}

private func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct ShardedLoadTests {
    /// NF4 with double quantization, tp = 2 and 4 (shared KV heads) and tp = 3 (whole KV groups).
    @Test(arguments: [2, 3, 4])
    func nf4SlicesEqualTheSingleRankTensor(_ tp: Int) throws {
        let reference = try #require(singleRank[.default]).get()
        let config = reference.config
        let shards = smolShards(tp: tp, config)
        let ranks = try loadRanks(shards, .default)
        for l in 0..<config.numHiddenLayers {
            let full = reference.weights.layers[l].linears
            let fullValues = try full.map { try $0.dequantized() }
            for (rank, shard) in shards.enumerated() {
                let local = ranks[rank].weights.layers[l].linears
                for i in 0..<7 {
                    let (rows, columns) = LlamaWeights.sliceRanges(i, shard, config)
                    let place = try full[i].nf4BlockSlice(rows: rows, columns: columns)
                    let expected = try #require(full[i].nf4).sliced(place)
                    let got = try #require(local[i].nf4, "\(local[i].name) is not NF4")
                    // Codes, 8-bit scales, offset, nested absmax and block map: byte for byte.
                    #expect(got == expected, "rank \(rank) \(local[i].name)")
                    #expect(local[i].storageDescription == "NF4+DQ")
                    let want = cut(fullValues[i], total: full[i].columns, rows: rows, columns: columns)
                    #expect(bits(try local[i].dequantized()) == bits(want), "rank \(rank) \(local[i].name) values")
                }
            }
        }
        try checkEmbedding(reference, ranks, shards)
    }

    /// `--base-quant none`: each slice is the same fp32 values as the single-rank matrix.
    /// `stored`: each slice keeps the file's Q4_1 blocks (a view of the mapping for whole rows,
    /// the needed byte ranges for column slices) and the same values.
    @Test(arguments: [(BaseQuantization.none, "F32"), (.stored, "Q4_1")])
    func slicesKeepTheirFormatAndTheSingleRankValues(_ target: BaseQuantization, _ format: String) throws {
        let reference = try #require(singleRank[.none]).get()
        let config = reference.config
        let shards = smolShards(tp: 2, config)
        let ranks = try loadRanks(shards, target)
        for l in 0..<config.numHiddenLayers {
            let full = reference.weights.layers[l].linears
            for (rank, shard) in shards.enumerated() {
                let local = ranks[rank].weights.layers[l].linears
                for i in 0..<7 {
                    let (rows, columns) = LlamaWeights.sliceRanges(i, shard, config)
                    #expect(local[i].storageDescription == format, "\(local[i].name)")
                    let want = cut(try full[i].dequantized(), total: full[i].columns, rows: rows, columns: columns)
                    #expect(bits(try local[i].dequantized()) == bits(want), "rank \(rank) \(local[i].name)")
                }
            }
        }
        try checkEmbedding(reference, ranks, shards)
    }

    /// Bytes of the sliced base (linears, embedding = tied head) per rank.
    @Test func bytesPerRankScaleAsOneOverTP() throws {
        let reference = try #require(singleRank[.default]).get()
        let config = reference.config
        let one = reference.weights.baseStoredBytes(tiedEmbeddings: config.tieWordEmbeddings)
        for (tp, bound) in [(2, 0.55), (3, 0.40), (4, 0.30)] {
            let ranks = try loadRanks(smolShards(tp: tp, config), .default)
            for (rank, model) in ranks.enumerated() {
                let bytes = model.weights.baseStoredBytes(tiedEmbeddings: config.tieWordEmbeddings)
                #expect(Double(bytes) <= bound * Double(one), "tp \(tp) rank \(rank): \(bytes) of \(one) bytes")
            }
        }
    }

    /// Embedding (= tied head) rows as stored, biases absent for SmolLM2, norms whole.
    private func checkEmbedding(_ reference: Llama, _ ranks: [Llama], _ shards: [LlamaShard]) throws {
        let c = reference.config.hiddenSize
        var row = [Float](repeating: 0, count: c), want = row
        for (rank, shard) in shards.enumerated() {
            let e = ranks[rank].weights.embedding
            #expect(e.rows == shard.vocabRows.count && e.columns == c && e.type == reference.weights.embedding.type)
            for local in Array(stride(from: 0, to: e.rows, by: 97)) + [e.rows - 1] {
                try e.dequantizeRows(local, count: 1, into: &row)
                try reference.weights.embedding.dequantizeRows(shard.vocabRows.lowerBound + local, count: 1, into: &want)
                #expect(bits(row) == bits(want), "rank \(rank) embedding row \(local)")
            }
            #expect(ranks[rank].weights.outputNorm.array == reference.weights.outputNorm.array)
            #expect(ranks[rank].weights.layers[0].attentionNorm.array == reference.weights.layers[0].attentionNorm.array)
        }
    }
}

/// Slicing without a model file: NF4 sources (bitsandbytes checkpoints), the gathered double
/// quantization against the single-tensor one, and the refusals.
@Suite struct NF4SliceTests {
    /// [40, 640]: 10 blocks per row, 400 blocks, two nested blocks that straddle row 25.
    private func tensors() throws -> (plain: NF4Tensor, dq: NF4Tensor, values: [Float]) {
        var rng = RandomFloats(state: 17)
        let w = (0..<(40 * 640)).map { i in rng.next() * (0.05 + Float(i % 640) / 640) }   // scales vary per block
        return (try NF4Tensor(quantizing: w, shape: [40, 640], doubleQuantization: false),
                try NF4Tensor(quantizing: w, shape: [40, 640], doubleQuantization: true), w)
    }

    @Test(arguments: [(7..<23, 0..<640), (0..<40, 192..<448), (25..<40, 576..<640), (3..<4, 64..<128)])
    func gatheredDoubleQuantizationEqualsTheWholeTensors(_ rows: Range<Int>, _ columns: Range<Int>) throws {
        let (plain, dq, _) = try tensors()
        let place = try FrozenMatrix(name: "w", nf4: plain).nf4BlockSlice(rows: rows, columns: columns)
        guard case .plain(let absmax) = plain.scales else { Issue.record("not plain"); return }
        let gathered = absmax.withUnsafeBufferPointer { plain.sliced(place).doubleQuantized(as: place, globalAbsmax: $0) }
        #expect(gathered == dq.sliced(place))
        #expect(gathered.packed == plain.sliced(place).packed)
        // A bnb-style NF4 source sliced as a FrozenMatrix: the same values as the whole tensor's.
        for tensor in [plain, dq] {
            let slice = try FrozenMatrix(name: "w", nf4: tensor).sliced(rows: rows, columns: columns)
            #expect(bits(try slice.dequantized()) == bits(cut(tensor.dequantized(), total: 640, rows: rows, columns: columns)))
        }
        #expect(bits(gathered.dequantized()) == bits(cut(dq.dequantized(), total: 640, rows: rows, columns: columns)))
    }

    @Test func fp32SlicesCopyTheirValues() throws {
        let (_, _, w) = try tensors()
        let m = try FrozenMatrix(name: "w", rows: 40, columns: 640, values: w)
        let s = try m.sliced(rows: 5..<9, columns: 32..<100)
        #expect(try s.dequantized() == cut(w, total: 640, rows: 5..<9, columns: 32..<100))
        #expect(s.storedBytes == 4 * 4 * 68)
    }

    @Test func misalignedOrOutsideSlicesAreRefusedByName() throws {
        let m = try FrozenMatrix(name: "blk.4.attn_output.weight", rows: 8, columns: 128, values: [Float](repeating: 0.5, count: 8 * 128))
        let misaligned = #expect(throws: LlamaModelError.self) { try m.nf4BlockSlice(rows: 0..<8, columns: 0..<96) }
        #expect(misaligned?.description.contains("blk.4.attn_output.weight") == true)
        let outside = #expect(throws: LlamaModelError.self) { try m.sliced(rows: 4..<9, columns: 0..<128) }
        #expect(outside?.description.contains("blk.4.attn_output.weight") == true)
        let odd = try FrozenMatrix(name: "blk.0.mlp", rows: 2, columns: 96, values: [Float](repeating: 1, count: 192))
        #expect(throws: LlamaModelError.self) { try odd.nf4BlockSlice(rows: 0..<1, columns: 0..<96) }
    }
}

@Suite(.enabled(if: TestPaths.hasDefaultModel, TestPaths.needsDefaultModel))
struct ShardedLoadRefusalTests {
    /// An FFN bound off the 64-grid cannot give single-rank NF4 blocks: every rank refuses,
    /// naming the matrix, before any collective.
    @Test func ffnBoundOffTheBlockGridIsRefused() throws {
        let config = try ModelPath(TestPaths.defaultModel.path).load(maxPositions: 8).config
        let good = smolShards(tp: 2, config)
        let shards = good.map { s in
            LlamaShard(queryHeads: s.queryHeads, ffnColumns: s.ffnColumns.lowerBound == 0 ? 0..<480 : 480..<1536, vocabRows: s.vocabRows,
                       queriesPerKVHead: s.queriesPerKVHead, headDim: s.headDim)
        }
        let error = #expect(throws: LlamaModelError.self) { _ = try loadRanks(shards, .default) }
        #expect(error?.description.contains("blk.0.ffn_") == true, "\(String(describing: error))")
        // A part of the model with a group of one is refused too.
        let single = #expect(throws: LlamaModelError.self) {
            _ = try ModelPath(TestPaths.defaultModel.path).load(maxPositions: 8, baseQuantization: .none, shard: good[0], group: SingleRankGroup())
        }
        #expect(single?.description.contains("group") == true)
    }

    /// A KV head hand-over only one of its two ranks names would leave the other waiting in
    /// the step: every rank refuses at load, naming it.
    @Test func oneSidedKeyValueTransferIsRefused() throws {
        let config = try ModelPath(TestPaths.defaultModel.path).load(maxPositions: 8).config
        let good = smolShards(tp: 2, config)
        let shards = [LlamaShard(queryHeads: good[0].queryHeads, ffnColumns: good[0].ffnColumns, vocabRows: good[0].vocabRows,
                                 queriesPerKVHead: 3, headDim: config.headDim,
                                 keyValueTransfers: [.init(kvHead: 1, peer: 1, sends: false)]),
                      good[1]]
        let error = #expect(throws: LlamaModelError.self) { _ = try loadRanks(shards, .default) }
        #expect(error?.description.contains("rank 0 hands KV head 1 from rank 1, which does not expect it") == true,
                "\(String(describing: error))")
    }
}
