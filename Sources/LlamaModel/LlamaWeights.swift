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
    /// q/k/v biases (qwen2, `attention_bias`), else nil.
    public var qBias: FloatBuffer?          // [H·D]
    public var kBias: FloatBuffer?          // [G·D]
    public var vBias: FloatBuffer?          // [G·D]
    public var ffnNorm: FloatBuffer         // [C]
    public var gate: FrozenMatrix           // [F, C]
    public var up: FrozenMatrix             // [F, C]
    public var down: FrozenMatrix           // [C, F]

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

    /// Scratch floats that any `linearForward` over these weights needs.
    public var linearScratchCount: Int {
        (layers.flatMap(\.linears) + [output]).map(\.scratchCount).max() ?? 0
    }
}

/// Tensor names of the two checkpoint families.
public enum WeightNaming: Sendable {
    /// llama.cpp names (`blk.N.attn_q.weight`), q/k rows permuted for interleaved RoPE when
    /// `permutedQK` (llama arch).
    case gguf(permutedQK: Bool)
    /// Hugging Face names (`model.layers.N.self_attn.q_proj.weight`).
    case huggingFace

    func name(_ part: String, layer: Int? = nil) -> String {
        switch self {
        case .gguf:
            let map = ["embed": "token_embd.weight", "norm": "output_norm.weight", "head": "output.weight",
                       "rope_freqs": "rope_freqs.weight",
                       "attn_norm": "attn_norm.weight", "q": "attn_q.weight", "k": "attn_k.weight",
                       "v": "attn_v.weight", "o": "attn_output.weight", "q_bias": "attn_q.bias",
                       "k_bias": "attn_k.bias", "v_bias": "attn_v.bias", "ffn_norm": "ffn_norm.weight",
                       "gate": "ffn_gate.weight", "up": "ffn_up.weight", "down": "ffn_down.weight"]
            let base = map[part] ?? part
            return layer.map { "blk.\($0).\(base)" } ?? base
        case .huggingFace:
            let map = ["embed": "model.embed_tokens.weight", "norm": "model.norm.weight", "head": "lm_head.weight",
                       "rope_freqs": "rope_freqs.weight",
                       "attn_norm": "input_layernorm.weight", "q": "self_attn.q_proj.weight",
                       "k": "self_attn.k_proj.weight", "v": "self_attn.v_proj.weight", "o": "self_attn.o_proj.weight",
                       "q_bias": "self_attn.q_proj.bias", "k_bias": "self_attn.k_proj.bias",
                       "v_bias": "self_attn.v_proj.bias", "ffn_norm": "post_attention_layernorm.weight",
                       "gate": "mlp.gate_proj.weight", "up": "mlp.up_proj.weight", "down": "mlp.down_proj.weight"]
            let base = map[part] ?? part
            return layer.map { "model.layers.\($0).\(base)" } ?? base
        }
    }

    var permutesQK: Bool {
        if case .gguf(let permuted) = self { return permuted }
        return false
    }
}
