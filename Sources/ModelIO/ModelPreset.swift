// Published shapes of common Llama-family, Qwen3, Gemma 3 and Phi models, so `tessera info`, `plan` and `bench train` can
// work on a model that is not on disk (ModelSource.swift). Every value is the one in the model's
// Hugging Face `config.json` (hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads, num_key_value_heads, vocab_size, tie_word_embeddings, rope_theta,
// rope_scaling, max_position_embeddings, rms_norm_eps, bos/eos ids); the parameter counts they
// give are held to the published ones in ModelPresetTests, and with PEFT's trainable lines to
// transformers' `from_config` (Tests/Fixtures/reference/presets.json).
// Legend: C = hidden, F = FFN size, L = layers, H = query heads, G = KV heads, V = vocabulary.
import LlamaModel
import Kernels

/// A named model shape (a Hugging Face config without weights).
public struct ModelPreset: Sendable, Equatable {
    /// Short name used on the command line (`llama2-70b`).
    public let name: String
    /// The Hugging Face repository the shape is taken from.
    public let huggingFaceID: String
    public let config: LlamaConfig
    /// Bytes per stored element of the embedding and head as published (bf16 for these
    /// checkpoints): they stay in their stored precision under QLoRA.
    public let embeddingBytesPerParameter: Double

    /// Llama 3.1's `rope_scaling` (factor 8; 3.2 uses factor 32), over 8192 original positions.
    static func llama3Scaling(factor: Double) -> Llama3RoPEScaling {
        Llama3RoPEScaling(factor: factor, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192)
    }

