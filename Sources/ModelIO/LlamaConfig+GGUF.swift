// LlamaConfig from GGUF metadata: `<arch>.*` keys as written by llama.cpp's converter
// (`general.architecture` is `llama` for Llama and Mistral, `qwen2` for Qwen2; the family is
// looked up once, `Architecture.gguf(architecture:)`).

import LlamaModel
import Kernels
import ModelFormats

extension LlamaConfig {
    /// Reads the model hyper-parameters from a GGUF file's metadata. The output head is tied
    /// when the file has no `output.weight` tensor.
    public init(gguf file: GGUFFile) throws {
        // LongRoPE's factors are tensors (`rope_factors_short/long.weight`, F32 [R/2]).
        func factors(_ name: String) throws -> [Double]? {
            guard let t = file.tensor(named: name) else { return nil }
            guard t.type == .f32 else {
                throw LlamaModelError.invalidConfig("GGUF tensor '\(name)' is \(t.type), expected F32")
            }
            let bytes = file.data(for: t)
            return (0..<(bytes.count / 4)).map { Double(bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self)) }
        }
        try self.init(ggufMetadata: file.metadata, hasOutputWeight: file.tensor(named: "output.weight") != nil,
                      ropeFactors: (try factors("rope_factors_short.weight"), try factors("rope_factors_long.weight")))
    }

    /// Reads the model hyper-parameters from GGUF metadata and validates them; `ropeFactors`:
    /// LongRoPE's short and long factor tensors when the file has them.
    public init(ggufMetadata metadata: [String: GGUFValue], hasOutputWeight: Bool,
                ropeFactors: (short: [Double]?, long: [Double]?) = (nil, nil)) throws {
        let architecture = try Architecture.gguf(architecture: metadata["general.architecture"]?.string)
        let arch = architecture.ggufArchitecture
        func int(_ key: String) throws -> Int {
            guard let value = metadata["\(arch).\(key)"]?.int else {
                throw LlamaModelError.invalidConfig("GGUF metadata key '\(arch).\(key)' is missing or not an integer")
            }
            return value
        }
        func optionalInt(_ key: String) -> Int? { metadata["\(arch).\(key)"]?.int }
        func optionalDouble(_ key: String) -> Double? { metadata["\(arch).\(key)"]?.double }

        let heads = try int("attention.head_count")
        let hidden = try int("embedding_length")
        // llama.cpp writes key_length only when head_dim != hidden / heads.
        let keyLength = optionalInt("attention.key_length")
        let vocab: Int
        if let v = optionalInt("vocab_size") { vocab = v }
        else if let tokens = metadata["tokenizer.ggml.tokens"]?.array { vocab = tokens.count }
        else { throw LlamaModelError.invalidConfig("GGUF has neither '\(arch).vocab_size' nor 'tokenizer.ggml.tokens'") }
        var linearFactor: Double?
        if let kind = metadata["\(arch).rope.scaling.type"]?.string, kind != "none" {
            guard kind == "linear", architecture.rope.scalings.contains(kind), let factor = optionalDouble("rope.scaling.factor") else {
                throw LlamaModelError.invalidConfig("GGUF \(arch).rope.scaling.type '\(kind)' is not supported")
            }
            linearFactor = factor == 1 ? nil : factor
        }
        self.init(
            architecture: architecture,
            hiddenSize: hidden,
            intermediateSize: try int("feed_forward_length"),
            numHiddenLayers: try int("block_count"),
            numAttentionHeads: heads,
            numKeyValueHeads: optionalInt("attention.head_count_kv") ?? heads,
            headDim: keyLength.flatMap { $0 == hidden / max(heads, 1) ? nil : $0 },
            rmsNormEps: optionalDouble("attention.layer_norm_rms_epsilon") ?? 1e-5,
            ropeTheta: optionalDouble("rope.freq_base") ?? architecture.rope.defaultTheta,
            vocabSize: vocab,
            maxPositionEmbeddings: optionalInt("context_length") ?? 2048,
            tieWordEmbeddings: !hasOutputWeight,
            bosTokenId: metadata["tokenizer.ggml.bos_token_id"]?.int,
            eosTokenIds: metadata["tokenizer.ggml.eos_token_id"]?.int.map { [$0] } ?? [],
            // GGUF has no attention_bias key: biases only where the family always has them.
            attentionBias: architecture.attentionBias == .qkv,
            ropeLinearFactor: linearFactor)
        if architecture.slidingWindow == .interleaved {
            slidingWindow = optionalInt("attention.sliding_window")
            let defaults = Self.ggufInterleavedDefaults(self)
            (slidingLayers, localRopeTheta, queryPreAttentionScalar) =
                (defaults.slidingLayers, defaults.localRopeTheta, defaults.queryPreAttentionScalar)
            // Newer converters may say what older llama.cpp assumes.
            if let base = optionalDouble("rope.freq_base_swa") { localRopeTheta = base }
            if let pattern = metadata["\(arch).attention.sliding_window_pattern"] {
                if let every = pattern.int {
                    slidingLayers = Self.slidingLayers(count: numHiddenLayers, pattern: every)
                } else if let flags = pattern.array?.map(\.bool), flags.allSatisfy({ $0 != nil }) {
                    slidingLayers = flags.compactMap { $0 }
                } else {
                    throw LlamaModelError.invalidConfig("GGUF \(arch).attention.sliding_window_pattern must be an integer or an array of booleans")
                }
            }
            if metadata["\(arch).attention.layer_norm_rms_epsilon"] == nil { rmsNormEps = 1e-6 }
        }
        if architecture.slidingWindow == .allLayers, let w = optionalInt("attention.sliding_window"), w > 0 {
            slidingWindow = w   // llama.cpp's phi3: 0 means no window
        }
        // Partial rotary: llama.cpp's n_rot.
        if let rotary = optionalInt("rope.dimension_count"), rotary != headDim, headDim > 0 {
            partialRotaryFactor = Double(rotary) / Double(headDim)
        }
        if architecture.rope.scalings.contains("longrope"), let short = ropeFactors.short, let long = ropeFactors.long {
            guard let original = optionalInt("rope.scaling.original_context_length") else {
                throw LlamaModelError.invalidConfig("GGUF has LongRoPE factors but no '\(arch).rope.scaling.original_context_length'")
            }
            longRoPE = LongRoPEScaling(shortFactor: short, longFactor: long, originalMaxPositionEmbeddings: original,
                                       attentionFactor: optionalDouble("rope.scaling.attn_factor"))
        }
        try validate()
    }

    /// What llama.cpp assumes of an interleaved family's GGUF (Gemma 3, `llama-model.cpp`): every
    /// 6th layer global, the sliding layers' RoPE base 10000 unscaled, attention scale 1/√D.
    static func ggufInterleavedDefaults(_ config: LlamaConfig) -> (slidingLayers: [Bool], localRopeTheta: Double?,
                                                                    queryPreAttentionScalar: Double) {
        (LlamaConfig.slidingLayers(count: config.numHiddenLayers, pattern: 6),
         config.architecture.rope.defaultLocalTheta, Double(config.headDim))
    }
}
