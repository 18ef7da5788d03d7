// What a model family needs, as data (docs/architecture.md §7.1): the traits of its decoder
// (norms, biases, MLP, RoPE, scales, head) and one table naming its tensors in GGUF and Hugging
// Face files. A config gets its family in one place, `Architecture.huggingFace(modelType:)` /
// `Architecture.gguf(architecture:)`; everything else asks the traits and never compares a
// model-type string. Traits the kernels do not implement yet are cases too, refused at
// validation (`unsupportedTraits`) rather than ignored, so the next family is a table entry
// plus its kernels.
// Legend: C = hidden, D = head dim.

/// The traits and tensor names of a Llama-family decoder.
public struct Architecture: Sendable, Equatable, CustomStringConvertible {
    // MARK: Identity

    /// HF `config.json` `model_type`, also the family's name (`llama`, `mistral`, `qwen2`).
    public var modelType: String
    /// The transformers class that loads the family (`architectures[0]` of `config.json`).
    public var huggingFaceClass: String
    /// llama.cpp's `general.architecture`, written on GGUF export (Mistral is `llama` there).
    public var ggufArchitecture: String
    /// A GGUF file whose `general.architecture` is `ggufArchitecture` loads as this family.
    /// False for a family llama.cpp writes under another family's name (Mistral as `llama`).
    public var readsGGUF: Bool
    /// llama.cpp stores `attn_q` / `attn_k` rows permuted for interleaved RoPE (llama
    /// architecture); the loader un-permutes, the writers permute back (§7).
    public var ggufPermutesQK: Bool

    // MARK: Decoder block

    public var norm: Norm
    public var layerNorms: LayerNorms
    public var qkNorm: QKNorm
    public var attentionBias: AttentionBias
    public var mlp: MLP
    public var rope: RoPE
    public var attentionScale: AttentionScale
    public var embeddingScale: EmbeddingScale
    /// tanh soft-capping of the attention scores.
    public var attentionSoftcap: Softcap
    /// tanh soft-capping of the output logits.
    public var finalLogitSoftcap: Softcap
    public var slidingWindow: SlidingWindow
    /// `tie_word_embeddings` when `config.json` does not say (GGUF: tied when there is no
    /// `output.weight`).
    public var tiedHeadByDefault: Bool

    /// q/k/v and gate/up are stored (and adapted by PEFT) as one fused matrix each,
    /// `qkv_proj` and `gate_up_proj` (Phi-3): the loader splits their rows, the writers
    /// concatenate them, and a LoRA adapter has one A per fused module (`FusedProjection`).
    public var fusedProjections: Bool = false

    /// GGUF and Hugging Face names of every tensor.
    public var tensorNames: TensorNames

    public var description: String { modelType }

    // MARK: Traits

    /// The normalisation: `x̂ · (weightOffset + w)` with `x̂` normalised by `kind`.
    public struct Norm: Sendable, Equatable {
        public enum Kind: String, Sendable { case rmsNorm = "RMSNorm", layerNorm = "LayerNorm" }
        public var kind: Kind
        /// 0: `x̂ · w` (Llama); 1: `x̂ · (1 + w)` (Gemma). Hugging Face files store `w`, and the
        /// loader holds `weightOffset + w` (fp32, as transformers adds it); llama.cpp's GGUFs store
        /// `1 + w` already (`normWeightOffset(format:)`).
        public var weightOffset: Float
        public init(kind: Kind, weightOffset: Float) { self.kind = kind; self.weightOffset = weightOffset }
    }

    /// Which norms a decoder layer has.
    public enum LayerNorms: Sendable, Equatable {
        /// Two: before attention (`attn_norm`) and before the MLP (`ffn_norm`).
        case preAttentionAndMLP
        /// Four: also after attention and after the MLP, before the residual add (Gemma 2/3).
        case sandwich
    }

    /// Normalisation of q and k per head, before RoPE.
    public enum QKNorm: Sendable, Equatable {
        case none
        /// RMSNorm over each head's D values with a `[D]` weight (`q_norm`, `k_norm`; Qwen3, Gemma 3).
        case rmsPerHead
    }