    /// Every preset, smallest first within each family.
    public static let all: [ModelPreset] = [
        // SmolLM2-135M: C 576, F 1536, L 30, H 9, G 3, V 49152, tied, θ 100000.
        ModelPreset(name: "smollm2-135m", huggingFaceID: "HuggingFaceTB/SmolLM2-135M", config: LlamaConfig(
            hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9, numKeyValueHeads: 3,
            ropeTheta: 100_000, vocabSize: 49152, maxPositionEmbeddings: 8192, tieWordEmbeddings: true,
            bosTokenId: 0, eosTokenIds: [0])),
        // Llama-2-7B: C 4096, F 11008, L 32, H 32, G 32, V 32000.
        ModelPreset(name: "llama2-7b", huggingFaceID: "meta-llama/Llama-2-7b-hf", config: LlamaConfig(
            hiddenSize: 4096, intermediateSize: 11008, numHiddenLayers: 32, numAttentionHeads: 32, numKeyValueHeads: 32,
            vocabSize: 32000, maxPositionEmbeddings: 4096, bosTokenId: 1, eosTokenIds: [2])),
        // Llama-2-13B: C 5120, F 13824, L 40, H 40, G 40, V 32000.
        ModelPreset(name: "llama2-13b", huggingFaceID: "meta-llama/Llama-2-13b-hf", config: LlamaConfig(
            hiddenSize: 5120, intermediateSize: 13824, numHiddenLayers: 40, numAttentionHeads: 40, numKeyValueHeads: 40,
            vocabSize: 32000, maxPositionEmbeddings: 4096, bosTokenId: 1, eosTokenIds: [2])),
        // Llama-2-70B: C 8192, F 28672, L 80, H 64, G 8 (GQA), V 32000.
        ModelPreset(name: "llama2-70b", huggingFaceID: "meta-llama/Llama-2-70b-hf", config: LlamaConfig(
            hiddenSize: 8192, intermediateSize: 28672, numHiddenLayers: 80, numAttentionHeads: 64, numKeyValueHeads: 8,
            vocabSize: 32000, maxPositionEmbeddings: 4096, bosTokenId: 1, eosTokenIds: [2])),
        // Llama-3-8B: C 4096, F 14336, L 32, H 32, G 8, V 128256, θ 500000.
        ModelPreset(name: "llama3-8b", huggingFaceID: "meta-llama/Meta-Llama-3-8B", config: LlamaConfig(
            hiddenSize: 4096, intermediateSize: 14336, numHiddenLayers: 32, numAttentionHeads: 32, numKeyValueHeads: 8,
            ropeTheta: 500_000, vocabSize: 128_256, maxPositionEmbeddings: 8192, bosTokenId: 128_000, eosTokenIds: [128_001])),
        // Llama-3-70B: C 8192, F 28672, L 80, H 64, G 8, V 128256, θ 500000.
        ModelPreset(name: "llama3-70b", huggingFaceID: "meta-llama/Meta-Llama-3-70B", config: LlamaConfig(
            hiddenSize: 8192, intermediateSize: 28672, numHiddenLayers: 80, numAttentionHeads: 64, numKeyValueHeads: 8,
            ropeTheta: 500_000, vocabSize: 128_256, maxPositionEmbeddings: 8192, bosTokenId: 128_000, eosTokenIds: [128_001])),
        // Llama-3.1-8B: as Llama-3-8B with llama3 RoPE scaling (factor 8) and 131072 positions.
        ModelPreset(name: "llama3.1-8b", huggingFaceID: "meta-llama/Llama-3.1-8B", config: LlamaConfig(
            hiddenSize: 4096, intermediateSize: 14336, numHiddenLayers: 32, numAttentionHeads: 32, numKeyValueHeads: 8,
            ropeTheta: 500_000, ropeScaling: llama3Scaling(factor: 8), vocabSize: 128_256,
            maxPositionEmbeddings: 131_072, bosTokenId: 128_000, eosTokenIds: [128_001])),
        // Llama-3.1-70B: C 8192, F 28672, L 80, H 64, G 8, V 128256, scaling factor 8.
        ModelPreset(name: "llama3.1-70b", huggingFaceID: "meta-llama/Llama-3.1-70B", config: LlamaConfig(
            hiddenSize: 8192, intermediateSize: 28672, numHiddenLayers: 80, numAttentionHeads: 64, numKeyValueHeads: 8,
            ropeTheta: 500_000, ropeScaling: llama3Scaling(factor: 8), vocabSize: 128_256,
            maxPositionEmbeddings: 131_072, bosTokenId: 128_000, eosTokenIds: [128_001])),
        // Llama-3.2-1B: C 2048, F 8192, L 16, H 32, G 8 (head dim 64), V 128256, tied, factor 32.
        ModelPreset(name: "llama3.2-1b", huggingFaceID: "meta-llama/Llama-3.2-1B", config: LlamaConfig(
            hiddenSize: 2048, intermediateSize: 8192, numHiddenLayers: 16, numAttentionHeads: 32, numKeyValueHeads: 8,
            headDim: 64, ropeTheta: 500_000, ropeScaling: llama3Scaling(factor: 32), vocabSize: 128_256,
            maxPositionEmbeddings: 131_072, tieWordEmbeddings: true, bosTokenId: 128_000, eosTokenIds: [128_001])),
        // Llama-3.2-3B: C 3072, F 8192, L 28, H 24, G 8 (head dim 128), V 128256, tied, factor 32.
        ModelPreset(name: "llama3.2-3b", huggingFaceID: "meta-llama/Llama-3.2-3B", config: LlamaConfig(
            hiddenSize: 3072, intermediateSize: 8192, numHiddenLayers: 28, numAttentionHeads: 24, numKeyValueHeads: 8,
            headDim: 128, ropeTheta: 500_000, ropeScaling: llama3Scaling(factor: 32), vocabSize: 128_256,
            maxPositionEmbeddings: 131_072, tieWordEmbeddings: true, bosTokenId: 128_000, eosTokenIds: [128_001])),
        // Qwen3-0.6B: C 1024, F 3072, L 28, H 16, G 8, head dim 128 (q width 2048 ≠ C), V 151936, tied, θ 1e6.
        ModelPreset(name: "qwen3-0.6b", huggingFaceID: "Qwen/Qwen3-0.6B", config: qwen3(
            hiddenSize: 1024, intermediateSize: 3072, numHiddenLayers: 28, numAttentionHeads: 16, tied: true)),
        // Qwen3-1.7B: C 2048, F 6144, L 28, H 16, G 8, head dim 128, V 151936, tied.
        ModelPreset(name: "qwen3-1.7b", huggingFaceID: "Qwen/Qwen3-1.7B", config: qwen3(
            hiddenSize: 2048, intermediateSize: 6144, numHiddenLayers: 28, numAttentionHeads: 16, tied: true)),
        // Qwen3-4B: C 2560, F 9728, L 36, H 32, G 8, head dim 128, V 151936, tied.
        ModelPreset(name: "qwen3-4b", huggingFaceID: "Qwen/Qwen3-4B", config: qwen3(
            hiddenSize: 2560, intermediateSize: 9728, numHiddenLayers: 36, numAttentionHeads: 32, tied: true)),
        // Qwen3-8B: C 4096, F 12288, L 36, H 32, G 8, head dim 128, V 151936, untied.
        ModelPreset(name: "qwen3-8b", huggingFaceID: "Qwen/Qwen3-8B", config: qwen3(
            hiddenSize: 4096, intermediateSize: 12288, numHiddenLayers: 36, numAttentionHeads: 32, tied: false)),
        // Gemma-3-270M: C 640, F 2048, L 18, H 4, G 1, head dim 256, V 262144, window 512.
        ModelPreset(name: "gemma3-270m", huggingFaceID: "google/gemma-3-270m", config: gemma3(
            hiddenSize: 640, intermediateSize: 2048, numHiddenLayers: 18, numAttentionHeads: 4, numKeyValueHeads: 1,
            vocabSize: 262_144, slidingWindow: 512, maxPositionEmbeddings: 32_768, linearFactor: nil)),
        // Gemma-3-1B: C 1152, F 6912, L 26, H 4, G 1, head dim 256, V 262144, window 512.
        ModelPreset(name: "gemma3-1b", huggingFaceID: "google/gemma-3-1b-pt", config: gemma3(
            hiddenSize: 1152, intermediateSize: 6912, numHiddenLayers: 26, numAttentionHeads: 4, numKeyValueHeads: 1,
            vocabSize: 262_144, slidingWindow: 512, maxPositionEmbeddings: 32_768, linearFactor: nil)),
        // Gemma-3-4B's text model (the checkpoint also holds a vision tower): C 2560, F 10240, L 34, H 8,
        // G 4, head dim 256, V 262208, window 1024, global layers' RoPE linearly scaled by 8.
        ModelPreset(name: "gemma3-4b", huggingFaceID: "google/gemma-3-4b-pt", config: gemma3(
            hiddenSize: 2560, intermediateSize: 10240, numHiddenLayers: 34, numAttentionHeads: 8, numKeyValueHeads: 4,
            vocabSize: 262_208, slidingWindow: 1024, maxPositionEmbeddings: 131_072, linearFactor: 8)),
        // Phi-3-mini-4k: C 3072, F 8192, L 32, H 32, G 32, V 32064, untied, window 2047, no rope_scaling.
        ModelPreset(name: "phi3-mini", huggingFaceID: "microsoft/Phi-3-mini-4k-instruct", config: LlamaConfig(
            architecture: .phi3, hiddenSize: 3072, intermediateSize: 8192, numHiddenLayers: 32, numAttentionHeads: 32,
            numKeyValueHeads: 32, vocabSize: 32064, maxPositionEmbeddings: 4096, bosTokenId: 1, eosTokenIds: [32000],
            slidingWindow: 2047)),
        // Phi-4-mini: C 3072, F 8192, L 32, H 24, G 8, V 200064, tied, partial rotary 0.75. Its
        // LongRoPE factors (48 each) are the checkpoint's: a preset, which is a shape for
        // `plan` / `bench`, leaves them out, so its rotary embedding is the unscaled one.
        ModelPreset(name: "phi4-mini", huggingFaceID: "microsoft/Phi-4-mini-instruct", config: LlamaConfig(
            architecture: .phi3, hiddenSize: 3072, intermediateSize: 8192, numHiddenLayers: 32, numAttentionHeads: 24,
            numKeyValueHeads: 8, vocabSize: 200_064, maxPositionEmbeddings: 131_072, tieWordEmbeddings: true,
            bosTokenId: 199_999, eosTokenIds: [199_999], slidingWindow: 262_144, partialRotaryFactor: 0.75)),
    ]

