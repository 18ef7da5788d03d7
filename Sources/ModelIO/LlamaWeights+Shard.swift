// Tensor-parallel loading of the frozen base (docs/architecture.md §5.1, §8): each rank keeps only
// its slice of every matrix, and the bytes it keeps are exactly the matching part of what one rank
// would hold.
//   - Row slices: q [queryRows, C], k/v [keyValueRows, C], gate/up [ffnColumns, C], embedding
//     and head [vocabRows, C]. Column slices: o [C, queryRows], down [C, ffnColumns]. Biases
//     like their rows; norms whole. Embedding and head keep their stored precision.
//   - `.none`: the slice dequantized to owned fp32 (the same floats as the full matrix's).
//   - `.nf4`: only the slice is quantized; its 64-blocks are blocks of the full matrix (checked),
//     so codes and absmax match. Double quantization needs the full matrix's absmax array (its
//     torch-order mean and its nested blocks of 256): every rank gathers all ranks' absmax over
//     the TP group, places them by the ranks' shards and 8-bit-quantizes its own entries
//     (`DoubleQuantizedAbsmax(slicing:globalAbsmax:)`). Neighbouring ranks that share a KV head
//     hold the same k/v rows and send the same absmax for them, so placing both is harmless.
// One gather per layer (the seven matrices together) bounds the temporary absmax copy; the
// matrices of a layer are sliced and quantized on up to `threads` threads, the collectives run
// on the calling thread only.
// Legend: C = hidden, G = KV heads, D = head dim, F = FFN size, V = vocab, Kb = blocks per row.

import LlamaModel
import Dispatch
import Kernels
import ProcessGroups
import Quantization

extension LlamaWeights {
    /// This rank's slice of the weights, with the seven linear matrices of every layer held as
    /// `target`. `group` is the TP group; `shard` is this rank's entry of a plan whose shards
    /// tile the model (checked against the other ranks' shards when the group has more than one).
    /// With `.whole(config)` and a group of one the result equals `quantizedBase(target)`.
    public func sharded(_ shard: LlamaShard, config: LlamaConfig, target: BaseQuantization,
                        group: ProcessGroup, threads: Int = BLAS.threadCount) throws -> LlamaWeights {
        try Self.validate(shard, config)
        guard group.size > 1 || shard == .whole(config) else {
            throw LlamaModelError.invalidConfig("shard \(shard) is part of the model but the tensor-parallel group has one rank; a group of one holds the whole model")
        }
        let all = group.size > 1 ? try Self.gatherShards(shard, config, group) : [shard]
        var out = self
        out.embedding = try embedding.sliced(rows: shard.vocabRows, columns: 0..<config.hiddenSize)
        out.output = config.tieWordEmbeddings ? out.embedding
            : try output.sliced(rows: shard.vocabRows, columns: 0..<config.hiddenSize)
        for l in layers.indices {
            let sources = layers[l].linears
            let converted = try Self.convertLayer(sources, shards: all, rank: group.rank, config: config,
                                                  target: target, group: group, threads: threads)
            let q = shard.queryRows, kv = shard.keyValueRows
            out.layers[l].linears = converted
            out.layers[l].qBias = layers[l].qBias.map { FloatBuffer(Array($0.array[q])) }
            out.layers[l].kBias = layers[l].kBias.map { FloatBuffer(Array($0.array[kv])) }
            out.layers[l].vBias = layers[l].vBias.map { FloatBuffer(Array($0.array[kv])) }
            // The layer's file pages are done with: keep them out of the rank's resident set.
            for (stored, held) in zip(sources, converted) where held.ownsValues { stored.releaseResidentPages() }
        }
        return out
    }

    /// Bytes of the sliced base a rank holds: the seven linears of every layer, the embedding,
    /// and the head when it is not the embedding itself.
    public func baseStoredBytes(tiedEmbeddings: Bool) -> Int {
        baseLinearStoredBytes + embedding.storedBytes + (tiedEmbeddings ? 0 : output.storedBytes)
    }

    /// The HF-order `(rows, columns)` a shard holds of the linear in PEFT order `index`
    /// (q, k, v, o, gate, up, down).
    public static func sliceRanges(_ index: Int, _ shard: LlamaShard, _ config: LlamaConfig) -> (rows: Range<Int>, columns: Range<Int>) {
        let c = 0..<config.hiddenSize
        switch index {
        case 0: return (shard.queryRows, c)
        case 1, 2: return (shard.keyValueRows, c)
        case 3: return (c, shard.queryRows)
        case 4, 5: return (shard.ffnColumns, c)
        default: return (c, shard.ffnColumns)
        }
    }