    /// Biases on the attention projections.
    public enum AttentionBias: Sendable, Equatable {
        case none
        /// q/k/v biases when `config.json` says `attention_bias` (never in a GGUF).
        case fromConfig
        /// Always q/k/v biases, never on o (Qwen2).
        case qkv
    }

    /// The gated MLP `down(act(gate(x)) · up(x))`.
    public enum MLP: Sendable, Equatable {
        /// act = SiLU.
        case swiGLU
        /// act = tanh-approximated GELU (Gemma).
        case geGLU

        /// HF `hidden_act`.
        public var hiddenAct: String {
            switch self {
            case .swiGLU: return "silu"
            case .geGLU: return "gelu_pytorch_tanh"
            }
        }
    }

    /// Rotary position embedding (HF rotate-half layout, `RoPE.swift`).
    public struct RoPE: Sendable, Equatable {
        /// `rope_theta` when the config does not give it.
        public var defaultTheta: Double
        /// `rope_scaling` types the family accepts besides none.
        public var scalings: [String]
        /// `partial_rotary_factor` when the config does not give it.
        public var partialRotaryFactor: Double
        /// The sliding-window layers' own base (`rope_local_base_freq`, Gemma 3), when it has one.
        public var defaultLocalTheta: Double?
        public init(defaultTheta: Double, scalings: [String], partialRotaryFactor: Double, defaultLocalTheta: Double? = nil) {
            self.defaultTheta = defaultTheta
            self.scalings = scalings
            self.partialRotaryFactor = partialRotaryFactor
            self.defaultLocalTheta = defaultLocalTheta
        }
    }

    /// The factor on q·k.
    public enum AttentionScale: Sendable, Equatable {
        /// `1/√D`.
        case inverseSqrtHeadDim
        /// `1/√query_pre_attn_scalar` (Gemma 2/3).
        case queryPreAttentionScalar
    }

    /// The factor on the token embeddings.
    public enum EmbeddingScale: Sendable, Equatable {
        case none
        /// `√C` (Gemma).
        case sqrtHiddenSize
    }

    /// `cap · tanh(x / cap)` on scores or logits.
    public enum Softcap: Sendable, Equatable {
        case none
        case tanh
    }

    /// Sliding-window attention: each query sees the last `sliding_window` keys, itself included.
    /// Applied on every layer (`allLayers`, Mistral); a window on some layers only
    /// (`allLayersWhenEnabled`, Qwen2/3 from `max_window_layers` on) is read, and inputs longer
    /// than it are refused (where full and windowed attention would differ).
    public enum SlidingWindow: Sendable, Equatable {
        /// No window (`sliding_window` is ignored).
        case none
        /// Every layer, `sliding_window` when it is not null (Mistral).
        case allLayers
        /// Every layer, only when `use_sliding_window` is true (Qwen2).
        case allLayersWhenEnabled
        /// Sliding-window and global layers interleaved (`layer_types`, or every
        /// `sliding_window_pattern`-th layer global; Gemma 3), each kind with its own RoPE base.
        case interleaved
    }

    // MARK: Refusals

    /// The traits the kernels do not implement, in words; empty when the family can run.
    public var unsupportedTraits: [String] {
        var out: [String] = []
        if norm.kind != .rmsNorm { out.append("\(norm.kind.rawValue) norms") }
        if norm.weightOffset != 0 && norm.weightOffset != 1 { out.append("RMSNorm weights applied as \(norm.weightOffset)+w") }
        if attentionSoftcap != .none { out.append("attention logit soft-capping") }
        if finalLogitSoftcap != .none { out.append("final logit soft-capping") }
        return out
    }

    /// What the norm weights of a file in `format` lack of what the model applies: the loader
    /// adds it, the Hugging Face writer takes it off again (llama.cpp's GGUFs already hold it).
    public func normWeightOffset(format: WeightFormat) -> Float {
        format == .huggingFace ? norm.weightOffset : 0
    }