    /// A Gemma 3 shape: head dim 256 and query_pre_attn_scalar 256, every 6th layer global (θ 1e6)
    /// and the others sliding (θ 1e4), eps 1e-6, tied embeddings, bos 2, eos 1.
    static func gemma3(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                       numKeyValueHeads: Int, vocabSize: Int, slidingWindow: Int, maxPositionEmbeddings: Int,
                       linearFactor: Double?) -> LlamaConfig {
        LlamaConfig(architecture: .gemma3, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
                    numHiddenLayers: numHiddenLayers, numAttentionHeads: numAttentionHeads,
                    numKeyValueHeads: numKeyValueHeads, headDim: 256, rmsNormEps: 1e-6, ropeTheta: 1_000_000,
                    vocabSize: vocabSize, maxPositionEmbeddings: maxPositionEmbeddings, tieWordEmbeddings: true,
                    bosTokenId: 2, eosTokenIds: [1], slidingWindow: slidingWindow,
                    slidingLayers: LlamaConfig.slidingLayers(count: numHiddenLayers, pattern: 6),
                    queryPreAttentionScalar: 256, localRopeTheta: 10_000, ropeLinearFactor: linearFactor)
    }

    /// A Qwen3 shape: 8 KV heads of 128, vocabulary 151936, θ 1e6, eps 1e-6, 40960 positions.
    static func qwen3(hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                      tied: Bool) -> LlamaConfig {
        LlamaConfig(architecture: .qwen3, hiddenSize: hiddenSize, intermediateSize: intermediateSize,
                    numHiddenLayers: numHiddenLayers, numAttentionHeads: numAttentionHeads, numKeyValueHeads: 8,
                    headDim: 128, rmsNormEps: 1e-6, ropeTheta: 1_000_000, vocabSize: 151_936,
                    maxPositionEmbeddings: 40_960, tieWordEmbeddings: tied, bosTokenId: 151_643, eosTokenIds: [151_645])
    }

    public init(name: String, huggingFaceID: String, config: LlamaConfig, embeddingBytesPerParameter: Double = 2) {
        self.name = name
        self.huggingFaceID = huggingFaceID
        self.config = config
        self.embeddingBytesPerParameter = embeddingBytesPerParameter
    }

    /// The preset called `name` (case-insensitive), or nil.
    public static func named(_ name: String) -> ModelPreset? {
        all.first { $0.name == name.lowercased() }
    }

    /// Names of every preset, for help texts and error messages.
    public static var names: [String] { all.map(\.name) }
}
