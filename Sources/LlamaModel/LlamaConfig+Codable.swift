// HF `config.json` ⇄ LlamaConfig, with the exact upstream keys and defaults of transformers'
// LlamaConfig / MistralConfig / Qwen2Config. Accepts both `rope_theta` + `rope_scaling`
// (transformers 4) and `rope_parameters` (transformers 5).

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

        /// nil for the plain (`default`) rotary embedding; throws for kinds not implemented.
        func llama3() throws -> Llama3RoPEScaling? {
            let kind = ropeType ?? type ?? "default"
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
        let modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "llama"
        if let act = try c.decodeIfPresent(String.self, forKey: .hiddenAct), act != "silu" {
            throw LlamaModelError.invalidConfig("hidden_act '\(act)' is not supported (silu)")
        }
        if try c.decodeIfPresent(Bool.self, forKey: .mlpBias) == true {
            throw LlamaModelError.invalidConfig("mlp_bias true is not supported")
        }
        let ropeParameters = try c.decodeIfPresent(RopeObject.self, forKey: .ropeParameters)
        let ropeScaling = try c.decodeIfPresent(RopeObject.self, forKey: .ropeScaling)
        let theta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? ropeParameters?.ropeTheta ?? 10_000
        let eos: [Int]
        if let list = try? c.decodeIfPresent([Int].self, forKey: .eosTokenId) { eos = list }
        else { eos = try c.decodeIfPresent(Int.self, forKey: .eosTokenId).map { [$0] } ?? [] }
        // Qwen2 always has q/k/v biases; Llama/Mistral only with attention_bias.
        let bias = modelType == "qwen2" ? true : (try c.decodeIfPresent(Bool.self, forKey: .attentionBias) ?? false)
        var window: Int? = nil
        let useWindow = try c.decodeIfPresent(Bool.self, forKey: .useSlidingWindow) ?? false
        if modelType == "mistral" || (modelType == "qwen2" && useWindow) {
            window = try c.decodeIfPresent(Int.self, forKey: .slidingWindow)
        }
        self.init(
            modelType: modelType,
            hiddenSize: try c.decode(Int.self, forKey: .hiddenSize),
            intermediateSize: try c.decode(Int.self, forKey: .intermediateSize),
            numHiddenLayers: try c.decode(Int.self, forKey: .numHiddenLayers),
            numAttentionHeads: try c.decode(Int.self, forKey: .numAttentionHeads),
            numKeyValueHeads: try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads),
            headDim: try c.decodeIfPresent(Int.self, forKey: .headDim),
            rmsNormEps: try c.decodeIfPresent(Double.self, forKey: .rmsNormEps) ?? 1e-6,
            ropeTheta: theta,
            ropeScaling: try (ropeScaling ?? ropeParameters)?.llama3(),
            vocabSize: try c.decode(Int.self, forKey: .vocabSize),
            maxPositionEmbeddings: try c.decodeIfPresent(Int.self, forKey: .maxPositionEmbeddings) ?? 2048,
            tieWordEmbeddings: try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings) ?? false,
            bosTokenId: try c.decodeIfPresent(Int.self, forKey: .bosTokenId),
            eosTokenIds: eos,
            attentionBias: bias,
            slidingWindow: window)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelType, forKey: .modelType)
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
        if modelType != "qwen2" { try c.encode(attentionBias, forKey: .attentionBias) }
        try c.encode("silu", forKey: .hiddenAct)
        try c.encodeIfPresent(slidingWindow, forKey: .slidingWindow)
    }
}
