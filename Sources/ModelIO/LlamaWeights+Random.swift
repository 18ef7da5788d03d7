// Random frozen weights for a shape without a checkpoint (a preset or a bare config.json), so
// `tessera bench train --model llama3.2-1b` measures a model that was never downloaded.
//   - Values: element i of a tensor is a pure function of (seed, tensor name, i) — SplitMix64's
//     finaliser over a counter, turned into an approximately normal value of std 0.02 (HF's
//     `initializer_range`) by the Irwin–Hall sum of four 16-bit uniforms (bounded at ±3.46σ),
//     then rounded to bf16 as a published checkpoint stores it. No sequential stream: any slice
//     is generated alone and equals the same elements of the full tensor.
//   - Built tensor by tensor, slice by slice: a rank generates only its shard's slice of each
//     matrix (LlamaWeights+Shard.swift's ranges), one ~4 MB fp32 tile at a time per worker
//     thread, each tile quantized at once to the base quantization — exactly what loading the bf16
//     checkpoint of these values would hold (NF4 codes and absmax of the slice are those of the
//     full matrix; double quantization uses the group's gathered statistics, as the sharded
//     load does). The whole fp32 model never exists.
//   - Embedding and head: bf16 (the stored precision QLoRA keeps), the local vocabulary rows.
//     Norm weights are ones and biases zeros (HF's initialisation).
// Legend: C = hidden, F = FFN size, V = vocab, O × I = a full matrix.

import LlamaModel
import Dispatch
import Kernels
import ProcessGroups
import Quantization

extension LlamaWeights {
    /// Standard deviation of the random weights (transformers' `initializer_range`).
    public static let randomStandardDeviation: Float = 0.02

    /// `shard`'s slice of random weights of shape `config` with the seven linears of every
    /// layer held as `target` (see the file header). Every rank of `group` (the TP group) must
    /// call this together when it has more than one rank. Deterministic in (config, seed): any
    /// mesh holds slices of the same full tensors.
    public static func random(config: LlamaConfig, shard: LlamaShard, target: BaseQuantization, group: ProcessGroup,
                              seed: UInt64 = 0, threads: Int = BLAS.threadCount) throws -> LlamaWeights {
        try config.validate()
        try validate(shard, config)
        guard group.size > 1 || shard == .whole(config) else {
            throw LlamaModelError.invalidConfig("shard \(shard) is part of the model but the tensor-parallel group has one rank; a group of one holds the whole model")
        }
        let shards = group.size > 1 ? try gatherShards(shard, config, group) : [shard]
        let whole = shards.count == 1
        let names = config.architecture.tensorNames
        let c = config.hiddenSize, f = config.intermediateSize, qw = config.queryWidth, kvw = config.keyValueWidth
        let fullShapes = [(qw, c), (kvw, c), (kvw, c), (c, qw), (f, c), (f, c), (c, f)]   // PEFT order
        let roles: [Architecture.TensorRole] = [.q, .k, .v, .o, .gate, .up, .down]
        let threads = max(1, threads)

        let embedding = try randomTable(names.name(.embedding, format: .huggingFace), shard: shard, config: config,
                                        seed: seed, threads: threads)
        var layers: [LlamaLayerWeights] = []
        layers.reserveCapacity(config.numHiddenLayers)
        for l in 0..<config.numHiddenLayers {
            // Fused families (Phi-3) name no q/k/v/gate/up tensor: the part of the fused one.
            let layerNames = roles.map { role in
                (try? names.name(role, layer: l, format: .huggingFace)) ?? "model.layers.\(l).\(role.rawValue)"
            }
            // Sharded double quantization needs the full matrix's statistics: plain first, then gathered.
            let needsGather = !whole && target == .nf4(doubleQuantization: true)
            let local = try parallelMap(7, threads: threads) { i in
                let (rows, columns) = sliceRanges(i, shard, config)
                let (fullRows, fullColumns) = fullShapes[i]
                if !whole, case .nf4 = target {
                    _ = try FrozenMatrix.nf4BlockSlice(name: layerNames[i], fullRows: fullRows, fullColumns: fullColumns,
                                                       rows: rows, columns: columns)
                }
                let name = layerNames[i], key = randomKey(seed: seed, name: name)
                // Slice row s is full row rows.lowerBound + s.
                let fill = { (local: Range<Int>, out: UnsafeMutablePointer<Float>) in
                    fillRandom(out, key: key, fullColumns: fullColumns,
                               rows: (rows.lowerBound + local.lowerBound)..<(rows.lowerBound + local.upperBound), columns: columns)
                }
                switch target {
                case .none, .stored:
                    // Random weights are generated in fp32: that is their "stored" format.
                    let values = FloatBuffer(count: rows.count * columns.count)   // [r, c], held
                    fill(0..<rows.count, values.pointer)
                    return FrozenMatrix(name: name, rows: rows.count, columns: columns.count, dense: values)
                case .nf4(let dq):
                    // Tile by tile (NF4Tensor+Tiles.swift): no fp32 copy of the slice.
                    let tensor = try NF4Tensor(rows: rows.count, columns: columns.count,
                                               doubleQuantization: dq && !needsGather, fill: fill)
                    return try FrozenMatrix(name: name, nf4: tensor)
                }
            }
            let linears = try doubleQuantizedOverGroup(
                local, needsGather: [Bool](repeating: needsGather, count: 7),
                full: (0..<7).map { (layerNames[$0], fullShapes[$0].0, fullShapes[$0].1) },
                shards: shards, rank: group.rank, config: config, group: group)
            let ones = { FloatBuffer([Float](repeating: 1, count: c)) }
            let bias = config.attentionBias, qkNorm = config.architecture.qkNorm == .rmsPerHead
            let sandwich = config.architecture.layerNorms == .sandwich
            layers.append(LlamaLayerWeights(
                attentionNorm: ones(), q: linears[0], k: linears[1], v: linears[2], o: linears[3],
                qBias: bias ? FloatBuffer(count: shard.queryRows.count) : nil,
                kBias: bias ? FloatBuffer(count: shard.keyValueRows.count) : nil,
                vBias: bias ? FloatBuffer(count: shard.keyValueRows.count) : nil,
                ffnNorm: ones(), gate: linears[4], up: linears[5], down: linears[6],
                qNorm: qkNorm ? FloatBuffer([Float](repeating: 1, count: config.headDim)) : nil,
                kNorm: qkNorm ? FloatBuffer([Float](repeating: 1, count: config.headDim)) : nil,
                postAttentionNorm: sandwich ? ones() : nil, postFFNNorm: sandwich ? ones() : nil))
        }
        let output = config.tieWordEmbeddings ? embedding
            : try randomTable(names.name(.output, format: .huggingFace), shard: shard, config: config, seed: seed,
                              threads: threads)
        return LlamaWeights(embedding: embedding, layers: layers, outputNorm: FloatBuffer([Float](repeating: 1, count: c)),
                            output: output, ropeFrequencyFactors: nil)
    }

