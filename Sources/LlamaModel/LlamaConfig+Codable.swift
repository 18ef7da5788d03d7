// HF `config.json` ⇄ LlamaConfig, with the exact upstream keys and defaults of transformers'
// LlamaConfig / MistralConfig / Qwen2Config. Accepts both `rope_theta` + `rope_scaling`
// (transformers 4) and `rope_parameters` (transformers 5). `model_type` picks the Architecture
// (the one lookup, `Architecture.huggingFace(modelType:)`); which keys are read after that
// (attention_bias, sliding_window, use_sliding_window, hidden_act, rope_scaling types) is
// decided by its traits.

import Foundation
import Kernels

extension LlamaConfig: Codable {
    enum CodingKeys: String, CodingKey {
        case modelType = "model_type", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim", rmsNormEps = "rms_norm_eps"
        case ropeTheta = "rope_theta", ropeScaling = "rope_scaling", ropeParameters = "rope_parameters"
        case vocabSize = "vocab_size", maxPositionEmbeddings = "max_position_embeddings"
        case tieWordEmbeddings = "tie_word_embeddings", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", hiddenAct = "hidden_act"
        case slidingWindow = "sliding_window", useSlidingWindow = "use_sliding_window"
    }

    /// `rope_scaling` / `rope_parameters` object.
    struct RopeObject: Codable {
        var type: String?
        var ropeType: String?
        var ropeTheta: Double?
        var factor: Double?
        var lowFreqFactor: Double?
        var highFreqFactor: Double?
        var originalMaxPositionEmbeddings: Int?
        enum CodingKeys: String, CodingKey {
            case type, factor
            case ropeType = "rope_type", ropeTheta = "rope_theta", lowFreqFactor = "low_freq_factor"
            case highFreqFactor = "high_freq_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }

        /// nil for the plain (`default`) rotary embedding; throws for kinds not implemented or
        /// not among the family's `rope.scalings`.
        func llama3(_ architecture: Architecture) throws -> Llama3RoPEScaling? {
            let kind = ropeType ?? type ?? "default"
            guard kind == "default" || architecture.rope.scalings.contains(kind) else {
                let accepted = (architecture.rope.scalings + ["none"]).joined(separator: " or ")
                throw LlamaModelError.invalidConfig("rope_scaling type '\(kind)' is not supported (only \(accepted))")
            }
            switch kind {
            case "default": return nil
            case "llama3":
                guard let factor, let lowFreqFactor, let highFreqFactor, let originalMaxPositionEmbeddings else {
                    throw LlamaModelError.invalidConfig("rope_scaling type llama3 needs factor, low_freq_factor, high_freq_factor and original_max_position_embeddings")
                }
                return Llama3RoPEScaling(factor: factor, lowFreqFactor: lowFreqFactor, highFreqFactor: highFreqFactor,
                                         originalMaxPositionEmbeddings: originalMaxPositionEmbeddings)
            default:
                throw LlamaModelError.invalidConfig("rope_scaling type '\(kind)' is not supported (only llama3 or none)")
            }
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let architecture = try Architecture.huggingFace(modelType: c.decodeIfPresent(String.self, forKey: .modelType))
        let hiddenAct = architecture.mlp.hiddenAct
        if let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct), act != hiddenAct {
            throw LlamaModelError.invalidConfig("hidden_act '\(act)' is not supported (\(hiddenAct))")
        }
        if try c.decodeIfPresent(Bool.self, forKey: .mlpBias) == true {
            throw LlamaModelError.invalidConfig("mlp_bias true is not supported")
        }
        let ropeParameters = try c.decodeIfPresent(RopeObject.self, forKey: .ropeParameters)
        let ropeScaling = try c.decodeIfPresent(RopeObject.self, forKey: .ropeScaling)
        let theta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? ropeParameters?.ropeTheta
            ?? architecture.rope.defaultTheta
        let eos: [Int]
        if let list = try? c.decodeIfPresent([Int].self, forKey: .eosTokenId) { eos = list }
        else { eos = try c.decodeIfPresent(Int.self, forKey: .eosTokenId).map { [$0] } ?? [] }
        let bias: Bool
        switch architecture.attentionBias {
        case .qkv: bias = true
        case .fromConfig: bias = try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false
        case .none:
            if try c.decodeIfPresent(Bool.self, forKey: .attentionBias) == true {
                throw LlamaModelError.invalidConfig(
                    "attention_bias true is not supported for model_type '\(architecture.modelType)'")
            }
            bias = false
        }
        let window: Int?
        switch architecture.slidingWindow {
        case .none: window = nil
        case .allLayers, .interleaved: window = try c.decodeIfPresent(Int.self, forKey: .slidingWindow)
        case .allLayersWhenEnabled:
            let enabled = try c.decodeIfPresent(Bool.self, forKey: .useSlidingWindow) ?? false
            window = try enabled ? c.decodeIfPresent(Int.self, forKey: .slidingWindow) : nil
        }
        self.init(
            architecture: architecture,
            hiddenSize: try c.decode(Int.self, forKey: .hiddenSize),
            intermediateSize: try c.decode(Int.self, forKey: .intermediateSize),
            numHiddenLayers: try c.decode(Int.self, forKey: .numHiddenLayers),
            numAttentionHeads: try c.decode(Int.self, forKey: .numAttentionHeads),
            numKeyValueHeads: try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads),
            headDim: try c.decodeIfPresent(Int.self, forKey: .headDim),
            rmsNormEps: try c.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? 1e-6,
            ropeTheta: theta,
            ropeScaling: try (ropeScaling ?? ropeParameters)?.llama3(architecture),
            vocabSize: try c.decode(Int.self, forKey: .vocabSize),
            maxPositionEmbeddings: try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048,
            tieWordEmbeddings: try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings)
                ?? architecture.tiedHeadByDefault,
            bosTokenId: try c.decodeIfPresent(Int.self, forKey: .bosTokenId),
            eosTokenIds: eos,
            attentionBias: bias,
            slidingWindow: window)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architecture.modelType, forKey: .modelType)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encodeIfPresent(explicitHeadDim, forKey: .headDim)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        if let s = ropeScaling {
            try c.encode(RopeObject(type: nil, ropeType: "llama3", ropeTheta: nil, factor: s.factor,
                                    lowFreqFactor: s.lowFreqFactor, highFreqFactor: s.highFreqFactor,
                                    originalMaxPositionEmbeddings: s.originalMaxPositionEmbeddings), forKey: .ropeScaling)
        }
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        if eosTokenIds.count == 1 { try c.encode(eosTokenIds[0], forKey: .eosTokenId) }
        else if !eosTokenIds.isEmpty { try c.encode(eosTokenIds, forKey: .eosTokenId) }
        // Only where the family reads the key (Qwen2's biases are implied by its model_type).
        if architecture.attentionBias == .fromConfig { try c.encode(attentionBias, forKey: .attentionBias) }
        try c.encode(architecture.mlp.hiddenAct, forKey: .hiddenAct)
        try c.encodeIfPresent(slidingWindow, forKey: .slidingWindow)
    }
}