    /// Slices and converts one layer's seven matrices; double quantization of plain-NF4 slices
    /// then runs on the whole group's gathered absmax.
    private static func convertLayer(_ sources: [FrozenMatrix], shards: [LlamaShard], rank: Int, config: LlamaConfig,
                                     target: BaseQuantization, group: ProcessGroup, threads: Int) throws -> [FrozenMatrix] {
        let shard = shards[rank]
        let whole = shards.count == 1 && shard == .whole(config)
        // Slices whose DQ statistics are global: quantize them plain first, gather, then DQ.
        // The choice depends only on the source storage and the target, the same on every rank.
        let needsGather: [Bool] = sources.map { m in
            guard !whole, case .nf4(doubleQuantization: true) = target else { return false }
            if case .doubleQuantized = m.nf4?.scales { return false }   // sliced codes keep the global statistics
            return true
        }
        let local = try parallelMap(sources.count, threads: threads) { i in
            let (rows, columns) = sliceRanges(i, shard, config)
            // NF4 blocks of a slice must be blocks of the full matrix, or the bytes would differ.
            if !whole, case .nf4 = target { _ = try sources[i].nf4BlockSlice(rows: rows, columns: columns) }
            let slice = try sources[i].sliced(rows: rows, columns: columns)
            return try slice.converted(to: needsGather[i] ? .nf4(doubleQuantization: false) : target)
        }
        return try doubleQuantizedOverGroup(local, needsGather: needsGather,
                                            full: sources.map { ($0.name, $0.rows, $0.columns) },
                                            shards: shards, rank: rank, config: config, group: group)
    }

    /// `local` (this rank's slices of one layer's seven matrices, PEFT order) with every slice
    /// marked in `needsGather` (plain NF4) double-quantized on the statistics of its `full`
    /// matrix: the group's absmax are gathered once for the layer and placed by the shards.
    static func doubleQuantizedOverGroup(_ local: [FrozenMatrix], needsGather: [Bool],
                                         full: [(name: String, rows: Int, columns: Int)], shards: [LlamaShard],
                                         rank: Int, config: LlamaConfig, group: ProcessGroup) throws -> [FrozenMatrix] {
        guard needsGather.contains(true) else { return local }
        let shard = shards[rank]

        // Every rank's plain absmax of the gathered matrices, concatenated in module order.
        var mine: [Float] = []
        for i in local.indices where needsGather[i] {
            guard let tensor = local[i].nf4, case .plain(let absmax) = tensor.scales else {
                throw LlamaModelError.invalidWeights("internal: tensor '\(full[i].name)' slice is not plain NF4")
            }
            mine += absmax
        }
        let gathered = try group.allGatherV(mine)
        guard gathered.count == shards.count else {
            throw LlamaModelError.invalidWeights("the tensor-parallel group returned \(gathered.count) contributions for \(shards.count) ranks")
        }
        var cursor = [Int](repeating: 0, count: shards.count)   // read position in each rank's contribution
        var out = local
        for i in local.indices where needsGather[i] {
            let (name, fullRows, fullColumns) = full[i]
            let blocksPerRow = fullColumns / NF4.blockSize
            var global = [Float](repeating: 0, count: fullRows * blocksPerRow)   // [O, Kb]
            for (r, other) in shards.enumerated() {
                let (rows, columns) = sliceRanges(i, other, config)
                let place = try FrozenMatrix.nf4BlockSlice(name: name, fullRows: fullRows, fullColumns: fullColumns,
                                                           rows: rows, columns: columns)
                guard cursor[r] + place.count <= gathered[r].count else {
                    throw LlamaModelError.invalidWeights("tensor '\(name)': rank \(r) sent \(gathered[r].count) absmax values, its shard needs more; do all ranks load the same model with the same plan?")
                }
                for b in 0..<place.count { global[place.globalBlock(b)] = gathered[r][cursor[r] + b] }
                cursor[r] += place.count
            }
            let (rows, columns) = sliceRanges(i, shard, config)
            let place = try FrozenMatrix.nf4BlockSlice(name: name, fullRows: fullRows, fullColumns: fullColumns,
                                                       rows: rows, columns: columns)
            guard let tensor = local[i].nf4 else { continue }
            let dq = global.withUnsafeBufferPointer { tensor.doubleQuantized(as: place, globalAbsmax: $0) }
            out[i] = try FrozenMatrix(name: name, nf4: dq)
        }
        for r in shards.indices where cursor[r] != gathered[r].count {
            throw LlamaModelError.invalidWeights("rank \(r) sent \(gathered[r].count) absmax values for layer matrices \(full.first?.name ?? ""), its shard explains \(cursor[r]); do all ranks load the same model with the same plan?")
        }
        return out
    }