    /// The local vocabulary rows `[V_local, C]` of an embedding or head, as bf16.
    static func randomTable(_ name: String, shard: LlamaShard, config: LlamaConfig, seed: UInt64,
                            threads: Int) throws -> FrozenMatrix {
        let rows = shard.vocabRows, c = config.hiddenSize
        let bytes = OwnedBytes(count: rows.count * c * 2)
        let table = bytes.pointer.bindMemory(to: UInt16.self, capacity: rows.count * c)
        let key = randomKey(seed: seed, name: name)
        let chunk = (rows.count + threads - 1) / threads
        nonisolated(unsafe) let out = table   // each worker writes its own rows
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            let start = worker * chunk, end = min(rows.count, start + chunk)
            guard start < end else { return }
            let row = FloatBuffer(count: c)
            for r in start..<end {
                fillRandom(row.pointer, key: key, fullColumns: c, rows: (rows.lowerBound + r)..<(rows.lowerBound + r + 1),
                           columns: 0..<c)
                for j in 0..<c { out[r * c + j] = BFloat16.fromFloat(row.pointer[j]) }
            }
        }
        return try FrozenMatrix(name: name, rows: rows.count, columns: c, type: .bf16,
                                bytes: UnsafeRawBufferPointer(start: bytes.pointer, count: bytes.count), owner: bytes)
    }

    /// The key of tensor `name` under `seed`: FNV-1a over the seed's 8 little-endian bytes, then
    /// the name's UTF-8 bytes (the rank never enters it).
    public static func randomKey(seed: UInt64, name: String) -> UInt64 {
        namedStreamKey(seed: seed, name: name)
    }

    /// Element `index` (row-major in the full tensor) of the tensor keyed `key`, rounded to bf16.
    @inline(__always)
    public static func randomValue(key: UInt64, index: Int) -> Float {
        var z = key &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        // Four 16-bit uniforms on [0, 1): mean 2, variance 4/12; centred and scaled to std 0.02.
        let sum = Float(z & 0xFFFF) + Float((z >> 16) & 0xFFFF) + Float((z >> 32) & 0xFFFF) + Float(z >> 48)
        let value = (sum * 0x1p-16 - 2) * (3 as Float).squareRoot() * randomStandardDeviation
        return BFloat16.toFloat(BFloat16.fromFloat(value))
    }

    /// Rows `rows` × columns `columns` of a tensor with `fullColumns` columns, into `out` (`[r, c]`).
    static func fillRandom(_ out: UnsafeMutablePointer<Float>, key: UInt64, fullColumns: Int, rows: Range<Int>,
                           columns: Range<Int>) {
        var o = 0
        for r in rows {
            let base = r * fullColumns
            for j in columns {
                out[o] = randomValue(key: key, index: base + j)
                o += 1
            }
        }
    }
}
