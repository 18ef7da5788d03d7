// Loading LlamaWeights from any WeightSource: every tensor's presence, type and shape is checked
// against the config, and errors name the tensor with expected vs found shape. Tensor names and
// the GGUF q/k row permutation come from the config's Architecture.

import LlamaModel
import Kernels
import ModelFormats
import Quantization

extension LlamaWeights {
    /// Loads and checks every weight of `config` from `source`, a file in `format`.
    public init(source: WeightSource, config: LlamaConfig, format: Architecture.WeightFormat) throws {
        let names = config.architecture.tensorNames
        let permutesQK = format == .gguf && config.architecture.ggufPermutesQK
        let c = config.hiddenSize, f = config.intermediateSize, v = config.vocabSize
        let qw = config.queryWidth, kvw = config.keyValueWidth

        func stored(_ name: String, _ shape: [Int]) throws -> StoredTensor {
            guard let t = try source.storedTensor(named: name) else {
                throw LlamaModelError.invalidWeights("tensor '\(name)' is missing from \(source.location)")
            }
            guard t.shape == shape else {
                throw LlamaModelError.invalidWeights("tensor '\(name)' in \(source.location): expected shape \(shape), found \(t.shape)")
            }
            return t
        }
        func matrix(_ role: Architecture.TensorRole, _ layer: Int?, _ rows: Int, _ columns: Int,
                    heads: Int? = nil) throws -> FrozenMatrix {
            let name = try names.name(role, layer: layer, format: format)
            if let quantized = try source.quantizedMatrix(named: name, rows: rows, columns: columns) { return quantized }
            let t = try stored(name, [rows, columns])
            let order = (permutesQK && heads != nil) ? ggufRoPERowOrder(rows: rows, heads: heads ?? 1) : nil
            return try FrozenMatrix(name: name, rows: rows, columns: columns, type: t.type, bytes: t.bytes,
                                    owner: source.owner, rowOrder: order)
        }
        // Gemma's norms apply 1 + w; held that way (Architecture.normWeightOffset).
        let normOffset = config.architecture.normWeightOffset(format: format)
        func vector(_ role: Architecture.TensorRole, _ layer: Int?, _ count: Int) throws -> FloatBuffer {
            let name = try names.name(role, layer: layer, format: format)
            let t = try stored(name, [count])
            let out = FloatBuffer(count: count)
            do {
                try Dequantize.run(t.type, source: t.bytes, count: count, into: out.pointer)
            } catch {
                throw LlamaModelError.invalidWeights("tensor '\(name)' (\(t.type)) cannot be read: \(error)")
            }
            if role.isNorm && normOffset != 0 {
                for i in 0..<count { out.pointer[i] += normOffset }
            }
            return out
        }

        let embedding = try matrix(.embedding, nil, v, c)
        var layers: [LlamaLayerWeights] = []
        layers.reserveCapacity(config.numHiddenLayers)
        let qkNorm = config.architecture.qkNorm == .rmsPerHead
        let sandwich = config.architecture.layerNorms == .sandwich
        // Fused families (Phi-3): q, k, v and gate, up are row ranges of one stored matrix each;
        // a row slice of stored blocks is a view, so nothing is copied.
        func projections(_ l: Int) throws -> (q: FrozenMatrix, k: FrozenMatrix, v: FrozenMatrix, gate: FrozenMatrix, up: FrozenMatrix) {
            guard config.architecture.fusedProjections else {
                return (try matrix(.q, l, qw, c, heads: config.numAttentionHeads),
                        try matrix(.k, l, kvw, c, heads: config.numKeyValueHeads), try matrix(.v, l, kvw, c),
                        try matrix(.gate, l, f, c), try matrix(.up, l, f, c))
            }
            let qkv = try matrix(.qkv, l, qw + 2 * kvw, c), gateUp = try matrix(.gateUp, l, 2 * f, c)
            let all = 0..<c
            return (try qkv.sliced(rows: 0..<qw, columns: all), try qkv.sliced(rows: qw..<(qw + kvw), columns: all),
                    try qkv.sliced(rows: (qw + kvw)..<(qw + 2 * kvw), columns: all),
                    try gateUp.sliced(rows: 0..<f, columns: all), try gateUp.sliced(rows: f..<(2 * f), columns: all))
        }
        for l in 0..<config.numHiddenLayers {
            let bias = config.attentionBias
            let attentionNorm = try vector(.attentionNorm, l, c)   // first: a missing layer is named by its first tensor
            let p = try projections(l)
            layers.append(LlamaLayerWeights(
                attentionNorm: attentionNorm,
                q: p.q,
                k: p.k,
                v: p.v,
                o: try matrix(.o, l, c, qw),
                qBias: bias ? try vector(.qBias, l, qw) : nil,
                kBias: bias ? try vector(.kBias, l, kvw) : nil,
                vBias: bias ? try vector(.vBias, l, kvw) : nil,
                ffnNorm: try vector(.ffnNorm, l, c),
                gate: p.gate,
                up: p.up,
                down: try matrix(.down, l, c, f),
                qNorm: qkNorm ? try vector(.qNorm, l, config.headDim) : nil,
                kNorm: qkNorm ? try vector(.kNorm, l, config.headDim) : nil,
                postAttentionNorm: sandwich ? try vector(.postAttentionNorm, l, c) : nil,
                postFFNNorm: sandwich ? try vector(.postFFNNorm, l, c) : nil))
        }
        let outputNorm = try vector(.outputNorm, nil, c)
        let output = config.tieWordEmbeddings ? embedding : try matrix(.output, nil, v, c)
        let freqsName = try names.name(.ropeFrequencies, format: format)
        let factors = try source.storedTensor(named: freqsName) != nil
            ? try vector(.ropeFrequencies, nil, config.headDim / 2).array : nil
        self.init(embedding: embedding, layers: layers, outputNorm: outputNorm, output: output,
                  ropeFrequencyFactors: factors)
    }
}
