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
        // Gemma 3.
        case hiddenActivation = "hidden_activation", queryPreAttnScalar = "query_pre_attn_scalar"
        case layerTypes = "layer_types", slidingWindowPattern = "sliding_window_pattern"
        case privateSlidingWindowPattern = "_sliding_window_pattern", ropeLocalBaseFreq = "rope_local_base_freq"
        case finalLogitSoftcapping = "final_logit_softcapping", attnLogitSoftcapping = "attn_logit_softcapping"
        // Phi-3.
        case partialRotaryFactor = "partial_rotary_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
    }

    /// `layer_types` entries.
    static let slidingLayerType = "sliding_attention", fullLayerType = "full_attention"

    /// `rope_scaling` / `rope_parameters` object.
    struct RopeObject: Codable {
        var type: String?
        var ropeType: String?
        var ropeTheta: Double?
        var factor: Double?
        var lowFreqFactor: Double?
        var highFreqFactor: Double?
        var originalMaxPositionEmbeddings: Int?
        var shortFactor: [Double]? = nil
        var longFactor: [Double]? = nil
        var attentionFactor: Double? = nil
        var partialRotaryFactor: Double? = nil
        enum CodingKeys: String, CodingKey {
            case type, factor
            case ropeType = "rope_type", ropeTheta = "rope_theta", lowFreqFactor = "low_freq_factor"
            case highFreqFactor = "high_freq_factor", originalMaxPositionEmbeddings = "original_max_position_embeddings"
            case shortFactor = "short_factor", longFactor = "long_factor", attentionFactor = "attention_factor"
            case partialRotaryFactor = "partial_rotary_factor"
        }

        /// The kind, with Phi-3's old names for LongRoPE (`su`, `yarn`) as transformers maps them.
        func kind(_ architecture: Architecture) -> String {
            let kind = ropeType ?? type ?? "default"
            return architecture.rope.scalings.contains("longrope") && (kind == "su" || kind == "yarn") ? "longrope" : kind
        }

        /// The linear factor (`rope_type` linear), nil for every other kind.
        var linearFactor: Double? { (ropeType ?? type) == "linear" ? factor : nil }

        /// LongRoPE's factors (`rope_type` longrope), nil for every other kind; the original
        /// context from the config's top level (which transformers' Phi3Config prefers) or the object.
        func longRoPE(_ architecture: Architecture, originalMaxPositions: Int?) throws -> LongRoPEScaling? {
            guard kind(architecture) == "longrope" else { return nil }
            guard let shortFactor, let longFactor, let original = originalMaxPositions ?? originalMaxPositionEmbeddings else {
                throw LlamaModelError.invalidConfig("rope_scaling type longrope needs short_factor, long_factor and original_max_position_embeddings")
            }
            return LongRoPEScaling(shortFactor: shortFactor, longFactor: longFactor, originalMaxPositionEmbeddings: original,
                                   factor: factor, attentionFactor: attentionFactor)
        }

        /// nil for the plain (`default`) and linear rotary embeddings; throws for kinds not
        /// implemented or not among the family's `rope.scalings`.
        func llama3(_ architecture: Architecture) throws -> Llama3RoPEScaling? {
            let kind = kind(architecture)
            guard kind == "default" || architecture.rope.scalings.contains(kind) else {
                let accepted = (architecture.rope.scalings + ["none"]).joined(separator: " or ")
                throw LlamaModelError.invalidConfig("rope_scaling type '\(kind)' is not supported (only \(accepted))")
            }
            switch kind {
            case "default", "longrope": return nil
            case "linear":
                guard let factor, factor > 0 else {
                    throw LlamaModelError.invalidConfig("rope_scaling type linear needs a positive factor")
                }
                return nil
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
        for key in [CodingKeys.hiddenAct, .hiddenActivation] {
            if let act = try c.decodeIfPresent(String.self, forKey: key), act != hiddenAct {
                throw LlamaModelError.invalidConfig("\(key.rawValue) '\(act)' is not supported (\(hiddenAct))")
            }
        }
        for key in [CodingKeys.finalLogitSoftcapping, .attnLogitSoftcapping] {
            if let cap = try c.decodeIfPresent(Double.self, forKey: key) {
                throw LlamaModelError.invalidConfig("\(key.rawValue) \(cap) is not supported (soft-capping, Gemma 2)")
            }
        }
        if try c.decodeIfPresent(Bool.self, forKey: .mlpBias) == true {
            throw LlamaModelError.invalidConfig("mlp_bias true is not supported")
        }
        // transformers 5 writes interleaved families' rope_parameters per layer type.
        let perLayerType = try? c.decodeIfPresent([String: RopeObject].self, forKey: .ropeParameters)
        let ropeParameters = perLayerType != nil ? perLayerType?[Self.fullLayerType]
            : try c.decodeIfPresent(RopeObject.self, forKey: .ropeParameters)
        let localRope = perLayerType?[Self.slidingLayerType]
        if let local = localRope, (local.ropeType ?? local.type ?? "default") != "default" {
            throw LlamaModelError.invalidConfig("rope_parameters.sliding_attention: only the default rotary embedding is supported")
        }
        let ropeScaling = try c.decodeIfPresent(RopeObject.self, forKey: .ropeScaling)
        let theta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? ropeParameters?.ropeTheta
            ?? architecture.rope.defaultTheta
        let localTheta = architecture.rope.defaultLocalTheta == nil ? nil
            : try localRope?.ropeTheta ?? c.decodeIfPresent(Double.self, forKey: .ropeLocalBaseFreq)
                ?? architecture.rope.defaultLocalTheta
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
        let layers = try c.decode(Int.self, forKey: .numHiddenLayers)
        var slidingLayers: [Bool]?
        if architecture.slidingWindow == .interleaved {
            if let types = try c.decodeIfPresent([String].self, forKey: .layerTypes) {
                slidingLayers = try types.map {
                    guard $0 == Self.slidingLayerType || $0 == Self.fullLayerType else {
                        throw LlamaModelError.invalidConfig("layer_types entry '\($0)' is not supported (\(Self.slidingLayerType) or \(Self.fullLayerType))")
                    }
                    return $0 == Self.slidingLayerType
                }
            } else {
                let pattern = try c.decodeIfPresent(Int.self, forKey: .slidingWindowPattern)
                    ?? c.decodeIfPresent(Int.self, forKey: .privateSlidingWindowPattern) ?? 6
                slidingLayers = Self.slidingLayers(count: layers, pattern: pattern)
            }
        }
        let rope = ropeScaling ?? ropeParameters
        let longRoPE = try rope?.longRoPE(architecture, originalMaxPositions: c.decodeIfPresent(Int.self, forKey: .originalMaxPositionEmbeddings))
        let partialRotary = try c.decodeIfPresent(Double.self, forKey: .partialRotaryFactor) ?? ropeParameters?.partialRotaryFactor
            ?? architecture.rope.partialRotaryFactor
        let scalar = architecture.attentionScale == .queryPreAttentionScalar
            ? try c.decodeIfPresent(Double.self, forKey: .queryPreAttnScalar) ?? 256 : nil
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
            slidingWindow: window,
            slidingLayers: slidingLayers,
            queryPreAttentionScalar: scalar,
            localRopeTheta: localTheta,
            ropeLinearFactor: rope?.linearFactor,
            partialRotaryFactor: partialRotary,
            longRoPE: longRoPE)
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
        if architecture.slidingWindow == .interleaved {
            // transformers 5's form: one rope object per layer type, and the layer types.
            let global = RopeObject(type: nil, ropeType: ropeLinearFactor == nil ? "default" : "linear", ropeTheta: ropeTheta,
                                    factor: ropeLinearFactor, lowFreqFactor: nil, highFreqFactor: nil,
                                    originalMaxPositionEmbeddings: nil)
            let local = RopeObject(type: nil, ropeType: "default", ropeTheta: localRopeTheta ?? ropeTheta, factor: nil,
                                   lowFreqFactor: nil, highFreqFactor: nil, originalMaxPositionEmbeddings: nil)
            try c.encode([Self.fullLayerType: global, Self.slidingLayerType: local], forKey: .ropeParameters)
            try c.encode((0..<numHiddenLayers).map { isSlidingLayer($0) ? Self.slidingLayerType : Self.fullLayerType },
                         forKey: .layerTypes)
            try c.encodeIfPresent(queryPreAttentionScalar, forKey: .queryPreAttnScalar)
        } else {
            try c.encode(ropeTheta, forKey: .ropeTheta)
        }
        if let long = longRoPE {
            // transformers 4's keys, which 5 still reads: rope_scaling with the factors.
            try c.encode(RopeObject(type: "longrope", ropeType: nil, ropeTheta: nil, factor: long.factor, lowFreqFactor: nil,
                                    highFreqFactor: nil, originalMaxPositionEmbeddings: nil, shortFactor: long.shortFactor,
                                    longFactor: long.longFactor, attentionFactor: long.attentionFactor), forKey: .ropeScaling)
            try c.encode(long.originalMaxPositionEmbeddings, forKey: .originalMaxPositionEmbeddings)
        }
        if partialRotaryFactor != 1 { try c.encode(partialRotaryFactor, forKey: .partialRotaryFactor) }
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
        try c.encode(architecture.mlp.hiddenAct, forKey: architecture.mlp == .geGLU ? .hiddenActivation : .hiddenAct)
        try c.encodeIfPresent(slidingWindow, forKey: .slidingWindow)
    }
}
