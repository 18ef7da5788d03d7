// A tiny random F32 Llama for tests that need a whole model but not the real weights.
import Kernels
@testable import LlamaModel
@testable import ModelIO

struct RandomFloats {
    var state: UInt64
    mutating func next() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 23) - 1
    }
    mutating func values(_ count: Int, scale: Float) -> [Float] { (0..<count).map { _ in next() * scale } }
}

func tinyConfig(bias: Bool = false) -> LlamaConfig {
    LlamaConfig(hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 2, numAttentionHeads: 4,
                numKeyValueHeads: 2, rmsNormEps: 1e-5, ropeTheta: 10_000, vocabSize: 37,
                maxPositionEmbeddings: 256, tieWordEmbeddings: true, attentionBias: bias)
}

func tinyLlama(config: LlamaConfig = tinyConfig(), seed: UInt64 = 1) throws -> Llama {
    var rng = RandomFloats(state: seed)
    let c = config.hiddenSize, f = config.intermediateSize, qw = config.queryWidth, kvw = config.keyValueWidth
    func m(_ name: String, _ rows: Int, _ cols: Int) throws -> FrozenMatrix {
        try FrozenMatrix(name: name, rows: rows, columns: cols, values: rng.values(rows * cols, scale: 0.5))
    }
    func norm() -> FloatBuffer { FloatBuffer(rng.values(c, scale: 0.2).map { 1 + $0 }) }
    func bias(_ n: Int) -> FloatBuffer? { config.attentionBias ? FloatBuffer(rng.values(n, scale: 0.1)) : nil }
    let embedding = try m("embed", config.vocabSize, c)
    let layers = try (0..<config.numHiddenLayers).map { _ in
        LlamaLayerWeights(attentionNorm: norm(), q: try m("q", qw, c), k: try m("k", kvw, c), v: try m("v", kvw, c),
                          o: try m("o", c, qw), qBias: bias(qw), kBias: bias(kvw), vBias: bias(kvw),
                          ffnNorm: norm(), gate: try m("gate", f, c), up: try m("up", f, c), down: try m("down", c, f))
    }
    let weights = LlamaWeights(embedding: embedding, layers: layers, outputNorm: norm(), output: embedding,
                               ropeFrequencyFactors: nil)
    return try Llama(config: config, weights: weights)
}
