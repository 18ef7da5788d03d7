// Model hyper-parameters of a Llama-family decoder (llama, mistral, qwen2), decoded from the
// exact Hugging Face `config.json` keys and validated before anything is allocated. The family's
// traits are `architecture` (Architecture.swift); nothing here compares model-type strings.
// Legend: C = hidden_size, F = intermediate_size, L = layers, H = query heads,
// G = key/value heads, D = head dim, V = vocabulary size.

import Foundation
import Kernels

/// The shape and numerics of a Llama-family model.
public struct LlamaConfig: Sendable, Equatable {
    /// The family's traits and tensor names (`Architecture.swift`, docs/architecture.md §7.1).
    public var architecture: Architecture
    /// `C`.
    public var hiddenSize: Int
    /// `F`.
    public var intermediateSize: Int
    /// `L`.
    public var numHiddenLayers: Int
    /// `H`.
    public var numAttentionHeads: Int
    /// `G` (equals `H` without grouped-query attention).
    public var numKeyValueHeads: Int
    /// `head_dim` when the config states it; otherwise `C / H` is used.
    public var explicitHeadDim: Int?
    public var rmsNormEps: Double
    public var ropeTheta: Double
    /// Llama 3 frequency scaling, when `rope_scaling` asks for it.
    public var ropeScaling: Llama3RoPEScaling?
    /// `V`.
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    /// The output head reuses the token embedding.
    public var tieWordEmbeddings: Bool
    public var bosTokenId: Int?
    /// End-of-sequence ids (HF allows one id or a list).
    public var eosTokenIds: [Int]
    /// q/k/v projections carry a bias (`architecture.attentionBias`: always for qwen2,
    /// `attention_bias` for llama and mistral).
    public var attentionBias: Bool
    /// Sliding-window size when the family has one and it is enabled (`architecture.slidingWindow`).
    public var slidingWindow: Int?
    /// Interleaved families (Gemma 3): whether each layer is a sliding-window layer
    /// (`layer_types`); nil for the others.
    public var slidingLayers: [Bool]?
    /// `query_pre_attn_scalar` (families whose attention scale is `1/√query_pre_attn_scalar`).
    public var queryPreAttentionScalar: Double?
    /// RoPE base of the sliding-window layers when it differs from `ropeTheta` (Gemma 3's
    /// `rope_local_base_freq`; their rotary embedding is never scaled).
    public var localRopeTheta: Double?
    /// Linear RoPE scaling of the global layers (`rope_type` linear: frequencies / factor).
    public var ropeLinearFactor: Double?
    /// Fraction of each head's values that rotate (`partial_rotary_factor`, Phi-4-mini 0.75).
    public var partialRotaryFactor: Double
    /// LongRoPE scaling (`rope_type` longrope, Phi-3 / Phi-4-mini).
    public var longRoPE: LongRoPEScaling?

    /// `R`: the values of each head that rotate, `int(D · partial_rotary_factor)` as transformers.
    public var rotaryDim: Int { Int(Double(headDim) * partialRotaryFactor) }

    /// The window attention applies on every layer (Mistral's); nil where layers differ.
    public var attentionWindow: Int? { architecture.slidingWindow == .allLayers ? slidingWindow : nil }

    /// Whether layer `l` attends through the sliding window.
    public func isSlidingLayer(_ l: Int) -> Bool {
        switch architecture.slidingWindow {
        case .allLayers: return slidingWindow != nil
        case .interleaved: return slidingWindow != nil && (slidingLayers.map { l < $0.count && $0[l] } ?? false)
        case .none, .allLayersWhenEnabled: return false
        }
    }

    /// The window layer `l`'s attention applies (`Attention.forward(window:)`), or nil.
    public func attentionWindow(layer l: Int) -> Int? { isSlidingLayer(l) ? slidingWindow : nil }

    /// The factor on q·k: `1/√query_pre_attn_scalar` or `1/√D`.
    public var attentionScale: Float {
        if architecture.attentionScale == .queryPreAttentionScalar, let s = queryPreAttentionScalar {
            return Float(1 / s.squareRoot())
        }
        return 1 / Float(headDim).squareRoot()
    }

    /// A window the config declares that attention does not apply (Qwen2/Qwen3 with
    /// `use_sliding_window`, where transformers windows only the layers from `max_window_layers`
    /// on): inputs longer than it are refused, where the two would differ.
    public var unappliedWindow: Int? { architecture.slidingWindow == .allLayersWhenEnabled ? slidingWindow : nil }

    /// HF `model_type` of the family (`llama`, `mistral`, `qwen2`), for display.
    public var modelType: String { architecture.modelType }
    /// `D`.
    public var headDim: Int { explicitHeadDim ?? (numAttentionHeads > 0 ? hiddenSize / numAttentionHeads : 0) }
    /// `H · D`: width of the q projection and of the attention output.
    public var queryWidth: Int { numAttentionHeads * headDim }
    /// `G · D`: width of the k and v projections.
    public var keyValueWidth: Int { numKeyValueHeads * headDim }

