// LlamaConfig → a complete Hugging Face `config.json` for export. The Codable encoder in
// LlamaConfig+Codable.swift writes only what Tessera reads back; transformers also needs
// `architectures`, `torch_dtype`, `pad_token_id`, an explicit `head_dim` and `rope_scaling`, and
// a Qwen2 checkpoint must name Qwen2ForCausalLM (LlamaForCausalLM would put a bias on o_proj too):
// the class is `Architecture.huggingFaceClass`.

import LlamaModel
import Foundation

extension LlamaConfig {
    /// A `config.json` that transformers' LlamaConfig / MistralConfig / Qwen2Config load and
    /// `LlamaConfig(contentsOf:)` decodes back to an equal value.
    ///
    /// - Parameters:
    ///   - torchDType: `torch_dtype` of the saved weights (`float32`, `float16`, `bfloat16`).
    ///   - padTokenID: `pad_token_id`, when the tokenizer defines one.
    public func huggingFaceConfigJSON(torchDType: String, padTokenID: Int? = nil) throws -> Data {
        let file = HFConfigFile(
            architectures: [architecture.huggingFaceClass],
            modelType: architecture.modelType,
            hiddenSize: hiddenSize,
            intermediateSize: intermediateSize,
            numHiddenLayers: numHiddenLayers,
            numAttentionHeads: numAttentionHeads,
            numKeyValueHeads: numKeyValueHeads,
            headDim: headDim,
            hiddenAct: architecture.mlp.hiddenAct,
            maxPositionEmbeddings: maxPositionEmbeddings,
            rmsNormEps: Self.float32Shortest(rmsNormEps),
            ropeTheta: ropeTheta,
            ropeScaling: ropeScaling.map {
                HFConfigFile.RopeScaling(ropeType: "llama3", factor: $0.factor, lowFreqFactor: $0.lowFreqFactor,
                                         highFreqFactor: $0.highFreqFactor,
                                         originalMaxPositionEmbeddings: $0.originalMaxPositionEmbeddings)
            },
            longRoPE: longRoPE.map {
                HFConfigFile.LongRoPE(type: "longrope", shortFactor: $0.shortFactor, longFactor: $0.longFactor,
                                      factor: $0.factor, attentionFactor: $0.attentionFactor)
            },
            originalMaxPositionEmbeddings: longRoPE?.originalMaxPositionEmbeddings,
            partialRotaryFactor: partialRotaryFactor == 1 ? nil : partialRotaryFactor,
            tieWordEmbeddings: tieWordEmbeddings,
            vocabSize: vocabSize,
            bosTokenID: bosTokenId,
            eosTokenID: eosTokenIds.count == 1 ? .one(eosTokenIds[0]) : (eosTokenIds.isEmpty ? nil : .many(eosTokenIds)),
            padTokenID: padTokenID,
            attentionBias: attentionBias,
            mlpBias: false,
            slidingWindow: slidingWindow,
            useSlidingWindow: architecture.slidingWindow == .allLayersWhenEnabled ? slidingWindow != nil : nil,
            writesSlidingWindow: architecture.slidingWindow != .none,
            interleaved: architecture.slidingWindow == .interleaved ? interleavedKeys : nil,
            torchDType: torchDType)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(file)
    }

    /// Gemma 3's keys, as transformers 5 saves them: rope_parameters per layer type.
    private var interleavedKeys: HFConfigFile.Interleaved {
        let global = HFConfigFile.Rope(ropeType: ropeLinearFactor == nil ? "default" : "linear", ropeTheta: ropeTheta,
                                       factor: ropeLinearFactor)
        let local = HFConfigFile.Rope(ropeType: "default", ropeTheta: localRopeTheta ?? ropeTheta, factor: nil)
        return HFConfigFile.Interleaved(
            layerTypes: (0..<numHiddenLayers).map { isSlidingLayer($0) ? "sliding_attention" : "full_attention" },
            queryPreAttnScalar: queryPreAttentionScalar ?? Double(headDim),
            ropeParameters: ["full_attention": global, "sliding_attention": local])
    }

    /// GGUF stores `rms_norm_eps` as float32 and Tessera computes with `Float(eps)`: write
    /// such a value as its shortest float32 spelling (`1e-05`, not `9.999999747378752e-06`).
    /// The value Tessera computes with is unchanged.
    static func float32Shortest(_ value: Double) -> Double {
        let single = Float(value)
        guard Double(single) == value, let shortest = Double(String(single)) else { return value }
        return shortest
    }
}

/// The keys of an HF Llama-family `config.json`, as written on export.
private struct HFConfigFile: Encodable {
    struct RopeScaling: Encodable {
        var ropeType: String
        var factor: Double
        var lowFreqFactor: Double
        var highFreqFactor: Double
        var originalMaxPositionEmbeddings: Int
        enum CodingKeys: String, CodingKey {
            case ropeType = "rope_type", factor, lowFreqFactor = "low_freq_factor", highFreqFactor = "high_freq_factor"
            case originalMaxPositionEmbeddings = "original_max_position_embeddings"
        }
    }