    /// Checks a shard against the config before any slicing.
    static func validate(_ shard: LlamaShard, _ config: LlamaConfig) throws {
        let g = config.numKeyValueHeads
        func inside(_ range: Range<Int>, _ upper: Int) -> Bool { !range.isEmpty && range.lowerBound >= 0 && range.upperBound <= upper }
        guard inside(shard.queryHeads, config.numAttentionHeads), inside(shard.ffnColumns, config.intermediateSize), inside(shard.vocabRows, config.vocabSize),
              shard.headDim == config.headDim, shard.queriesPerKVHead * g == config.numAttentionHeads,
              shard.vocabRows.upperBound < 1 << 24, shard.ffnColumns.upperBound < 1 << 24 else {
            throw LlamaModelError.invalidConfig("shard \(shard) does not fit the model (\(g) KV heads, \(config.numAttentionHeads) query heads of \(config.headDim), FFN \(config.intermediateSize), vocab \(config.vocabSize)); every range must be non-empty and inside the model")
        }
    }

    /// Every rank's shard, in rank order; throws unless their query heads and FFN columns tile
    /// the model (each exactly once, in rank order), since the gathered absmax are placed by
    /// them, and unless every KV head hand-over is named by both of its ranks (a one-sided one
    /// would leave a rank waiting in the step). KV heads may overlap (a group split between
    /// ranks): both send the same absmax.
    static func gatherShards(_ shard: LlamaShard, _ config: LlamaConfig, _ group: ProcessGroup) throws -> [LlamaShard] {
        let bounds = [shard.queryHeads.lowerBound, shard.queryHeads.upperBound, shard.ffnColumns.lowerBound,
                      shard.ffnColumns.upperBound, shard.vocabRows.lowerBound, shard.vocabRows.upperBound]
            + shard.keyValueTransfers.flatMap { [$0.kvHead, $0.peer, $0.sends ? 1 : 0] }
        let all = try group.allGatherV(bounds.map(Float.init)).map { $0.map { Int($0) } }   // exact below 2^24 (validate bounds them)
        var shards: [LlamaShard] = []
        for (r, b) in all.enumerated() {
            guard b.count >= 6, b.count % 3 == 0, b[0] <= b[1], b[2] <= b[3], b[4] <= b[5] else {
                throw LlamaModelError.invalidConfig("rank \(r) of the tensor-parallel group sent an unreadable shard \(b)")
            }
            let transfers = stride(from: 6, to: b.count, by: 3).map {
                LlamaShard.KeyValueTransfer(kvHead: b[$0], peer: b[$0 + 1], sends: b[$0 + 2] == 1)
            }
            let other = LlamaShard(queryHeads: b[0]..<b[1], ffnColumns: b[2]..<b[3], vocabRows: b[4]..<b[5],
                                   queriesPerKVHead: shard.queriesPerKVHead, headDim: shard.headDim,
                                   keyValueTransfers: transfers)
            try validate(other, config)
            shards.append(other)
        }
        for r in 1..<shards.count {
            guard shards[r].queryHeads.lowerBound == shards[r - 1].queryHeads.upperBound,
                  shards[r].ffnColumns.lowerBound == shards[r - 1].ffnColumns.upperBound else {
                throw LlamaModelError.invalidConfig("the tensor-parallel shards do not tile the model in rank order: \(shards.map(\.description))")
            }
        }
        guard shards.first?.queryHeads.lowerBound == 0, shards.last?.queryHeads.upperBound == config.numAttentionHeads,
              shards.first?.ffnColumns.lowerBound == 0, shards.last?.ffnColumns.upperBound == config.intermediateSize,
              shards[group.rank] == shard else {
            throw LlamaModelError.invalidConfig("the tensor-parallel shards do not cover the model: \(shards.map(\.description))")
        }
        for (r, other) in shards.enumerated() {
            for t in other.keyValueTransfers {
                let matched = shards.indices.contains(t.peer) && t.peer != r
                    && shards[t.peer].keyValueTransfers.contains(.init(kvHead: t.kvHead, peer: r, sends: !t.sends))
                    && shards[t.peer].kvHeads.contains(t.kvHead)
                guard matched else {
                    throw LlamaModelError.invalidConfig("rank \(r) hands KV head \(t.kvHead) \(t.sends ? "to" : "from") rank \(t.peer), which does not expect it: \(shards.map(\.description))")
                }
            }
        }
        return shards
    }
}

/// `body(i)` for `i in 0..<count` on up to `threads` threads; the first failure (in index order)
/// is rethrown.
func parallelMap(_ count: Int, threads: Int, _ body: @Sendable (Int) throws -> FrozenMatrix) throws -> [FrozenMatrix] {
    let slots = ResultSlots(count: count)
    let workers = max(1, min(threads, count))
    DispatchQueue.concurrentPerform(iterations: workers) { worker in
        for i in stride(from: worker, to: count, by: workers) { slots.pointer[i] = Result { try body(i) } }
    }
    return try (0..<count).map { i in
        guard let result = slots.pointer[i] else { throw LlamaModelError.invalidWeights("internal: slice \(i) was not converted") }
        return try result.get()
    }
}