    /// A config from explicit values (tests, GGUF metadata).
    public init(architecture: Architecture = .llama, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int? = nil, headDim: Int? = nil,
                rmsNormEps: Double = 1e-5, ropeTheta: Double = 10_000, ropeScaling: Llama3RoPEScaling? = nil,
                vocabSize: Int, maxPositionEmbeddings: Int = 2048, tieWordEmbeddings: Bool = false,
                bosTokenId: Int? = nil, eosTokenIds: [Int] = [], attentionBias: Bool = false,
                slidingWindow: Int? = nil, slidingLayers: [Bool]? = nil, queryPreAttentionScalar: Double? = nil,
                localRopeTheta: Double? = nil, ropeLinearFactor: Double? = nil, partialRotaryFactor: Double = 1,
                longRoPE: LongRoPEScaling? = nil) {
        self.architecture = architecture
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads ?? numAttentionHeads
        self.explicitHeadDim = headDim
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.vocabSize = vocabSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.attentionBias = attentionBias
        self.slidingWindow = slidingWindow
        self.slidingLayers = slidingLayers
        self.queryPreAttentionScalar = queryPreAttentionScalar
        self.localRopeTheta = localRopeTheta
        self.ropeLinearFactor = ropeLinearFactor
        self.partialRotaryFactor = partialRotaryFactor
        self.longRoPE = longRoPE
    }

    /// Gemma 3's layer kinds when `layer_types` is not given: every `pattern`-th layer global.
    public static func slidingLayers(count: Int, pattern: Int) -> [Bool] {
        (0..<count).map { pattern <= 0 || ($0 + 1) % pattern != 0 }
    }

    /// Decodes an HF `config.json` file and validates it.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw LlamaModelError.invalidConfig("cannot read \(url.path): \(error.localizedDescription)")
        }
        do { self = try JSONDecoder().decode(LlamaConfig.self, from: data) } catch let error as LlamaModelError {
            throw error
        } catch {
            throw LlamaModelError.invalidConfig("\(url.path) is not a valid config.json: \(error)")
        }
        try validate()
    }

    /// Checks sizes and divisibility; the message names the offending field.
    public func validate() throws {
        func positive(_ value: Int, _ field: String) throws {
            guard value > 0 else { throw LlamaModelError.invalidConfig("\(field) must be positive, got \(value)") }
        }
        try architecture.requireSupported()
        try positive(hiddenSize, "hidden_size")
        try positive(intermediateSize, "intermediate_size")
        try positive(numHiddenLayers, "num_hidden_layers")
        try positive(numAttentionHeads, "num_attention_heads")
        try positive(numKeyValueHeads, "num_key_value_heads")
        try positive(vocabSize, "vocab_size")
        try positive(maxPositionEmbeddings, "max_position_embeddings")
        guard numAttentionHeads % numKeyValueHeads == 0 else {
            throw LlamaModelError.invalidConfig("num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(numKeyValueHeads)")
        }
        if let d = explicitHeadDim {
            try positive(d, "head_dim")
        } else if hiddenSize % numAttentionHeads != 0 {
            throw LlamaModelError.invalidConfig("hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(numAttentionHeads) (and head_dim is not given)")
        }
        guard headDim % 2 == 0 else {
            throw LlamaModelError.invalidConfig("head_dim \(headDim) must be even for rotary embeddings")
        }
        guard partialRotaryFactor > 0, partialRotaryFactor <= 1, rotaryDim > 0, rotaryDim % 2 == 0 else {
            throw LlamaModelError.invalidConfig("partial_rotary_factor \(partialRotaryFactor) must be in (0, 1] and give an even rotary dim (head_dim \(headDim) × factor = \(rotaryDim))")
        }
        if let long = longRoPE {
            for (factors, field) in [(long.shortFactor, "short_factor"), (long.longFactor, "long_factor")] {
                guard factors.count == rotaryDim / 2, factors.allSatisfy({ $0 > 0 && $0.isFinite }) else {
                    throw LlamaModelError.invalidConfig("rope_scaling (longrope) \(field) must hold \(rotaryDim / 2) positive numbers (rotary dim \(rotaryDim) / 2), got \(factors.count)")
                }
            }
            guard long.originalMaxPositionEmbeddings > 0 else {
                throw LlamaModelError.invalidConfig("original_max_position_embeddings must be positive, got \(long.originalMaxPositionEmbeddings)")
            }
        }
        guard rmsNormEps > 0, rmsNormEps.isFinite else {
            throw LlamaModelError.invalidConfig("rms_norm_eps must be positive, got \(rmsNormEps)")
        }
        guard ropeTheta > 0, ropeTheta.isFinite else {
            throw LlamaModelError.invalidConfig("rope_theta must be positive, got \(ropeTheta)")
        }
        if let s = ropeScaling {
            guard s.factor > 0, s.lowFreqFactor > 0, s.highFreqFactor > s.lowFreqFactor, s.originalMaxPositionEmbeddings > 0 else {
                throw LlamaModelError.invalidConfig("rope_scaling (llama3) needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0, got \(s)")
            }
        }
        for id in [bosTokenId].compactMap({ $0 }) + eosTokenIds where id < 0 || id >= vocabSize {
            throw LlamaModelError.invalidConfig("token id \(id) (bos_token_id / eos_token_id) is outside vocab_size \(vocabSize)")
        }
        if let w = slidingWindow { try positive(w, "sliding_window") }
        if let layers = slidingLayers, layers.count != numHiddenLayers {
            throw LlamaModelError.invalidConfig("layer_types has \(layers.count) entries for num_hidden_layers \(numHiddenLayers)")
        }
        for (value, field) in [(queryPreAttentionScalar, "query_pre_attn_scalar"), (localRopeTheta, "rope_local_base_freq"),
                               (ropeLinearFactor, "rope_scaling factor")] {
            if let value, !(value > 0 && value.isFinite) {
                throw LlamaModelError.invalidConfig("\(field) must be positive, got \(value)")
            }
        }
    }
}