    /// Phi-3's `rope_scaling` (transformers 4's keys, which 5 reads).
    struct LongRoPE: Encodable {
        var type: String
        var shortFactor, longFactor: [Double]
        var factor, attentionFactor: Double?
        enum CodingKeys: String, CodingKey {
            case type, factor, shortFactor = "short_factor", longFactor = "long_factor", attentionFactor = "attention_factor"
        }
    }

    /// HF allows one id or a list for `eos_token_id`.
    enum TokenIDs: Encodable {
        case one(Int), many([Int])
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .one(let id): try c.encode(id)
            case .many(let ids): try c.encode(ids)
            }
        }
    }

    /// One rotary embedding of `rope_parameters`.
    struct Rope: Encodable {
        var ropeType: String
        var ropeTheta: Double
        var factor: Double?
        enum CodingKeys: String, CodingKey { case ropeType = "rope_type", ropeTheta = "rope_theta", factor }
    }

    /// Interleaved families' keys (Gemma 3), written instead of rope_theta / rope_scaling.
    struct Interleaved {
        var layerTypes: [String]
        var queryPreAttnScalar: Double
        var ropeParameters: [String: Rope]
    }

    var architectures: [String]
    var modelType: String
    var hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads, headDim: Int
    var hiddenAct: String
    var maxPositionEmbeddings: Int
    var rmsNormEps, ropeTheta: Double
    var ropeScaling: RopeScaling?
    var longRoPE: LongRoPE?
    var originalMaxPositionEmbeddings: Int?
    var partialRotaryFactor: Double?
    var tieWordEmbeddings: Bool
    var vocabSize: Int
    var bosTokenID: Int?
    var eosTokenID: TokenIDs?
    var padTokenID: Int?
    var attentionBias, mlpBias: Bool
    var slidingWindow: Int?
    var useSlidingWindow: Bool?
    /// `sliding_window` is written (null when there is none) for families that read it.
    var writesSlidingWindow: Bool
    var interleaved: Interleaved?
    var torchDType: String

    enum CodingKeys: String, CodingKey {
        case architectures, modelType = "model_type", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta"
        case ropeScaling = "rope_scaling", tieWordEmbeddings = "tie_word_embeddings", vocabSize = "vocab_size"
        case bosTokenID = "bos_token_id", eosTokenID = "eos_token_id", padTokenID = "pad_token_id"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", slidingWindow = "sliding_window"
        case useSlidingWindow = "use_sliding_window", torchDType = "torch_dtype"
        case hiddenActivation = "hidden_activation", layerTypes = "layer_types", queryPreAttnScalar = "query_pre_attn_scalar"
        case ropeParameters = "rope_parameters", finalLogitSoftcapping = "final_logit_softcapping"
        case attnLogitSoftcapping = "attn_logit_softcapping"
        case originalMaxPositionEmbeddings = "original_max_position_embeddings", partialRotaryFactor = "partial_rotary_factor"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(architectures, forKey: .architectures)
        try c.encode(modelType, forKey: .modelType)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize)
        try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(numKeyValueHeads, forKey: .numKeyValueHeads)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        if let interleaved {
            try c.encode(hiddenAct, forKey: .hiddenActivation)
            try c.encode(interleaved.layerTypes, forKey: .layerTypes)
            try c.encode(interleaved.queryPreAttnScalar, forKey: .queryPreAttnScalar)
            try c.encode(interleaved.ropeParameters, forKey: .ropeParameters)
            try c.encodeNil(forKey: .finalLogitSoftcapping)
            try c.encodeNil(forKey: .attnLogitSoftcapping)
        } else {
            try c.encode(hiddenAct, forKey: .hiddenAct)
            try c.encode(ropeTheta, forKey: .ropeTheta)
            if let longRoPE {
                try c.encode(longRoPE, forKey: .ropeScaling)
            } else {
                // An explicit null: transformers' defaults must not add scaling the model does not have.
                try c.encode(ropeScaling, forKey: .ropeScaling)
            }
        }
        try c.encodeIfPresent(originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
        try c.encodeIfPresent(partialRotaryFactor, forKey: .partialRotaryFactor)
        try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(bosTokenID, forKey: .bosTokenID)
        try c.encode(eosTokenID, forKey: .eosTokenID)
        try c.encode(padTokenID, forKey: .padTokenID)
        try c.encode(attentionBias, forKey: .attentionBias)
        try c.encode(mlpBias, forKey: .mlpBias)
        // MistralConfig defaults sliding_window to 4096: write null when there is none.
        if writesSlidingWindow { try c.encode(slidingWindow, forKey: .slidingWindow) }
        try c.encodeIfPresent(useSlidingWindow, forKey: .useSlidingWindow)
        try c.encode(torchDType, forKey: .torchDType)
    }
}
