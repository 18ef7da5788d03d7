// All frozen weights of a Llama-family model, in HF layout, checked against the config on load.
// Linear weights stay in their stored format (FrozenMatrix); norm weights and biases are tiny
// and are copied to Float.
// Legend: C = hidden, F = intermediate, V = vocab, H·D = query width, G·D = key/value width.

import Kernels
import Quantization

/// The weights of one decoder block.
public struct LlamaLayerWeights: @unchecked Sendable {
    public var attentionNorm: FloatBuffer   // [C]
    public var q: FrozenMatrix              // [H·D, C]
    public var k: FrozenMatrix              // [G·D, C]
    public var v: FrozenMatrix              // [G·D, C]
    public var o: FrozenMatrix              // [C, H·D]
    /// q/k/v biases (`LlamaConfig.attentionBias`: qwen2, `attention_bias`), else nil.
    public var qBias: FloatBuffer?          // [H·D]
    public var kBias: FloatBuffer?          // [G·D]
    public var vBias: FloatBuffer?          // [G·D]
    /// RMSNorm weights over each head of q and of k, before RoPE (`Architecture.qkNorm`: Qwen3),
    /// else nil. The same `[D]` on every head and every tensor-parallel rank.
    public var qNorm: FloatBuffer?          // [D]
    public var kNorm: FloatBuffer?          // [D]
    public var ffnNorm: FloatBuffer         // [C]
    /// The sandwich norms (`Architecture.layerNorms`: Gemma 3) on o_proj's and down_proj's
    /// outputs, before each residual add; else nil.
    public var postAttentionNorm: FloatBuffer?  // [C]
    public var postFFNNorm: FloatBuffer?        // [C]
    public var gate: FrozenMatrix           // [F, C]
    public var up: FrozenMatrix             // [F, C]
    public var down: FrozenMatrix           // [C, F]

    package init(attentionNorm: FloatBuffer, q: FrozenMatrix, k: FrozenMatrix, v: FrozenMatrix, o: FrozenMatrix,
                 qBias: FloatBuffer?, kBias: FloatBuffer?, vBias: FloatBuffer?, ffnNorm: FloatBuffer,
                 gate: FrozenMatrix, up: FrozenMatrix, down: FrozenMatrix, qNorm: FloatBuffer? = nil, kNorm: FloatBuffer? = nil,
                 postAttentionNorm: FloatBuffer? = nil, postFFNNorm: FloatBuffer? = nil) {
        (self.attentionNorm, self.q, self.k, self.v, self.o) = (attentionNorm, q, k, v, o)
        (self.postAttentionNorm, self.postFFNNorm) = (postAttentionNorm, postFFNNorm)
        (self.qBias, self.kBias, self.vBias) = (qBias, kBias, vBias)
        (self.qNorm, self.kNorm) = (qNorm, kNorm)
        (self.ffnNorm, self.gate, self.up, self.down) = (ffnNorm, gate, up, down)
    }

    /// The seven linear weights, in PEFT module order (set: exactly seven, the same order).
    public var linears: [FrozenMatrix] {
        get { [q, k, v, o, gate, up, down] }
        set {
            precondition(newValue.count == 7, "LlamaLayerWeights: seven linears expected")
            (q, k, v, o, gate, up, down) = (newValue[0], newValue[1], newValue[2], newValue[3], newValue[4], newValue[5], newValue[6])
        }
    }
}

/// The weights of the whole model.
public struct LlamaWeights: @unchecked Sendable {
    public var embedding: FrozenMatrix      // [V, C]
    public var layers: [LlamaLayerWeights]
    public var outputNorm: FloatBuffer      // [C]
    /// The output head; the embedding matrix when tied.
    public var output: FrozenMatrix         // [V, C]
    /// Llama 3.1 GGUFs carry precomputed RoPE frequency divisors (`rope_freqs.weight`).
    public var ropeFrequencyFactors: [Float]?   // [D/2]

    package init(embedding: FrozenMatrix, layers: [LlamaLayerWeights], outputNorm: FloatBuffer, output: FrozenMatrix,
                 ropeFrequencyFactors: [Float]?) {
        (self.embedding, self.layers, self.outputNorm, self.output) = (embedding, layers, outputNorm, output)
        self.ropeFrequencyFactors = ropeFrequencyFactors
    }

    /// Scratch floats that any `linearForward` over these weights needs.
    public var linearScratchCount: Int {
        (layers.flatMap(\.linears) + [output]).map(\.scratchCount).max() ?? 0
    }
}