    /// Throws one line naming every trait of the family that is not supported yet.
    public func requireSupported() throws {
        let missing = unsupportedTraits
        guard missing.isEmpty else {
            throw LlamaModelError.invalidConfig("model_type '\(modelType)' needs \(missing.joined(separator: ", ")), not supported yet")
        }
    }
}

// MARK: - Tensor names

extension Architecture {
    /// What a tensor is for, whatever a file calls it.
    public enum TensorRole: String, Sendable, CaseIterable {
        // Whole model.
        case embedding, outputNorm, output, ropeFrequencies
        // Per layer.
        case attentionNorm, q, k, v, o, qBias, kBias, vBias, qNorm, kNorm, ffnNorm, gate, up, down
        /// The sandwich norms (`LayerNorms.sandwich`): on o_proj's and down_proj's outputs.
        case postAttentionNorm, postFFNNorm
        /// The fused matrices of `fusedProjections` families: q, k, v rows stacked; gate, up rows stacked.
        case qkv, gateUp
        /// LongRoPE's divisors as llama.cpp stores them (`rope_factors_short/long.weight`).
        case ropeFactorsShort, ropeFactorsLong

        /// Norm weights (what `Norm.weightOffset` applies to).
        public var isNorm: Bool {
            switch self {
            case .outputNorm, .attentionNorm, .qNorm, .kNorm, .ffnNorm, .postAttentionNorm, .postFFNNorm: return true
            default: return false
            }
        }

        /// Whether the name carries a layer index.
        public var isPerLayer: Bool {
            switch self {
            case .embedding, .outputNorm, .output, .ropeFrequencies, .ropeFactorsShort, .ropeFactorsLong: return false
            default: return true
            }
        }
    }

    /// The two checkpoint formats.
    public enum WeightFormat: Sendable, Equatable {
        /// llama.cpp names (`blk.N.attn_q.weight`).
        case gguf
        /// Hugging Face names (`model.layers.N.self_attn.q_proj.weight`).
        case huggingFace
    }

    /// Tensor names per role: whole-model names in full, per-layer names after the layer
    /// prefix (`blk.N.`, `model.layers.N.`).
    public struct TensorNames: Sendable, Equatable {
        public var ggufLayerPrefix: String
        public var huggingFaceLayerPrefix: String
        public var gguf: [TensorRole: String]
        public var huggingFace: [TensorRole: String]

        /// The file's name for `role` (of `layer` when per layer).
        public func name(_ role: TensorRole, layer: Int? = nil, format: WeightFormat) throws -> String {
            let (prefix, table) = format == .gguf ? (ggufLayerPrefix, gguf) : (huggingFaceLayerPrefix, huggingFace)
            guard let base = table[role] else {
                throw LlamaModelError.invalidConfig("no \(format == .gguf ? "GGUF" : "Hugging Face") tensor name for \(role.rawValue)")
            }
            guard role.isPerLayer else { return base }
            guard let layer else { throw LlamaModelError.invalidConfig("tensor \(role.rawValue) needs a layer index") }
            return "\(prefix)\(layer).\(base)"
        }
    }

    /// The tensors of Llama, Mistral, Qwen2 and Qwen3 (q/k/v biases and q/k norms named for all;
    /// loaded when the traits say so).
    public static let llamaTensorNames = TensorNames(
        ggufLayerPrefix: "blk.",
        huggingFaceLayerPrefix: "model.layers.",
        gguf: [
            .embedding: "token_embd.weight", .outputNorm: "output_norm.weight", .output: "output.weight",
            .ropeFrequencies: "rope_freqs.weight",
            .attentionNorm: "attn_norm.weight", .q: "attn_q.weight", .k: "attn_k.weight", .v: "attn_v.weight",
            .o: "attn_output.weight", .qBias: "attn_q.bias", .kBias: "attn_k.bias", .vBias: "attn_v.bias",
            .qNorm: "attn_q_norm.weight", .kNorm: "attn_k_norm.weight", .ffnNorm: "ffn_norm.weight", .gate: "ffn_gate.weight", .up: "ffn_up.weight", .down: "ffn_down.weight",
        ],
        huggingFace: [
            .embedding: "model.embed_tokens.weight", .outputNorm: "model.norm.weight", .output: "lm_head.weight",
            .ropeFrequencies: "rope_freqs.weight",
            .attentionNorm: "input_layernorm.weight", .q: "self_attn.q_proj.weight", .k: "self_attn.k_proj.weight",
            .v: "self_attn.v_proj.weight", .o: "self_attn.o_proj.weight", .qBias: "self_attn.q_proj.bias",
            .kBias: "self_attn.k_proj.bias", .vBias: "self_attn.v_proj.bias",
            .qNorm: "self_attn.q_norm.weight", .kNorm: "self_attn.k_norm.weight", .ffnNorm: "post_attention_layernorm.weight", .gate: "mlp.gate_proj.weight", .up: "mlp.up_proj.weight",
            .down: "mlp.down_proj.weight",
        ])
}

