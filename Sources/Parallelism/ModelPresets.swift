// Published shapes of common Llama-family models, so `tessera plan` can size a model that is not
// on disk. Dimensions are those of each model's Hugging Face `config.json`.
// Legend: C = hidden, F = FFN size, L = layers, H = query heads, G = KV heads, V = vocabulary.
import LlamaModel

/// A named model shape for capacity planning.
public struct ModelPreset: Sendable, Equatable {
    /// Short name used on the command line (`llama2-70b`).
    public let name: String
    public let config: LlamaConfig
    /// Bytes per stored element of the embedding and head as published (bf16 for these
    /// checkpoints): they stay in their stored precision under QLoRA.
    public let embeddingBytesPerParameter: Double

    /// Every preset, smallest first.
    public static let all: [ModelPreset] = [
        // SmolLM2-135M: C 576, F 1536, L 30, H 9, G 3, V 49152, tied embeddings.
        ModelPreset(name: "smollm2-135m", config: LlamaConfig(
            hiddenSize: 576, intermediateSize: 1536, numHiddenLayers: 30, numAttentionHeads: 9, numKeyValueHeads: 3,
            ropeTheta: 100_000, vocabSize: 49152, maxPositionEmbeddings: 8192, tieWordEmbeddings: true)),
        // Llama-2-7B: C 4096, F 11008, L 32, H 32, G 32, V 32000.
        ModelPreset(name: "llama2-7b", config: LlamaConfig(
            hiddenSize: 4096, intermediateSize: 11008, numHiddenLayers: 32, numAttentionHeads: 32, numKeyValueHeads: 32,
            vocabSize: 32000, maxPositionEmbeddings: 4096)),
        // Llama-2-13B: C 5120, F 13824, L 40, H 40, G 40, V 32000.
        ModelPreset(name: "llama2-13b", config: LlamaConfig(
            hiddenSize: 5120, intermediateSize: 13824, numHiddenLayers: 40, numAttentionHeads: 40, numKeyValueHeads: 40,
            vocabSize: 32000, maxPositionEmbeddings: 4096)),
        // Llama-2-70B: C 8192, F 28672, L 80, H 64, G 8 (GQA), V 32000.
        ModelPreset(name: "llama2-70b", config: LlamaConfig(
            hiddenSize: 8192, intermediateSize: 28672, numHiddenLayers: 80, numAttentionHeads: 64, numKeyValueHeads: 8,
            vocabSize: 32000, maxPositionEmbeddings: 4096)),
        // Llama-3-8B: C 4096, F 14336, L 32, H 32, G 8, V 128256, RoPE θ 500000.
        ModelPreset(name: "llama3-8b", config: LlamaConfig(
            hiddenSize: 4096, intermediateSize: 14336, numHiddenLayers: 32, numAttentionHeads: 32, numKeyValueHeads: 8,
            ropeTheta: 500_000, vocabSize: 128_256, maxPositionEmbeddings: 8192)),
        // Llama-3-70B: C 8192, F 28672, L 80, H 64, G 8, V 128256, RoPE θ 500000.
        ModelPreset(name: "llama3-70b", config: LlamaConfig(
            hiddenSize: 8192, intermediateSize: 28672, numHiddenLayers: 80, numAttentionHeads: 64, numKeyValueHeads: 8,
            ropeTheta: 500_000, vocabSize: 128_256, maxPositionEmbeddings: 8192)),
    ]

    public init(name: String, config: LlamaConfig, embeddingBytesPerParameter: Double = 2) {
        self.name = name
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