// MARK: - The families

extension Architecture {
    /// Llama 1–3 (Llama 3's `rope_scaling`), SmolLM2, TinyLlama.
    public static let llama = Architecture(
        modelType: "llama", huggingFaceClass: "LlamaForCausalLM", ggufArchitecture: "llama", readsGGUF: true,
        ggufPermutesQK: true,
        norm: Norm(kind: .rmsNorm, weightOffset: 0), layerNorms: .preAttentionAndMLP, qkNorm: .none,
        attentionBias: .fromConfig, mlp: .swiGLU,
        rope: RoPE(defaultTheta: 10_000, scalings: ["llama3"], partialRotaryFactor: 1),
        attentionScale: .inverseSqrtHeadDim, embeddingScale: .none, attentionSoftcap: .none, finalLogitSoftcap: .none,
        slidingWindow: .none, tiedHeadByDefault: false, tensorNames: llamaTensorNames)

    /// Mistral: Llama's block with a sliding window; llama.cpp writes it as `llama`.
    public static let mistral: Architecture = {
        var a = llama
        a.modelType = "mistral"
        a.huggingFaceClass = "MistralForCausalLM"
        a.readsGGUF = false
        a.slidingWindow = .allLayers
        return a
    }()

    /// Qwen2 / Qwen2.5: q/k/v biases, NEOX RoPE in GGUF (no q/k permutation).
    public static let qwen2: Architecture = {
        var a = llama
        a.modelType = "qwen2"
        a.huggingFaceClass = "Qwen2ForCausalLM"
        a.ggufArchitecture = "qwen2"
        a.ggufPermutesQK = false
        a.attentionBias = .qkv
        a.slidingWindow = .allLayersWhenEnabled
        return a
    }()

    /// Qwen3: Qwen2's block without q/k/v biases (unless `attention_bias`), with an RMSNorm over
    /// each head of q and k before RoPE; `head_dim` set apart from hidden / heads.
    public static let qwen3: Architecture = {
        var a = qwen2
        a.modelType = "qwen3"
        a.huggingFaceClass = "Qwen3ForCausalLM"
        a.ggufArchitecture = "qwen3"
        a.attentionBias = .fromConfig
        a.qkNorm = .rmsPerHead
        return a
    }()

    /// Gemma 3 text models (`gemma3_text`: 270M, 1B; the 4B+ checkpoints' `text_config`):
    /// norms applied as x̂·(1 + w), four per layer, q/k norms, GeGLU, embeddings scaled by √C,
    /// the attention scale from `query_pre_attn_scalar`, and sliding-window layers interleaved
    /// with global ones, which have their own RoPE base. No biases; tied embeddings.
    public static let gemma3 = Architecture(
        modelType: "gemma3_text", huggingFaceClass: "Gemma3ForCausalLM", ggufArchitecture: "gemma3", readsGGUF: true,
        ggufPermutesQK: false,
        norm: Norm(kind: .rmsNorm, weightOffset: 1), layerNorms: .sandwich, qkNorm: .rmsPerHead,
        attentionBias: .fromConfig, mlp: .geGLU,
        rope: RoPE(defaultTheta: 1_000_000, scalings: ["linear"], partialRotaryFactor: 1, defaultLocalTheta: 10_000),
        attentionScale: .queryPreAttentionScalar, embeddingScale: .sqrtHiddenSize, attentionSoftcap: .none,
        finalLogitSoftcap: .none, slidingWindow: .interleaved, tiedHeadByDefault: true, tensorNames: gemmaTensorNames)

    /// Gemma 2/3 names: Llama's, with `post_attention_layernorm` the norm after attention and
    /// `pre_feedforward_layernorm` the one before the MLP.
    public static let gemmaTensorNames: TensorNames = {
        var names = llamaTensorNames
        names.gguf[.postAttentionNorm] = "post_attention_norm.weight"
        names.gguf[.postFFNNorm] = "post_ffw_norm.weight"
        names.huggingFace[.postAttentionNorm] = "post_attention_layernorm.weight"
        names.huggingFace[.ffnNorm] = "pre_feedforward_layernorm.weight"
        names.huggingFace[.postFFNNorm] = "post_feedforward_layernorm.weight"
        return names
    }()

    /// Phi-3 / Phi-4-mini: Llama's block with q/k/v and gate/up fused into one matrix each,
    /// LongRoPE, a partial rotary embedding (Phi-4-mini rotates 3/4 of each head) and the
    /// sliding window on every layer when `sliding_window` is set. NEOX RoPE in GGUF.
    public static let phi3: Architecture = {
        var a = llama
        a.modelType = "phi3"
        a.huggingFaceClass = "Phi3ForCausalLM"
        a.ggufArchitecture = "phi3"
        a.ggufPermutesQK = false
        a.attentionBias = .none
        a.rope = RoPE(defaultTheta: 10_000, scalings: ["longrope"], partialRotaryFactor: 1)
        a.slidingWindow = .allLayers
        a.fusedProjections = true
        a.tensorNames = phi3TensorNames
        return a
    }()

    /// Phi-3 names: Llama's without separate q/k/v and gate/up, with the fused matrices
    /// (llama.cpp keeps the fused gate/up as `ffn_up`, 2F rows) and LongRoPE's factor tensors.
    public static let phi3TensorNames: TensorNames = {
        var names = llamaTensorNames
        for role in [TensorRole.q, .k, .v, .gate, .up, .qBias, .kBias, .vBias, .qNorm, .kNorm] {
            names.gguf[role] = nil
            names.huggingFace[role] = nil
        }
        names.gguf[.qkv] = "attn_qkv.weight"
        names.gguf[.gateUp] = "ffn_up.weight"
        names.gguf[.ropeFactorsShort] = "rope_factors_short.weight"
        names.gguf[.ropeFactorsLong] = "rope_factors_long.weight"
        names.huggingFace[.qkv] = "self_attn.qkv_proj.weight"
        names.huggingFace[.gateUp] = "mlp.gate_up_proj.weight"
        return names
    }()

    /// Every family Tessera knows, in the order error messages list them.
    public static let known: [Architecture] = [.llama, .mistral, .qwen2, .qwen3, .gemma3, .phi3]

    /// The family of a Hugging Face `model_type` (`llama` when the config has none).
    public static func huggingFace(modelType: String?) throws -> Architecture {
        let name = modelType ?? llama.modelType
        guard let found = known.first(where: { $0.modelType == name }) else {
            throw LlamaModelError.invalidConfig("model_type '\(name)' is not supported (\(known.map(\.modelType).joined(separator: ", ")))")
        }
        return found
    }

    /// The family of a GGUF `general.architecture` (`llama` when the file has none).
    public static func gguf(architecture: String?) throws -> Architecture {
        let name = architecture ?? llama.ggufArchitecture
        let readable = known.filter(\.readsGGUF)
        guard let found = readable.first(where: { $0.ggufArchitecture == name }) else {
            throw LlamaModelError.invalidConfig("GGUF general.architecture '\(name)' is not supported (\(readable.map(\.ggufArchitecture).joined(separator: ", ")))")
        }
        return found
    }
}
